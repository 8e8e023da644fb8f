"""The planner's search: the plain greedy search's steps, found without its quadratic cost.

``plan`` checks a candidate write only against the rules it takes part in, and
sets one that does not fit aside until something it looked at changes
(``provider.node.plan``). Its steps must be exactly those of the plain search
it replaces, which at every step tries every interface in order against the
whole node (``greedy_plan`` below, the reference): same writes, same order,
same intermediate configs, same errors. Worlds here are random and need not be
valid, so both the search and its refusals are compared; the simulator-backed
property (``test_plan_property``) proves the steps are accepted by a node.

Also pinned: the relaxed create (an interface staged without what others still
hold, before its final config) that a bridge moving onto a new bond while raising
its MTU needs, and the memo that lets the transaction reuse the plan ``check``
made.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tests.provider.test_plan_property as planned_on_a_node
from provider.node import plan as planner
from provider.node.model import BondSpec, BridgeSpec, EthSpec, Spec, VlanSpec
from provider.node.plan import Link, PlanError, Step, fresh_plan, link_of, plan, violations
from provider.node.transaction import resolve
from provider.node.verify import verify
from simulator.cluster import Cluster
from tests.simulator.conftest import NodeApi

# --- the reference: the plain greedy search --------------------------------------------------


def _apply(links: Mapping[str, Link], name: str, spec: Spec | None) -> dict[str, Link]:
    changed = dict(links)
    if spec is None:
        changed.pop(name, None)
    else:
        changed[name] = link_of(spec)
    return changed


def _candidate(
    name: str, target: Spec | None, links: Mapping[str, Link], specs: Mapping[str, Spec]
) -> Spec | None:
    """The relaxed write the plain search tries for ``name``, None when there is none."""
    current = specs.get(name)
    if current is not None:
        relaxed = planner._relaxed(current, target)
        return None if relaxed == current else relaxed
    if name in links or target is None:
        return None
    created = planner._relaxed_create(target, planner._Wiring(links))
    return None if created is None or created == target else created


def greedy_plan(
    links: Mapping[str, Link], specs: Mapping[str, Spec], targets: Mapping[str, Spec | None]
) -> list[Step]:
    """At every step, the first interface in order whose final config leaves the whole node
    with no problem it did not have; failing that, the first whose relaxed config does."""
    allowed = violations(links)
    todo = {
        name: target
        for name, target in targets.items()
        if (target is None and name in links) or (target is not None and specs.get(name) != target)
    }
    final = dict(links)
    for name, target in todo.items():
        final = _apply(final, name, target)
    if problems := violations(final) - allowed:
        raise PlanError("the target does not fit the node: " + "; ".join(sorted(problems)))
    links, specs, steps = dict(links), dict(specs), []

    def order(name: str) -> tuple[int, int, str]:
        target = todo[name]
        if target is None:
            kind = links[name].kind if name in links else "eth"
            return (0, -planner._TYPE_WEIGHT.get(kind, 0), name)
        return (1 if name in links else 2, planner._TYPE_WEIGHT.get(target.type, 0), name)

    def write(name: str, spec: Spec | None, relaxed: bool) -> bool:
        nonlocal links
        candidate = _apply(links, name, spec)
        if not violations(candidate) <= allowed:
            return False
        action = "delete" if spec is None else "update" if name in links else "create"
        steps.append(Step(action, name, spec, specs.get(name), relaxed))
        if spec is None:
            specs.pop(name, None)
        else:
            specs[name] = spec
        links = candidate
        return True

    while todo:
        ordered = sorted(todo, key=order)
        done = next((name for name in ordered if write(name, todo[name], False)), None)
        if done is not None:
            del todo[done]
            continue
        relaxed = ((name, _candidate(name, todo[name], links, specs)) for name in ordered)
        if not any(spec is not None and write(name, spec, True) for name, spec in relaxed):
            raise PlanError(
                "no order of writes reaches the target; left: " + ", ".join(sorted(todo))
            )
    return steps


# --- random worlds ----------------------------------------------------------------------------


def _world(rng: random.Random, nics: list[str], size: int) -> dict[str, Spec]:
    """Bonds of free NICs, bridges of what is left, VLANs on anything, MTUs and one gateway at
    random: often invalid (a MTU below a child's, a port on an addressed NIC), on purpose."""
    specs: dict[str, Spec] = {
        nic: EthSpec.model_construct(
            iface=nic, type="eth", mtu=rng.choice([None, None, 9000]), autostart=rng.random() < 0.9
        )
        for nic in nics
    }
    free = rng.sample(nics, len(nics))
    bonds = [f"bond{i}" for i in rng.sample(range(size + 2), rng.randint(0, size))]
    for bond in bonds:
        count = rng.randint(0, 2)
        slaves, free = sorted(free[:count]), free[count:]
        specs[bond] = BondSpec.model_construct(
            iface=bond,
            type="bond",
            slaves=slaves,
            bond_mode="active-backup",
            bond_primary=slaves[0] if slaves and rng.random() < 0.3 else None,
            mtu=rng.choice([None, 9000]),
        )
    pool = rng.sample(free + bonds, len(free) + len(bonds))
    bridges = [f"vmbr{i}" for i in rng.sample(range(size + 2), rng.randint(0, size))]
    for bridge in bridges:
        count = rng.randint(0, 2)
        ports, pool = pool[:count], pool[count:]
        if rng.random() < 0.2:
            ports.append(f"{rng.choice(nics)}.{rng.randint(2, 9)}")  # a VLAN made on the fly
        specs[bridge] = BridgeSpec.model_construct(
            iface=bridge,
            type="bridge",
            bridge_ports=sorted(set(ports)),
            mtu=rng.choice([None, 1500, 9000]),
            cidr=rng.choice([None, "10.0.0.2/24"]),
        )
    parents = [*nics, *bonds, *bridges]
    for _ in range(rng.randint(0, size)):
        parent, tag = rng.choice(parents), rng.randint(2, 9)
        name = f"{parent}.{tag}" if rng.random() < 0.6 else f"vlan{tag}"
        specs[name] = VlanSpec.model_construct(
            iface=name,
            type="vlan",
            vlan_raw_device=None if "." in name else parent,
            mtu=rng.choice([None, 1500, 9000]),
        )
    if (addressed := [n for n, s in specs.items() if s.cidr]) and rng.random() < 0.7:
        name = rng.choice(addressed)
        specs[name] = specs[name].model_copy(update={"gateway": "10.0.0.1"})
    return specs


def _outcome(
    search: object, links: dict[str, Link], specs: dict[str, Spec], targets: dict[str, Spec | None]
) -> list[Step] | str:
    try:
        return search(links, specs, targets)
    except PlanError as error:
        return f"PlanError: {error}"


@settings(max_examples=400, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(1, 6))
def test_the_search_makes_the_plain_greedy_searchs_steps(rng: random.Random, size: int) -> None:
    """Random start and target worlds: the same steps, or the same refusal, as the reference."""
    nics = [f"eno{i}" for i in range(1, rng.randint(3, 8))]
    start, wanted = _world(rng, nics, size), _world(rng, nics, size)
    links = {name: link_of(spec) for name, spec in start.items()}
    if rng.random() < 0.2:
        links["ovs0"] = Link("ovs0", "OVSBridge", frozenset(rng.sample(nics, 1)))
    targets: dict[str, Spec | None] = dict(wanted)
    for name, spec in start.items():
        if name not in wanted and spec.type != "eth":
            targets[name] = None
    expected = _outcome(greedy_plan, links, start, targets)
    assert _outcome(fresh_plan, links, start, targets) == expected


# --- the relaxed create -------------------------------------------------------------------------

# vmbr0 moves onto a new bond of its own NIC and raises its MTU above its VLAN's: vmbr0 cannot
# let go of eno1 first (without its MTU it would be below vmbr0.10's) and bond0 cannot take eno1
# first; bond0 is created empty, then vmbr0 moves onto it, then bond0 takes eno1.
ONTO_A_NEW_BOND_WITH_A_BIGGER_MTU = planned_on_a_node.Scenario(
    start=(
        EthSpec(iface="eno1", mtu=9216),
        BridgeSpec(iface="vmbr0", bridge_ports=["eno1"], mtu=9000),
        VlanSpec(iface="vmbr0.10", mtu=9000),
    ),
    target=(
        BondSpec(iface="bond0", slaves=["eno1"], bond_mode="active-backup", mtu=9216),
        BridgeSpec(iface="vmbr0", bridge_ports=["bond0"], mtu=9216),
        VlanSpec(iface="vmbr0.10", mtu=9000),
    ),
)


def test_a_create_is_staged_relaxed_when_nothing_else_can_move_first(tmp_path: Path) -> None:
    """The plan creates bond0 without its slave first, and the node accepts every write."""
    node = planned_on_a_node
    api = NodeApi(Cluster(tmp_path, ["pve1"], list(node.NICS), node.BASE_TEXT))
    node._build(api, ONTO_A_NEW_BOND_WITH_A_BIGGER_MTU.start)
    start = node._view(api)
    targets = resolve(node._targets(ONTO_A_NEW_BOND_WITH_A_BIGGER_MTU.target, start), start.specs)
    steps = plan(start.links, start.specs, targets)
    assert [str(step) for step in steps] == [
        "create bond0 (intermediate)",
        "update vmbr0",
        "update bond0",
    ]
    assert [node._send(api, step).status for step in steps] == [200, 200, 200]
    node._apply(api)
    assert verify(targets, node._view(api).specs) == []


# --- the memo ---------------------------------------------------------------------------------


def test_plan_reuses_a_plan_of_equal_inputs_and_plans_afresh_when_anything_differs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Equal inputs read again (new objects) get the steps made before; a node that differs in
    one setting is planned again."""
    monkeypatch.setattr(planner, "_recent", ())
    made: list[int] = []

    def counted(*args: object) -> list[Step]:
        made.append(1)
        return fresh_plan(*args)

    monkeypatch.setattr(planner, "fresh_plan", counted)

    def node(mtu: int | None) -> tuple[dict[str, Link], dict[str, Spec]]:
        specs: dict[str, Spec] = {"eno1": EthSpec(iface="eno1", mtu=mtu)}
        return {name: link_of(spec) for name, spec in specs.items()}, specs

    targets = {"vmbr7": BridgeSpec(iface="vmbr7", bridge_ports=["eno1"])}
    first = plan(*node(None), dict(targets))
    assert plan(*node(None), dict(targets)) == first
    assert len(made) == 1
    assert plan(*node(1500), dict(targets)) == first
    assert len(made) == 2


def test_a_rollback_may_put_back_what_the_node_had_that_the_rules_refuse() -> None:
    """vmbr0 had a port no interface stanza makes (a hook line's vxlan, say); a failed change
    took it off. Putting vmbr0 back as it was is refused as a new target, and planned when
    the node's earlier state is tolerated, as a rollback plans it."""
    nic = EthSpec(iface="eno1", type="eth")
    before = BridgeSpec(iface="vmbr0", type="bridge", bridge_ports=["eno1", "vx0"])
    after = BridgeSpec(iface="vmbr0", type="bridge", bridge_ports=["eno1"])
    before_links = {"eno1": link_of(nic), "vmbr0": link_of(before)}
    now_links = {"eno1": link_of(nic), "vmbr0": link_of(after)}
    now_specs: dict[str, Spec] = {"eno1": nic, "vmbr0": after}
    with pytest.raises(PlanError, match="does not fit the node"):
        plan(now_links, now_specs, {"vmbr0": before})
    steps = plan(now_links, now_specs, {"vmbr0": before}, tolerated=violations(before_links))
    assert [(step.action, step.iface) for step in steps] == [("update", "vmbr0")]
