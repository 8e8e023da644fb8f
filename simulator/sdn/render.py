"""What the running SDN config means on one node: ``interfaces.d/sdn`` and its vnets.

``render`` is ``PVE::Network::SDN::Zones::generate_etc_network_config`` with
the Simple zone plugin's ``generate_sdn_config``: a ``#version:<N>`` line, then
for each vnet of a zone that includes the node, sorted by name, ``auto`` and
``iface`` (no family or method) with TAB-indented options in the plugin's
order. SNAT rules name the interface and address ``ip route get 8.8.8.8``
(``2001:4860:4860::8888`` for an IPv6 subnet) reports at apply time; the
simulator takes them from the node's live default route of that family.
Proxmox writes the file on every node reload, so a node of a cluster whose
SDN config was never applied gets an empty file.

``local_vnets`` is ``PVE::Network::SDN::get_local_vnets``: the vnets
``GET /nodes/{node}/network?type=any_bridge|include_sdn|vnet`` lists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.errors import die
from simulator.perl import truthy
from simulator.schema import is_ipv6
from simulator.sdn.errors import SdnError, fail
from simulator.sdn.store import Ids, Section
from simulator.sdn.views import subnet_fields

# (interface, source address) that ``ip route get <target>`` reports, or None if unreachable.
RouteLookup = Callable[[str], "tuple[str, str] | None"]

_ROUTE_TARGETS = {4: "8.8.8.8", 6: "2001:4860:4860::8888"}


@dataclass(frozen=True)
class Rendered:
    """The text of ``/etc/network/interfaces.d/sdn`` and the warnings the reload task logs."""

    text: str
    warnings: list[str] = field(default_factory=list)


def _ids(running: dict[str, Any], key: str) -> Ids:
    return dict((running.get(key) or {}).get("ids") or {})


def _mask_bits(mask: str) -> int:
    """Perl's numeric value of the mask string (0 when it is not a number)."""
    return int(mask) if mask.isdigit() else 0


def _snat_lines(cidr: str, family: int, route_get: RouteLookup) -> list[str]:
    """The SNAT and conntrack-zone rules of one ``snat`` subnet."""
    target = _ROUTE_TARGETS[family]
    route = route_get(target)
    if route is None:  # run_command dies; the vnet is left out of the file
        raise fail(f"command '/sbin/ip route get {target}' failed: exit code 2")
    outiface, outip = route
    iptables = "ip6tables" if family == 6 else "iptables"
    snat = f"POSTROUTING -s '{cidr}' -o {outiface} -j SNAT --to-source {outip}"
    conntrack = "PREROUTING -i fwbr+ -j CT --zone 1"
    return [
        f"post-up {iptables} -t nat -A {snat}",
        f"post-down {iptables} -t nat -D {snat}",
        f"post-up {iptables} -t raw -I {conntrack}",
        f"post-down {iptables} -t raw -D {conntrack}",
    ]


def simple_vnet(
    vnet_id: str, vnet: Section, zone: Section, subnets: Ids, route_get: RouteLookup
) -> list[str]:
    """SimplePlugin ``generate_sdn_config``: the option lines of one vnet bridge."""
    lines: list[str] = []
    addresses: set[str] = set()
    forward = {4: False, 6: False}
    for subnet_id in sorted(subnets):
        subnet = {**subnets[subnet_id], **subnet_fields(subnet_id)}
        gateway = str(subnet.get("gateway") or "")
        if truthy(gateway):
            if gateway not in addresses:
                lines.append(f"address {gateway}/{subnet['mask']}")
            addresses.add(gateway)
        family = 6 if is_ipv6(gateway) else 4
        forward[family] = forward[family] or truthy(gateway)
        if family == 4 and _mask_bits(subnet["mask"]) == 32:
            lines.append(f"up ip route add {subnet['cidr']} dev {vnet_id}")
        if truthy(subnet.get("snat")):
            lines.extend(_snat_lines(subnet["cidr"], family, route_get))
    if truthy(vnet.get("mac")):
        lines.append(f"hwaddress {vnet['mac']}")
    lines += ["bridge_ports none", "bridge_stp off", "bridge_fd 0"]
    if truthy(vnet.get("vlanaware")):
        lines += ["bridge-vlan-aware yes", "bridge-vids 2-4094"]
    if truthy(zone.get("mtu")):
        lines.append(f"mtu {zone['mtu']}")
    if truthy(vnet.get("alias")):
        lines.append(f"alias {vnet['alias']}")
    if forward[4]:
        lines.append("ip-forward on")
    if forward[6]:
        lines.append("ip6-forward on")
    return lines


def _zone_includes(zone: Section, node: str) -> bool:
    nodes = zone.get("nodes")
    return nodes is None or bool(nodes.get(node))


def render(running: dict[str, Any], node: str, route_get: RouteLookup) -> Rendered:
    """``/etc/network/interfaces.d/sdn`` for ``node`` from the running config."""
    if not running.get("vnets") and not running.get("zones"):
        return Rendered("")
    vnets, zones, subnets = (_ids(running, key) for key in ("vnets", "zones", "subnets"))
    config: dict[str, list[str]] = {}
    warnings: list[str] = []
    for vnet_id in sorted(vnets):
        vnet = vnets[vnet_id]
        zone_id = str(vnet.get("zone") or "")
        if not truthy(zone_id):
            warnings.append(f"can't generate vnet '{vnet_id}': no zone assigned!")
            continue
        zone = zones.get(zone_id)
        if zone is None:
            warnings.append(f"can't generate vnet '{vnet_id}': zone {zone_id} don't exist")
            continue
        if not _zone_includes(zone, node):
            continue
        own = {sid: s for sid, s in subnets.items() if s.get("vnet") and s["vnet"] == vnet_id}
        try:
            config[vnet_id] = simple_vnet(vnet_id, vnet, zone, own, route_get)
        except SdnError as failure:
            warnings.append(f"zone {zone_id} : vnet {vnet_id} : {failure.text.rstrip()}")
    text = f"#version:{running.get('version')}\n"
    for iface in sorted(config):
        text += f"\nauto {iface}\niface {iface}\n"
        text += "".join(f"\t{option}\n" for option in config[iface])
    return Rendered(text, warnings)


def local_vnets(running: dict[str, Any], node: str) -> dict[str, dict[str, Any]]:
    """The running vnets on ``node`` as the node network list shows them (``type: vnet``)."""
    vnets, zones = _ids(running, "vnets"), _ids(running, "zones")
    result: dict[str, dict[str, Any]] = {}
    for vnet_id in sorted(vnets):
        vnet = vnets[vnet_id]
        zone_id = str(vnet.get("zone") or "")
        if not truthy(zone_id):
            continue
        zone = zones.get(zone_id)
        if zone is None:
            raise die(f"sdn '{zone_id}' does not exist")
        if not _zone_includes(zone, node):
            continue
        result[vnet_id] = {
            "type": "vnet",
            "active": "1",
            "ipam": 1 if truthy(zone.get("ipam")) else 0,
            "vlanaware": 1 if truthy(vnet.get("vlanaware")) else 0,
            "comments": vnet.get("alias"),
        }
    return result
