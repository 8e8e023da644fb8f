"""The root program: a stack's networks, read from stack config ``pvenet:networks``.

``__main__.py`` at the project's root calls :func:`main`. The same program
serves every environment; what differs is the data in ``Pulumi.<stack>.yaml``
(the simulator for ``dev``, a real cluster for ``prod``). For each network it
declares the matching component (``bridged`` -> ``BridgedNetwork``,
``bonded`` -> ``BondedUplink``, ``vlans`` -> ``VlanNetwork``, ``routed`` ->
``RoutedSubnet``, ``nat`` -> ``NatGateway``) and exports, under the
network's name, its ``mode``, ``attach`` (what guests attach to), ``gateway``
and ``cidr``.

Everything is validated before the first component is declared: the shape by
the schema (``components.stack_schema``), the values by each component's own
``validate``. A bad value fails the preview with its key path and the reason
(``pvenet:networks.nat[0].cidr: ...``), before a single resource exists, so
no API call is made.

Networks on one node that build on each other (a VLAN on a bond's bridge, a
bridge on a bond) are declared in that order, each depending on the one it
uses, so a create finds its parent on the node and a destroy removes the
VLAN before the bridge under it. Every network on a node also depends on the
one declared before it there: a node applies one set at a time anyway, and
this way it creates them in the same order on every run, so the order of its
file's stanzas (the creation order, for stanzas of one kind) is the one
``render`` prints, whatever the engine runs in parallel.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import pulumi

from components.errors import InvalidArguments
from components.node import BondedUplink, BridgedNetwork, VlanNetwork
from components.sdn import NatGateway, RoutedSubnet
from components.stack_schema import (
    ConfigProblem,
    Entry,
    Networks,
    StackConfigError,
    parse_networks,
)


class Network(Protocol):
    """What every component has: the outputs a stack exports for each network."""

    attach: pulumi.Output[str]
    gateway: pulumi.Output[Any]
    cidr: pulumi.Output[Any]


class NetworkComponent(Protocol):
    """A component class: ``validate`` its arguments, then construct it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Network: ...

    def validate(self, name: str, **arguments: Any) -> None: ...


COMPONENTS: Mapping[str, NetworkComponent] = {
    "bridged": BridgedNetwork,
    "bonded": BondedUplink,
    "vlans": VlanNetwork,
    "routed": RoutedSubnet,
    "nat": NatGateway,
}

# Which arguments of a node network name an interface it creates, and which one it uses.
_PROVIDES = {"bridged": ("bridge",), "bonded": ("bond", "bridge")}
_USES = {"bridged": ("ports",), "bonded": ("slaves",), "vlans": ("parent",)}

Declared = tuple[str, str, Entry]  # mode, key path ("nat[0]"), entry


def main() -> dict[str, Network]:
    """The root program: read ``pvenet:networks``, declare every network, export outputs."""
    raw = pulumi.Config("pvenet").get_object("networks")
    return declare(parse_networks(raw))


def declare(networks: Networks) -> dict[str, Network]:
    """Validate every network's arguments, then declare the components and export outputs.

    StackConfigError (before anything is declared) names the key path of
    every bad argument.
    """
    entries = list(networks.entries())
    _validate_all(entries)
    declared: dict[str, Network] = {}
    resources: dict[str, pulumi.Resource] = {}
    last_on_node: dict[str, pulumi.Resource] = {}
    for mode, _where, entry in _in_dependency_order(entries):
        uses = [resources[name] for name in _dependencies(entry, mode, entries)]
        node = getattr(entry, "node", None)
        if node in last_on_node and last_on_node[node] not in uses:
            uses.append(last_on_node[node])
        opts = pulumi.ResourceOptions(depends_on=uses) if uses else None
        component = COMPONENTS[mode](entry.name, **entry.arguments(), opts=opts)
        declared[entry.name] = component
        if isinstance(component, pulumi.Resource):  # every component is one
            resources[entry.name] = component
            if isinstance(node, str):
                last_on_node[node] = component
        pulumi.export(
            entry.name,
            {
                "mode": mode,
                "attach": component.attach,
                "gateway": component.gateway,
                "cidr": component.cidr,
            },
        )
    return declared


def _validate_all(entries: Iterable[Declared]) -> None:
    """Every component's ``validate``; all problems in one StackConfigError."""
    problems: list[ConfigProblem] = []
    for mode, where, entry in entries:
        try:
            COMPONENTS[mode].validate(entry.name, **entry.arguments())
        except InvalidArguments as error:
            problems += [
                ConfigProblem(f"{where}.{p.argument}" if p.argument else where, p.reason())
                for p in error.problems
            ]
    if problems:
        raise StackConfigError(problems)


def _names(entry: Entry, keys: Iterable[str]) -> set[str]:
    """The interface names in these arguments of ``entry`` (a name or a list of names)."""
    found: set[str] = set()
    for key in keys:
        value = getattr(entry, key, None)
        if isinstance(value, str):
            found.add(value)
        elif isinstance(value, list):
            found.update(v for v in value if isinstance(v, str))
    return found


def _dependencies(entry: Entry, mode: str, entries: Iterable[Declared]) -> list[str]:
    """Names of the networks on the same node that create an interface ``entry`` uses."""
    uses = _names(entry, _USES.get(mode, ()))
    node = getattr(entry, "node", None)
    return [
        other.name
        for other_mode, _where, other in entries
        if other is not entry
        and getattr(other, "node", None) == node
        and uses & _names(other, _PROVIDES.get(other_mode, ()))
    ]


def _in_dependency_order(entries: list[Declared]) -> list[Declared]:
    """The entries with each after those it depends on; StackConfigError on a cycle."""
    ordered: list[Declared] = []
    done: set[str] = set()
    waiting = list(entries)
    while waiting:
        ready = [item for item in waiting if set(_dependencies(item[2], item[0], entries)) <= done]
        if not ready:
            raise StackConfigError(
                [
                    ConfigProblem(where, "uses an interface that, in turn, depends on it")
                    for _mode, where, _entry in waiting
                ]
            )
        for item in ready:
            ordered.append(item)
            done.add(item[2].name)
            waiting.remove(item)
    return ordered
