"""Desired SDN networks (one Simple zone, one vnet, its subnets), validated at preview (pure).

An operator describes an SDN network with Python names (``dhcp_ranges`` is a
list of ``{start, end}``, ``snat`` a bool); only ``provider.sdn.client`` maps
them to pve-network's wire format. The rules come from pve-network's schema
and its subnet plugin (ids 2 to 8 characters matching
``[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]``, a gateway inside its subnet except on an
IPv4 /32, DHCP ranges ordered, inside the subnet and disjoint) plus the ones
that make a network work rather than merely be accepted (SNAT and DHCP need a
gateway, subnets of one vnet do not overlap, a DHCP range does not hand out
the gateway's address).

Every problem carries the property path Pulumi shows (``subnets[0].gateway``)
and a sentence that names the vnet and the value and says what is allowed.
The ``alias`` is written into ``interfaces.d/sdn`` and follows
``provider.text``; every address follows ``provider.addresses`` (no scope
id; no multicast, loopback or unspecified address; a gateway that is not the
subnet's network or broadcast address).

DHCP: giving any subnet a DHCP range makes the zone run Proxmox's dnsmasq
DHCP (``dhcp=dnsmasq``; see ``provider.sdn.plan.desired_state``). The nodes
need the ``dnsmasq`` package installed (and its default instance disabled),
as the Proxmox SDN documentation says; pvenet cannot install packages.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Annotated, Any, Final, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails

from provider.addresses import IpAddress, IpNetwork, plain_address, reserved_in, unusable
from provider.errors import InvalidSpec
from provider.names import NodeName
from provider.node.model import MTU_MAX, MTU_MIN, Mtu
from provider.problems import Location, Problem, Wording, pydantic_problems
from provider.text import check_text, shown

SDN_ID_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9]*[a-zA-Z0-9]")
SDN_ID_MIN, SDN_ID_MAX = 2, 8
# pve-network's vnet alias pattern, case-insensitive; ')-_' is a character range there.
ALIAS_RE = re.compile(r"(?i:[\(\)-_.\w\d\s]{0,256})")
ALIAS_MAX = 256
MIN_PREFIX_V4 = 8  # shorter prefixes would route a sizeable part of the internet to one vnet
MIN_PREFIX_V6 = 16

# Validation context for callers that collect the cross-field problems themselves.
_COLLECTED: Final = {"rules": "collected"}


# --- single values ------------------------------------------------------------------------------


def _check_sdn_id(value: str) -> str:
    if not SDN_ID_MIN <= len(value) <= SDN_ID_MAX or not SDN_ID_RE.fullmatch(value):
        raise ValueError(
            f"{shown(value)} is not a valid SDN id: {SDN_ID_MIN} to {SDN_ID_MAX} letters or "
            "digits, starting with a letter (no '-', '_' or '.')"
        )
    return value


def _check_network(value: str) -> str:
    if "%" in value:
        plain_address(value.partition("/")[0])  # names the scope id
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(
            f"{shown(value)} is not a subnet such as '10.10.10.0/24' or 'fd00:10::/64'"
        ) from None
    if "/" not in value:
        raise ValueError(f"'{value}' needs a prefix length, such as '{value}/24'")
    if str(network.network_address) != str(ipaddress.ip_interface(value).ip):
        raise ValueError(
            f"'{value}' has host bits set: the subnet is {network} "
            "(the host's own address goes in gateway)"
        )
    low = MIN_PREFIX_V4 if network.version == 4 else MIN_PREFIX_V6
    if network.prefixlen < low:
        raise ValueError(f"'{value}': the prefix length must be at least {low}")
    return str(network)


def _check_ip(value: str) -> str:
    address = plain_address(value)
    if problem := unusable(address):
        raise ValueError(f"{shown(value)} {problem}; give a host's address")
    return str(address)


def _check_alias(value: str) -> str:
    check_text(value, field="alias", prefix="\talias ", max_length=ALIAS_MAX)
    if not ALIAS_RE.fullmatch(value):
        raise ValueError(
            f"alias {shown(value)} is not a valid vnet alias: letters, digits, spaces and "
            "the punctuation ()*+,-./:;<=>?@[]^_ (Proxmox's rule)"
        )
    return value


SdnId = Annotated[str, AfterValidator(_check_sdn_id)]
Network = Annotated[str, AfterValidator(_check_network)]
IpText = Annotated[str, AfterValidator(_check_ip)]
Alias = Annotated[str, AfterValidator(_check_alias)]


# --- models ---------------------------------------------------------------------------------------


class DhcpRange(BaseModel):
    """Addresses dnsmasq hands out, both ends included."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: IpText
    end: IpText


class SubnetSpec(BaseModel):
    """One subnet of the vnet.

    ``cidr`` is the network (``10.10.10.0/24``); ``gateway`` is the host's
    address on the vnet (guests route through it); ``snat`` masquerades the
    subnet behind the node's outgoing address; ``dhcp_ranges`` and
    ``dns_server`` are what the zone's dnsmasq hands out.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cidr: Network
    gateway: IpText | None = None
    snat: bool = Field(False, strict=True)
    dhcp_ranges: list[DhcpRange] = Field(default_factory=list)
    dns_server: IpText | None = None

    @property
    def network(self) -> IpNetwork:
        """The subnet as an ``ipaddress`` network."""
        return ipaddress.ip_network(self.cidr)


class SdnSpec(BaseModel):
    """One Simple zone, one vnet in it and the vnet's subnets.

    ``nodes`` None means every node of the cluster; ``mtu`` is the zone's
    (the vnet bridge gets it); ``alias`` is the vnet's description.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    zone: SdnId
    vnet: SdnId
    subnets: list[SubnetSpec] = Field(default_factory=list)
    nodes: list[NodeName] | None = None
    mtu: Mtu | None = None
    alias: Alias | None = None

    @model_validator(mode="after")
    def _rules(self, info: ValidationInfo) -> Self:
        if info.context == _COLLECTED:
            return self
        if problems := rule_problems(self.vnet, self.subnets, self.nodes):
            raise ValueError("; ".join(str(p) for p in problems))
        return self

    @property
    def dhcp(self) -> bool:
        """Whether any subnet hands out addresses, so the zone runs dnsmasq."""
        return any(subnet.dhcp_ranges for subnet in self.subnets)


_FIELDS: Final[dict[str, TypeAdapter[Any]]] = {
    "zone": TypeAdapter(SdnId),
    "vnet": TypeAdapter(SdnId),
    "subnets": TypeAdapter(list[SubnetSpec]),
    "nodes": TypeAdapter(list[NodeName] | None),
    "mtu": TypeAdapter(Mtu | None),
    "alias": TypeAdapter(Alias | None),
}
_SUBNET: Final = TypeAdapter(SubnetSpec)
REQUIRED: Final = ("zone", "vnet")
FIELDS: Final = tuple(_FIELDS)


# --- problems -------------------------------------------------------------------------------------


def _sdn_extra(location: Location) -> str:
    kind = "a DHCP range (start, end)" if "dhcp_ranges" in location else "an SDN subnet"
    return f"'{location[-1]}' is not a setting of {kind}"


def _mtu_range(error: ErrorDetails, path: str) -> Problem | None:
    if error["type"] in ("greater_than_equal", "less_than_equal") and path == "mtu":
        return Problem(path, f"{error['input']} is outside {MTU_MIN} to {MTU_MAX}")
    return None


_WORDING: Final = Wording(
    extra=_sdn_extra,
    types={
        "int_parsing": "is not a whole number",
        "int_type": "is not a whole number",
        "int_from_float": "is not a whole number",
        "bool_parsing": "is not true or false",
        "bool_type": "is not true or false",
        "string_type": "is not a string",
        "list_type": "is not a list",
        "model_type": "is not a mapping of settings",
        "model_attributes_type": "is not a mapping of settings",
    },
    special=_mtu_range,
)
"""pydantic's errors about an SDN network's inputs, said of the value given."""


def check_field(name: str, value: Any) -> tuple[Any, list[Problem]]:
    """One input of an SDN network validated on its own: the parsed value and its problems."""
    try:
        return _FIELDS[name].validate_python(value), []
    except ValidationError as error:
        return None, pydantic_problems(error, _WORDING, name)


def _in(address: IpAddress, network: IpNetwork) -> bool:
    return address.version == network.version and address in network


def _subnet_problems(subnet: SubnetSpec, path: str, who: str) -> list[Problem]:
    """Rules relating the settings of one subnet to each other."""
    found: list[Problem] = []
    network = subnet.network
    gateway = ipaddress.ip_address(subnet.gateway) if subnet.gateway else None
    pointopoint = network.version == 4 and network.prefixlen == 32
    if gateway is not None and not _in(gateway, network) and not pointopoint:
        found.append(
            Problem(
                f"{path}.gateway",
                f"{who}gateway '{subnet.gateway}' is not inside {network}",
            )
        )
    elif gateway is not None and (problem := reserved_in(gateway, network)):
        found.append(
            Problem(
                f"{path}.gateway",
                f"{who}gateway '{subnet.gateway}' {problem}; give the host's address on the vnet, "
                f"such as '{network.network_address + 1}'",
            )
        )
    if subnet.snat and gateway is None:
        found.append(
            Problem(
                f"{path}.snat",
                f"{who}SNAT of {network} needs a gateway: guests leave through the vnet's "
                "address; set gateway",
            )
        )
    if subnet.dhcp_ranges and gateway is None:
        found.append(
            Problem(
                f"{path}.dhcp_ranges",
                f"{who}DHCP on {network} needs a gateway (dnsmasq listens on it); set gateway",
            )
        )
    if subnet.dns_server is not None and not subnet.dhcp_ranges:
        found.append(
            Problem(
                f"{path}.dns_server",
                f"{who}dns_server is handed out by DHCP only; add dhcp_ranges or drop dns_server",
            )
        )
    seen: list[tuple[int, IpAddress, IpAddress]] = []
    for index, dhcp_range in enumerate(subnet.dhcp_ranges):
        where = f"{path}.dhcp_ranges[{index}]"
        start, end = ipaddress.ip_address(dhcp_range.start), ipaddress.ip_address(dhcp_range.end)
        bad = False
        for key, address in (("start", start), ("end", end)):
            problem = (
                reserved_in(address, network) if _in(address, network) else f"is not in {network}"
            )
            if problem:
                found.append(Problem(f"{where}.{key}", f"{who}{key} {address} {problem}"))
                bad = True
        if bad:
            continue
        if int(start) > int(end):
            found.append(
                Problem(where, f"{who}start {start} must not come after end {end}; swap them")
            )
            continue
        if gateway is not None and _in(gateway, network) and int(start) <= int(gateway) <= int(end):
            found.append(
                Problem(
                    where,
                    f"{who}range {start}-{end} contains the gateway {gateway}; "
                    "start the range after it",
                )
            )
        for other, other_start, other_end in seen:
            if int(start) <= int(other_end) and int(other_start) <= int(end):
                found.append(
                    Problem(
                        where,
                        f"{who}range {start}-{end} overlaps dhcp_ranges[{other}] "
                        f"({other_start}-{other_end})",
                    )
                )
        seen.append((index, start, end))
    return found


def rule_problems(
    vnet: str | None,
    subnets: Sequence[SubnetSpec | None],
    nodes: Sequence[str] | None = None,
) -> list[Problem]:
    """Rules across settings: each subnet's own, subnets that overlap, an empty node list.

    ``subnets`` may hold None for entries that failed validation on their own;
    the others are still checked, under their original index.
    """
    who = f"{vnet}: " if vnet else ""
    found: list[Problem] = []
    valid = [(index, subnet) for index, subnet in enumerate(subnets) if subnet is not None]
    for index, subnet in valid:
        found.extend(_subnet_problems(subnet, f"subnets[{index}]", who))
    for position, (index, subnet) in enumerate(valid):
        for other, earlier in valid[:position]:
            network, before = subnet.network, earlier.network
            if network.version == before.version and network.overlaps(before):
                found.append(
                    Problem(
                        f"subnets[{index}].cidr",
                        f"{who}{network} overlaps subnets[{other}] ({before}); "
                        "a vnet's subnets must be disjoint",
                    )
                )
    if nodes is not None and not nodes:
        found.append(
            Problem("nodes", "lists no node; leave nodes unset for every node of the cluster")
        )
    return found


def _parse_subnets(raw: Any) -> tuple[list[SubnetSpec | None] | None, list[Problem]]:
    """Each subnet validated on its own, so one bad subnet does not hide the others' problems."""
    if not isinstance(raw, list):
        _, problems = check_field("subnets", raw)
        return None, problems
    subnets: list[SubnetSpec | None] = []
    problems = []
    for index, item in enumerate(raw):
        try:
            subnets.append(_SUBNET.validate_python(item))
        except ValidationError as error:
            subnets.append(None)
            problems.extend(pydantic_problems(error, _WORDING, f"subnets[{index}]"))
    return subnets, problems


def parse_sdn(
    raw: Mapping[str, Any], unknown: Collection[str] = ()
) -> tuple[SdnSpec | None, list[Problem]]:
    """Validate an SDN network's inputs: the spec (None if any problem or unknown) and problems.

    ``unknown`` names inputs that are not known yet (preview): they are not
    checked, and no spec is returned. Keys other than :data:`FIELDS` are not
    read (the provider's check refuses them).
    """
    problems: list[Problem] = []
    values: dict[str, Any] = {}
    for name in _FIELDS:
        if name in unknown or name == "subnets":
            continue
        if raw.get(name) is None:
            if name in REQUIRED:
                problems.append(Problem(name, "is required"))
            continue
        value, found = check_field(name, raw[name])
        problems.extend(found)
        if not found:
            values[name] = value
    subnets: list[SubnetSpec | None] = []
    if "subnets" not in unknown and raw.get("subnets") is not None:
        parsed, found = _parse_subnets(raw["subnets"])
        problems.extend(found)
        subnets = parsed or []
        if parsed is not None and not found:
            values["subnets"] = parsed
    problems.extend(rule_problems(values.get("vnet"), subnets, values.get("nodes")))
    if problems or any(name in unknown for name in _FIELDS):
        return None, problems
    return SdnSpec.model_validate(values, context=_COLLECTED), problems


def naming_the_vnet(raw: Mapping[str, Any], problems: list[Problem]) -> list[Problem]:
    """``problems``, each led by the vnet's name where ``raw`` has a valid one and it does not.

    For the resource's own messages; a component names itself instead.
    """
    vnet, found = check_field("vnet", raw.get("vnet"))
    if found or not vnet:
        return problems
    who = f"{vnet}: "
    return [p if p.message.startswith(who) else Problem(p.path, who + p.message) for p in problems]


def require_sdn(raw: Mapping[str, Any]) -> SdnSpec:
    """The validated spec, or InvalidSpec listing every problem."""
    spec, problems = parse_sdn(raw)
    if problems or spec is None:
        raise InvalidSpec("; ".join(str(p) for p in problems))
    return spec


def canonical(spec: SdnSpec) -> SdnSpec:
    """The spec in one order where order carries no meaning: subnets, ranges, node names."""
    subnets = sorted(
        (
            s.model_copy(
                update={
                    "dhcp_ranges": sorted(
                        s.dhcp_ranges, key=lambda r: int(ipaddress.ip_address(r.start))
                    )
                }
            )
            for s in spec.subnets
        ),
        key=lambda s: (s.network.version, int(s.network.network_address), s.network.prefixlen),
    )
    nodes = sorted(set(spec.nodes)) if spec.nodes is not None else None
    return spec.model_copy(update={"subnets": subnets, "nodes": nodes})


def sdn_to_inputs(spec: SdnSpec) -> dict[str, Any]:
    """The normalised input form of a spec (what state stores and diff compares)."""
    return canonical(spec).model_dump(mode="json")
