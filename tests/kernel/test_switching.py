"""Layer 2: bonds (802.3ad, active-backup) and a VLAN-aware bridge (examples/bond, bridged).

These need kernel modules (bonding, 8021q, bridge VLAN filtering). Where the
machine's kernel lacks them they run in the QEMU guest with Debian's stock
kernel; the outcome is reported here under the same test id.
"""

from __future__ import annotations

import re

import pytest

from tests.kernel import scenarios
from tests.kernel.checks import (
    applied,
    blocked,
    bridge_vlans,
    check_bridged,
    pvid,
    reaches,
    vlan_ids,
    wait_for,
)
from tests.kernel.topology import Guests, Host, Wan

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(600)]

NO_PARTNER = "00:00:00:00:00:00"
BOND_HOST = scenarios.BOND_HOST_CIDR.split("/")[0]
BOND_UPSTREAM = "10.1.0.1"  # the upstream on the bond's segment
BOND_UPSTREAM_CIDR = f"{BOND_UPSTREAM}/24"


def _bonding(pve: Host) -> str:
    return pve.ns.read("/proc/net/bonding/bond0")


def _lacp_up(text: str) -> bool:
    """Both slaves in the active aggregator, which has a partner (the upstream's bond)."""
    partner = re.search(r"Active Aggregator Info:.*?Partner Mac Address: (\S+)", text, re.S)
    ports = re.search(r"Active Aggregator Info:.*?Number of ports: (\d+)", text, re.S)
    return bool(partner and ports and partner.group(1) != NO_PARTNER and ports.group(1) == "2")


@pytest.mark.needs("bond")
@pytest.mark.parametrize("mode", ["802.3ad", "active-backup"])
def test_bond(mode: str, wan: Wan, pve: Host, guests: Guests) -> None:
    """bond0 (eno2+eno3) under vmbr1: the kernel reports mode and slaves; traffic crosses.

    802.3ad (examples/bond) faces an LACP bond over wan1+wan2 on the upstream and
    must aggregate both links; active-backup faces a plain switch and must
    survive eno2's cable being pulled. The upstream is 10.1.0.1 on that segment.
    """
    links = ("wan1", "wan2")  # the cables of eno2, eno3
    if mode == "802.3ad":
        wan.lacp_bond(links, BOND_UPSTREAM_CIDR)
    else:
        wan.switch(links, BOND_UPSTREAM_CIDR)
    applied(pve, scenarios.bond(mode), query=False)  # the kernel's state is asserted below

    assert f"bond mode {mode} " in pve.link("bond0")
    assert f"master {scenarios.BOND_BRIDGE}" in pve.ns.ip("link", "show", "bond0")
    for nic in scenarios.BOND_SLAVES:
        assert "master bond0" in pve.ns.ip("link", "show", nic)
    assert f"inet {scenarios.BOND_HOST_CIDR}" in pve.ns.ip("addr", "show", scenarios.BOND_BRIDGE)
    bonding = _bonding(pve)
    slaves = re.findall(r"^Slave Interface: (\S+)", bonding, re.M)
    assert slaves == list(scenarios.BOND_SLAVES), bonding
    first, second = scenarios.BOND_SLAVES
    if mode == "802.3ad":
        assert "Bonding Mode: IEEE 802.3ad Dynamic link aggregation" in bonding
        assert f"Transmit Hash Policy: {scenarios.BOND_HASH_POLICY}" in bonding
        wait_for(f"LACP aggregation of {first}+{second}", lambda: _bonding(pve), _lacp_up, 60)
    else:
        assert "Bonding Mode: fault-tolerance (active-backup)" in bonding
        assert f"Primary Slave: {first}" in bonding
        assert f"Currently Active Slave: {first}" in bonding

    vm = guests.add(101, "10.1.0.20/24", BOND_UPSTREAM)
    vm.attach(scenarios.BOND_BRIDGE)
    check_bridged(wan, pve, vm, upstream=BOND_UPSTREAM, host=BOND_HOST)

    if mode == "active-backup":
        wan.ns.ip("link", "set", links[0], "down")  # pull eno2's cable: eno2 loses carrier
        wait_for(
            f"failover to {second}",
            lambda: _bonding(pve),
            lambda text: f"Currently Active Slave: {second}" in text,
            15,
        )
        check_bridged(wan, pve, vm, patience=10, upstream=BOND_UPSTREAM, host=BOND_HOST)


@pytest.mark.needs("8021q", "vlan_filtering")
def test_vlan_aware_bridge(wan: Wan, pve: Host, guests: Guests) -> None:
    """examples/bridged: VLAN-aware vmbr1 on eno2 trunks VLANs 10 and 20; VLAN 10 crosses.

    The upstream answers untagged on eno2's cable (192.168.20.1) and on VLAN 10
    (10.0.10.1); a guest on VLAN 20 is cut off from VLAN 10.
    """
    applied(pve, scenarios.vlan_aware(), query=False)  # the kernel's state is asserted below
    link = "wan1"  # the cable of eno2
    wan.leg(link, "192.168.20.1/24")
    leg10 = wan.vlan(link, scenarios.VLAN_ID, "10.0.10.1/24")

    bridge, port = scenarios.VLAN_BRIDGE, scenarios.VLAN_PORT
    assert "vlan_filtering 1" in pve.link(bridge)
    assert f"master {bridge}" in pve.ns.ip("link", "show", port)
    assert f"inet {scenarios.VLAN_HOST_CIDR}" in pve.ns.ip("addr", "show", bridge)
    vlans = bridge_vlans(pve.ns)
    assert vlan_ids(vlans[port]) == {1, *scenarios.VLAN_VIDS}, vlans[port]
    assert pvid(vlans[port]) == 1

    vm10 = guests.add(101, "10.0.10.21/24")
    vm10.attach(bridge, tag=scenarios.VLAN_ID)
    vm20 = guests.add(102, "10.0.10.22/24")
    vm20.attach(bridge, tag=20)
    assert pvid(bridge_vlans(pve.ns)[vm10.tap]) == scenarios.VLAN_ID

    reaches(pve.ns, "http://192.168.20.1:8080/untagged", scenarios.VLAN_HOST_CIDR.split("/")[0])
    reaches(vm10.ns, "http://10.0.10.1:8080/vlan10", vm10.ip)
    # The upstream learnt the guest on its VLAN-10 leg: the frames arrived tagged 10.
    assert vm10.ip in wan.ns.ip("neigh", "show", "dev", leg10)
    reaches(wan.ns, f"{vm10.url}/from-wan", "10.0.10.1")
    blocked(vm20.ns, "http://10.0.10.1:8080/vlan20")
