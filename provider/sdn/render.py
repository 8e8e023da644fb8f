"""The ``/etc/network/interfaces.d/sdn`` stanza pve-network writes for one vnet (pure).

Written from pve-network's Simple zone plugin (``Zones/SimplePlugin.pm``
``generate_sdn_config``) and ``Zones.pm`` ``generate_etc_network_config``:
``auto <vnet>`` and ``iface <vnet>`` (no family or method), then TAB-indented
lines in the plugin's order:

1. per subnet, sorted by subnet id (``<zone>-<network>-<mask>``, as strings):
   ``address <gateway>/<mask>`` once per gateway; ``up ip route add <cidr> dev
   <vnet>`` for an IPv4 /32; with ``snat`` the SNAT and conntrack-zone rules;
2. ``bridge_ports none``, ``bridge_stp off``, ``bridge_fd 0``;
3. ``mtu`` (the zone's), ``alias`` (the vnet's);
4. ``ip-forward on`` when an IPv4 subnet has a gateway, ``ip6-forward on`` for IPv6.

The SNAT rules name the interface and address ``ip route get 8.8.8.8``
(``2001:4860:4860::8888`` for IPv6) reports on the node *when the SDN config
is applied*; pvenet takes them from the node's interface that holds the
default gateway. When that is not known (no connection at preview), the
rules show the placeholders ``<uplink>`` and ``<uplink-address>``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from provider.sdn.model import SdnSpec
from provider.sdn.wire import subnet_id

SDN_FILE = "/etc/network/interfaces.d/sdn"
CONNTRACK = "PREROUTING -i fwbr+ -j CT --zone 1"


@dataclass(frozen=True)
class Uplink:
    """The interface and address a node's traffic leaves by (its default route)."""

    iface: str
    address: str


@dataclass(frozen=True)
class Uplinks:
    """A node's IPv4 and IPv6 uplinks; None where the node has no default route."""

    v4: Uplink | None = None
    v6: Uplink | None = None


UNKNOWN_UPLINK = Uplink("<uplink>", "<uplink-address>")
UNKNOWN_UPLINKS = Uplinks(UNKNOWN_UPLINK, Uplink("<uplink6>", "<uplink6-address>"))


def _snat_lines(cidr: str, family: int, uplink: Uplink | None) -> list[str]:
    iptables = "ip6tables" if family == 6 else "iptables"
    out = uplink or (UNKNOWN_UPLINKS.v6 if family == 6 else UNKNOWN_UPLINK)
    assert out is not None
    snat = f"POSTROUTING -s '{cidr}' -o {out.iface} -j SNAT --to-source {out.address}"
    return [
        f"post-up {iptables} -t nat -A {snat}",
        f"post-down {iptables} -t nat -D {snat}",
        f"post-up {iptables} -t raw -I {CONNTRACK}",
        f"post-down {iptables} -t raw -D {CONNTRACK}",
    ]


def vnet_lines(spec: SdnSpec, uplinks: Uplinks) -> list[str]:
    """The option lines of the vnet's stanza on a node with these uplinks."""
    lines: list[str] = []
    addresses: set[str] = set()
    forward = {4: False, 6: False}
    for subnet in sorted(spec.subnets, key=lambda s: subnet_id(spec.zone, s.cidr)):
        network = subnet.network
        gateway = subnet.gateway
        if gateway:
            if gateway not in addresses:
                lines.append(f"address {gateway}/{network.prefixlen}")
            addresses.add(gateway)
        family = 6 if gateway and ipaddress.ip_address(gateway).version == 6 else 4
        forward[family] = forward[family] or bool(gateway)
        if family == 4 and network.prefixlen == 32:
            lines.append(f"up ip route add {network} dev {spec.vnet}")
        if subnet.snat:
            lines.extend(
                _snat_lines(str(network), family, uplinks.v6 if family == 6 else uplinks.v4)
            )
    lines += ["bridge_ports none", "bridge_stp off", "bridge_fd 0"]
    if spec.mtu:
        lines.append(f"mtu {spec.mtu}")
    if spec.alias:
        lines.append(f"alias {spec.alias}")
    if forward[4]:
        lines.append("ip-forward on")
    if forward[6]:
        lines.append("ip6-forward on")
    return lines


def render_vnet(spec: SdnSpec, uplinks: Uplinks = UNKNOWN_UPLINKS) -> str:
    """The vnet's stanza exactly as pve-network writes it into ``interfaces.d/sdn``."""
    body = "".join(f"\t{line}\n" for line in vnet_lines(spec, uplinks))
    return f"auto {spec.vnet}\niface {spec.vnet}\n{body}"


def render_nodes(spec: SdnSpec, uplinks: Mapping[str, Uplinks] | None) -> str:
    """The ``rendered`` text: the stanza, or one per node where the nodes' stanzas differ.

    Only SNAT rules differ between nodes (each names its node's uplink). When
    they do, each node's stanza follows a line ``# <node>: <path>``.
    ``uplinks`` None (the nodes could not be read) renders placeholders.
    """
    if not uplinks:
        return render_vnet(spec)
    stanzas = {node: render_vnet(spec, uplinks[node]) for node in sorted(uplinks)}
    if len(set(stanzas.values())) == 1:
        return next(iter(stanzas.values()))
    return "\n".join(f"# {node}: {SDN_FILE}\n{text}" for node, text in stanzas.items())
