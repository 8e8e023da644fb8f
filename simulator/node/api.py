"""``/nodes/{node}/network``: the node network API, as pve-manager's API2/Network.pm serves it.

Writes never touch the live file: each POST, PUT or DELETE reads the pending
config (``interfaces.new`` if it exists, else ``interfaces``), changes one
interface, runs the writer's checks and writes the whole file to
``interfaces.new``. ``PUT /nodes/{node}/network`` starts a task that moves
``interfaces.new`` into place, regenerates the SDN file and runs the
equivalent of ``ifreload -a``; ``DELETE /nodes/{node}/network`` discards the
pending file. Handlers keep Proxmox's order of checks and its quirks (PUT
recomputes families and methods from the request alone, ``bridge_vids`` is
normalised on POST only, ...).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from simulator.api import Reply, Request, Router
from simulator.errors import die, param_error
from simulator.node import INTERFACES, INTERFACES_NEW, SDN_INTERFACES, Node, ifreload
from simulator.node.checks import check_config
from simulator.node.config import (
    LINUX_BOND_MODES,
    PORT_KEYS,
    NetworkConfig,
    Stanza,
    copied,
    ports_of,
)
from simulator.node.diff import unified_diff
from simulator.node.read import read_interfaces
from simulator.node.reread import read_again
from simulator.node.write import render_interfaces
from simulator.schema import Param, Params, is_ipv6, split_list, validate

if TYPE_CHECKING:
    from simulator.cluster import Cluster

NETWORK_TYPES = (
    "bridge",
    "bond",
    "eth",
    "alias",
    "vlan",
    "fabric",
    "OVSBridge",
    "OVSBond",
    "OVSPort",
    "OVSIntPort",
    "vnet",
)
BOND_MODES = (
    *LINUX_BOND_MODES,
    "balance-slb",
    "lacp-balance-slb",
    "lacp-balance-tcp",
)

_NODE = Param(optional=False, format="pve-node")
_IFACE = Param(optional=False, format="pve-iface", min_length=2, max_length=20)

INTERFACE_PROPERTIES: dict[str, Param] = {
    "type": Param(optional=False, enum=(*NETWORK_TYPES, "unknown")),
    "comments": Param(),
    "comments6": Param(),
    "autostart": Param(type="boolean"),
    "bridge_vlan_aware": Param(type="boolean"),
    "bridge_vids": Param(format="pve-vlan-id-or-range-list"),
    "bridge_ports": Param(format="pve-iface-list"),
    "ovs_ports": Param(format="pve-iface-list"),
    "ovs_tag": Param(type="integer", minimum=1, maximum=4094),
    "ovs_options": Param(max_length=1024),
    "ovs_bridge": Param(format="pve-iface"),
    "slaves": Param(format="pve-iface-list"),
    "ovs_bonds": Param(format="pve-iface-list"),
    "bond_mode": Param(enum=BOND_MODES),
    "bond-primary": Param(format="pve-iface"),
    "bond_xmit_hash_policy": Param(enum=("layer2", "layer2+3", "layer3+4")),
    "vlan-raw-device": Param(format="pve-iface"),
    "vlan-id": Param(type="integer", minimum=1, maximum=4094),
    "gateway": Param(format="ipv4"),
    "netmask": Param(format="ipv4mask", requires="address"),
    "address": Param(format="ipv4", requires="netmask"),
    "cidr": Param(format="CIDRv4"),
    "mtu": Param(type="integer", minimum=1280, maximum=65520),
    "gateway6": Param(format="ipv6"),
    "netmask6": Param(type="integer", minimum=0, maximum=128, requires="address6"),
    "address6": Param(format="ipv6", requires="netmask6"),
    "cidr6": Param(format="CIDRv6"),
}

_INDEX = {
    "node": _NODE,
    "type": Param(enum=(*NETWORK_TYPES, "any_bridge", "any_local_bridge", "include_sdn")),
}
_CREATE = {**INTERFACE_PROPERTIES, "node": _NODE, "iface": _IFACE}
_UPDATE = {**_CREATE, "delete": Param(format="pve-configid-list")}
_ONE = {"node": _NODE, "iface": _IFACE}
_RELOAD = {"node": _NODE, "regenerate-frr": Param(type="boolean")}
_REVERT = {"node": _NODE}


# --- reading and writing the node's file ---------------------------------------------------


@functools.lru_cache(maxsize=8)
def _read(text: str, nics: tuple[str, ...], active: frozenset[str]) -> NetworkConfig:
    """The file as Proxmox reads it, kept by its text and the node's links: a node read again
    while nothing changed is not parsed again, a file written anew is read where it differs
    from one read before (``reread``). Its stanzas are never changed (``editable``)."""
    return read_again(text, nics, active)


def read_config(node: Node) -> NetworkConfig:
    """The config API reads see: the pending file if there is one, else the live file.

    Its ``ifaces`` and ``options`` are the caller's own; its stanzas are shared with
    the next reads of the same file: change one only through ``editable``.
    """
    text = node.read(INTERFACES_NEW)
    if text is None:
        text = node.read(INTERFACES) or ""
    read = _read(text, tuple(node.nics), frozenset(node.active))
    return NetworkConfig(dict(read.ifaces), list(read.options))


def editable(ifaces: dict[str, Stanza], name: str) -> Stanza:
    """The stanza ``name`` of a config from ``read_config``, made the config's own to change
    (its lists stay shared: replace them, never change them in place)."""
    stanza = ifaces[name] = dict(ifaces[name])
    return stanza


def write_config(node: Node, config: NetworkConfig) -> None:
    """Run the writer's checks, then write the whole file to ``interfaces.new``."""
    check_config(config)
    node.write(INTERFACES_NEW, render_interfaces(config))


def pending_changes(node: Node) -> str | None:
    """The ``changes`` diff of the pending file against the live one, or None."""
    new = node.read(INTERFACES_NEW)
    if new is None:
        return None
    old = node.read(INTERFACES) or ""
    return unified_diff(
        old,
        new,
        INTERFACES,
        INTERFACES_NEW,
        node.mtime_ns(INTERFACES),
        node.mtime_ns(INTERFACES_NEW),
    )


def autostarted(node: Node, text: str) -> set[str]:
    """Links that are up after ``ifreload -a`` of ``text``: auto interfaces and their members."""
    ifaces = read_interfaces(text, node.nics).ifaces
    up = {name for name, s in ifaces.items() if s.get("autostart") and name != "lo"}
    for name in list(up):
        up.update(ports_of(ifaces[name]))
    return up


def reload_node(
    cluster: Cluster,
    node: Node,
    user: str,
    failure: str | None,
    ignored: str | None = None,
    *,
    staged: bool = True,
) -> tuple[list[str], str | None]:
    """What the reload worker does on one node; returns the task log and its error, if any.

    ``interfaces.new`` is moved into place first (``staged``: the API's apply and
    pvenetcommit at boot do it; a bare ``ifreload -a`` does not), so a failed reload
    leaves the new file live, as on Proxmox. ``ignored`` (an armed ``ignore`` fault) is an
    option the node silently leaves out of every stanza it makes live. After a
    reload that succeeded, ``cluster.reloaded`` hooks run (the SSH face: ifupdown2's
    if-up.d scripts and the kernel forgetting routes of links that went).
    """
    if staged and node.exists(INTERFACES_NEW):
        node.rename(INTERFACES_NEW, INTERFACES)
    live = node.read(INTERFACES) or ""
    if ignored:
        live = "".join(
            line
            for line in live.splitlines(keepends=True)
            if not (line.startswith("\t") and line.split()[:1] == [ignored])
        )
        node.write(INTERFACES, live)
    sdn = cluster.sdn.render(node)
    node.write(SDN_INTERFACES, sdn.text)
    log = list(sdn.warnings)
    if not re.search(r"^source /etc/network/interfaces\.d/(sdn|\*)", live, re.M):
        log.append(
            "WARN: missing 'source /etc/network/interfaces.d/sdn' directive for SDN support!"
        )
    errors = ifreload.problems(live, node.read(SDN_INTERFACES), node.nics)
    log.extend(f"{iface} : error: {iface}: {message}" for iface, message in errors)
    if failure is not None:
        return log, failure
    if errors:
        return log, "command 'ifreload -a' failed: exit code 1"
    node.active = autostarted(node, live) | ifreload.sdn_vnets(node.read(SDN_INTERFACES))
    node.applied = live
    for hook in cluster.reloaded:
        hook(node)
    return log, None


# --- request checks that API2/Network.pm makes before writing --------------------------------


def _check_duplicate_gateway(ifaces: dict[str, Stanza], iface: str, key: str, what: str) -> None:
    for name, stanza in ifaces.items():
        if name != iface and stanza.get(key):
            raise param_error({key: f"{what} already exists on interface '{name}'."})


def _check_duplicate_ports(ifaces: dict[str, Stanza], iface: str, params: Params) -> None:
    given = [k for k in PORT_KEYS if params.get(k)]
    wanted = set(split_list(" ".join(str(params[k]) for k in given)))
    if not wanted:
        return
    for name, stanza in ifaces.items():
        if name == iface or stanza.keys().isdisjoint(PORT_KEYS):  # most: asked here, for speed
            continue
        for port in ports_of(stanza):
            if port in wanted:
                raise param_error({given[0]: f"{port} is already used on interface '{name}'."})


def _map_cidr(params: Params) -> None:
    for suffix in ("", "6"):
        cidr = params.pop("cidr" + suffix, None)
        if not cidr:
            continue
        if params.get("address" + suffix):
            raise param_error({"address" + suffix: f"address{suffix} conflicts with cidr{suffix}"})
        if params.get("netmask" + suffix):
            raise param_error({"netmask" + suffix: f"netmask{suffix} conflicts with cidr{suffix}"})
        address, mask = str(cidr).rsplit("/", 1)
        params["address" + suffix], params["netmask" + suffix] = address, mask


# Net::IP's kinds of IPv6 address (the version Debian ships), longest prefix first.
_IPV6_KINDS = sorted(
    (
        (ipaddress.IPv6Network(cidr), kind)
        for cidr, kind in (
            ("::/8", "RESERVED"),
            ("100::/8", "RESERVED"),
            ("200::/7", "RESERVED"),
            ("400::/6", "RESERVED"),
            ("800::/5", "RESERVED"),
            ("1000::/4", "RESERVED"),
            ("2000::/3", "GLOBAL-UNICAST"),
            ("4000::/3", "RESERVED"),
            ("6000::/3", "RESERVED"),
            ("8000::/3", "RESERVED"),
            ("a000::/3", "RESERVED"),
            ("c000::/3", "RESERVED"),
            ("e000::/4", "RESERVED"),
            ("f000::/5", "RESERVED"),
            ("f800::/6", "RESERVED"),
            ("fa00::/7", "RESERVED"),
            ("fc00::/7", "UNIQUE-LOCAL-UNICAST"),
            ("fe00::/9", "RESERVED"),
            ("fe80::/10", "LINK-LOCAL-UNICAST"),
            ("fec0::/10", "RESERVED"),
            ("ff00::/8", "MULTICAST"),
            ("2001:db8::/32", "RESERVED"),
            ("::/96", "IPV4COMP"),
            ("::ffff:0:0/96", "IPV4MAP"),
            ("::/128", "UNSPECIFIED"),
            ("::1/128", "LOOPBACK"),
        )
    ),
    key=lambda entry: -entry[0].prefixlen,
)
_HOST_IPV6_KINDS = ("GLOBAL-UNICAST", "UNIQUE-LOCAL-UNICAST", "LINK-LOCAL-UNICAST")


def _ipv6_kind(address: ipaddress.IPv6Address) -> str | None:
    return next((kind for net, kind in _IPV6_KINDS if address in net), None)


def _check_ipv6(address: str, netmask: int) -> None:
    """Proxmox accepts only unicast host addresses (global, unique-local, link-local)."""
    if netmask < 0 or netmask > 128:
        raise param_error({"netmask": f"{netmask} is not a valid subnet length for ipv6"})
    if not is_ipv6(address):
        raise param_error({"address": f"{address} is not a valid host IPv6 address."})
    ip = ipaddress.IPv6Address(address)
    mask = ipaddress.IPv6Network(f"::/{netmask}").netmask
    kind = "ANYCAST" if ip == mask else _ipv6_kind(ip)
    if kind is not None and kind not in _HOST_IPV6_KINDS:
        raise param_error(
            {"address": f"{address} with type '{kind}', cannot be used as host IPv6 address."}
        )


def _normalise_vids(params: Params) -> None:
    if params.get("bridge_vids") and not split_list(str(params["bridge_vids"])):
        raise param_error({"bridge_vids": "VLAN list items are empty"})
    if params.get("bridge_vids"):
        params["bridge_vids"] = " ".join(split_list(str(params["bridge_vids"])))


def _families(params: Params, keep: Iterable[str] = ()) -> list[str]:
    families = [f for f in keep if f not in ("inet", "inet6")]
    if params.get("address"):
        families.append("inet")
    if params.get("address6"):
        families.append("inet6")
    return families or ["inet"]


def _require_ovs(params: Params) -> None:
    """This simulated node has no Open vSwitch, like a default Proxmox install."""
    if str(params["type"]).startswith("OVS"):
        raise die("Open VSwitch is not installed (need package 'openvswitch-switch')")


# --- handlers ------------------------------------------------------------------------------


def register(router: Router, cluster: Cluster) -> None:
    """Add the node network endpoints to ``router``."""

    def index(request: Request, node: str) -> Reply:
        target = cluster.node(node)
        params = validate({**request.params, "node": node}, _INDEX)
        ifaces = read_config(target).ifaces
        ifaces.pop("lo", None)
        type_filter = params.get("type")
        if type_filter:
            if type_filter != "include_sdn":
                bridge_filter = type_filter in ("any_bridge", "any_local_bridge")
                ifaces = {
                    name: s
                    for name, s in ifaces.items()
                    if s.get("type") == type_filter
                    or (bridge_filter and s.get("type") in ("bridge", "OVSBridge"))
                }
            if type_filter in ("any_bridge", "include_sdn", "vnet"):
                ifaces.update(cluster.sdn.local_vnets(target))
        names = sorted(ifaces)
        data = [copied(ifaces[name]) for name in names]
        for item, name in zip(data, names, strict=True):
            item["iface"] = name
        changes = pending_changes(target)
        return Reply(data, {"changes": changes} if changes else {})

    def create(request: Request, node: str) -> Reply:
        target = cluster.node(node)
        params = validate({**request.params, "node": node}, _CREATE)
        params = {k: v for k, v in params.items() if k not in ("node", "iface")}
        iface = str(request.params["iface"])
        config = read_config(target)
        ifaces = config.ifaces
        if iface in ifaces:
            raise param_error({"iface": "interface already exists"})
        if params.get("gateway"):
            _check_duplicate_gateway(ifaces, iface, "gateway", "Default gateway")
        if params.get("gateway6"):
            _check_duplicate_gateway(ifaces, iface, "gateway6", "Default ipv6 gateway")
        _check_duplicate_ports(ifaces, iface, params)
        _map_cidr(params)
        if params.get("address6"):
            _check_ipv6(str(params["address6"]), int(params.get("netmask6") or 0))
        params["families"] = _families(params)
        params["method"] = "static" if params.get("address") else "manual"
        params["method6"] = "static" if params.get("address6") else "manual"
        _require_ovs(params)
        _normalise_vids(params)
        ifaces[iface] = params
        write_config(target, config)
        return Reply(None)

    def update(request: Request, node: str, iface: str) -> Reply:
        target = cluster.node(node)
        params = validate({**request.params, "node": node, "iface": iface}, _UPDATE)
        delete = str(params.pop("delete", "") or "")
        params = {k: v for k, v in params.items() if k not in ("node", "iface")}
        config = read_config(target)
        ifaces = config.ifaces
        if iface not in ifaces:
            raise param_error({"iface": "interface does not exist"})
        stored = editable(ifaces, iface)
        for key in split_list(delete):
            stored.pop(key, None)
            if key in ("cidr", "cidr6"):
                suffix = key.removeprefix("cidr")
                stored.pop("netmask" + suffix, None)
                stored.pop("address" + suffix, None)
        _map_cidr(params)
        if params.get("gateway"):
            _check_duplicate_gateway(ifaces, iface, "gateway", "Default gateway")
        if params.get("gateway6"):
            _check_duplicate_gateway(ifaces, iface, "gateway6", "Default ipv6 gateway")
        _check_duplicate_ports(ifaces, iface, params)
        if params.get("address6"):
            _check_ipv6(str(params["address6"]), int(params.get("netmask6") or 0))
        params["families"] = _families(params)
        params["method"] = "static" if params.get("address") else "manual"
        params["method6"] = "static" if params.get("address6") else "manual"
        stored.update(params)
        if params.get("bridge_vids") and not split_list(str(params["bridge_vids"])):
            raise param_error({"bridge_vids": "VLAN list items are empty"})
        write_config(target, config)
        return Reply(None)

    def read_one(request: Request, node: str, iface: str) -> Reply:
        target = cluster.node(node)
        validate({**request.params, "node": node, "iface": iface}, _ONE)
        ifaces = read_config(target).ifaces
        if iface not in ifaces:
            raise param_error({"iface": "interface does not exist"})
        return Reply(copied(ifaces[iface]))

    def delete(request: Request, node: str, iface: str) -> Reply:
        target = cluster.node(node)
        validate({**request.params, "node": node, "iface": iface}, _ONE)
        config = read_config(target)
        ifaces = config.ifaces
        if iface not in ifaces:
            raise param_error({"iface": "interface does not exist"})
        stanza = ifaces.pop(iface)
        bridge = ifaces.get(str(stanza.get("ovs_bridge") or ""))
        if stanza.get("type") in ("OVSIntPort", "OVSBond") and bridge and bridge.get("ovs_ports"):
            bridge = editable(ifaces, str(stanza["ovs_bridge"]))
            bridge["ovs_ports"] = " ".join(
                p for p in str(bridge["ovs_ports"]).split() if p != iface
            )
        write_config(target, config)
        return Reply(None)

    def reload(request: Request, node: str) -> Reply:
        target = cluster.node(node)
        validate({**request.params, "node": node}, _RELOAD)
        log, error = reload_node(
            cluster, target, request.user, request.task_failure, request.ignored_setting
        )
        task = cluster.tasks.start(node, "srvreload", "networking", request.user, log, error)
        return Reply(task.upid)

    def revert(request: Request, node: str) -> Reply:
        target = cluster.node(node)
        validate({**request.params, "node": node}, _REVERT)
        target.remove(INTERFACES_NEW)
        return Reply(None)

    router.add("GET", "/nodes/{node}/network", index)
    router.add("POST", "/nodes/{node}/network", create)
    router.add("PUT", "/nodes/{node}/network", reload)
    router.add("DELETE", "/nodes/{node}/network", revert)
    router.add("GET", "/nodes/{node}/network/{iface}", read_one)
    router.add("PUT", "/nodes/{node}/network/{iface}", update)
    router.add("DELETE", "/nodes/{node}/network/{iface}", delete)
