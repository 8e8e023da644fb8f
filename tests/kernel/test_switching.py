"""Layer 2: bonds (802.3ad, active-backup) and a VLAN-aware bridge with a VLAN interface.

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
from tests.kernel.topology import HOST, UPSTREAM, Guests, Host, Wan

pytestmark = [pytest.mark.kernel, pytest.mark.timeout(600)]

NO_PARTNER = "00:00:00:00:00:00"


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
    """bond0 (eno1+eno2) under vmbr0: the kernel reports mode and slaves; traffic crosses.

    802.3ad faces an LACP bond on the upstream and must aggregate both links;
    active-backup faces a plain switch and must survive eno1's cable being pulled.
    """
    if mode == "802.3ad":
        wan.lacp_uplink()
    else:
        wan.switch_uplink()
    applied(pve, scenarios.bond(mode), query=False)  # the kernel's state is asserted below

    assert f"bond mode {mode} " in pve.link("bond0")
    assert "master vmbr0" in pve.ns.ip("link", "show", "bond0")
    for nic in ("eno1", "eno2"):
        assert "master bond0" in pve.ns.ip("link", "show", nic)
    bonding = _bonding(pve)
    assert re.findall(r"^Slave Interface: (\S+)", bonding, re.M) == ["eno1", "eno2"], bonding
    if mode == "802.3ad":
        assert "Bonding Mode: IEEE 802.3ad Dynamic link aggregation" in bonding
        assert "Transmit Hash Policy: layer2+3" in bonding
        wait_for("LACP aggregation of eno1+eno2", lambda: _bonding(pve), _lacp_up, 60)
    else:
        assert "Bonding Mode: fault-tolerance (active-backup)" in bonding
        assert "Primary Slave: eno1" in bonding
        assert "Currently Active Slave: eno1" in bonding

    vm = guests.add(101, "203.0.113.20/24", UPSTREAM)
    vm.attach("vmbr0")
    check_bridged(wan, pve, vm)

    if mode == "active-backup":
        wan.ns.ip("link", "set", "wan0", "down")  # pull eno1's cable: eno1 loses carrier
        wait_for(
            "failover to eno2",
            lambda: _bonding(pve),
            lambda text: "Currently Active Slave: eno2" in text,
            15,
        )
        check_bridged(wan, pve, vm, patience=10)


@pytest.mark.needs("8021q", "vlan_filtering")
def test_vlan_aware_bridge(wan: Wan, pve: Host, guests: Guests) -> None:
    """VLAN-aware vmbr0 trunks 2-4094 on eno1; vmbr0.10 and VLAN-10 guests reach the upstream.

    The upstream answers untagged (203.0.113.1) and on VLAN 10 (10.0.10.1); a
    guest on VLAN 20 is cut off from VLAN 10.
    """
    applied(pve, scenarios.vlan_aware(), query=False)  # the kernel's state is asserted below
    wan.vlan(scenarios.VLAN_ID, "10.0.10.1/24")

    assert "vlan_filtering 1" in pve.link("vmbr0")
    assert f"vlan protocol 802.1Q id {scenarios.VLAN_ID} " in pve.link("vmbr0.10")
    vlans = bridge_vlans(pve.ns)
    assert set(range(2, 4095)) <= vlan_ids(vlans["eno1"]), vlans["eno1"]
    assert pvid(vlans["eno1"]) == 1
    assert scenarios.VLAN_ID in vlan_ids(vlans["vmbr0"]), vlans["vmbr0"]

    vm10 = guests.add(101, "10.0.10.21/24")
    vm10.attach("vmbr0", tag=scenarios.VLAN_ID)
    vm20 = guests.add(102, "10.0.10.22/24")
    vm20.attach("vmbr0", tag=20)
    assert pvid(bridge_vlans(pve.ns)[vm10.tap]) == scenarios.VLAN_ID

    reaches(pve.ns, f"{wan.url}/untagged", HOST)
    reaches(pve.ns, "http://10.0.10.1:8080/vmbr0.10", scenarios.VLAN_HOST_CIDR.split("/")[0])
    reaches(vm10.ns, "http://10.0.10.1:8080/vlan10", vm10.ip)
    # The upstream learnt the guest on its VLAN-10 leg: the frames arrived tagged 10.
    assert vm10.ip in wan.ns.ip("neigh", "show", "dev", f"{wan.uplink}.{scenarios.VLAN_ID}")
    reaches(wan.ns, f"{vm10.url}/from-wan", "10.0.10.1")
    blocked(vm20.ns, "http://10.0.10.1:8080/vlan20")
