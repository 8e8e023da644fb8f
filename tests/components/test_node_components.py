"""BridgedNetwork, BondedUplink and VlanNetwork under Pulumi's mocks (no server, no CLI).

For each component: what it registers (types, names, custom or not), that its
one ``NodeInterfaces`` child is parented to it (the child's URN carries the
component's type), the child's inputs (the interface dicts), the component's
outputs, a preview with an argument that is unknown, and bad arguments that
fail with ``InvalidSpec`` naming the component's argument before anything is
registered. Assertions run inside ``apply`` on the returned Output, so
``@pulumi.runtime.test`` awaits them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from components.node import BondedUplink, BridgedNetwork, VlanNetwork
from provider.errors import InvalidSpec
from provider.node.resource import NodeInterfaces
from tests.components.mocks import (
    STACK_URN,
    RecordingMocks,
    child_inputs,
    child_urn,
    registered,
    settle_failed_run,
    unknown_output,
)

NODE_INTERFACES = "pulumi-python:dynamic/pvenet:NodeInterfaces"


# -- BridgedNetwork -----------------------------------------------------------------------------


@pulumi.runtime.test
def test_bridged_network_is_one_bridge_in_one_set(mocks: RecordingMocks) -> pulumi.Output[Any]:
    """A VLAN-aware vmbr0 on eno1 with the host address: one child, the bridge's dict, outputs."""
    lan = BridgedNetwork(
        "lan",
        node="pve1",
        bridge="vmbr0",
        ports=("eno1",),
        cidr="192.168.10.2/24",
        gateway="192.168.10.1",
        vlan_aware=True,
        vids=[10, "100-200"],
        mtu=1500,
        comments="LAN",
        adopt=True,
    )
    assert isinstance(lan.interfaces, NodeInterfaces)

    def check(values: list[Any]) -> None:
        urn, child, attach, bridge, node, cidr, gateway = values
        assert registered(mocks) == [
            ("pvenet:index:BridgedNetwork", "lan", False),
            (NODE_INTERFACES, "lan-interfaces", True),
        ]
        assert urn == f"{STACK_URN}pulumi:pulumi:Stack$pvenet:index:BridgedNetwork::lan"
        assert child == child_urn("BridgedNetwork", NODE_INTERFACES, "lan-interfaces")
        assert child_inputs(mocks, "lan-interfaces", NODE_INTERFACES) == {
            "node": "pve1",
            "adopt": True,
            "allow_management_change": False,
            "allow_dhcp_to_static": False,
            "interfaces": [
                {
                    "iface": "vmbr0",
                    "type": "bridge",
                    "bridge_ports": ["eno1"],
                    "bridge_vlan_aware": True,
                    "bridge_vids": ["10", "100-200"],
                    "cidr": "192.168.10.2/24",
                    "gateway": "192.168.10.1",
                    "mtu": 1500,
                    "comments": "LAN",
                }
            ],
        }
        assert (attach, bridge, node, cidr, gateway) == (
            "vmbr0",
            "vmbr0",
            "pve1",
            "192.168.10.2/24",
            "192.168.10.1",
        )

    return pulumi.Output.all(
        lan.urn, lan.interfaces.urn, lan.attach, lan.bridge, lan.node, lan.cidr, lan.gateway
    ).apply(check)


@pulumi.runtime.test
def test_bridged_network_without_address_leaves_unset_settings_out(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """A host-only bridge: no ports, no address; mtu and comments stay unmanaged (absent)."""
    lab = BridgedNetwork("lab", node="pve1", bridge="vmbr9")

    def check(values: list[Any]) -> None:
        cidr, gateway = values
        assert child_inputs(mocks, "lab-interfaces", NODE_INTERFACES)["interfaces"] == [
            {"iface": "vmbr9", "type": "bridge", "bridge_ports": [], "bridge_vlan_aware": False}
        ]
        assert (cidr, gateway) == (None, None)

    return pulumi.Output.all(lab.cidr, lab.gateway).apply(check)


# -- BondedUplink -------------------------------------------------------------------------------


@pulumi.runtime.test
def test_bonded_uplink_is_bond_and_bridge_in_one_set_with_the_address_on_the_bridge(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """bond1(eno3, eno4) 802.3ad layer3+4 under vmbr1: one child with both interfaces."""
    uplink = BondedUplink(
        "uplink",
        node="pve1",
        bond="bond1",
        slaves=["eno4", "eno3"],
        mode="802.3ad",
        hash_policy="layer3+4",
        bridge="vmbr1",
        cidr="10.1.0.1/24",
        gateway="10.1.0.254",
        mtu=9000,
        comments="uplink",
        allow_management_change=True,
    )

    def check(values: list[Any]) -> None:
        child, attach, bond, bridge, cidr, gateway = values
        assert registered(mocks) == [
            ("pvenet:index:BondedUplink", "uplink", False),
            (NODE_INTERFACES, "uplink-interfaces", True),
        ]
        assert child == child_urn("BondedUplink", NODE_INTERFACES, "uplink-interfaces")
        assert child_inputs(mocks, "uplink-interfaces", NODE_INTERFACES) == {
            "node": "pve1",
            "adopt": False,
            "allow_management_change": True,
            "allow_dhcp_to_static": False,
            "interfaces": [
                {
                    "iface": "bond1",
                    "type": "bond",
                    "slaves": ["eno4", "eno3"],
                    "bond_mode": "802.3ad",
                    "bond_xmit_hash_policy": "layer3+4",
                    "mtu": 9000,
                },
                {
                    "iface": "vmbr1",
                    "type": "bridge",
                    "bridge_ports": ["bond1"],
                    "bridge_vlan_aware": False,
                    "cidr": "10.1.0.1/24",
                    "gateway": "10.1.0.254",
                    "mtu": 9000,
                    "comments": "uplink",
                },
            ],
        }
        assert (attach, bond, bridge, cidr, gateway) == (
            "vmbr1",
            "bond1",
            "vmbr1",
            "10.1.0.1/24",
            "10.1.0.254",
        )

    return pulumi.Output.all(
        uplink.interfaces.urn,
        uplink.attach,
        uplink.bond,
        uplink.bridge,
        uplink.cidr,
        uplink.gateway,
    ).apply(check)


@pulumi.runtime.test
def test_bonded_uplink_without_bridge_puts_the_address_on_the_bond(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """active-backup with a primary and no bridge: guests (or VLANs) attach to the bond."""
    storage = BondedUplink(
        "storage",
        node="pve1",
        bond="bond2",
        slaves=["eno1", "eno2"],
        primary="eno2",
        cidr="10.2.0.5/24",
        comments="storage",
    )

    def check(values: list[Any]) -> None:
        attach, bond, bridge = values
        assert child_inputs(mocks, "storage-interfaces", NODE_INTERFACES)["interfaces"] == [
            {
                "iface": "bond2",
                "type": "bond",
                "slaves": ["eno1", "eno2"],
                "bond_mode": "active-backup",
                "bond_primary": "eno2",
                "cidr": "10.2.0.5/24",
                "comments": "storage",
            },
        ]
        assert (attach, bond, bridge) == ("bond2", "bond2", None)
        assert mocks.logs.messages() == [], "no LACP reminder for active-backup"

    return pulumi.Output.all(storage.attach, storage.bond, storage.bridge).apply(check)


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_an_lacp_bond_reminds_that_the_switch_must_speak_lacp(preview: bool) -> None:
    """mode 802.3ad logs one info message on the component naming the slaves and LACP."""
    mocks = RecordingMocks(preview=preview).install()

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        uplink = BondedUplink(
            "uplink", node="pve1", bond="bond1", slaves=["eno3", "eno4"], mode="802.3ad"
        )
        return uplink.interfaces.urn

    program()
    [message] = mocks.logs.messages()
    assert "bond1 uses 802.3ad (LACP)" in message
    assert "switch ports of eno3, eno4 must be configured as one LACP" in message
    assert "active-backup" in message


def test_bonded_uplink_docs_warn_that_lacp_needs_the_switch() -> None:
    """The class docs say 802.3ad needs switch support and name the alternative."""
    doc = " ".join((BondedUplink.__doc__ or "").split())
    assert "802.3ad (LACP) needs the switch to take part" in doc
    assert "``active-backup`` is the usual choice: it needs nothing from the switch" in doc


# -- VlanNetwork --------------------------------------------------------------------------------


@pulumi.runtime.test
def test_vlan_network_is_named_parent_dot_id_by_default(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """vmbr0.50 with an address: one vlan interface; attach and iface are its name."""
    mgmt = VlanNetwork(
        "mgmt", node="pve1", parent="vmbr0", vlan_id=50, cidr="10.50.0.2/24", mtu=1500
    )

    def check(values: list[Any]) -> None:
        child, attach, iface, cidr, gateway = values
        assert registered(mocks) == [
            ("pvenet:index:VlanNetwork", "mgmt", False),
            (NODE_INTERFACES, "mgmt-interfaces", True),
        ]
        assert child == child_urn("VlanNetwork", NODE_INTERFACES, "mgmt-interfaces")
        assert child_inputs(mocks, "mgmt-interfaces", NODE_INTERFACES) == {
            "node": "pve1",
            "adopt": False,
            "allow_management_change": False,
            "allow_dhcp_to_static": False,
            "interfaces": [
                {
                    "iface": "vmbr0.50",
                    "type": "vlan",
                    "vlan_raw_device": "vmbr0",
                    "vlan_id": 50,
                    "cidr": "10.50.0.2/24",
                    "mtu": 1500,
                }
            ],
        }
        assert (attach, iface, cidr, gateway) == ("vmbr0.50", "vmbr0.50", "10.50.0.2/24", None)

    return pulumi.Output.all(
        mgmt.interfaces.urn, mgmt.attach, mgmt.iface, mgmt.cidr, mgmt.gateway
    ).apply(check)


@pytest.mark.parametrize("iface", ["vlan60", "storage"])
def test_vlan_network_with_a_custom_name_uses_raw_device_and_id(iface: str) -> None:
    """``vlanN`` and free names carry vlan_raw_device and vlan_id."""
    mocks = RecordingMocks().install()

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        vlan = VlanNetwork("storage", node="pve1", parent="bond0", vlan_id=60, iface=iface)

        def check(attach: str) -> None:
            assert child_inputs(mocks, "storage-interfaces", NODE_INTERFACES)["interfaces"] == [
                {"iface": iface, "type": "vlan", "vlan_raw_device": "bond0", "vlan_id": 60}
            ]
            assert attach == iface

        return vlan.attach.apply(check)

    program()


@pulumi.runtime.test
def test_a_component_output_can_be_another_components_argument(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """VlanNetwork(parent=uplink.attach): validated once the Output resolves, dicts as usual."""
    uplink = BondedUplink(
        "uplink", node="pve1", bond="bond1", slaves=["eno3", "eno4"], bridge="vmbr1"
    )
    vlan = VlanNetwork("vlan20", node=uplink.node, parent=uplink.attach, vlan_id=20)

    def check(iface: str) -> None:
        assert iface == "vmbr1.20"
        inputs = child_inputs(mocks, "vlan20-interfaces", NODE_INTERFACES)
        assert inputs["node"] == "pve1"
        assert inputs["interfaces"] == [
            {"iface": "vmbr1.20", "type": "vlan", "vlan_raw_device": "vmbr1", "vlan_id": 20}
        ]
        names = [name for _typ, name, _custom in registered(mocks)]
        assert names.index("uplink-interfaces") < names.index("vlan20-interfaces")

    return vlan.iface.apply(check)


# -- preview with unknown arguments -------------------------------------------------------------


@pulumi.runtime.test
def test_preview_with_an_unknown_bridged_address(
    preview_mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """cidr unknown at preview: registered, the set's interfaces unknown, attach still known."""
    lan = BridgedNetwork("lan", node="pve1", bridge="vmbr0", ports=["eno1"], cidr=unknown_output())

    def check(values: list[Any]) -> None:
        attach, cidr, child_id = values
        assert registered(preview_mocks) == [
            ("pvenet:index:BridgedNetwork", "lan", False),
            (NODE_INTERFACES, "lan-interfaces", True),
        ]
        assert isinstance(
            child_inputs(preview_mocks, "lan-interfaces", NODE_INTERFACES)["interfaces"], Unknown
        )
        assert attach == "vmbr0"
        assert isinstance(cidr, Unknown)
        assert isinstance(child_id, Unknown), "a resource to be created has no id at preview"

    return pulumi.Output.all(lan.attach, lan.cidr, lan.interfaces.id).apply(
        check, run_with_unknowns=True
    )


@pulumi.runtime.test
def test_preview_with_unknown_bond_slaves(preview_mocks: RecordingMocks) -> pulumi.Output[Any]:
    """slaves unknown at preview: no failure; the LACP reminder still shows, without names."""
    uplink = BondedUplink(
        "uplink",
        node="pve1",
        bond="bond1",
        slaves=unknown_output(),
        mode="802.3ad",
        hash_policy="layer3+4",
        bridge="vmbr1",
    )

    def check(values: list[Any]) -> None:
        attach, bond = values
        assert isinstance(
            child_inputs(preview_mocks, "uplink-interfaces", NODE_INTERFACES)["interfaces"], Unknown
        )
        assert (attach, bond) == ("vmbr1", "bond1")
        [message] = preview_mocks.logs.messages()
        assert "the switch ports of its slaves must be configured as one LACP" in message

    return pulumi.Output.all(uplink.attach, uplink.bond).apply(check, run_with_unknowns=True)


@pulumi.runtime.test
def test_preview_with_an_unknown_vlan_parent(preview_mocks: RecordingMocks) -> pulumi.Output[Any]:
    """parent unknown at preview: the VLAN's name, and so attach, are unknown; no failure."""
    vlan = VlanNetwork("vlan20", node="pve1", parent=unknown_output(), vlan_id=20)

    def check(values: list[Any]) -> None:
        attach, iface = values
        assert isinstance(
            child_inputs(preview_mocks, "vlan20-interfaces", NODE_INTERFACES)["interfaces"], Unknown
        )
        assert isinstance(attach, Unknown)
        assert isinstance(iface, Unknown)

    return pulumi.Output.all(vlan.attach, vlan.iface).apply(check, run_with_unknowns=True)


# -- bad arguments ------------------------------------------------------------------------------

Factory = Callable[..., pulumi.ComponentResource]
BOND: dict[str, Any] = {"node": "pve1", "bond": "bond0", "slaves": ["eno1", "eno2"]}
BRIDGE: dict[str, Any] = {"node": "pve1", "bridge": "vmbr0", "ports": ["eno1"]}
VLAN: dict[str, Any] = {"node": "pve1", "parent": "vmbr0", "vlan_id": 50}

BAD_ARGUMENTS: list[tuple[str, Factory, dict[str, Any], str]] = [
    (
        "primary-not-a-slave",
        BondedUplink,
        {**BOND, "primary": "eno4"},
        "BondedUplink 'x': primary 'eno4' is not one of its slaves (eno1, eno2)",
    ),
    (
        "primary-with-lacp",
        BondedUplink,
        {**BOND, "mode": "802.3ad", "primary": "eno1"},
        "BondedUplink 'x': primary only applies to mode 'active-backup' (mode is '802.3ad')",
    ),
    (
        "hash-policy-with-active-backup",
        BondedUplink,
        {**BOND, "hash_policy": "layer2+3"},
        "BondedUplink 'x': hash_policy only applies to mode 'balance-xor' or '802.3ad' "
        "(mode is 'active-backup')",
    ),
    ("unknown-mode", BondedUplink, {**BOND, "mode": "lacp"}, "BondedUplink 'x': mode: Input"),
    (
        "bond-name",
        BondedUplink,
        {**BOND, "bond": "uplink0"},
        "BondedUplink 'x': bond name 'uplink0' must be bondN",
    ),
    (
        "no-slaves",
        BondedUplink,
        {**BOND, "slaves": []},
        "BondedUplink 'x': slaves: a bond needs at least one slave",
    ),
    (
        "slaves-as-wire-string",
        BondedUplink,
        {**BOND, "slaves": "eno1 eno2"},
        "BondedUplink 'x': slaves: Input should be a valid list",
    ),
    (
        "bridge-named-like-a-slave",
        BondedUplink,
        {**BOND, "bridge": "eno1"},
        "BondedUplink 'x': slaves: slave 'eno1' is a bridge",
    ),
    (
        "vids-without-bridge",
        BondedUplink,
        {**BOND, "vids": [10]},
        "BondedUplink 'x': vids need bridge",
    ),
    (
        "vlan-aware-without-bridge",
        BondedUplink,
        {**BOND, "vlan_aware": True},
        "BondedUplink 'x': vlan_aware needs bridge",
    ),
    (
        "gateway-outside-cidr",
        BondedUplink,
        {**BOND, "bridge": "vmbr0", "cidr": "192.168.10.2/24", "gateway": "10.0.0.1"},
        "BondedUplink 'x': gateway '10.0.0.1' is not inside cidr 192.168.10.0/24",
    ),
    (
        "gateway-without-cidr",
        BridgedNetwork,
        {**BRIDGE, "gateway": "10.0.0.1"},
        "BridgedNetwork 'x': gateway '10.0.0.1' needs a cidr",
    ),
    (
        "vids-without-vlan-aware",
        BridgedNetwork,
        {**BRIDGE, "vids": ["10"]},
        "BridgedNetwork 'x': vids only apply to a VLAN-aware bridge; set vlan_aware=True",
    ),
    (
        "vid-out-of-range",
        BridgedNetwork,
        {**BRIDGE, "vlan_aware": True, "vids": [5000]},
        "BridgedNetwork 'x': vids: '5000': VLAN ids of a VLAN-aware bridge are 2 to 4094",
    ),
    (
        "bridge-name",
        BridgedNetwork,
        {**BRIDGE, "bridge": "vmbr_uplink"},
        "BridgedNetwork 'x': bridge name 'vmbr_uplink' must start with a letter and have at most "
        "10 letters",
    ),
    (
        "bridge-name-characters",
        BridgedNetwork,
        {**BRIDGE, "bridge": "br-lan"},
        "BridgedNetwork 'x': bridge: 'br-lan' is not a valid interface name",
    ),
    (
        "own-port",
        BridgedNetwork,
        {**BRIDGE, "ports": ["vmbr0"]},
        "BridgedNetwork 'x': ports: vmbr0 cannot be its own port",
    ),
    (
        "mtu-too-small",
        BridgedNetwork,
        {**BRIDGE, "mtu": 576},
        "BridgedNetwork 'x': mtu: Input should be greater than or equal to 1280",
    ),
    (
        "cidr6-not-ipv6",
        BridgedNetwork,
        {**BRIDGE, "cidr6": "10.0.0.1/24"},
        "BridgedNetwork 'x': cidr6: '10.0.0.1/24' is not an IPv6 address",
    ),
    (
        "vlan-id-out-of-range",
        VlanNetwork,
        {**VLAN, "vlan_id": 5000},
        "VlanNetwork 'x': vlan_id: Input should be less than or equal to 4094",
    ),
    (
        "dotted-name-disagrees-with-vlan-id",
        VlanNetwork,
        {**VLAN, "iface": "vmbr0.60"},
        "VlanNetwork 'x': vlan_id: the name says VLAN id 60, not 50",
    ),
    (
        "dotted-name-disagrees-with-parent",
        VlanNetwork,
        {**VLAN, "iface": "bond0.50"},
        "VlanNetwork 'x': parent: the name says the parent is 'bond0', not 'vmbr0'",
    ),
    (
        "numbered-name-disagrees-with-vlan-id",
        VlanNetwork,
        {**VLAN, "iface": "vlan60"},
        "VlanNetwork 'x': vlan_id: the name says VLAN id 60, not 50",
    ),
    (
        "default-name-too-long",
        VlanNetwork,
        {**VLAN, "parent": "vmbr0storage1"},
        "VlanNetwork 'x': parent: 'vmbr0storage1.50' is longer than the kernel's 15 characters",
    ),
]


@pytest.mark.parametrize(
    ("factory", "arguments", "message"),
    [case[1:] for case in BAD_ARGUMENTS],
    ids=[case[0] for case in BAD_ARGUMENTS],
)
def test_bad_arguments_fail_naming_the_argument_before_anything_is_registered(
    mocks: RecordingMocks, factory: Factory, arguments: dict[str, Any], message: str
) -> None:
    """InvalidSpec names the component and the argument; neither it nor a child is registered."""

    @pulumi.runtime.test
    def program() -> None:
        with pytest.raises(InvalidSpec, match="^" + re.escape(message)) as raised:
            factory("x", **arguments)
        assert "interfaces[" not in str(raised.value), "paths of the set leak into the message"

    program()
    assert mocks.seen == []


def test_known_arguments_are_checked_at_once_while_others_are_outputs(
    preview_mocks: RecordingMocks,
) -> None:
    """A bad plain mode fails at once even though cidr is unknown; nothing is registered."""

    @pulumi.runtime.test
    def program() -> None:
        with pytest.raises(InvalidSpec, match=r"^BondedUplink 'x': mode: Input should be"):
            BondedUplink("x", **{**BOND, "mode": "lacp", "cidr": unknown_output()})
        with pytest.raises(InvalidSpec, match=r"^BridgedNetwork 'x': gateway: 'x' is not an IPv4"):
            BridgedNetwork("x", **{**BRIDGE, "gateway": "x", "cidr": unknown_output()})

    program()
    assert preview_mocks.seen == []


@pulumi.runtime.test
def test_rules_that_read_an_unknown_argument_wait_for_it(
    preview_mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """A gateway cannot be checked against an unknown cidr, nor a primary against unknown slaves."""
    lan = BridgedNetwork("lan", **{**BRIDGE, "gateway": "10.0.0.1", "cidr": unknown_output()})
    uplink = BondedUplink("uplink", **{**BOND, "primary": "eno9", "slaves": unknown_output()})
    return pulumi.Output.all(lan.urn, uplink.urn)


def test_a_bad_value_inside_an_output_fails_the_run_naming_the_argument(
    mocks: RecordingMocks,
) -> None:
    """An Output argument is checked when it resolves; the set is not registered."""

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        uplink = BondedUplink("x", **{**BOND, "primary": pulumi.Output.from_input("eno4")})
        return uplink.interfaces.urn

    with pytest.raises(ValueError, match=r"BondedUplink 'x': primary 'eno4' is not one of"):
        program()
    settle_failed_run()
    assert registered(mocks) == [("pvenet:index:BondedUplink", "x", False)]
