"""The API calls of the cluster-wide SDN config (``/cluster/sdn``), and their wire format.

``SdnClient`` is to ``/cluster/sdn`` what ``provider.node.client.Client`` is to a
node's network: built per operation, sending every call through the
operation's ``provider.api.session.ApiSession`` (one connection, one retry
table: reads again on lost answers and gateway failures, writes only when the
cluster filesystem lock timed out). pve-network's failures inside the SDN
lock carry the reason on the message's second line (``create sdn subnet
object failed: 400 Parameter verification failed.`` / ``gateway: 10.9.0.1 is
not in subnet 10.10.10.0/24``); the session keeps every line.

Only this module knows the SDN wire format: ``nodes`` as a comma list,
``dhcp-range`` as repeated ``start-address=..,end-address=..`` form values,
1/0 booleans, ``delete=`` lists, subnet ids ``<zone>-<network>-<mask>``,
``lock-token`` and an explicit ``release-lock=1`` (Proxmox does not apply the
documented default).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from provider.api.session import ApiSession, Call
from provider.api.settings import Settings
from provider.errors import ApiCallFailed, NodeError
from provider.node.client import Client, NodeView, TaskResult, describe, upid_node
from provider.sdn.plan import SdnState, SdnStep, SubnetState
from provider.sdn.render import Uplink, Uplinks
from provider.sdn.wire import (
    SDN,
    call_for,
    cidr_from_api,
    pending_text,
    subnet_from_api,
    vnet_from_api,
    zone_from_api,
)

T = TypeVar("T")

INVALID_LOCK_TOKEN = "invalid lock token provided"
NOT_OFFERED = (404, 501)  # pveproxy answers 501 for a method it has no handler for (PVE 8)
SDN_LOCK_ATTEMPTS = 10  # another client's SDN change usually finishes within seconds
SDN_LOCK_BACKOFF_S = 1.0


def _message(error: Exception) -> str:
    return error.message if isinstance(error, ApiCallFailed) else str(error)


@dataclass(frozen=True)
class SdnObjects:
    """One zone, one vnet and the vnet's subnets as read, and the zone's other vnets."""

    state: SdnState
    zone_vnets: tuple[str, ...]
    zone_type: str | None


class SdnClient:
    """Calls of the cluster-wide SDN API, plus the node reads an SDN change needs."""

    def __init__(self, settings: Settings, session: ApiSession | None = None) -> None:
        self.settings = settings
        self.session = session or ApiSession(settings)

    # -- plumbing --------------------------------------------------------------------------------

    def _read(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """An idempotent read (sent again on lost answers and gateway failures)."""
        return self.session.call("GET", path, params, kind=Call.READ)

    def _write(self, method: str, path: str, params: Mapping[str, Any]) -> Any:
        """A write: sent again only when the cluster filesystem lock timed out."""
        return self.session.call(method, path, params, kind=Call.WRITE)

    # -- the cluster and its nodes ---------------------------------------------------------------

    def nodes(self) -> list[str]:
        """The cluster's node names, sorted."""
        return sorted(str(item["node"]) for item in self._read("/nodes") or [])

    def node_view(self, node: str) -> NodeView:
        """A node's interfaces and its raw pending ``changes`` diff (see ``Client.view``)."""
        return Client(self.settings, node, self.session).view()

    def uplinks(self, node: str) -> Uplinks:
        """The interfaces holding the node's default gateways: where SNAT traffic leaves."""
        items = sorted(self._read(f"/nodes/{node}/network") or [], key=lambda i: str(i["iface"]))

        def find(gateway: str, address: str) -> Uplink | None:
            for item in items:
                if item.get(gateway) and item.get(address):
                    return Uplink(str(item["iface"]), str(item[address]))
            return None

        return Uplinks(find("gateway", "address"), find("gateway6", "address6"))

    def vnets_listed(self, node: str) -> set[str]:
        """The vnets ``GET /nodes/{node}/network?type=vnet`` lists (they run there)."""
        items = self._read(f"/nodes/{node}/network", {"type": "vnet"}) or []
        return {str(item.get("iface")) for item in items}

    def reloads_since(self, node: str, since: int) -> list[dict[str, Any]]:
        """Network reload tasks (``srvreload``) of the node since ``since``, newest first.

        An SDN apply reloads each node in a task of its own; the apply task ends
        OK even when one of them fails, so this is how a failed node shows.
        """
        params = {"typefilter": "srvreload", "since": since, "limit": 20}
        return list(self._read(f"/nodes/{node}/tasks", params) or [])

    def wait(self, upid: str) -> TaskResult:
        """Wait for a task (on the node its UPID names) to stop."""
        node = upid_node(upid)
        if node is None:
            raise NodeError(f"the SDN apply returned '{upid}', which is not a task id (UPID)")
        return Client(self.settings, node, self.session).wait(upid)

    # -- reads of the SDN config -----------------------------------------------------------------

    def objects(self, zone: str, vnet: str, running: bool = False) -> SdnObjects:
        """The zone, the vnet and its subnets in the pending config, or the running one.

        Subnets are listed through their vnet, which pve-network looks up in
        the pending config: a vnet that runs but is deleted in the pending
        config cannot have its subnets read until that change is applied or
        rolled back.
        """
        view = {"running": 1} if running else {}
        zones = {str(z["zone"]): z for z in self._read(f"{SDN}/zones", view) or []}
        vnets = {str(v["vnet"]): v for v in self._read(f"{SDN}/vnets", view) or []}
        zone_item, vnet_item = zones.get(zone), vnets.get(vnet)
        subnets: dict[str, SubnetState] = {}
        if vnet_item is not None:
            try:
                items = self._read(f"{SDN}/vnets/{vnet}/subnets", view) or []
            except ApiCallFailed as error:
                if not error.answered:
                    raise
                raise NodeError(
                    f"vnet {vnet}: its subnets cannot be read ({_message(error)}); the vnet "
                    "is probably deleted in the pending SDN config: apply or roll back the "
                    "pending SDN changes (GUI: Datacenter > SDN) and run again"
                ) from None
            subnets = {cidr_from_api(item): subnet_from_api(item) for item in items}
        others = tuple(
            sorted(name for name, v in vnets.items() if v.get("zone") == zone and name != vnet)
        )
        state = SdnState(
            zone_from_api(zone_item) if zone_item is not None else None,
            vnet_from_api(vnet_item) if vnet_item is not None else None,
            subnets,
        )
        kind = str(zone_item.get("type")) if zone_item is not None else None
        return SdnObjects(state, others, kind)

    def pending_changes(self) -> list[str]:
        """Every zone, vnet and subnet whose pending config differs from the running one."""
        found: list[str] = []
        for kind, path, key in (("zone", "zones", "zone"), ("vnet", "vnets", "vnet")):
            for item in self._read(f"{SDN}/{path}", {"pending": 1}) or []:
                if item.get("state"):
                    found.append(pending_text(kind, str(item.get(key)), item))
        for vnet in sorted(str(v["vnet"]) for v in self._read(f"{SDN}/vnets") or []):
            for item in self._read(f"{SDN}/vnets/{vnet}/subnets", {"pending": 1}) or []:
                if item.get("state"):
                    found.append(pending_text("subnet", str(item.get("id")), item))
        return found

    # -- the global lock, apply and rollback -----------------------------------------------------

    def lock(self) -> str | None:
        """Take the SDN lock: its token, or None when the server has no lock (before PVE 9).

        While another client holds the lock, this waits for it a few seconds,
        then refuses with what to do. When a lock request got no answer, the
        server may have taken the lock for pvenet with a token it never saw:
        if the next request finds the config locked, that lock is released by
        force (nobody else could ever release it) and taken again.
        """
        lost = False
        for attempt in range(SDN_LOCK_ATTEMPTS):
            try:
                return str(self._write("POST", f"{SDN}/lock", {}))
            except ApiCallFailed as error:
                if error.status in NOT_OFFERED:
                    return None
                if not error.answered:
                    # it may still land: give it the time to, then the next request sees it
                    lost = True
                    time.sleep(self.settings.timeout)
                    continue
                if INVALID_LOCK_TOKEN not in error.message:
                    raise
                if lost:
                    self.session.call("DELETE", f"{SDN}/lock", {"force": 1}, kind=Call.IDEMPOTENT)
                    lost = False
                    continue
            if attempt < SDN_LOCK_ATTEMPTS - 1:
                time.sleep(SDN_LOCK_BACKOFF_S)
        raise NodeError(
            "the cluster's SDN config is locked by another client (an SDN change in progress "
            f"for {SDN_LOCK_ATTEMPTS * SDN_LOCK_BACKOFF_S:.0f} s); wait for it and run again. If "
            "no change is running, the lock is stale: release it with `pvesh delete "
            "/cluster/sdn/lock --force 1` on a node"
        )

    def apply(self, token: str | None) -> str:
        """Commit the pending SDN config and reload every node (releasing the lock); the UPID."""
        params = {"lock-token": token, "release-lock": 1} if token else {}
        return str(self.session.call("PUT", SDN, params, kind=Call.ONCE))

    def rollback(self, token: str | None) -> None:
        """Reset the pending SDN config to the running one (and release the lock, if held)."""
        params = {"lock-token": token, "release-lock": 1} if token else {}
        self.session.call("POST", f"{SDN}/rollback", params, kind=Call.IDEMPOTENT)

    # -- writes ----------------------------------------------------------------------------------

    def write(self, zone: str, vnet: str, step: SdnStep, token: str | None) -> None:
        """Make one planned change to the pending SDN config."""
        method, path, params = call_for(zone, vnet, step)
        if token:
            params["lock-token"] = token
        self._write(method, path, params)


def describe_sdn(error: Exception) -> str:
    """``describe`` of a failed call on one line (pve-network's messages span several)."""
    return " / ".join(line.strip() for line in describe(error).splitlines() if line.strip())
