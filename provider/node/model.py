"""Desired node interfaces, validated before anything reaches a node (pure).

An operator describes each interface with Python names (``bridge_ports`` is a
list, ``bond_primary`` has an underscore); only the client maps them to
Proxmox's wire format. Validation happens here, at preview, and every problem
is reported with the property path Pulumi shows (``interfaces[1].bond_primary``)
and a sentence that says what is wrong and what is allowed.

Rules come from Proxmox's API schema and writer, from the GUI's naming rules,
and from the kernel (a name is at most 15 characters). Text that reaches the
node's file (``comments``) follows ``provider.text``, addresses follow
``provider.addresses``. Numbers are whole numbers (the engine's ``1500.0``
is 1500), never booleans (``True`` is not VLAN 1), and booleans are
booleans (``"yes"`` is not one).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
)
from pydantic_core import ErrorDetails

from provider.addresses import (
    plain_address,
    plain_interface,
    proxmox_host_problem,
    reserved_in,
    unusable,
)
from provider.errors import InvalidSpec
from provider.problems import Location, Problem, Wording, pydantic_problems
from provider.text import check_text, shown

BondMode = Literal[
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
]
HashPolicy = Literal["layer2", "layer2+3", "layer3+4"]
BOND_MODES: tuple[str, ...] = get_args(BondMode)
"""The Linux bonding modes in the kernel's numbering (``bond-mode 4`` is ``802.3ad``), which
``provider.node.dialect`` reads numbered modes by."""
HASH_POLICIES: tuple[str, ...] = get_args(HashPolicy)
HASH_POLICY_MODES = ("balance-xor", "802.3ad")

# re.ASCII: Python's \d also matches other scripts' digits ("bond\u0661" would pass).
IFACE_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{1,20}([:.]\d+)?", re.ASCII)
BRIDGE_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9_]{0,9}")
BOND_RE = re.compile(r"bond\d{1,4}", re.ASCII)
DOTTED_VLAN_RE = re.compile(r"(?P<parent>[a-zA-Z][a-zA-Z0-9_]*)\.(?P<vid>\d+)", re.ASCII)
NUMBERED_VLAN_RE = re.compile(r"vlan(?P<vid>\d+)", re.ASCII)
VIDS_RE = re.compile(r"(\d+)(?:-(\d+))?", re.ASCII)
KERNEL_NAME_MAX = 15
MTU_MIN, MTU_MAX = 1280, 65520
DEFAULT_MTU = 1500
COMMENT_MAX = 4096
"""Characters of an interface comment. pveproxy refused request bodies over 64 KiB before
PVE 9 (512 KiB since); a form-encoded character takes up to 12 bytes, so 4096 leave room for
the other parameters on every version. A comment is one column in the GUI, not documentation."""


def check_iface_name(value: str) -> str:
    """``value`` if it is an interface name Proxmox and the kernel take; ValueError otherwise."""
    if not IFACE_RE.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a valid interface name: start with a letter, then letters, "
            "digits or '_' (no '-'), optionally '.N' for a VLAN"
        )
    if len(value) > KERNEL_NAME_MAX:
        raise ValueError(f"'{value}' is longer than the kernel's {KERNEL_NAME_MAX} characters")
    return value


def _check_cidr(value: str, version: int) -> str:
    """A node's own address with its prefix length: plain, and one a host may have."""
    interface = plain_interface(value, version)
    problem = proxmox_host_problem(interface.ip) or reserved_in(interface.ip, interface.network)
    if problem:
        raise ValueError(f"{shown(value)}: {interface.ip} {problem}; give the host's own address")
    return value


def _check_ip(value: str, version: int) -> str:
    """A gateway: one plain address a host can send to."""
    address = plain_address(value, version)
    if problem := unusable(address):
        raise ValueError(f"{shown(value)} {problem}; give the gateway's own address")
    return value


def _whole_number(value: Any) -> Any:
    """Numbers as the engine sends them (``1500.0`` is 1500); a bool or text is no number."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


WholeNumber = Annotated[int, BeforeValidator(_whole_number)]
"""An integer input: whole floats (the engine's numbers) become ints; bools and text are refused."""
Mtu = Annotated[WholeNumber, Field(ge=MTU_MIN, le=MTU_MAX)]


def _vid_text(value: Any) -> Any:
    """A VLAN id given as a number (``10``, or the engine's ``10.0`` made 10) as text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


VlanIdText = Annotated[str, BeforeValidator(_vid_text)]
"""A VLAN id or range as text (``"10"``, ``"100-200"``); a number is taken as its text."""


class _InterfaceBase(BaseModel):
    """Settings every interface type has. ``None`` leaves a setting as the node has it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iface: str
    cidr: str | None = None
    gateway: str | None = None
    cidr6: str | None = None
    gateway6: str | None = None
    mtu: Mtu | None = None
    autostart: bool = Field(True, strict=True)
    comments: str | None = None

    @field_validator("iface")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_iface_name(value)

    @field_validator("cidr")
    @classmethod
    def _cidr4(cls, value: str | None) -> str | None:
        return None if value is None else _check_cidr(value, 4)

    @field_validator("cidr6")
    @classmethod
    def _cidr6(cls, value: str | None) -> str | None:
        return None if value is None else _check_cidr(value, 6)

    @field_validator("gateway")
    @classmethod
    def _gateway4(cls, value: str | None) -> str | None:
        return None if value is None else _check_ip(value, 4)

    @field_validator("gateway6")
    @classmethod
    def _gateway6(cls, value: str | None) -> str | None:
        return None if value is None else _check_ip(value, 6)

    @field_validator("comments")
    @classmethod
    def _comments(cls, value: str | None) -> str | None:
        """Comments as the node reads them back: no trailing blanks, no empty last lines.

        Proxmox writes each line as ``#<line>`` and strips the spaces at the end of
        a line when it reads the file; nothing else is stripped (see ``provider.text``
        for what a line may hold).
        """
        if value is None:
            return None
        check_text(value, field="comments", prefix="#", max_length=COMMENT_MAX, multiline=True)
        lines = [line.rstrip(" ") for line in value.split("\n")]
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines) or None

    def ports(self) -> list[str]:
        """Interfaces this one enslaves (bridge ports or bond slaves)."""
        return []

    def parent(self) -> str | None:
        """The interface a VLAN sits on, None for other types."""
        return None


def _sorted_unique_names(values: list[str]) -> list[str]:
    for value in values:
        check_iface_name(value)
    return sorted(set(values))


class BridgeSpec(_InterfaceBase):
    """A Linux bridge ``vmbrN``: guests attach to it; ports are NICs, bonds or VLANs."""

    type: Literal["bridge"] = "bridge"
    bridge_ports: list[str] = Field(default_factory=list)
    bridge_vlan_aware: bool = Field(False, strict=True)
    bridge_vids: list[VlanIdText] | None = None

    @field_validator("iface")
    @classmethod
    def _bridge_name(cls, value: str) -> str:
        if not BRIDGE_RE.fullmatch(value):
            raise ValueError(
                f"bridge name '{value}' must start with a letter and have at most 10 letters, "
                "digits or '_' (Proxmox's rule; commonly vmbrN)"
            )
        return value

    @field_validator("bridge_ports")
    @classmethod
    def _ports(cls, value: list[str]) -> list[str]:
        return _sorted_unique_names(value)

    @field_validator("bridge_vids")
    @classmethod
    def _vids(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for item in value:
            match = VIDS_RE.fullmatch(str(item))
            if not match:
                raise ValueError(
                    f"{shown(str(item))} is not a VLAN id or range such as '10' or '100-200'"
                )
            tags = [int(t) for t in match.groups() if t]
            if any(not 2 <= tag <= 4094 for tag in tags):
                raise ValueError(f"'{item}': VLAN ids of a VLAN-aware bridge are 2 to 4094")
            if len(tags) == 2 and tags[0] >= tags[1]:
                raise ValueError(f"'{item}': a range must go from the lower to the higher id")
        return [str(v) for v in value]

    def ports(self) -> list[str]:
        return list(self.bridge_ports)


class BondSpec(_InterfaceBase):
    """A Linux bond ``bondN`` of NICs: 802.3ad (LACP) needs switch support."""

    type: Literal["bond"] = "bond"
    slaves: list[str]
    bond_mode: BondMode = "balance-rr"
    bond_primary: str | None = None
    bond_xmit_hash_policy: HashPolicy | None = None

    @field_validator("iface")
    @classmethod
    def _bond_name(cls, value: str) -> str:
        if not BOND_RE.fullmatch(value):
            raise ValueError(
                f"bond name '{value}' must be bondN (N up to 4 digits): Proxmox only reads "
                "bondN back as a bond"
            )
        return value

    @field_validator("bond_primary")
    @classmethod
    def _primary(cls, value: str | None) -> str | None:
        return None if value is None else check_iface_name(value)

    @field_validator("slaves")
    @classmethod
    def _slaves(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("a bond needs at least one slave")
        return _sorted_unique_names(value)

    def ports(self) -> list[str]:
        return list(self.slaves)


class VlanSpec(_InterfaceBase):
    """A host VLAN interface: ``vmbr0.50``, ``vlan50`` on a raw device, or a custom name."""

    type: Literal["vlan"] = "vlan"
    vlan_raw_device: str | None = None
    vlan_id: Annotated[WholeNumber, Field(ge=1, le=4094)] | None = None

    def parent(self) -> str | None:
        dotted = DOTTED_VLAN_RE.fullmatch(self.iface)
        return dotted["parent"] if dotted else self.vlan_raw_device

    def tag(self) -> int | None:
        """The VLAN id, from the name where the name carries it."""
        if dotted := DOTTED_VLAN_RE.fullmatch(self.iface):
            return int(dotted["vid"])
        if numbered := NUMBERED_VLAN_RE.fullmatch(self.iface):
            return int(numbered["vid"])
        return self.vlan_id


class EthSpec(_InterfaceBase):
    """Settings of a physical NIC (it always exists: pvenet adopts it and restores it on delete)."""

    type: Literal["eth"] = "eth"


InterfaceSpec = Annotated[BridgeSpec | BondSpec | VlanSpec | EthSpec, Field(discriminator="type")]
_SPEC_ADAPTER: TypeAdapter[BridgeSpec | BondSpec | VlanSpec | EthSpec] = TypeAdapter(InterfaceSpec)
Spec = BridgeSpec | BondSpec | VlanSpec | EthSpec


_TYPES = ("bridge", "bond", "vlan", "eth")


def _interface_wording(item: Any) -> Wording:
    """How pydantic's errors about one interface dict are worded."""
    kind = item.get("type") if isinstance(item, Mapping) else None

    def extra(location: Location) -> str:
        name = str(location[-1])
        message = f"'{name}' is not a setting of {kind} interfaces"
        if "-" in name:
            message += f"; did you mean '{name.replace('-', '_')}'?"
        return message

    def union_tag(error: ErrorDetails, path: str) -> Problem | None:
        if error["type"] == "union_tag_invalid":
            return Problem(f"{path}.type", f"type {kind!r} is not one of {', '.join(_TYPES)}")
        if error["type"] == "union_tag_not_found":
            return Problem(f"{path}.type", f"needs a type: one of {', '.join(_TYPES)}")
        return None

    return Wording(extra=extra, missing=None, special=union_tag, tags=_TYPES)


def _pydantic_problems(error: ValidationError, prefix: str, item: Any) -> list[Problem]:
    """pydantic's errors as problems that name the interface, the setting and the value."""
    name = item.get("iface") if isinstance(item, Mapping) else None
    if not isinstance(name, str) or not IFACE_RE.fullmatch(name):
        name = None  # a bad name is the value its own problem shows, not a prefix
    problems = []
    for problem in pydantic_problems(error, _interface_wording(item), prefix):
        message = problem.message
        if name and not message.startswith(f"{name}:"):
            message = f"{name}: {message}"
        problems.append(Problem(problem.path, message))
    return problems


class _Problems(list[Problem]):
    """Collects problems under one property path prefix."""

    def __init__(self, prefix: str = "") -> None:
        super().__init__()
        self.prefix = prefix

    def add(self, field: str, message: str) -> None:
        """Record ``message`` for ``<prefix>.<field>`` (or ``<field>`` without a prefix)."""
        self.append(Problem(f"{self.prefix}.{field}" if self.prefix else field, message))


def _spec_problems(spec: Spec, path: str) -> list[Problem]:
    """Rules that relate settings of one interface to each other."""
    found = _Problems(path)
    name = spec.iface
    for gw_key, cidr_key in (("gateway", "cidr"), ("gateway6", "cidr6")):
        gateway, cidr = getattr(spec, gw_key), getattr(spec, cidr_key)
        if gateway is None:
            continue
        if cidr is None:
            found.add(gw_key, f"{name}: {gw_key} '{gateway}' needs a {cidr_key} on this interface")
            continue
        interface = ipaddress.ip_interface(cidr)
        network, address = interface.network, ipaddress.ip_address(gateway)
        if address not in network:
            found.add(gw_key, f"{name}: {gw_key} '{gateway}' is not inside {cidr_key} {network}")
        elif address == interface.ip:
            found.add(
                gw_key,
                f"{name}: {gw_key} '{gateway}' is this interface's own address ({cidr_key} "
                f"{cidr}); give the router's address",
            )
        elif problem := reserved_in(address, network):
            found.add(gw_key, f"{name}: {gw_key} '{gateway}' {problem}; give the router's address")
    if isinstance(spec, BridgeSpec) and spec.bridge_vids is not None and not spec.bridge_vlan_aware:
        found.add(
            "bridge_vids",
            f"{name}: bridge_vids only apply to a VLAN-aware bridge; set bridge_vlan_aware=True",
        )
    if isinstance(spec, BondSpec):
        _bond_problems(spec, found)
    if isinstance(spec, VlanSpec):
        _vlan_problems(spec, found)
    return found


def _bond_problems(spec: BondSpec, found: _Problems) -> None:
    name, mode = spec.iface, spec.bond_mode
    if spec.bond_primary is not None and mode != "active-backup":
        found.add(
            "bond_primary",
            f"{name}: bond_primary only applies to bond_mode 'active-backup' (mode is '{mode}')",
        )
    elif spec.bond_primary is not None and spec.bond_primary not in spec.slaves:
        found.add(
            "bond_primary",
            f"{name}: bond_primary '{spec.bond_primary}' is not one of its slaves "
            f"({', '.join(spec.slaves)})",
        )
    if spec.bond_xmit_hash_policy is not None and mode not in HASH_POLICY_MODES:
        found.add(
            "bond_xmit_hash_policy",
            f"{name}: bond_xmit_hash_policy only applies to bond_mode 'balance-xor' or "
            f"'802.3ad' (mode is '{mode}')",
        )


def _vlan_id_problem(name: str, vid: int, given: int | None, found: _Problems) -> None:
    if not 1 <= vid <= 4094:
        found.add("iface", f"{name}: VLAN id {vid} is outside 1 to 4094")
    elif given not in (None, vid):
        found.add(
            "vlan_id", f"{name}: the name says VLAN id {vid}, not {given}; leave vlan_id unset"
        )


def _vlan_problems(spec: VlanSpec, found: _Problems) -> None:
    name = spec.iface
    if dotted := DOTTED_VLAN_RE.fullmatch(name):
        _vlan_id_problem(name, int(dotted["vid"]), spec.vlan_id, found)
        if spec.vlan_raw_device not in (None, dotted["parent"]):
            found.add(
                "vlan_raw_device",
                f"{name}: the name says the parent is '{dotted['parent']}', not "
                f"'{spec.vlan_raw_device}'; leave vlan_raw_device unset",
            )
        return
    if spec.vlan_raw_device is None:
        found.add("vlan_raw_device", f"{name}: a VLAN not named PARENT.ID needs vlan_raw_device")
        return
    try:
        check_iface_name(spec.vlan_raw_device)
    except ValueError as error:
        found.add("vlan_raw_device", f"{name}: vlan_raw_device {error}")
    if numbered := NUMBERED_VLAN_RE.fullmatch(name):
        _vlan_id_problem(name, int(numbered["vid"]), spec.vlan_id, found)
    elif spec.vlan_id is None:
        found.add("vlan_id", f"{name}: a custom-named VLAN needs vlan_id (1 to 4094)")


def _set_problems(specs: Sequence[Spec]) -> list[Problem]:
    """Rules across the interfaces of one set."""
    found = _Problems()
    first: dict[str, int] = {}
    for index, spec in enumerate(specs):
        if spec.iface in first:
            found.add(
                f"interfaces[{index}].iface",
                f"'{spec.iface}' appears twice in the set (also interfaces[{first[spec.iface]}])",
            )
        first.setdefault(spec.iface, index)
    _port_problems(specs, found)
    _cycle_problems(specs, found)
    for key in ("gateway", "gateway6"):
        holders = [(i, s) for i, s in enumerate(specs) if getattr(s, key) is not None]
        for index, spec in holders[1:]:
            found.add(
                f"interfaces[{index}].{key}",
                f"{spec.iface}: only one default {key} per node; "
                f"{holders[0][1].iface} already has one",
            )
    by_name = {spec.iface: spec for spec in specs}
    for index, spec in enumerate(specs):
        _mtu_problems(spec, by_name, f"interfaces[{index}].mtu", found)
    return found


def _port_problems(specs: Sequence[Spec], found: _Problems) -> None:
    by_name = {spec.iface: spec for spec in specs}
    owner: dict[str, str] = {}
    for index, spec in enumerate(specs):
        key = f"interfaces[{index}]." + ("slaves" if isinstance(spec, BondSpec) else "bridge_ports")
        for port in spec.ports():
            other = by_name.get(port)
            if port == spec.iface:
                found.add(key, f"{spec.iface}: cannot be its own port")
            elif port in owner:
                found.add(
                    key,
                    f"{spec.iface}: port '{port}' is already used by {owner[port]}; "
                    "a port belongs to one bridge or bond",
                )
            elif isinstance(spec, BondSpec) and other and not isinstance(other, EthSpec | BondSpec):
                found.add(
                    key,
                    f"{spec.iface}: slave '{port}' is a {other.type}; "
                    "bond slaves are NICs or bonds",
                )
            elif isinstance(spec, BridgeSpec) and other and (other.cidr or other.cidr6):
                found.add(
                    key,
                    f"{spec.iface}: port '{port}' has an address; a bridge port cannot carry one",
                )
            owner.setdefault(port, spec.iface)


def _built_on(spec: Spec) -> dict[str, str]:
    """The interfaces ``spec`` is built on, each with the setting that names it."""
    under = {
        port: "slaves" if isinstance(spec, BondSpec) else "bridge_ports" for port in spec.ports()
    }
    if parent := spec.parent():
        key = "vlan_raw_device" if isinstance(spec, VlanSpec) and spec.vlan_raw_device else "iface"
        under.setdefault(parent, key)
    under.pop(spec.iface, None)  # an interface that is its own port: _port_problems says so
    return under


def _cycle_problems(specs: Sequence[Spec], found: _Problems) -> None:
    """Interfaces built on each other in a circle (bond0 enslaving bond1 enslaving bond0).

    Neither Proxmox nor the kernel can set such a set up; each cycle is reported
    once, at the setting of its first interface that leads into it.
    """
    index = {spec.iface: i for i, spec in enumerate(specs)}
    under = {spec.iface: [n for n in _built_on(spec) if n in index] for spec in specs}
    reported: set[str] = set()
    for spec in specs:
        cycle = _cycle_from(spec.iface, under)
        if not cycle or reported & set(cycle):
            continue
        reported.update(cycle)
        key = _built_on(spec)[cycle[1]]
        circle = " -> ".join([*cycle, cycle[0]])
        found.add(
            f"interfaces[{index[spec.iface]}].{key}",
            f"{spec.iface}: '{cycle[1]}' in {key} closes a circle ({circle}): each is built on the "
            "next (bond slave, bridge port or VLAN parent); take one out of the circle",
        )


def _cycle_from(start: str, under: Mapping[str, list[str]]) -> list[str] | None:
    """A path of interfaces from ``start`` back to it, each built on the next; None if none."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for below in under.get(name, []):
            if below == start:
                return path
            if below not in seen:
                seen.add(below)
                stack.append((below, [*path, below]))
    return None


def _mtu_problems(spec: Spec, by_name: Mapping[str, Spec], path: str, found: _Problems) -> None:
    for parent_name, child_name in _mtu_pairs(spec):
        parent, child = by_name.get(parent_name), by_name.get(child_name)
        if parent is None or child is None or child.mtu is None:
            continue
        parent_mtu = parent.mtu
        if parent_mtu is None:
            parent_mtu = child.mtu if isinstance(parent, BondSpec) else DEFAULT_MTU
        if parent_mtu < child.mtu:
            found.add(
                path,
                f"{child_name}: mtu {child.mtu} is higher than its parent {parent_name}'s "
                f"mtu {parent_mtu}; raise the parent's mtu",
            )


def _mtu_pairs(spec: Spec) -> Iterable[tuple[str, str]]:
    """(parent, child) pairs whose MTUs Proxmox compares, for pairs involving ``spec``."""
    if isinstance(spec, BridgeSpec):
        yield from ((port, spec.iface) for port in spec.bridge_ports)
    elif isinstance(spec, BondSpec):
        yield from ((spec.iface, slave) for slave in spec.slaves)
    elif isinstance(spec, VlanSpec) and spec.parent():
        yield str(spec.parent()), spec.iface


def parse_interfaces(raw: Sequence[Mapping[str, Any]]) -> tuple[list[Spec], list[Problem]]:
    """Validate a set's ``interfaces`` input: the specs that parsed, and every problem."""
    specs: list[Spec] = []
    problems: list[Problem] = []
    if not isinstance(raw, Sequence) or isinstance(raw, (str, bytes)):
        return [], [Problem("interfaces", "must be a list of interfaces")]
    for index, item in enumerate(raw):
        path = f"interfaces[{index}]"
        try:
            spec = _SPEC_ADAPTER.validate_python(item)
        except ValidationError as error:
            problems.extend(_pydantic_problems(error, path, item))
            continue
        specs.append(spec)
        problems.extend(_spec_problems(spec, path))
    if not problems:
        problems.extend(_set_problems(specs))
    return specs, problems


def require_interfaces(raw: Sequence[Mapping[str, Any]]) -> list[Spec]:
    """The validated specs, or InvalidSpec listing every problem."""
    specs, problems = parse_interfaces(raw)
    if problems:
        raise InvalidSpec("; ".join(str(p) for p in problems))
    return specs


def load_spec(data: Mapping[str, Any]) -> Spec:
    """A spec from state, trusted as it was stored (it may describe a node's own odd config)."""
    kinds: dict[str, type[Spec]] = {
        "bridge": BridgeSpec,
        "bond": BondSpec,
        "vlan": VlanSpec,
        "eth": EthSpec,
    }
    kind = kinds.get(str(data.get("type")))
    if kind is None:
        raise InvalidSpec(
            f"{data.get('iface')}: stored interface has unknown type {data.get('type')!r}"
        )
    return kind.model_construct(**{k: v for k, v in data.items() if k in kind.model_fields})


def spec_to_dict(spec: Spec) -> dict[str, Any]:
    """The normalised input form of a spec (what state stores and diff compares)."""
    return spec.model_dump(mode="json")
