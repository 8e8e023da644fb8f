"""``provider.node.model``: what a set of interfaces may be, and what a person is told when not.

Tables of data: an ``interfaces`` input and the problems it must give (property
path, a piece of the sentence), or the normalised specs it must give. Rules
come from Proxmox's API schema and writer (``reference/pve-network-api.md``),
the GUI's naming rules and the kernel's 15-character limit.

A separate check walks the same refusals and asserts that each message names
the interface and the offending value, and that its path names the property
(Pulumi shows the path beside the message).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from provider.node.model import (
    BOND_MODES,
    HASH_POLICIES,
    HASH_POLICY_MODES,
    BridgeSpec,
    parse_interfaces,
    require_interfaces,
    spec_to_dict,
)
from provider.problems import Problem


@dataclass(frozen=True)
class Refusal:
    """An input that must be refused: the problems, and what every message must name."""

    interfaces: Any
    problems: list[tuple[str, str]]  # (property path, piece of the message)
    names: tuple[str, ...] = ()  # the interface and the value each message must contain


def _bridge(name: str = "vmbr0", **fields: Any) -> dict[str, Any]:
    return {"iface": name, "type": "bridge", **fields}


def _bond(name: str = "bond0", slaves: Any = ("eno1", "eno2"), **fields: Any) -> dict[str, Any]:
    return {"iface": name, "type": "bond", "slaves": list(slaves), **fields}


def _vlan(name: str, **fields: Any) -> dict[str, Any]:
    return {"iface": name, "type": "vlan", **fields}


def _eth(name: str = "eno1", **fields: Any) -> dict[str, Any]:
    return {"iface": name, "type": "eth", **fields}


REFUSALS: dict[str, Refusal] = {
    # names
    "bond-not-bondN": Refusal(
        [_bond("mybond")], [("interfaces[0].iface", "must be bondN")], ("mybond",)
    ),
    "bond-number-too-long": Refusal(
        [_bond("bond12345")], [("interfaces[0].iface", "N up to 4 digits")], ("bond12345",)
    ),
    "bridge-over-10-chars": Refusal(
        [_bridge("vmbr_toolong")], [("interfaces[0].iface", "at most 10")], ("vmbr_toolong",)
    ),
    "bridge-dash": Refusal([_bridge("vm-br0")], [("interfaces[0].iface", "(no '-')")], ("vm-br0",)),
    "eth-dash": Refusal([_eth("en-o1")], [("interfaces[0].iface", "(no '-')")], ("en-o1",)),
    "one-char-name": Refusal(
        [_eth("a")], [("interfaces[0].iface", "not a valid interface name")], ("'a'",)
    ),
    "over-15-chars": Refusal(
        [_vlan("abcdefghijklmn.5")],
        [("interfaces[0].iface", "longer than the kernel's 15 characters")],
        ("abcdefghijklmn.5",),
    ),
    "iface-missing": Refusal([{"type": "bridge"}], [("interfaces[0].iface", "Field required")]),
    # addresses and gateways
    "cidr-without-prefix": Refusal(
        [_bridge(cidr="192.168.1.2")],
        [("interfaces[0].cidr", "not an IPv4 address with a prefix length")],
        ("vmbr0", "192.168.1.2"),
    ),
    "cidr-prefix-below-8": Refusal(
        [_bridge(cidr="192.168.1.2/4")],
        [("interfaces[0].cidr", "prefix lengths 8 to 32")],
        ("vmbr0", "192.168.1.2/4"),
    ),
    "cidr6-given-ipv4": Refusal(
        [_bridge(cidr6="192.168.1.2/24")],
        [("interfaces[0].cidr6", "not an IPv6 address with a prefix length")],
        ("vmbr0", "192.168.1.2/24"),
    ),
    "gateway-not-an-address": Refusal(
        [_bridge(cidr="10.0.0.2/24", gateway="not-an-ip")],
        [("interfaces[0].gateway", "is not an IPv4 address")],
        ("vmbr0", "not-an-ip"),
    ),
    "gateway6-given-ipv4": Refusal(
        [_bridge(cidr6="fd00:1::2/64", gateway6="10.0.0.1")],
        [("interfaces[0].gateway6", "is not an IPv6 address")],
        ("vmbr0", "10.0.0.1"),
    ),
    "gateway-outside-subnet": Refusal(
        [_bridge(cidr="10.0.0.2/24", gateway="10.0.1.1")],
        [("interfaces[0].gateway", "is not inside cidr 10.0.0.0/24")],
        ("vmbr0", "10.0.1.1"),
    ),
    "gateway6-outside-subnet": Refusal(
        [_bridge(cidr6="fd00:1::2/64", gateway6="fd00:2::1")],
        [("interfaces[0].gateway6", "is not inside cidr6 fd00:1::/64")],
        ("vmbr0", "fd00:2::1"),
    ),
    "gateway-needs-cidr": Refusal(
        [_bridge(gateway="10.0.0.1")],
        [("interfaces[0].gateway", "needs a cidr")],
        ("vmbr0", "10.0.0.1"),
    ),
    "cidr-is-the-network-address": Refusal(
        [_bridge(cidr="10.0.0.0/24")],
        [("interfaces[0].cidr", "10.0.0.0 is the network address of 10.0.0.0/24")],
        ("vmbr0", "10.0.0.0/24"),
    ),
    "cidr-is-the-broadcast-address": Refusal(
        [_bridge(cidr="10.0.0.255/24")],
        [("interfaces[0].cidr", "is the broadcast address of 10.0.0.0/24")],
        ("vmbr0", "10.0.0.255/24"),
    ),
    "cidr6-is-the-subnet-router-anycast-address": Refusal(
        [_bridge(cidr6="fd00:1::/64")],
        [("interfaces[0].cidr6", "subnet-router anycast address of fd00:1::/64")],
        ("vmbr0", "fd00:1::/64"),
    ),
    "cidr-multicast": Refusal(
        [_bridge(cidr="224.0.0.5/24")],
        [("interfaces[0].cidr", "is a multicast address")],
        ("vmbr0", "224.0.0.5/24"),
    ),
    "cidr6-loopback": Refusal(
        [_bridge(cidr6="::1/64")],
        [("interfaces[0].cidr6", "is a loopback address")],
        ("vmbr0", "::1/64"),
    ),
    "cidr6-documentation-range": Refusal(
        [_bridge(cidr6="2001:db8::2/64")],
        [("interfaces[0].cidr6", "2001:db8::/32 (documentation)")],
        ("vmbr0", "2001:db8::2/64"),
    ),
    "cidr6-scope-id": Refusal(
        [_bridge(cidr6="fe80::1%eth0/64")],
        [("interfaces[0].cidr6", "has a scope id ('%eth0')")],
        ("vmbr0", "fe80::1%eth0"),
    ),
    "gateway-is-own-address": Refusal(
        [_bridge(cidr="10.0.0.2/24", gateway="10.0.0.2")],
        [("interfaces[0].gateway", "is this interface's own address (cidr 10.0.0.2/24)")],
        ("vmbr0", "10.0.0.2"),
    ),
    "gateway6-is-own-address": Refusal(
        [_bridge(cidr6="fd00:1::2/64", gateway6="fd00:1::2")],
        [("interfaces[0].gateway6", "is this interface's own address")],
        ("vmbr0", "fd00:1::2"),
    ),
    "gateway-is-the-broadcast-address": Refusal(
        [_bridge(cidr="10.0.0.2/24", gateway="10.0.0.255")],
        [("interfaces[0].gateway", "is the broadcast address of 10.0.0.0/24")],
        ("vmbr0", "10.0.0.255"),
    ),
    "gateway-unspecified": Refusal(
        [_bridge(cidr="10.0.0.2/24", gateway="0.0.0.0")],
        [("interfaces[0].gateway", "is the unspecified address")],
        ("vmbr0", "0.0.0.0"),
    ),
    "gateway6-scope-id": Refusal(
        [_bridge(cidr6="fd00:1::2/64", gateway6="fe80::1%vmbr0")],
        [("interfaces[0].gateway6", "has a scope id")],
        ("vmbr0", "fe80::1%vmbr0"),
    ),
    "gateway6-needs-cidr6": Refusal(
        [_bridge(cidr="10.0.0.2/24", gateway6="fd00::1")],
        [("interfaces[0].gateway6", "needs a cidr6")],
        ("vmbr0", "fd00::1"),
    ),
    # VLAN ids and bridge vids
    "vlan-id-0-in-name": Refusal(
        [_vlan("eno1.0")], [("interfaces[0].iface", "VLAN id 0 is outside 1 to 4094")], ("eno1.0",)
    ),
    "vlan-id-4095-in-name": Refusal(
        [_vlan("vlan4095", vlan_raw_device="eno1")],
        [("interfaces[0].iface", "VLAN id 4095 is outside 1 to 4094")],
        ("vlan4095",),
    ),
    "vlan-id-4095-field": Refusal(
        [_vlan("mgmt", vlan_raw_device="eno1", vlan_id=4095)],
        [("interfaces[0].vlan_id", "less than or equal to 4094")],
        ("mgmt", "4095"),
    ),
    "vlan-id-0-field": Refusal(
        [_vlan("mgmt", vlan_raw_device="eno1", vlan_id=0)],
        [("interfaces[0].vlan_id", "greater than or equal to 1")],
        ("mgmt", "0"),
    ),
    "custom-vlan-needs-id": Refusal(
        [_vlan("mgmt", vlan_raw_device="eno1")],
        [("interfaces[0].vlan_id", "a custom-named VLAN needs vlan_id")],
        ("mgmt",),
    ),
    "custom-vlan-needs-raw-device": Refusal(
        [_vlan("mgmt", vlan_id=5)],
        [("interfaces[0].vlan_raw_device", "needs vlan_raw_device")],
        ("mgmt",),
    ),
    "vlan-id-contradicts-name": Refusal(
        [_vlan("eno1.5", vlan_id=6)],
        [("interfaces[0].vlan_id", "the name says VLAN id 5, not 6")],
        ("eno1.5", "6"),
    ),
    "raw-device-contradicts-name": Refusal(
        [_vlan("eno1.5", vlan_raw_device="eno2")],
        [("interfaces[0].vlan_raw_device", "the name says the parent is 'eno1', not 'eno2'")],
        ("eno1.5", "eno2"),
    ),
    "vlan-id-true": Refusal(
        [_vlan("mgmt", vlan_raw_device="eno1", vlan_id=True)],
        [("interfaces[0].vlan_id", "True is not a whole number")],
        ("mgmt", "True"),
    ),
    "vlan-id-as-text": Refusal(
        [_vlan("mgmt", vlan_raw_device="eno1", vlan_id="5")],
        [("interfaces[0].vlan_id", "'5' is not a whole number")],
        ("mgmt", "'5'"),
    ),
    "vlan-id-in-another-script": Refusal(
        [_vlan("eno1.\u0665")],
        [("interfaces[0].iface", "is not a valid interface name")],
        ("eno1.\u0665",),
    ),
    "vid-in-another-script": Refusal(
        [_bridge(bridge_vlan_aware=True, bridge_vids=["\u0661\u0660"])],
        [("interfaces[0].bridge_vids", "is not a VLAN id or range")],
        ("vmbr0", "\u0661\u0660"),
    ),
    "vlan-aware-as-a-number": Refusal(
        [_bridge(bridge_vlan_aware=1)],
        [("interfaces[0].bridge_vlan_aware", "Input should be a valid boolean")],
        ("vmbr0", "1"),
    ),
    "autostart-as-text": Refusal(
        [_bridge(autostart="yes")],
        [("interfaces[0].autostart", "Input should be a valid boolean")],
        ("vmbr0", "yes"),
    ),
    "vid-1": Refusal(
        [_bridge(bridge_vlan_aware=True, bridge_vids=["1"])],
        [("interfaces[0].bridge_vids", "VLAN ids of a VLAN-aware bridge are 2 to 4094")],
        ("vmbr0", "'1'"),
    ),
    "vid-range-above-4094": Refusal(
        [_bridge(bridge_vlan_aware=True, bridge_vids=["10-4095"])],
        [("interfaces[0].bridge_vids", "2 to 4094")],
        ("vmbr0", "10-4095"),
    ),
    "vid-range-reversed": Refusal(
        [_bridge(bridge_vlan_aware=True, bridge_vids=["200-100"])],
        [("interfaces[0].bridge_vids", "from the lower to the higher id")],
        ("vmbr0", "200-100"),
    ),
    "vid-not-a-number": Refusal(
        [_bridge(bridge_vlan_aware=True, bridge_vids=["abc"])],
        [("interfaces[0].bridge_vids", "not a VLAN id or range")],
        ("vmbr0", "abc"),
    ),
    "vids-on-vlan-unaware-bridge": Refusal(
        [_bridge(bridge_vids=["10"])],
        [("interfaces[0].bridge_vids", "only apply to a VLAN-aware bridge")],
        ("vmbr0", "bridge_vlan_aware"),
    ),
    # MTU
    "mtu-below-1280": Refusal(
        [_bridge(mtu=1279)],
        [("interfaces[0].mtu", "greater than or equal to 1280")],
        ("vmbr0", "1279"),
    ),
    "mtu-above-65520": Refusal(
        [_bridge(mtu=65521)],
        [("interfaces[0].mtu", "less than or equal to 65520")],
        ("vmbr0", "65521"),
    ),
    "mtu-fraction": Refusal(
        [_bridge(mtu=9000.5)],
        [("interfaces[0].mtu", "9000.5 is not a whole number")],
        ("vmbr0", "9000.5"),
    ),
    "mtu-true": Refusal(
        [_bridge(mtu=True)],
        [("interfaces[0].mtu", "True is not a whole number")],
        ("vmbr0", "True"),
    ),
    "mtu-not-a-number": Refusal(
        [_bridge(mtu="jumbo")],
        [("interfaces[0].mtu", "'jumbo' is not a whole number")],
        ("vmbr0", "jumbo"),
    ),
    "bridge-mtu-above-port": Refusal(
        [_eth(mtu=1500), _bridge(bridge_ports=["eno1"], mtu=9000)],
        [("interfaces[1].mtu", "vmbr0: mtu 9000 is higher than its parent eno1's mtu 1500")],
        ("vmbr0", "9000"),
    ),
    "vlan-mtu-above-unset-bridge": Refusal(
        [_bridge(), _vlan("vmbr0.5", mtu=9000)],
        [("interfaces[1].mtu", "vmbr0.5: mtu 9000 is higher than its parent vmbr0's mtu 1500")],
        ("vmbr0.5", "9000"),
    ),
    "slave-mtu-above-bond": Refusal(
        [_eth(mtu=9000), _bond(slaves=["eno1"], mtu=1500)],
        [("interfaces[1].mtu", "eno1: mtu 9000 is higher than its parent bond0's mtu 1500")],
        ("eno1", "9000"),
    ),
    # bonds
    "primary-outside-active-backup": Refusal(
        [_bond(bond_mode="802.3ad", bond_primary="eno1")],
        [("interfaces[0].bond_primary", "only applies to bond_mode 'active-backup'")],
        ("bond0", "802.3ad"),
    ),
    "primary-not-a-slave": Refusal(
        [_bond(bond_mode="active-backup", bond_primary="eno3")],
        [("interfaces[0].bond_primary", "'eno3' is not one of its slaves (eno1, eno2)")],
        ("bond0", "eno3"),
    ),
    "hash-policy-outside-xor-and-lacp": Refusal(
        [_bond(bond_mode="active-backup", bond_xmit_hash_policy="layer2")],
        [("interfaces[0].bond_xmit_hash_policy", "only applies to bond_mode 'balance-xor' or")],
        ("bond0", "active-backup"),
    ),
    "bond-without-slaves": Refusal(
        [_bond(slaves=[])],
        [("interfaces[0].slaves", "a bond needs at least one slave")],
        ("bond0",),
    ),
    "unknown-bond-mode": Refusal(
        [_bond(bond_mode="lacp")],
        [("interfaces[0].bond_mode", "Input should be 'balance-rr'")],
        ("bond0", "lacp"),
    ),
    "unknown-hash-policy": Refusal(
        [_bond(bond_mode="802.3ad", bond_xmit_hash_policy="layer4")],
        [("interfaces[0].bond_xmit_hash_policy", "Input should be 'layer2'")],
        ("bond0", "layer4"),
    ),
    # across the set
    "port-in-two-bridges": Refusal(
        [_bridge(bridge_ports=["eno1"]), _bridge("vmbr1", bridge_ports=["eno1"])],
        [("interfaces[1].bridge_ports", "port 'eno1' is already used by vmbr0")],
        ("vmbr1", "eno1"),
    ),
    "slave-also-a-bridge-port": Refusal(
        [_bond(slaves=["eno1"]), _bridge("vmbr1", bridge_ports=["eno1"])],
        [("interfaces[1].bridge_ports", "port 'eno1' is already used by bond0")],
        ("vmbr1", "eno1"),
    ),
    "bonds-enslaving-each-other": Refusal(
        [_bond(slaves=["bond1"]), _bond("bond1", slaves=["bond0"])],
        [("interfaces[0].slaves", "'bond1' in slaves closes a circle (bond0 -> bond1 -> bond0)")],
        ("bond0", "bond1"),
    ),
    "bridge-on-its-own-vlan": Refusal(
        [_bridge(bridge_ports=["vmbr0.5"]), _vlan("vmbr0.5")],
        [("interfaces[0].bridge_ports", "(vmbr0 -> vmbr0.5 -> vmbr0)")],
        ("vmbr0", "vmbr0.5"),
    ),
    "three-bonds-in-a-circle": Refusal(
        [
            _bond(slaves=["bond1"]),
            _bond("bond1", slaves=["bond2"]),
            _bond("bond2", slaves=["bond0"]),
        ],
        [("interfaces[0].slaves", "(bond0 -> bond1 -> bond2 -> bond0)")],
        ("bond0", "bond1"),
    ),
    "bridge-is-its-own-port": Refusal(
        [_bridge(bridge_ports=["vmbr0"])],
        [("interfaces[0].bridge_ports", "cannot be its own port")],
        ("vmbr0",),
    ),
    "bond-slave-is-a-bridge": Refusal(
        [_bridge("vmbr1"), _bond(slaves=["vmbr1"])],
        [("interfaces[1].slaves", "slave 'vmbr1' is a bridge")],
        ("bond0", "vmbr1"),
    ),
    "bridge-port-with-address": Refusal(
        [_eth(cidr="10.0.0.2/24"), _bridge(bridge_ports=["eno1"])],
        [("interfaces[1].bridge_ports", "port 'eno1' has an address")],
        ("vmbr0", "eno1"),
    ),
    "duplicate-name": Refusal(
        [_bridge(), _bridge(bridge_ports=["eno1"])],
        [("interfaces[1].iface", "'vmbr0' appears twice in the set (also interfaces[0])")],
        ("vmbr0",),
    ),
    "two-gateways": Refusal(
        [
            _bridge(cidr="10.0.0.2/24", gateway="10.0.0.1"),
            _bridge("vmbr1", cidr="10.1.0.2/24", gateway="10.1.0.1"),
        ],
        [("interfaces[1].gateway", "only one default gateway per node; vmbr0 already has one")],
        ("vmbr1", "vmbr0"),
    ),
    "two-gateway6s": Refusal(
        [
            _bridge(cidr6="fd00::2/64", gateway6="fd00::1"),
            _bridge("vmbr1", cidr6="fd01::2/64", gateway6="fd01::1"),
        ],
        [("interfaces[1].gateway6", "only one default gateway6 per node; vmbr0 already has one")],
        ("vmbr1", "vmbr0"),
    ),
    # keys and types
    "slaves-on-a-bridge": Refusal(
        [_bridge(slaves=["eno1"])],
        [("interfaces[0].slaves", "'slaves' is not a setting of bridge interfaces")],
        ("vmbr0",),
    ),
    "wire-name-instead-of-python-name": Refusal(
        [_bond(**{"bond-primary": "eno1"})],
        [("interfaces[0].bond-primary", "did you mean 'bond_primary'?")],
        ("bond0",),
    ),
    "ports-on-a-nic": Refusal(
        [_eth(bridge_ports=["eno2"])],
        [("interfaces[0].bridge_ports", "'bridge_ports' is not a setting of eth interfaces")],
        ("eno1",),
    ),
    "type-missing": Refusal(
        [{"iface": "vmbr0"}],
        [("interfaces[0].type", "needs a type: one of bridge, bond, vlan, eth")],
        ("vmbr0",),
    ),
    "type-unknown": Refusal(
        [{"iface": "vmbr0", "type": "ovs"}],
        [("interfaces[0].type", "type 'ovs' is not one of bridge, bond, vlan, eth")],
        ("vmbr0", "'ovs'"),
    ),
    "not-a-list": Refusal("vmbr0", [("interfaces", "must be a list of interfaces")]),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_refused_with_the_property_path_and_a_sentence(case: Refusal) -> None:
    """Each refusal reports exactly the expected problems, at the expected property paths."""
    _specs, problems = parse_interfaces(case.interfaces)
    assert [p.path for p in problems] == [path for path, _ in case.problems], problems
    for problem, (_path, piece) in zip(problems, case.problems, strict=True):
        assert piece in problem.message, problem


def _naming_params() -> list[Any]:
    params = []
    for name, case in REFUSALS.items():
        if not case.names:
            continue
        params.append(pytest.param(case, id=name))
    return params


@pytest.mark.parametrize("case", _naming_params())
def test_every_message_names_the_interface_the_property_and_the_value(case: Refusal) -> None:
    """A person reading one message knows which interface, which setting and which value."""
    _specs, problems = parse_interfaces(case.interfaces)
    assert problems
    for problem in problems:
        assert re.fullmatch(r"interfaces(\[\d+\])?\.[a-z_][a-z0-9_-]*(\[\d+\])?", problem.path), (
            problem
        )
        for token in case.names:
            assert token in problem.message, f"{token!r} missing from {problem}"


def test_require_interfaces_raises_one_error_listing_every_problem() -> None:
    """InvalidSpec is a ValueError whose text carries each problem with its path."""
    with pytest.raises(ValueError, match=r"interfaces\[0\]\.mtu: .*; interfaces\[1\]\.gateway"):
        require_interfaces([_bridge(mtu=1), _bridge("vmbr1", gateway="10.0.0.1")])


def test_set_rules_wait_for_valid_interfaces() -> None:
    """Rules across the set run only once every interface is valid on its own."""
    _specs, problems = parse_interfaces(
        [_bridge(bridge_ports=["eno1"], mtu=1), _bridge("vmbr1", bridge_ports=["eno1"])]
    )
    assert [p.path for p in problems] == ["interfaces[0].mtu"]


# --- accepted and normalised ---------------------------------------------------------------

ACCEPTED: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {
    "bridge-defaults": (
        [_bridge()],
        [
            {
                "iface": "vmbr0",
                "type": "bridge",
                "bridge_ports": [],
                "bridge_vlan_aware": False,
                "bridge_vids": None,
                "autostart": True,
                "mtu": None,
                "cidr": None,
                "gateway": None,
                "cidr6": None,
                "gateway6": None,
                "comments": None,
            }
        ],
    ),
    "bond-defaults": (
        [_bond(slaves=["eno1"])],
        [{"bond_mode": "balance-rr", "bond_primary": None, "bond_xmit_hash_policy": None}],
    ),
    "mtu-float-from-the-engine": ([_bridge(mtu=9000.0)], [{"mtu": 9000}]),
    "vlan-id-float-from-the-engine": (
        [_vlan("mgmt", vlan_raw_device="eno1", vlan_id=10.0)],
        [{"vlan_id": 10}],
    ),
    "mtu-bounds": (
        [_bridge(mtu=1280), _bridge("vmbr1", mtu=65520)],
        [{"mtu": 1280}, {"mtu": 65520}],
    ),
    "ports-sorted-and-unique": (
        [_bridge(bridge_ports=["eno2", "eno1", "eno2"])],
        [{"bridge_ports": ["eno1", "eno2"]}],
    ),
    "slaves-sorted-and-unique": (
        [_bond(slaves=["eno3", "eno1", "eno3"])],
        [{"slaves": ["eno1", "eno3"]}],
    ),
    "vids-kept-in-order": (
        [_bridge(bridge_vlan_aware=True, bridge_vids=["100-200", "2", "4094"])],
        [{"bridge_vids": ["100-200", "2", "4094"]}],
    ),
    "vlan-id-bounds-in-names": (
        [_vlan("eno1.1"), _vlan("eno1.4094"), _vlan("vlan7", vlan_raw_device="eno2")],
        [{"iface": "eno1.1"}, {"iface": "eno1.4094"}, {"vlan_raw_device": "eno2"}],
    ),
    "names-at-their-limits": (
        [_bridge("abcdefghij"), _bond("bond9999", slaves=["eno1"]), _vlan("abcdefghij.4094")],
        [{"iface": "abcdefghij"}, {"iface": "bond9999"}, {"iface": "abcdefghij.4094"}],
    ),
    "point-to-point-prefixes-have-no-network-or-broadcast-address": (
        [
            _bridge(cidr="10.0.0.0/31"),
            _bridge("vmbr1", cidr="10.0.1.1/32"),
            _eth(cidr6="fd00::/127"),
        ],
        [{"cidr": "10.0.0.0/31"}, {"cidr": "10.0.1.1/32"}, {"cidr6": "fd00::/127"}],
    ),
    "comments-over-several-lines-lose-trailing-spaces-only": (
        [_bridge(comments="first  \n  second\u00a0\n\n")],
        [{"comments": "first\n  second\u00a0"}],
    ),
    "nested-bonds-without-a-circle": (
        [_bond(slaves=["bond1"]), _bond("bond1", slaves=["eno1"])],
        [{"slaves": ["bond1"]}, {"slaves": ["eno1"]}],
    ),
    "prefix-bounds-and-gateway-in-a-slash-30": (
        [_bridge(cidr="10.0.0.2/30", gateway="10.0.0.1"), _eth(cidr="10.9.0.1/8")],
        [{"gateway": "10.0.0.1"}, {"cidr": "10.9.0.1/8"}],
    ),
    "one-gateway-per-family": (
        [
            _bridge(cidr="10.0.0.2/24", gateway="10.0.0.1"),
            _bridge("vmbr1", cidr6="fd00::2/64", gateway6="fd00::1"),
        ],
        [{"gateway": "10.0.0.1"}, {"gateway6": "fd00::1"}],
    ),
    "mtu-of-a-port-outside-the-set-is-not-judged": (
        [_bridge(bridge_ports=["eno1"], mtu=9000)],
        [{"mtu": 9000}],
    ),
    "unset-bond-mtu-follows-its-slaves": (
        [_eth(mtu=9000), _bond(slaves=["eno1"]), _bridge(bridge_ports=["bond0"], mtu=9000)],
        [{"mtu": 9000}, {"mtu": None}, {"mtu": 9000}],
    ),
    "active-backup-with-primary": (
        [_bond(bond_mode="active-backup", bond_primary="eno2")],
        [{"bond_primary": "eno2"}],
    ),
    "lacp-with-hash-policy": (
        [_bond(bond_mode="802.3ad", bond_xmit_hash_policy="layer3+4")],
        [{"bond_xmit_hash_policy": "layer3+4"}],
    ),
}


@pytest.mark.parametrize(("interfaces", "expected"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_and_normalised(
    interfaces: list[dict[str, Any]], expected: list[dict[str, Any]]
) -> None:
    """Valid input gives no problem, and the normalised form has these settings."""
    specs, problems = parse_interfaces(interfaces)
    assert problems == []
    for spec, want in zip(specs, expected, strict=True):
        data = spec_to_dict(spec)
        assert {k: data[k] for k in want} == want
        assert all(type(data[k]) is type(v) for k, v in want.items()), data


def test_numeric_vids_from_the_engine_become_strings() -> None:
    """``bridge_vids=[10, 20]`` in a program arrives as numbers; it means ['10', '20']."""
    specs, problems = parse_interfaces([_bridge(bridge_vlan_aware=True, bridge_vids=[10, 20])])
    assert problems == []
    assert isinstance(specs[0], BridgeSpec)
    assert specs[0].bridge_vids == ["10", "20"]


def test_problems_print_as_path_and_message() -> None:
    assert str(Problem("interfaces[0].mtu", "too low")) == "interfaces[0].mtu: too low"


# --- round trip of anything valid ------------------------------------------------------------

_NICS = ("eno1", "eno2", "eno3", "enp3s0f1")
_ADDRESSES = (("10.0.0.2/24", "10.0.0.1"), ("192.168.1.9/30", "192.168.1.10"), ("10.9.0.1/8", None))
_ADDRESSES6 = (("fd00::2/64", "fd00::1"), ("2a01:4f8::5/48", "2a01:4f8::1"), ("fe80::2/64", None))


@st.composite
def _spec_dicts(draw: st.DrawFn, kind: str) -> dict[str, Any]:
    """Input dicts of one kind, nearly always valid, in the loose forms users write."""
    names = {
        "bridge": ["vmbr0", "vmbr1", "lan", "abcdefghij"],
        "bond": ["bond0", "bond1", "bond9999"],
        "vlan": ["eno1.5", "vmbr0.4094", "vlan10", "vlan1", "mgmt"],
        "eth": list(_NICS),
    }
    raw: dict[str, Any] = {"iface": draw(st.sampled_from(names[kind])), "type": kind}
    if draw(st.booleans()):
        raw["cidr"], gateway = draw(st.sampled_from(_ADDRESSES))
        if gateway and draw(st.booleans()):
            raw["gateway"] = gateway
    if draw(st.booleans()):
        raw["cidr6"], gateway6 = draw(st.sampled_from(_ADDRESSES6))
        if gateway6 and draw(st.booleans()):
            raw["gateway6"] = gateway6
    if draw(st.booleans()):
        raw["mtu"] = draw(st.sampled_from([1280, 1500, 9000, 9000.0, 65520]))
    if draw(st.booleans()):
        raw["autostart"] = draw(st.booleans())
    if draw(st.booleans()):
        raw["comments"] = draw(st.text(st.characters(codec="ascii"), max_size=20))
    if kind == "bridge":
        raw["bridge_ports"] = draw(st.lists(st.sampled_from(_NICS), max_size=3))
        if draw(st.booleans()):
            raw["bridge_vlan_aware"] = True
            if draw(st.booleans()):
                vids = st.sampled_from(["2", "10", "100-200", "4094", "2-4094"])
                raw["bridge_vids"] = draw(st.lists(vids, max_size=3))
    if kind == "bond":
        raw["slaves"] = draw(st.lists(st.sampled_from(_NICS), min_size=1, max_size=4))
        raw["bond_mode"] = mode = draw(st.sampled_from(BOND_MODES))
        if mode == "active-backup" and draw(st.booleans()):
            raw["bond_primary"] = draw(st.sampled_from(sorted(raw["slaves"])))
        if mode in HASH_POLICY_MODES and draw(st.booleans()):
            raw["bond_xmit_hash_policy"] = draw(st.sampled_from(HASH_POLICIES))
    if kind == "vlan" and raw["iface"] in ("vlan10", "vlan1", "mgmt"):
        raw["vlan_raw_device"] = draw(st.sampled_from(["eno1", "bond0", "vmbr0"]))
        if raw["iface"] == "mgmt":
            raw["vlan_id"] = draw(st.sampled_from([1, 7, 7.0, 4094]))
    return raw


SPEC_DICTS = st.one_of([_spec_dicts(kind) for kind in ("bridge", "bond", "vlan", "eth")])


@settings(max_examples=300, deadline=None)
@given(st.lists(SPEC_DICTS, min_size=1, max_size=3, unique_by=lambda raw: raw["iface"]))
def test_anything_valid_survives_spec_to_dict_and_parse(raw: list[dict[str, Any]]) -> None:
    """What ``check`` stores (``spec_to_dict``) parses back to the same specs, with no problem."""
    specs, problems = parse_interfaces(raw)
    assume(not problems)
    stored = [spec_to_dict(spec) for spec in specs]
    again, problems_again = parse_interfaces(stored)
    assert problems_again == []
    assert again == specs
    assert [spec_to_dict(spec) for spec in again] == stored
