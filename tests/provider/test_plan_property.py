"""The planner's core property, against the simulator: every staged write is accepted.

For a random valid start config and a random valid target set on a node with
NICs eno1..eno4, the start is built on a fresh in-process simulator (staged,
then applied), read back, and ``plan`` computes the writes toward the target.
Each write is sent to the simulator exactly as the transaction sends it
(``client.to_params``), and the test asserts that

* every write is accepted (so every intermediate ``interfaces.new`` is one the
  server's checks allow: no port used twice, no missing slave or parent, one
  gateway, parents' MTU not below their children's);
* the apply task succeeds (``ifreload -a`` finds every device);
* the node then shows ``resolve(targets, start)`` for every target, deleted
  interfaces are gone, and interfaces outside the targets are untouched;
* planning again from the result changes nothing.

The simulator's checks are written from Proxmox's behaviour, not from
``provider.node.plan.violations``, so a rule the planner gets wrong shows up here as
a refused write. Worlds are valid by construction: structure first (bonds of
free NICs, bridges of free NICs or bonds, VLANs on anything), then addresses
(never on a port or slave, at most one gateway per family), then MTUs chosen so
that every parent/child pair holds both for the set as the model checks it and
for the node as it will be (an unset MTU keeps the node's value, see
``transaction.resolve``).
"""

from __future__ import annotations

import ipaddress
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from provider.node.client import NodeView
from provider.node.model import (
    BOND_MODES,
    HASH_POLICIES,
    HASH_POLICY_MODES,
    BondSpec,
    BridgeSpec,
    EthSpec,
    Spec,
    VlanSpec,
    parse_interfaces,
    spec_to_dict,
)
from provider.node.plan import Step, plan
from provider.node.transaction import Snapshot, resolve, snapshot
from provider.node.verify import verify
from provider.node.wire import to_params
from simulator.cluster import Cluster
from tests.simulator.conftest import Answer, NodeApi

NICS = ("eno1", "eno2", "eno3", "eno4")
BOND_NAMES = ("bond0", "bond1", "bond2")
BRIDGE_NAMES = ("vmbr0", "vmbr1", "vmbr2", "vmbr3")
VLAN_TAGS = (5, 10, 20, 4094)
MAX_EXAMPLES = 200  # 10-30 s: each example builds a node from a file, stages and applies twice

# A node as the installer leaves it, minus vmbr0: four unused NICs.
BASE_TEXT = """\
auto lo
iface lo inet loopback

iface eno1 inet manual

iface eno2 inet manual

iface eno3 inet manual

iface eno4 inet manual

source /etc/network/interfaces.d/*
"""

MTU_CHOICES = {
    "eth": (None, 1500, 9000),
    "bond": (None, 1500, 9000, 65520),
    "bridge": (None, 1280, 1500, 9000),
    "vlan": (None, 1280, 1500, 9000),
}


@dataclass(frozen=True)
class Scenario:
    """A start config and a target set (both complete: anything else is deleted)."""

    start: tuple[Spec, ...]
    target: tuple[Spec, ...]

    def __repr__(self) -> str:
        return f"Scenario(\n  start={_brief(self.start)},\n  target={_brief(self.target)},\n)"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis shows a failing example: the short form above."""
        printer.text(repr(self))


def _brief(specs: Iterable[Spec]) -> str:
    """Specs as dicts of their non-default settings, for readable failure reports."""
    items = []
    for spec in specs:
        defaults = type(spec).model_construct(iface=spec.iface).model_dump()
        data = spec.model_dump()
        items.append(
            {k: v for k, v in data.items() if k in ("iface", "type") or v != defaults.get(k)}
        )
    return repr(items)


# --- strategies ------------------------------------------------------------------------------


def _pairs(world: Mapping[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """(parent, child) pairs whose MTUs the server compares (parent >= child)."""
    pairs: list[tuple[str, str]] = []
    for name, fields in world.items():
        if fields["type"] == "bond":
            pairs += [(name, slave) for slave in fields["slaves"]]
        elif fields["type"] == "bridge":
            pairs += [(port, name) for port in fields["bridge_ports"]]
        elif fields["type"] == "vlan":
            pairs.append((_vlan_parent(name, fields), name))
    return pairs


def _vlan_parent(name: str, fields: Mapping[str, Any]) -> str:
    raw = fields.get("vlan_raw_device")
    return str(raw) if raw else name.rsplit(".", 1)[0]


def _pair_holds(
    mtus: Mapping[str, int | None], kinds: Mapping[str, str], pair: tuple[str, str]
) -> bool:
    """Proxmox's rule: an unset parent MTU is 1500, or the child's for a bond."""
    parent, child = pair
    child_mtu = mtus.get(child)
    if child_mtu is None:
        return True
    parent_mtu = mtus.get(parent)
    if parent_mtu is None:
        parent_mtu = child_mtu if kinds.get(parent) == "bond" else 1500
    return parent_mtu >= child_mtu


def _assign_mtus(
    draw: st.DrawFn, world: dict[str, dict[str, Any]], previous: Mapping[str, Spec]
) -> None:
    """Set ``mtu`` on every interface of ``world`` so that all parent/child pairs hold.

    Checked twice: on the set alone, as the model checks it (interfaces not in
    the set are not compared), and on the node after the change, where an
    unset MTU keeps the value the node had (``previous``).
    """
    kinds = dict.fromkeys(NICS, "eth") | {n: f["type"] for n, f in world.items()}
    raw: dict[str, int | None] = {}
    effective: dict[str, int | None] = {
        nic: previous[nic].mtu if nic in previous else None for nic in NICS
    }
    pairs = _pairs(world)
    weight = {"eth": 0, "bond": 1, "bridge": 2, "vlan": 3}
    for name in sorted(world, key=lambda n: (weight[world[n]["type"]], n)):
        kept = previous[name].mtu if name in previous else None
        allowed = []
        for mtu in MTU_CHOICES[world[name]["type"]]:
            raw[name], effective[name] = mtu, kept if mtu is None else mtu
            mine = [p for p in pairs if name in p and all(x in effective for x in p)]
            in_set = [p for p in mine if all(x in raw for x in p)]
            if all(_pair_holds(effective, kinds, p) for p in mine) and all(
                _pair_holds(raw, kinds, p) for p in in_set
            ):
                allowed.append(mtu)
        mtu = draw(st.sampled_from(allowed))
        raw[name], effective[name] = mtu, kept if mtu is None else mtu
        world[name]["mtu"] = mtu


_COMMENTS = st.none() | st.sampled_from(("uplink", "VM trunk", "NAT", "lab net 2"))


def _names(
    draw: st.DrawFn, pool: tuple[str, ...], most: int, previous: Mapping[str, Spec], kind: str
) -> list[str]:
    """Names for the bonds or bridges of a world: often those the node has, rewired."""
    kept = sorted(name for name, spec in previous.items() if spec.type == kind)
    if kept and draw(st.booleans()):
        return kept
    return draw(st.lists(st.sampled_from(pool), max_size=most, unique=True))


@st.composite
def worlds(draw: st.DrawFn, previous: Mapping[str, Spec]) -> list[Spec]:
    """A complete valid set of interfaces for a node whose current config is ``previous``."""
    world: dict[str, dict[str, Any]] = {}
    free = list(NICS)  # NICs that are no bond slave or bridge port yet
    slaves_of: set[str] = set()
    for name in _names(draw, BOND_NAMES, 2, previous, "bond"):
        if not free:
            break
        slaves = draw(st.lists(st.sampled_from(free), min_size=1, max_size=2, unique=True))
        free = [nic for nic in free if nic not in slaves]
        slaves_of.update(slaves)
        mode = draw(st.sampled_from(BOND_MODES))
        policy = primary = None
        if mode in HASH_POLICY_MODES:
            policy = draw(st.none() | st.sampled_from(HASH_POLICIES))
        if mode == "active-backup":
            primary = draw(st.none() | st.sampled_from(sorted(slaves)))
        world[name] = {
            "type": "bond",
            "slaves": sorted(slaves),
            "bond_mode": mode,
            "bond_xmit_hash_policy": policy,
            "bond_primary": primary,
        }
    free_bonds = list(world)
    for name in _names(draw, BRIDGE_NAMES, 3, previous, "bridge"):
        choices = free + free_bonds
        ports = draw(st.lists(st.sampled_from(choices), max_size=2, unique=True)) if choices else []
        free = [p for p in free if p not in ports]
        free_bonds = [p for p in free_bonds if p not in ports]
        aware = draw(st.booleans())
        vids = (
            draw(st.sampled_from((None, ["2-4094"], ["10", "20-30"], ["100"]))) if aware else None
        )
        world[name] = {
            "type": "bridge",
            "bridge_ports": sorted(ports),
            "bridge_vlan_aware": aware,
            "bridge_vids": vids,
        }
    parents = sorted(NICS) + sorted(world)
    tagged: set[tuple[str, int]] = set()
    for _ in range(draw(st.integers(0, 3))):
        parent = draw(st.sampled_from(parents))
        tag = draw(st.sampled_from(VLAN_TAGS))
        dotted = draw(st.booleans())
        name = f"{parent}.{tag}" if dotted else f"vlan{tag}"
        if (parent, tag) in tagged or name in world:
            continue
        tagged.add((parent, tag))
        world[name] = {"type": "vlan", "vlan_raw_device": None if dotted else parent}
    held = {p for f in world.values() for p in f.get("bridge_ports", []) + f.get("slaves", [])}
    for nic in NICS:
        had_address = nic in previous and bool(previous[nic].cidr or previous[nic].cidr6)
        if had_address or draw(st.booleans()):
            world[nic] = {"type": "eth"}
    _addresses(draw, world, held)
    for name, fields in world.items():
        fields["autostart"] = True if name in slaves_of else draw(st.booleans())
        fields["comments"] = draw(_COMMENTS)
    _assign_mtus(draw, world, previous)
    specs = [_spec(name, fields) for name, fields in sorted(world.items())]
    specs_again, problems = parse_interfaces([spec_to_dict(s) for s in specs])
    assert not problems, f"the generator made an invalid set: {problems}"
    assert specs_again == specs
    return specs


def _addresses(draw: st.DrawFn, world: dict[str, dict[str, Any]], held: set[str]) -> None:
    """Addresses on interfaces that are no port or slave; at most one gateway per family."""
    addressable = sorted(name for name in world if name not in held)
    for index, name in enumerate(addressable, start=1):
        if draw(st.booleans()):
            world[name]["cidr"] = f"10.{index}.0.2/{draw(st.sampled_from((16, 24, 30)))}"
        if draw(st.integers(0, 3)) == 0:
            world[name]["cidr6"] = f"fd00:{index}::2/64"
    for key, cidr_key in (("gateway", "cidr"), ("gateway6", "cidr6")):
        holders = [name for name in addressable if world[name].get(cidr_key)]
        if holders and draw(st.booleans()):
            name = draw(st.sampled_from(holders))
            network = ipaddress.ip_interface(world[name][cidr_key]).network
            world[name][key] = str(network.network_address + 1)


def _spec(name: str, fields: Mapping[str, Any]) -> Spec:
    kinds: dict[str, type[Spec]] = {
        "bridge": BridgeSpec,
        "bond": BondSpec,
        "vlan": VlanSpec,
        "eth": EthSpec,
    }
    return kinds[fields["type"]](iface=name, **{k: v for k, v in fields.items() if k != "type"})


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """A valid start config, and a valid target set for the node that start leaves."""
    start = draw(worlds({}))
    target = draw(worlds({spec.iface: spec for spec in start}))
    return Scenario(tuple(start), tuple(target))


# --- driving the simulator -------------------------------------------------------------------


def _view(api: NodeApi) -> Snapshot:
    """``GET /nodes/pve1/network`` in the planner's terms, as ``Transaction.read`` builds it."""
    answer = api.call("GET", "/network")
    assert answer.status == 200, answer
    items = {item["iface"]: item for item in answer.data}
    return snapshot(NodeView(items, (answer.extra or {}).get("changes")))


def _send(api: NodeApi, step: Step) -> Answer:
    """One staged write, with the parameters the transaction sends."""
    if step.action == "delete":
        return api.call("DELETE", f"/network/{step.iface}")
    assert step.spec is not None
    params = to_params(step.spec, step.before)
    if step.action == "create":
        params.pop("delete", None)
        return api.call("POST", "/network", iface=step.iface, **params)
    return api.call("PUT", f"/network/{step.iface}", **params)


def _apply(api: NodeApi) -> None:
    status = api.apply()
    assert status["exitstatus"] == "OK", status


def _build(api: NodeApi, specs: Iterable[Spec]) -> None:
    """Stage ``specs`` in dependency order (NICs, bonds, bridges, VLANs) and apply."""
    before = _view(api).specs
    weight = {"eth": 0, "bond": 1, "bridge": 2, "vlan": 3}
    for spec in sorted(specs, key=lambda s: (weight[s.type], s.iface)):
        if spec.iface in before:
            step = Step("update", spec.iface, spec, before[spec.iface])
        else:
            step = Step("create", spec.iface, spec)
        answer = _send(api, step)
        assert answer.status == 200, f"building the start: {step} refused: {answer}"
    _apply(api)


def _targets(target: Iterable[Spec], start: Snapshot) -> dict[str, Spec | None]:
    """Every target spec, and None for start interfaces the target leaves out (not NICs)."""
    targets: dict[str, Spec | None] = {spec.iface: spec for spec in target}
    for name, link in start.links.items():
        if name not in targets and link.kind != "eth":
            targets[name] = None
    return targets


def _describe(steps: list[Step]) -> str:
    return "\n".join(
        f"  {i}. {step}: {to_params(step.spec, step.before) if step.spec else ''}"
        for i, step in enumerate(steps, start=1)
    )


# --- the property ----------------------------------------------------------------------------


MOVE_ONTO_NEW_BOND = Scenario(
    start=(
        BridgeSpec(
            iface="vmbr0", bridge_ports=["eno1"], cidr="192.168.10.2/24", gateway="192.168.10.1"
        ),
    ),
    target=(
        BondSpec(
            iface="bond0",
            slaves=["eno1", "eno2"],
            bond_mode="802.3ad",
            bond_xmit_hash_policy="layer3+4",
        ),
        BridgeSpec(
            iface="vmbr0",
            bridge_ports=["bond0"],
            cidr="192.168.10.2/24",
            gateway="192.168.10.1",
        ),
    ),
)
SWAP_PORTS = Scenario(
    start=(
        BridgeSpec(iface="vmbr0", bridge_ports=["eno1"]),
        BridgeSpec(iface="vmbr1", bridge_ports=["eno2"]),
    ),
    target=(
        BridgeSpec(iface="vmbr0", bridge_ports=["eno2"]),
        BridgeSpec(iface="vmbr1", bridge_ports=["eno1"]),
    ),
)
MOVE_GATEWAY = Scenario(
    start=(
        BridgeSpec(iface="vmbr0", bridge_ports=["eno1"], cidr="10.1.0.2/24", gateway="10.1.0.1"),
        BridgeSpec(iface="vmbr1", bridge_ports=["eno2"], cidr="10.2.0.2/24"),
    ),
    target=(
        BridgeSpec(iface="vmbr0", bridge_ports=["eno1"], cidr="10.1.0.2/24"),
        BridgeSpec(iface="vmbr1", bridge_ports=["eno2"], cidr="10.2.0.2/24", gateway="10.2.0.1"),
    ),
)
DELETE_BOND_UNDER_BRIDGE = Scenario(
    start=(
        BondSpec(iface="bond0", slaves=["eno1", "eno2"], bond_mode="active-backup"),
        BridgeSpec(
            iface="vmbr0", bridge_ports=["bond0"], cidr="192.168.10.2/24", gateway="192.168.10.1"
        ),
    ),
    target=(
        BridgeSpec(
            iface="vmbr0", bridge_ports=["eno1"], cidr="192.168.10.2/24", gateway="192.168.10.1"
        ),
    ),
)
RAISE_MTU_TOGETHER = Scenario(
    start=(
        BondSpec(iface="bond0", slaves=["eno1", "eno2"], bond_mode="802.3ad"),
        BridgeSpec(iface="vmbr0", bridge_ports=["bond0"], bridge_vlan_aware=True),
        VlanSpec(iface="vmbr0.10", cidr="10.10.0.2/24"),
    ),
    target=(
        BondSpec(iface="bond0", slaves=["eno1", "eno2"], bond_mode="802.3ad", mtu=9000),
        BridgeSpec(iface="vmbr0", bridge_ports=["bond0"], bridge_vlan_aware=True, mtu=9000),
        VlanSpec(iface="vmbr0.10", cidr="10.10.0.2/24", mtu=9000),
    ),
)

ROTATE_PORTS = Scenario(
    start=tuple(BridgeSpec(iface=f"vmbr{i}", bridge_ports=[f"eno{i + 1}"]) for i in range(3)),
    target=tuple(
        BridgeSpec(iface=f"vmbr{i}", bridge_ports=[f"eno{(i + 1) % 3 + 1}"]) for i in range(3)
    ),
)
BOND_AND_BRIDGE_TRADE_NICS = Scenario(
    start=(
        BondSpec(iface="bond0", slaves=["eno1"]),
        BridgeSpec(iface="vmbr0", bridge_ports=["eno2"]),
    ),
    target=(
        BondSpec(iface="bond0", slaves=["eno2"]),
        BridgeSpec(iface="vmbr0", bridge_ports=["eno1"]),
    ),
)
NIC_ADDRESS_MOVES_ONTO_ITS_BRIDGE = Scenario(
    start=(EthSpec(iface="eno1", cidr="10.0.0.2/24", gateway="10.0.0.1"),),
    target=(
        EthSpec(iface="eno1"),
        BridgeSpec(iface="vmbr0", bridge_ports=["eno1"], cidr="10.0.0.2/24", gateway="10.0.0.1"),
    ),
)
LOWER_MTU_FROM_NIC_UP = Scenario(
    start=(
        EthSpec(iface="eno1", mtu=9000),
        BondSpec(iface="bond0", slaves=["eno1"], mtu=9000),
        BridgeSpec(iface="vmbr0", bridge_ports=["bond0"], mtu=9000),
    ),
    target=(
        EthSpec(iface="eno1", mtu=1500),
        BondSpec(iface="bond0", slaves=["eno1"], mtu=1500),
        BridgeSpec(iface="vmbr0", bridge_ports=["bond0"], mtu=1500),
    ),
)
FREED_SLAVE_STOPS_AUTOSTARTING = Scenario(  # found by this test: see plan.violations
    start=(
        BondSpec(iface="bond0", slaves=["eno3", "eno4"]),
        BridgeSpec(iface="vmbr0", bridge_ports=["bond0"]),
    ),
    target=(EthSpec(iface="eno4", autostart=False), BridgeSpec(iface="vmbr0")),
)


@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(scenarios())
@example(MOVE_ONTO_NEW_BOND)
@example(SWAP_PORTS)
@example(MOVE_GATEWAY)
@example(DELETE_BOND_UNDER_BRIDGE)
@example(RAISE_MTU_TOGETHER)
@example(Scenario(start=RAISE_MTU_TOGETHER.target, target=RAISE_MTU_TOGETHER.start))
@example(ROTATE_PORTS)
@example(BOND_AND_BRIDGE_TRADE_NICS)
@example(NIC_ADDRESS_MOVES_ONTO_ITS_BRIDGE)
@example(LOWER_MTU_FROM_NIC_UP)
@example(FREED_SLAVE_STOPS_AUTOSTARTING)
def test_every_staged_write_is_accepted_and_the_node_ends_as_targeted(scenario: Scenario) -> None:
    """Each planned write is accepted, one apply succeeds, and the node equals the target."""
    with tempfile.TemporaryDirectory() as state_dir:
        api = NodeApi(Cluster(Path(state_dir), ["pve1"], list(NICS), BASE_TEXT))
        _build(api, scenario.start)
        start = _view(api)
        assert not verify(resolve({s.iface: s for s in scenario.start}, {}), start.specs)

        targets = _targets(scenario.target, start)
        resolved = resolve(targets, start.specs)
        steps = plan(start.links, start.specs, resolved)
        event("has intermediate writes" if any(s.relaxed for s in steps) else "no intermediate")
        event("deletes" if any(s.action == "delete" for s in steps) else "no deletes")
        for index, step in enumerate(steps):
            answer = _send(api, step)
            assert answer.status == 200, (
                f"step {index + 1} ({step}) was refused: {(answer.message or '').strip()} "
                f"{answer.errors or ''}\nplan:\n{_describe(steps)}"
            )
        _apply(api)

        after = _view(api)
        assert verify(resolved, after.specs) == [], f"plan:\n{_describe(steps)}"
        assert not [name for name, spec in targets.items() if spec is None and name in after.links]
        untouched = [name for name in start.specs if name not in targets]
        slaves = {p for s in scenario.target if isinstance(s, BondSpec) for p in s.slaves}
        for name in untouched:
            # The writer starts every bond slave with the node ("auto ethX"): not ours to keep.
            keep = {"autostart": True} if name in slaves else {}
            assert after.specs[name] == start.specs[name].model_copy(update=keep), name
        assert plan(after.links, after.specs, resolve(targets, after.specs)) == []
