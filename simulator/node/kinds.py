"""What Proxmox's reader works out for each interface once the file is read.

The file does not say what an interface is; Proxmox infers it on every read,
in this order, from the interface's name and options:

1. ``bridge-ports`` (even ``none``) makes a bridge, with ``bridge_stp off`` and
   ``bridge_fd 0`` filled in when missing (``bridge_fd`` only with STP off);
   ``ovs_type OVSBridge`` an OVS bridge.
2. A name ``bondN`` (and only that name) makes a bond, or an OVS bond with
   ``ovs_type OVSBond`` (its ``bond_mode``, ``lacp`` and ``tag`` are taken out of
   ``ovs_options``).
3. ``NAME:N`` is an alias of NAME; ``NAME.N`` a VLAN on NAME with id N (a
   ``vlan-raw-device`` option wins over the name); any other name with a
   ``vlan-raw-device`` is a VLAN too, ``vlanN`` taking its id from the name.
   These exist when their parent does; a parent the file lacks is recorded as
   ``{exists: 0}`` and nothing more.
4. A NIC the node has (``ip link``), or a name like one (``ethN``, ``en*``,
   ``ib*``, ``nicN``, ``ifN``), is ``eth`` (``OVSPort`` with that ``ovs_type``).
5. ``lo`` is the loopback; then ``vxlan-id`` makes a VXLAN, ``ovs_type
   OVSIntPort`` an OVS internal port, ``link-type dummy`` a dummy.
6. Anything else is ``unknown``: a bond called ``mybond`` reads back as such.

Then addresses are turned into ``cidr``/``cidr6`` (an address without a usable
mask is a host route, ``/32`` or ``/128``), a missing method becomes ``manual``,
``inet6`` comments are appended to the interface's comments, and an interface
without a stanza of its own gets the family ``inet``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from simulator.node.config import Stanza, cidr_of
from simulator.node.ovs import take_ovs_option
from simulator.perl import text, truthy

PHYSICAL_NIC = re.compile(r"(?:eth\d+|en[^:.]+|ib[^:.]+|(?:nic|if)\d+)", re.ASCII)
_BOND = re.compile(r"bond\d+", re.ASCII)
_ALIAS = re.compile(r"(\S+):\d+", re.ASCII)
_DOTTED_VLAN = re.compile(r"(\S+)\.(\d+)", re.ASCII)
_NUMBERED_VLAN = re.compile(r"vlan(\d+)", re.ASCII)
_HAS_PREFIX = re.compile(r"/\d+\Z", re.ASCII)


ParentExists = Callable[[str], object]
"""Whether a VLAN's or alias's parent exists (``exists_as_parent`` on the interfaces read)."""


def exists_as_parent(ifaces: dict[str, Stanza], parent: str) -> object:
    """Whether a VLAN's or alias's parent exists; a parent the file lacks is added as missing."""
    if parent in ifaces:
        return ifaces[parent].get("exists")
    ifaces[parent] = {"exists": 0}
    return 0


def _take_ovs_tag(stanza: Stanza) -> None:
    tag = take_ovs_option(stanza, "tag")
    if tag is not None:
        stanza["ovs_tag"] = tag


def _ovs_bond(stanza: Stanza) -> None:
    """An OVS bond's mode as the API names it, from ``bond_mode=`` and ``lacp=`` in its options."""
    stanza["type"] = "OVSBond"
    mode = take_ovs_option(stanza, "bond_mode")
    lacp = take_ovs_option(stanza, "lacp")
    if truthy(lacp) and lacp == "active" and mode == "balance-slb":
        mode = "lacp-balance-slb"
    if mode == "balance-tcp":
        mode = "lacp-balance-tcp"
    stanza["bond_mode"] = mode
    _take_ovs_tag(stanza)


def _bridge(stanza: Stanza) -> None:
    stanza.pop("is_empty_bridge", None)
    stanza["type"] = "bridge"
    if stanza.get("bridge_stp") is None:
        stanza["bridge_stp"] = "off"
    if stanza.get("bridge_fd") is None and stanza["bridge_stp"] == "off":
        stanza["bridge_fd"] = 0


def _vlan(name: str, stanza: Stanza, parent_exists: ParentExists) -> None:
    stanza["type"] = "vlan"
    if dotted := _DOTTED_VLAN.fullmatch(name):
        if not truthy(stanza.get("vlan-raw-device")):
            stanza["vlan-raw-device"] = dotted[1]
        if truthy(dotted[2]):
            stanza["vlan-id"] = dotted[2]
    elif (numbered := _NUMBERED_VLAN.fullmatch(name)) and truthy(numbered[1]):
        stanza["vlan-id"] = numbered[1]
    stanza["exists"] = parent_exists(stanza["vlan-raw-device"])


def _infer_type(
    name: str, stanza: Stanza, nics: Collection[str], parent_exists: ParentExists
) -> None:
    """Set ``type`` (and what comes with it) by Proxmox's rules, first match wins."""
    stanza["type"] = "unknown"
    ovs_type = stanza.get("ovs_type")
    if stanza.get("bridge_ports") is not None or truthy(stanza.get("is_empty_bridge")):
        _bridge(stanza)
    elif truthy(ovs_type) and ovs_type == "OVSBridge":
        stanza["type"] = "OVSBridge"
    elif _BOND.fullmatch(name):
        if not truthy(ovs_type):
            stanza["type"] = "bond"
        elif ovs_type == "OVSBond":
            _ovs_bond(stanza)
    elif alias := _ALIAS.fullmatch(name):
        stanza["type"] = "alias"
        stanza["exists"] = parent_exists(alias[1])
    elif _DOTTED_VLAN.fullmatch(name) or truthy(stanza.get("vlan-raw-device")):
        _vlan(name, stanza, parent_exists)
    elif name in nics or PHYSICAL_NIC.fullmatch(name):
        if not truthy(ovs_type):
            stanza["type"] = "eth"
        elif ovs_type == "OVSPort":
            stanza["type"] = "OVSPort"
            _take_ovs_tag(stanza)
    elif name == "lo":
        stanza["type"] = "loopback"
    elif truthy(stanza.get("vxlan-id")):
        stanza["type"] = "vxlan"
    elif ovs_type is not None:
        if ovs_type == "OVSIntPort":
            stanza["type"] = "OVSIntPort"
            _take_ovs_tag(stanza)
    elif stanza.get("link-type") == "dummy":
        stanza["type"] = "dummy"


def _map_cidr(stanza: Stanza, suffix: str, host_bits: int) -> None:
    """``cidr``/``cidr6`` from the address (and mask); an IPv4 CIDR address also sets the mask.

    An ``address`` written as ``A/N`` is split into address ``A`` and netmask
    ``N``; with a separate dotted IPv4 netmask, the netmask becomes ``N`` too.
    """
    if not truthy(stanza.get("address" + suffix)):
        return
    address = text(stanza["address" + suffix])
    if _HAS_PREFIX.search(address):
        stanza["cidr" + suffix] = address
        stanza["address" + suffix], _, stanza["netmask" + suffix] = address.rpartition("/")
    elif cidr := cidr_of(address, stanza.get("netmask" + suffix)):
        stanza["cidr" + suffix] = cidr
        if not suffix:
            stanza["netmask"] = cidr.rpartition("/")[2]
    else:
        stanza["cidr" + suffix] = f"{address}/{host_bits}"


def complete_one(
    name: str, stanza: Stanza, nics: Collection[str], parent_exists: ParentExists
) -> None:
    """Complete one interface read from the file: what it is, its ``cidr``, methods, comments
    and families. The reader completes every interface so, in name order, the names taken
    before the first one is completed: a parent added on the way (``{exists: 0}``) is not
    completed itself."""
    _infer_type(name, stanza, nics, parent_exists)
    _map_cidr(stanza, "", 32)
    _map_cidr(stanza, "6", 128)
    for method in ("method", "method6"):
        if not truthy(stanza.get(method)):
            stanza[method] = "manual"
    comments6 = stanza.pop("comments6", None)
    if truthy(comments6):
        stanza["comments"] = (stanza.get("comments") or "") + comments6
    if not truthy(stanza.get("families")):
        stanza["families"] = ["inet"]
