"""One argument model per component: each argument's name, type, default and meaning, once.

A component's keyword arguments are the fields of its model
(``BridgedNetworkArgs`` for ``BridgedNetwork``, ...). The model is:

- what the constructor checks its arguments against (:meth:`ComponentArgs.check`):
  a value known now must have the field's type; a ``pulumi.Output`` is checked
  when it resolves;
- where the class docstring's list of arguments and the class's signature come
  from (:class:`Component`), so the documentation says what the code takes;
- what the stack schema (``components.stack_schema``) builds each entry of
  ``pvenet:networks`` from, so a new argument is a key of stack config at once.

A model checks the *shape* of each argument on its own (types, required
arguments, node names, the addresses an SDN subnet hands out); each component
then checks its arguments against each other with the providers' own rules
(:meth:`Component.rules`). Problems come back as ``InvalidArguments`` naming
the component and each argument.
"""

from __future__ import annotations

import functools
import inspect
import re
import textwrap
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin

import pulumi
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    TypeAdapter,
    ValidationError,
)

from components.errors import ArgumentProblem, InvalidArguments
from components.host_rules import HostPart, PortForward
from provider.names import NodeName
from provider.node.model import BOND_MODES, HASH_POLICIES, BondMode, HashPolicy, VlanIdText
from provider.node.model import WholeNumber as Number
from provider.problems import Wording, pydantic_problems
from provider.sdn.model import DhcpRange, IpText


def is_plain(value: Any) -> bool:
    """Whether a value is known now: no ``Output`` or awaitable anywhere inside it."""
    if isinstance(value, pulumi.Output) or inspect.isawaitable(value):
        return False
    if isinstance(value, list | tuple):
        return all(is_plain(item) for item in value)
    if isinstance(value, Mapping):
        return all(is_plain(item) for item in value.values())
    return True


def _pair(value: Any) -> Any:
    """``(start, end)`` as the DHCP range it names; anything else is not a pair."""
    if isinstance(value, DhcpRange):
        return value
    if isinstance(value, list | tuple) and len(value) == 2:
        return {"start": value[0], "end": value[1]}
    raise ValueError(f"{value!r} is not a pair (start, end) of addresses")


DhcpPair = Annotated[DhcpRange, BeforeValidator(_pair)]
"""A DHCP range given as ``(start, end)``; each end is checked as an address."""


def _listed(names: Sequence[str]) -> str:
    return ", ".join(f"``{name}``" for name in names)


_WORDING = Wording()
"""pydantic's own sentences, each with the value given: ``Input should be a valid list (got
'eno4')``; the rules' own sentences (node names, addresses) as they are."""


class ComponentArgs(BaseModel):
    """The keyword arguments of a component: one field each, with its type, default and meaning.

    Each field's ``description`` completes ``"<argument>: "`` in the component's docs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def check(cls, kind: str, name: str, given: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments with their defaults filled in: each value known now validated (in the
        field's form: ``("eno1",)`` becomes a list), each ``Output`` as given.

        TypeError for an argument ``kind`` does not take or a required one left out, as
        Python raises for a call; InvalidArguments naming each argument whose known value
        does not fit its field.
        """
        fields = cls.model_fields
        if unknown := [key for key in given if key not in fields]:
            raise TypeError(f"{kind}() got an unexpected keyword argument '{unknown[0]}'")
        if missing := [key for key, f in fields.items() if f.is_required() and key not in given]:
            raise TypeError(f"{kind}() missing a required keyword argument: '{missing[0]}'")
        values = {key: f.get_default(call_default_factory=True) for key, f in fields.items()}
        problems: list[ArgumentProblem] = []
        for key, value in given.items():
            if not is_plain(value):
                values[key] = value
                continue
            try:
                values[key] = cls._adapters()[key].validate_python(value)
            except ValidationError as error:
                found = pydantic_problems(error, _WORDING, key)
                problems += [_argument_problem(p.path, p.message) for p in found]
        raise_if(kind, name, problems)
        return values

    @classmethod
    @functools.cache
    def _adapters(cls) -> dict[str, TypeAdapter[Any]]:
        """One validator per field, so a field is checked while another is still unknown."""
        adapters: dict[str, TypeAdapter[Any]] = {}
        for key, field in cls.model_fields.items():
            annotated: Any = Annotated[field.annotation, field]  # the field's type and rules
            adapters[key] = TypeAdapter(annotated)
        return adapters

    @classmethod
    def documented(cls, prose: str) -> str:
        """``prose`` (a class docstring) followed by the list of the arguments, from the fields."""
        lines = [
            inspect.cleandoc(prose),
            "",
            "Keyword arguments (each may be a ``pulumi.Input``; the fields of "
            f"``{cls.__name__}``):",
            "",
        ]
        for key, field in cls.model_fields.items():
            default = "required" if field.is_required() else f"default ``{field.get_default()!r}``"
            item = f"- ``{key}`` ({default}): {field.description}"
            lines += textwrap.wrap(item, width=92, subsequent_indent="  ", break_on_hyphens=False)
        return "\n".join(lines) + "\n"

    @classmethod
    def signature(cls) -> inspect.Signature:
        """``(name, *, <the fields>, opts=None)``: what a component's constructor takes."""
        keyword = inspect.Parameter.KEYWORD_ONLY
        return inspect.Signature(
            [
                inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
                *(
                    inspect.Parameter(
                        key,
                        keyword,
                        annotation=f"Input[{_type_text(field.annotation)}]",
                        default=inspect.Parameter.empty
                        if field.is_required()
                        else field.get_default(),
                    )
                    for key, field in cls.model_fields.items()
                ),
                inspect.Parameter(
                    "opts", keyword, annotation=pulumi.ResourceOptions | None, default=None
                ),
            ]
        )


_SHOWN_AS: Mapping[Any, str] = {DhcpRange: "tuple[str, str]", VlanIdText: "int | str"}
"""Types a caller gives in another form than the field holds."""


def _type_text(annotation: Any) -> str:
    """A field's type as a caller reads it: ``list[str] | None``, without pydantic's rules."""
    if shown := next((text for kind, text in _SHOWN_AS.items() if kind == annotation), None):
        return shown
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return _type_text(args[0])
    if origin is Literal:
        return "str"  # one of the values the docs list
    if origin in (Union, UnionType):
        return " | ".join(_type_text(arg) for arg in args)
    if origin is list:
        return f"list[{_type_text(args[0])}]"
    if annotation is type(None):
        return "None"
    return str(getattr(annotation, "__name__", annotation))


def _argument_problem(path: str, message: str) -> ArgumentProblem:
    """A problem at ``path`` below an argument: named by the argument and the named part of it
    (``dhcp_range.start``); a list position only where an item has parts of its own
    (``forwards[1].port``; ``vids[1]`` is ``vids``)."""
    return naming(re.sub(r"\[\d+\]$", "", path), message)


def naming(argument: str, message: str) -> ArgumentProblem:
    """``message`` about ``argument``, led by the argument's name unless it starts with it."""
    if re.match(rf"{re.escape(argument)}\b", message):
        return ArgumentProblem(argument, message)
    return ArgumentProblem(argument, f"{argument}: {message}")


def raise_if(kind: str, name: str, problems: Sequence[ArgumentProblem]) -> None:
    """Raise one InvalidArguments naming the component and listing every problem, if any."""
    unique: dict[str, ArgumentProblem] = {}
    for problem in problems:
        unique.setdefault(problem.message, problem)  # the same sentence once
    if unique:
        raise InvalidArguments(
            f"{kind} '{name}': " + "; ".join(unique),
            component=kind,
            name=name,
            problems=list(unique.values()),
        )


class Component(pulumi.ComponentResource):
    """A pvenet component: its keyword arguments are the fields of its argument model.

    A subclass names its model in its class statement (``class
    BridgedNetwork(..., args=BridgedNetworkArgs)``); its docstring gets the list of
    arguments and its signature the fields. It builds its children in ``_build``
    from the checked arguments, and checks them against each other in ``rules``.
    """

    Args: ClassVar[type[ComponentArgs]]
    _type_token: ClassVar[str]

    def __init_subclass__(cls, *, args: type[ComponentArgs] | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if args is not None:
            cls.Args = args
            cls._type_token = f"pvenet:index:{cls.__name__}"
            cls.__doc__ = args.documented(cls.__doc__ or "")
            setattr(cls, "__signature__", args.signature())  # noqa: B010 (mypy has no such attr)

    def __init__(
        self, name: str, *, opts: pulumi.ResourceOptions | None = None, **arguments: Any
    ) -> None:
        values = self.checked(name, arguments)
        super().__init__(self._type_token, name, None, opts)
        self._build(name, values)

    def _build(self, name: str, values: dict[str, Any]) -> None:
        """Register the children and the outputs from the checked arguments."""
        raise NotImplementedError

    @classmethod
    def validate(cls, name: str, **arguments: Any) -> None:
        """Raise what ``cls(name, **arguments)`` would for bad arguments; register nothing.

        ``InvalidArguments`` names each bad argument (plain values are checked in
        full, ``Output``s once they resolve, as in the constructor); ``TypeError``
        an argument the component does not take, or a required one left out. A
        caller that declares several components validates all of them first, so
        a mistake in the last one cannot leave the first ones half deployed.
        """
        cls.checked(name, arguments)

    @classmethod
    def checked(cls, name: str, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """The arguments with their defaults, each known one of the right shape, and no rule
        of the component broken by those known; InvalidArguments otherwise."""
        values = cls.Args.check(cls.__name__, name, arguments)
        raise_if(cls.__name__, name, cls.rules(values))
        return values

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[ArgumentProblem]:
        """What the component's rules find wrong with these arguments (skipping unknown ones)."""
        return []

    @classmethod
    def host_parts(
        cls, name: str, values: Mapping[str, Any], owner: str | None = None
    ) -> list[HostPart]:
        """The host rules the component wants on each node, from checked arguments (none by
        default); ``owner`` names the component in conflicts (``NatGateway 'lab'``)."""
        return []


def must_be_known(values: Mapping[str, Any], names: Sequence[str]) -> list[ArgumentProblem]:
    """Arguments that decide host rules but are ``Output``s: host rules are merged per node
    and checked when the program runs, so their values must be known then."""
    return [
        ArgumentProblem(
            key,
            f"{key} must be a value the program knows, not an output of another resource: "
            "host rules are merged per node and checked before anything is deployed",
        )
        for key in names
        if not is_plain(values[key])
    ]


# --- the models ---------------------------------------------------------------------------------

# Descriptions several models share word for word.
_NODE = "the Proxmox node name."
_COMMENTS = "a comment shown in the GUI."
_ADOPT = (
    "take over a bridge or bond of the component that already exists (such as the "
    "installer's ``vmbr0``); it is put back as it was when the component is deleted. False: "
    "an existing interface of that name is an error."
)
_MANAGEMENT = (
    "allow rewiring the interface that carries the address pvenet reaches the node by "
    "(moving the management bridge onto a bond needs it). False, so a typo cannot cut the "
    "node off."
)
_DHCP_TO_STATIC = (
    "allow adopting a bridge or bond the node addresses by DHCP (``inet dhcp``): Proxmox's "
    "API can only write it as ``manual`` or ``static``."
)
_GATEWAY = "the host's IPv4 default gateway, inside ``cidr``; one default gateway per node."
_VIDS = (
    'the VLAN ids or ranges the VLAN-aware bridge carries (``[10, "100-200"]``); needs '
    "``vlan_aware=True``. None: Proxmox's ``2-4094``."
)
_ZONE = (
    "the SDN zone's id: 2 to 8 letters or digits, starting with a letter. The zone must not "
    "exist yet: it belongs to this component."
)
_VNET = "the vnet's id, with the zone's rules; what guests attach to."
_NODES = "the nodes the vnet exists on. None: every node of the cluster."
_SDN_MTU = "the vnet's MTU. None: the kernel's default."
_FORWARDS = (
    "port forwards into the network: dicts with ``protocol`` (``tcp``/``udp``), ``port`` "
    '(``8080`` or ``"8000-8010"``), ``to`` (the guest\'s address), optional ``to_port``, '
    "``external_address`` or ``external_interface`` (forward only what arrives there) and "
    "``comment``"
)
_HAIRPIN = (
    "let the network's own guests reach its forwards by the node's address too (a guest "
    "connecting to the node's public address and a forwarded port reaches the other guest)."
)
_CLASSIC_MTU = "the bridge's MTU (1280 to 65520). None: the kernel's default."
_CLASSIC_BRIDGE = (
    "the guests' bridge (``vmbrN``), created with no ports: a letter, then up to 9 letters, "
    "digits or ``_``."
)


class BridgedNetworkArgs(ComponentArgs):
    """The arguments of :class:`components.BridgedNetwork`."""

    node: NodeName = Field(description=_NODE)
    bridge: str = Field(
        description="the bridge's name, such as ``vmbr0``: a letter, then up to 9 letters, "
        "digits or ``_``."
    )
    ports: list[str] = Field(
        [],
        description="the bridge's ports: NICs, or bonds or VLANs managed elsewhere; a port "
        "belongs to one bridge or bond. None: a bridge with no uplink, for host-only networks.",
    )
    cidr: str | None = Field(
        None,
        description="the host's IPv4 address with its prefix length (``192.168.10.2/24``). "
        "None: no host address on the bridge.",
    )
    gateway: str | None = Field(None, description=_GATEWAY)
    cidr6: str | None = Field(None, description="the host's IPv6 address with its prefix length.")
    gateway6: str | None = Field(
        None, description="the host's IPv6 default gateway, inside ``cidr6``."
    )
    vlan_aware: StrictBool = Field(False, description="let guests use VLAN tags on this bridge.")
    vids: list[VlanIdText] | None = Field(None, description=_VIDS)
    mtu: Number | None = Field(
        None,
        description="the bridge's MTU (1280 to 65520). None leaves it as the node has it.",
    )
    comments: str | None = Field(None, description=_COMMENTS)
    adopt: StrictBool = Field(False, description=_ADOPT)
    allow_management_change: StrictBool = Field(False, description=_MANAGEMENT)
    allow_dhcp_to_static: StrictBool = Field(False, description=_DHCP_TO_STATIC)


class BondedUplinkArgs(ComponentArgs):
    """The arguments of :class:`components.BondedUplink`."""

    node: NodeName = Field(description=_NODE)
    bond: str = Field(
        description="the bond's name, ``bondN`` (Proxmox only reads ``bondN`` back as a bond)."
    )
    slaves: list[str] = Field(
        description="the NICs in the bond, at least one; each belongs to one bond or bridge. A "
        "bond (``bondN``) may be a slave too; it is not put in this set as a NIC."
    )
    mode: BondMode = Field(
        "active-backup",
        description=f"a Linux bonding mode: {_listed(BOND_MODES)}. ``802.3ad`` (LACP) needs "
        "the switch to take part.",
    )
    hash_policy: HashPolicy | None = Field(
        None,
        description=f"the transmit hash policy ({_listed(HASH_POLICIES)}); only with mode "
        "``802.3ad`` or ``balance-xor``. None: the kernel's ``layer2``.",
    )
    primary: str | None = Field(
        None,
        description="the slave used while it is up; only with mode ``active-backup``, and one "
        "of ``slaves``.",
    )
    bridge: str | None = Field(
        None,
        description="a bridge (``vmbrN``) to put on the bond. None: guests or VLANs use the "
        "bond directly.",
    )
    cidr: str | None = Field(
        None,
        description="the host's IPv4 address with its prefix length: on the bridge when there "
        "is one, else on the bond.",
    )
    gateway: str | None = Field(None, description=_GATEWAY)
    mtu: Number | None = Field(
        None,
        description="the MTU of the bond and the bridge (1280 to 65520). None leaves it as the "
        "node has it.",
    )
    vlan_aware: StrictBool = Field(
        False,
        description="make the bridge VLAN-aware; needs ``bridge`` (a bond itself is not "
        "VLAN-aware).",
    )
    vids: list[VlanIdText] | None = Field(None, description=_VIDS)
    comments: str | None = Field(
        None, description="a comment on the bridge, or on the bond without a bridge."
    )
    adopt: StrictBool = Field(False, description=_ADOPT)
    allow_management_change: StrictBool = Field(False, description=_MANAGEMENT)
    allow_dhcp_to_static: StrictBool = Field(False, description=_DHCP_TO_STATIC)


class VlanNetworkArgs(ComponentArgs):
    """The arguments of :class:`components.VlanNetwork`."""

    node: NodeName = Field(description=_NODE)
    parent: str = Field(
        description="the bridge or bond the VLAN sits on (``vmbr0``, ``bond0``); it must "
        "exist, managed by another component or already on the node."
    )
    vlan_id: Number = Field(description="the VLAN tag, 1 to 4094.")
    iface: str | None = Field(
        None,
        description="the interface's name; None: ``<parent>.<vlan_id>``. A name of the form "
        "``PARENT.ID`` or ``vlanID`` must agree with ``parent`` and ``vlan_id``; at most 15 "
        "characters (the kernel's limit).",
    )
    cidr: str | None = Field(
        None, description="the host's IPv4 address in the VLAN with its prefix length."
    )
    gateway: str | None = Field(None, description=_GATEWAY)
    mtu: Number | None = Field(
        None, description="the MTU, at most the parent's. None leaves it as the node has it."
    )
    comments: str | None = Field(None, description=_COMMENTS)
    adopt: StrictBool = Field(
        False,
        description="take over a VLAN interface of that name that already exists; it is put "
        "back as it was when the component is deleted. False: an existing interface of that "
        "name is an error.",
    )


class _SdnArgs(ComponentArgs):
    """The arguments every SDN component has first."""

    zone: str = Field(description=_ZONE)
    vnet: str = Field(description=_VNET)


class RoutedSubnetArgs(_SdnArgs):
    """The arguments of :class:`components.RoutedSubnet`."""

    cidr: str = Field(
        description="the gateway's address with the block's prefix length: "
        "``203.0.113.17/28`` is the gateway 203.0.113.17 in 203.0.113.16/28."
    )
    nodes: list[NodeName] | None = Field(None, description=_NODES)
    mtu: Number | None = Field(None, description=_SDN_MTU)


class NatGatewayArgs(_SdnArgs):
    """The arguments of :class:`components.NatGateway`."""

    cidr: str = Field(
        "10.10.10.1/24",
        description="the gateway's address with the prefix length: ``10.10.10.1/24`` is the "
        "gateway 10.10.10.1 in 10.10.10.0/24.",
    )
    dhcp_range: DhcpPair | None = Field(
        None,
        description="the first and the last address DHCP hands out, ``(start, end)``: inside "
        "the subnet, not holding the gateway. None: no DHCP.",
    )
    dns_server: IpText | None = Field(
        None, description="the resolver DHCP hands out; needs ``dhcp_range``."
    )
    nodes: list[NodeName] | None = Field(None, description=_NODES)
    mtu: Number | None = Field(None, description=_SDN_MTU)
    forwards: list[PortForward] = Field(
        [],
        description=_FORWARDS + ", and ``node``, the node the guest runs on (required: the "
        "forward is a host rule there).",
    )
    hairpin: StrictBool = Field(False, description=_HAIRPIN + " Needs ``uplink``.")
    uplink: str | None = Field(
        None,
        description="the interface holding the node's address, out of which the guests' "
        "traffic leaves (``vmbr0``); needed for ``hairpin``.",
    )


class MasqueradeBridgeArgs(ComponentArgs):
    """The arguments of :class:`components.MasqueradeBridge`."""

    node: NodeName = Field(description=_NODE)
    bridge: str = Field(description=_CLASSIC_BRIDGE)
    cidr: str = Field(
        description="the host's address on the bridge with the prefix length: "
        "``10.10.20.1/24`` is the guests' gateway 10.10.20.1 in 10.10.20.0/24."
    )
    uplink: str = Field(
        description="the interface holding the node's address (``vmbr0``): the guests' "
        "traffic leaves through it with that address."
    )
    forwards: list[PortForward] = Field(
        [], description=_FORWARDS + "; ``node`` may be left out (it is this node)."
    )
    hairpin: StrictBool = Field(False, description=_HAIRPIN)
    mtu: Number | None = Field(None, description=_CLASSIC_MTU)
    comments: str | None = Field(None, description=_COMMENTS)


class RoutedBridgeArgs(ComponentArgs):
    """The arguments of :class:`components.RoutedBridge`."""

    node: NodeName = Field(description=_NODE)
    bridge: str = Field(description=_CLASSIC_BRIDGE)
    uplink: str = Field(
        description="the interface that keeps the node's address (``vmbr0``, ``eno1``): it "
        "answers ARP for the guests' addresses (``proxy_arp``)."
    )
    cidr: str = Field(
        description="the host's address on the bridge, the guests' gateway: the node's own "
        "address as ``/32`` (``198.51.100.5/32``) for single extra addresses, or the "
        "gateway of a block with its prefix length (``203.0.113.17/28``)."
    )
    addresses: list[str] = Field(
        [],
        description="the guests' extra IPv4 addresses, each routed (``/32``) through the bridge; "
        "not needed for addresses inside ``cidr``.",
    )
    mtu: Number | None = Field(None, description=_CLASSIC_MTU)
    comments: str | None = Field(None, description=_COMMENTS)
