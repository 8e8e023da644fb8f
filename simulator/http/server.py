"""The HTTPS front of the simulator: pveproxy's request handling on aiohttp.

For each request under ``/api2/json`` the server, in pveproxy's order:

1. decodes the parameters (query string; for POST and PUT also the body,
   form-encoded or JSON, the query winning on a clash; ``_dc`` dropped);
2. counts the request against the armed faults (once): ``drop`` closes the
   connection unanswered, ``lost`` answers nobody after doing the work, ``delay``
   waits and goes on, the others are handed to
   ``Cluster.handle``;
3. authenticates (``simulator.http.auth``): a failure is a 401 with an empty body
   and the message as reason phrase;
4. refuses a body on GET and DELETE (501 "Unexpected content for method ...");
5. runs ``Cluster.handle`` and writes the JSON body (``simulator.http.wire``). The
   status line is ``<code> <first line of the message>``, as pveproxy sends it,
   because proxmoxer reports the reason phrase to its users.

Every request, answered or dropped, is appended to the request log. Like
pveproxy, 401 answers can be held back (``auth_failure_delay``, 3 s on a real
node) and any answer of 400 or more closes the connection.

The server runs in a background thread with an event loop of its own, so it
can live inside a test process (or beside Pulumi's) without touching the
caller's event loop. ``Cluster.handle`` is called directly on that loop: it is
synchronous and quick, and running it there serialises the cluster's state
changes as pveproxy's per-file locks would.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
import weakref
from email.utils import formatdate
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from simulator.api import Request
from simulator.cluster import Cluster
from simulator.errors import ApiError
from simulator.faults import Fault
from simulator.http.auth import AUTH_FILE, Auth, Credentials
from simulator.http.certs import ServerCert, ensure_certs
from simulator.http.requestlog import REQUEST_LOG_FILE, RequestLog
from simulator.http.wire import (
    FormValue,
    error_body,
    form_params,
    json_params,
    relative_path,
    success_body,
)
from simulator.loopthread import LoopThread
from simulator.ssh.server import SshFace, build_ssh

DEFAULT_HOST = "127.0.0.1"
CLUSTER_NAME = "pvenet"
# pveproxy's limit on a request body ($limit_max_post).
MAX_BODY_BYTES = 64 * 1024
# How long a stopping server lets requests in flight finish.
SHUTDOWN_GRACE_S = 2.0

_log = logging.getLogger(__name__)


def _reason(status: int, message: str) -> str:
    """pveproxy's reason phrase: the message's first line, or the standard phrase if empty."""
    first = message.split("\n", 1)[0].strip("\r")
    if first:
        return first
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _bind(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket on ``host:port`` (port 0: any free port); OSError
    naming the address when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(exc.errno, f"the API on {host}:{port}: {exc.strerror}") from exc
    return sock


class SimulatorServer:
    """One simulated pveproxy serving ``cluster`` over HTTPS on ``host:port``."""

    def __init__(
        self,
        cluster: Cluster,
        auth: Auth,
        certs: ServerCert,
        log: RequestLog,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        auth_failure_delay: float = 0.0,
        ssh: SshFace | None = None,
    ) -> None:
        """Prepare the server; nothing listens until ``start``.

        ``ssh`` is the nodes' SSH face, started and stopped with the HTTPS server.

        Adds the ``/access`` login endpoints to the cluster's routes.
        ``auth_failure_delay`` holds back every 401 answer by that many seconds
        since the request arrived (pveproxy waits 3 s; tests want 0).
        """
        self.cluster = cluster
        self.auth = auth
        self.certs = certs
        self.log = log
        self.host = host
        self.port = port
        self.auth_failure_delay = auth_failure_delay
        self.ssh = ssh
        clustername = CLUSTER_NAME if len(cluster.nodes) > 1 else None
        auth.register(cluster.router, clustername)
        self._thread = LoopThread("pve-simulator", "the simulator server")
        self._transports: weakref.WeakSet[asyncio.Transport] = weakref.WeakSet()

    @property
    def url(self) -> str:
        """``https://host:port`` of the running server (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        """Bind, then serve from a background thread; returns once requests are answered.

        OSError when the address cannot be bound (port in use, ...).
        """
        if self._thread.running:
            raise RuntimeError("the simulator server is already started")
        # SSH first: once the API answers, the nodes' SSH settings are published
        if self.ssh is not None:
            self.ssh.start()
        try:
            sock = _bind(self.host, self.port)
            self.port = sock.getsockname()[1]
            self._thread = LoopThread(f"pve-simulator-{self.port}", "the simulator server")
            self._thread.start(lambda: self._serve(sock), sock.close)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop serving and wait for the threads to end; a no-op when not running."""
        if self.ssh is not None:
            self.ssh.stop()
        self._thread.stop()

    def __enter__(self) -> SimulatorServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    async def _serve(self, sock: socket.socket) -> None:
        app = web.Application(client_max_size=MAX_BODY_BYTES)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_GRACE_S
        )
        await runner.setup()
        try:
            site = web.SockSite(runner, sock, ssl_context=self.certs.server_context())
            await site.start()
            self._thread.ready()
            await self._thread.wait_stopped()
        finally:
            await runner.cleanup()
            # A TLS connection closed at shutdown waits for the client's close_notify (up to
            # 30 s); this loop is about to close, so cut such connections now.
            for transport in list(self._transports):
                transport.abort()
            await asyncio.sleep(0)

    # -- request handling --------------------------------------------------------------------

    async def _handle(self, http: web.Request) -> web.StreamResponse:
        """Answer one HTTP request and log it."""
        started = time.monotonic()
        if http.transport is not None:
            self._transports.add(http.transport)
        method = http.method
        path = relative_path(http.path)
        params: dict[str, FormValue] = {}
        if path is None:
            response = self._error_response(ApiError(501, "no such uri"), with_body=False)
            self._record(method, http.path, params, response.status, started)
            return response
        body = await http.read()
        try:
            params = self._params(http, method, body)
        except ValueError as exc:
            response = self._error_response(ApiError(400, f"{exc}\n"))
            self._record(method, path, params, response.status, started)
            return response

        fault = self.cluster.faults.take(Request(method, path, params))
        if fault is not None and fault.kind == "drop":
            return self._unanswered(http, method, path, params, started)
        if fault is not None and fault.kind == "delay":
            await asyncio.sleep(fault.seconds)
            fault = None

        response = self._answer(http, method, path, params, body, fault)
        if fault is not None and fault.kind == "lost":
            return self._unanswered(http, method, path, params, started)
        if response.status == 401 and self.auth_failure_delay > 0:
            await asyncio.sleep(max(0.0, self.auth_failure_delay - (time.monotonic() - started)))
        self._record(method, path, params, response.status, started)
        return response

    def _unanswered(
        self,
        http: web.Request,
        method: str,
        path: str,
        params: dict[str, FormValue],
        started: float,
    ) -> web.Response:
        """Cut the connection without an answer (a ``drop`` or ``lost`` fault) and log it."""
        if http.transport is not None:
            http.transport.abort()
        self._record(method, path, params, 0, started)
        return web.Response(status=500)  # never sent: the connection is gone

    def _params(self, http: web.Request, method: str, body: bytes) -> dict[str, FormValue]:
        """The request's parameters as pveproxy's ``extract_params`` gathers them."""
        params: dict[str, FormValue] = {}
        if method in ("POST", "PUT") and body:
            if http.content_type == "application/json":
                try:
                    params = json_params(json.loads(body))
                except json.JSONDecodeError as exc:
                    raise ValueError(f"malformed JSON body: {exc}") from exc
            else:
                text = body.decode("utf-8", errors="replace")
                params = form_params(parse_qsl(text, keep_blank_values=True))
        params.update(form_params(parse_qsl(http.query_string, keep_blank_values=True)))
        params.pop("_dc", None)  # ExtJS's cache buster, dropped by pveproxy
        return params

    def _answer(
        self,
        http: web.Request,
        method: str,
        path: str,
        params: dict[str, FormValue],
        body: bytes,
        fault: Fault | None,
    ) -> web.Response:
        """Authenticate and dispatch; every outcome as a response."""
        try:
            user = self.auth.authenticate(method, path, Credentials.from_headers(http.headers))
        except ApiError as exc:
            # pveproxy answers authentication failures without a body.
            return self._error_response(exc, with_body=False)
        if body and method not in ("POST", "PUT"):
            return self._error_response(
                ApiError(501, f"Unexpected content for method '{method}'"), with_body=False
            )
        request = Request(method, path, params, user=user or "")
        try:
            reply = self.cluster.handle(request, fault)
        except ApiError as exc:
            return self._error_response(exc)
        except Exception as exc:
            _log.exception("simulator bug answering %s %s", method, path)
            return self._error_response(
                ApiError(500, f"simulator internal error: {type(exc).__name__}: {exc}\n")
            )
        return self._json_response(200, "OK", success_body(reply))

    @staticmethod
    def _json_response(status: int, reason: str, body: dict[str, Any]) -> web.Response:
        response = web.Response(
            status=status,
            reason=reason,
            body=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
            content_type="application/json",
            charset="UTF-8",
        )
        return SimulatorServer._pveproxy_headers(response)

    @staticmethod
    def _error_response(error: ApiError, *, with_body: bool = True) -> web.Response:
        reason = _reason(error.status, error.message)
        if with_body:
            response = SimulatorServer._json_response(error.status, reason, error_body(error))
        else:
            response = SimulatorServer._pveproxy_headers(
                web.Response(status=error.status, reason=reason)
            )
        response.force_close()  # pveproxy ends keep-alive on any answer >= 400
        return response

    @staticmethod
    def _pveproxy_headers(response: web.Response) -> web.Response:
        now = formatdate(usegmt=True)
        response.headers["Server"] = "pve-api-daemon/3.0"
        response.headers["Expires"] = now
        response.headers["Cache-Control"] = "max-age=0"
        response.headers["Pragma"] = "no-cache"
        return response

    def _record(
        self, method: str, path: str, params: dict[str, FormValue], status: int, started: float
    ) -> None:
        self.log.record(method, path, params, status, (time.monotonic() - started) * 1000)


def build_server(
    state_dir: Path,
    *,
    nodes: list[str] | None = None,
    nics: list[str] | None = None,
    interfaces: str | None = None,
    token: str | None = None,
    password: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    task_seconds: float = 0.0,
    auth_failure_delay: float = 0.0,
    ssh_ports: dict[str, int] | None = None,
) -> SimulatorServer:
    """A server for the cluster in ``state_dir``, with its credentials, certificate and log.

    Opens (or creates) the cluster (see ``Cluster``), ``auth.json`` (``token``
    and ``password`` replace the stored ones when given), the certificates
    (covering loopback, the node names and ``host``) and ``requests.jsonl``.
    ``task_seconds`` is how long tasks report ``running``. Each node also gets an SSH
    server on ``host`` (``ssh_ports`` by node name, a free port otherwise), see
    ``simulator.ssh.server``. Call ``start``.
    """
    state_dir = Path(state_dir)
    cluster = Cluster(state_dir, nodes, nics, interfaces)
    cluster.tasks.duration = task_seconds
    auth = Auth(state_dir / AUTH_FILE, token=token, password=password)
    names = [*cluster.nodes]
    if host not in ("0.0.0.0", "::", ""):
        names.append(host)
    certs = ensure_certs(state_dir, names)
    log = RequestLog(state_dir / REQUEST_LOG_FILE, secrets=auth.secrets())
    ssh = build_ssh(cluster, log, host=host, ports=ssh_ports)
    return SimulatorServer(
        cluster,
        auth,
        certs,
        log,
        host=host,
        port=port,
        auth_failure_delay=auth_failure_delay,
        ssh=ssh,
    )
