"""What ``ifreload -a`` refuses on a node: the checks of the apply task.

Proxmox's writer accepts files that ifupdown2 then cannot bring up, most
often because a bridge port, bond slave or VLAN parent names a device the
node does not have. On Proxmox the reload task then fails with
``command 'ifreload -a' failed: exit code 1`` after the new file is already
in place. This module finds those problems in the live file (and the SDN file
it sources); the messages follow ifupdown2's ``error: <iface>: ...`` style.
"""

from __future__ import annotations

import re

from simulator.node.read import read_interfaces
from simulator.schema import split_list

_VIRTUAL_TYPES = frozenset({"bond", "bridge", "vlan", "vxlan", "dummy", "OVSBridge", "OVSIntPort"})


def sources_sdn(interfaces: str) -> bool:
    """Whether the file sources ``/etc/network/interfaces.d/sdn`` (directly or by glob)."""
    return bool(
        re.search(r"^\s*source\s+/etc/network/interfaces\.d/(\*|sdn)\s*$", interfaces, re.M)
        or re.search(r"^\s*source-directory\s+/etc/network/interfaces\.d/?\s*$", interfaces, re.M)
    )


def sdn_vnets(sdn: str | None) -> set[str]:
    """The vnets an SDN file declares."""
    return set(re.findall(r"^iface\s+(\S+)", sdn or "", re.M))


def problems(interfaces: str, sdn: str | None, nics: list[str]) -> list[tuple[str, str]]:
    """(interface, message) for each device ifupdown2 would fail to set up."""
    ifaces = read_interfaces(interfaces, nics).ifaces
    vnets = sdn_vnets(sdn) if sources_sdn(interfaces) else set()

    def present(name: str) -> bool:
        if name in nics or name in vnets:
            return True
        if dotted := re.fullmatch(r"(\S+)\.\d+", name):
            return present(dotted[1])
        return ifaces.get(name, {}).get("type") in _VIRTUAL_TYPES

    found: list[tuple[str, str]] = []
    for name in sorted(ifaces):
        stanza = ifaces[name]
        kind = stanza.get("type")
        if stanza.get("autostart") and kind == "eth" and name not in nics:
            found.append((name, f"link {name} not found"))
        if kind == "bridge":
            for port in split_list(str(stanza.get("bridge_ports") or "")):
                if not present(port):
                    found.append((name, f"bridge port {port} does not exist"))
        if kind == "bond":
            for slave in split_list(str(stanza.get("slaves") or "")):
                if slave not in nics and ifaces.get(slave, {}).get("type") != "bond":
                    found.append((name, f"bond slave {slave} does not exist"))
        if kind == "vlan":
            parent = str(stanza.get("vlan-raw-device") or "")
            if dotted := re.fullmatch(r"(\S+)\.\d+", name):
                parent = dotted[1]
            if not present(parent):
                found.append((name, f"cannot find raw device {parent}"))
    return found
