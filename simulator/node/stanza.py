"""How Proxmox's writer prints one interface (pve-common ``__interface_to_string``).

An interface is printed as one ``iface`` block per entry of ``families``: for
``[None]`` a block without family or method (ifupdown2's style), carrying the
IPv4 and the IPv6 address lines; for ``["inet", "inet6"]`` one block each,
the ``inet6`` one only if it has a method. Each block holds, TAB-indented:

* ``address A/N`` (the mask folded in) and ``gateway`` of its family;
* in the first block only, the lines of the interface's type, in the writer's
  fixed order and with its defaults (``bridge-ports none``, ``bridge-stp off``,
  ``bridge-fd 0``, ``bond-miimon 100``, ``bond-mode balance-rr``,
  ``bridge-vids 2-4094`` for a VLAN-aware bridge...), then every other key of
  the interface with a true value, sorted, as ``key value`` (``vlan-id 60``,
  ``bridge_stp off`` on a non-bridge);
* the kept ``options`` lines of its family, as read;
* the family's comments, one ``#line`` each (trailing empty lines dropped);

and ends with a blank line.
"""

from __future__ import annotations

import re
from typing import Any

from simulator.errors import die
from simulator.node.config import Stanza, cidr_of
from simulator.node.ovs import put_ovs_option
from simulator.perl import numeric, text, truthy

_LIST_SEPARATORS = re.compile(r"[;,\s]+", re.ASCII)
_OVS_BOND_MODES = ("active-backup", "balance-slb", "lacp-balance-slb", "lacp-balance-tcp")

# Keys no block prints as a plain "key value" line: each family's own, and the bookkeeping.
_NEVER_PLAIN = frozenset(
    {
        key + suffix
        for key in ("method", "address", "netmask", "gateway", "broadcast", "options", "comments")
        for suffix in ("", "6")
    }
    | {"type", "priority", "active", "exists", "autostart", "families", "uplink-id"}
)

# The lines one type's printer writes: (lines, keys it has written or decided against).
TypeLines = tuple[list[str], set[str]]


def _address_lines(stanza: Stanza, suffix: str) -> list[str]:
    lines = []
    if truthy(address := stanza.get("address" + suffix)):
        address = text(address)
        lines.append(f"address {cidr_of(address, stanza.get('netmask' + suffix)) or address}")
    if truthy(gateway := stanza.get("gateway" + suffix)):
        lines.append(f"gateway {gateway}")
    return lines


def _mtu(stanza: Stanza, key: str = "mtu") -> list[str]:
    return [f"{key} {stanza['mtu']}"] if truthy(stanza.get("mtu")) else []


def _bridge(stanza: Stanza) -> TypeLines:
    ports = stanza.get("bridge_ports")
    lines = [f"bridge-ports {_LIST_SEPARATORS.sub(' ', text(ports if truthy(ports) else 'none'))}"]
    stp = stanza.get("bridge_stp")
    stp = "off" if stp is None else stp
    lines.append(f"bridge-stp {stp}")
    fd = stanza.get("bridge_fd")
    if fd is not None:
        # with STP on, the forward delay must be 2..30; anything else is left out (with a warning)
        if stp == "off" or 2 <= numeric(fd) <= 30:
            lines.append(f"bridge-fd {text(fd)}")
    elif stp == "off":
        lines.append("bridge-fd 0")
    if stanza.get("bridge_vlan_aware") is not None:  # defined, so a 0 still writes "yes"
        vids = stanza.get("bridge_vids")
        lines += ["bridge-vlan-aware yes", f"bridge-vids {vids if truthy(vids) else '2-4094'}"]
    done = {"bridge_ports", "bridge_stp", "bridge_fd", "bridge_vlan_aware", "bridge_vids"}
    return [*lines, *_mtu(stanza)], {*done, "mtu", "bridge-disable-mac-learning"}


def _bond(stanza: Stanza) -> TypeLines:
    if stanza.get("slaves") is not None:
        stanza["slaves"] = _LIST_SEPARATORS.sub(" ", text(stanza["slaves"]))
    slaves = stanza.get("slaves")
    mode, miimon = stanza.get("bond_mode"), stanza.get("bond_miimon")
    lines = [
        f"bond-slaves {slaves if truthy(slaves) else 'none'}",
        f"bond-miimon {100 if miimon is None else text(miimon)}",
        f"bond-mode {'balance-rr' if mode is None else mode}",
    ]
    policy, primary = stanza.get("bond_xmit_hash_policy"), stanza.get("bond-primary")
    if truthy(mode) and truthy(policy) and mode in ("balance-xor", "802.3ad"):
        lines.append(f"bond-xmit-hash-policy {policy}")
    if truthy(mode) and mode == "active-backup" and truthy(primary):
        lines.append(f"bond-primary {primary}")
    done = {"slaves", "bond_miimon", "bond_mode", "bond_xmit_hash_policy", "bond-primary"}
    return [*lines, *_mtu(stanza)], {*done, "mtu"}


def _vlan(name: str, stanza: Stanza) -> TypeLines:
    protocol = stanza.get("vlan-protocol")
    if truthy(protocol) and protocol not in ("802.1ad", "802.1q"):
        raise die(f"{name}: wrong vlan-protocol {protocol}")
    return [], set()


def _vxlan(stanza: Stanza) -> TypeLines:
    keys = ("vxlan-id", "vxlan-svcnodeip", "vxlan-physdev", "vxlan-local-tunnelip")
    lines = [f"{key} {text(stanza[key])}" for key in keys if stanza.get(key) is not None]
    done = set(keys)
    if isinstance(remotes := stanza.get("vxlan-remoteip"), list):  # a reference: always true
        lines += [f"vxlan-remoteip {remote}" for remote in remotes]
        done.add("vxlan-remoteip")
    return [*lines, *_mtu(stanza)], {*done, "mtu"}


def _ovs_bridge(stanza: Stanza) -> TypeLines:
    ports = stanza.get("ovs_ports")
    lines = ["ovs_type OVSBridge", *([f"ovs_ports {ports}"] if truthy(ports) else [])]
    return [*lines, *_mtu(stanza, "ovs_mtu")], {"ovs_type", "ovs_ports", "mtu"}


def _ovs_bond_mode(stanza: Stanza) -> None:
    """Put an OVS bond's mode back into ``ovs_options`` (``lacp-`` modes as ``lacp=active``)."""
    mode = stanza.get("bond_mode")
    if not truthy(mode):
        mode = stanza["bond_mode"] = "active-backup"
    if mode not in _OVS_BOND_MODES:
        raise die(f"OVS does not support bond mode '{mode}")
    lacp = mode.startswith("lacp-")
    put_ovs_option(stanza, "lacp", "active" if lacp else None)
    put_ovs_option(stanza, "bond_mode", mode.removeprefix("lacp-"))


def _ovs_member(stanza: Stanza) -> TypeLines:
    """An OVS port, internal port or bond: started by its bridge, not by ``auto`` of its own."""
    stanza["autostart"] = 0
    if stanza.get("ovs_tag") is not None:
        put_ovs_option(stanza, "tag", stanza["ovs_tag"])
    lines: list[str] = []
    done = {"ovs_tag", "ovs_type", "mtu"}
    if stanza["type"] == "OVSBond":
        _ovs_bond_mode(stanza)
        if truthy(bonds := stanza.get("ovs_bonds")):
            lines.append(f"ovs_bonds {bonds}")
        done |= {"bond_mode", "ovs_bonds"}
    lines.append(f"ovs_type {stanza['type']}")
    if truthy(bridge := stanza.get("ovs_bridge")):
        lines.append(f"ovs_bridge {bridge}")
        done.add("ovs_bridge")
    return [*lines, *_mtu(stanza, "ovs_mtu")], done


def _type_lines(name: str, stanza: Stanza) -> TypeLines:
    kind = stanza.get("type")
    if kind == "bridge":
        return _bridge(stanza)
    if kind == "bond":
        return _bond(stanza)
    if kind == "vlan":
        return _vlan(name, stanza)
    if kind == "vxlan":
        return _vxlan(stanza)
    if kind == "OVSBridge":
        return _ovs_bridge(stanza)
    if kind in ("OVSPort", "OVSIntPort", "OVSBond"):
        return _ovs_member(stanza)
    return [], set()


def _settings_lines(name: str, stanza: Stanza) -> tuple[list[str], bool]:
    """The first block's lines after the address: the type's, then every other true key.

    Also whether the block needs an ``auto`` line in front: an OVS member
    written with its ``ovs_bridge`` is started with it (ifupdown2).
    """
    lines, done = _type_lines(name, stanza)
    started_by_bridge = "ovs_bridge" in done
    done |= _NEVER_PLAIN
    plain = [key for key in sorted(stanza) if key not in done and truthy(stanza[key])]
    return lines + [f"{key} {text(stanza[key])}" for key in plain], started_by_bridge


def _extra_lines(stanza: Stanza, suffix: str) -> list[str]:
    """A family's kept option lines, then its comments as ``#`` lines."""
    options: list[Any] = stanza.get("options" + suffix) or []
    comments = stanza.get("comments" + suffix)
    comment_lines = text(comments).split("\n") if truthy(comments) else []
    while comment_lines and not comment_lines[-1]:
        comment_lines.pop()
    return [f"\t{option}" for option in options] + [f"#{line}" for line in comment_lines]


def family_block(name: str, stanza: Stanza, family: str | None, first: bool) -> str:
    """One ``iface NAME [FAMILY METHOD]`` block and its blank line ('' for a family without
    a method). Writes the writer's changes back into ``stanza`` (bond slaves, OVS options)."""
    suffixes = ["", "6"] if family is None else [family.removeprefix("inet")]
    head = f"iface {name}"
    if family is not None:
        method = stanza.get("method" + suffixes[0])
        if not truthy(method):
            return ""
        head += f" {family} {method}"
    body = [line for suffix in suffixes for line in _address_lines(stanza, suffix)]
    auto = ""
    if first:
        settings, started_by_bridge = _settings_lines(name, stanza)
        body += settings
        auto = f"auto {name}\n" if started_by_bridge else ""
    extra = [line for suffix in suffixes for line in _extra_lines(stanza, suffix)]
    return (
        auto
        + head
        + "\n"
        + "".join(f"\t{line}\n" for line in body)
        + "".join(f"{line}\n" for line in extra)
        + "\n"
    )
