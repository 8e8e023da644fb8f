"""The fault matrix: every request of every change, failed every way a network fails it.

For each change (a NodeInterfaces set created, updated, deleted; an SdnNetwork created,
updated, deleted; SdnNetworks changing one network and adding another in one apply), a
clean run records its requests. Then, on a fresh simulator each time, every one of those
requests is made to fail once, in every way that applies to it: a bare
500, a dropped connection (not carried out), a lost answer (carried out), an answer later
than the client waits (carried out late), a lock timeout (staging writes), a failed task
(applies). After each faulted change:

- nothing is left staged on the node, nothing pending in the SDN config, no SDN lock held;
- the node and the SDN config are as before the change or as its target, nothing between;
- the message is true: a failure that says the node is as before (or unchanged, or that
  nothing was applied) leaves it so; a success leaves the target;
- running the same change again (as the next ``pulumi up`` would) succeeds and reaches the
  target.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from provider.engine import ConfiguredProvider
from provider.node.resource import NodeInterfacesProvider
from provider.sdn.networks import SdnNetworksProvider
from provider.sdn.resource import SdnNetworkProvider
from simulator.faults import Fault
from simulator.node import INTERFACES_NEW
from simulator.testing import SimulatorHandle, running_simulator
from tests.provider.conftest import stack_config

TIMEOUT_S = 0.25  # how long the providers wait for an answer here
LATE_S = 0.4  # a 'delay' answers after the client gave up: the request lands late
UPID = re.compile(r"UPID:[^/]+")
AS_BEFORE = ("is as before", "the node is unchanged", "nothing was applied", "nothing was changed")

NODE_SET_A: list[dict[str, Any]] = [
    {"iface": "bond0", "type": "bond", "slaves": ["eno2", "eno3"], "bond_mode": "active-backup"},
    {"iface": "vmbr1", "type": "bridge", "bridge_ports": ["bond0"], "cidr": "10.1.0.2/24"},
    {"iface": "vmbr1.20", "type": "vlan", "cidr": "10.20.0.2/24"},
]
NODE_SET_B: list[dict[str, Any]] = [
    {"iface": "bond0", "type": "bond", "slaves": ["eno2", "eno3"], "bond_mode": "active-backup"},
    {"iface": "vmbr1", "type": "bridge", "bridge_ports": ["bond0"], "cidr": "10.1.0.3/24"},
    {"iface": "vmbr2", "type": "bridge", "bridge_ports": ["eno4"], "mtu": 1400},
]
SDN_A = {
    "zone": "labnat",
    "vnet": "labnet",
    "subnets": [
        {
            "cidr": "10.10.10.0/24",
            "gateway": "10.10.10.1",
            "snat": True,
            "dhcp_ranges": [{"start": "10.10.10.100", "end": "10.10.10.200"}],
        }
    ],
}
SDN_B = {
    **SDN_A,
    "subnets": [
        {**SDN_A["subnets"][0], "gateway": "10.10.10.254"},
        {"cidr": "10.11.0.0/24", "gateway": "10.11.0.1"},
    ],
}


@dataclass
class Providers:
    """The providers, configured for one simulator as the engine configures them."""

    sim: SimulatorHandle
    node: NodeInterfacesProvider
    sdn: SdnNetworkProvider
    networks: SdnNetworksProvider


def _configured(provider: ConfiguredProvider, sim: SimulatorHandle) -> Any:
    config = {**stack_config(sim), "pvenet:timeout": str(TIMEOUT_S)}
    provider.configure(ConfigureRequest(Config(config, "pvenet")))
    return provider


def _inputs(provider: Any, news: dict[str, Any], olds: dict[str, Any] | None = None) -> Any:
    result = provider.check(olds or {}, news)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


State = dict[str, Any]  # what a setup leaves for the change: ids and outputs


@dataclass(frozen=True)
class Change:
    """A change: what exists before it (``setup``) and the change itself (``run``)."""

    setup: Callable[[Providers], State]
    run: Callable[[Providers, State], None]


def _node_create(p: Providers, state: State) -> None:
    p.node.create(_inputs(p.node, {"node": "pve1", "interfaces": NODE_SET_A}))


def _node_setup(p: Providers) -> State:
    created = p.node.create(_inputs(p.node, {"node": "pve1", "interfaces": NODE_SET_A}))
    return {"id": created.id, "outs": dict(created.outs or {})}


def _node_update(p: Providers, state: State) -> None:
    news = _inputs(p.node, {"node": "pve1", "interfaces": NODE_SET_B}, state["outs"])
    p.node.update(state["id"], state["outs"], news)


def _node_delete(p: Providers, state: State) -> None:
    p.node.delete(state["id"], state["outs"])


def _sdn_create(p: Providers, state: State) -> None:
    p.sdn.create(_inputs(p.sdn, dict(SDN_A)))


def _sdn_setup(p: Providers) -> State:
    created = p.sdn.create(_inputs(p.sdn, dict(SDN_A)))
    return {"id": created.id, "outs": dict(created.outs or {})}


def _sdn_update(p: Providers, state: State) -> None:
    p.sdn.update(state["id"], state["outs"], _inputs(p.sdn, dict(SDN_B), state["outs"]))


def _sdn_delete(p: Providers, state: State) -> None:
    p.sdn.delete(state["id"], state["outs"])


SDN_ROUTED = {
    "zone": "pubrt",
    "vnet": "pubnet",
    "subnets": [{"cidr": "203.0.113.16/28", "gateway": "203.0.113.17"}],
}


def _networks_setup(p: Providers) -> State:
    created = p.networks.create(_inputs(p.networks, {"networks": [SDN_A]}))
    return {"id": created.id, "outs": dict(created.outs or {})}


def _networks_update(p: Providers, state: State) -> None:
    news = _inputs(p.networks, {"networks": [SDN_B, SDN_ROUTED]}, state["outs"])
    p.networks.update(state["id"], state["outs"], news)


CHANGES = {
    "node-create": Change(lambda p: {}, _node_create),
    "node-update": Change(_node_setup, _node_update),
    "node-delete": Change(_node_setup, _node_delete),
    "sdn-create": Change(lambda p: {}, _sdn_create),
    "sdn-update": Change(_sdn_setup, _sdn_update),
    "sdn-delete": Change(_sdn_setup, _sdn_delete),
    "sdn-networks-update": Change(_networks_setup, _networks_update),
}


@dataclass(frozen=True)
class Shot:
    """One fault: a kind, on the nth request matching a method and path."""

    kind: str
    method: str
    path: str
    nth: int

    def fault(self) -> Fault:
        seconds = LATE_S if self.kind == "delay" else 0.0
        return Fault(self.kind, method=self.method, path=self.path, nth=self.nth, seconds=seconds)


def _kinds(method: str, path: str) -> list[str]:
    kinds = ["error", "drop", "lost", "delay"]
    if method != "GET" and re.fullmatch(r"/nodes/[^/]+/network(/[^/]+)?", path):
        if path.count("/") == 4 or method == "POST":
            kinds.append("lock-timeout")  # a staging write
        elif method == "PUT":
            kinds.append("task-fail")  # the node's apply
    if method == "PUT" and path == "/cluster/sdn":
        kinds.append("task-fail")
    return kinds


@contextmanager
def _providers(directory: Path) -> Iterator[Providers]:
    with running_simulator(state_dir=directory) as sim:
        yield Providers(
            sim,
            _configured(NodeInterfacesProvider(), sim),
            _configured(SdnNetworkProvider(), sim),
            _configured(SdnNetworksProvider(), sim),
        )


def _state(sim: SimulatorHandle) -> dict[str, Any]:
    """What the node runs and the cluster's running SDN config (what a change changes)."""
    api = sim.proxmox()
    interfaces = {
        i["iface"]: {k: v for k, v in i.items() if k not in ("priority", "active")}
        for i in api.nodes("pve1").network.get()
    }
    vnets = api.cluster.sdn.vnets.get(running=1)
    return {
        "interfaces": interfaces,
        "zones": api.cluster.sdn.zones.get(running=1),
        "vnets": vnets,
        "subnets": {
            v["vnet"]: api.cluster.sdn.vnets(v["vnet"]).subnets.get(running=1) for v in vnets
        },
    }


def _leftovers(sim: SimulatorHandle) -> list[str]:
    """What a change may not leave behind: staged interfaces, pending SDN objects, a lock."""
    found = []
    if sim.files("pve1")[INTERFACES_NEW] is not None:
        found.append("interfaces.new is staged")
    api = sim.proxmox()
    for kind in ("zones", "vnets"):
        pending = [o for o in api.cluster.sdn(kind).get(pending=1) if o.get("state")]
        if pending:
            found.append(f"pending SDN {kind}: {pending}")
    for vnet in api.cluster.sdn.vnets.get():
        pending = [
            o for o in api.cluster.sdn.vnets(vnet["vnet"]).subnets.get(pending=1) if o.get("state")
        ]
        if pending:
            found.append(f"pending SDN subnets of {vnet['vnet']}: {pending}")
    if _locked(sim):
        found.append("the SDN config is locked")
    return found


def _locked(sim: SimulatorHandle) -> bool:
    """Whether someone holds the SDN lock: a token-less lock request is refused."""
    api = sim.proxmox()
    try:
        token = api.cluster.sdn.lock.post(**{"allow-pending": 1})
    except Exception:  # any refusal: the lock is held
        return True
    api.cluster.sdn.lock.delete(**{"lock-token": token})
    return False


def _shots(change: Change, directory: Path) -> tuple[list[Shot], dict[str, Any], dict[str, Any]]:
    """The faults to try (one per request of a clean run and kind), the state before the
    change and its target."""
    with _providers(directory) as p:
        state = change.setup(p)
        before = _state(p.sim)
        p.sim.requests.clear()
        change.run(p, state)
        calls = [(e.method, UPID.sub("*", e.path)) for e in p.sim.requests.entries()]
        target = _state(p.sim)
    seen: dict[tuple[str, str], int] = {}
    shots = []
    for method, path in calls:
        seen[(method, path)] = seen.get((method, path), 0) + 1
        shots += [Shot(kind, method, path, seen[(method, path)]) for kind in _kinds(method, path)]
    return shots, before, target


def _problems(change: Change, shot: Shot, directory: Path, before: Any, target: Any) -> list[str]:
    """Run the change with ``shot`` armed, then again; what went wrong, if anything."""
    problems: list[str] = []
    with _providers(directory) as p:
        state = change.setup(p)
        p.sim.faults.arm(shot.fault())
        try:
            change.run(p, state)
            message = None
        except Exception as error:
            message = str(error)
        if shot.kind == "delay":
            time.sleep(LATE_S)  # let the late request land: what it does must be undone already
        p.sim.faults.clear()
        now = _state(p.sim)
        problems += _leftovers(p.sim)
        if now not in (before, target):
            problems.append("the node is neither as before nor as the target")
        if message is None and now != target:
            problems.append("reported success, but the target is not live")
        if message is not None and any(claim in message for claim in AS_BEFORE) and now != before:
            problems.append(f"says the node is as before, but it is not: {message}")
        if message is not None:
            try:
                change.run(p, state)
            except Exception as error:
                problems.append(f"the rerun failed: {error}")
            if _state(p.sim) != target:
                problems.append("the rerun did not reach the target")
            problems += [f"after the rerun: {left}" for left in _leftovers(p.sim)]
    return [f"{shot}: {problem} (first message: {message})" for problem in problems]


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_every_fault_on_every_request_leaves_a_consistent_node_and_the_rerun_converges(
    name: str, tmp_path: Path
) -> None:
    change = CHANGES[name]
    shots, before, target = _shots(change, tmp_path / "clean")
    assert before != target
    problems: list[str] = []
    for index, shot in enumerate(shots):
        problems += _problems(change, shot, tmp_path / f"shot-{index}", before, target)
    assert problems == [], f"{len(problems)} problems in {len(shots)} faults:\n" + "\n".join(
        problems
    )
