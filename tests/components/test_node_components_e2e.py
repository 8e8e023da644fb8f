"""BondedUplink and VlanNetwork end to end: Pulumi's mocks drive the real provider over HTTPS.

``RealProviderMocks`` plays the engine: it unpickles the ``NodeInterfaces``
provider each component registers, configures it with the simulator's stack
config, and runs check/diff/create/update/delete with the stack's state kept
between runs. The request log proves what reached the node: a preview writes
nothing, a second run is a no-op, a change is one apply, and destroy leaves
the node's network as it started.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.node import BondedUplink, VlanNetwork
from provider.errors import InvalidSpec
from simulator.node import INTERFACES, INTERFACES_NEW
from simulator.testing import SimulatorHandle
from tests.components.mocks import RealProviderMocks
from tests.provider.conftest import stack_config

NETWORK = "/nodes/pve1/network"
UPLINK_SET = "uplink-interfaces"
VLAN_SET = "vlan20-interfaces"

BOND1_STANZA = (
    "auto bond1\niface bond1 inet manual\n\tbond-slaves eno3 eno4\n\tbond-miimon 100\n"
    "\tbond-mode 802.3ad\n\tbond-xmit-hash-policy layer3+4\n\n"
)
VMBR1_STANZA = (
    "auto vmbr1\niface vmbr1 inet static\n\taddress 10.1.0.1/24\n\tbridge-ports bond1\n"
    "\tbridge-stp off\n\tbridge-fd 0\n\n"
)


def uplink_program(vlan_cidr: str = "10.20.0.2/24") -> Callable[[], pulumi.Output[Any]]:
    """An 802.3ad bond1(eno3, eno4) under vmbr1 with 10.1.0.1/24, and VLAN 20 on vmbr1."""

    def program() -> pulumi.Output[Any]:
        uplink = BondedUplink(
            "uplink",
            node="pve1",
            bond="bond1",
            slaves=["eno3", "eno4"],
            mode="802.3ad",
            hash_policy="layer3+4",
            bridge="vmbr1",
            cidr="10.1.0.1/24",
        )
        vlan = VlanNetwork(
            "vlan20", node=uplink.node, parent=uplink.attach, vlan_id=20, cidr=vlan_cidr
        )
        return pulumi.Output.all(uplink.attach, vlan.attach)

    return program


def node_network(sim: SimulatorHandle) -> dict[str, dict[str, Any]]:
    """GET /nodes/pve1/network by interface, without its position in the file."""
    listed = sim.proxmox().nodes("pve1").network.get()
    return {i["iface"]: {k: v for k, v in i.items() if k != "priority"} for i in listed}


def writes(sim: SimulatorHandle) -> list[tuple[str, str]]:
    """(method, path) of every request that was not a read."""
    return [(e.method, e.path) for e in sim.requests.entries() if e.method != "GET"]


@pytest.fixture
def engine(simulator: SimulatorHandle) -> RealProviderMocks:
    """The engine's part, with the real providers configured for the test's simulator."""
    return RealProviderMocks(stack_config(simulator))


def test_bonded_uplink_and_vlan_create_noop_change_destroy(
    simulator: SimulatorHandle, engine: RealProviderMocks
) -> None:
    """Preview writes nothing; up creates both sets; again is a no-op; a change is one apply;
    destroy leaves the node as it started."""
    before = node_network(simulator)

    engine.run(uplink_program(), preview=True)
    assert writes(simulator) == [], "a preview must not write"
    assert engine.state == {}
    assert any("LACP" in m for m in engine.logs.messages()), "the LACP reminder at preview"

    engine.run(uplink_program())
    assert engine.operations[-2:] == [(UPLINK_SET, "create"), (VLAN_SET, "create")]
    assert [w for w in writes(simulator) if w == ("PUT", NETWORK)] == [("PUT", NETWORK)] * 2, (
        "one apply per component"
    )
    files = simulator.files()
    assert files[INTERFACES_NEW] is None, "nothing left staged"
    written = files[INTERFACES] or ""
    assert BOND1_STANZA in written
    assert VMBR1_STANZA in written
    assert "auto vmbr1.20\niface vmbr1.20 inet static\n\taddress 10.20.0.2/24\n\n" in written
    assert "auto eno3\niface eno3 inet manual\n\nauto eno4\niface eno4 inet manual\n" in written
    created = node_network(simulator)
    assert created["bond1"]["bond_mode"] == "802.3ad"
    assert created["vmbr1.20"]["vlan-raw-device"] == "vmbr1"

    simulator.requests.clear()
    engine.run(uplink_program())
    assert engine.operations[-2:] == [(UPLINK_SET, "same"), (VLAN_SET, "same")]
    assert writes(simulator) == [], "a second run with nothing changed writes nothing"
    assert node_network(simulator) == created

    simulator.requests.clear()
    engine.run(uplink_program(vlan_cidr="10.20.0.3/24"))
    assert engine.operations[-2:] == [(UPLINK_SET, "same"), (VLAN_SET, "update")]
    assert [w for w in writes(simulator) if w == ("PUT", NETWORK)] == [("PUT", NETWORK)]
    assert node_network(simulator)["vmbr1.20"]["cidr"] == "10.20.0.3/24"

    engine.destroy()
    assert engine.operations[-2:] == [(VLAN_SET, "delete"), (UPLINK_SET, "delete")]
    assert engine.state == {}
    assert node_network(simulator) == before, "eno3/eno4 are back to no autostart, too"


def test_a_nic_leaving_the_bond_is_put_back_as_it_was(
    simulator: SimulatorHandle, engine: RealProviderMocks
) -> None:
    """bond1 shrinks to eno3: one apply, and eno4 loses the ``auto`` the bond gave it."""
    before = node_network(simulator)

    def uplink(slaves: list[str]) -> Callable[[], pulumi.Output[Any]]:
        def program() -> pulumi.Output[Any]:
            return BondedUplink(
                "uplink", node="pve1", bond="bond1", slaves=slaves, mode="active-backup"
            ).attach

        return program

    engine.run(uplink(["eno3", "eno4"]))
    assert node_network(simulator)["eno4"].get("autostart") == 1
    simulator.requests.clear()
    engine.run(uplink(["eno3"]))
    assert engine.operations[-1] == (UPLINK_SET, "update")
    assert [w for w in writes(simulator) if w == ("PUT", NETWORK)] == [("PUT", NETWORK)]
    after = node_network(simulator)
    assert after["bond1"]["slaves"] == "eno3"
    assert after["eno4"] == before["eno4"]
    engine.destroy()
    assert node_network(simulator) == before


def test_removing_a_component_from_the_program_deletes_its_set(
    simulator: SimulatorHandle, engine: RealProviderMocks
) -> None:
    """A VlanNetwork dropped from the program is deleted on the next up; the uplink stays."""
    engine.run(uplink_program())

    def uplink_only() -> pulumi.Output[Any]:
        return BondedUplink(
            "uplink",
            node="pve1",
            bond="bond1",
            slaves=["eno3", "eno4"],
            mode="802.3ad",
            hash_policy="layer3+4",
            bridge="vmbr1",
            cidr="10.1.0.1/24",
        ).attach

    engine.run(uplink_only)
    assert engine.operations[-2:] == [(UPLINK_SET, "same"), (VLAN_SET, "delete")]
    network = node_network(simulator)
    assert "vmbr1.20" not in network
    assert network["vmbr1"]["bridge_ports"] == "bond1"
    engine.destroy()


def test_bad_component_arguments_fail_at_preview_with_no_api_call(
    simulator: SimulatorHandle, engine: RealProviderMocks
) -> None:
    """A bond primary that is not a slave: InvalidSpec names the argument; the node is untouched."""
    simulator.requests.clear()

    def program() -> None:
        BondedUplink("uplink", node="pve1", bond="bond1", slaves=["eno3", "eno4"], primary="eno1")

    with pytest.raises(InvalidSpec, match=r"^BondedUplink 'uplink': primary 'eno1' is not one"):
        engine.run(program, preview=True)
    assert simulator.requests.entries() == []
    assert engine.operations == []
