"""The simulated cluster: its nodes, the cluster-wide SDN config, tasks and faults.

``Cluster`` owns the state directory and the route table. Every API call, over
HTTPS or from ``replay``, ends in ``Cluster.handle``. The layout of the state
directory:

``cluster.json``            node names and their physical NICs
``nodes/<node>/etc/...``    each node's network files, as on a real node
``sdn/``                    SDN pending and running config, lock
``tasks/``                  finished and running tasks (UPIDs, logs)
``faults.json``             armed fault injections (see ``simulator.faults``)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from simulator import sdn, tasks
from simulator.api import Reply, Request, Router
from simulator.errors import ApiError, die
from simulator.faults import Fault, Faults
from simulator.node import INTERFACES, Node, installer_interfaces
from simulator.node import api as node_api
from simulator.node.routes import default_route

DEFAULT_NICS = ("eno1", "eno2", "eno3", "eno4")


def _default_address(index: int) -> tuple[str, str]:
    """Management address and gateway of the n-th node, as an installer would set them."""
    return f"192.168.10.{2 + index}/24", "192.168.10.1"


class Cluster:
    """A cluster of simulated nodes persisted in ``state_dir``."""

    def __init__(
        self,
        state_dir: Path,
        nodes: list[str] | None = None,
        nics: list[str] | None = None,
        interfaces: str | None = None,
    ) -> None:
        """Open (or create) the cluster in ``state_dir``.

        Nodes named in ``nodes`` that the state does not know yet are added
        with ``nics`` and ``interfaces`` (the installer's file when None);
        nodes already in the state keep their files.
        """
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.nodes: dict[str, Node] = {}
        self.addresses: dict[str, str] = {}
        saved = self._load_layout()
        for name, (node_nics, address) in saved.items():
            self.nodes[name] = Node(name, node_nics, self._node_root(name))
            self.addresses[name] = address
        for name in nodes or ([] if saved else ["pve1"]):
            if name not in self.nodes:
                self._add_node(name, list(nics or DEFAULT_NICS), interfaces)
        self._save_layout()
        self.tasks = tasks.Tasks(self.state_dir / "tasks")
        self.faults = Faults(self.state_dir / "faults.json")
        self.sdn = sdn.Sdn(self.state_dir / "sdn")
        self.reloaded: list[Callable[[Node], None]] = []
        """Run after each successful ``ifreload -a`` of a node (``simulator.ssh`` adds one)."""
        self.router = Router()
        node_api.register(self.router, self)
        sdn.register(self.router, self)
        tasks.register(self.router, self)
        self._register_cluster_routes()

    def _node_root(self, name: str) -> Path:
        return self.state_dir / "nodes" / name

    def _load_layout(self) -> dict[str, tuple[list[str], str]]:
        path = self.state_dir / "cluster.json"
        if not path.exists():
            return {}
        data = json.loads(path.read_text())
        return {name: (list(spec["nics"]), str(spec["ip"])) for name, spec in data["nodes"].items()}

    def _save_layout(self) -> None:
        layout = {
            "nodes": {
                name: {"nics": node.nics, "ip": self.addresses[name]}
                for name, node in self.nodes.items()
            }
        }
        (self.state_dir / "cluster.json").write_text(json.dumps(layout, indent=2) + "\n")

    def _add_node(self, name: str, nics: list[str], interfaces: str | None) -> None:
        node = Node(name, nics, self._node_root(name))
        address, gateway = _default_address(len(self.nodes))
        if interfaces is None:
            interfaces = installer_interfaces(nics, address, gateway)
        # the node's address in /etc/hosts, as the installer sets it: the gateway interface's
        route = default_route(interfaces, nics, 4)
        self.addresses[name] = route[1] if route else address.split("/")[0]
        node.write(INTERFACES, interfaces)
        node.active = node_api.autostarted(node, interfaces)
        node.applied = interfaces
        self.nodes[name] = node

    def node(self, name: str) -> Node:
        """The node called ``name``, or the error pveproxy gives for an unknown node."""
        try:
            return self.nodes[name]
        except KeyError:
            raise die(
                f"hostname lookup '{name}' failed - failed to get address info for: "
                f"{name}: Name or service not known"
            ) from None

    def handle(self, request: Request, fault: Fault | None = None) -> Reply:
        """Answer one API call, after applying an armed fault that matched it."""
        if fault is not None:
            if fault.kind == "error":
                raise ApiError(fault.status, fault.message)
            if fault.kind == "lock-timeout":
                raise die("can't lock file '/etc/network/.pve-interfaces.lock' - got timeout")
            if fault.kind == "task-fail":
                request = replace(request, task_failure=fault.message)
            if fault.kind == "ignore":
                request = replace(request, ignored_setting=fault.setting)
        return self.router.dispatch(request)

    def _register_cluster_routes(self) -> None:
        self.router.add("GET", "/version", self._version)
        self.router.add("GET", "/nodes", self._nodes)
        self.router.add("GET", "/cluster/status", self._status)

    def _version(self, request: Request) -> Reply:
        return Reply({"version": "9.1.1", "release": "9.1", "repoid": "42ab1f0e"})

    def _status(self, request: Request) -> Reply:
        """Cluster membership as pvecm sees it: each node with its cluster address."""
        entries: list[dict[str, object]] = [
            {
                "type": "cluster",
                "id": "cluster",
                "name": "pvenet-sim",
                "nodes": len(self.nodes),
                "quorate": 1,
                "version": len(self.nodes),
            }
        ]
        for index, name in enumerate(sorted(self.nodes), start=1):
            entries.append(
                {
                    "type": "node",
                    "id": f"node/{name}",
                    "name": name,
                    "ip": self.addresses[name],
                    "nodeid": index,
                    "online": 1,
                    "local": 1 if index == 1 else 0,
                    "level": "",
                }
            )
        return Reply(entries)

    def _nodes(self, request: Request) -> Reply:
        return Reply(
            [
                {"node": name, "status": "online", "type": "node", "id": f"node/{name}"}
                for name in sorted(self.nodes)
            ]
        )
