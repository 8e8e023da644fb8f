"""The SDN API's names and formats, both ways (pure).

What ``/cluster/sdn`` lists becomes the planner's ``ZoneState``, ``VnetState`` and
``SubnetState``; a planned ``SdnStep`` becomes a method, a path and form parameters. Only
this module knows pve-network's wire format: ``nodes`` as a comma list, ``dhcp-range`` as
repeated ``start-address=..,end-address=..`` values, 1/0 booleans, ``delete=`` lists,
subnet ids ``<zone>-<network>-<mask>``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from provider.sdn.plan import SdnStep, SubnetState, VnetState, ZoneState

SDN = "/cluster/sdn"


def subnet_id(zone: str, cidr: str) -> str:
    """pve-network's id of a subnet: ``<zone>-<network>-<mask>``."""
    network = ipaddress.ip_network(cidr, strict=False)
    return f"{zone}-{network.network_address}-{network.prefixlen}"


def cidr_from_api(item: Mapping[str, Any]) -> str:
    return str(ipaddress.ip_network(str(item["cidr"]), strict=False))


def zone_from_api(item: Mapping[str, Any]) -> ZoneState:
    nodes = item.get("nodes")
    return ZoneState(
        nodes=tuple(sorted(n for n in str(nodes).split(",") if n)) if nodes else None,
        mtu=int(item["mtu"]) if item.get("mtu") else None,
        ipam=str(item["ipam"]) if item.get("ipam") else None,
        dhcp=str(item["dhcp"]) if item.get("dhcp") else None,
    )


def vnet_from_api(item: Mapping[str, Any]) -> VnetState:
    return VnetState(
        zone=str(item.get("zone") or ""),
        alias=str(item["alias"]) if item.get("alias") else None,
    )


def subnet_from_api(item: Mapping[str, Any]) -> SubnetState:
    ranges = tuple(
        (str(r["start-address"]), str(r["end-address"]))
        for r in item.get("dhcp-range") or []
        if isinstance(r, Mapping)
    )
    return SubnetState(
        gateway=str(item["gateway"]) if item.get("gateway") else None,
        snat=bool(int(item.get("snat") or 0)),
        dhcp_ranges=ranges,
        dns_server=str(item["dhcp-dns-server"]) if item.get("dhcp-dns-server") else None,
    )


def pending_text(kind: str, name: str, item: Mapping[str, Any]) -> str:
    state = str(item.get("state"))
    keys = sorted((item.get("pending") or {}).keys()) if state == "changed" else []
    return f"{kind} {name} ({state}{': ' + ', '.join(keys) if keys else ''})"


def _zone_params(zone: ZoneState) -> dict[str, Any]:
    return {
        "nodes": ",".join(zone.nodes) if zone.nodes is not None else None,
        "mtu": zone.mtu,
        "ipam": zone.ipam,
        "dhcp": zone.dhcp,
    }


def _vnet_params(vnet: VnetState) -> dict[str, Any]:
    return {"zone": vnet.zone, "alias": vnet.alias}


def _subnet_params(subnet: SubnetState) -> dict[str, Any]:
    ranges = [f"start-address={s},end-address={e}" for s, e in subnet.dhcp_ranges]
    return {
        "gateway": subnet.gateway,
        "snat": True if subnet.snat else None,
        "dhcp-range": ranges or None,
        "dhcp-dns-server": subnet.dns_server,
    }


def _params(target: Any) -> dict[str, Any]:
    if isinstance(target, ZoneState):
        return _zone_params(target)
    if isinstance(target, VnetState):
        return _vnet_params(target)
    if isinstance(target, SubnetState):
        return _subnet_params(target)
    raise TypeError(f"no SDN object: {target!r}")


def _changed(target: Any, before: Any) -> dict[str, Any]:
    """PUT parameters: the target's settings, and ``delete=`` for those it drops."""
    wanted, had = _params(target), _params(before)
    params = {k: v for k, v in wanted.items() if v is not None}
    removed = sorted(k for k, v in had.items() if v is not None and wanted.get(k) is None)
    if removed:
        params["delete"] = ",".join(removed)
    return params


def call_for(zone: str, vnet: str, step: SdnStep) -> tuple[str, str, dict[str, Any]]:
    """The method, path and parameters of one planned change."""
    if step.kind == "zone":
        collection, item = f"{SDN}/zones", f"{SDN}/zones/{step.key}"
    elif step.kind == "vnet":
        collection, item = f"{SDN}/vnets", f"{SDN}/vnets/{step.key}"
    else:
        collection = f"{SDN}/vnets/{vnet}/subnets"
        item = f"{collection}/{subnet_id(zone, step.key)}"
    if step.action == "delete":
        return "DELETE", item, {}
    if step.action == "update":
        return "PUT", item, _changed(step.target, step.before)
    params = {k: v for k, v in _params(step.target).items() if v is not None}
    if step.kind == "zone":
        params.update(zone=step.key, type="simple")
    elif step.kind == "vnet":
        params["vnet"] = step.key
    else:
        params.update(subnet=step.key, type="subnet")
    return "POST", collection, params
