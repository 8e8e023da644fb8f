"""Subnets of a vnet: their checks and the PVE IPAM bookkeeping.

A subnet is created as ``<zone>-<network>-<mask>`` from the CIDR given in
``subnet`` (not normalised: ``10.0.0.1/24`` stays ``zone-10.0.0.1-24``).
``SubnetPlugin::on_update_hook`` checks the vnet, the gateway and the DHCP
ranges, and when the zone uses the built-in IPAM ``pve`` registers the subnet
and its gateway in ``pve-ipam-state.json`` at once (IPAM state is not part of
the pending/running split and a rollback leaves it alone, as on Proxmox).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from simulator.perl import truthy
from simulator.schema import is_ipv4
from simulator.sdn.errors import fail, param_fail
from simulator.sdn.ops import (
    assert_if_modified,
    check_config,
    delete_options,
    locked,
    require_vnet,
)
from simulator.sdn.store import SUBNETS, VNETS, ZONES, SdnStore, Section
from simulator.sdn.views import dhcp_ranges, subnet_fields

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _in_subnet(address: str, cidr: str) -> bool:
    """Net::Subnet's ``subnet_matcher($cidr)->($address)``."""
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(cidr, strict=False)
    except ValueError:
        return False


def _single_ip(text: str, which: str) -> IpAddress:
    """``Net::IP->new($text)`` that must be one address; Proxmox's errors otherwise."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise param_fail("dhcp-range", f"{which} is not a valid IP {text}") from None
    if network.num_addresses != 1:
        raise param_fail("dhcp-range", f"{which} must be a singular IP")
    return network.network_address


def validate_dhcp_ranges(subnet: Section) -> None:
    """SubnetPlugin ``validate_dhcp_ranges``: each range ordered, inside the subnet, disjoint."""
    cidr = subnet["cidr"]
    seen: list[tuple[IpAddress, IpAddress]] = []
    for dhcp_range in dhcp_ranges(subnet):
        start_text, end_text = dhcp_range["start-address"], dhcp_range["end-address"]
        start = _single_ip(start_text, "start-address")
        end = _single_ip(end_text, "end-address")
        if (start.version, int(start)) > (end.version, int(end)):
            message = f"start-address {start_text} must be smaller than end-address {end_text}"
            raise param_fail("dhcp-range", message)
        if not _in_subnet(start_text, cidr):
            raise param_fail("dhcp-range", f"start-address {start_text} is not in subnet {cidr}")
        if not _in_subnet(end_text, cidr):
            raise param_fail("dhcp-range", f"end-address {end_text} is not in subnet {cidr}")
        for other_start, other_end in seen:
            same_family = start.version == other_start.version
            if same_family and int(start) <= int(other_end) and int(other_start) <= int(end):
                raise param_fail("dhcp-range", "dhcp ranges must not overlap")
        seen.append((start, end))


# --- the built-in PVE IPAM --------------------------------------------------------------------


def _ipam_subnet(db: dict[str, Any], zone: str, cidr: str) -> dict[str, Any]:
    """The IPAM record of one subnet, or PVEPlugin's error for a missing zone or subnet."""
    zone_db = db.get("zones", {}).get(zone)
    if not zone_db:
        raise fail(f"zone '{zone}' doesn't exist in IPAM DB")
    subnet_db = zone_db.get("subnets", {}).get(cidr)
    if not subnet_db:
        raise fail(f"subnet '{cidr}' doesn't exist in IPAM DB")
    return dict(subnet_db)


def ipam_add_subnet(store: SdnStore, subnet: Section) -> None:
    """PVEPlugin ``add_subnet``."""
    db = store.ipam_db()
    zone_db = db.setdefault("zones", {}).setdefault(subnet["zone"], {})
    zone_db.setdefault("subnets", {}).setdefault(subnet["cidr"], {"ips": {}})
    store.write_ipam_db(db)


def ipam_add_gateway(store: SdnStore, subnet: Section, address: str) -> None:
    """Subnets::add_ip of a gateway: the canonical address, marked ``gateway``."""
    ip = str(ipaddress.ip_address(address))
    db = store.ipam_db()
    _ipam_subnet(db, subnet["zone"], subnet["cidr"])
    ips = db["zones"][subnet["zone"]]["subnets"][subnet["cidr"]].setdefault("ips", {})
    if ip in ips and not ips[ip].get("gateway"):
        raise fail(f"IP '{ip}' already exist")
    ips[ip] = {"gateway": 1}
    store.write_ipam_db(db)


def ipam_del_ip(store: SdnStore, subnet: Section, address: str) -> None:
    """Subnets::del_ip; callers ignore its failures, as the hook's ``eval {}; warn`` does."""
    db = store.ipam_db()
    ips = db.get("zones", {}).get(subnet["zone"], {}).get("subnets", {}).get(subnet["cidr"])
    if ips is not None:
        ips.get("ips", {}).pop(str(ipaddress.ip_address(address)), None)
        store.write_ipam_db(db)


def ipam_del_subnet(store: SdnStore, subnet: Section | None) -> None:
    """PVEPlugin ``del_subnet``: only an empty subnet (or one holding just its gateway)."""
    zone, cidr = (subnet or {}).get("zone") or "", (subnet or {}).get("cidr") or ""
    db = store.ipam_db()
    ips = _ipam_subnet(db, zone, cidr).get("ips") or {}
    only_gateway = len(ips) == 1 and next(iter(ips.values())).get("gateway") == 1
    if ips and not only_gateway:
        raise fail(f"cannot delete subnet '{cidr}', not empty")
    del db["zones"][zone]["subnets"][cidr]
    store.write_ipam_db(db)


def _ipam_update(store: SdnStore, subnet: Section, old: Section | None, pointopoint: bool) -> None:
    if old is None:
        ipam_add_subnet(store, subnet)
    if pointopoint:
        return
    gateway = str(subnet.get("gateway") or "")
    old_gateway = str((old or {}).get("gateway") or "")
    if not gateway and truthy(old_gateway):
        ipam_del_ip(store, subnet, old_gateway)
    if truthy(gateway) and (not truthy(old_gateway) or gateway != old_gateway):
        ipam_add_gateway(store, subnet, gateway)
    if truthy(gateway) and truthy(old_gateway) and gateway != old_gateway:
        ipam_del_ip(store, subnet, old_gateway)


def on_update_hook(store: SdnStore, zone: Section, subnet: Section, old: Section | None) -> None:
    """SubnetPlugin ``on_update_hook``: vnet, gateway and DHCP range checks, then IPAM."""
    vnet_id = str(subnet.get("vnet") or "")
    if truthy(vnet_id):
        vnet = store.read(VNETS).ids.get(vnet_id)
        if vnet is None:
            raise param_fail("vnet", f"{vnet_id} don't exist")
        if truthy(vnet.get("vlanaware")):
            raise param_fail("vnet", "you can't add a subnet on a vlanaware vnet")
    gateway = str(subnet.get("gateway") or "")
    pointopoint = is_ipv4(gateway) and subnet["mask"] == "32"
    if truthy(gateway) and not _in_subnet(gateway, subnet["cidr"]) and not pointopoint:
        raise param_fail("gateway", f"{gateway} is not in subnet {subnet['cidr']}")
    validate_dhcp_ranges(subnet)
    if truthy(zone.get("ipam")):
        _ipam_update(store, subnet, old, pointopoint)


def _vnet_zone(store: SdnStore, vnet: str) -> tuple[str, Section]:
    """The zone id of ``vnet`` and that zone's pending config (empty if it is gone)."""
    zone_id = str(store.read(VNETS).ids.get(vnet, {}).get("zone", ""))
    return zone_id, store.read(ZONES).ids.get(zone_id, {})


def create_subnet(store: SdnStore, cidr: str, params: Mapping[str, Any], token: str | None) -> None:
    """POST /cluster/sdn/vnets/{vnet}/subnets (``params`` holds ``vnet`` from the path)."""
    vnet = str(params["vnet"])
    require_vnet(store, vnet)

    def work() -> None:
        subnets = store.read(SUBNETS)
        zone_id, zone = _vnet_zone(store, vnet)
        subnet_id = f"{zone_id}-{cidr.replace('/', '-', 1)}"
        opts = check_config(SUBNETS, "subnet", params, create=True)
        if subnet_id in subnets.ids:
            raise fail(f"sdn subnet object ID '{subnet_id}' already defined")
        subnets.ids[subnet_id] = opts
        on_update_hook(store, zone, {**opts, **subnet_fields(subnet_id)}, None)
        store.write(SUBNETS, subnets.ids)

    locked(store, "create sdn subnet object failed", token, work)


def update_subnet(
    store: SdnStore,
    subnet_id: str,
    params: Mapping[str, Any],
    digest: str | None,
    delete: list[str],
    token: str | None,
) -> None:
    """PUT /cluster/sdn/vnets/{vnet}/subnets/{subnet}.

    The path's ``vnet`` is one of ``params`` and is written into the subnet,
    as on Proxmox (a PUT through another vnet's path moves the subnet there).
    """
    vnet = str(params["vnet"])
    require_vnet(store, vnet)

    def work() -> None:
        subnets = store.read(SUBNETS)
        _, zone = _vnet_zone(store, vnet)
        if subnet_id not in subnets.ids:
            raise fail(f"sdn subnet '{subnet_id}' does not exist")
        old = {**subnets.ids[subnet_id], **subnet_fields(subnet_id)}
        assert_if_modified(subnets.digest, digest)
        opts = check_config(SUBNETS, "subnet", params, create=False)
        data = subnets.ids[subnet_id]
        delete_options(data, SUBNETS.options["subnet"], opts, delete)
        data.update(opts)
        on_update_hook(store, zone, {**data, **subnet_fields(subnet_id)}, old)
        store.write(SUBNETS, subnets.ids)

    locked(store, "update sdn subnet object failed", token, work)


def delete_subnet(store: SdnStore, vnet: str, subnet_id: str, token: str | None) -> None:
    """DELETE /cluster/sdn/vnets/{vnet}/subnets/{subnet}; a missing subnet is no error."""
    require_vnet(store, vnet)

    def work() -> None:
        subnets = store.read(SUBNETS)
        section = subnets.ids.get(subnet_id)
        subnet = {**section, **subnet_fields(subnet_id)} if section else None
        _, zone = _vnet_zone(store, vnet)
        if truthy(zone.get("ipam")):
            ipam_del_subnet(store, subnet)
        subnets.ids.pop(subnet_id, None)
        store.write(SUBNETS, subnets.ids)

    locked(store, "delete sdn subnet object failed", token, work)
