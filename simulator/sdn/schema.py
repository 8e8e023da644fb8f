"""Parameter declarations of the ``/cluster/sdn`` methods, and their verification.

Written from pve-network's method schemas (``createSchema``/``updateSchema``
of the zone, vnet and subnet plugins plus ``lock-token``). The SDN ids use a
``pattern`` (2..8 characters), not a format. The formats these methods need
and ``simulator.schema`` lacks are registered here, with Proxmox's messages,
as pve-network registers them when it loads.

``verify`` adds two things of ``PVE::RESTHandler``/``PVE::JSONSchema`` that the
shared validator does not do: a form-encoded scalar for an ``array``
parameter becomes a one-item list (and a list for a ``-list`` format is
joined with commas), and each ``dhcp-range`` item is checked against the
``pve-sdn-dhcp-range`` property-string format, its errors keyed
``dhcp-range[<n>]``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from simulator.errors import ApiError, param_error
from simulator.schema import FORMATS, FormatError, Param, Params, check_format, validate
from simulator.sdn.store import ZONE_TYPES


def _mac_addr(value: str) -> None:
    if not re.fullmatch(r"[a-f0-9][02468ace](?::[a-f0-9]{2}){5}", value, re.IGNORECASE):
        raise FormatError("value does not look like a valid unicast MAC address")


def _bgp_rt(value: str) -> None:
    match = re.fullmatch(r"(\d+):(\d+)", value)
    if not match or any(int(part) > 4294967295 for part in match.groups()):
        raise FormatError("value does not look like a valid bgp route-target")


def _fabric_id(value: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9-]{0,6}[a-zA-Z0-9]?", value):
        raise FormatError(f"Fabric ID '{value}' contains illegal characters")


def _subnet_id(value: str) -> None:
    """``parse_sdn_subnet_id``: a CIDR, or an id ``<zone>-<network>-<mask>``."""
    if "/" in value:
        cidr = value
    else:
        parts = [*value.split("-"), "", "", ""]
        cidr = f"{parts[1]}/{parts[2]}"
    for fmt in ("CIDRv4", "CIDRv6"):
        try:
            check_format(fmt, cidr)
        except FormatError:
            continue
        return
    raise FormatError("value does not look like a valid CIDR network")


for _name, _check in {
    "mac-addr": _mac_addr,
    "pve-sdn-bgp-rt": _bgp_rt,
    "pve-sdn-fabric-id": _fabric_id,
    "pve-sdn-subnet-id": _subnet_id,
}.items():
    FORMATS.setdefault(_name, _check)

_SDN_ID = Param(
    optional=False, pattern="[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]", min_length=2, max_length=8
)
_SUBNET_ID = Param(optional=False, format="pve-sdn-subnet-id")
_LOCK = {"lock-token": Param()}
_VIEW = {"pending": Param(type="boolean"), "running": Param(type="boolean")}
_UPDATE = {
    "digest": Param(max_length=64),
    "delete": Param(format="pve-configid-list", max_length=4096),
}

ZONE_PROPERTIES: Mapping[str, Param] = {
    "advertise-subnets": Param(type="boolean"),
    "bridge": Param(),
    "bridge-disable-mac-learning": Param(type="boolean"),
    "controller": Param(),
    "dhcp": Param(enum=("dnsmasq",)),
    "disable-arp-nd-suppression": Param(type="boolean"),
    "dns": Param(),
    "dnszone": Param(format="dns-name"),
    "dp-id": Param(type="integer"),
    "exitnodes": Param(format="pve-node-list"),
    "exitnodes-local-routing": Param(type="boolean"),
    "exitnodes-primary": Param(format="pve-node"),
    "fabric": Param(format="pve-sdn-fabric-id"),
    "ipam": Param(),
    "mac": Param(format="mac-addr"),
    "mtu": Param(type="integer"),
    "nodes": Param(format="pve-node-list"),
    "peers": Param(format="ip-list"),
    "reversedns": Param(),
    "rt-import": Param(format="pve-sdn-bgp-rt-list"),
    "tag": Param(type="integer", minimum=0),
    "vlan-protocol": Param(enum=("802.1q", "802.1ad")),
    "vrf-vxlan": Param(type="integer", minimum=1, maximum=16777215),
    "vxlan-port": Param(type="integer", minimum=1, maximum=65536),
}
VNET_PROPERTIES: Mapping[str, Param] = {
    "alias": Param(pattern=r"(?i:[\(\)-_.\w\d\s]{0,256})", max_length=256),
    "isolate-ports": Param(type="boolean"),
    "tag": Param(type="integer", minimum=1, maximum=16777215),
    "vlanaware": Param(type="boolean"),
}
SUBNET_PROPERTIES: Mapping[str, Param] = {
    "dhcp-dns-server": Param(format="ip"),
    "dhcp-range": Param(type="array"),
    "dnszoneprefix": Param(format="dns-name"),
    "gateway": Param(format="ip"),
    "snat": Param(type="boolean"),
}

ZONE_INDEX = {**_VIEW, "type": Param(enum=ZONE_TYPES)}
ZONE_READ = {**_VIEW, "zone": _SDN_ID}
ZONE_CREATE = {
    **ZONE_PROPERTIES,
    **_LOCK,
    "zone": _SDN_ID,
    "type": Param(optional=False, format="pve-configid", enum=ZONE_TYPES),
}
ZONE_UPDATE = {**ZONE_PROPERTIES, **_LOCK, **_UPDATE, "zone": _SDN_ID}
ZONE_DELETE = {**_LOCK, "zone": _SDN_ID}

VNET_INDEX = dict(_VIEW)
VNET_READ = {**_VIEW, "vnet": _SDN_ID}
VNET_CREATE = {
    **VNET_PROPERTIES,
    **_LOCK,
    "vnet": _SDN_ID,
    "zone": Param(optional=False),
    "type": Param(enum=("vnet",)),
}
VNET_UPDATE = {**VNET_PROPERTIES, **_LOCK, **_UPDATE, "vnet": _SDN_ID, "zone": Param()}
VNET_DELETE = {**_LOCK, "vnet": _SDN_ID}

SUBNET_INDEX = {**_VIEW, "vnet": _SDN_ID}
SUBNET_READ = {**_VIEW, "vnet": _SDN_ID, "subnet": _SUBNET_ID}
SUBNET_CREATE = {
    **SUBNET_PROPERTIES,
    **_LOCK,
    "subnet": _SUBNET_ID,
    "vnet": Param(optional=False),
    "type": Param(optional=False, enum=("subnet",)),
}
SUBNET_UPDATE = {**SUBNET_PROPERTIES, **_LOCK, **_UPDATE, "subnet": _SUBNET_ID, "vnet": Param()}
SUBNET_DELETE = {**_LOCK, "vnet": _SDN_ID, "subnet": _SUBNET_ID}

EMPTY: Mapping[str, Param] = {}
LOCK_CREATE = {"allow-pending": Param(type="boolean")}
LOCK_DELETE = {**_LOCK, "force": Param(type="boolean")}
RELEASE = {**_LOCK, "release-lock": Param(type="boolean")}


def _dhcp_range_error(text: str, path: str) -> str | None:
    """``parse_property_string('pve-sdn-dhcp-range', ...)``'s failure text, or None."""
    seen: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        match = re.fullmatch(r"([^=]+)=(.+)", part)
        if match is None:
            if "=" not in part:
                return "value without key, but schema does not define a default key\n"
            return "missing key in comma-separated list property\n"
        key = match[1]
        if key in seen:
            return f"duplicate key in comma-separated list property: {key}\n"
        if key not in ("start-address", "end-address"):
            return f"invalid key in comma-separated list property: {key}\n"
        seen[key] = match[2]
    missing = [k for k in ("start-address", "end-address") if k not in seen]
    if missing:
        lines = "".join(
            f"{path}.{k}: property is missing and it is not optional\n" for k in missing
        )
        return "format error\n" + lines
    return None


def _item_errors(params: Params, schema: Mapping[str, Param]) -> dict[str, str]:
    errors: dict[str, str] = {}
    for name, param in schema.items():
        value = params.get(name)
        if param.type != "array" or value is None:
            continue
        if not isinstance(value, list):
            errors[name] = "type check ('array') failed"
            continue
        for index, item in enumerate(value):
            path = f"{name}[{index}]"
            if problem := _dhcp_range_error(str(item), path):
                errors[path] = f"invalid format - {problem}"
    return errors


def normalise(params: Params, schema: Mapping[str, Param]) -> Params:
    """RESTHandler's legacy conversion of form values: scalars to lists, lists to comma lists."""
    result = dict(params)
    for name, param in schema.items():
        value = result.get(name)
        if not value:
            continue
        if (
            isinstance(value, list)
            and param.type == "string"
            and (param.format or "").endswith("-list")
        ):
            result[name] = ",".join(str(v) for v in value)
        elif not isinstance(value, list) and param.type == "array":
            result[name] = [value]
    return result


def verify(params: Params, schema: Mapping[str, Param]) -> Params:
    """Normalise and check ``params``; raise Proxmox's 400 with every failing parameter."""
    params = normalise(params, schema)
    errors: dict[str, Any] = {}
    try:
        validate(params, schema)
    except ApiError as exc:
        if exc.status != 400:
            raise
        errors.update(exc.errors or {})
    for name, message in _item_errors(params, schema).items():
        errors.setdefault(name, message)
    if errors:
        raise param_error(errors)
    return params
