"""Proxmox's reader of ``/etc/network/interfaces``, written from the behaviour of pve-common's
``read_etc_network_interfaces`` (``PVE::Network::Interfaces``, formerly ``PVE::INotify``).

Every node network API call starts by reading the file this way, so what the
API answers (types, families, methods, ``options``, ``comments``) and what the
writer prints next both follow from these rules:

* The file is read line by line, lines ending at LF only: a CRLF file keeps a CR
  at the end of each line, which matters only where Proxmox does not strip it
  (top-level lines are kept with it).
* At the top level, a line whose first non-blank character is ``#`` is dropped;
  ``auto``, ``allow-auto``, ``allow-ovs`` and ``allow-hotplug`` mark every name
  they list as started at boot (``autostart``); ``iface NAME [inet|inet6 METHOD]``
  opens a stanza; any other line with a word character in it is kept as it is,
  with its position (``source``, ``mapping``, a ``post-up`` line that a blank
  line cut off from its stanza).
* In a stanza, trailing blanks are dropped first. ``#`` lines are its comments
  (kept per family, each ending in a newline); a line starting with ``iface``,
  ``mapping``, ``auto``, ``source`` or ``source-directory`` and a blank, or with
  ``allow-``, ends it and is read again at the top level; a ``KEY VALUE`` line,
  indented or not, is an option; anything else, a blank line above all, ends it.
* Options are stored under Proxmox's names (``bridge-ports`` is ``bridge_ports``,
  a numeric ``bond-mode`` becomes its name); addresses go to the family of the
  stanza (an IPv6 value in a stanza without a family goes to the ``6`` keys);
  lines Proxmox does not know (``post-up``, ``hwaddress``, ...) are kept as
  ``options``/``options6``. A second stanza for the same interface adds to the
  first; its family's ``method``, ``comments`` and ``options`` replace those the
  first stanza of that family had.
* Each stanza gets the next file position (``priority``; 1 is kept for ``lo``),
  and so does each kept top-level line, which is how the writer puts them back
  in order.

Then the node's NICs are marked ``exists`` (and added when the file lacks them),
the links that are up ``active``, ``lo`` added if missing, and each interface
completed (type, ``cidr``, methods, families: ``simulator.node.kinds``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from simulator.node.config import LINUX_BOND_MODES, NetworkConfig, Stanza
from simulator.node.kinds import complete
from simulator.perl import split_words, truthy

_COMMENT = re.compile(r"\s*#", re.ASCII)
_AUTO = re.compile(r"\s*(?:allow-auto|auto|allow-ovs|allow-hotplug)\s+(.*)", re.ASCII)
_IFACE = re.compile(r"\s*iface\s+(\S+)(?:\s+(inet6?)\s+(\S+))?\s*", re.ASCII)
_WORD = re.compile(r"\w")
_TRAILING_BLANKS = re.compile(r"\s+\Z", re.ASCII)
_STANZA_COMMENT = re.compile(r"\s*#(.*?)\s*", re.ASCII)
_STANZA_END = re.compile(
    r"\s*(?:(?:iface|mapping|auto|source|source-directory)\s|allow-)", re.ASCII
)
_OPTION = re.compile(r"\s*((\S+)\s+(.+))", re.ASCII)
_STP_ON = re.compile(r"\s*(?:on|yes)\s*", re.ASCII | re.IGNORECASE)
_OVS_ALLOW = re.compile(r"allow-ovs\s+", re.ASCII)
_PORT_ALLOW = re.compile(r"allow-(\S+)\s+(.*)", re.ASCII)

# Option names the file may spell differently from Proxmox's key: ifupdown2's dashes for
# underscores, bond slaves under three names, the OVS MTU as the plain one.
_UNDERSCORED = (
    "bond-miimon bond-mode bond-xmit-hash-policy "
    "bridge-fd bridge-ports bridge-stp bridge-vids bridge-vlan-aware"
)
_RENAMED = {
    "ovs_mtu": "mtu",
    "bond-slaves": "slaves",
    "bond_slaves": "slaves",
    **{name: name.replace("-", "_") for name in _UNDERSCORED.split()},
}

# Options stored as the value string under their own name.
_KEPT_AS_IS = frozenset(
    " ".join(
        (
            "mtu link-type uplink-id",
            "bond_miimon bond_xmit_hash_policy bond-primary",
            "bridge_fd bridge_vids bridge-access bridge-learning bridge-arp-nd-suppress",
            "bridge-unicast-flood bridge-multicast-flood bridge-disable-mac-learning",
            "ovs_type ovs_options ovs_bridge ovs_bonds ovs_ports",
            "vlan-protocol vlan-raw-device vlan-id",
            "vxlan-id vxlan-svcnodeip vxlan-physdev vxlan-local-tunnelip",
        )
    ).split()
)
_ADDRESS_KEYS = frozenset(("address", "netmask", "broadcast", "gateway"))

# The kernel's bond mode numbers, which the reader turns into names (an exact match only).
_BOND_MODE_BY_NUMBER = {str(number): name for number, name in enumerate(LINUX_BOND_MODES)}


def _file_lines(text: str) -> list[str]:
    """The file's lines as Perl's ``<$fh>`` and ``chomp`` give them (LF only, no last empty)."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _add_ports(stanza: Stanza, key: str, value: str) -> None:
    """``bridge-ports``/``bond-slaves``: names sorted and de-duplicated, ``none`` left out.

    ``bridge-ports none`` marks an empty bridge; a second line for the same key
    appends its names.
    """
    words = split_words(value)
    if key == "bridge_ports" and "none" in words:
        stanza["is_empty_bridge"] = 1
    joined = " ".join(sorted({word for word in words if word != "none"}))
    if truthy(stanza.get(key)):
        if truthy(joined):
            stanza[key] += " " + joined
    else:
        stanza[key] = joined if truthy(joined) else ""


def _address_suffix(key: str, value: str, suffix: str | None) -> str:
    """The family an address line belongs to: its stanza's, else IPv6 for a value with ':'."""
    if suffix is not None:
        return suffix
    return "6" if key != "netmask" and ":" in value else ""


def _store_option(stanza: Stanza, own: Stanza, suffix: str | None, match: re.Match[str]) -> None:
    """One ``KEY VALUE`` line of a stanza; ``own`` collects what belongs to its family only."""
    line, key, value = match.groups()
    key = _RENAMED.get(key, key)
    if key in _ADDRESS_KEYS:
        stanza[key + _address_suffix(key, value, suffix)] = value
    elif key in _KEPT_AS_IS:
        stanza[key] = value
    elif key in ("slaves", "bridge_ports"):
        _add_ports(stanza, key, value)
    elif key == "bridge_stp":
        stanza[key] = "on" if _STP_ON.fullmatch(value) else "off"
    elif key == "bridge_vlan_aware":
        stanza[key] = 1  # whatever the value says, even "no"
    elif key == "bond_mode":
        stanza[key] = _BOND_MODE_BY_NUMBER.get(value, value)
    elif key == "vxlan-remoteip":
        stanza.setdefault(key, []).append(value)
    else:
        own.setdefault("options", []).append(line)


class _Reader:
    """One pass over the file's lines, filling a ``NetworkConfig`` in file order."""

    def __init__(self) -> None:
        self.config = NetworkConfig()
        self._position = 2  # 1 is lo's

    def _next_position(self) -> int:
        position = self._position
        self._position += 1
        return position

    def read(self, lines: list[str]) -> None:
        """Read every line; a line that ends a stanza is read again here, stripped."""
        index, again = 0, None
        while index < len(lines):
            line = lines[index] if again is None else again
            again = None
            if _COMMENT.match(line):
                index += 1
            elif auto := _AUTO.match(line):
                for name in split_words(auto[1]):
                    self.config.ifaces.setdefault(name, {})["autostart"] = 1
                index += 1
            elif iface := _IFACE.fullmatch(line):
                index, again = self._stanza(lines, index + 1, *iface.groups())
            else:
                if _WORD.search(line):
                    self.config.options.append((self._next_position(), line))
                index += 1

    def _stanza(
        self, lines: list[str], index: int, name: str, family: str | None, method: str | None
    ) -> tuple[int, str | None]:
        """Read the body of ``iface NAME [FAMILY METHOD]``; return where it ended and that line."""
        stanza = self.config.ifaces.setdefault(name, {})
        if not truthy(stanza.get("priority")):
            stanza["priority"] = self._next_position()
        stanza.setdefault("families", []).append(family)
        suffix = None if family is None else family.removeprefix("inet")
        own: Stanza = {"method": method}
        target = stanza if suffix is None else own
        ended_by = None
        while index < len(lines):
            line = _TRAILING_BLANKS.sub("", lines[index])
            if comment := _STANZA_COMMENT.fullmatch(line):
                target["comments"] = (target.get("comments") or "") + comment[1] + "\n"
            elif _STANZA_END.match(line) or not (option := _OPTION.fullmatch(line)):
                ended_by = line
                break
            else:
                _store_option(stanza, target, suffix, option)
            index += 1
        if suffix is not None:
            stanza.update({key + suffix: value for key, value in own.items()})
        return index, ended_by


def _without_ovs_port_lines(config: NetworkConfig) -> list[tuple[int, str]]:
    """The kept lines less the ``allow-BRIDGE PORT`` lines the writer makes again for OVS.

    ``allow-ovs`` lines go; an ``allow-BRIDGE`` line loses the ports that
    bridge lists in ``ovs_ports`` and goes when none is left.
    """
    kept: list[tuple[int, str]] = []
    for position, line in config.options:
        if _OVS_ALLOW.match(line):
            continue
        allow = _PORT_ALLOW.fullmatch(line)
        if allow is None:
            kept.append((position, line))
            continue
        bridge, ports = allow[1], split_words(allow[2])
        if bridge in config.ifaces:
            listed = set(split_words(str(config.ifaces[bridge].get("ovs_ports") or "")))
            ports = [port for port in ports if port not in listed]
        if ports:
            kept.append((position, f"allow-{bridge} " + " ".join(ports)))
    return kept


def read_interfaces(
    text: str, nics: Collection[str] = (), active: Iterable[str] = ()
) -> NetworkConfig:
    """The file as Proxmox reads it on a node whose ``ip link`` lists ``nics``.

    ``active`` names the links that are up (``/proc/net/dev``).
    """
    reader = _Reader()
    reader.read(_file_lines(text))
    config = reader.config
    for nic in nics:
        config.ifaces.setdefault(nic, {})["exists"] = 1
    for name in active:
        if name in config.ifaces:
            config.ifaces[name]["active"] = 1
    config.ifaces.setdefault(
        "lo", {"priority": 1, "method": "loopback", "type": "loopback", "autostart": 1}
    )
    complete(config.ifaces, nics)
    config.options = _without_ovs_port_lines(config)
    return config
