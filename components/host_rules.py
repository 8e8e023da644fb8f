"""Every component's host rules for a node, merged into the one set the node gets (pure).

A node has one table ``inet pvenet``, one ``host.sh`` and one sysctl file
(``docs/host-rules.md``), so it has one ``HostRules`` resource per deployment,
as it has one ``NodeInterfaces`` set for its bridges and bonds. Several
components may want rules on one node (a ``NatGateway``'s port forwards, a
``MasqueradeBridge``'s masquerade, a ``RoutedBridge``'s ``proxy_arp`` and
routes): each says what it wants as :class:`HostPart`\\ s, and :func:`merge`
makes one ``HostRulesSpec`` per node from them.

Forwarding and ``proxy_arp`` are shared (on when any part wants them). A forward
or a route belongs to one part: two parts that forward the same port of the
same address, route the same guest address or masquerade the same network out
of the same interface are refused with *both* named, since the node could only
do one of them. Rules the merged set breaks (a hairpin whose guest is in no
masquerade source) are reported against the part whose argument they come from.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from provider.addresses import IpAddress, IpNetwork, reserved_in
from provider.host.model import (
    Forward,
    HostRulesSpec,
    IpForward,
    Masquerade,
    Port,
    Protocol,
    Route,
    collides,
    host_iface,
    rule_problems,
)
from provider.names import NodeName
from provider.problems import Problem, Wording, pydantic_problems


class PortForward(BaseModel):
    """One port forward: connections to a port of a node reach a guest behind NAT.

    The argument ``forwards`` of ``NatGateway`` and ``MasqueradeBridge`` is a list of
    these (dicts with these keys). Each becomes a DNAT rule in the host rules of
    ``node``, the node the guest runs on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: NodeName | None = Field(
        None,
        description="the node the guest runs on, whose port is forwarded (a host rule there). "
        "Required for a NatGateway (its vnet spans nodes); a MasqueradeBridge's own node "
        "otherwise.",
    )
    protocol: Protocol = Field(description="``tcp`` or ``udp``.")
    port: Port = Field(description='the node\'s port, or a range such as ``"8000-8010"``.')
    to: str = Field(description="the guest's address, inside the network.")
    to_port: Port | None = Field(
        None,
        description="the guest's port. None: the same as ``port`` (a range always goes to the "
        "same ports).",
    )
    external_address: str | None = Field(
        None,
        description="forward only connections to this address of the node. None: any of its "
        "addresses.",
    )
    external_interface: str | None = Field(
        None,
        description="forward only connections coming in through this interface (``vmbr0``). "
        "None: any interface.",
    )
    comment: str | None = Field(None, description="a comment kept with the rule on the node.")

    def forward(self, hairpin: bool) -> Forward:
        """The host rule; ValidationError for values the node's rules refuse."""
        return Forward.model_validate(
            {
                "protocol": self.protocol,
                "port": self.port,
                "to": self.to,
                "to_port": self.to_port,
                "address": self.external_address,
                "interface": self.external_interface,
                "hairpin": hairpin,
                "comment": self.comment,
            }
        )


_RULE_ARGUMENTS = {"address": "external_address", "interface": "external_interface"}


def forwards_of(
    given: Sequence[PortForward], hairpin: bool, argument: str = "forwards"
) -> tuple[list[tuple[str, PortForward, Forward]], list[Problem]]:
    """Each forward as a host rule with its argument (``forwards[1]``), and what is wrong."""
    made, problems = [], []
    for index, item in enumerate(given):
        where = f"{argument}[{index}]"
        try:
            made.append((where, item, item.forward(hairpin)))
        except ValidationError as error:
            for problem in pydantic_problems(error, Wording()):
                key = _RULE_ARGUMENTS.get(problem.path, problem.path)
                message = problem.message
                for rule, own in _RULE_ARGUMENTS.items():  # "address 192.0.2.1 and to ..."
                    if message.startswith(f"{rule} "):
                        message = own + message[len(rule) :]
                problems.append(Problem(f"{where}.{key}" if key else where, message))
    return made, problems


@dataclass(frozen=True)
class HostPart:
    """The host rules one component wants on one node, each rule with the argument it is from.

    ``owner`` is how a problem names the component (``NatGateway 'lab'``, or a stack
    file's key path ``pvenet:networks.nat[0]``); each rule's argument is below it
    (``forwards[1]``, ``uplink``).
    """

    node: str
    owner: str
    masquerade: tuple[tuple[str, Masquerade], ...] = ()
    forwards: tuple[tuple[str, Forward], ...] = ()
    routes: tuple[tuple[str, Route], ...] = ()
    proxy_arp: tuple[str, ...] = ()
    ip_forward: IpForward = field(default_factory=lambda: IpForward(ipv4=False, ipv6=False))
    networks: tuple[str, ...] = ()
    """The guest networks the component gives the node (its forwards' guests are in them):
    the node has them only once the deployment has created them."""

    @property
    def empty(self) -> bool:
        """Whether the part wants nothing on its node."""
        return not (
            self.masquerade
            or self.forwards
            or self.routes
            or self.proxy_arp
            or self.ip_forward.ipv4
            or self.ip_forward.ipv6
        )


def part_of(node: str, spec: HostRulesSpec, owner: str) -> HostPart:
    """Host rules given as such (``pvenet:hostRules``) as one part of ``node``'s rules, each
    rule named by its place in the list (``forwards[1]``)."""
    return HostPart(
        node=node,
        owner=owner,
        masquerade=tuple((f"masquerade[{i}]", rule) for i, rule in enumerate(spec.masquerade)),
        forwards=tuple((f"forwards[{i}]", rule) for i, rule in enumerate(spec.forwards)),
        routes=tuple((f"routes[{i}]", rule) for i, rule in enumerate(spec.routes)),
        proxy_arp=tuple(spec.proxy_arp),
        ip_forward=spec.ip_forward,
    )


@dataclass(frozen=True)
class Conflict:
    """A rule of one part that cannot stand on its node: whose, which argument, and why."""

    owner: str
    argument: str
    message: str

    def __str__(self) -> str:
        return f"{self.owner}: {self.argument}: {self.message}"


def merge(parts: Iterable[HostPart]) -> tuple[dict[str, HostRulesSpec], list[Conflict]]:
    """One ``HostRulesSpec`` per node from every part on it, and every conflict found.

    Nodes whose parts want nothing get no spec: a deployment without host rules
    declares no ``HostRules`` and needs no SSH.
    """
    by_node: dict[str, list[HostPart]] = {}
    for part in parts:
        if not part.empty:
            by_node.setdefault(part.node, []).append(part)
    specs: dict[str, HostRulesSpec] = {}
    conflicts: list[Conflict] = []
    for node in sorted(by_node):
        spec, found = _merged(node, by_node[node])
        conflicts += found
        if not found:
            specs[node] = spec
    return specs, conflicts


_LABEL_RE = re.compile(r"[A-Za-z0-9 _.:'-]{1,128}")
"""A component's kind and name as an nftables comment: nothing nft or a shell reads in it."""

KEY_PATH_PREFIX = "pvenet:"
"""An owner that starts so is a stack file's key path (``pvenet:networks.nat[0]``)."""

Owned = tuple[HostPart, str, Any]
"""A rule with the part it is from and the part's argument: (part, argument, rule)."""


def networks_of(parts: Iterable[HostPart]) -> dict[str, list[str]]:
    """Per node, every guest network its parts give it (``HostRules``' ``networks``)."""
    found: dict[str, list[str]] = {}
    for part in parts:
        if not part.empty:
            held = found.setdefault(part.node, [])
            held += [n for n in part.networks if n not in held]
    return found


def _merged(node: str, parts: Sequence[HostPart]) -> tuple[HostRulesSpec, list[Conflict]]:
    masquerade = [(p, a, r) for p in parts for a, r in p.masquerade]
    forwards = [(p, a, r) for p in parts for a, r in p.forwards]
    routes = [(p, a, r) for p in parts for a, r in p.routes]
    conflicts = [
        *_twice(masquerade, lambda r: (r.network, r.interface), _masquerade_clash(node)),
        *_twice(routes, lambda r: r.host, _route_clash(node)),
        *_forward_clashes(node, forwards),
    ]
    spec = HostRulesSpec(
        masquerade=_unique([r for _p, _a, r in masquerade]),
        forwards=[r for _p, _a, r in forwards],
        routes=_unique([r for _p, _a, r in routes]),
        proxy_arp=sorted({iface for p in parts for iface in p.proxy_arp}),
        ip_forward=IpForward(
            ipv4=any(p.ip_forward.ipv4 for p in parts),
            ipv6=any(p.ip_forward.ipv6 for p in parts),
        ),
    )
    if not conflicts:
        conflicts = _spec_problems(spec, forwards)
    return spec, conflicts


def _unique(rules: list[Any]) -> list[Any]:
    return list(dict.fromkeys(rules))


def _named(part: HostPart, argument: str) -> str:
    """``pvenet:networks.nat[0].forwards[1]`` for a key path, else ``NatGateway 'lab'
    (forwards[1])``; the argument alone within the component's own check."""
    if not part.owner:
        return argument
    if part.owner.startswith(KEY_PATH_PREFIX):
        return f"{part.owner}.{argument}"
    return f"{part.owner} ({argument})"


def _twice(
    owned: list[Owned], key: Callable[[Any], Hashable], clash: Callable[[Any, Owned], str]
) -> list[Conflict]:
    """Rules whose ``key`` an earlier rule has already (of any part): one conflict each."""
    first: dict[Any, Owned] = {}
    found = []
    for part, argument, rule in owned:
        earlier = first.setdefault(key(rule), (part, argument, rule))
        if earlier[1:] != (argument, rule) or earlier[0] is not part:
            found.append(Conflict(part.owner, argument, clash(rule, earlier)))
    return found


def _masquerade_clash(node: str) -> Callable[[Masquerade, Owned], str]:
    def clash(rule: Masquerade, earlier: Owned) -> str:
        return (
            f"{rule.source} is masqueraded out of {rule.interface} on {node} by "
            f"{_named(earlier[0], earlier[1])} already; a network belongs to one component"
        )

    return clash


def _route_clash(node: str) -> Callable[[Route, Owned], str]:
    def clash(rule: Route, earlier: Owned) -> str:
        return (
            f"{rule.host} on {node} is routed by {_named(earlier[0], earlier[1])} already "
            f"(through {earlier[2].interface}); an address belongs to one guest"
        )

    return clash


def _forward_clashes(node: str, forwards: list[Owned]) -> list[Conflict]:
    found = []
    for index, (part, argument, forward) in enumerate(forwards):
        for other, other_argument, earlier in forwards[:index]:
            if other is not part and collides(earlier, forward):
                found.append(
                    Conflict(
                        part.owner,
                        f"{argument}.port",
                        f"{forward.protocol} port {forward.port} of {node} is forwarded to "
                        f"{earlier.to} by {_named(other, other_argument)} already; one port "
                        "of one address goes to one guest: give one of them another port "
                        "or external address",
                    )
                )
                break
    return found


def _spec_problems(spec: HostRulesSpec, forwards: list[Owned]) -> list[Conflict]:
    """What the model finds wrong with the merged set, against the part it comes from."""
    found = []
    for problem in rule_problems(spec):
        head, _dot, rest = problem.path.partition(".")
        if head.startswith("forwards["):
            part, argument, _rule = forwards[int(head[len("forwards[") : -1])]
            where = f"{argument}.{rest}" if rest else argument
            found.append(Conflict(part.owner, where, problem.message))
        else:  # within one part's own rules (caught by the part's component first)
            found.append(Conflict("", problem.path, problem.message))
    return found


def as_input(spec: HostRulesSpec) -> dict[str, Any]:
    """A spec as the ``rules`` input of ``HostRules``: plain data, defaults left out."""
    return spec.model_dump(mode="json", exclude_defaults=True)


def _in_network(forward: Forward, network: IpNetwork, gateway: IpAddress) -> str | None:
    """Why ``forward``'s guest cannot be a guest of ``network``; None when it can."""
    if forward.guest not in network:
        return f"{forward.to} is not in {network}: forward to a guest of this network"
    if forward.guest == gateway:
        return f"{forward.to} is the host's own address on {network}: give the guest's address"
    if problem := reserved_in(forward.guest, network):
        return f"{forward.to} {problem}: give the guest's address"
    return None


@dataclass(frozen=True)
class NatRules:
    """What a NAT network asks of the host rules of its nodes (pure; checked before use).

    ``cidr`` is the host's address on the network with the prefix length
    (``10.10.10.1/24``). A classic network (``node`` set: one bridge on one node)
    masquerades its network out of ``uplink`` and turns forwarding on; an SDN
    network (``node`` None) leaves both to Proxmox's SDN and only adds what it
    cannot do: port forwards on the node each one names (``nodes``: where the
    vnet exists, None for every node), and for hairpin a masquerade of the
    network out of ``uplink`` beside Proxmox's own.
    """

    owner: str
    label: str
    """Kept as the comment of pvenet's masquerade rule (``NatGateway lab``)."""
    cidr: str
    uplink: str | None
    forwards: Sequence[PortForward]
    hairpin: bool
    node: str | None = None
    nodes: Sequence[str] | None = None

    @classmethod
    def of(cls, kind: str, name: str, values: Mapping[str, Any], owner: str = "") -> NatRules:
        """The rules of a component's checked arguments (``node`` for a classic network,
        ``nodes`` for an SDN one); ``kind`` and ``name`` label pvenet's masquerade rule."""
        label = f"{kind} {name}".strip()
        return cls(
            owner=owner,
            label=label if _LABEL_RE.fullmatch(label) else kind,
            cidr=values["cidr"],
            uplink=values["uplink"],
            forwards=values["forwards"],
            hairpin=values["hairpin"],
            node=values.get("node"),
            nodes=values.get("nodes"),
        )

    def _network(self) -> tuple[IpAddress, IpNetwork] | None:
        try:
            interface = ipaddress.ip_interface(self.cidr)
        except ValueError:
            return None  # the component reports its cidr itself
        return interface.ip, interface.network

    def problems(self) -> list[Problem]:
        """Every problem with the forwards, ``hairpin`` and ``uplink``, at its argument."""
        made, problems = forwards_of(self.forwards, self.hairpin)
        if self.uplink is not None:
            try:
                host_iface(self.uplink)
            except ValueError as error:
                problems.append(Problem("uplink", str(error)))
        elif self.node is not None or (self.hairpin and self.forwards):
            why = "guests leave through it" if self.node else "hairpin masquerades out of it"
            problems.append(
                Problem("uplink", f"is required: the interface with the node's address ({why})")
            )
        network = self._network()
        for where, given, forward in made:
            if self.node is not None and given.node not in (None, self.node):
                problems.append(
                    Problem(
                        f"{where}.node",
                        f"{given.node} is not {self.node}: the network's guests run on its node",
                    )
                )
            elif self.node is None and given.node is None:
                problems.append(Problem(f"{where}.node", "is required: the node the guest runs on"))
            elif self.nodes is not None and given.node not in self.nodes:
                problems.append(
                    Problem(
                        f"{where}.node",
                        f"{given.node} is not one of nodes ({', '.join(self.nodes)}): the "
                        "guest runs where the network exists",
                    )
                )
            if network and (problem := _in_network(forward, network[1], network[0])):
                problems.append(Problem(f"{where}.to", problem))
        if not problems and network:
            _specs, conflicts = merge(self.parts())
            problems += [Problem(c.argument, c.message) for c in conflicts]
        return problems

    def parts(self) -> list[HostPart]:
        """The host rules of each node (only call once :meth:`problems` found none)."""
        made, _problems = forwards_of(self.forwards, self.hairpin)
        _gateway, network = self._network() or (None, None)
        assert network is not None, "parts() of a network with a bad cidr"
        masquerade: tuple[tuple[str, Masquerade], ...] = ()
        if self.node is not None or self.hairpin:
            rule = Masquerade(
                source=str(network), interface=str(self.uplink), comment=self.label or None
            )
            masquerade = (("uplink", rule),)
        by_node: dict[str, list[tuple[str, Forward]]] = {}
        if self.node is not None:
            by_node[self.node] = []
        for where, given, forward in made:
            by_node.setdefault(given.node or str(self.node), []).append((where, forward))
        parts = []
        for node, forwards in by_node.items():
            versions = {f.version for _w, f in forwards}
            if self.node is not None:
                versions.add(network.version)  # classic: the network's forwarding is ours
            parts.append(
                HostPart(
                    node,
                    self.owner,
                    masquerade=masquerade,
                    forwards=tuple(forwards),
                    ip_forward=IpForward(ipv4=4 in versions, ipv6=6 in versions),
                    networks=(str(network),),
                )
            )
        return parts


@dataclass(frozen=True)
class RoutedRules:
    """What a classic routed network asks of its node's host rules (pure; checked before use).

    The uplink keeps the node's address and answers ARP for the guests'
    addresses (``proxy_arp``); forwarding is on; each guest address is routed
    (``/32``, ``/128``) through the bridge the guests attach to.
    """

    owner: str
    node: str
    bridge: str
    uplink: str
    addresses: Sequence[str]

    def problems(self) -> list[Problem]:
        """Every problem with ``uplink`` and ``addresses``, at its argument."""
        problems = []
        try:
            host_iface(self.uplink)
        except ValueError as error:
            problems.append(Problem("uplink", str(error)))
        if self.uplink == self.bridge:
            problems.append(
                Problem(
                    "uplink",
                    f"{self.uplink} is the guests' bridge: the uplink is the interface that "
                    "keeps the node's address, such as vmbr0",
                )
            )
        for index, address in enumerate(self.addresses):
            try:
                route = Route(address=address, interface=self.bridge)
            except ValidationError as error:
                problems += [
                    Problem(f"addresses[{index}]", p.message)
                    for p in pydantic_problems(error, Wording())
                ]
                continue
            if route.host.version != 4:
                problems.append(
                    Problem(
                        f"addresses[{index}]",
                        f"{address} is an IPv6 address: proxy_arp answers for IPv4 addresses "
                        "only (IPv6 needs NDP proxying, which pvenet does not set up); route "
                        "an IPv6 block with RoutedSubnet",
                    )
                )
        if not problems:
            _specs, conflicts = merge(self.parts())
            problems += [Problem(c.argument, c.message) for c in conflicts]
        return problems

    def parts(self) -> list[HostPart]:
        """The node's host rules (only call once :meth:`problems` found none)."""
        routes = tuple(
            (f"addresses[{index}]", Route(address=address, interface=self.bridge))
            for index, address in enumerate(self.addresses)
        )
        return [
            HostPart(
                self.node,
                self.owner,
                routes=routes,
                proxy_arp=(self.uplink,),
                ip_forward=IpForward(ipv4=True, ipv6=False),
            )
        ]
