"""The node network API's names and formats, both ways (pure).

What the API lists becomes a ``Spec`` (the interfaces pvenet models) or a ``Link`` (the
planner's view of any interface); a ``Spec`` becomes the form parameters of a POST or PUT.
Only this module knows Proxmox's wire format for interfaces: hyphenated names
(``bond-primary``), space-separated lists, 1/0 booleans, ``delete=`` lists, ``method``
and ``families``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from provider.node.model import (
    DOTTED_VLAN_RE,
    NUMBERED_VLAN_RE,
    BondSpec,
    BridgeSpec,
    EthSpec,
    Spec,
    VlanSpec,
)
from provider.node.plan import Link


def _split(value: Any) -> list[str]:
    return sorted(str(value or "").replace(",", " ").replace(";", " ").split())


_COMMON_KEYS = ("cidr", "gateway", "cidr6", "gateway6", "mtu", "comments")
DYNAMIC_METHODS = ("dhcp", "auto")
"""``method``/``method6`` values by which the node gets its address itself (DHCP, SLAAC)."""


def spec_from_api(name: str, item: Mapping[str, Any]) -> Spec | None:
    """The spec of an interface as the API shows it, or None for types pvenet does not model."""
    common: dict[str, Any] = {
        "iface": name,
        "cidr": item.get("cidr"),
        "gateway": item.get("gateway") or None,
        "cidr6": item.get("cidr6"),
        "gateway6": item.get("gateway6") or None,
        "mtu": int(item["mtu"]) if item.get("mtu") else None,
        "autostart": bool(int(item.get("autostart") or 0)),
        "comments": str(item["comments"]).removesuffix("\n") if item.get("comments") else None,
    }
    kind = item.get("type")
    if kind == "bridge":
        aware = bool(item.get("bridge_vlan_aware"))
        return BridgeSpec.model_construct(
            **common,
            type="bridge",
            bridge_ports=_split(item.get("bridge_ports")),
            bridge_vlan_aware=aware,
            bridge_vids=str(item.get("bridge_vids") or "2-4094").split() if aware else None,
        )
    if kind == "bond":
        return BondSpec.model_construct(
            **common,
            type="bond",
            slaves=_split(item.get("slaves")),
            bond_mode=item.get("bond_mode") or "balance-rr",
            bond_primary=item.get("bond-primary") or None,
            bond_xmit_hash_policy=item.get("bond_xmit_hash_policy") or None,
        )
    if kind == "vlan":
        return VlanSpec.model_construct(
            **common,
            type="vlan",
            **_vlan_fields(name, item.get("vlan-raw-device"), item.get("vlan-id")),
        )
    if kind == "eth":
        return EthSpec.model_construct(**common, type="eth")
    return None


def _vlan_fields(name: str, raw_device: Any, vlan_id: Any) -> dict[str, Any]:
    """VLAN fields in canonical form: nothing the name already says."""
    if DOTTED_VLAN_RE.fullmatch(name):
        return {"vlan_raw_device": None, "vlan_id": None}
    if NUMBERED_VLAN_RE.fullmatch(name):
        return {"vlan_raw_device": raw_device or None, "vlan_id": None}
    return {"vlan_raw_device": raw_device or None, "vlan_id": int(vlan_id) if vlan_id else None}


def canonical(spec: Spec) -> Spec:
    """A desired spec in the form the API reads back (VLAN ids from names, default VIDs)."""
    if isinstance(spec, VlanSpec):
        return spec.model_copy(update=_vlan_fields(spec.iface, spec.vlan_raw_device, spec.vlan_id))
    if isinstance(spec, BridgeSpec) and spec.bridge_vlan_aware and spec.bridge_vids is None:
        return spec.model_copy(update={"bridge_vids": ["2-4094"]})
    return spec


def link_from_api(name: str, item: Mapping[str, Any]) -> Link:
    """The planner's view of any interface the API lists."""
    kind = str(item.get("type") or "unknown")
    ports = _split(
        item.get("bridge_ports")
        if kind == "bridge"
        else item.get("slaves")
        if kind == "bond"
        else ""
    )
    parent = item.get("vlan-raw-device") if kind == "vlan" else None
    dotted = DOTTED_VLAN_RE.fullmatch(name)
    return Link(
        name=name,
        kind=kind,
        ports=frozenset(ports),
        parent=dotted["parent"] if dotted and kind == "vlan" else parent,
        mtu=int(item["mtu"]) if str(item.get("mtu") or "").isdigit() else None,
        gateway=bool(item.get("gateway")),
        gateway6=bool(item.get("gateway6")),
        addressed=(item.get("method") == "static" and bool(item.get("address")))
        or (item.get("method6") == "static" and bool(item.get("address6"))),
        primary=item.get("bond-primary") if kind == "bond" else None,
        dynamic=", ".join(
            f"{family} {item[key]}"
            for family, key in (("inet", "method"), ("inet6", "method6"))
            if item.get(key) in DYNAMIC_METHODS
        )
        or None,
    )


def stanza_of(spec: Spec) -> dict[str, Any]:
    """The interface as Proxmox stores it after POSTing ``spec`` (for rendering at preview)."""
    stanza: dict[str, Any] = {k: v for k, v in to_params(spec, None).items() if k != "delete"}
    for suffix in ("", "6"):
        if cidr := stanza.pop("cidr" + suffix, None):
            stanza["address" + suffix], stanza["netmask" + suffix] = str(cidr).rsplit("/", 1)
    families = [f for f, s in (("inet", ""), ("inet6", "6")) if stanza.get("address" + s)]
    stanza["families"] = families or ["inet"]
    stanza["method"] = "static" if stanza.get("address") else "manual"
    stanza["method6"] = "static" if stanza.get("address6") else "manual"
    return stanza


def _wire_settings(spec: Spec) -> dict[str, Any]:
    """Every setting of ``spec`` under its wire name; None where the spec has none."""
    values: dict[str, Any] = {key: getattr(spec, key) for key in _COMMON_KEYS}
    if isinstance(spec, BridgeSpec):
        values["bridge_ports"] = " ".join(spec.bridge_ports) or None
        values["bridge_vlan_aware"] = 1 if spec.bridge_vlan_aware else None
        values["bridge_vids"] = " ".join(spec.bridge_vids) if spec.bridge_vids else None
    if isinstance(spec, BondSpec):
        values["slaves"] = " ".join(spec.slaves) or None
        values["bond_mode"] = spec.bond_mode
        values["bond-primary"] = spec.bond_primary
        values["bond_xmit_hash_policy"] = spec.bond_xmit_hash_policy
    if isinstance(spec, VlanSpec) and not DOTTED_VLAN_RE.fullmatch(spec.iface):
        values["vlan-raw-device"] = spec.vlan_raw_device
        if not NUMBERED_VLAN_RE.fullmatch(spec.iface):
            values["vlan-id"] = spec.vlan_id
    return values


def to_params(spec: Spec, before: Spec | None) -> dict[str, Any]:
    """Form parameters that make the staged interface equal ``spec``.

    PUT recomputes the address family and method from the request alone, so
    every write carries the full L3 state; settings ``before`` had and ``spec``
    lacks are removed with ``delete=``.
    """
    params: dict[str, Any] = {"type": spec.type, "autostart": 1 if spec.autostart else 0}
    wanted = _wire_settings(spec)
    had = _wire_settings(before) if before is not None else {}
    params.update({key: value for key, value in wanted.items() if value is not None})
    removed = sorted(
        key for key, value in had.items() if value is not None and wanted.get(key) is None
    )
    if removed:
        params["delete"] = ",".join(removed)
    return params
