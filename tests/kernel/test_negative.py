"""Negative proofs: a rendered file broken on purpose makes the matching traffic check fail.

Each test applies a scenario's files with one deliberate mistake (ifupdown2
applies them without complaint) and asserts that the check the positive test
uses raises. If one of these starts passing, the positive check has stopped
proving anything.
"""

from __future__ import annotations

import pytest

from tests.kernel import scenarios
from tests.kernel.checks import applied, check_bridged, check_nat
from tests.kernel.topology import GUEST_CIDR, HOST, UPSTREAM, Guests, Host, Wan

pytestmark = pytest.mark.kernel

SDN = "/etc/network/interfaces.d/sdn"
INTERFACES = "/etc/network/interfaces"
WRONG_SOURCE = "192.0.2.99"  # on the upstream's segment, but nobody's address


def test_wrong_snat_source_breaks_nat(wan: Wan, pve: Host, guests: Guests) -> None:
    """SNAT to an address the host does not own: replies never come back to the guest."""
    files = scenarios.nat()
    broken = (files[SDN] or "").replace(f"--to-source {HOST}", f"--to-source {WRONG_SOURCE}")
    assert broken != files[SDN]
    applied(pve, {**files, SDN: broken})
    vm = guests.add(101, "10.10.10.2/24", scenarios.NAT_GATEWAY)
    vm.attach(scenarios.NAT_VNET)
    with pytest.raises(AssertionError, match="no answer"):
        check_nat(wan, pve, vm, patience=0)
    assert WRONG_SOURCE in wan.ns.ip("neigh", "show")  # the upstream asked who has it


def test_missing_bridge_port_breaks_bridged(wan: Wan, pve: Host, guests: Guests) -> None:
    """vmbr0 without eno1: neither the host nor the guest reaches the upstream."""
    files = scenarios.bridged()
    broken = (files[INTERFACES] or "").replace("bridge-ports eno1", "bridge-ports none")
    assert broken != files[INTERFACES]
    applied(pve, {**files, INTERFACES: broken})
    assert "master vmbr0" not in pve.ns.ip("link", "show", "eno1")
    vm = guests.add(101, GUEST_CIDR, UPSTREAM)
    vm.attach("vmbr0")
    with pytest.raises(AssertionError, match="no answer"):
        check_bridged(wan, pve, vm, patience=0)
    # The guest is cut off too, not just the host.
    assert not vm.ns.blocked(f"{wan.url}/guest").ok
