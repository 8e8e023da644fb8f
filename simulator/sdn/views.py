"""What the SDN GET endpoints return: the current, running and pending views.

``GET /cluster/sdn/{zones,vnets,vnets/{vnet}/subnets}`` read the pending files
by default, the applied config with ``running=1``, and with ``pending=1`` a
merge of both computed like ``PVE::Network::SDN::pending_config``: running
values at the top level, a ``state`` of ``new``/``changed``/``deleted``, and the
values that differ (``'deleted'`` for removed keys) under ``pending``. Every
object carries the ``digest`` of its file (``null`` in the running and pending
views, which have none); subnets get the fields derived from their id.
"""

from __future__ import annotations

import copy
from typing import Any

from simulator.sdn.store import Ids, Section, encode_value


def pending_config(running: Ids | None, config: Ids) -> Ids:
    """Merge the running objects and the pending ones into Proxmox's pending view."""
    pending: Ids = {}
    running = running or {}
    for object_id in sorted(running):
        entry = pending.setdefault(object_id, {})
        _compare_running(entry, running[object_id], config.get(object_id) or {})
    for object_id in sorted(config):
        entry = pending.setdefault(object_id, {})
        _compare_pending(entry, running.get(object_id) or {}, config[object_id])
    return pending


def _compare_running(entry: Section, running: Section, config: Section) -> None:
    for key in sorted(running):
        entry[key] = running[key]
        if not config:
            entry["state"] = "deleted"
        elif config.get(key) is None:
            entry.setdefault("pending", {})[key] = "deleted"
            entry["state"] = "changed"
        elif encode_value(running[key]) != encode_value(config[key]):
            entry["state"] = "changed"
    if entry.get("state"):
        entry.setdefault("pending", {})


def _compare_pending(entry: Section, running: Section, config: Section) -> None:
    for key in sorted(config):
        config_value = encode_value(config[key])
        running_value = encode_value(running.get(key))
        if key in ("type", "vnet"):
            entry[key] = config_value
        elif running_value is None or config_value != running_value:
            entry.setdefault("pending", {})[key] = config[key]
        if not running:
            entry["state"] = "new"
        elif running_value is None and config_value is not None:
            entry["state"] = "changed"
    if entry.get("state"):
        entry.setdefault("pending", {})


def zone_view(ids: Ids, zone: str, digest: str | None) -> dict[str, Any]:
    """One zone as the zones API returns it (node lists as sorted comma strings)."""
    data = copy.deepcopy(ids[zone])
    data["zone"] = zone
    data["digest"] = digest
    for section in (data, data.get("pending") or {}):
        for key in ("nodes", "exitnodes"):
            if isinstance(section.get(key), dict):
                section[key] = encode_value(section[key])
    return data


def vnet_view(ids: Ids, vnet: str, digest: str | None) -> dict[str, Any]:
    """One vnet as the vnets API returns it."""
    data = copy.deepcopy(ids[vnet])
    data["vnet"] = vnet
    data["digest"] = digest
    return data


def subnet_fields(subnet_id: str) -> dict[str, str]:
    """The fields ``sdn_subnets_config`` derives from an id ``<zone>-<network>-<mask>``."""
    parts = subnet_id.split("-")
    zone, network, mask = [*parts, "", "", ""][:3]
    return {
        "id": subnet_id,
        "cidr": f"{network}/{mask}",
        "zone": zone,
        "network": network,
        "mask": mask,
    }


def parse_dhcp_range(text: str) -> dict[str, str] | None:
    """A ``pve-sdn-dhcp-range`` property string as an object, or None if it does not parse."""
    parsed: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep or not key or not value or key in parsed:
            return None
        if key not in ("start-address", "end-address"):
            return None
        parsed[key] = value
    if set(parsed) != {"start-address", "end-address"}:
        return None
    return parsed


def dhcp_ranges(section: Section) -> list[dict[str, str]]:
    """``get_dhcp_ranges``: the subnet's parseable DHCP ranges as objects."""
    ranges = (parse_dhcp_range(text) for text in section.get("dhcp-range") or [])
    return [r for r in ranges if r is not None]


def subnet_view(ids: Ids, subnet_id: str, digest: str | None) -> dict[str, Any]:
    """One subnet as the subnets API returns it: id-derived fields and parsed ``dhcp-range``."""
    data = copy.deepcopy(ids[subnet_id])
    data.update(subnet_fields(subnet_id))
    data["subnet"] = subnet_id
    data["digest"] = digest
    data["dhcp-range"] = dhcp_ranges(data)
    return data
