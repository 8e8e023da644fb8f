"""The transition planner: from a node's current interfaces to the desired ones (pure).

Proxmox checks the whole staged config on every write (a port used twice, a
bond slave that does not exist, a VLAN whose parent is missing, a second
default gateway...), so the order of writes matters. ``plan`` orders the
creates, updates and deletes so that every intermediate staged file is one the
server accepts, and the last one is the target. Where no order works (two
bridges swapping ports, a bridge moving onto a bond made of its own port), it
first stages a relaxed version of an interface that lets go of what another
write needs (the bridge without the port), then its final version.

The search is greedy: each step is the first interface, in a fixed order
(deletes, then updates, then creates; NICs, bonds, bridges, VLANs; then by
name), whose final config the staged file accepts next; when none fits, the
first one whose relaxed version fits. It stays O(n log n) in the node's size:
a candidate is checked against the rules it takes part in only (its own ports
or parent, the interfaces that list it, the VLANs on it, the gateways), and a
candidate that did not fit is tried again only once something it looked at
has changed.

Nothing here talks to a node: the caller passes the node's current view and
stages the returned steps.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Collection, Mapping, Set
from dataclasses import dataclass
from typing import Literal

from provider.node.model import DEFAULT_MTU, BondSpec, BridgeSpec, Spec, VlanSpec

_PORT_HOLDERS = ("bridge", "bond")
_TYPE_WEIGHT = {"eth": 0, "bond": 1, "bridge": 2, "vlan": 3}
_GATEWAYS = ("gateway", "gateway6")
_DOTTED = re.compile(r"(\S+)\.\d+")
_NOBODY: frozenset[str] = frozenset()
_RECENT_PLANS = 4


@dataclass(frozen=True)
class Link:
    """What the planner needs to know of any interface on the node, managed or not."""

    name: str
    kind: str
    ports: frozenset[str] = frozenset()
    parent: str | None = None
    mtu: int | None = None
    gateway: bool = False
    gateway6: bool = False
    addressed: bool = False
    primary: str | None = None
    autostart: bool | None = None  # None: not known (links read from the node)
    dynamic: str | None = None
    """How the node addresses it by itself (``inet dhcp``, ``inet6 auto``), None if it does not."""


def link_of(spec: Spec) -> Link:
    """The planner's view of a desired interface."""
    return Link(
        name=spec.iface,
        kind=spec.type,
        ports=frozenset(spec.ports()),
        parent=spec.parent(),
        mtu=spec.mtu,
        gateway=spec.gateway is not None,
        gateway6=spec.gateway6 is not None,
        addressed=spec.cidr is not None or spec.cidr6 is not None,
        primary=spec.bond_primary if isinstance(spec, BondSpec) else None,
        autostart=spec.autostart,
    )


@dataclass(frozen=True)
class Step:
    """One staged write: POST (create), PUT (update) or DELETE of one interface.

    ``spec`` is the config to write; ``before`` is what the staged file has for
    the interface just before this step (for PUT's ``delete=`` list).
    """

    action: Literal["create", "update", "delete"]
    iface: str
    spec: Spec | None = None
    before: Spec | None = None
    relaxed: bool = False

    def __str__(self) -> str:
        note = " (intermediate)" if self.relaxed else ""
        return f"{self.action} {self.iface}{note}"


class PlanError(ValueError):
    """No order of writes reaches the target, or the target itself is invalid on the node."""


Key = tuple[str, str]
"""Something a check looks at: ``("link", name)``, an interface's link, or an index entry:
``("holders", port)`` the bridges and bonds that list ``port``, ``("dotted", base)`` those that
list a port named ``base.N``, ``("vlans", parent)`` the VLANs on ``parent``, and
``("gateway", "")``/``("gateway6", "")`` the interfaces that hold a default gateway."""


def _parent_of(link: Link) -> str | None:
    if link.parent:
        return link.parent
    dotted = _DOTTED.fullmatch(link.name)
    return dotted[1] if dotted and link.kind == "vlan" else None


def _dotted_base(name: str) -> str | None:
    """``X`` for a name ``X.N`` (a VLAN of X that a bridge port may name before it exists)."""
    dotted = _DOTTED.fullmatch(name)
    return dotted[1] if dotted else None


def _entries(link: Link | None) -> set[Key]:
    """The index entries that list ``link``."""
    if link is None:
        return set()
    entries: set[Key] = set()
    if link.kind in _PORT_HOLDERS:
        for port in link.ports:
            entries.add(("holders", port))
            if (base := _dotted_base(port)) is not None:
                entries.add(("dotted", base))
    parent = _parent_of(link)
    if link.kind == "vlan" and parent is not None:
        entries.add(("vlans", parent))
    entries.update((key, "") for key in _GATEWAYS if getattr(link, key))
    return entries


class _Wiring:
    """A node's links, changed one interface at a time, with an index of who lists whom.

    The index answers, for any interface, which rules a change to it can alter,
    so a check looks at those only. While ``reads`` is a set, every key looked at
    through ``link`` and ``listing`` is added to it: a check's answer can change
    only when one of those keys does (``put`` says which keys a change alters).
    """

    def __init__(self, links: Mapping[str, Link]) -> None:
        self._links: dict[str, Link] = {}
        self._index: dict[Key, set[str]] = {}
        self.reads: set[Key] | None = None
        for name, link in links.items():
            self.put(name, link)

    def link(self, name: str) -> Link | None:
        """The interface's link, None when the node does not have it."""
        if self.reads is not None:
            self.reads.add(("link", name))
        return self._links.get(name)

    def listing(self, index: str, name: str) -> Set[str]:
        """The interfaces under the entry ``(index, name)`` (see ``Key``); not to be changed."""
        key = (index, name)
        if self.reads is not None:
            self.reads.add(key)
        return self._index.get(key, _NOBODY)

    def kind(self, name: str) -> str | None:
        """The interface's type, None when absent (not recorded: for ordering only)."""
        link = self._links.get(name)
        return None if link is None else link.kind

    def put(self, name: str, link: Link | None) -> tuple[Link | None, set[Key]]:
        """Set the interface's link (None: remove it); its previous link and the changed keys."""
        old = self._links.pop(name, None)
        if link is not None:
            self._links[name] = link
        before, after = _entries(old), _entries(link)
        for key in before - after:
            listed = self._index[key]
            listed.discard(name)
            if not listed:
                del self._index[key]
        for key in after - before:
            self._index.setdefault(key, set()).add(name)
        return old, {("link", name), *(before ^ after)}

    def problems(self) -> set[str]:
        """Every problem of the whole node (see ``violations``)."""
        found: set[str] = set()
        for name, link in self._links.items():
            _own_problems(self, name, link, found)
        for index, port in list(self._index):
            if index == "holders":
                _shared_port_problems(self, port, found)
        for key in _GATEWAYS:
            _gateway_problems(self, key, found)
        return found

    def problems_around(self, name: str, old: Link | None) -> set[str]:
        """The problems of every rule that changing ``name`` from ``old`` to what it is now can
        alter: the others are as they were before the change."""
        found: set[str] = set()
        new = self.link(name)
        if new is not None:
            _own_problems(self, name, new, found)
        for holder in {*self.listing("holders", name), *self.listing("dotted", name)}:
            _own_problems(self, holder, self._present(holder), found)
        for vlan in self.listing("vlans", name):
            _own_problems(self, vlan, self._present(vlan), found)
        ports = {
            p for link in (old, new) if link and link.kind in _PORT_HOLDERS for p in link.ports
        }
        for port in ports:
            _shared_port_problems(self, port, found)
        for key in _GATEWAYS:
            if any(link is not None and getattr(link, key) for link in (old, new)):
                _gateway_problems(self, key, found)
        return found

    def _present(self, name: str) -> Link:
        link = self.link(name)
        assert link is not None, f"{name} is indexed but absent"
        return link


def _own_problems(wiring: _Wiring, name: str, link: Link, found: set[str]) -> None:
    """What is wrong with one interface's ports, slaves or VLAN parent (not shared ports)."""
    if link.kind in _PORT_HOLDERS:
        _holder_problems(wiring, name, link, found)
    parent = _parent_of(link)
    if link.kind != "vlan" or parent is None:
        return
    member = wiring.link(parent)
    if member is None or member.kind not in ("eth", "bond", "bridge", "vlan"):
        found.add(f"vlan {name}: parent '{parent}' is {member.kind if member else 'missing'}")
    else:
        _mtu_problem(wiring, parent, name, found)


def _holder_problems(wiring: _Wiring, name: str, link: Link, found: set[str]) -> None:
    for port in link.ports:
        member = wiring.link(port)
        if link.kind == "bond":
            if member is None or member.kind not in ("eth", "bond"):
                kind = member.kind if member else "missing"
                found.add(f"bond {name}: slave '{port}' is {kind}, not a NIC or bond")
            elif member.autostart is False:
                found.add(f"bond {name}: slave '{port}' has autostart off (the writer sets it)")
            _mtu_problem(wiring, name, port, found)
            continue
        base = _dotted_base(port)
        if member is None and not (base is not None and wiring.link(base) is not None):
            found.add(f"bridge {name}: port '{port}' does not exist")
        elif member is not None and member.addressed:
            found.add(f"bridge {name}: port '{port}' has an IP address")
        _mtu_problem(wiring, port, name, found)
    if link.kind == "bond" and link.primary and link.primary not in link.ports:
        found.add(f"bond {name}: primary '{link.primary}' is not a slave")


def _shared_port_problems(wiring: _Wiring, port: str, found: set[str]) -> None:
    """A port listed by more than one bridge or bond: named with the first of them."""
    holders = sorted(wiring.listing("holders", port))
    found.update(f"port '{port}' is used by both {holders[0]} and {h}" for h in holders[1:])


def _gateway_problems(wiring: _Wiring, key: str, found: set[str]) -> None:
    holders = sorted(wiring.listing(key, ""))
    if len(holders) > 1:
        found.add(f"{key} on more than one interface: {', '.join(holders)}")


def _mtu_problem(wiring: _Wiring, parent: str, child: str, found: set[str]) -> None:
    child_link = wiring.link(child)
    if child_link is None or child_link.mtu is None:
        return
    parent_link = wiring.link(parent)
    if parent_link is None:
        parent_mtu = DEFAULT_MTU
    elif parent_link.mtu is not None:
        parent_mtu = parent_link.mtu
    else:
        parent_mtu = child_link.mtu if parent_link.kind == "bond" else DEFAULT_MTU
    if parent_mtu < child_link.mtu:
        found.add(f"mtu of {parent} ({parent_mtu}) is lower than {child}'s ({child_link.mtu})")


def violations(links: Mapping[str, Link]) -> set[str]:
    """Everything the server would refuse, or not keep as written, as comparable sentences.

    Not kept: the writer starts every bond slave (``auto ethX``), so a NIC written
    with autostart off while a bond holds it would come back with autostart on.
    """
    return _Wiring(links).problems()


def _relaxed(current: Spec, final: Spec | None) -> Spec:
    """``current`` letting go of what ``final`` does not keep: ports, slaves, gateways, mtu."""
    keep = set(final.ports()) if final is not None else set()
    update: dict[str, object] = {}
    if isinstance(current, BridgeSpec):
        update["bridge_ports"] = sorted(set(current.bridge_ports) & keep)
    if isinstance(current, BondSpec):
        slaves = sorted(set(current.slaves) & keep)
        update["slaves"] = slaves
        if current.bond_primary not in slaves:
            update["bond_primary"] = None
    for key in _GATEWAYS:
        if final is None or getattr(final, key) != getattr(current, key):
            update[key] = None
    if final is None or final.mtu != current.mtu:
        update["mtu"] = None
    return current.model_copy(update=update)


def _relaxed_create(final: Spec, wiring: _Wiring) -> Spec | None:
    """``final`` without the ports and gateways that other interfaces still hold."""

    def free(port: str) -> bool:
        return not wiring.listing("holders", port) and wiring.link(port) is not None

    update: dict[str, object] = {}
    if isinstance(final, BridgeSpec):
        update["bridge_ports"] = [p for p in final.bridge_ports if free(p)]
    elif isinstance(final, BondSpec):
        update["slaves"] = [p for p in final.slaves if free(p)]
        update["bond_primary"] = None
    elif isinstance(final, VlanSpec):
        return None
    for key in _GATEWAYS:
        if getattr(final, key) is not None and wiring.listing(key, ""):
            update[key] = None
    update["mtu"] = None
    return final.model_copy(update=update)


Mode = Literal["final", "relaxed"]
_MODES: tuple[Mode, ...] = ("final", "relaxed")
Order = tuple[int, int, str]


class _Search:
    """The greedy search over the writes still to do, in ``_order``.

    For each mode (write the final config, or a relaxed one), a heap holds the
    interfaces not known to fail, by their order; one that fails waits, under
    every key its check looked at, until a write changes one of those keys. So
    the first candidate that fits is found without checking again the ones that
    cannot fit yet, and the steps are those of trying every candidate in order
    at every step.
    """

    def __init__(
        self,
        links: Mapping[str, Link],
        specs: Mapping[str, Spec],
        todo: dict[str, Spec | None],
        wanted: Mapping[str, Link | None],
        allowed: set[str],
    ) -> None:
        """``todo``: the targets still to write; ``wanted``: their links (None: deleted)."""
        self.wiring = _Wiring(links)
        self.specs = dict(specs)
        self.todo = todo
        self.wanted = wanted
        self.allowed = allowed
        self.steps: list[Step] = []
        self._heaps: dict[Mode, list[tuple[Order, str]]] = {mode: [] for mode in _MODES}
        self._queued: dict[Mode, dict[str, Order]] = {mode: {} for mode in _MODES}
        self._failed: dict[Mode, dict[str, int]] = {mode: {} for mode in _MODES}
        self._waiting: dict[Key, list[tuple[Mode, str, int]]] = {}
        self._failures = 0
        for name in todo:
            for mode in _MODES:
                self._queue(mode, name)

    def run(self) -> list[Step]:
        """The steps, in order; PlanError when no order of writes reaches the targets."""
        while self.todo:
            if not (self._take("final") or self._take("relaxed")):
                raise PlanError(
                    "no order of writes reaches the target; left: " + ", ".join(sorted(self.todo))
                )
        return self.steps

    def _order(self, name: str) -> Order:
        """Deletes first (VLANs before bridges before bonds), then updates, then creates."""
        target, kind = self.todo[name], self.wiring.kind(name)
        if target is None:
            return (0, -_TYPE_WEIGHT.get(kind or "eth", 0), name)
        return (1 if kind is not None else 2, _TYPE_WEIGHT.get(target.type, 0), name)

    def _queue(self, mode: Mode, name: str) -> None:
        self._failed[mode].pop(name, None)
        order = self._order(name)
        if self._queued[mode].get(name) != order:
            self._queued[mode][name] = order
            heapq.heappush(self._heaps[mode], (order, name))

    def _take(self, mode: Mode) -> bool:
        """Write the first candidate of ``mode`` that fits; False when none does."""
        heap, queued = self._heaps[mode], self._queued[mode]
        while heap:
            order, name = heapq.heappop(heap)
            if queued.get(name) != order:
                continue  # moved (its order changed) or done
            del queued[name]
            if self._try(mode, name):
                return True
        return False

    def _try(self, mode: Mode, name: str) -> bool:
        """Write ``name`` (its final or relaxed config) if the node accepts it next."""
        reads: set[Key] = {("link", name)}
        self.wiring.reads = reads
        try:
            if mode == "final":
                spec, link = self.todo[name], self.wanted[name]
            elif (spec := self._relaxed_spec(name)) is not None:
                link = link_of(spec)
            else:
                return self._fail(mode, name, reads)
            old, changed = self.wiring.put(name, link)
            fits = self.wiring.problems_around(name, old) <= self.allowed
        finally:
            self.wiring.reads = None
        if not fits:
            self.wiring.put(name, old)
            return self._fail(mode, name, reads)
        self._record(name, spec, old, mode == "relaxed")
        self._wake(changed)
        return True

    def _fail(self, mode: Mode, name: str, reads: set[Key]) -> bool:
        """Set ``name`` aside in ``mode`` until one of the keys its check read changes."""
        self._failures += 1
        self._failed[mode][name] = self._failures
        for key in reads:
            self._waiting.setdefault(key, []).append((mode, name, self._failures))
        return False

    def _relaxed_spec(self, name: str) -> Spec | None:
        """The intermediate config to write for ``name``, None when it has none."""
        target, current = self.todo[name], self.specs.get(name)
        if current is not None:
            relaxed = _relaxed(current, target)
            return None if relaxed == current else relaxed
        if target is None or self.wiring.link(name) is not None:
            return None
        created = _relaxed_create(target, self.wiring)
        return None if created is None or created == target else created

    def _record(self, name: str, spec: Spec | None, old: Link | None, relaxed: bool) -> None:
        before = self.specs.get(name)
        if spec is None:
            self.steps.append(Step("delete", name, None, before, relaxed))
            self.specs.pop(name, None)
        else:
            action: Literal["create", "update"] = "update" if old is not None else "create"
            self.steps.append(Step(action, name, spec, before, relaxed))
            self.specs[name] = spec
        if relaxed:
            for mode in _MODES:
                self._queue(mode, name)
            return
        del self.todo[name]
        for mode in _MODES:
            self._queued[mode].pop(name, None)
            self._failed[mode].pop(name, None)

    def _wake(self, changed: set[Key]) -> None:
        """Queue again every failed candidate that looked at one of the changed keys."""
        for key in changed:
            for mode, name, failure in self._waiting.pop(key, ()):
                if self._failed[mode].get(name) == failure:
                    self._queue(mode, name)


@dataclass(frozen=True)
class _Planned:
    """A plan with its inputs: the steps, or the PlanError's message."""

    links: dict[str, Link]
    specs: dict[str, Spec]
    targets: dict[str, Spec | None]
    tolerated: frozenset[str]
    outcome: tuple[Step, ...] | str


_recent: tuple[_Planned, ...] = ()
"""The last plans made, newest first (replaced whole, never changed in place)."""


def plan(
    links: Mapping[str, Link],
    specs: Mapping[str, Spec],
    targets: Mapping[str, Spec | None],
    tolerated: Collection[str] = (),
) -> list[Step]:
    """Ordered staged writes taking the node from ``links`` to ``targets``.

    ``links`` describes every interface on the node; ``specs`` the current
    config of those that can be modelled (what an update starts from);
    ``targets`` maps interface names to their final config, or None to delete
    them. Interfaces whose target equals their current config are not written.
    Raises PlanError when the target is invalid on this node, but for what the
    node already has and for ``tolerated`` (a rollback's: what the node had before
    the change it takes back, such as a port a hook line creates).

    The last few plans are kept with their inputs: ``check`` at preview and the
    transaction that follows in the same provider process plan the same change
    on the same node, and the second gets the first's steps. The key is the
    whole input, so a node read under the transaction's lock that differs in
    anything is planned afresh.
    """
    global _recent  # noqa: PLW0603 - a memo of a pure function
    inputs = (dict(links), dict(specs), dict(targets), frozenset(tolerated))
    for planned in _recent:
        if (planned.links, planned.specs, planned.targets, planned.tolerated) == inputs:
            if isinstance(planned.outcome, str):
                raise PlanError(planned.outcome)
            return list(planned.outcome)
    try:
        outcome: tuple[Step, ...] | str = tuple(fresh_plan(*inputs))
    except PlanError as error:
        outcome = str(error)
    _recent = (_Planned(*inputs, outcome), *_recent[: _RECENT_PLANS - 1])
    if isinstance(outcome, str):
        raise PlanError(outcome)
    return list(outcome)


def fresh_plan(
    links: Mapping[str, Link],
    specs: Mapping[str, Spec],
    targets: Mapping[str, Spec | None],
    tolerated: Collection[str] = (),
) -> list[Step]:
    """What ``plan`` computes when it has no plan of equal inputs (benchmarks time this)."""
    allowed = violations(links) | set(tolerated)
    todo = {
        name: target
        for name, target in targets.items()
        if (target is None and name in links) or (target is not None and specs.get(name) != target)
    }
    wanted = {name: None if target is None else link_of(target) for name, target in todo.items()}
    final = _Wiring(links)
    for name, link in wanted.items():
        final.put(name, link)
    if problems := final.problems() - allowed:
        raise PlanError("the target does not fit the node: " + "; ".join(sorted(problems)))
    return _Search(links, specs, todo, wanted, allowed).run()
