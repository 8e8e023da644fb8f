"""The transition planner: from a node's current interfaces to the desired ones (pure).

Proxmox checks the whole staged config on every write (a port used twice, a
bond slave that does not exist, a VLAN whose parent is missing, a second
default gateway...), so the order of writes matters. ``plan`` orders the
creates, updates and deletes so that every intermediate staged file is one the
server accepts, and the last one is the target. Where no order works (two
bridges swapping ports, a bridge moving onto a bond made of its own port), it
first stages a relaxed version of an interface that lets go of what another
write needs (the bridge without the port), then its final version.

Nothing here talks to a node: the caller passes the node's current view and
stages the returned steps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from provider.node.model import DEFAULT_MTU, BondSpec, BridgeSpec, Spec, VlanSpec

_PORT_HOLDERS = ("bridge", "bond")
_TYPE_WEIGHT = {"eth": 0, "bond": 1, "bridge": 2, "vlan": 3}


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


@dataclass
class _State:
    links: dict[str, Link]
    specs: dict[str, Spec]
    steps: list[Step] = field(default_factory=list)


def _parent_of(link: Link) -> str | None:
    if link.parent:
        return link.parent
    dotted = re.fullmatch(r"(\S+)\.\d+", link.name)
    return dotted[1] if dotted and link.kind == "vlan" else None


def _mtu(links: Mapping[str, Link], name: str, child_mtu: int) -> int:
    link = links.get(name)
    if link is None:
        return DEFAULT_MTU
    if link.mtu is not None:
        return link.mtu
    return child_mtu if link.kind == "bond" else DEFAULT_MTU


def violations(links: Mapping[str, Link]) -> set[str]:
    """Everything the server would refuse, or not keep as written, as comparable sentences.

    Not kept: the writer starts every bond slave (``auto ethX``), so a NIC written
    with autostart off while a bond holds it would come back with autostart on.
    """
    found: set[str] = set()
    owner: dict[str, str] = {}
    for name in sorted(links):
        link = links[name]
        if link.kind not in _PORT_HOLDERS:
            continue
        for port in sorted(link.ports):
            if port in owner:
                found.add(f"port '{port}' is used by both {owner[port]} and {name}")
            owner.setdefault(port, name)
            member = links.get(port)
            if link.kind == "bond":
                if member is None or member.kind not in ("eth", "bond"):
                    kind = member.kind if member else "missing"
                    found.add(f"bond {name}: slave '{port}' is {kind}, not a NIC or bond")
                elif member.autostart is False:
                    found.add(f"bond {name}: slave '{port}' has autostart off (the writer sets it)")
                _mtu_violation(found, links, parent=name, child=port)
                continue
            dotted = re.fullmatch(r"(\S+)\.\d+", port)
            if member is None and not (dotted and dotted[1] in links):
                found.add(f"bridge {name}: port '{port}' does not exist")
            elif member is not None and member.addressed:
                found.add(f"bridge {name}: port '{port}' has an IP address")
            _mtu_violation(found, links, parent=port, child=name)
        if link.kind == "bond" and link.primary and link.primary not in link.ports:
            found.add(f"bond {name}: primary '{link.primary}' is not a slave")
    for name in sorted(links):
        link = links[name]
        parent = _parent_of(link)
        if link.kind != "vlan" or parent is None:
            continue
        member = links.get(parent)
        if member is None or member.kind not in ("eth", "bond", "bridge", "vlan"):
            found.add(f"vlan {name}: parent '{parent}' is {member.kind if member else 'missing'}")
        else:
            _mtu_violation(found, links, parent=parent, child=name)
    for key in ("gateway", "gateway6"):
        holders = sorted(n for n, link in links.items() if getattr(link, key))
        if len(holders) > 1:
            found.add(f"{key} on more than one interface: {', '.join(holders)}")
    return found


def _mtu_violation(found: set[str], links: Mapping[str, Link], parent: str, child: str) -> None:
    child_link = links.get(child)
    if child_link is None or child_link.mtu is None:
        return
    parent_mtu = _mtu(links, parent, child_link.mtu)
    if parent_mtu < child_link.mtu:
        found.add(f"mtu of {parent} ({parent_mtu}) is lower than {child}'s ({child_link.mtu})")


def _apply(links: Mapping[str, Link], name: str, spec: Spec | None) -> dict[str, Link]:
    changed = dict(links)
    if spec is None:
        changed.pop(name, None)
    else:
        changed[name] = link_of(spec)
    return changed


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
    for key in ("gateway", "gateway6"):
        if final is None or getattr(final, key) != getattr(current, key):
            update[key] = None
    if final is None or final.mtu != current.mtu:
        update["mtu"] = None
    return current.model_copy(update=update)


def _relaxed_create(final: Spec, links: Mapping[str, Link]) -> Spec | None:
    """``final`` without the ports and gateways that other interfaces still hold."""
    held = {port for link in links.values() if link.kind in _PORT_HOLDERS for port in link.ports}
    update: dict[str, object] = {}
    if isinstance(final, BridgeSpec):
        update["bridge_ports"] = [p for p in final.bridge_ports if p not in held and p in links]
    elif isinstance(final, BondSpec):
        update["slaves"] = [p for p in final.slaves if p not in held and p in links]
        update["bond_primary"] = None
    elif isinstance(final, VlanSpec):
        return None
    for key in ("gateway", "gateway6"):
        if getattr(final, key) is not None and any(getattr(link, key) for link in links.values()):
            update[key] = None
    update["mtu"] = None
    return final.model_copy(update=update)


def _order(name: str, target: Spec | None, state: _State) -> tuple[int, int, str]:
    if target is None:
        kind = state.links[name].kind if name in state.links else "eth"
        return (0, -_TYPE_WEIGHT.get(kind, 0), name)
    action = 1 if name in state.links else 2
    return (action, _TYPE_WEIGHT.get(target.type, 0), name)


def _take_final(state: _State, todo: dict[str, Spec | None], allowed: set[str]) -> bool:
    for name in sorted(todo, key=lambda n: _order(n, todo[n], state)):
        target = todo[name]
        candidate = _apply(state.links, name, target)
        if violations(candidate) <= allowed:
            _record(state, name, target, candidate, relaxed=False)
            del todo[name]
            return True
    return False


def _take_relaxed(state: _State, todo: dict[str, Spec | None], allowed: set[str]) -> bool:
    for name in sorted(todo, key=lambda n: _order(n, todo[n], state)):
        target = todo[name]
        current = state.specs.get(name)
        if current is not None:
            relaxed: Spec | None = _relaxed(current, target)
            if relaxed == current:
                continue
        elif name not in state.links and target is not None:
            relaxed = _relaxed_create(target, state.links)
            if relaxed is None or relaxed == target:
                continue
        else:
            continue
        candidate = _apply(state.links, name, relaxed)
        if violations(candidate) <= allowed:
            _record(state, name, relaxed, candidate, relaxed=True)
            return True
    return False


def _record(
    state: _State, name: str, spec: Spec | None, links: dict[str, Link], relaxed: bool
) -> None:
    before = state.specs.get(name)
    if spec is None:
        step = Step("delete", name, None, before, relaxed)
        state.specs.pop(name, None)
    else:
        action: Literal["create", "update"] = "update" if name in state.links else "create"
        step = Step(action, name, spec, before, relaxed)
        state.specs[name] = spec
    state.links = links
    state.steps.append(step)


def plan(
    links: Mapping[str, Link],
    specs: Mapping[str, Spec],
    targets: Mapping[str, Spec | None],
) -> list[Step]:
    """Ordered staged writes taking the node from ``links`` to ``targets``.

    ``links`` describes every interface on the node; ``specs`` the current
    config of those that can be modelled (what an update starts from);
    ``targets`` maps interface names to their final config, or None to delete
    them. Interfaces whose target equals their current config are not written.
    Raises PlanError when the target is invalid on this node.
    """
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
    state = _State(dict(links), dict(specs))
    while todo:
        if not (_take_final(state, todo, allowed) or _take_relaxed(state, todo, allowed)):
            raise PlanError(
                "no order of writes reaches the target; left: " + ", ".join(sorted(todo))
            )
    return state.steps
