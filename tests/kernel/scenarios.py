"""The node files each kernel scenario applies, made by the simulator's API in process.

Each function builds a one-node cluster (``pve1``, NICs ``eno1..eno4``) whose
installer file puts ``203.0.113.10/24`` on ``vmbr0`` over ``eno1`` with gateway
``203.0.113.1``, makes the API calls a client would make, applies them
(``PUT /nodes/pve1/network`` or ``PUT /cluster/sdn``) and returns the node's
files: ``/etc/network/interfaces`` and ``/etc/network/interfaces.d/sdn``.

These calls stand in for the project's examples; swap a function's body for
an example's deployment once the examples exist.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.api import Request
from simulator.cluster import Cluster

NODE = "pve1"
NICS = ["eno1", "eno2", "eno3", "eno4"]
HOST_CIDR = "203.0.113.10/24"
GATEWAY = "203.0.113.1"
INSTALLER = f"""\
auto lo
iface lo inet loopback

iface eno1 inet manual

auto vmbr0
iface vmbr0 inet static
	address {HOST_CIDR}
	gateway {GATEWAY}
	bridge-ports eno1
	bridge-stp off
	bridge-fd 0

iface eno2 inet manual

iface eno3 inet manual

iface eno4 inet manual

source /etc/network/interfaces.d/*
"""

Files = dict[str, str | None]

NAT_SUBNET = "10.10.10.0/24"
NAT_GATEWAY = "10.10.10.1"
ROUTED_SUBNET = "198.51.100.0/28"
ROUTED_GATEWAY = "198.51.100.1"
VLAN_ID = 10
VLAN_HOST_CIDR = "10.0.10.10/24"


class Node:
    """One simulated node, called in process as a form-encoding client would."""

    def __init__(self, state: Path) -> None:
        self.cluster = Cluster(state, [NODE], NICS, INSTALLER)

    def call(self, method: str, path: str, **params: Any) -> Any:
        """One API call (``path`` below ``/api2/json``); its data. Raises on an API error."""
        form = {key.replace("__", "-"): _form(value) for key, value in params.items()}
        return self.cluster.handle(Request(method, path, form)).data

    def network(self, method: str, suffix: str = "", **params: Any) -> Any:
        """A call below ``/nodes/pve1/network``."""
        return self.call(method, f"/nodes/{NODE}/network{suffix}", **params)

    def apply_network(self) -> None:
        """``PUT /nodes/pve1/network`` (ifreload on a real node); the task must succeed."""
        upid = self.network("PUT")
        status = self.call("GET", f"/nodes/{NODE}/tasks/{upid}/status")
        assert status["exitstatus"] == "OK", status

    def files(self) -> Files:
        """The node's network files."""
        return self.cluster.nodes[NODE].files()


def _form(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@contextmanager
def _node() -> Iterator[Node]:
    """A fresh simulated node whose state lives in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="pvenet-kernel-sim-") as state:
        yield Node(Path(state))


def _uplink_bridge(node: Node, **extra: Any) -> None:
    """vmbr0 with the host address on eno1, written by the simulator's writer."""
    node.network(
        "PUT", "/vmbr0", type="bridge", bridge_ports="eno1", cidr=HOST_CIDR,
        gateway=GATEWAY, autostart=True, **extra,
    )  # fmt: skip


def _simple_zone(node: Node, zone: str, vnet: str, subnet: str, gateway: str, snat: bool) -> None:
    """An SDN Simple zone with one vnet and one subnet, applied with ``PUT /cluster/sdn``."""
    node.call("POST", "/cluster/sdn/zones", zone=zone, type="simple", ipam="pve")
    node.call("POST", "/cluster/sdn/vnets", vnet=vnet, zone=zone)
    subnet_params: dict[str, Any] = {"subnet": subnet, "type": "subnet", "gateway": gateway}
    if snat:
        subnet_params["snat"] = True
    node.call("POST", f"/cluster/sdn/vnets/{vnet}/subnets", **subnet_params)
    node.call("PUT", "/cluster/sdn")


def bridged() -> Files:
    """vmbr0 bridges eno1 and carries the host address: guests sit on the upstream segment."""
    with _node() as node:
        _uplink_bridge(node)
        node.apply_network()
        return node.files()


def nat() -> Files:
    """SDN Simple zone ``natzone``, vnet ``natnet``: 10.10.10.0/24, gateway .1, SNAT."""
    with _node() as node:
        _uplink_bridge(node)
        node.apply_network()
        _simple_zone(node, "natzone", "natnet", NAT_SUBNET, NAT_GATEWAY, snat=True)
        return node.files()


def routed() -> Files:
    """SDN Simple zone ``rtzone``, vnet ``rtnet``: 198.51.100.0/28, gateway .1, no SNAT."""
    with _node() as node:
        _uplink_bridge(node)
        node.apply_network()
        _simple_zone(node, "rtzone", "rtnet", ROUTED_SUBNET, ROUTED_GATEWAY, snat=False)
        return node.files()


def bond(mode: str) -> Files:
    """bond0 over eno1+eno2 in ``mode`` (primary eno1 for active-backup) under vmbr0."""
    with _node() as node:
        # eno1 is vmbr0's port: free it, bond it with eno2, then make bond0 the port.
        node.network(
            "PUT", "/vmbr0", type="bridge", cidr=HOST_CIDR, gateway=GATEWAY,
            autostart=True, delete="bridge_ports",
        )  # fmt: skip
        params: dict[str, Any] = {"bond_mode": mode}
        if mode == "active-backup":
            params["bond-primary"] = "eno1"
        if mode == "802.3ad":
            params["bond_xmit_hash_policy"] = "layer2+3"
        node.network(
            "POST", iface="bond0", type="bond", slaves="eno1 eno2", autostart=True, **params
        )
        node.network(
            "PUT", "/vmbr0", type="bridge", bridge_ports="bond0", cidr=HOST_CIDR,
            gateway=GATEWAY, autostart=True,
        )  # fmt: skip
        node.apply_network()
        return node.files()


def vlan_aware() -> Files:
    """VLAN-aware vmbr0 on eno1 (VLANs 2-4094) plus ``vmbr0.10`` with 10.0.10.10/24."""
    with _node() as node:
        _uplink_bridge(node, bridge_vlan_aware=True, bridge_vids="2-4094")
        node.network(
            "POST", iface=f"vmbr0.{VLAN_ID}", type="vlan", cidr=VLAN_HOST_CIDR, autostart=True
        )
        node.apply_network()
        return node.files()
