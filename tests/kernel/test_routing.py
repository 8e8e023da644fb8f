"""Layer 3 on the machine's own kernel: a bridged guest, SDN NAT and a routed SDN subnet.

Each test applies the files the simulator renders for the scenario (examples/nat,
examples/routed; the installer's vmbr0 for bridged) with Debian's
ifupdown2 in the ``pve`` namespace, plugs a guest in the way qemu-server does,
and checks what the upstream router sees.
"""

from __future__ import annotations

import pytest

from tests.kernel import scenarios
from tests.kernel.checks import applied, check_bridged, check_nat, check_routed
from tests.kernel.topology import GUEST_CIDR, HOST, HOST_CIDR, UPSTREAM, Guests, Host, Wan

pytestmark = pytest.mark.kernel


def test_bridged(wan: Wan, pve: Host, guests: Guests) -> None:
    """vmbr0 bridges eno1: a guest with 192.0.2.20/24 is on the upstream's segment."""
    applied(pve, scenarios.bridged())
    assert "master vmbr0" in pve.ns.ip("link", "show", "eno1")
    assert f"inet {HOST_CIDR}" in pve.ns.ip("addr", "show", "vmbr0")
    vm = guests.add(101, GUEST_CIDR, UPSTREAM)
    vm.attach("vmbr0")
    check_bridged(wan, pve, vm)


def test_nat(wan: Wan, pve: Host, guests: Guests) -> None:
    """examples/nat (SNAT): the upstream sees 192.0.2.10 and cannot reach the guest."""
    files = scenarios.nat()
    assert f"--to-source {HOST}" in (files["/etc/network/interfaces.d/sdn"] or "")
    applied(pve, files)
    rules = pve.ns.exec("iptables-save", "-t", "nat").stdout
    assert f"-s {scenarios.NAT_SUBNET} -o vmbr0 -j SNAT --to-source {HOST}" in rules
    assert pve.ns.read(f"/proc/sys/net/ipv4/conf/{scenarios.NAT_VNET}/forwarding").strip() == "1"
    vm = guests.add(101, "10.10.10.2/24", scenarios.NAT_GATEWAY)
    vm.attach(scenarios.NAT_VNET)
    check_nat(wan, pve, vm)


def test_routed(wan: Wan, pve: Host, guests: Guests) -> None:
    """examples/routed (no SNAT): the upstream routes 203.0.113.16/28 to the host."""
    applied(pve, scenarios.routed())
    wan.route(scenarios.ROUTED_BLOCK, HOST)
    vm = guests.add(101, "203.0.113.18/28", scenarios.ROUTED_GATEWAY)
    vm.attach(scenarios.ROUTED_VNET)
    check_routed(wan, pve, vm)
    assert "-j SNAT" not in pve.ns.exec("iptables-save").stdout  # the guest keeps its address
