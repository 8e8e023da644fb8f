"""A node's network API calls (``/nodes/{node}/network``, its tasks).

``Client`` makes the calls one node's interfaces need, through the operation's
``provider.api.session.ApiSession`` (one connection, one retry table); every
failure is ``provider.errors.ApiCallFailed``. A ``Client`` is built per
operation and never stored on a provider, so nothing secret ends up in Pulumi
state. The wire format of the values is ``provider.node.wire``'s.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provider.api.session import ApiSession, Call
from provider.api.settings import Settings
from provider.errors import ApiCallFailed, NodeError

TASK_TIMEOUT_S = 120.0  # a reload of a big config takes seconds; Proxmox's own GUI waits this long
TASK_POLL_S = 0.2


@dataclass(frozen=True)
class NodeView:
    """A node's interfaces as the API lists them, and the pending-changes diff if any."""

    items: dict[str, dict[str, Any]]
    changes: str | None


@dataclass(frozen=True)
class TaskResult:
    """A finished worker task: its exit status and log."""

    upid: str
    exitstatus: str
    log: list[str]

    @property
    def ok(self) -> bool:
        """Whether the task ended with OK."""
        return self.exitstatus == "OK"

    def failure(self, task: str) -> str | None:
        """None when the task ended OK; else that ``task`` failed, with its exit status and
        the log lines that say why (Proxmox's ``TASK ...`` status lines left out)."""
        if self.ok:
            return None
        lines = [line for line in self.log if line and not line.startswith("TASK ")]
        return f"{task} failed: {self.exitstatus}" + (f" ({'; '.join(lines)})" if lines else "")


def describe(error: Exception) -> str:
    """A one-line account of a failed API call, with Proxmox's per-parameter errors."""
    if isinstance(error, ApiCallFailed):
        return error.describe()
    return str(error)


class Client:
    """API calls for one node's network, over the operation's session."""

    def __init__(self, settings: Settings, node: str, session: ApiSession | None = None) -> None:
        self.settings = settings
        self.node = node
        self.session = session or ApiSession(settings)
        self._path = f"/nodes/{node}/network"

    # -- reads -----------------------------------------------------------------------------

    def view(self) -> NodeView:
        """All interfaces (pending config when changes are staged) and the raw ``changes`` diff."""
        body = self.session.body("GET", self._path, kind=Call.READ)
        items = {item["iface"]: item for item in body.get("data") or []}
        changes = body.get("changes")
        return NodeView(items, str(changes) if changes else None)

    def cluster_node_ip(self) -> str | None:
        """The node's address as the cluster knows it (``/cluster/status``), if listed."""
        try:
            status = self.session.call("GET", "/cluster/status", kind=Call.READ)
        except ApiCallFailed:
            return None
        for entry in status or []:
            if entry.get("type") == "node" and entry.get("name") == self.node:
                return str(entry["ip"]) if entry.get("ip") else None
        return None

    # -- writes ----------------------------------------------------------------------------

    def create(self, iface: str, params: Mapping[str, Any]) -> None:
        """POST one interface to the staged config."""
        self.session.call("POST", self._path, {"iface": iface, **params}, kind=Call.WRITE)

    def update(self, iface: str, params: Mapping[str, Any]) -> None:
        """PUT one interface in the staged config."""
        self.session.call("PUT", f"{self._path}/{iface}", params, kind=Call.WRITE)

    def delete(self, iface: str) -> None:
        """DELETE one interface from the staged config."""
        self.session.call("DELETE", f"{self._path}/{iface}", kind=Call.WRITE)

    def revert(self) -> None:
        """Discard every staged change (DELETE /nodes/{node}/network)."""
        self.session.call("DELETE", self._path, kind=Call.IDEMPOTENT)

    def apply(self) -> str:
        """Start the reload of the staged config; returns the task's UPID."""
        return str(self.session.call("PUT", self._path, kind=Call.ONCE))

    def wait(self, upid: str, timeout: float = TASK_TIMEOUT_S) -> TaskResult:
        """Poll a task until it stops; its exit status, and its log when it failed.

        Status reads are retried as reads are; ApiCallFailed when they keep failing,
        NodeError when the task is still running at ``timeout``.
        """
        path = f"/nodes/{upid_node(upid) or self.node}/tasks/{upid}"
        deadline = time.monotonic() + timeout
        while True:
            status = self.session.call("GET", f"{path}/status", kind=Call.READ) or {}
            if status.get("status") == "stopped":
                exitstatus = str(status.get("exitstatus"))
                if exitstatus == "OK":  # the log only matters to say why a task failed
                    return TaskResult(upid, exitstatus, [])
                log = self.session.call("GET", f"{path}/log", {"limit": 1000}, kind=Call.READ)
                return TaskResult(upid, exitstatus, [line.get("t", "") for line in log or []])
            if time.monotonic() > deadline:
                raise NodeError(f"{self.node}: task {upid} still running after {timeout:.0f} s")
            time.sleep(TASK_POLL_S)


def upid_node(upid: str) -> str | None:
    """The node a task runs on, from its UPID (``UPID:<node>:...``)."""
    fields = upid.split(":")
    return fields[1] if len(fields) > 2 and fields[0] == "UPID" and fields[1] else None
