"""A set renamed or regrouped in one deployment: the new set takes the interfaces and SDN
networks over, and the old set's delete (Pulumi runs it last) leaves them on the node.

Without this, renaming a component (or moving from a set per component to a set per node)
removed its networks from the node at the end of the `up` that renamed it.
"""

from __future__ import annotations

from provider.node.resource import NodeInterfacesProvider
from provider.sdn.networks import SdnNetworksProvider
from provider.sdn.resource import SdnNetworkProvider
from simulator.node import INTERFACES, SDN_INTERFACES
from simulator.testing import SimulatorHandle
from tests.provider.conftest import configure_for, configured
from tests.provider.test_node_interfaces import checked, create
from tests.provider.test_sdn_network import NAT
from tests.provider.test_sdn_network import checked as sdn_checked

BOND = [
    {"iface": "bond0", "type": "bond", "slaves": ["eno2", "eno3"], "bond_mode": "active-backup"},
    {"iface": "vmbr1", "type": "bridge", "bridge_ports": ["bond0"]},
]
DMZ = [{"iface": "vmbr2", "type": "bridge", "bridge_ports": ["eno4"], "comments": "dmz"}]


def _stanzas(sim: SimulatorHandle) -> list[str]:
    text = sim.files()[INTERFACES] or ""
    return [line.split()[1] for line in text.splitlines() if line.startswith("iface ")]


def test_sets_regrouped_into_one_set_per_node_keep_every_interface(
    simulator: SimulatorHandle,
) -> None:
    """Two sets, then one set of the node with all their interfaces: created first, the old
    ones deleted last, as the engine orders it. Every interface is still on the node."""
    provider = configured(simulator)
    old = [create(provider, interfaces=BOND), create(provider, interfaces=DMZ)]
    before = simulator.files()[INTERFACES]
    fresh = configured(simulator)  # the next deployment's provider process
    node_id, _outs = create(fresh, interfaces=BOND + DMZ)
    for rid, outs in old:
        fresh.delete(rid, outs)
    assert simulator.files()[INTERFACES] == before
    assert {"bond0", "vmbr1", "vmbr2"} <= set(_stanzas(simulator))
    assert node_id != old[0][0]


def test_a_renamed_set_with_the_same_interfaces_is_a_new_owner(
    simulator: SimulatorHandle,
) -> None:
    """Same interfaces, a new name: the ids differ, so the old one's delete leaves them."""
    provider = configured(simulator)
    old_id, old_outs = create(provider, interfaces=DMZ)
    new_id, _ = create(provider, interfaces=DMZ)
    assert new_id != old_id
    provider.delete(old_id, old_outs)
    assert "vmbr2" in _stanzas(simulator)


def test_an_update_that_drops_an_interface_another_set_took_leaves_it(
    simulator: SimulatorHandle,
) -> None:
    provider = configured(simulator)
    rid, outs = create(provider, interfaces=BOND + DMZ)
    create(provider, interfaces=DMZ)  # vmbr2 moves to another set, created first
    inputs = checked(provider, {"node": "pve1", "interfaces": BOND}, outs)
    provider.update(rid, outs, inputs)
    assert "vmbr2" in _stanzas(simulator)


def test_without_a_hand_over_a_delete_still_removes_the_set(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    rid, outs = create(node_interfaces, interfaces=DMZ)
    node_interfaces.delete(rid, outs)
    assert "vmbr2" not in _stanzas(simulator)


def test_sdn_networks_regrouped_into_one_list_stay_in_the_cluster(
    simulator: SimulatorHandle,
) -> None:
    single = configure_for(SdnNetworkProvider(), simulator)
    created = single.create(sdn_checked(single, NAT))
    before = simulator.files()[SDN_INTERFACES]
    group = configure_for(SdnNetworksProvider(), simulator)
    checked_group = group.check({}, {"networks": [NAT]})
    assert not checked_group.failures
    group.create(dict(checked_group.inputs))
    single.delete(str(created.id), dict(created.outs or {}))
    assert simulator.files()[SDN_INTERFACES] == before
    assert "labnet" in (before or "")


def test_a_deleted_sdn_network_nobody_took_over_is_removed(simulator: SimulatorHandle) -> None:
    single = configure_for(SdnNetworkProvider(), simulator)
    created = single.create(sdn_checked(single, NAT))
    single.delete(str(created.id), dict(created.outs or {}))
    assert "labnet" not in (simulator.files()[SDN_INTERFACES] or "")
