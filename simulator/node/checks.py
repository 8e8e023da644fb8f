"""The consistency checks Proxmox's interfaces writer runs before it writes a file.

Every POST, PUT and DELETE on ``/nodes/{node}/network`` re-writes the whole
file, and the writer refuses a config that is inconsistent as a whole: a port
used twice, a bond slave that is not a NIC or bond, a VLAN without its parent,
an MTU lower than a child's. Those refusals are plain ``die`` in Perl, so the
API answers 500 with the message and ``interfaces.new`` stays as it was.
Messages are Proxmox's, verbatim. Written from Proxmox's behaviour, never
from the provider's validation.

A write changes one interface of many: a config a few interfaces away from
the last one that passed is checked again only where it changed and where a
check reads what changed (``check_config``); every check runs where that
cannot tell, and for any refusal, so the message is the writer's first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from simulator.errors import ApiError, die
from simulator.node.config import NetworkConfig, Stanza, origin, ports_of, same_values

_WRITER_PM = "/usr/share/perl5/PVE/Network/Interfaces.pm"
_LEADING_DIGITS = re.compile(r"\s*(\d+)")
_DOTTED_VLAN = re.compile(r"(\S+)\.(\d+)")
_NUMBERED_VLAN = re.compile(r"vlan(\d+)")
_VLAN_PORT = re.compile(r"(\S+)\.(\d+)$")
_CHECKED_TYPES = {
    "OVSBridge": "ovs",
    "OVSBond": "ovs",
    "bond": "bond",
    "vlan": "vlan",
    "bridge": "bridge",
}
"""The check that looks at an interface of each type (``_concerned``)."""
_VXLAN_KEYS = frozenset(
    ("vxlan-id", "vxlan-svcnodeip", "vxlan-remoteip", "vxlan-local-tunnelip", "vxlan-physdev")
)
_BRIDGE_PORT_OPTIONS = (
    "bridge-learning",
    "bridge-arp-nd-suppress",
    "bridge-unicast-flood",
    "bridge-multicast-flood",
    "bridge-access",
)


def _perl_die(message: str, line: int) -> ApiError:
    """A die without a trailing newline: Perl appends where it happened."""
    return die(message, f"{_WRITER_PM} line {line}")


def _number(value: object) -> int:
    match = _LEADING_DIGITS.match(str(value or ""))
    return int(match[1]) if match else 0


def _check_mtu(ifaces: dict[str, Stanza], parent: str, child: str) -> None:
    child_mtu = _number(ifaces.get(child, {}).get("mtu"))
    if not child_mtu:
        return
    parent_data = ifaces.get(parent, {})
    parent_mtu = _number(parent_data.get("mtu"))
    if parent_data.get("type") == "bond" and not parent_mtu:
        parent_mtu = child_mtu
    parent_mtu = parent_mtu or 1500
    if parent_mtu < child_mtu:
        raise die(
            f"interface '{parent}' - mtu {parent_mtu} is lower than '{child}' - mtu {child_mtu}"
        )


def _check_ports_unique(ifaces: dict[str, Stanza], names: list[str]) -> dict[str, str]:
    """Each port listed by one interface only; returns the interface listing each port."""
    used_by: dict[str, str] = {}
    for name in names:
        for port in ports_of(ifaces[name]):
            if used_by.get(port, name) != name:
                raise die(f"port '{port}' is already used on interface '{used_by[port]}'")
            used_by[port] = name
    return used_by


def _check_ovs(ifaces: dict[str, Stanza], names: list[str]) -> None:
    for name in names:
        stanza = ifaces[name]
        if stanza.get("type") == "OVSBridge":
            for port in str(stanza.get("ovs_ports") or "").split():
                member = ifaces.get(port)
                if member is None:
                    raise die(f"OVS bridge '{name}' - unable to find port '{port}'")
                if member.get("type") not in ("eth", "OVSBond", "OVSPort", "OVSIntPort"):
                    raise die(f"interface '{port}' is not defined as OVS port/bond")
                _check_mtu(ifaces, name, port)
        if stanza.get("type") == "OVSBond":
            for port in str(stanza.get("ovs_bonds") or "").split():
                kind = ifaces.get(port, {}).get("type") or ""
                if kind != "eth":
                    raise die(
                        f"OVS bond '{name}' - wrong interface type on slave '{port}' "
                        f"('{kind}' != 'eth')"
                    )
                _check_mtu(ifaces, name, port)


def _check_bonds(ifaces: dict[str, Stanza], names: list[str]) -> None:
    for name in names:
        stanza = ifaces[name]
        if stanza.get("type") != "bond" or not stanza.get("slaves"):
            continue
        slaves = str(stanza["slaves"]).split()
        for slave in slaves:
            # A missing slave is not reported as missing: Perl autovivifies it first.
            kind = ifaces.get(slave, {}).get("type") or ""
            if kind not in ("eth", "bond"):
                raise die(
                    f"bond '{name}' - wrong interface type on slave '{slave}' "
                    f"('{kind}' != 'eth or bond')"
                )
            _check_mtu(ifaces, name, slave)
        primary = stanza.get("bond-primary")
        if primary and primary not in slaves:
            raise _perl_die(f"bond '{name}' - bond-primary interface is not a slave", 908)


def _check_vxlans(ifaces: dict[str, Stanza], names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        stanza = ifaces[name]
        vxlan_id = stanza.get("vxlan-id")
        if stanza.get("type") == "vxlan" and vxlan_id:
            if vxlan_id in seen:
                raise die(
                    f"iface {name} - duplicate vxlan-id {vxlan_id} already used in {seen[vxlan_id]}"
                )
            seen[vxlan_id] = name
        remotes = ("vxlan-svcnodeip", "vxlan-remoteip", "vxlan-local-tunnelip")
        if len([key for key in remotes if stanza.get(key) is not None]) > 1:
            raise die(
                f"iface {name} - vxlan-svcnodeip, vxlan-remoteip and vxlan-localtunnelip "
                "are mutually exclusive"
            )
        if (stanza.get("vxlan-svcnodeip") is None) != (stanza.get("vxlan-physdev") is None):
            raise die(f"iface {name} - vxlan-svcnodeip and vxlan-physdev must be define together")


def _check_vlans(ifaces: dict[str, Stanza], names: list[str]) -> None:
    for name in names:
        stanza = ifaces[name]
        if stanza.get("type") != "vlan":
            continue
        if dotted := _DOTTED_VLAN.fullmatch(name):
            parent, vlan_id = dotted[1], int(dotted[2])
        else:
            if not stanza.get("vlan-raw-device"):
                raise _perl_die("missing vlan-raw-device option", 954)
            parent = stanza["vlan-raw-device"]
            if numbered := _NUMBERED_VLAN.fullmatch(name):
                vlan_id = int(numbered[1])
            else:
                if not stanza.get("vlan-id"):
                    raise _perl_die("missing vlan-id option", 962)
                vlan_id = _number(stanza["vlan-id"])
        if vlan_id > 4094:
            raise die(f"vlan '{name}' - vlan-id {vlan_id} should be <= 4094")
        if parent not in ifaces:
            raise die(f"vlan '{name}' - unable to find parent '{parent}'")
        kind = ifaces[parent].get("type")
        if kind not in ("eth", "bridge", "bond", "vlan"):
            raise die(
                f"vlan '{name}' - wrong interface type on parent '{parent}' "
                f"('{kind or ''}' != 'eth|bond|bridge|vlan' )"
            )
        _check_mtu(ifaces, parent, name)


def _check_uplinks(ifaces: dict[str, Stanza], names: list[str]) -> None:
    seen: dict[str, str] = {}
    for name in names:
        stanza = ifaces[name]
        uplink = stanza.get("uplink-id")
        if not uplink:
            continue
        if stanza.get("type") not in ("eth", "bond"):
            raise die(
                f"iface '{name}' - uplink-id {uplink} is only allowed on physical and "
                "linux bond interfaces"
            )
        if uplink in seen:
            raise die(
                f"iface '{name}' - uplink-id {uplink} is already assigned on '{seen[uplink]}'"
            )
        seen[uplink] = name


def _check_bridges(ifaces: dict[str, Stanza], names: list[str], options: list[str]) -> None:
    with_implicit = dict(ifaces)
    bridge_of: dict[str, str] = {}
    for name in names:
        stanza = ifaces[name]
        if stanza.get("type") != "bridge":
            continue
        for port in str(stanza.get("bridge_ports") or "").split():
            vlan_port = _VLAN_PORT.search(port)
            if vlan_port and port not in with_implicit:
                # ports named X.N are created on the fly as VLANs of X
                with_implicit[port] = {"type": "vlan", "method": "manual", "method6": "manual"}
                parent_mtu = with_implicit.get(vlan_port[1], {}).get("mtu")
                if parent_mtu is not None:
                    with_implicit[port]["mtu"] = parent_mtu
            member = with_implicit.get(port)
            if member is None:
                raise die(f"bridge '{name}' - unable to find bridge port '{port}'")
            static4 = member.get("method") == "static" and member.get("address") != "0.0.0.0"
            static6 = member.get("method6") == "static" and member.get("address6") != "::"
            if static4 or static6:
                raise die(
                    f"iface {port} - ip address can't be set on interface if bridged in {name}"
                )
            _check_mtu(with_implicit, port, name)
            bridge_of[port] = name
    for name in options:
        stanza = ifaces[name]
        for option in _BRIDGE_PORT_OPTIONS:
            if stanza.get(option) and name not in bridge_of:
                raise die(
                    f"iface {name} - {option}: bridge port specific options can be used only "
                    "on interfaces attached to a bridge"
                )
        if stanza.get("bridge-access") and not ifaces.get(bridge_of.get(name, ""), {}).get(
            "bridge_vlan_aware"
        ):
            raise die(
                f"iface {name} - bridge-access option can be only used if interface is in a "
                "vlan aware bridge"
            )


def _concerned(ifaces: dict[str, Stanza], names: list[str]) -> dict[str, list[str]]:
    """The interfaces each check looks at, in name order: the others pass it whatever they
    hold (an interface of another type, or without the options the check is about)."""
    found: dict[str, list[str]] = {check: [] for check in _CHECKED_TYPES.values()}
    found.update({"vxlan": [], "uplink": [], "port options": []})
    for name in names:
        stanza = ifaces[name]
        keys = stanza.keys()
        if check := _CHECKED_TYPES.get(str(stanza.get("type"))):
            found[check].append(name)
        if not keys.isdisjoint(_VXLAN_KEYS):
            found["vxlan"].append(name)
        if "uplink-id" in keys:
            found["uplink"].append(name)
        if not keys.isdisjoint(_BRIDGE_PORT_OPTIONS):
            found["port options"].append(name)
    return found


def _check_all(config: NetworkConfig) -> _Passed | None:
    """Every check on every interface, in the writer's order; what a config that passes is
    remembered by (None for one with OVS, VXLAN, uplink, bridge port options or a bridge port
    made on the fly)."""
    ifaces = config.ifaces
    names = sorted(ifaces)  # the writer checks in name order
    concerned = _concerned(ifaces, names)
    used_by = _check_ports_unique(ifaces, names)
    _check_ovs(ifaces, concerned["ovs"])
    _check_bonds(ifaces, concerned["bond"])
    _check_vxlans(ifaces, concerned["vxlan"])
    _check_vlans(ifaces, concerned["vlan"])
    _check_uplinks(ifaces, concerned["uplink"])
    _check_bridges(ifaces, concerned["bridge"], concerned["port options"])
    if any(concerned[check] for check in _CHECKED_WHOLE) or _ports_made(
        ifaces, concerned["bridge"]
    ):
        return None
    read_by: dict[str, set[str]] = {}
    for name in concerned["bond"] + concerned["vlan"] + concerned["bridge"]:
        for other in _reads(name, ifaces[name]):
            read_by.setdefault(other, set()).add(name)
    frozen = {name: frozenset(readers) for name, readers in read_by.items()}
    return _Passed(
        dict(ifaces), {name: origin(stanza) for name, stanza in ifaces.items()}, used_by, frozen
    )


@dataclass(frozen=True)
class _Passed:
    """A config that passed every check (none of what ``_check_all`` leaves out): its
    stanzas by name and their origins, the interface listing each port, and for each
    interface those whose checks read it (``_reads``)."""

    stanzas: dict[str, Stanza]
    origins: dict[str, Stanza]
    """The ``config.origin`` of each stanza."""
    used_by: dict[str, str]
    read_by: dict[str, frozenset[str]]


_CHECKED_WHOLE = ("ovs", "vxlan", "uplink", "port options")
"""Checks that look across the whole config in ways ``_still_passes`` does not follow."""
_UNCHECKED = frozenset(("priority", "exists", "active"))
"""Keys no check reads."""
_FEW = 64
"""Changed interfaces beyond which every check runs again."""
_LAST: list[_Passed] = []
"""The last config that passed (``check_config``), replaced whole: never changed in place."""


def _reads(name: str, stanza: Stanza) -> set[str]:
    """The other interfaces the checks of a bond, VLAN or bridge read (besides itself)."""
    kind = stanza.get("type")
    if kind == "bond":
        return set(str(stanza.get("slaves") or "").split())
    if kind == "vlan":
        dotted = _DOTTED_VLAN.fullmatch(name)
        return {dotted[1] if dotted else str(stanza.get("vlan-raw-device"))}
    if kind == "bridge":
        ports = set(str(stanza.get("bridge_ports") or "").split())
        return ports | {vlan[1] for port in ports if (vlan := _VLAN_PORT.search(port))}
    return set()


def _ports_made(ifaces: dict[str, Stanza], bridges: list[str]) -> bool:
    """Whether a bridge has a port the file lacks: the writer makes ``X.N`` on the fly, and
    bridges then depend on each other's (``_check_bridges``)."""
    return any(
        port not in ifaces
        for name in bridges
        for port in str(ifaces[name].get("bridge_ports") or "").split()
    )


def _changed(
    passed: _Passed, ifaces: dict[str, Stanza]
) -> tuple[list[str], dict[str, Stanza]] | None:
    """The interfaces added, changed or removed since the config that passed, and the origin
    of each interface (``config.origin``); None if many changed."""
    before, origins = passed.stanzas, passed.origins
    changed = []
    now: dict[str, Stanza] = {}
    for name, stanza in ifaces.items():
        old = before.get(name)
        if old is stanza:  # most: asked first, for speed
            now[name] = origins[name]
            continue
        first = now[name] = origin(stanza)
        if old is None or (first is not origins[name] and not same_values(stanza, old, _UNCHECKED)):
            changed.append(name)
            if len(changed) > _FEW:
                return None
    if len(ifaces) - len([name for name in changed if name not in before]) < len(before):
        changed += [name for name in before if name not in ifaces]  # removed
    return changed, now


def _still_passes(
    passed: _Passed, ifaces: dict[str, Stanza], changed: list[str], origins: dict[str, Stanza]
) -> _Passed | None:
    """The config as remembered if it passes every check, judged by checking again only the
    interfaces changed and those whose checks read one; None where that cannot tell.

    An interface's checks read its own stanza and those ``_reads`` names; an
    unchanged interface reading no changed one passes as it passed. Ports stay
    unique where the changed interfaces' ports are no other's.
    """
    before = passed.stanzas
    affected = set(changed).union(*(passed.read_by.get(name, ()) for name in changed))
    concerned = _concerned(ifaces, sorted(name for name in affected if name in ifaces))
    if any(concerned[check] for check in _CHECKED_WHOLE):
        return None
    if _ports_made(ifaces, concerned["bridge"]):
        return None
    used_by = dict(passed.used_by)
    for name in changed:
        for port in ports_of(before[name]) if name in before else ():
            if used_by.get(port) == name:
                del used_by[port]
    for name in sorted(changed):
        for port in ports_of(ifaces[name]) if name in ifaces else ():
            if used_by.get(port, name) != name:
                return None
            used_by[port] = name
    try:
        _check_bonds(ifaces, concerned["bond"])
        _check_vlans(ifaces, concerned["vlan"])
        _check_bridges(ifaces, concerned["bridge"], [])
    except ApiError:
        return None
    read_by = dict(passed.read_by)
    for name in changed:
        old = _reads(name, before[name]) if name in before else set()
        new = _reads(name, ifaces[name]) if name in ifaces else set()
        for other in old - new:
            read_by[other] = read_by[other] - {name}
        for other in new - old:
            read_by[other] = read_by.get(other, frozenset()) | {name}
    return _Passed(dict(ifaces), origins, used_by, read_by)


def check_config(config: NetworkConfig) -> None:
    """Raise the writer's error for an inconsistent config, in the writer's order of checks.

    A config that differs in a few interfaces from the last one that passed is
    checked where it changed (``_still_passes``); where that cannot tell, or it
    fails, every check runs, so a refusal is the one the writer makes first.
    """
    last = _LAST[0] if _LAST else None
    found = None if last is None else _changed(last, config.ifaces)
    passed = None if last is None or found is None else _still_passes(last, config.ifaces, *found)
    if passed is None:
        passed = _check_all(config)
    _LAST[:] = [passed] if passed is not None else []
