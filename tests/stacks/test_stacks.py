"""The root program's dev and prod stacks, end to end against the simulator over HTTPS.

The root program reads ``pvenet:networks`` from ``Pulumi.<stack>.yaml``; the
local engine (Pulumi's mocks driving the real providers) deploys it as
``pulumi up`` would: a preview writes nothing, an up leaves each node with
the files Proxmox writes (``tests/expected/stack-*``), a second up writes
nothing, a change is one apply per changed network, and destroy leaves
every node (interfaces and running SDN config) as it started.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from components.local_engine import LocalEngine
from components.project import PROJECT_ROOT, load_project
from provider.host.render import RENDERED_FILES
from simulator.node import INTERFACES, INTERFACES_NEW, SDN_INTERFACES
from simulator.testing import SimulatorHandle, running_simulator
from tests.programs import (
    applies,
    connected,
    expected,
    expected_host_files,
    host_files,
    node_state,
    ssh_to,
    writes,
)

ROOT = load_project(PROJECT_ROOT)
NETWORKS = "pvenet:networks"
NODE_APPLY = "/nodes/{}/network"
SDN_APPLY = "/cluster/sdn"
# Pulumi.prod.yaml names placeholder nodes; the test's simulator has pve1 and pve2.
PROD_NODES = {"pve-a": "pve1", "pve-b": "pve2"}


def changed(config: Mapping[str, Any], edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """A copy of ``config`` whose ``pvenet:networks`` ``edit`` changed."""
    result = copy.deepcopy(dict(config))
    edit(result[NETWORKS])
    return result


def dev_config(sim: SimulatorHandle) -> dict[str, Any]:
    """Pulumi.dev.yaml's config, connected to ``sim``."""
    return connected(ROOT.stack_config("dev"), sim)


def prod_config(sim: SimulatorHandle) -> dict[str, Any]:
    """Pulumi.prod.yaml's config with its node names and endpoint replaced by the simulator's."""

    def rename(networks: dict[str, Any]) -> None:
        for entries in networks.values():
            for entry in entries:
                if "node" in entry:
                    entry["node"] = PROD_NODES[entry["node"]]

    return changed(connected(ROOT.stack_config("prod"), sim), rename)


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[SimulatorHandle]:
    """A simulated cluster of pve1 and pve2 (NICs eno1..eno4 each)."""
    with running_simulator(state_dir=tmp_path / "cluster", nodes=("pve1", "pve2")) as sim:
        yield sim


def test_dev_stack_previews_deploys_stays_changes_and_destroys(
    simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every mode on pve1: the files Proxmox writes, one node apply and one SDN apply for all
    six networks, one set of host rules for the forwards and the classic masquerade, a no-op
    second run, a change of two networks (again one of each), and a destroy back to the
    installer's node."""
    ssh_to(simulator, monkeypatch)
    before = node_state(simulator)
    engine = LocalEngine(dev_config(simulator))
    program = ROOT.program()

    engine.run(program, preview=True)
    assert writes(simulator) == [], "a preview must not write"
    assert engine.state == {}

    engine.run(program)
    assert sorted(engine.steps("create")) == ["pve1-host-rules", "pve1-interfaces", "sdn-networks"]
    assert sorted(applies(simulator)) == [SDN_APPLY, NODE_APPLY.format("pve1")]
    files = simulator.files()
    assert files[INTERFACES] == expected("stack-dev/pve1", "interfaces")
    assert files[SDN_INTERFACES] == expected("stack-dev/pve1", "sdn")
    assert files[INTERFACES_NEW] is None, "nothing left staged"
    assert host_files(simulator) == expected_host_files("stack-dev/pve1")
    assert engine.outputs == {
        "dmz": {"mode": "bridged", "attach": "vmbr2", "gateway": None, "cidr": None},
        "uplink": {"mode": "bonded", "attach": "vmbr1", "gateway": None, "cidr": None},
        "storage": {"mode": "vlans", "attach": "vmbr1.20", "gateway": None, "cidr": "10.20.0.2/24"},
        "public": {
            "mode": "routed",
            "attach": "pubnet",
            "gateway": "203.0.113.17",
            "cidr": "203.0.113.16/28",
        },
        "lab": {
            "mode": "nat",
            "attach": "labnet",
            "gateway": "10.10.10.1",
            "cidr": "10.10.10.0/24",
        },
        "build": {
            "mode": "masquerade",
            "attach": "vmbr5",
            "gateway": "10.30.0.1",
            "cidr": "10.30.0.0/24",
        },
    }

    simulator.requests.clear()
    engine.run(program)
    assert writes(simulator) == [], "a second run with nothing changed writes nothing"
    assert len(engine.steps("same")) == 3

    def edit(networks: dict[str, Any]) -> None:
        networks["vlans"][0]["cidr"] = "10.20.0.3/24"
        networks["nat"][0]["dhcp_range"] = ["10.10.10.50", "10.10.10.99"]
        networks["nat"][0]["forwards"][0]["port"] = 8081

    engine.config = changed(engine.config, edit)
    simulator.requests.clear()
    engine.run(program)
    assert sorted(engine.steps("update")) == ["pve1-host-rules", "pve1-interfaces", "sdn-networks"]
    rules = host_files(simulator)[RENDERED_FILES[0]] or ""
    assert "fib daddr type local tcp dport 8081 dnat ip to 10.10.10.5:80" in rules
    assert sorted(applies(simulator)) == [SDN_APPLY, NODE_APPLY.format("pve1")]
    assert "iface vmbr1.20 inet static\n\taddress 10.20.0.3/24\n" in simulator.files()[INTERFACES]
    subnets = simulator.proxmox().cluster.sdn.vnets("labnet").subnets.get(running=1)
    assert [s["dhcp-range"] for s in subnets] == [
        [{"start-address": "10.10.10.50", "end-address": "10.10.10.99"}]
    ]

    engine.destroy()
    assert engine.state == {}
    assert node_state(simulator) == before, "destroy leaves the node as it started"
    assert set(host_files(simulator).values()) == {None}, "and nothing of pvenet's"


def test_prod_stack_deploys_each_node_and_changes_only_the_one_edited(
    two_nodes: SimulatorHandle,
) -> None:
    """The prod data on a two-node simulator: one set per node and one for the SDN networks,
    each node's files, a no-op second run, an edit of one node's bond applied on that node
    only, and a destroy back to the start."""
    nodes = ("pve1", "pve2")
    before = node_state(two_nodes, nodes)
    engine = LocalEngine(prod_config(two_nodes), stack="prod")
    program = ROOT.program()

    engine.run(program)
    assert sorted(engine.steps("create")) == ["pve1-interfaces", "pve2-interfaces", "sdn-networks"]
    assert not [n for n, _s in engine.operations if "host" in n], "no host rules, no SSH"
    for node in nodes:
        files = two_nodes.files(node)
        assert files[INTERFACES] == expected(f"stack-prod/{node}", "interfaces")
        assert files[SDN_INTERFACES] == expected(f"stack-prod/{node}", "sdn")
    assert any("LACP" in m for m in engine.logs.messages()), "the LACP reminder"

    two_nodes.requests.clear()
    engine.run(program)
    assert writes(two_nodes) == []

    def edit(networks: dict[str, Any]) -> None:
        networks["bonded"][1]["hash_policy"] = "layer2+3"

    engine.config = changed(engine.config, edit)
    engine.run(program)
    assert engine.steps("update") == ["pve2-interfaces"]
    assert applies(two_nodes) == [NODE_APPLY.format("pve2")]
    assert "bond-xmit-hash-policy layer2+3" in (two_nodes.files("pve2")[INTERFACES] or "")
    assert two_nodes.files("pve1")[INTERFACES] == expected("stack-prod/pve1", "interfaces")

    engine.destroy()
    assert node_state(two_nodes, nodes) == before


def test_a_bridge_on_a_bond_of_another_network_is_one_set_with_it(
    simulator: SimulatorHandle,
) -> None:
    """``bridged`` is read before ``bonded``; a bridge whose port is a bond declared under
    ``bonded`` is in one set with it, created and destroyed with one apply each (the planner
    stages the bond first, and deletes the bridge first)."""
    before = node_state(simulator)
    networks = {
        "bridged": [{"name": "lan", "node": "pve1", "bridge": "vmbr3", "ports": ["bond1"]}],
        "bonded": [{"name": "pair", "node": "pve1", "bond": "bond1", "slaves": ["eno3", "eno4"]}],
    }
    engine = LocalEngine(connected({NETWORKS: networks}, simulator))

    engine.run(ROOT.program())
    assert engine.steps("create") == ["pve1-interfaces"]
    assert simulator.proxmox().nodes("pve1").network("vmbr3").get()["bridge_ports"] == "bond1"
    assert applies(simulator) == [NODE_APPLY.format("pve1")]

    engine.destroy()
    assert engine.steps("delete") == ["pve1-interfaces"]
    assert node_state(simulator) == before
