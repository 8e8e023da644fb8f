"""The root program: a stack's networks, read from stack config ``pvenet:networks``.

``__main__.py`` at the project's root calls :func:`main`. The same program
serves every environment; what differs is the data in ``Pulumi.<stack>.yaml``
(the simulator for ``dev``, a real cluster for ``prod``). For each network it
declares the matching component (``bridged`` -> ``BridgedNetwork``,
``bonded`` -> ``BondedUplink``, ``vlans`` -> ``VlanNetwork``, ``routed`` ->
``RoutedSubnet``, ``nat`` -> ``NatGateway``, ``masquerade`` ->
``MasqueradeBridge``, ``routed_bridge`` -> ``RoutedBridge``) and exports,
under the network's name, its ``mode``, ``attach`` (what guests attach to),
``gateway`` and ``cidr``.

Everything is validated before the first component is declared: the shape by
the schema (``components.stack_schema``), the values by each component's own
``validate``, and the networks against each other: two networks may not
create the same interface on a node, take the same NIC, bond or VLAN as a
port there, or use the same SDN zone or vnet (a vnet is also a bridge on
each of its nodes), nor forward one port of a node or route one address to
two guests. A bad value fails the preview with its key path and the
reason (``pvenet:networks.nat[0].cidr: ...``; a clash names both networks'
key paths), before a single resource exists, so no API call is made.

All the bridges, bonds and VLANs of one node are one set (``NodeNetworks``
``<node>``, its child ``<node>-interfaces``), and all the routed and NAT
networks one set of SDN networks (``SdnNetworkGroup`` ``sdn``, its child
``sdn-networks``): an ``up`` reloads each node once for its interfaces and
applies the SDN config once, however many networks change. Within a node's set
the planner orders the writes (a bond before the bridge on it, a VLAN after its
parent; the reverse to delete), so the node's file is the same on every run.

Host rules (port forwards, classic masquerade and routing) are merged per node
into one ``NodeHostRules`` (``<node>-host``, its child ``<node>-host-rules``),
applied after the node's networks and the SDN networks; a stack without them
declares none and needs no SSH.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pulumi

from components.classic import MasqueradeBridge, RoutedBridge
from components.errors import InvalidArguments
from components.groups import NetworkOutputs, NodeNetworks, SdnNetworkGroup
from components.host import NodeHostRules
from components.host_rules import HostPart, merge, networks_of, part_of
from components.node import BondedUplink, BridgedNetwork, VlanNetwork
from components.sdn import NatGateway, RoutedSubnet
from components.stack_schema import (
    CONFIG_KEY,
    HOST_RULES_KEY,
    ConfigProblem,
    Entry,
    Networks,
    StackConfigError,
    parse_host_rules,
    parse_networks,
)
from provider.host.model import HostRulesSpec


class Network(Protocol):
    """What every component has: the outputs a stack exports for each network."""

    attach: pulumi.Output[str]
    gateway: pulumi.Output[Any]
    cidr: pulumi.Output[Any]


class NetworkComponent(Protocol):
    """A component class: ``validate`` its arguments, then construct it."""

    def __call__(self, *args: Any, **kwargs: Any) -> Network: ...

    def validate(self, name: str, **arguments: Any) -> None: ...

    def checked(self, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]: ...

    def host_parts(
        self, name: str, values: Mapping[str, Any], owner: str | None = None
    ) -> list[HostPart]: ...


COMPONENTS: Mapping[str, NetworkComponent] = {
    "bridged": BridgedNetwork,
    "bonded": BondedUplink,
    "vlans": VlanNetwork,
    "routed": RoutedSubnet,
    "nat": NatGateway,
    "masquerade": MasqueradeBridge,
    "routed_bridge": RoutedBridge,
}

# Which arguments of a node network name an interface it creates, and which one it uses.
_PROVIDES = {
    "bridged": ("bridge",),
    "bonded": ("bond", "bridge"),
    "masquerade": ("bridge",),
    "routed_bridge": ("bridge",),
}
_USES = {"bridged": ("ports",), "bonded": ("slaves",), "vlans": ("parent",)}

Declared = tuple[str, str, Entry]  # mode, key path ("nat[0]"), entry


def main() -> dict[str, NetworkOutputs]:
    """The root program: read ``pvenet:networks`` and ``pvenet:hostRules``, declare every
    network and each node's host rules, export outputs."""
    config = pulumi.Config("pvenet")
    networks = parse_networks(config.get_object("networks"))
    return declare(networks, parse_host_rules(config.get_object("hostRules")))


def declare(
    networks: Networks, extra_rules: Mapping[str, HostRulesSpec] | None = None
) -> dict[str, NetworkOutputs]:
    """Validate every network's arguments, then declare the groups and export outputs;
    ``extra_rules`` (``pvenet:hostRules``) join each node's host rules.

    StackConfigError (before anything is declared) names the key path of
    every bad argument.
    """
    entries = list(networks.entries())
    host_rules, guest_networks = host_rules_by_node(entries, extra_rules or {})
    on_node: dict[str, list[Declared]] = {}
    sdn: list[Declared] = []
    for mode, where, entry in _in_dependency_order(entries):
        node = _text(entry, "node")
        if node is not None:
            on_node.setdefault(node, []).append((mode, where, entry))
        else:
            sdn.append((mode, where, entry))
    declared: dict[str, NetworkOutputs] = {}
    groups: dict[str, pulumi.Resource] = {}
    for node in sorted(on_node):
        group = NodeNetworks(node, node=node, networks=_members(on_node[node]), host_rules=False)
        declared.update(group.networks)
        groups[node] = group
    sdn_group = None
    if sdn:
        sdn_group = SdnNetworkGroup("sdn", networks=_members(sdn), host_rules=False)
        declared.update(sdn_group.networks)
    for node, spec in host_rules.items():
        after = [g for g in (groups.get(node), sdn_group) if g is not None]
        NodeHostRules(
            f"{node}-host",
            node=node,
            spec=spec,
            networks=guest_networks[node],
            opts=pulumi.ResourceOptions(depends_on=after),
        )
    for mode, _where, entry in entries:
        outputs = declared[entry.name]
        pulumi.export(
            entry.name,
            {
                "mode": mode,
                "attach": outputs.attach,
                "gateway": outputs.gateway,
                "cidr": outputs.cidr,
            },
        )
    return declared


def host_rules_by_node(
    entries: list[Declared], extra_rules: Mapping[str, HostRulesSpec]
) -> tuple[dict[str, HostRulesSpec], dict[str, list[str]]]:
    """Every network's host rules and ``extra_rules`` merged per node, and the guest networks
    each node gets.

    StackConfigError, before any host rule is looked at, naming the key path of every bad
    argument and of every clash between networks (:func:`_validate_all`); then naming both
    owners of a conflict (one port of a node forwarded twice, one address routed twice).
    """
    checked = _validate_all(entries)
    parts = [part_of(node, spec, f"{HOST_RULES_KEY}.{node}") for node, spec in extra_rules.items()]
    for (mode, where, entry), values in zip(entries, checked, strict=True):
        parts += COMPONENTS[mode].host_parts(entry.name, values, f"{CONFIG_KEY}.{where}")
    specs, conflicts = merge(parts)
    if conflicts:
        raise StackConfigError(
            [_conflict_problem(c.owner, c.argument, c.message) for c in conflicts]
        )
    return specs, networks_of(parts)


def _conflict_problem(owner: str, argument: str, message: str) -> ConfigProblem:
    """A conflict as a problem at its key path (under ``pvenet:networks`` or ``hostRules``)."""
    key = HOST_RULES_KEY if owner.startswith(HOST_RULES_KEY + ".") else CONFIG_KEY
    return ConfigProblem(f"{owner.removeprefix(key + '.')}.{argument}", message, key)


def _members(entries: list[Declared]) -> list[tuple[Any, str, Mapping[str, Any]]]:
    """Entries as the members of a group: component class, name, arguments."""
    return [(COMPONENTS[mode], entry.name, entry.arguments()) for mode, _w, entry in entries]


def _validate_all(entries: list[Declared]) -> list[dict[str, Any]]:
    """Each entry's arguments as its component checks them (defaults filled in), then clashes
    between networks; every problem in one StackConfigError."""
    problems: list[ConfigProblem] = []
    checked = []
    for mode, where, entry in entries:
        try:
            checked.append(COMPONENTS[mode].checked(entry.name, entry.arguments()))
        except InvalidArguments as error:
            problems += [
                ConfigProblem(f"{where}.{p.argument}" if p.argument else where, p.reason())
                for p in error.problems
            ]
    problems += _clashes(entries)
    if problems:
        raise StackConfigError(problems)
    return checked


@dataclass(frozen=True)
class _Claim:
    """Something one network creates or takes: an interface or port on a node, an SDN id."""

    kind: str  # "interface", "port", "zone" or "vnet"
    scope: str  # the node; "" for SDN ids (cluster-wide)
    name: str
    where: str  # the key path of the argument that claims it: "bonded[0].slaves"
    holder: str = ""  # for a port: the bridge or bond it is a port of

    def clash(self, first: _Claim) -> str:
        """Why this claim cannot stand beside ``first`` (same kind, scope and name)."""
        other = f"{CONFIG_KEY}.{first.where}"
        if self.kind == "port":
            return (
                f"'{self.name}' on {self.scope} is already a port of {first.holder} ({other}); "
                "a NIC, bond or VLAN is a port of one bridge or bond"
            )
        if self.kind == "interface":
            vnet = (
                " (a vnet is a bridge on each of its nodes)"
                if ".vnet" in (self.where + first.where)
                else ""
            )
            return (
                f"'{self.name}' on {self.scope} is also created by {other}{vnet}; each "
                "interface belongs to one network"
            )
        return (
            f"{self.kind} '{self.name}' is also {other}'s; SDN ids are cluster-wide, so each "
            f"network needs its own {self.kind}"
        )


def _text(entry: Entry, argument: str) -> str | None:
    value = getattr(entry, argument, None)
    return value if isinstance(value, str) else None


def _claims(mode: str, where: str, entry: Entry, nodes: Iterable[str]) -> Iterator[_Claim]:
    """What ``entry`` creates and takes; ``nodes`` are the nodes a vnet without ``nodes`` is on."""
    node = _text(entry, "node") or ""
    if mode in ("routed", "nat"):
        zone, vnet = _text(entry, "zone"), _text(entry, "vnet")
        if zone:
            yield _Claim("zone", "", zone, f"{where}.zone")
        if vnet:
            yield _Claim("vnet", "", vnet, f"{where}.vnet")
            for each in getattr(entry, "nodes", None) or nodes:
                yield _Claim("interface", each, vnet, f"{where}.vnet")
        return
    if mode == "vlans":
        given = _text(entry, "iface")
        name = given or f"{_text(entry, 'parent')}.{getattr(entry, 'vlan_id', '')}"
        yield _Claim("interface", node, name, f"{where}.{'iface' if given else 'vlan_id'}")
        return
    if mode in ("masquerade", "routed_bridge"):  # a bridge with no ports
        if bridge := _text(entry, "bridge"):
            yield _Claim("interface", node, bridge, f"{where}.bridge")
        return
    top = _text(entry, "bridge")
    ports_of = top if mode == "bridged" else _text(entry, "bond")
    for argument in _PROVIDES[mode]:
        if created := _text(entry, argument):
            yield _Claim("interface", node, created, f"{where}.{argument}")
    for port in sorted(_names(entry, _USES[mode])):
        yield _Claim("port", node, port, f"{where}.{_USES[mode][0]}", ports_of or "")
    if mode == "bonded" and top and ports_of:
        yield _Claim("port", node, ports_of, f"{where}.bond", top)


def _clashes(entries: list[Declared]) -> list[ConfigProblem]:
    """Networks that claim what an earlier one claims: one problem each, naming both."""
    nodes = sorted({n for _m, _w, e in entries if (n := _text(e, "node"))})
    first: dict[tuple[str, str, str], _Claim] = {}
    problems = []
    for mode, where, entry in entries:
        for claim in _claims(mode, where, entry, nodes):
            key = (claim.kind, claim.scope, claim.name)
            if key in first and not first[key].where.startswith(f"{where}."):
                problems.append(ConfigProblem(claim.where, claim.clash(first[key])))
            first.setdefault(key, claim)
    return problems


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
