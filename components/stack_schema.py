"""The schema of stack config ``pvenet:networks``: a stack's networks, by mode, as data.

Each stack file (``Pulumi.<stack>.yaml``) describes its networks under
``pvenet:networks``, one list per mode, each item a component's keyword
arguments plus a ``name``::

    pvenet:networks:
      bonded:
        - {name: uplink, node: pve1, bond: bond0, slaves: [eno2, eno3], bridge: vmbr1}
      nat:
        - name: lab
          zone: labnat
          vnet: labnet
          cidr: 10.10.10.1/24
          forwards: [{node: pve1, protocol: tcp, port: 8080, to: 10.10.10.5, to_port: 80}]
      masquerade:
        - {name: build, node: pve1, bridge: vmbr5, cidr: 10.20.0.1/24, uplink: vmbr0}
      routed_bridge:
        - {name: extra, node: pve1, bridge: vmbr6, uplink: vmbr0, cidr: 198.51.100.5/32,
           addresses: [198.51.100.7]}

An entry's arguments are its component's argument model
(``components.arguments``): the same names, types, defaults and meanings, so
an argument a component gains is a key of stack config at once. The models
check the *shape* (known modes and arguments, types, required arguments, node
and resource names, unique names); numbers are whole numbers and booleans are
``true``/``false`` (``vlan_id: true`` is not VLAN 1, ``"yes"`` is not a
boolean). The components check the values against each other (addresses and
gateways, VLAN ids and names, bond modes and options...) with the providers'
rules, and ``components.stack`` the networks against each other (one NIC,
bridge, bond, zone or vnet each; one guest per forwarded port or routed address).
Either way a problem is reported as a :class:`ConfigProblem` with the key path
(``pvenet:networks.nat[0].cidr``) and a reason, and all problems of a stack
come together in one :class:`StackConfigError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import pulumi
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from components.arguments import (
    BondedUplinkArgs,
    BridgedNetworkArgs,
    MasqueradeBridgeArgs,
    NatGatewayArgs,
    RoutedBridgeArgs,
    RoutedSubnetArgs,
    VlanNetworkArgs,
)
from provider.errors import InvalidSpec
from provider.host.model import HostRulesSpec, parse_rules
from provider.names import NODE_RE
from provider.problems import Location, Wording, pydantic_problems
from provider.text import shown

CONFIG_KEY = "pvenet:networks"
# Resource names become URNs, child names (``<name>-interfaces``) and stack output names.
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


HOST_RULES_KEY = "pvenet:hostRules"
"""Host rules by node that no network of ``pvenet:networks`` brings (hook lines
``components.adopt`` found, a route, proxy_arp): merged with the networks' own."""


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in the stack's network description: where (the key path) and why."""

    path: str
    """Below ``key``: ``nat[0].cidr``; empty for the key's value as a whole."""
    reason: str
    key: str = CONFIG_KEY

    def __str__(self) -> str:
        where = f"{self.key}.{self.path}" if self.path else self.key
        return f"{where}: {self.reason}"


class StackConfigError(InvalidSpec, pulumi.RunError):
    """The stack's ``pvenet:networks`` (or ``pvenet:hostRules``) is not valid; raised before any
    resource is declared.

    A ``pulumi.RunError``, so ``pulumi preview``/``up`` print the message (one
    line per problem, each starting with the key path) without a traceback.
    """

    def __init__(self, problems: Sequence[ConfigProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def _resource_name(value: str) -> str:
    if not NAME_RE.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a usable name: start with a letter, then letters, digits, "
            "'_' or '-' (it names the resources and the stack output)"
        )
    return value


ResourceName = Annotated[str, AfterValidator(_resource_name)]


class Entry(BaseModel):
    """One network: a ``name``, then a component's keyword arguments (its argument model)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ResourceName

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments the stack file gives (the component's defaults apply to others)."""
        return {key: getattr(self, key) for key in self.model_fields_set if key != "name"}


# Each entry is an Entry (the name first) with its component's arguments after it: the
# fields, types, defaults and descriptions are the argument model's.
class BridgedEntry(BridgedNetworkArgs, Entry):
    """A network of mode ``bridged``: a :class:`components.BridgedNetwork`."""


class BondedEntry(BondedUplinkArgs, Entry):
    """A network of mode ``bonded``: a :class:`components.BondedUplink`."""


class VlanEntry(VlanNetworkArgs, Entry):
    """A network of mode ``vlans``: a :class:`components.VlanNetwork`."""


class RoutedEntry(RoutedSubnetArgs, Entry):
    """A network of mode ``routed``: a :class:`components.RoutedSubnet`."""


class NatEntry(NatGatewayArgs, Entry):
    """A network of mode ``nat``: a :class:`components.NatGateway`."""


class MasqueradeEntry(MasqueradeBridgeArgs, Entry):
    """A network of mode ``masquerade``: a :class:`components.MasqueradeBridge`."""


class RoutedBridgeEntry(RoutedBridgeArgs, Entry):
    """A network of mode ``routed_bridge``: a :class:`components.RoutedBridge`."""


class Networks(BaseModel):
    """A stack's networks by mode; every mode is optional and empty by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bridged: list[BridgedEntry] = []
    bonded: list[BondedEntry] = []
    vlans: list[VlanEntry] = []
    routed: list[RoutedEntry] = []
    nat: list[NatEntry] = []
    masquerade: list[MasqueradeEntry] = []
    routed_bridge: list[RoutedBridgeEntry] = []

    def entries(self) -> Iterator[tuple[str, str, Entry]]:
        """``(mode, "nat[0]", entry)`` for every network, mode by mode in the schema's order."""
        for mode in MODES:
            for index, entry in enumerate(getattr(self, mode)):
                yield mode, f"{mode}[{index}]", entry


MODES: tuple[str, ...] = tuple(Networks.model_fields)
ENTRY_MODELS: dict[str, type[Entry]] = {
    "bridged": BridgedEntry,
    "bonded": BondedEntry,
    "vlans": VlanEntry,
    "routed": RoutedEntry,
    "nat": NatEntry,
    "masquerade": MasqueradeEntry,
    "routed_bridge": RoutedBridgeEntry,
}


def parse_networks(raw: Any) -> Networks:
    """The validated description, or StackConfigError listing every problem with its path."""
    if raw is None:
        raise StackConfigError(
            [ConfigProblem("", "is not set: describe the stack's networks in its stack file")]
        )
    if not isinstance(raw, dict):
        raise StackConfigError(
            [ConfigProblem("", f"must be a map of network modes ({', '.join(MODES)}) to lists")]
        )
    try:
        networks = Networks.model_validate(raw)
    except ValidationError as error:
        raise StackConfigError(
            [ConfigProblem(p.path, p.message) for p in pydantic_problems(error, _WORDING)]
        ) from None
    if problems := _duplicate_names(networks):
        raise StackConfigError(problems)
    return networks


def _unknown_key(location: Location) -> str:
    """The sentence for a mode or an argument the schema does not know."""
    if len(location) == 1:
        return f"is not a network mode; the modes are {', '.join(MODES)}"
    known = ", ".join(ENTRY_MODELS[str(location[0])].model_fields)
    return f"is not an argument of {location[0]} networks; use {known}"


_WORDING = Wording(extra=_unknown_key)
"""pydantic's errors about ``pvenet:networks``, worded for a stack file."""


def _duplicate_names(networks: Networks) -> list[ConfigProblem]:
    first: dict[str, str] = {}
    problems = []
    for _mode, where, entry in networks.entries():
        if entry.name in first:
            problems.append(
                ConfigProblem(
                    f"{where}.name",
                    f"'{entry.name}' is already the name of {first[entry.name]}; each network "
                    "needs its own name (it names the resources and the stack output)",
                )
            )
        first.setdefault(entry.name, where)
    return problems


def parse_host_rules(raw: Any) -> dict[str, HostRulesSpec]:
    """``pvenet:hostRules`` (node name to host rules, in the fields of ``HostRules``), or
    StackConfigError listing every problem with its key path; {} when it is not set."""
    if raw is None:
        return {}
    what = "a map of node names to host rules (masquerade, forwards, ip_forward, proxy_arp, routes)"
    if not isinstance(raw, dict):
        raise StackConfigError([ConfigProblem("", f"must be {what}", HOST_RULES_KEY)])
    specs: dict[str, HostRulesSpec] = {}
    problems: list[ConfigProblem] = []
    for node, rules in raw.items():
        if not isinstance(node, str) or not NODE_RE.fullmatch(node):
            problems.append(
                ConfigProblem("", f"{shown(str(node))} is not a node name", HOST_RULES_KEY)
            )
            continue
        if not isinstance(rules, dict):
            problems.append(ConfigProblem(node, f"must be {what}", HOST_RULES_KEY))
            continue
        spec, found = parse_rules(rules)
        problems += [
            ConfigProblem(f"{node}.{p.path}" if p.path else node, p.message, HOST_RULES_KEY)
            for p in found
        ]
        if spec is not None:
            specs[node] = spec
    if problems:
        raise StackConfigError(problems)
    return specs
