"""The SSH transport of host rules: one paramiko connection to one node, one exec per command.

``connect`` opens a connection with the ``pvenet:ssh`` settings (``provider.host.settings``):
the private key given as text, else the SSH agent and the user's default keys; the node's
address from ``addresses`` (``host:port``: the simulator gives each node a port), else the
address pvenet knows the node by. The node's host key is always verified, against the
pinned ``hostKey`` lines and the ``knownHosts`` file (``[host]:port`` entries for a port
other than 22, as OpenSSH writes them); an unknown key is refused with its SHA256
fingerprint and the command that pins it, a changed key is refused as a possible attack.

``Connection.run(argv, stdin)`` sends one command of ``docs/host-rules.md`` as one exec,
shell-quoted, and returns its exit status and output. Every failure is
``provider.errors.HostCallFailed``: ``answered`` False when the connection could not be made
or was lost (the command may have run). No message holds the key; the connection is never
stored on a provider (nothing to pickle).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import select
import shlex
import socket
import time
from dataclasses import dataclass
from types import TracebackType

import paramiko

from provider.errors import HostCallFailed
from provider.host.settings import ENV, PIN_HINT, SshSettings

CONNECT_TIMEOUT_S = 15.0
"""How long connecting (TCP, key exchange, login) may take: a node reloading its network
answers within seconds, a node that does not answer in this long is unreachable."""
COMMAND_TIMEOUT_S = 60.0
"""How long one command may run: ``nft -f`` of a big table or ``ifreload -a`` take seconds."""
_KEY_CLASSES: tuple[type[paramiko.PKey], ...] = (
    paramiko.Ed25519Key,
    paramiko.ECDSAKey,
    paramiko.RSAKey,
)


@dataclass(frozen=True)
class Result:
    """What one command answered: its exit status and output."""

    status: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        """Whether it exited with 0."""
        return self.status == 0

    @property
    def text(self) -> str:
        """stdout as text."""
        return self.stdout.decode("utf-8", "replace")

    @property
    def error(self) -> str:
        """stderr as text, on one line."""
        return " ".join(self.stderr.decode("utf-8", "replace").split())


def fingerprint(key: paramiko.PKey) -> str:
    """``SHA256:...``: the fingerprint OpenSSH shows (``ssh-keygen -lf``)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def known_name(host: str, port: int) -> str:
    """How known_hosts names a host: ``host``, or ``[host]:port`` for another port than 22."""
    return host if port == 22 else f"[{host}]:{port}"


def _pinned_keys(settings: SshSettings, name: str) -> paramiko.HostKeys:
    """The host keys ``hostKey`` pins: a bare ``type base64`` line is the node's own key,
    a known_hosts line is kept for the hosts it names."""
    keys = paramiko.HostKeys()
    for line in settings.host_keys:
        words = line.split()
        bare = words[0].startswith(("ssh-", "ecdsa-sha2-", "sk-"))
        entry = paramiko.hostkeys.HostKeyEntry.from_line(
            f"{name} {words[0]} {words[1]}" if bare else line
        )
        if entry is None or entry.key is None:
            raise HostCallFailed(
                "connect",
                f"pvenet:ssh.hostKey '{line[:60]}' cannot be read as a host key; give "
                "'ssh-ed25519 AAAA...' as `ssh-keyscan -t ed25519 NODE` prints it",
                answered=False,
            )
        for hostname in entry.hostnames:
            keys.add(hostname, entry.key.get_name(), entry.key)
    return keys


class _Refuse(paramiko.MissingHostKeyPolicy):
    """Refuses a host key that is neither pinned nor known, saying how to pin it."""

    def __init__(self, node: str) -> None:
        self.node = node

    def missing_host_key(
        self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey
    ) -> None:
        raise HostCallFailed(
            "connect",
            f"{self.node}: the SSH host key of {hostname} is not known ({key.get_name()} "
            f"{fingerprint(key)}); pvenet connects only to a node whose key it can verify. "
            "Compare the fingerprint with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` "
            f"on the node's console, then pin it: `{PIN_HINT} '{key.get_name()} "
            f"{key.get_base64()}'` (or {ENV['hostKey']}, or add it to pvenet:ssh.knownHosts)",
            answered=False,
        )


def _private_key(text: str) -> paramiko.PKey:
    """The private key ``text`` holds, of any type paramiko reads; never shown in an error."""
    for cls in _KEY_CLASSES:
        try:
            return cls.from_private_key(io.StringIO(text))
        except paramiko.PasswordRequiredException:
            raise HostCallFailed(
                "connect",
                "pvenet:ssh.privateKey is protected by a passphrase, which pvenet cannot "
                "type: load it into an SSH agent (`ssh-add KEYFILE`) and unset privateKey",
                answered=False,
            ) from None
        except (paramiko.SSHException, ValueError):
            continue
    raise HostCallFailed(
        "connect",
        "pvenet:ssh.privateKey is not an Ed25519, ECDSA or RSA private key that can be read "
        "(it is not shown here): set the content of an OpenSSH key file",
        answered=False,
    )


class Connection:
    """One SSH connection to one node; closes with ``with``."""

    def __init__(self, node: str, client: paramiko.SSHClient, where: str) -> None:
        self.node = node
        self.where = where
        self._client = client

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def __getstate__(self) -> dict[str, object]:
        raise TypeError("an SSH connection is not pickled (it is opened per operation)")

    def run(
        self, argv: list[str], stdin: bytes | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Result:
        """Run one command (``argv``, shell-quoted) with ``stdin``; its status and output.

        HostCallFailed (``answered`` False) when the connection fails before the command's
        exit status came back: it may have run.
        """
        command = shlex.join(argv)
        transport = self._client.get_transport()
        try:
            if transport is None or not transport.is_active():
                raise paramiko.SSHException("the connection is closed")
            channel = transport.open_session(timeout=timeout)
            channel.settimeout(timeout)
            channel.exec_command(command)
            if stdin is not None:
                channel.sendall(stdin)
            channel.shutdown_write()
            stdout, stderr, status = _drain(channel, timeout)
            channel.close()
        except (paramiko.SSHException, OSError, EOFError) as error:
            raise HostCallFailed(
                command,
                f"{self.node}: `{command}` got no answer over SSH ({self.where}): "
                f"{_reason(error)}; it may have run",
                answered=False,
            ) from None
        if status < 0:  # paramiko's -1: the channel closed without an exit status
            raise HostCallFailed(
                command,
                f"{self.node}: `{command}` ended without an exit status over SSH "
                f"({self.where}); it may have run",
                answered=False,
            )
        return Result(status, stdout, stderr)

    def check(
        self, argv: list[str], stdin: bytes | None = None, timeout: float = COMMAND_TIMEOUT_S
    ) -> Result:
        """``run``, and HostCallFailed naming the command, status and stderr unless it exits 0."""
        result = self.run(argv, stdin, timeout)
        if not result.ok:
            command = shlex.join(argv)
            raise HostCallFailed(
                command,
                f"{self.node}: `{command}` failed with exit status {result.status}"
                + (f": {result.error}" if result.error else ""),
                status=result.status,
                stderr=result.error,
            )
        return result


def _drain(channel: paramiko.Channel, timeout: float) -> tuple[bytes, bytes, int]:
    """stdout, stderr and the exit status of the command on ``channel``, read as they come
    (both streams, so neither fills its window); TimeoutError after ``timeout``."""
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + timeout

    def take() -> None:
        while channel.recv_ready():
            out.extend(channel.recv(65536))
        while channel.recv_stderr_ready():
            err.extend(channel.recv_stderr(65536))

    while not (channel.eof_received or channel.exit_status_ready() or channel.closed):
        take()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        select.select([channel], [], [], min(remaining, 1.0))
    take()
    if not channel.status_event.wait(max(deadline - time.monotonic(), 0.1)):
        raise TimeoutError
    return bytes(out), bytes(err), channel.recv_exit_status()


def _reason(error: BaseException) -> str:
    """Why a connection failed, in words (no exception class names)."""
    if isinstance(error, paramiko.ssh_exception.NoValidConnectionsError):
        reasons = {_reason(cause) for cause in error.errors.values()}
        return "; ".join(sorted(reasons)) or "refused"
    if isinstance(error, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    text = str(error).strip()
    return text or "the connection was lost"


def connect(
    settings: SshSettings, node: str, default_host: str, timeout: float = CONNECT_TIMEOUT_S
) -> Connection:
    """A verified SSH connection to ``node``; HostCallFailed (``answered`` False) saying why not."""
    host, port = settings.target(node, default_host)
    where = known_name(host, port)
    client = paramiko.SSHClient()
    known = settings.known_hosts or os.path.expanduser("~/.ssh/known_hosts")
    try:
        if os.path.isfile(known):
            client.load_host_keys(known)
    except (OSError, paramiko.SSHException) as error:
        raise HostCallFailed(
            "connect",
            f"{node}: the known_hosts file {known} cannot be read ({_reason(error)}); fix it "
            "or point pvenet:ssh.knownHosts at another",
            answered=False,
        ) from None
    for hostname, keys in _pinned_keys(settings, where).items():
        for key_type, key in keys.items():
            client.get_host_keys().add(hostname, key_type, key)
    client.set_missing_host_key_policy(_Refuse(node))
    pkey = _private_key(settings.private_key) if settings.private_key else None
    try:
        client.connect(
            host,
            port=port,
            username=settings.user,
            pkey=pkey,
            allow_agent=pkey is None,
            look_for_keys=pkey is None,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
    except HostCallFailed:
        client.close()
        raise
    except paramiko.BadHostKeyException as error:
        client.close()
        raise HostCallFailed(
            "connect",
            f"{node}: the SSH host key of {where} is not the one pvenet knows: it shows "
            f"{error.key.get_name()} {fingerprint(error.key)}, pvenet expects "
            f"{fingerprint(error.expected_key)}. Someone may be in the middle; if the node "
            "was reinstalled, check the new key on its console and pin it again "
            f"(`{PIN_HINT} ...`)",
            answered=False,
        ) from None
    except paramiko.AuthenticationException:
        client.close()
        source = "pvenet:ssh.privateKey" if pkey else "the SSH agent's and your default keys"
        raise HostCallFailed(
            "connect",
            f"{node}: {where} refused the login of {settings.user} with {source}; put the "
            f"public key in ~{settings.user}/.ssh/authorized_keys on the node, or set "
            "pvenet:ssh.user and pvenet:ssh.privateKey",
            answered=False,
        ) from None
    except (paramiko.SSHException, OSError, EOFError) as error:
        client.close()
        raise HostCallFailed(
            "connect",
            f"{node}: cannot connect over SSH to {where}: {_reason(error)}; check the node is "
            "up and pvenet:ssh.addresses / pvenet:ssh.port",
            answered=False,
        ) from None
    transport = client.get_transport()
    if transport is not None and isinstance(transport.sock, socket.socket):
        # one small exec after another: without this, each waits for a delayed ACK (40 ms)
        transport.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return Connection(node, client, where)
