"""Cluster-wide SDN (pve-network) of the simulated cluster: Simple zones, vnets, subnets.

The config is cluster-wide and two-staged like on Proxmox: writes to
``/cluster/sdn/{zones,vnets,subnets}`` change the *pending* config, and
``PUT /cluster/sdn`` copies it into the *running* config (version + 1) and
reloads every node's network, which writes ``/etc/network/interfaces.d/sdn``
from the running config. PVE 9's optional global lock guards all of it.

Modules:

``store``        the files (``zones.cfg``... ``.running-config``, ``.lock``, IPAM state)
``schema``       the methods' parameter declarations and their verification
``views``        the GET views (current, ``running=1``, ``pending=1``)
``ops``          zone/vnet changes, lock, apply and rollback, in Proxmox's order of checks
``subnets``      subnet changes, their checks and the PVE IPAM
``render``       the per-node SDN file and vnet list
``api``          the endpoints
``errors``       how pve-network's failures read to a client
"""

from __future__ import annotations

import threading
from pathlib import Path

from simulator.node import Node, routes
from simulator.sdn.api import register
from simulator.sdn.render import Rendered, local_vnets, render
from simulator.sdn.store import SdnStore

__all__ = ["Rendered", "Sdn", "register"]


class Sdn(SdnStore):
    """The SDN config of one cluster, persisted in ``directory``, and what it means per node."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.mutex = threading.RLock()  # one SDN change at a time, like the cfs domain lock

    def render(self, node: Node) -> Rendered:
        """The SDN file for ``node`` from the running config, with the reload's warnings.

        ``ip route get 8.8.8.8`` (``2001:4860:4860::8888`` for an IPv6
        subnet) is answered from the kernel's default route of that family
        (``simulator.node.routes``), which comes from the file the last successful
        reload applied: the reload that writes this file runs ``ifreload -a``
        only after it. Without such a route, the vnet is left out with a
        warning, as Proxmox does when the route lookup fails.
        """

        def route_get(target: str) -> tuple[str, str] | None:
            return routes.route_get(node.applied, node.nics, target)

        with self.mutex:
            return render(self.running(), node.name, route_get)

    def render_interfaces(self, node: Node) -> str:
        """The exact text Proxmox writes to ``/etc/network/interfaces.d/sdn`` on ``node``.

        Proxmox regenerates the file on every node reload: it is empty while
        the SDN config was never applied, and ``#version:<N>`` alone when the
        running config has no vnet for the node.
        """
        return self.render(node).text

    def local_vnets(self, node: Node) -> dict[str, dict[str, object]]:
        """The running vnets on ``node``, as ``GET /nodes/{node}/network`` lists them."""
        with self.mutex:
            return local_vnets(self.running(), node.name)
