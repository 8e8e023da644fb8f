"""The SSH face of the simulated nodes: one asyncssh server per node on loopback.

Each node listens on its own port (a free one unless configured) with its host key
(``simulator.ssh.keys``), accepts ``root`` with the one client key of the state dir and
nothing else, and answers each exec with :func:`simulator.ssh.commands.run_line` on
that node. Commands of a node run one at a time (``host.node_lock``), beside the HTTPS
server's changes to the same node files.

Faults (``simulator.faults``) and the request log see SSH as two kinds of request:

``CONNECT /nodes/<node>/ssh``            a new connection; a ``drop`` fault refuses it
``SSH /nodes/<node>/ssh/<command line>``  one exec; ``drop``: closed before it runs,
                                         ``lost``: it runs, the channel closes with no
                                         exit status, ``delay``: it waits ``seconds``,
                                         ``error``: it fails (status 1, the message)

The log's ``status`` is the exit status (0 for an accepted connection) and -1 where the
client got no answer; ``params`` holds the length of the standard input, never its text.
Timers armed with ``systemd-run`` are real threads; they are persisted in the node's
host state and armed again when a server starts on the same state dir.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable

import asyncssh

from simulator.api import Request
from simulator.cluster import Cluster
from simulator.http.requestlog import RequestLog
from simulator.loopthread import LoopThread
from simulator.node import Node
from simulator.ssh import commands, systemd
from simulator.ssh.context import Context, Result
from simulator.ssh.host import Host, node_lock
from simulator.ssh.keys import USER, Keys, ensure_keys

_log = logging.getLogger(__name__)

INTERNAL_ERROR = 70  # EX_SOFTWARE: the simulator failed, not the command
NO_ANSWER = -1  # the request log's status of an exec or connection the client got no answer to


class TimerThreads:
    """Real timers behind ``systemd-run --on-active``: a thread per armed timer."""

    def __init__(self, fire: Callable[[str, str], None]) -> None:
        self._fire = fire
        self._timers: dict[tuple[str, str], threading.Timer] = {}
        self._lock = threading.Lock()

    def arm(self, node: str, unit: str, seconds: float) -> None:
        """Fire ``unit`` of ``node`` after ``seconds`` (replacing an earlier arming)."""
        timer = threading.Timer(max(0.0, seconds), self._fire, args=(node, unit))
        timer.daemon = True
        with self._lock:
            old = self._timers.pop((node, unit), None)
            self._timers[(node, unit)] = timer
        if old is not None:
            old.cancel()
        timer.start()

    def disarm(self, node: str, unit: str) -> None:
        """Cancel ``unit`` of ``node`` if it is armed."""
        with self._lock:
            timer = self._timers.pop((node, unit), None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> None:
        """Cancel every timer (the server stops; the host state still holds them)."""
        with self._lock:
            timers, self._timers = list(self._timers.values()), {}
        for timer in timers:
            timer.cancel()


class _NodeServer(asyncssh.SSHServer):
    """Authentication and connection faults for one node."""

    def __init__(self, face: SshFace, node: str) -> None:
        self._face = face
        self._node = node

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        request = Request("CONNECT", f"/nodes/{self._node}/ssh", {})
        fault = self._face.cluster.faults.take(request)
        refused = fault is not None and fault.kind == "drop"
        self._face.log.record(request.method, request.path, {}, NO_ANSWER if refused else 0, 0.0)
        if refused:
            conn.abort()

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return False

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        client = self._face.keys.client
        return username == USER and key.public_data == client.public_data


class SshFace:
    """The SSH servers of every node of ``cluster``, served from one background thread."""

    def __init__(
        self,
        cluster: Cluster,
        log: RequestLog,
        keys: Keys,
        *,
        host: str = "127.0.0.1",
        ports: dict[str, int] | None = None,
    ) -> None:
        self.cluster = cluster
        self.log = log
        self.keys = keys
        self.host = host
        self.ports = {node: (ports or {}).get(node, 0) for node in cluster.nodes}
        self.timers = TimerThreads(self._fire)
        cluster.reloaded.append(self._after_reload)
        self._thread = LoopThread("pve-simulator-ssh", "the SSH servers")

    @property
    def addresses(self) -> dict[str, tuple[str, int]]:
        """Each node's SSH address (ports are known once started)."""
        return {node: (self.host, port) for node, port in self.ports.items()}

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Listen for every node; returns once all answer. OSError when a port is taken."""
        self._thread.start(self._serve)
        self.keys.publish(self.addresses)
        self._rearm_timers()

    def stop(self) -> None:
        """Stop listening, cut open sessions and cancel the timer threads."""
        self.timers.cancel_all()
        if self._thread.running:
            self.keys.withdraw()
        self._thread.stop()

    async def _serve(self) -> None:
        acceptors = []
        try:
            for node in self.cluster.nodes:
                acceptor = await self._listen(node)
                acceptors.append(acceptor)
                self.ports[node] = acceptor.get_port()
            self._thread.ready()
            await self._thread.wait_stopped()
        finally:
            for acceptor in acceptors:
                acceptor.close()
            for acceptor in acceptors:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(acceptor.wait_closed(), 2.0)

    async def _listen(self, node: str) -> asyncssh.SSHAcceptor:
        """Node ``node``'s SSH server; OSError naming the node and address when it cannot."""
        try:
            return await asyncssh.listen(
                self.host,
                self.ports[node],
                server_factory=lambda: _NodeServer(self, node),
                server_host_keys=[self.keys.hosts[node]],
                process_factory=lambda process: self._exec(node, process),
                encoding=None,
                reuse_address=True,
            )
        except OSError as exc:
            where = f"{self.host}:{self.ports[node]}"
            raise OSError(exc.errno, f"SSH of node {node} on {where}: {exc.strerror}") from exc

    # -- commands ----------------------------------------------------------------------------

    def context(self, node: str, stdin: bytes = b"") -> Context:
        """A command context on ``node`` (hold ``node_lock`` while it runs)."""
        return Context(
            Host(self.cluster.nodes[node]),
            self.cluster,
            self.timers,
            commands.run,
            stdin,
            {},
            time.time,
        )

    def run(self, node: str, line: str, stdin: bytes = b"") -> Result:
        """Run ``line`` on ``node`` as one exec would, without SSH (and without faults)."""
        with node_lock(self.cluster.nodes[node]):
            try:
                return commands.run_line(self.context(node, stdin), line)
            except Exception:
                _log.exception("simulator bug running %r on %s", line, node)
                return Result(
                    INTERNAL_ERROR, "", f"simulator internal error running {line!r}: see its log\n"
                )

    def boot(self, node: str) -> Result:
        """Restart ``node``: its runtime state is lost and its boot path runs again."""
        with node_lock(self.cluster.nodes[node]):
            ctx = self.context(node)
            for unit in ctx.host.state.timers:
                self.timers.disarm(node, unit)
            result = commands.boot(ctx)
        self._record("BOOT", f"/nodes/{node}", {}, result.status, 0.0)
        return result

    async def _exec(self, node: str, process: asyncssh.SSHServerProcess[bytes]) -> None:
        started = time.monotonic()
        line = process.command or ""
        path = f"/nodes/{node}/ssh/{line}"
        stdin = b""
        if commands.reads_stdin(line):
            stdin = await process.stdin.read()
        params = {"stdin": f"{len(stdin)} bytes"} if stdin else {}
        fault = self.cluster.faults.take(Request("SSH", path, params))
        kind = fault.kind if fault is not None else None
        if kind == "delay" and fault is not None:
            await asyncio.sleep(fault.seconds)
        if kind == "drop":
            self._unanswered(process, path, params, started)
            return
        if kind == "error" and fault is not None:
            result = Result(1, "", fault.message + "\n")
        else:
            result = self.run(node, line, stdin)
        if kind == "lost":
            self._unanswered(process, path, params, started)
            return
        self._record("SSH", path, params, result.status, started)
        process.stdout.write(result.stdout.encode("utf-8", "surrogateescape"))
        process.stderr.write(result.stderr.encode("utf-8", "surrogateescape"))
        process.exit(result.status)

    def _unanswered(
        self,
        process: asyncssh.SSHServerProcess[bytes],
        path: str,
        params: dict[str, str],
        started: float,
    ) -> None:
        """Close the channel without an exit status (a ``drop`` or ``lost`` fault) and log it."""
        self._record("SSH", path, params, NO_ANSWER, started)
        process.close()

    def _record(
        self, method: str, path: str, params: dict[str, str], status: int, started: float
    ) -> None:
        ms = (time.monotonic() - started) * 1000 if started else 0.0
        self.log.record(method, path, params, status, ms)

    def _after_reload(self, node: Node) -> None:
        """The cluster reloaded ``node``'s network: ifupdown2's aftermath on the host."""
        with node_lock(node):
            result = commands.after_reload(self.context(node.name))
        if result.stderr:
            _log.warning("if-up.d hooks of %s: %s", node.name, result.stderr.strip())

    # -- timers ------------------------------------------------------------------------------

    def _fire(self, node: str, unit: str) -> None:
        """A timer thread elapsed: run the timer's command on the node."""
        with node_lock(self.cluster.nodes[node]):
            try:
                result = systemd.fire(self.context(node), unit)
            except Exception:
                _log.exception("simulator bug firing %s on %s", unit, node)
                result = Result(INTERNAL_ERROR)
        if result is not None:
            self._record("TIMER", f"/nodes/{node}/{unit}", {}, result.status, 0.0)

    def _rearm_timers(self) -> None:
        """Arm again the timers a node's state still holds (a restarted simulator)."""
        for node in self.cluster.nodes:
            for unit, timer in Host(self.cluster.nodes[node]).state.timers.items():
                self.timers.arm(node, unit, timer.deadline - time.time())


def build_ssh(
    cluster: Cluster,
    log: RequestLog,
    *,
    host: str = "127.0.0.1",
    ports: dict[str, int] | None = None,
) -> SshFace:
    """The SSH face of ``cluster``, its keys in the cluster's state dir. Call ``start``."""
    keys = ensure_keys(cluster.state_dir, list(cluster.nodes))
    return SshFace(cluster, log, keys, host=host, ports=ports)
