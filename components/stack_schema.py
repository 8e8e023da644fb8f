"""The schema of stack config ``pvenet:networks``: a stack's networks, by mode, as data.

Each stack file (``Pulumi.<stack>.yaml``) describes its networks under
``pvenet:networks``, one list per mode, each item a component's keyword
arguments plus a ``name``::

    pvenet:networks:
      bonded:
        - {name: uplink, node: pve1, bond: bond0, slaves: [eno2, eno3], bridge: vmbr1}
      nat:
        - {name: lab, zone: labnat, vnet: labnet, cidr: 10.10.10.1/24}

The models check the *shape* (known modes and arguments, types, required
arguments, node and resource names, unique names); numbers are whole numbers
and booleans are ``true``/``false`` (``vlan_id: true`` is not VLAN 1, ``"yes"``
is not a boolean). The components check the values (addresses, gateways,
VLAN ids, bond modes...) with their own rules, and ``components.stack`` the
networks against each other (one NIC, bridge, bond, zone or vnet each).
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
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    StrictBool,
    ValidationError,
)

from provider.errors import InvalidSpec
from provider.names import NodeName
from provider.node.model import BondMode, HashPolicy, WholeNumber
from provider.problems import Location, Wording, pydantic_problems
from provider.text import shown

CONFIG_KEY = "pvenet:networks"
# Resource names become URNs, child names (``<name>-interfaces``) and stack output names.
NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class ConfigProblem:
    """One problem in the stack's network description: where (the key path) and why."""

    path: str
    """Below ``pvenet:networks``: ``nat[0].cidr``; empty for the description as a whole."""
    reason: str

    def __str__(self) -> str:
        where = f"{CONFIG_KEY}.{self.path}" if self.path else CONFIG_KEY
        return f"{where}: {self.reason}"


class StackConfigError(InvalidSpec, pulumi.RunError):
    """The stack's ``pvenet:networks`` is not valid; raised before any resource is declared.

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


def _vid_text(value: Any) -> Any:
    """A VLAN id given as a number (``10``) as the text the components take (``"10"``)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


ResourceName = Annotated[str, AfterValidator(_resource_name)]
VlanIds = list[Annotated[str, BeforeValidator(_vid_text)]]


class Entry(BaseModel):
    """One network: a component's ``name`` and its keyword arguments (see the component)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ResourceName

    def arguments(self) -> dict[str, Any]:
        """The keyword arguments the stack file gives (the component's defaults apply to others)."""
        return self.model_dump(exclude={"name"}, exclude_unset=True)


class BridgedEntry(Entry):
    """Arguments of :class:`components.BridgedNetwork` (same names, same defaults)."""

    node: NodeName
    bridge: str
    ports: list[str] = []
    cidr: str | None = None
    gateway: str | None = None
    cidr6: str | None = None
    gateway6: str | None = None
    vlan_aware: StrictBool = False
    vids: VlanIds | None = None
    mtu: WholeNumber | None = None
    comments: str | None = None
    adopt: StrictBool = False
    allow_management_change: StrictBool = False
    allow_dhcp_to_static: StrictBool = False


class BondedEntry(Entry):
    """Arguments of :class:`components.BondedUplink` (same names, same defaults)."""

    node: NodeName
    bond: str
    slaves: list[str]
    mode: BondMode = "active-backup"
    hash_policy: HashPolicy | None = None
    primary: str | None = None
    bridge: str | None = None
    cidr: str | None = None
    gateway: str | None = None
    mtu: WholeNumber | None = None
    vlan_aware: StrictBool = False
    vids: VlanIds | None = None
    comments: str | None = None
    adopt: StrictBool = False
    allow_management_change: StrictBool = False
    allow_dhcp_to_static: StrictBool = False


class VlanEntry(Entry):
    """Arguments of :class:`components.VlanNetwork` (same names, same defaults)."""

    node: NodeName
    parent: str
    vlan_id: WholeNumber
    iface: str | None = None
    cidr: str | None = None
    gateway: str | None = None
    mtu: WholeNumber | None = None
    comments: str | None = None


class RoutedEntry(Entry):
    """Arguments of :class:`components.RoutedSubnet` (same names, same defaults)."""

    zone: str
    vnet: str
    cidr: str
    nodes: list[NodeName] | None = None
    mtu: WholeNumber | None = None


class NatEntry(Entry):
    """Arguments of :class:`components.NatGateway` (same names, same defaults)."""

    zone: str
    vnet: str
    cidr: str = "10.10.10.1/24"
    dhcp_range: tuple[str, str] | None = None
    dns_server: str | None = None
    nodes: list[NodeName] | None = None
    mtu: WholeNumber | None = None


class Networks(BaseModel):
    """A stack's networks by mode; every mode is optional and empty by default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bridged: list[BridgedEntry] = []
    bonded: list[BondedEntry] = []
    vlans: list[VlanEntry] = []
    routed: list[RoutedEntry] = []
    nat: list[NatEntry] = []

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
