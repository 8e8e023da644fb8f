"""Changes to the pending SDN config: zones, vnets, the global lock, apply and rollback.

Each function follows its pve-network handler (``PVE::API2::Network::SDN*``)
step by step, because the order of the checks decides which error a bad
request gets: what runs before ``lock_sdn_config`` fails plainly, what runs
inside it fails as ``"<errmsg>: <error>"`` (see ``simulator.sdn.errors``).
Subnets live in ``simulator.sdn.subnets``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from simulator.errors import ApiError
from simulator.perl import truthy
from simulator.sdn.errors import SdnError, as_api_error, fail, fail_at, in_lock, param_fail
from simulator.sdn.store import (
    ARRAY,
    SUBNETS,
    VNETS,
    ZONES,
    Kind,
    SdnStore,
    Section,
    decode_value,
    lock_token,
)
from simulator.sdn.views import pending_config, subnet_fields

T = TypeVar("T")


def locked(store: SdnStore, errmsg: str, token: str | None, work: Callable[[], T]) -> T:
    """``lock_sdn_config($work, $errmsg, $token)``: check the lock token, wrap failures."""
    current = store.lock()
    if current is not None and current != token:
        failure = fail_at("invalid lock token provided!", "Network/SDN.pm", 291)
        raise in_lock(errmsg, failure)
    try:
        return work()
    except SdnError as failure:
        raise in_lock(errmsg, failure) from None


def unlocked(work: Callable[[], T]) -> T:
    """Run handler code that sits outside the lock: failures reach the client unwrapped."""
    try:
        return work()
    except SdnError as failure:
        raise as_api_error(failure) from None


def check_config(kind: Kind, section_type: str, params: Mapping[str, Any], create: bool) -> Section:
    """SectionConfig ``check_config``: the plugin's options only, decoded; required on create."""
    options = kind.options[section_type]
    settings: Section = {"type": section_type}
    for key in sorted(params):
        if key not in options:
            raise fail(f"unexpected property '{key}'")
        value = params[key]
        if kind.kind(key) != ARRAY and re.search(r"[\n\r]", str(value)):
            raise fail("property contains a line feed")
        settings[key] = decode_value(kind.kind(key), value)
    if create:
        for key in sorted(options):
            if options[key] and params.get(key) is None:
                raise fail(f"missing value for required option '{key}'")
    return settings


def delete_options(
    section: Section, options: Mapping[str, bool], new: Section, delete: list[str]
) -> None:
    """SectionConfig ``delete_from_config``: drop optional keys that are not also being set."""
    for key in delete:
        if key not in options:
            raise fail(f"no such option '{key}'")
        if options[key]:
            raise fail(f"unable to delete required option '{key}'")
        if new.get(key) is not None:
            raise fail(f"cannot set and delete property '{key}' at the same time!")
        section.pop(key, None)


def assert_if_modified(current: str, digest: str | None) -> None:
    """PVE::Tools::assert_if_modified: a stale ``digest`` means someone else changed the file."""
    if current and digest and current != digest:
        raise fail("detected modified configuration - file changed by other user? Try again.")


def subnets_of(store: SdnStore, vnet: str) -> list[str]:
    """``Vnets::get_subnets``: ids of the pending subnets that belong to ``vnet``."""
    ids = store.read(SUBNETS).ids
    return [sid for sid in sorted(ids) if ids[sid].get("vnet") and ids[sid]["vnet"] == vnet]


def require_vnet(store: SdnStore, vnet: str) -> Section:
    """``$check_vnet_access``: the pending vnet, or the plain 500 for a missing one."""
    section = store.read(VNETS).ids.get(vnet)
    if section is None:
        raise as_api_error(fail(f"sdn vnet '{vnet}' does not exist"))
    return section


# --- zones ------------------------------------------------------------------------------------


def _check_zone_services(opts: Section) -> None:
    """The DNS and IPAM references of a zone; the simulator has no DNS servers, only IPAM 'pve'."""
    if truthy(opts.get("dns")):
        raise param_fail("dns", f"{opts['dns']} don't exist")
    if truthy(opts.get("reversedns")):
        raise param_fail("reversedns", f"{opts['reversedns']} don't exist")
    if truthy(opts.get("dnszone")):
        raise param_fail("dnszone", "missing dns server")
    if truthy(opts.get("ipam")) and opts["ipam"] != "pve":
        raise param_fail("ipam", f"{opts['ipam']} not existing")


def create_zone(
    store: SdnStore, zone: str, zone_type: str, params: Mapping[str, Any], token: str | None
) -> None:
    """POST /cluster/sdn/zones."""
    opts = unlocked(lambda: check_config(ZONES, zone_type, params, create=True))

    def work() -> None:
        zones = store.read(ZONES)
        if zone in zones.ids:
            raise fail(f"sdn zone object ID '{zone}' already defined")
        _check_zone_services(opts)
        zones.ids[zone] = opts
        store.write(ZONES, zones.ids)

    locked(store, "create sdn zone object failed", token, work)


def update_zone(
    store: SdnStore,
    zone: str,
    params: Mapping[str, Any],
    digest: str | None,
    delete: list[str],
    token: str | None,
) -> None:
    """PUT /cluster/sdn/zones/{zone}."""

    def work() -> None:
        zones = store.read(ZONES)
        assert_if_modified(zones.digest, digest)
        section = zones.ids.get(zone)
        if section is None:
            raise fail(f"sdn '{zone}' does not exist")
        opts = check_config(ZONES, section["type"], params, create=False)
        old_ipam = section.get("ipam")
        delete_options(section, ZONES.options[section["type"]], opts, delete)
        section.update(opts)
        new_ipam = section.get("ipam")
        if truthy(old_ipam) != truthy(new_ipam) or (new_ipam or "") != (old_ipam or ""):
            for subnet in sorted(store.read(SUBNETS).ids):
                if subnet_fields(subnet)["zone"] == zone:
                    raise param_fail(
                        "ipam", "can't change ipam if a subnet is already defined in this zone"
                    )
        _check_zone_services(opts)
        store.write(ZONES, zones.ids)

    locked(store, "update sdn zone object failed", token, work)


def delete_zone(store: SdnStore, zone: str, token: str | None) -> None:
    """DELETE /cluster/sdn/zones/{zone}: refused while a vnet uses the zone."""

    def work() -> None:
        zones = store.read(ZONES)
        if zone not in zones.ids:
            raise fail(f"sdn '{zone}' does not exist")
        vnets = store.read(VNETS).ids
        for vnet in sorted(vnets):
            if vnets[vnet].get("type") == "vnet" and vnets[vnet].get("zone") == zone:
                message = f"zone {zone} is used by vnet {vnet}"
                raise fail_at(message, "Network/SDN/Zones/Plugin.pm", 148)
        del zones.ids[zone]
        store.write(ZONES, zones.ids)

    locked(store, "delete sdn zone object failed", token, work)


# --- vnets ------------------------------------------------------------------------------------


def _zone_vnet_hook(store: SdnStore, vnets: dict[str, Section], vnet: str, line: int) -> None:
    """The zone plugin's ``vnet_update_hook`` (simple and vlan zones; others accept any vnet)."""
    section = vnets[vnet]
    zone = store.read(ZONES).ids.get(section.get("zone", ""))
    if zone is None:  # Zones::Plugin->lookup(undef) croaks in the caller's frame
        raise fail_at("cannot lookup undefined type!", "API2/Network/SDN/Vnets.pm", line)
    tag = section.get("tag")
    if zone["type"] == "simple" and tag is not None:
        raise param_fail("tag", "vlan tag is not allowed on simple zone")
    # SimplePlugin also sets a random 'mac' here, but 'mac' is no vnet option, so the
    # SectionConfig writer drops it: vnets made through the API never carry one.
    if zone["type"] == "vlan":
        if tag is None:
            raise param_fail("tag", "missing vlan tag")
        if tag > 4096:
            raise param_fail("tag", "vlan tag max value is 4096")
        for other in sorted(vnets):
            theirs = vnets[other]
            same_zone = other != vnet and theirs.get("zone") == section["zone"]
            if same_zone and theirs.get("tag") and str(theirs["tag"]) == str(tag):
                raise param_fail("tag", f"tag {tag} already exist in vnet {other}")


def _vnet_update_hook(store: SdnStore, vnets: dict[str, Section], vnet: str) -> None:
    """VnetPlugin ``on_update_hook``: a vlan-aware vnet cannot have subnets."""
    if truthy(vnets[vnet].get("vlanaware")) and subnets_of(store, vnet):
        raise param_fail("vlanaware", "vlanaware vnet is not compatible with subnets")


def create_vnet(store: SdnStore, vnet: str, params: Mapping[str, Any], token: str | None) -> None:
    """POST /cluster/sdn/vnets."""

    def work() -> None:
        vnets = store.read(VNETS)
        opts = check_config(VNETS, "vnet", params, create=True)
        if vnet in vnets.ids:
            raise fail(f"sdn vnet object ID '{vnet}' already defined")
        vnets.ids[vnet] = opts
        _zone_vnet_hook(store, vnets.ids, vnet, 326)
        _vnet_update_hook(store, vnets.ids, vnet)
        store.write(VNETS, vnets.ids)

    locked(store, "create sdn vnet object failed", token, work)


def update_vnet(
    store: SdnStore,
    vnet: str,
    params: Mapping[str, Any],
    digest: str | None,
    delete: list[str],
    token: str | None,
) -> None:
    """PUT /cluster/sdn/vnets/{vnet}."""
    require_vnet(store, vnet)

    def work() -> None:
        vnets = store.read(VNETS)
        assert_if_modified(vnets.digest, digest)
        opts = check_config(VNETS, "vnet", params, create=False)
        data = vnets.ids.setdefault(vnet, {"type": "vnet"})
        old_zone = data.get("zone")
        delete_options(data, VNETS.options["vnet"], opts, delete)
        data.update(opts)
        if not truthy(data.get("zone")):
            raise param_fail("zone", "cannot delete zone")
        if subnets_of(store, vnet) and old_zone != data["zone"]:
            raise param_fail("zone", "can't change zone if subnets exist")
        _zone_vnet_hook(store, vnets.ids, vnet, 402)
        _vnet_update_hook(store, vnets.ids, vnet)
        store.write(VNETS, vnets.ids)

    locked(store, "update sdn vnet object failed", token, work)


def delete_vnet(store: SdnStore, vnet: str, token: str | None) -> None:
    """DELETE /cluster/sdn/vnets/{vnet}: refused while subnets exist."""
    require_vnet(store, vnet)

    def work() -> None:
        vnets = store.read(VNETS)
        if vnet not in vnets.ids:
            raise fail(f"sdn vnet '{vnet}' does not exist")
        if subnets_of(store, vnet):
            raise param_fail("vnet", "Can't delete vnet if subnets exists")
        del vnets.ids[vnet]
        store.write(VNETS, vnets.ids)

    locked(store, "delete sdn vnet object failed", token, work)


# --- lock, apply, rollback --------------------------------------------------------------------

_KINDS = (("zones", ZONES), ("vnets", VNETS), ("subnets", SUBNETS))


def has_pending_changes(store: SdnStore) -> bool:
    """Whether any zone, vnet or subnet differs from the running config."""
    running = store.running()
    for key, kind in _KINDS:
        merged = pending_config((running.get(key) or {}).get("ids"), store.read(kind).ids)
        if any("pending" in entry for entry in merged.values()):
            return True
    return False


def acquire_lock(store: SdnStore, allow_pending: bool) -> str:
    """POST /cluster/sdn/lock: a new token, refused while locked or (by default) pending."""

    def work() -> str:
        if not allow_pending and has_pending_changes(store):
            raise fail_at("configuration has pending changes", "API2/Network/SDN.pm", 149)
        token = lock_token()
        store.set_lock(token)
        return token

    return locked(store, "could not acquire lock for SDN config", None, work)


def release_lock(store: SdnStore, token: str | None, force: bool) -> None:
    """DELETE /cluster/sdn/lock: with the token, or unconditionally with ``force``."""
    if force:
        store.set_lock(None)
        return
    locked(store, "could not release lock", token, lambda: store.set_lock(None))


def commit(store: SdnStore, token: str | None, release: bool, refusal: ApiError | None) -> int:
    """The synchronous part of PUT /cluster/sdn: pending config -> running config, version + 1.

    The lock is released only when a token was given and ``release-lock`` was
    sent true: the schema documents a default of 1, but Proxmox never applies
    schema defaults, so an omitted ``release-lock`` keeps the lock.
    ``refusal`` (the simulator cannot apply the pending config) is raised
    once the lock token has been accepted.
    """

    def work() -> int:
        if refusal is not None:
            raise refusal
        version = store.running().get("version")
        version = int(version) + 1 if version else 1
        config: dict[str, Any] = {key: {"ids": store.read(kind).ids} for key, kind in _KINDS}
        config.update(version=version, controllers={"ids": {}}, fabrics={"ids": {}})
        store.write_running(config)
        if truthy(token) and release:
            store.set_lock(None)
        return version

    return locked(store, "could not commit SDN config", token, work)


def rollback(store: SdnStore, token: str | None, release: bool) -> None:
    """POST /cluster/sdn/rollback: the pending files become the running config again."""

    def work() -> None:
        running = store.running()
        for key, kind in _KINDS:
            ids = (running.get(key) or {}).get("ids") or {}
            store.write(kind, {object_id: ids[object_id] for object_id in sorted(ids)})
        if truthy(token) and release:
            store.set_lock(None)

    locked(store, "could not rollback SDN configuration", token, work)


def unsupported_zones(store: SdnStore) -> ApiError | None:
    """The simulator applies Simple zones only; the refusal for any other pending zone type."""
    zones = store.read(ZONES).ids
    for zone in sorted(zones):
        if zones[zone]["type"] != "simple":
            return ApiError(
                501,
                f"simulator: cannot apply zone '{zone}' of type '{zones[zone]['type']}' "
                "(only 'simple' zones are simulated)\n",
            )
    return None
