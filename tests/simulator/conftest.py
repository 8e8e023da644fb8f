"""Fixtures for simulator fidelity tests: a cluster in a temporary state dir, called in process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator.api import Request
from simulator.cluster import Cluster
from simulator.errors import ApiError
from simulator.node import installer_interfaces

# The installer's file on a node with three NICs, as the reference example starts from.
INSTALLER = installer_interfaces(["eno1", "eno2", "eno3"], "192.168.10.2/24", "192.168.10.1")


@dataclass
class Answer:
    """What a client sees of one call: status, data, message and per-parameter errors."""

    status: int
    data: Any = None
    message: str | None = None
    errors: dict[str, str] | None = None
    extra: dict[str, Any] | None = None


class NodeApi:
    """Calls a simulated cluster's API in process, as a form-encoding client would."""

    def __init__(self, cluster: Cluster, node: str = "pve1") -> None:
        self.cluster = cluster
        self.node = node

    def call(self, method: str, path: str, **params: Any) -> Answer:
        """One request; ``path`` is relative to ``/nodes/<node>`` unless it starts with ``//``."""
        full = path[1:] if path.startswith("//") else f"/nodes/{self.node}{path}"
        form = {k.replace("__", "-"): _form(v) for k, v in params.items()}
        request = Request(method, full, form)
        try:
            reply = self.cluster.handle(request, self.cluster.faults.take(request))
        except ApiError as exc:
            return Answer(exc.status, None, exc.message, exc.errors)
        return Answer(200, reply.data, None, None, reply.extra)

    def ok(self, method: str, path: str, **params: Any) -> Any:
        """A call that must succeed; returns its data."""
        answer = self.call(method, path, **params)
        assert answer.status == 200, answer
        return answer.data

    def file(self, path: str = "/etc/network/interfaces.new") -> str | None:
        """The node's file at ``path``."""
        return self.cluster.nodes[self.node].read(path)

    def files(self) -> dict[str, str | None]:
        """All of the node's network files."""
        return self.cluster.nodes[self.node].files()

    def apply(self) -> dict[str, Any]:
        """PUT /nodes/<node>/network and return the task's status."""
        upid = self.ok("PUT", "/network")
        return self.ok("GET", f"/tasks/{upid}/status")


def _form(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return [_form(v) for v in value]
    return str(value)


@pytest.fixture
def api(tmp_path: Path) -> NodeApi:
    """A one-node cluster (pve1 with eno1..eno3) starting from the installer's file."""
    cluster = Cluster(tmp_path / "state", ["pve1"], ["eno1", "eno2", "eno3"], INSTALLER)
    return NodeApi(cluster)
