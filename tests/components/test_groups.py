"""NodeNetworks: several networks of one node as one set, each keeping its own flags."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from components.groups import NodeNetworks
from components.local_engine import LocalEngine
from components.node import BridgedNetwork
from provider.errors import NodeError
from provider.node.resource import NodeInterfacesProvider
from simulator.testing import SimulatorHandle
from tests.programs import applies, connected, node_state
from tests.provider.conftest import configure_for

MANAGEMENT = {
    "bridge": "vmbr0",
    "ports": ["eno1"],
    "cidr": "192.168.10.2/24",
    "gateway": "192.168.10.1",
    "comments": "management",
    "adopt": True,
    "allow_management_change": True,
}
DMZ = {"bridge": "vmbr2", "ports": ["eno4"]}


def program(*members: tuple[str, dict[str, Any]]) -> Callable[[], None]:
    def run() -> None:
        NodeNetworks(
            "pve1",
            node="pve1",
            networks=[(BridgedNetwork, name, arguments) for name, arguments in members],
        )

    return run


def test_a_nodes_networks_are_one_apply_and_each_keeps_its_own_adopt(
    simulator: SimulatorHandle,
) -> None:
    """The management bridge (adopted) and a DMZ bridge: one apply; destroy puts vmbr0 back
    as it was and deletes vmbr2."""
    before = node_state(simulator)
    engine = LocalEngine(connected({}, simulator))
    engine.run(program(("mgmt", MANAGEMENT), ("dmz", DMZ)))
    assert engine.steps("create") == ["pve1-interfaces"]
    assert applies(simulator) == ["/nodes/pve1/network"]
    listed = {i["iface"]: i for i in simulator.proxmox().nodes("pve1").network.get()}
    assert listed["vmbr0"]["comments"].strip() == "management"
    assert "vmbr2" in listed
    engine.destroy()
    assert node_state(simulator) == before


def test_one_networks_adopt_does_not_cover_another_networks_interface(
    simulator: SimulatorHandle,
) -> None:
    """vmbr0 exists; the network that names it without adopt is refused, though another
    network of the same set sets adopt for its own bridge."""
    engine = LocalEngine(connected({}, simulator))
    taken = {**MANAGEMENT, "adopt": False}
    with pytest.raises(NodeError, match=r"pve1: vmbr0 already exist on the node; set adopt=True"):
        engine.run(program(("mgmt", taken), ("dmz", {**DMZ, "adopt": True})))
    assert applies(simulator) == []


def test_a_flag_naming_an_interface_outside_the_set_is_refused(
    simulator: SimulatorHandle,
) -> None:
    provider = configure_for(NodeInterfacesProvider(), simulator)
    news = {
        "node": "pve1",
        "interfaces": [{"iface": "vmbr2", "type": "bridge"}],
        "adopt": ["vmbr2", "vmbr9"],
    }
    result = provider.check({}, news)
    assert [(f.property, f.reason) for f in result.failures] == [
        (
            "adopt",
            "pve1: vmbr9 not in the set's interfaces (vmbr2); adopt covers interfaces of the set",
        )
    ]
