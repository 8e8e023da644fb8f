"""A cluster's SDN Simple zones as the stack's routed and NAT networks (pure).

``RoutedSubnet`` and ``NatGateway`` each own one Simple zone with one vnet and
one subnet (the gateway's address and prefix; SNAT for NAT, with at most one
DHCP range). :func:`propose_sdn` takes what ``/cluster/sdn`` lists and proposes a
``routed`` network for each such zone without SNAT and a ``nat`` network for
each with it; every other zone (another type, several vnets or subnets, a vnet
alias, several DHCP ranges) is left as it is, with a finding. The SDN provider
takes a zone that already runs exactly as a network wants as that network's
own (``components.adopt.proof`` checks that it does), so the first ``up``
writes nothing; a ``destroy`` removes it, as it removes what it created.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from components.adopt.networks import Finding, Network, Proposal
from provider.sdn.plan import SdnState
from provider.sdn.wire import cidr_from_api, subnet_from_api, vnet_from_api, zone_from_api

CLUSTER = "cluster"
"""The proposal that holds the cluster-wide SDN networks (it is no node)."""


def observed(
    zone: Mapping[str, Any], vnet: Mapping[str, Any], subnets: Sequence[Mapping[str, Any]]
) -> SdnState:
    """The zone, vnet and subnets as the SDN provider reads them."""
    return SdnState(
        zone_from_api(zone),
        vnet_from_api(vnet),
        {cidr_from_api(item): subnet_from_api(item) for item in subnets},
    )


def propose_sdn(
    zones: Sequence[Mapping[str, Any]],
    vnets: Sequence[Mapping[str, Any]],
    subnets: Mapping[str, Sequence[Mapping[str, Any]]],
) -> Proposal:
    """The routed and NAT networks the zones are, and a finding for each zone left."""
    proposal = Proposal(CLUSTER)
    for zone in sorted(zones, key=lambda z: str(z.get("zone"))):
        name = str(zone.get("zone"))
        in_zone = [v for v in vnets if v.get("zone") == name]
        reason = _left_because(zone, in_zone, subnets)
        if reason:
            proposal.left[name] = reason
            proposal.findings.append(Finding(CLUSTER, f"zone {name}", reason))
            continue
        vnet = in_zone[0]
        proposal.networks.append(_network(zone, vnet, subnets[str(vnet["vnet"])][0]))
    return proposal


def _left_because(
    zone: Mapping[str, Any],
    in_zone: Sequence[Mapping[str, Any]],
    subnets: Mapping[str, Sequence[Mapping[str, Any]]],
) -> str | None:
    name = zone.get("zone")
    if zone.get("type") != "simple":
        return f"zone {name} is of type {zone.get('type')}: pvenet's networks are Simple zones"
    if len(in_zone) != 1:
        return (
            f"zone {name} has {len(in_zone)} vnets: a routed or NAT network is one zone with one "
            "vnet"
        )
    vnet = in_zone[0]
    listed = subnets.get(str(vnet.get("vnet"))) or []
    if len(listed) != 1:
        return f"vnet {vnet.get('vnet')} has {len(listed)} subnets: a network has one"
    subnet = subnet_from_api(listed[0])
    if vnet.get("alias"):
        return f"vnet {vnet.get('vnet')} has an alias: the components have no argument for it"
    if subnet.gateway is None:
        return f"vnet {vnet.get('vnet')}'s subnet has no gateway: a network's cidr gives one"
    if len(subnet.dhcp_ranges) > 1 or (subnet.dhcp_ranges and not subnet.snat):
        return (
            f"vnet {vnet.get('vnet')}'s subnet hands out addresses in a way the components do "
            "not say (several DHCP ranges, or DHCP without SNAT)"
        )
    return None


def _network(zone: Mapping[str, Any], vnet: Mapping[str, Any], item: Mapping[str, Any]) -> Network:
    subnet = subnet_from_api(item)
    prefix = ipaddress.ip_network(cidr_from_api(item)).prefixlen
    state = zone_from_api(zone)
    entry: dict[str, Any] = {
        "name": f"sdn-{vnet['vnet']}",
        "zone": str(zone["zone"]),
        "vnet": str(vnet["vnet"]),
        "cidr": f"{subnet.gateway}/{prefix}",
    }
    if subnet.dhcp_ranges:
        entry["dhcp_range"] = list(subnet.dhcp_ranges[0])
    if subnet.dns_server:
        entry["dns_server"] = subnet.dns_server
    if state.nodes is not None:
        entry["nodes"] = list(state.nodes)
    if state.mtu is not None:
        entry["mtu"] = state.mtu
    mode = "nat" if subnet.snat else "routed"
    return Network(mode, entry, (str(zone["zone"]), str(vnet["vnet"])))
