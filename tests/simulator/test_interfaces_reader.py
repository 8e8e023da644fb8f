"""Fidelity: how a node reads /etc/network/interfaces, case by case.

Each case is a file as it may stand on a node (hand-edited, ifupdown2-style,
from a CRLF editor) and what a client then sees: the answer of
``GET /nodes/{node}/network/{iface}``, or the bytes the next API write leaves
in ``interfaces.new``. Each case names the behaviour of pve-common's
``read_etc_network_interfaces`` (and, for the bytes, of the writer that
prints what was read) that it checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from simulator.cluster import Cluster
from simulator.node import INTERFACES_NEW
from tests.simulator.conftest import NodeApi

NICS = ("eno1", "eno2", "eno3")
HEADER_END = "# the PVE managed interfaces into external files!\n\n"


def _node(tmp_path: Path, base: str, nics: tuple[str, ...] = NICS) -> NodeApi:
    """One node whose live file is ``base`` and whose ``ip link`` lists ``nics``."""
    return NodeApi(Cluster(tmp_path / "state", ["pve1"], list(nics), base))


# --- what GET /nodes/{node}/network/{iface} answers -------------------------------------------


@dataclass(frozen=True)
class Read:
    """A file on the node, the interface asked for and the whole answer."""

    behaviour: str
    base: str
    iface: str
    answer: dict[str, Any]


UNINDENTED = (
    "auto vmbr1\niface vmbr1 inet static\naddress 10.1.0.1/24\n"
    "bridge-ports eno2\nbridge-stp off\nbridge-fd 0\n"
)
STATIC = {
    "families": ["inet"],
    "method": "static",
    "method6": "manual",
    "address": "10.1.0.1",
    "netmask": "24",
    "cidr": "10.1.0.1/24",
}
UNINDENTED_ANSWER = {
    **STATIC,
    "type": "bridge",
    "bridge_ports": "eno2",
    "bridge_stp": "off",
    "bridge_fd": "0",
    "autostart": 1,
    "active": 1,
    "priority": 2,
}
BRIDGE_DEFAULTS = {"type": "bridge", "bridge_stp": "off", "bridge_fd": 0}

READS = [
    Read(
        "option-lines-need-no-indent",  # an option is any "KEY VALUE" line inside the stanza
        UNINDENTED,
        "vmbr1",
        UNINDENTED_ANSWER,
    ),
    Read(
        "crlf-line-ends-leave-no-cr-in-values",  # stanza lines lose trailing blanks, CR included
        UNINDENTED.replace("\n", "\r\n"),
        "vmbr1",
        UNINDENTED_ANSWER,
    ),
    Read(
        "blank-line-ends-stanza-post-up-after-it-is-not-an-option",
        "iface vmbr1 inet static\n\taddress 10.1.0.1/24\n\tbridge-ports none\n\n"
        "\tpost-up echo hi\n",
        "vmbr1",
        {**BRIDGE_DEFAULTS, **STATIC, "bridge_ports": "", "priority": 2},
    ),
    Read(
        "unknown-lines-kept-per-family-as-options-and-options6",
        "iface vmbr1 inet manual\n\tbridge-ports none\n\tpost-up echo v4\n"
        "iface vmbr1 inet6 static\n\taddress fd00:1::1/64\n\tpost-up echo v6\n",
        "vmbr1",
        {
            **BRIDGE_DEFAULTS,
            "families": ["inet", "inet6"],
            "method": "manual",
            "method6": "static",
            "address6": "fd00:1::1",
            "netmask6": "64",
            "cidr6": "fd00:1::1/64",
            "bridge_ports": "",
            "options": ["post-up echo v4"],
            "options6": ["post-up echo v6"],
            "priority": 2,
        },
    ),
    Read(
        "allow-hotplug-starts-at-boot-like-auto",
        "allow-hotplug eno2\niface eno2 inet dhcp\n",
        "eno2",
        {
            "type": "eth",
            "families": ["inet"],
            "method": "dhcp",
            "method6": "manual",
            "autostart": 1,
            "exists": 1,
            "active": 1,
            "priority": 2,
        },
    ),
    Read(
        "inet-dhcp-and-inet6-auto-are-methods-of-their-family",
        "iface vmbr1 inet dhcp\n\tbridge-ports eno2\niface vmbr1 inet6 auto\n",
        "vmbr1",
        {
            **BRIDGE_DEFAULTS,
            "families": ["inet", "inet6"],
            "method": "dhcp",
            "method6": "auto",
            "bridge_ports": "eno2",
            "priority": 2,
        },
    ),
    Read(
        "stanza-without-family-takes-ipv4-and-ipv6-by-value",  # ifupdown2's style
        "auto vmbr1\niface vmbr1\n\taddress 10.1.0.1/24\n\taddress fd00:1::1/64\n"
        "\tgateway 10.1.0.254\n\tgateway fd00:1::ff\n\tbridge-ports none\n# lab\n",
        "vmbr1",
        {
            **BRIDGE_DEFAULTS,
            "families": [None],
            "method": "manual",
            "method6": "manual",
            "address": "10.1.0.1",
            "netmask": "24",
            "cidr": "10.1.0.1/24",
            "gateway": "10.1.0.254",
            "address6": "fd00:1::1",
            "netmask6": "64",
            "cidr6": "fd00:1::1/64",
            "gateway6": "fd00:1::ff",
            "bridge_ports": "",
            "comments": " lab\n",
            "autostart": 1,
            "active": 1,
            "priority": 2,
        },
    ),
    Read(
        "ovs-bond-mode-lacp-and-tag-taken-out-of-ovs-options",
        "iface vmbr2 inet manual\n\tovs_type OVSBridge\n\tovs_ports bond0\n\n"
        "iface bond0 inet manual\n\tovs_type OVSBond\n\tovs_bonds eno2 eno3\n"
        "\tovs_bridge vmbr2\n\tovs_options bond_mode=balance-slb lacp=active tag=10 other=1\n",
        "bond0",
        {
            "type": "OVSBond",
            "families": ["inet"],
            "method": "manual",
            "method6": "manual",
            "ovs_type": "OVSBond",
            "ovs_bonds": "eno2 eno3",
            "ovs_bridge": "vmbr2",
            "ovs_options": "other=1",
            "bond_mode": "lacp-balance-slb",
            "ovs_tag": "10",
            "priority": 3,
        },
    ),
    Read(
        "ovs-internal-port-tag-taken-out-of-ovs-options",
        "iface vmbr2 inet manual\n\tovs_type OVSBridge\n\tovs_ports int1\n\n"
        "iface int1 inet static\n\taddress 10.5.0.1/24\n\tovs_type OVSIntPort\n"
        "\tovs_bridge vmbr2\n\tovs_options tag=5\n",
        "int1",
        {
            "type": "OVSIntPort",
            "families": ["inet"],
            "method": "static",
            "method6": "manual",
            "address": "10.5.0.1",
            "netmask": "24",
            "cidr": "10.5.0.1/24",
            "ovs_type": "OVSIntPort",
            "ovs_bridge": "vmbr2",
            "ovs_tag": "5",
            "priority": 3,
        },
    ),
    Read(
        "comments-per-line-with-newline-inet6-ones-appended-top-level-ones-dropped",
        "# top\nauto vmbr1\n# between auto and iface\niface vmbr1 inet manual\n"
        "\tbridge-ports none\n# first   \n#\n#   indented\niface vmbr1 inet6 manual\n# six\n",
        "vmbr1",
        {
            **BRIDGE_DEFAULTS,
            "families": ["inet", "inet6"],
            "method": "manual",
            "method6": "manual",
            "bridge_ports": "",
            "comments": " first\n\n   indented\n six\n",
            "autostart": 1,
            "active": 1,
            "priority": 2,
        },
    ),
    Read(
        "second-stanza-adds-to-the-first-its-options-replace-its-comments-stay",
        "iface eno2 inet manual\n\tmtu 9000\n\tpost-up echo one\n# one\n\n"
        "iface eno2 inet manual\n\tpost-up echo two\n",
        "eno2",
        {
            "type": "eth",
            "families": ["inet", "inet"],
            "method": "manual",
            "method6": "manual",
            "mtu": "9000",
            "options": ["post-up echo two"],
            "comments": " one\n",
            "exists": 1,
            "priority": 2,
        },
    ),
    Read(
        "values-are-the-file-strings-defaults-are-numbers",  # bridge_fd "0" read, 0 filled in
        "iface bond0 inet manual\n\tbond-slaves eno3 eno2\n\tbond-miimon 100\n"
        "\tbond-mode 4\n\tmtu 9000\n",
        "bond0",
        {
            "type": "bond",
            "families": ["inet"],
            "method": "manual",
            "method6": "manual",
            "slaves": "eno2 eno3",
            "bond_miimon": "100",
            "bond_mode": "802.3ad",
            "mtu": "9000",
            "priority": 2,
        },
    ),
    Read(
        "bond-mode-number-named-only-on-an-exact-match",  # Perl's string `eq`: "04" is no 4
        "iface bond0 inet manual\n\tbond-slaves eno2\n\tbond-mode 04\n",
        "bond0",
        {
            "type": "bond",
            "families": ["inet"],
            "method": "manual",
            "method6": "manual",
            "slaves": "eno2",
            "bond_mode": "04",
            "priority": 2,
        },
    ),
    Read(
        "priority-counts-kept-top-level-lines",  # mapping ends eno2; its script line is kept too
        "source /etc/network/a\niface eno2 inet manual\nmapping eno3\n\tscript /x\n"
        "iface eno3 inet manual\n",
        "eno3",
        {
            "type": "eth",
            "families": ["inet"],
            "method": "manual",
            "method6": "manual",
            "exists": 1,
            "priority": 6,
        },
    ),
    Read(
        "a-nic-the-file-lacks-has-no-priority",
        "iface eno2 inet manual\n",
        "eno1",
        {"type": "eth", "families": ["inet"], "method": "manual", "method6": "manual", "exists": 1},
    ),
    Read(
        "bridge-vlan-aware-whatever-its-value-and-stp-yes-is-on",
        "iface vmbr1 inet manual\n\tbridge-ports none\n\tbridge-vlan-aware no\n\tbridge-stp YES\n",
        "vmbr1",
        {
            "type": "bridge",
            "families": ["inet"],
            "method": "manual",
            "method6": "manual",
            "bridge_ports": "",
            "bridge_vlan_aware": 1,
            "bridge_stp": "on",
            "priority": 2,
        },
    ),
    Read(
        "an-option-line-without-value-ends-the-stanza",  # so the mtu after it is not vmbr1's
        "iface vmbr1 inet manual\n\tbridge-ports none\n\tup\n\tmtu 9000\n",
        "vmbr1",
        {
            **BRIDGE_DEFAULTS,
            "families": ["inet"],
            "method": "manual",
            "method6": "manual",
            "bridge_ports": "",
            "priority": 2,
        },
    ),
]


@pytest.mark.parametrize("case", READS, ids=lambda case: case.behaviour)
def test_what_the_api_answers_for_a_file(tmp_path: Path, case: Read) -> None:
    """GET /nodes/{node}/network/{iface} on a node whose live file is the case's."""
    assert _node(tmp_path, case.base).ok("GET", f"/network/{case.iface}") == case.answer


@dataclass(frozen=True)
class Address:
    """An ``address``/``netmask`` pair as written, and the address, mask and cidr read back."""

    behaviour: str
    lines: str
    answer: dict[str, str]


ADDRESSES = [
    Address(
        "dotted-netmask-becomes-prefix-length",
        "address 10.1.0.1\n\tnetmask 255.255.255.0",
        {"address": "10.1.0.1", "netmask": "24", "cidr": "10.1.0.1/24"},
    ),
    Address(
        "numeric-netmask-is-a-prefix-length",
        "address 10.1.0.1\n\tnetmask 16",
        {"address": "10.1.0.1", "netmask": "16", "cidr": "10.1.0.1/16"},
    ),
    Address(
        "netmask-0-is-false-so-a-host-route",
        "address 10.1.0.1\n\tnetmask 0",
        {"address": "10.1.0.1", "netmask": "0", "cidr": "10.1.0.1/32"},
    ),
    Address(
        "a-hostmask-is-no-netmask-so-a-host-route",  # only the 33 contiguous masks are known
        "address 10.1.0.1\n\tnetmask 0.0.0.255",
        {"address": "10.1.0.1", "netmask": "0.0.0.255", "cidr": "10.1.0.1/32"},
    ),
    Address(
        "ipv4-address-without-mask-is-a-host-route",
        "address 10.1.0.1",
        {"address": "10.1.0.1", "cidr": "10.1.0.1/32"},
    ),
    Address(
        "ipv6-address-without-mask-is-a-host-route",
        "address fd00::1",
        {"address6": "fd00::1", "cidr6": "fd00::1/128"},
    ),
]


@pytest.mark.parametrize("case", ADDRESSES, ids=lambda case: case.behaviour)
def test_addresses_and_masks_as_read(tmp_path: Path, case: Address) -> None:
    """An address line (in a stanza without family, so IPv6 values go to the 6 keys)."""
    base = f"iface vmbr1\n\tbridge-ports none\n\t{case.lines}\n"
    answer = _node(tmp_path, base).ok("GET", "/network/vmbr1")
    keys = ("address", "netmask", "cidr", "address6", "netmask6", "cidr6")
    assert {key: answer[key] for key in keys if key in answer} == case.answer


# --- what each interface is taken for --------------------------------------------------------

TYPED = """\
iface bond0 inet manual
	bond-slaves eno2
iface mybond inet manual
	bond-slaves eno3
iface vmbr5 inet manual
iface lan inet manual
	bridge-ports none
iface eno1.5 inet manual
iface vlan7 inet manual
	vlan-raw-device eno2
iface vlan0 inet manual
	vlan-raw-device eno2
iface mgmt inet manual
	vlan-raw-device eno2
	vlan-id 60
iface eth7 inet manual
iface lan0 inet manual
iface eno1:1 inet static
	address 10.9.0.1/24
iface vx1 inet manual
	vxlan-id 100
iface dum0 inet manual
	link-type dummy
iface vmbr7.5 inet manual
"""

# name: (type, exists, vlan-raw-device, vlan-id); None where the answer has no such key.
TYPES: dict[str, tuple[str | None, int | None, str | None, str | None]] = {
    "bond0": ("bond", None, None, None),  # bondN is a bond
    "mybond": ("unknown", None, None, None),  # ... and no other name
    "vmbr5": ("unknown", None, None, None),  # a vmbrN without bridge-ports is no bridge
    "lan": ("bridge", None, None, None),  # bridge-ports (none included) makes a bridge
    "eno1.5": ("vlan", 1, "eno1", "5"),  # X.N: parent and id from the name
    "vlan7": ("vlan", 1, "eno2", "7"),  # vlanN with a raw device: the id from the name
    "vlan0": ("vlan", 1, "eno2", None),  # ... but id 0 is no id
    "mgmt": ("vlan", 1, "eno2", "60"),  # any name with a raw device
    "eth7": ("eth", None, None, None),  # named like a NIC, though ip link lacks it
    "lan0": ("eth", 1, None, None),  # a NIC ip link lists, whatever its name
    "eno1": ("eth", 1, None, None),
    "eno2": ("eth", 1, None, None),
    "eno3": ("eth", 1, None, None),
    "eno1:1": ("alias", 1, None, None),  # exists when its parent does
    "vx1": ("vxlan", None, None, None),
    "dum0": ("dummy", None, None, None),
    "vmbr7.5": ("vlan", 0, "vmbr7", "5"),  # a parent the file lacks: missing ...
    "vmbr7": (None, 0, None, None),  # ... and listed with `exists: 0` alone
}


def test_types_are_inferred_from_names_and_options(tmp_path: Path) -> None:
    """Every interface of a file as GET /nodes/{node}/network lists it (ip link: eno1-3, lan0)."""
    listed = _node(tmp_path, TYPED, (*NICS, "lan0")).ok("GET", "/network")
    keys = ("type", "exists", "vlan-raw-device", "vlan-id")
    assert {item["iface"]: tuple(item.get(key) for key in keys) for item in listed} == TYPES
    assert next(item for item in listed if item["iface"] == "vmbr7") == {
        "iface": "vmbr7",
        "exists": 0,
    }


# --- what the next write leaves in interfaces.new ----------------------------------------------


@dataclass(frozen=True)
class Written:
    """A file on the node and interfaces.new after POST of a new bridge vmbr99 (less the header)."""

    behaviour: str
    base: str
    written: str


LOOPBACK = "auto lo\niface lo inet loopback\n\n"
MANUAL = "iface {}inet manual\n\n"
NEW_BRIDGE = "iface vmbr99 inet manual\n\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n\n"
UNUSED_NICS = "iface eno1 inet manual\n\niface eno2 inet manual\n\niface eno3 inet manual\n\n"
VMBR0 = (
    "auto vmbr0\niface vmbr0 inet static\n\taddress 192.168.10.2/24\n\tgateway 192.168.10.1\n"
    "\tbridge-ports eno1\n\tbridge-stp off\n\tbridge-fd 0\n\n"
)
SOURCE = "source /etc/network/interfaces.d/*"

WRITES = [
    Written(
        "crlf-kept-only-on-top-level-lines-read-outside-a-stanza",
        (LOOPBACK + "iface eno1 inet manual\n\n" + VMBR0 + SOURCE + "\n").replace("\n", "\r\n"),
        LOOPBACK + UNUSED_NICS + VMBR0 + NEW_BRIDGE + SOURCE + "\r\n",
    ),
    Written(
        "a-line-that-ends-a-stanza-is-kept-stripped",  # the source line right after lo's stanza
        (LOOPBACK.rstrip("\n") + "\n" + SOURCE + "\n").replace("\n", "\r\n"),
        LOOPBACK + UNUSED_NICS + NEW_BRIDGE + SOURCE + "\n",
    ),
    Written(
        "allow-hotplug-is-written-as-auto",
        "allow-hotplug eno2\niface eno2 inet dhcp\n",
        LOOPBACK
        + "auto eno2\niface eno2 inet dhcp\n\n"
        + "iface eno1 inet manual\n\niface eno3 inet manual\n\n"
        + NEW_BRIDGE,
    ),
    Written(
        "source-and-source-directory-stay-where-they-were",
        "source /etc/network/config1\n\niface eno1 inet manual\n\n"
        "source-directory /etc/network/interfaces.d\n\niface eno2 inet manual\n",
        LOOPBACK
        + "source /etc/network/config1\n\niface eno1 inet manual\n\n"
        + "source-directory /etc/network/interfaces.d\n\n"
        + "iface eno2 inet manual\n\niface eno3 inet manual\n\n"
        + NEW_BRIDGE,
    ),
    Written(
        "a-duplicated-stanza-is-written-twice-with-the-last-options",
        "iface eno2 inet manual\n\tmtu 9000\n\tpost-up echo one\n# one\n\n"
        "iface eno2 inet manual\n\tpost-up echo two\n",
        LOOPBACK
        + "iface eno2 inet manual\n\tmtu 9000\n\tpost-up echo two\n# one\n\n"
        + "iface eno2 inet manual\n\tpost-up echo two\n# one\n\n"
        + "iface eno1 inet manual\n\niface eno3 inet manual\n\n"
        + NEW_BRIDGE,
    ),
    Written(
        "comments-go-to-the-inet-block-trailing-empty-ones-are-lost",
        "iface vmbr1 inet manual\n\tbridge-ports none\n#first\n#\n#  indented\n#\n#\n"
        "iface vmbr1 inet6 manual\n#six\n#\n",
        LOOPBACK
        + UNUSED_NICS
        + "iface vmbr1 inet manual\n\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n"
        + "#first\n#\n#  indented\n#\n#\n#six\n\n"
        + "iface vmbr1 inet6 manual\n\n"
        + NEW_BRIDGE,
    ),
    Written(
        "a-stanza-without-family-is-written-without-one",
        "auto vmbr1\niface vmbr1\n\taddress 10.1.0.1/24\n\taddress fd00:1::1/64\n"
        "\tgateway 10.1.0.254\n\tgateway fd00:1::ff\n\tbridge-ports none\n# lab\n",
        LOOPBACK
        + UNUSED_NICS
        + "auto vmbr1\niface vmbr1\n\taddress 10.1.0.1/24\n\tgateway 10.1.0.254\n"
        + "\taddress fd00:1::1/64\n\tgateway fd00:1::ff\n"
        + "\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n# lab\n\n"
        + NEW_BRIDGE,
    ),
    Written(
        "ovs-members-started-by-their-bridge-and-their-options-rebuilt",
        "auto vmbr2\niface vmbr2 inet manual\n\tovs_type OVSBridge\n\tovs_ports bond0 int1\n\n"
        "iface bond0 inet manual\n\tovs_type OVSBond\n\tovs_bonds eno2 eno3\n"
        "\tovs_bridge vmbr2\n\tovs_options bond_mode=balance-slb lacp=active tag=10\n\n"
        "iface int1 inet static\n\taddress 10.5.0.1/24\n\tovs_type OVSIntPort\n"
        "\tovs_bridge vmbr2\n\tovs_options tag=5\n",
        LOOPBACK
        + "iface eno1 inet manual\n\nauto eno2\niface eno2 inet manual\n\n"
        + "auto eno3\niface eno3 inet manual\n\n"
        + "auto int1\niface int1 inet static\n\taddress 10.5.0.1/24\n\tovs_type OVSIntPort\n"
        + "\tovs_bridge vmbr2\n\tovs_options tag=5\n\n"
        + "auto bond0\niface bond0 inet manual\n\tovs_bonds eno2 eno3\n\tovs_type OVSBond\n"
        + "\tovs_bridge vmbr2\n\tovs_options tag=10 lacp=active bond_mode=balance-slb\n\n"
        + "auto vmbr2\niface vmbr2 inet manual\n\tovs_type OVSBridge\n\tovs_ports bond0 int1\n\n"
        + NEW_BRIDGE,
    ),
    Written(
        "lines-cut-off-by-a-valueless-line-go-to-the-end",
        "iface vmbr1 inet manual\n\tbridge-ports none\n\tup\n\tmtu 9000\n",
        LOOPBACK
        + UNUSED_NICS
        + "iface vmbr1 inet manual\n\tbridge-ports none\n\tbridge-stp off\n\tbridge-fd 0\n\n"
        + NEW_BRIDGE
        + "\tup\n\tmtu 9000\n",
    ),
    Written(
        "an-unknown-type-keeps-its-file-position",  # unknown types compare by position alone
        "iface foo inet manual\n\nauto bond0\niface bond0 inet manual\n\tbond-slaves eno2\n",
        LOOPBACK
        + "iface foo inet manual\n\n"
        + "iface eno1 inet manual\n\nauto eno2\niface eno2 inet manual\n\n"
        + "iface eno3 inet manual\n\n"
        + "auto bond0\niface bond0 inet manual\n\tbond-slaves eno2\n\tbond-miimon 100\n"
        + "\tbond-mode balance-rr\n\n"
        + NEW_BRIDGE,
    ),
]


@pytest.mark.parametrize("case", WRITES, ids=lambda case: case.behaviour)
def test_what_the_next_write_prints(tmp_path: Path, case: Written) -> None:
    """interfaces.new after one API write (POST vmbr99) on a node whose live file is the case's."""
    api = _node(tmp_path, case.base)
    api.ok("POST", "/network", iface="vmbr99", type="bridge")
    text = api.file(INTERFACES_NEW) or ""
    assert text.partition(HEADER_END)[2] == case.written


def test_a_stanza_read_before_on_its_own_still_adds_to_an_earlier_one(tmp_path: Path) -> None:
    """Each paragraph's reading is kept by its text (the reader's speed on big files); met
    again after another stanza of the same interface, it still adds its ports to that
    stanza's, as pve-common's reader does, and (without a family) its comments and options."""
    alone = "iface vmbr1\n\tbridge-ports eno2\n\tpost-up true\n#second\n"
    first = "iface vmbr1\n\tbridge-ports eno1\n\tpost-up false\n#first\n\n"
    answer = _node(tmp_path / "alone", alone).ok("GET", "/network/vmbr1")
    assert (answer["bridge_ports"], answer["options"], answer["comments"]) == (
        "eno2",
        ["post-up true"],
        "second\n",
    )
    answer = _node(tmp_path / "twice", first + alone).ok("GET", "/network/vmbr1")
    assert (answer["bridge_ports"], answer["options"], answer["comments"]) == (
        "eno1 eno2",
        ["post-up false", "post-up true"],
        "first\nsecond\n",
    )


def test_an_interface_read_before_follows_its_parent_where_it_is_read_again(
    tmp_path: Path,
) -> None:
    """An interface read from paragraphs of its own is completed as before only where what
    completing it looked at is as before: the same VLAN paragraph on a node whose NIC is its
    parent, then on one without that NIC (the parent listed as missing, ``exists: 0``)."""
    vlan = "auto vlan5\niface vlan5 inet manual\n\tvlan-raw-device eno1\n"
    answer = _node(tmp_path / "nic", vlan).ok("GET", "/network/vlan5")
    assert (answer["type"], answer["exists"]) == ("vlan", 1)
    listed = _node(tmp_path / "none", vlan, ("eno2",)).ok("GET", "/network")
    assert {item["iface"]: item.get("exists") for item in listed} == {
        "vlan5": 0,
        "eno1": 0,
        "eno2": 1,
    }
