"""Fidelity: bad requests to /nodes/{node}/network get Proxmox's error and change nothing on disk.

Each case names the Proxmox behaviour it checks; messages are verbatim from
pve-manager API2/Network.pm, pve-common JSONSchema.pm and Interfaces.pm.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from simulator.faults import Fault
from tests.simulator.conftest import NodeApi

WRITER = "/usr/share/perl5/PVE/Network/Interfaces.pm"


@dataclass(frozen=True)
class ErrorCase:
    """Calls that set the scene, then one call that must fail exactly so."""

    behaviour: str
    call: tuple[str, str, dict[str, Any]]
    status: int
    message: str
    errors: dict[str, str] | None = None
    setup: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


BOND = {"iface": "bond0", "type": "bond", "slaves": "eno2 eno3", "bond_mode": "active-backup"}

CASES = [
    ErrorCase(
        "POST of an existing interface: 'interface already exists'",
        ("POST", "/network", {"iface": "vmbr0", "type": "bridge"}),
        400,
        "Parameter verification failed.\n",
        {"iface": "interface already exists"},
    ),
    ErrorCase(
        "PUT of a missing interface: 'interface does not exist'",
        ("PUT", "/network/vmbr7", {"type": "bridge"}),
        400,
        "Parameter verification failed.\n",
        {"iface": "interface does not exist"},
    ),
    ErrorCase(
        "DELETE of a missing interface: 'interface does not exist'",
        ("DELETE", "/network/vmbr7", {}),
        400,
        "Parameter verification failed.\n",
        {"iface": "interface does not exist"},
    ),
    ErrorCase(
        "type is required on POST",
        ("POST", "/network", {"iface": "vmbr1"}),
        400,
        "Parameter verification failed.\n",
        {"type": "property is missing and it is not optional"},
    ),
    ErrorCase(
        "type is required on PUT too",
        ("PUT", "/network/vmbr0", {"cidr": "192.168.10.2/24"}),
        400,
        "Parameter verification failed.\n",
        {"type": "property is missing and it is not optional"},
    ),
    ErrorCase(
        "parameters outside the schema are refused (additionalProperties 0)",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "bridge_stp": "on"}),
        400,
        "Parameter verification failed.\n",
        {
            "bridge_stp": "property is not defined in schema and the schema does not allow "
            "additional properties"
        },
    ),
    ErrorCase(
        "interface names follow pve-iface: no dashes",
        ("POST", "/network", {"iface": "my-br", "type": "bridge"}),
        400,
        "Parameter verification failed.\n",
        {"iface": "invalid format - invalid network interface name 'my-br'\n"},
    ),
    ErrorCase(
        "each item of a pve-iface-list is checked",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "bridge_ports": "eno2,e"}),
        400,
        "Parameter verification failed.\n",
        {"bridge_ports": "invalid format - invalid network interface name 'e'\n"},
    ),
    ErrorCase(
        "booleans over a form are only '1' or '0'",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "autostart": "True"}),
        400,
        "Parameter verification failed.\n",
        {"autostart": "type check ('boolean') failed - got 'True'"},
    ),
    ErrorCase(
        "mtu has a minimum of 1280",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "mtu": "1000"}),
        400,
        "Parameter verification failed.\n",
        {"mtu": "value must have a minimum value of 1280"},
    ),
    ErrorCase(
        "mtu must be an integer",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "mtu": "9k"}),
        400,
        "Parameter verification failed.\n",
        {"mtu": "type check ('integer') failed - got '9k'"},
    ),
    ErrorCase(
        "vlan-id has a maximum of 4094",
        (
            "POST",
            "/network",
            {"iface": "vlan9", "type": "vlan", "vlan-raw-device": "eno2", "vlan-id": "4095"},
        ),
        400,
        "Parameter verification failed.\n",
        {"vlan-id": "value must have a maximum value of 4094"},
    ),
    ErrorCase(
        "VID 1 is not a valid bridge_vids entry",
        (
            "POST",
            "/network",
            {"iface": "vmbr1", "type": "bridge", "bridge_vlan_aware": "1", "bridge_vids": "1-100"},
        ),
        400,
        "Parameter verification failed.\n",
        {"bridge_vids": "invalid format - invalid VLAN tag '1'\n"},
    ),
    ErrorCase(
        "a VID range must go up",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "bridge_vids": "200-100"}),
        400,
        "Parameter verification failed.\n",
        {"bridge_vids": "invalid format - VLAN range must go from lower to higher tag '200-100'\n"},
    ),
    ErrorCase(
        "a CIDRv4 prefix must be 8..32",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "cidr": "10.0.0.1/7"}),
        400,
        "Parameter verification failed.\n",
        {"cidr": "invalid format - value does not look like a valid IPv4 CIDR network\n"},
    ),
    ErrorCase(
        "ipv4mask accepts dotted masks only",
        (
            "POST",
            "/network",
            {"iface": "vmbr1", "type": "bridge", "address": "10.0.0.1", "netmask": "24"},
        ),
        400,
        "Parameter verification failed.\n",
        {"netmask": "invalid format - value does not look like a valid IP netmask\n"},
    ),
    ErrorCase(
        "netmask requires address",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "netmask": "255.255.255.0"}),
        400,
        "Parameter verification failed.\n",
        {"address": "missing property required by 'netmask'"},
    ),
    ErrorCase(
        "bond_mode is an enum",
        ("POST", "/network", {"iface": "bond0", "type": "bond", "bond_mode": "lacp"}),
        400,
        "Parameter verification failed.\n",
        {
            "bond_mode": "value 'lacp' does not have a value in the enumeration 'balance-rr, "
            "active-backup, balance-xor, broadcast, 802.3ad, balance-tlb, balance-alb, "
            "balance-slb, lacp-balance-slb, lacp-balance-tcp'"
        },
    ),
    ErrorCase(
        "address and cidr in one request conflict",
        (
            "POST",
            "/network",
            {
                "iface": "vmbr1",
                "type": "bridge",
                "cidr": "10.0.0.1/24",
                "address": "10.0.0.1",
                "netmask": "255.255.255.0",
            },
        ),
        400,
        "Parameter verification failed.\n",
        {"address": "address conflicts with cidr"},
    ),
    ErrorCase(
        "one default gateway per node (IPv4)",
        (
            "POST",
            "/network",
            {"iface": "vmbr1", "type": "bridge", "cidr": "10.0.0.2/24", "gateway": "10.0.0.1"},
        ),
        400,
        "Parameter verification failed.\n",
        {"gateway": "Default gateway already exists on interface 'vmbr0'."},
    ),
    ErrorCase(
        "one default gateway per node (IPv6)",
        (
            "POST",
            "/network",
            {"iface": "vmbr2", "type": "bridge", "cidr6": "fd00:2::2/64", "gateway6": "fd00:2::1"},
        ),
        400,
        "Parameter verification failed.\n",
        {"gateway6": "Default ipv6 gateway already exists on interface 'vmbr1'."},
        setup=[
            (
                "POST",
                "/network",
                {
                    "iface": "vmbr1",
                    "type": "bridge",
                    "cidr6": "fd00:1::2/64",
                    "gateway6": "fd00:1::1",
                },
            )
        ],
    ),
    ErrorCase(
        "a port cannot be used on two interfaces (API check)",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "bridge_ports": "eno1"}),
        400,
        "Parameter verification failed.\n",
        {"bridge_ports": "eno1 is already used on interface 'vmbr0'."},
    ),
    ErrorCase(
        "IPv6 documentation addresses are RESERVED for Net::IP and refused as host addresses",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "cidr6": "2001:db8::2/64"}),
        400,
        "Parameter verification failed.\n",
        {"address": "2001:db8::2 with type 'RESERVED', cannot be used as host IPv6 address."},
    ),
    ErrorCase(
        "IPv6 multicast cannot be a host address",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "cidr6": "ff02::5/64"}),
        400,
        "Parameter verification failed.\n",
        {"address": "ff02::5 with type 'MULTICAST', cannot be used as host IPv6 address."},
    ),
    ErrorCase(
        "writer: bond-primary must be a slave (a die without newline: Perl adds its location)",
        ("POST", "/network", {**BOND, "bond-primary": "eno1"}),
        500,
        f"bond 'bond0' - bond-primary interface is not a slave at {WRITER} line 908.\n",
    ),
    ErrorCase(
        "writer: a missing bond slave is reported as a wrong type ''",
        ("POST", "/network", {**BOND, "slaves": "eno2 eno9"}),
        500,
        "bond 'bond0' - wrong interface type on slave 'eno9' ('' != 'eth or bond')\n",
    ),
    ErrorCase(
        "writer: bond slaves are split on spaces only, so a comma list is one unknown slave",
        ("POST", "/network", {**BOND, "slaves": "eno2,eno3"}),
        500,
        "bond 'bond0' - wrong interface type on slave 'eno2,eno3' ('' != 'eth or bond')\n",
    ),
    ErrorCase(
        "writer: a bond slave must be an eth or bond",
        ("POST", "/network", {**BOND, "slaves": "eno2 vmbr0"}),
        500,
        "bond 'bond0' - wrong interface type on slave 'vmbr0' ('bridge' != 'eth or bond')\n",
    ),
    ErrorCase(
        "writer: a VLAN needs its parent",
        ("POST", "/network", {"iface": "vmbr5.10", "type": "vlan"}),
        500,
        "vlan 'vmbr5.10' - unable to find parent 'vmbr5'\n",
    ),
    ErrorCase(
        "writer: a custom-named VLAN needs vlan-id",
        ("POST", "/network", {"iface": "mgmt", "type": "vlan", "vlan-raw-device": "eno2"}),
        500,
        f"missing vlan-id option at {WRITER} line 962.\n",
    ),
    ErrorCase(
        "writer: vlanN needs vlan-raw-device",
        ("POST", "/network", {"iface": "vlan10", "type": "vlan"}),
        500,
        f"missing vlan-raw-device option at {WRITER} line 954.\n",
    ),
    ErrorCase(
        "writer: a bridge port must exist in the config",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "bridge_ports": "eno7"}),
        500,
        "bridge 'vmbr1' - unable to find bridge port 'eno7'\n",
    ),
    ErrorCase(
        "writer: a bridge port cannot carry an IP address",
        ("POST", "/network", {"iface": "vmbr1", "type": "bridge", "bridge_ports": "eno2"}),
        500,
        "iface eno2 - ip address can't be set on interface if bridged in vmbr1\n",
        setup=[("PUT", "/network/eno2", {"type": "eth", "cidr": "10.9.0.1/24"})],
    ),
    ErrorCase(
        "writer: a parent's MTU (1500 when unset) must not be lower than the child's",
        (
            "POST",
            "/network",
            {"iface": "vmbr1", "type": "bridge", "bridge_ports": "eno2", "mtu": "9000"},
        ),
        500,
        "interface 'eno2' - mtu 1500 is lower than 'vmbr1' - mtu 9000\n",
    ),
    ErrorCase(
        "Open vSwitch types need openvswitch-switch installed",
        ("POST", "/network", {"iface": "vmbr9", "type": "OVSBridge"}),
        500,
        "Open VSwitch is not installed (need package 'openvswitch-switch')\n",
    ),
    ErrorCase(
        "an unknown node fails the hostname lookup of the proxy",
        ("GET", "//nodes/pve9/network", {}),
        500,
        "hostname lookup 'pve9' failed - failed to get address info for: pve9: "
        "Name or service not known\n",
    ),
    ErrorCase(
        "the type filter is an enum",
        ("GET", "/network", {"type": "bridges"}),
        400,
        "Parameter verification failed.\n",
        {
            "type": "value 'bridges' does not have a value in the enumeration 'bridge, bond, "
            "eth, alias, vlan, fabric, OVSBridge, OVSBond, OVSPort, OVSIntPort, vnet, "
            "any_bridge, any_local_bridge, include_sdn'"
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.behaviour for c in CASES])
def test_bad_request_gets_proxmox_error_and_disk_is_unchanged(
    api: NodeApi, case: ErrorCase
) -> None:
    """The failing call answers exactly as Proxmox does, and no node file changes."""
    for method, path, params in case.setup:
        api.ok(method, path, **params)
    before = api.files()
    method, path, params = case.call
    answer = api.call(method, path, **params)
    assert (answer.status, answer.message, answer.errors) == (
        case.status,
        case.message,
        case.errors,
    )
    assert api.files() == before


def test_lock_timeout_fault_gives_proxmox_lock_error(api: NodeApi) -> None:
    """A write that cannot take /etc/network/.pve-interfaces.lock fails with PVE's message."""
    api.cluster.faults.arm(Fault("lock-timeout", method="POST", path="/nodes/*/network"))
    before = api.files()
    answer = api.call("POST", "/network", iface="vmbr1", type="bridge")
    assert answer.status == 500
    assert answer.message == "can't lock file '/etc/network/.pve-interfaces.lock' - got timeout\n"
    assert api.files() == before
    api.ok("POST", "/network", iface="vmbr1", type="bridge")
