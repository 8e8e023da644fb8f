"""The ``/cluster/sdn`` endpoints: index, apply, lock, rollback, zones, vnets, subnets.

Each handler verifies its parameters (path variables included) against the
method's declaration, then runs the matching ``ops``/``subnets``
function. Objects come back with Proxmox's field names and JSON types
(integers and booleans as numbers, ``digest``, ``state``/``pending`` in the
pending view).

``PUT /cluster/sdn`` commits the pending config and reloads every node
(``pvesh set /nodes/<node>/network`` on Proxmox). Its ``reloadnetworkall``
task only logs ``<node>: reloading network config`` per node and ends OK
even when a node's reload fails: each node's reload is its own ``srvreload``
task there. An armed ``task-fail`` fault makes the node reloads fail with its
message and the ``reloadnetworkall`` task end with the same error.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator.api import Reply, Request, Router
from simulator.errors import die, param_error
from simulator.perl import truthy
from simulator.schema import Params, split_list
from simulator.sdn import ops
from simulator.sdn import subnets as sdn_subnets
from simulator.sdn.ops import require_vnet
from simulator.sdn.schema import (
    EMPTY,
    LOCK_CREATE,
    LOCK_DELETE,
    RELEASE,
    SUBNET_CREATE,
    SUBNET_DELETE,
    SUBNET_INDEX,
    SUBNET_READ,
    SUBNET_UPDATE,
    VNET_CREATE,
    VNET_DELETE,
    VNET_INDEX,
    VNET_READ,
    VNET_UPDATE,
    ZONE_CREATE,
    ZONE_DELETE,
    ZONE_INDEX,
    ZONE_READ,
    ZONE_UPDATE,
    verify,
)
from simulator.sdn.store import SUBNETS, VNETS, ZONES, Ids, Kind
from simulator.sdn.views import pending_config, subnet_view, vnet_view, zone_view

if TYPE_CHECKING:
    from simulator.cluster import Cluster
    from simulator.sdn import Sdn

SDN_INDEX = ["vnets", "zones", "controllers", "ipams", "dns", "fabrics"]
NODE_RELOAD_USER = "root@pam"  # the per-node reload runs as `pvesh` on the node, i.e. as root


def _view(sdn: Sdn, kind: Kind, key: str, params: Params) -> tuple[Ids, str | None]:
    """The objects of one kind in the requested view, and the digest it carries."""
    if truthy(params.get("pending")):
        running = (sdn.running().get(key) or {}).get("ids")
        return pending_config(running, sdn.read(kind).ids), None
    if truthy(params.get("running")):
        return dict((sdn.running().get(key) or {}).get("ids") or {}), None
    current = sdn.read(kind)
    return current.ids, current.digest


def _take(params: Params, *names: str) -> list[Any]:
    """``extract_param`` for each name: remove it from ``params`` and return its value."""
    return [params.pop(name, None) for name in names]


def _delete_list(value: Any) -> list[str]:
    return split_list(str(value)) if truthy(value) else []


class _Handlers:
    """The endpoint functions of one cluster (``Router`` calls them with the path variables)."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.sdn = cluster.sdn

    # --- /cluster/sdn ---------------------------------------------------------------------------

    def index(self, request: Request) -> Reply:
        verify(request.params, EMPTY)
        return Reply([{"id": name} for name in SDN_INDEX])

    def apply(self, request: Request) -> Reply:
        params = verify(request.params, RELEASE)
        token, release = _take(params, "lock-token", "release-lock")
        refusal = ops.unsupported_zones(self.sdn)
        ops.commit(self.sdn, token, truthy(release), refusal)
        return Reply(self._reload_all(request))

    def _reload_all(self, request: Request) -> str:
        """The ``reloadnetworkall`` worker: reload each node, one ``srvreload`` task per node."""
        from simulator.node import api as node_api  # noqa: PLC0415 - it imports the cluster

        log: list[str] = []
        began = time.time()  # the worker starts before the node reloads it runs
        for name in sorted(self.cluster.nodes):
            node = self.cluster.nodes[name]
            log.append(f"{name}: reloading network config")
            node_log, error = node_api.reload_node(
                self.cluster, node, NODE_RELOAD_USER, request.task_failure
            )
            self.cluster.tasks.start(
                name, "srvreload", "networking", NODE_RELOAD_USER, node_log, error
            )
        api_node = next(iter(self.cluster.nodes))
        task = self.cluster.tasks.start(
            api_node, "reloadnetworkall", "", request.user, log, request.task_failure, began
        )
        return task.upid

    def lock(self, request: Request) -> Reply:
        params = verify(request.params, LOCK_CREATE)
        return Reply(ops.acquire_lock(self.sdn, truthy(params.get("allow-pending"))))

    def unlock(self, request: Request) -> Reply:
        params = verify(request.params, LOCK_DELETE)
        ops.release_lock(self.sdn, params.get("lock-token"), truthy(params.get("force")))
        return Reply(None)

    def rollback(self, request: Request) -> Reply:
        params = verify(request.params, RELEASE)
        token, release = _take(params, "lock-token", "release-lock")
        ops.rollback(self.sdn, token, truthy(release))
        return Reply(None)

    # --- zones ----------------------------------------------------------------------------------

    def zones(self, request: Request) -> Reply:
        params = verify(request.params, ZONE_INDEX)
        ids, digest = _view(self.sdn, ZONES, "zones", params)
        views = [zone_view(ids, zone, digest) for zone in sorted(ids)]
        wanted = params.get("type")
        return Reply([v for v in views if not wanted or v.get("type") == wanted])

    def zone(self, request: Request, zone: str) -> Reply:
        params = verify({**request.params, "zone": zone}, ZONE_READ)
        ids, digest = _view(self.sdn, ZONES, "zones", params)
        if zone not in ids:
            raise die(f"sdn '{zone}' does not exist")
        return Reply(zone_view(ids, zone, digest))

    def create_zone(self, request: Request) -> Reply:
        params = verify(request.params, ZONE_CREATE)
        zone_type, zone, token = _take(params, "type", "zone", "lock-token")
        ops.create_zone(self.sdn, zone, zone_type, params, token)
        return Reply(None)

    def update_zone(self, request: Request, zone: str) -> Reply:
        params = verify({**request.params, "zone": zone}, ZONE_UPDATE)
        _, digest, delete, token = _take(params, "zone", "digest", "delete", "lock-token")
        ops.update_zone(self.sdn, zone, params, digest, _delete_list(delete), token)
        return Reply(None)

    def delete_zone(self, request: Request, zone: str) -> Reply:
        params = verify({**request.params, "zone": zone}, ZONE_DELETE)
        ops.delete_zone(self.sdn, zone, params.get("lock-token"))
        return Reply(None)

    # --- vnets ----------------------------------------------------------------------------------

    def vnets(self, request: Request) -> Reply:
        params = verify(request.params, VNET_INDEX)
        ids, digest = _view(self.sdn, VNETS, "vnets", params)
        return Reply([vnet_view(ids, vnet, digest) for vnet in sorted(ids)])

    def vnet(self, request: Request, vnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet}, VNET_READ)
        require_vnet(self.sdn, vnet)
        ids, digest = _view(self.sdn, VNETS, "vnets", params)
        if vnet not in ids:
            raise die(f"sdn vnet '{vnet}' does not exist")
        return Reply(vnet_view(ids, vnet, digest))

    def create_vnet(self, request: Request) -> Reply:
        params = verify(request.params, VNET_CREATE)
        _, vnet, token = _take(params, "type", "vnet", "lock-token")
        ops.create_vnet(self.sdn, vnet, params, token)
        return Reply(None)

    def update_vnet(self, request: Request, vnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet}, VNET_UPDATE)
        _, digest, delete, token = _take(params, "vnet", "digest", "delete", "lock-token")
        ops.update_vnet(self.sdn, vnet, params, digest, _delete_list(delete), token)
        return Reply(None)

    def delete_vnet(self, request: Request, vnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet}, VNET_DELETE)
        ops.delete_vnet(self.sdn, vnet, params.get("lock-token"))
        return Reply(None)

    # --- subnets --------------------------------------------------------------------------------

    def subnets(self, request: Request, vnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet}, SUBNET_INDEX)
        require_vnet(self.sdn, vnet)
        ids, digest = _view(self.sdn, SUBNETS, "subnets", params)
        views = [subnet_view(ids, subnet, digest) for subnet in sorted(ids)]
        return Reply([v for v in views if truthy(v.get("vnet")) and v["vnet"] == vnet])

    def subnet(self, request: Request, vnet: str, subnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet, "subnet": subnet}, SUBNET_READ)
        require_vnet(self.sdn, vnet)
        ids, digest = _view(self.sdn, SUBNETS, "subnets", params)
        if subnet not in ids:
            raise die(f"sdn subnet '{subnet}' does not exist")
        data = subnet_view(ids, subnet, digest)
        if vnet != data.get("vnet"):
            raise param_error({"vnet": "wrong vnet"})
        return Reply(data)

    def create_subnet(self, request: Request, vnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet}, SUBNET_CREATE)
        _, cidr, token = _take(params, "type", "subnet", "lock-token")
        sdn_subnets.create_subnet(self.sdn, cidr, params, token)
        return Reply(None)

    def update_subnet(self, request: Request, vnet: str, subnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet, "subnet": subnet}, SUBNET_UPDATE)
        _, digest, delete, token = _take(params, "subnet", "digest", "delete", "lock-token")
        sdn_subnets.update_subnet(self.sdn, subnet, params, digest, _delete_list(delete), token)
        return Reply(None)

    def delete_subnet(self, request: Request, vnet: str, subnet: str) -> Reply:
        params = verify({**request.params, "vnet": vnet, "subnet": subnet}, SUBNET_DELETE)
        sdn_subnets.delete_subnet(self.sdn, vnet, subnet, params.get("lock-token"))
        return Reply(None)


def _serialised(sdn: Sdn, handler: Callable[..., Reply]) -> Callable[..., Reply]:
    """Run ``handler`` holding the SDN mutex, as Proxmox holds the cfs ``domain-sdn`` lock."""

    def run(request: Request, **path: str) -> Reply:
        with sdn.mutex:
            return handler(request, **path)

    return run


def register(router: Router, cluster: Cluster) -> None:
    """Add the ``/cluster/sdn`` endpoints of ``cluster`` to ``router``."""
    h = _Handlers(cluster)
    routes: list[tuple[str, str, Callable[..., Reply]]] = [
        ("GET", "/cluster/sdn", h.index),
        ("PUT", "/cluster/sdn", h.apply),
        ("POST", "/cluster/sdn/lock", h.lock),
        ("DELETE", "/cluster/sdn/lock", h.unlock),
        ("POST", "/cluster/sdn/rollback", h.rollback),
        ("GET", "/cluster/sdn/zones", h.zones),
        ("POST", "/cluster/sdn/zones", h.create_zone),
        ("GET", "/cluster/sdn/zones/{zone}", h.zone),
        ("PUT", "/cluster/sdn/zones/{zone}", h.update_zone),
        ("DELETE", "/cluster/sdn/zones/{zone}", h.delete_zone),
        ("GET", "/cluster/sdn/vnets", h.vnets),
        ("POST", "/cluster/sdn/vnets", h.create_vnet),
        ("GET", "/cluster/sdn/vnets/{vnet}", h.vnet),
        ("PUT", "/cluster/sdn/vnets/{vnet}", h.update_vnet),
        ("DELETE", "/cluster/sdn/vnets/{vnet}", h.delete_vnet),
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets", h.subnets),
        ("POST", "/cluster/sdn/vnets/{vnet}/subnets", h.create_subnet),
        ("GET", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", h.subnet),
        ("PUT", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", h.update_subnet),
        ("DELETE", "/cluster/sdn/vnets/{vnet}/subnets/{subnet}", h.delete_subnet),
    ]
    for method, template, handler in routes:
        router.add(method, template, _serialised(cluster.sdn, handler))
