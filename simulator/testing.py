"""A simulator for tests: start it on a free loopback port, talk to it, inspect it, stop it.

::

    with running_simulator(nodes=("pve1",)) as sim:
        api = sim.proxmox()                      # proxmoxer, token auth, TLS verified
        api.nodes("pve1").network.get()
        sim.faults.arm(Fault("error", method="PUT", path="/nodes/*/network"))
        assert sim.requests.count(method="PUT", path_glob="/nodes/*/network") == 0
        sim.files("pve1")["/etc/network/interfaces"]
        sim.ssh_environment()                     # PVENET_SSH_* for the provider
        sim.host_file("/etc/pvenet/rules.nft"), sim.host_state().ruleset, sim.boot("pve1")

The pytest fixture ``simulator`` (``tests/conftest.py``) wraps this. The
server runs in a thread of the calling process with an event loop of its own,
so it leaves the test's event loop (and Pulumi's mocks) alone.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from proxmoxer import ProxmoxAPI

from simulator.cluster import Cluster
from simulator.faults import Faults
from simulator.http.auth import PASSWORD_USER
from simulator.http.requestlog import RequestLog
from simulator.http.server import SimulatorServer, build_server
from simulator.ssh.context import Result
from simulator.ssh.host import Host, HostState
from simulator.ssh.keys import ssh_environment
from simulator.ssh.server import SshFace


@dataclass
class SimulatorHandle:
    """A running simulator: where it listens, its credentials, and its state."""

    server: SimulatorServer
    state_dir: Path

    @property
    def url(self) -> str:
        """``https://127.0.0.1:<port>``."""
        return self.server.url

    @property
    def host(self) -> str:
        """The address the server listens on."""
        return self.server.host

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return self.server.port

    @property
    def token(self) -> str:
        """The full API token, ``USER@REALM!NAME=SECRET``."""
        return self.server.auth.token.full

    @property
    def token_user(self) -> str:
        """The token's user, ``root@pam``."""
        return self.server.auth.token.user

    @property
    def token_name(self) -> str:
        """The token's name (the part after ``!``)."""
        return self.server.auth.token.name

    @property
    def token_value(self) -> str:
        """The token's secret."""
        return self.server.auth.token.secret

    @property
    def password(self) -> str:
        """The password of ``root@pam``."""
        return self.server.auth.password

    @property
    def ca_file(self) -> Path:
        """The CA certificate to verify the server with (``pve-root-ca.pem``)."""
        return self.server.certs.ca_file

    @property
    def cluster(self) -> Cluster:
        """The simulated cluster the server answers for."""
        return self.server.cluster

    @property
    def faults(self) -> Faults:
        """Fault injection: ``arm(Fault(...))``, ``clear()``, ``armed()``."""
        return self.server.cluster.faults

    @property
    def requests(self) -> RequestLog:
        """The request log of this server."""
        return self.server.log

    def files(self, node: str = "pve1") -> dict[str, str | None]:
        """The node's network files by path (None for a file that does not exist)."""
        return self.server.cluster.nodes[node].files()

    @property
    def ssh(self) -> SshFace:
        """The nodes' SSH servers (``ssh.addresses``, ``ssh.keys``, ``ssh.run(...)``)."""
        assert self.server.ssh is not None
        return self.server.ssh

    def ssh_environment(self) -> dict[str, str]:
        """The provider's SSH settings for this simulator: ``PVENET_SSH_USER``,
        ``PVENET_SSH_KEY``, ``PVENET_SSH_KNOWN_HOSTS``, ``PVENET_SSH_ADDRESSES``."""
        return ssh_environment(self.state_dir)

    def host_file(self, path: str, node: str = "pve1") -> str | None:
        """Any file of the node (``/etc/pvenet/rules.nft``, ...), None when it does not exist."""
        return Host(self.server.cluster.nodes[node]).read(path)

    def host_state(self, node: str = "pve1") -> HostState:
        """What the node's kernel and systemd hold now: ruleset, sysctls, routes, units, timers."""
        return Host(self.server.cluster.nodes[node]).state

    def boot(self, node: str = "pve1") -> Result:
        """Reboot ``node``: runtime state gone, then its boot path (sysctl.d, network, units)."""
        return self.ssh.boot(node)

    def proxmox(self, auth: Literal["token", "password"] = "token", **kwargs: Any) -> ProxmoxAPI:
        """A proxmoxer client for this server, verifying TLS against the simulator's CA.

        ``auth="token"`` uses the API token, ``"password"`` logs in as
        ``root@pam`` (ticket and CSRF token). ``kwargs`` go to ``ProxmoxAPI``
        (``timeout=...``).
        """
        options: dict[str, Any] = {"verify_ssl": str(self.ca_file), **kwargs}
        host = f"{self.host}:{self.port}"
        if auth == "token":
            return ProxmoxAPI(
                host,
                user=self.token_user,
                token_name=self.token_name,
                token_value=self.token_value,
                **options,
            )
        if auth == "password":
            return ProxmoxAPI(host, user=PASSWORD_USER, password=self.password, **options)
        raise ValueError(f"auth must be 'token' or 'password', not {auth!r}")


@contextmanager
def running_simulator(
    state_dir: Path | str | None = None,
    nodes: Sequence[str] = ("pve1",),
    nics: Sequence[str] | None = None,
    interfaces: str | None = None,
    task_seconds: float = 0.0,
    ssh_ports: dict[str, int] | None = None,
) -> Iterator[SimulatorHandle]:
    """Run a simulator on a free port of 127.0.0.1 for the duration of the ``with`` block.

    ``state_dir`` None uses a temporary directory removed afterwards; an
    existing state dir is reused (same certificate, token and files).
    ``nics`` defaults to eno1..eno4; ``interfaces`` is the text of the nodes'
    initial ``/etc/network/interfaces`` (the installer's file when None);
    ``task_seconds`` is how long tasks report ``running``; ``ssh_ports`` the nodes' SSH
    ports (a free one for each node left out).
    """
    with ExitStack() as stack:
        if state_dir is None:
            state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="pve-sim-"))
        server = build_server(
            Path(state_dir),
            nodes=list(nodes),
            nics=list(nics) if nics is not None else None,
            interfaces=interfaces,
            task_seconds=task_seconds,
            ssh_ports=ssh_ports,
        )
        server.start()
        stack.callback(server.stop)
        yield SimulatorHandle(server, Path(state_dir))
