"""A node's network API (``/nodes/{node}/network``) and its wire format.

``Client`` makes the calls one node's interfaces need, through the operation's
``provider.api.session.ApiSession`` (one connection, one retry table); every
failure is ``provider.errors.ApiCallFailed``. A ``Client`` is built per
operation and never stored on a provider, so nothing secret ends up in Pulumi
state.

Only this module knows Proxmox's wire format for interfaces: hyphenated names
(``bond-primary``), space-separated lists, 1/0 booleans, ``delete=`` lists.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provider.api.session import ApiSession, Call
from provider.api.settings import Settings
from provider.errors import ApiCallFailed, NodeError
from provider.model import (
    DOTTED_VLAN_RE,
    NUMBERED_VLAN_RE,
    BondSpec,
    BridgeSpec,
    EthSpec,
    Spec,
    VlanSpec,
)
from provider.plan import Link

CALL_ERRORS = (ApiCallFailed,)
"""What an API call raises when the node refuses it or cannot be reached."""

TASK_TIMEOUT_S = 120.0  # a reload of a big config takes seconds; Proxmox's own GUI waits this long
TASK_POLL_S = 0.2

_node_locks: dict[str, threading.Lock] = {}
_node_locks_guard = threading.Lock()


def node_lock(endpoint: str, node: str) -> threading.Lock:
    """The lock that serialises applies to one node within this provider process."""
    with _node_locks_guard:
        return _node_locks.setdefault(f"{endpoint}/{node}", threading.Lock())


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
        """Poll a task until it stops; its exit status and log.

        Status reads are retried as reads are; ApiCallFailed when they keep failing,
        NodeError when the task is still running at ``timeout``.
        """
        path = f"/nodes/{upid_node(upid) or self.node}/tasks/{upid}"
        deadline = time.monotonic() + timeout
        while True:
            status = self.session.call("GET", f"{path}/status", kind=Call.READ) or {}
            if status.get("status") == "stopped":
                log = self.session.call("GET", f"{path}/log", {"limit": 1000}, kind=Call.READ)
                return TaskResult(
                    upid, str(status.get("exitstatus")), [line.get("t", "") for line in log or []]
                )
            if time.monotonic() > deadline:
                raise NodeError(f"{self.node}: task {upid} still running after {timeout:.0f} s")
            time.sleep(TASK_POLL_S)


def upid_node(upid: str) -> str | None:
    """The node a task runs on, from its UPID (``UPID:<node>:...``)."""
    fields = upid.split(":")
    return fields[1] if len(fields) > 2 and fields[0] == "UPID" and fields[1] else None


def _split(value: Any) -> list[str]:
    return sorted(str(value or "").replace(",", " ").replace(";", " ").split())


# --- wire format ---------------------------------------------------------------------------

_COMMON_KEYS = ("cidr", "gateway", "cidr6", "gateway6", "mtu", "comments")
DYNAMIC_METHODS = ("dhcp", "auto")
"""``method``/``method6`` values by which the node gets its address itself (DHCP, SLAAC)."""


def spec_from_api(name: str, item: Mapping[str, Any]) -> Spec | None:
    """The spec of an interface as the API shows it, or None for types pvenet does not model."""
    common: dict[str, Any] = {
        "iface": name,
        "cidr": item.get("cidr"),
        "gateway": item.get("gateway") or None,
        "cidr6": item.get("cidr6"),
        "gateway6": item.get("gateway6") or None,
        "mtu": int(item["mtu"]) if item.get("mtu") else None,
        "autostart": bool(int(item.get("autostart") or 0)),
        "comments": str(item["comments"]).removesuffix("\n") if item.get("comments") else None,
    }
    kind = item.get("type")
    if kind == "bridge":
        aware = bool(item.get("bridge_vlan_aware"))
        return BridgeSpec.model_construct(
            **common,
            type="bridge",
            bridge_ports=_split(item.get("bridge_ports")),
            bridge_vlan_aware=aware,
            bridge_vids=str(item.get("bridge_vids") or "2-4094").split() if aware else None,
        )
    if kind == "bond":
        return BondSpec.model_construct(
            **common,
            type="bond",
            slaves=_split(item.get("slaves")),
            bond_mode=item.get("bond_mode") or "balance-rr",
            bond_primary=item.get("bond-primary") or None,
            bond_xmit_hash_policy=item.get("bond_xmit_hash_policy") or None,
        )
    if kind == "vlan":
        return VlanSpec.model_construct(
            **common,
            type="vlan",
            **_vlan_fields(name, item.get("vlan-raw-device"), item.get("vlan-id")),
        )
    if kind == "eth":
        return EthSpec.model_construct(**common, type="eth")
    return None


def _vlan_fields(name: str, raw_device: Any, vlan_id: Any) -> dict[str, Any]:
    """VLAN fields in canonical form: nothing the name already says."""
    if DOTTED_VLAN_RE.fullmatch(name):
        return {"vlan_raw_device": None, "vlan_id": None}
    if NUMBERED_VLAN_RE.fullmatch(name):
        return {"vlan_raw_device": raw_device or None, "vlan_id": None}
    return {"vlan_raw_device": raw_device or None, "vlan_id": int(vlan_id) if vlan_id else None}


def canonical(spec: Spec) -> Spec:
    """A desired spec in the form the API reads back (VLAN ids from names, default VIDs)."""
    if isinstance(spec, VlanSpec):
        return spec.model_copy(update=_vlan_fields(spec.iface, spec.vlan_raw_device, spec.vlan_id))
    if isinstance(spec, BridgeSpec) and spec.bridge_vlan_aware and spec.bridge_vids is None:
        return spec.model_copy(update={"bridge_vids": ["2-4094"]})
    return spec


def link_from_api(name: str, item: Mapping[str, Any]) -> Link:
    """The planner's view of any interface the API lists."""
    kind = str(item.get("type") or "unknown")
    ports = _split(
        item.get("bridge_ports")
        if kind == "bridge"
        else item.get("slaves")
        if kind == "bond"
        else ""
    )
    parent = item.get("vlan-raw-device") if kind == "vlan" else None
    dotted = DOTTED_VLAN_RE.fullmatch(name)
    return Link(
        name=name,
        kind=kind,
        ports=frozenset(ports),
        parent=dotted["parent"] if dotted and kind == "vlan" else parent,
        mtu=int(item["mtu"]) if str(item.get("mtu") or "").isdigit() else None,
        gateway=bool(item.get("gateway")),
        gateway6=bool(item.get("gateway6")),
        addressed=(item.get("method") == "static" and bool(item.get("address")))
        or (item.get("method6") == "static" and bool(item.get("address6"))),
        primary=item.get("bond-primary") if kind == "bond" else None,
        dynamic=", ".join(
            f"{family} {item[key]}"
            for family, key in (("inet", "method"), ("inet6", "method6"))
            if item.get(key) in DYNAMIC_METHODS
        )
        or None,
    )


def stanza_of(spec: Spec) -> dict[str, Any]:
    """The interface as Proxmox stores it after POSTing ``spec`` (for rendering at preview)."""
    stanza: dict[str, Any] = {k: v for k, v in to_params(spec, None).items() if k != "delete"}
    for suffix in ("", "6"):
        if cidr := stanza.pop("cidr" + suffix, None):
            stanza["address" + suffix], stanza["netmask" + suffix] = str(cidr).rsplit("/", 1)
    families = [f for f, s in (("inet", ""), ("inet6", "6")) if stanza.get("address" + s)]
    stanza["families"] = families or ["inet"]
    stanza["method"] = "static" if stanza.get("address") else "manual"
    stanza["method6"] = "static" if stanza.get("address6") else "manual"
    return stanza


def _wire_settings(spec: Spec) -> dict[str, Any]:
    """Every setting of ``spec`` under its wire name; None where the spec has none."""
    values: dict[str, Any] = {key: getattr(spec, key) for key in _COMMON_KEYS}
    if isinstance(spec, BridgeSpec):
        values["bridge_ports"] = " ".join(spec.bridge_ports) or None
        values["bridge_vlan_aware"] = 1 if spec.bridge_vlan_aware else None
        values["bridge_vids"] = " ".join(spec.bridge_vids) if spec.bridge_vids else None
    if isinstance(spec, BondSpec):
        values["slaves"] = " ".join(spec.slaves) or None
        values["bond_mode"] = spec.bond_mode
        values["bond-primary"] = spec.bond_primary
        values["bond_xmit_hash_policy"] = spec.bond_xmit_hash_policy
    if isinstance(spec, VlanSpec) and not DOTTED_VLAN_RE.fullmatch(spec.iface):
        values["vlan-raw-device"] = spec.vlan_raw_device
        if not NUMBERED_VLAN_RE.fullmatch(spec.iface):
            values["vlan-id"] = spec.vlan_id
    return values


def to_params(spec: Spec, before: Spec | None) -> dict[str, Any]:
    """Form parameters that make the staged interface equal ``spec``.

    PUT recomputes the address family and method from the request alone, so
    every write carries the full L3 state; settings ``before`` had and ``spec``
    lacks are removed with ``delete=``.
    """
    params: dict[str, Any] = {"type": spec.type, "autostart": 1 if spec.autostart else 0}
    wanted = _wire_settings(spec)
    had = _wire_settings(before) if before is not None else {}
    params.update({key: value for key, value in wanted.items() if value is not None})
    removed = sorted(
        key for key, value in had.items() if value is not None and wanted.get(key) is None
    )
    if removed:
        params["delete"] = ",".join(removed)
    return params
