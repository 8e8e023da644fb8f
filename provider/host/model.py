"""Host rules of one node, validated before anything reaches it (pure).

What Proxmox's API cannot write, pvenet keeps in files of its own on the node
(``docs/host-rules.md``): port forwards (DNAT) and masquerade (SNAT) in the
nftables table ``inet pvenet``, ``ip_forward``, ``proxy_arp`` per interface and
routes to single guest addresses. This module is their model: every value that
reaches a file or a command is checked here, at preview, and every problem
names its property path (``forwards[1].port``) and says what to do.

Interface names follow the node model's rule (letters, digits and ``_``,
``.N`` for a VLAN; no ``:`` alias, which has no settings of its own), so no
name can carry shell or nftables syntax. Addresses are plain addresses
(``provider.addresses``). Comments are text under ``provider.text``'s rule,
and hold no ``"`` (nftables strings cannot escape one).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from provider.addresses import IpAddress, IpNetwork, plain_address, unusable
from provider.node.model import check_iface_name
from provider.problems import Location, Problem, Wording, pydantic_problems
from provider.text import refused_character, shown

Protocol = Literal["tcp", "udp"]
PORT_MIN, PORT_MAX = 1, 65535
COMMENT_MAX = 128
"""Bytes of an nftables comment (nft refuses longer ones)."""
_PORT_RE = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?", re.ASCII)


def host_iface(value: str) -> str:
    """An interface name host rules may write: the node model's rule, without ``:`` aliases."""
    check_iface_name(value)
    if ":" in value:
        raise ValueError(
            f"{shown(value)} is an alias name; proxy_arp, routes and nftables act on the "
            f"interface itself ('{value.partition(':')[0]}')"
        )
    return value


Iface = Annotated[str, BeforeValidator(lambda v: host_iface(v) if isinstance(v, str) else v)]


@dataclass(frozen=True, order=True)
class Ports:
    """A port or an inclusive range of ports."""

    first: int
    last: int

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}-{self.last}"

    @property
    def single(self) -> bool:
        """Whether this is one port."""
        return self.first == self.last

    def overlaps(self, other: Ports) -> bool:
        """Whether the two share a port."""
        return self.first <= other.last and other.first <= self.last

    def covers(self, port: int) -> bool:
        """Whether ``port`` is one of these."""
        return self.first <= port <= self.last


def parse_ports(value: int | str) -> Ports:
    """``8080`` or ``"8000-8010"`` as Ports; ValueError saying what a port is otherwise."""
    match = _PORT_RE.fullmatch(str(value))
    if not match:
        raise ValueError(
            f"{shown(str(value))} is not a port or range of ports such as 8080 or '8000-8010'"
        )
    first = int(match[1])
    last = int(match[2]) if match[2] else first
    if not (PORT_MIN <= first <= PORT_MAX and PORT_MIN <= last <= PORT_MAX):
        raise ValueError(f"{value!r} is out of range: ports are {PORT_MIN} to {PORT_MAX}")
    if first > last:
        raise ValueError(f"{value!r}: a range goes from the lower to the higher port")
    return Ports(first, last)


def _port(value: Any) -> Any:
    """A port input in its canonical form: an int for one port, ``"a-b"`` for a range."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{value!r} is not a port or range of ports such as 8080 or '8000-8010'")
    ports = parse_ports(value)
    return ports.first if ports.single else str(ports)


Port = Annotated[int | str, BeforeValidator(_port)]


def _comment(value: str | None) -> str | None:
    """A comment nft reads back as it was written: one line, between ``"`` that nftables
    strings cannot escape, at most :data:`COMMENT_MAX` bytes."""
    if value is None:
        return None
    if found := refused_character(value):
        at, name = found
        raise _refused(
            value,
            f"holds {name} at character {at}: nft reads the rules file line by line, and a "
            "rule cannot go on past it; write the text on one line",
        )
    for char, name, why in (
        ('"', "'\"'", "an nftables string cannot hold"),
        ("\\", "a backslash", "nft may not read back as written"),
    ):
        if (at := value.find(char)) >= 0:
            raise _refused(value, f"holds {name} at character {at + 1}, which {why}; remove it")
    if not value.strip():
        raise _refused(value, "is empty; leave comment unset instead")
    if len(value.encode()) > COMMENT_MAX:
        raise _refused(
            value, f"is {len(value.encode())} bytes in UTF-8; nftables takes at most {COMMENT_MAX}"
        )
    return value


def _refused(value: str, why: str) -> ValueError:
    return ValueError(f"comment {shown(value)} {why}")


def _address(value: str, what: str) -> str:
    """A plain unicast address in its canonical text (``fd00::5``, not ``fd00:0::5``)."""
    address = plain_address(value)
    if problem := unusable(address):
        raise ValueError(f"{shown(value)} {problem}; give {what}")
    return str(address)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Masquerade(_Rule):
    """Connections from ``source`` leaving through ``interface`` take the interface's address."""

    source: str
    interface: Iface
    comment: str | None = None

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        if "%" in value:
            plain_address(value.partition("/")[0])  # names the scope id
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ValueError(f"{shown(value)} is not a network such as '10.10.10.0/24'") from None
        if "/" not in value:
            raise ValueError(f"{shown(value)} needs a prefix length, such as '{value}/24'")
        if str(network) != value and network.compressed != value:
            raise ValueError(
                f"{shown(value)} has host bits set; give the network's own address, '{network}'"
            )
        return str(network)

    @field_validator("comment")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _comment(value)

    @property
    def network(self) -> IpNetwork:
        """``source`` as a network."""
        return ipaddress.ip_network(self.source)


class Forward(_Rule):
    """Connections to ``port`` on the node are forwarded to ``to`` (port ``to_port``).

    ``address`` (one of the node's addresses) or ``interface`` (where the
    connections come in) narrow what is forwarded; without them every address
    of the node forwards the port. A range of ports is forwarded to the same
    ports of the guest. ``hairpin`` lets guests of a masquerade source reach
    the forward by the node's address too.
    """

    protocol: Protocol
    port: Port
    to: str
    to_port: Port | None = None
    address: str | None = None
    interface: Iface | None = None
    hairpin: bool = Field(False, strict=True)
    comment: str | None = None

    @field_validator("to")
    @classmethod
    def _to(cls, value: str) -> str:
        return _address(value, "the guest's own address")

    @field_validator("address")
    @classmethod
    def _external(cls, value: str | None) -> str | None:
        return None if value is None else _address(value, "one of the node's own addresses")

    @field_validator("comment")
    @classmethod
    def _text(cls, value: str | None) -> str | None:
        return _comment(value)

    @model_validator(mode="after")
    def _consistent(self) -> Forward:
        if self.to_port is not None:
            ports, to_ports = self.ports, parse_ports(self.to_port)
            if not ports.single and to_ports != ports:
                raise ValueError(
                    f"to_port {self.to_port!r}: a range of ports is forwarded to the same ports "
                    f"of the guest ({ports}); leave to_port unset"
                )
            if not ports.single:  # the same range: said once, by port
                object.__setattr__(self, "to_port", None)
            if ports.single and not to_ports.single:
                raise ValueError(
                    f"to_port {self.to_port!r}: one port is forwarded to one port of the guest"
                )
        if self.address is not None and self.external.version != self.guest.version:
            raise ValueError(
                f"address {self.address} and to {self.to} are of different IP versions; "
                "forward IPv4 to IPv4 and IPv6 to IPv6"
            )
        return self

    @property
    def ports(self) -> Ports:
        """The forwarded ports of the node."""
        return parse_ports(self.port)

    @property
    def guest_ports(self) -> Ports:
        """The ports of the guest the connections go to."""
        return self.ports if self.to_port is None else parse_ports(self.to_port)

    @property
    def guest(self) -> IpAddress:
        """``to`` as an address."""
        return ipaddress.ip_address(self.to)

    @property
    def external(self) -> IpAddress:
        """``address`` as an address (only when it is set)."""
        return ipaddress.ip_address(str(self.address))

    @property
    def version(self) -> int:
        """The IP version of the forward (the guest's)."""
        return self.guest.version


class IpForward(_Rule):
    """Forwarding between interfaces, per IP version (``net.ipv4.ip_forward`` and
    ``net.ipv6.conf.all.forwarding``). False leaves the node's setting alone."""

    ipv4: bool = Field(False, strict=True)
    ipv6: bool = Field(False, strict=True)


class Route(_Rule):
    """A route to one guest address (``/32`` or ``/128``) through ``interface``."""

    address: str
    interface: Iface

    @field_validator("address")
    @classmethod
    def _single(cls, value: str) -> str:
        text, slash, length = value.partition("/")
        address = plain_address(text)
        if slash and length != str(address.max_prefixlen):
            raise ValueError(
                f"{shown(value)}: routes are to single addresses ('{text}/{address.max_prefixlen}')"
            )
        if problem := unusable(address):
            raise ValueError(f"{shown(value)} {problem}; give the guest's own address")
        return f"{address}/{address.max_prefixlen}"

    @property
    def host(self) -> IpAddress:
        """The guest's address."""
        return ipaddress.ip_address(self.address.partition("/")[0])


class HostRulesSpec(_Rule):
    """One node's host rules, applied as one set."""

    masquerade: list[Masquerade] = Field(default_factory=list)
    forwards: list[Forward] = Field(default_factory=list)
    ip_forward: IpForward = IpForward(ipv4=False, ipv6=False)
    proxy_arp: list[Iface] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)

    @field_validator("proxy_arp")
    @classmethod
    def _sorted(cls, value: list[str]) -> list[str]:
        return sorted(set(value))

    @field_validator("routes")
    @classmethod
    def _by_address(cls, value: list[Route]) -> list[Route]:
        return sorted(value, key=lambda route: (route.host.version, route.host, route.interface))

    def interfaces(self) -> list[str]:
        """Every interface that has per-interface settings or routes."""
        return sorted({*self.proxy_arp, *(route.interface for route in self.routes)})

    def hairpin_sources(self, forward: Forward) -> list[str]:
        """The masquerade sources whose guests reach ``forward`` by the node's address."""
        return [m.source for m in self.masquerade if forward.guest in m.network]


EMPTY = HostRulesSpec()
"""No host rules: what is left on a node when a HostRules resource is deleted."""


def _wording() -> Wording:
    def extra(location: Location) -> str:
        name = str(location[-1])
        where = {"masquerade": "a masquerade", "forwards": "a forward", "routes": "a route"}
        owner = where.get(str(location[0]), "HostRules") if len(location) > 1 else "HostRules"
        if location[0] == "ip_forward":
            owner = "ip_forward (ipv4, ipv6)"
        return f"'{name}' is not a setting of {owner}" + (
            f"; did you mean '{name.replace('-', '_')}'?" if "-" in name else ""
        )

    return Wording(extra=extra, types={"list_type": "is not a list"})


def parse_rules(raw: Mapping[str, Any]) -> tuple[HostRulesSpec | None, list[Problem]]:
    """The host rules ``raw`` describes, or None and every problem with its property path."""
    try:
        spec = HostRulesSpec.model_validate(dict(raw))
    except ValidationError as error:
        return None, pydantic_problems(error, _wording())
    problems = rule_problems(spec)
    return (None if problems else spec), problems


def rule_problems(spec: HostRulesSpec) -> list[Problem]:
    """Rules across the entries of one set (forwards that collide, duplicates, hairpin)."""
    found: list[Problem] = []
    _duplicates(
        found,
        "masquerade",
        [(m.source, m.interface) for m in spec.masquerade],
        lambda key: f"{key[0]} out of {key[1]}",
    )
    _duplicates(found, "routes", [route.host for route in spec.routes], str, ".address")
    for index, forward in enumerate(spec.forwards):
        for earlier in range(index):
            if collides(spec.forwards[earlier], forward):
                found.append(
                    Problem(
                        f"forwards[{index}].port",
                        f"{forward.protocol} port {forward.port}{_on(forward)} is forwarded "
                        f"already by forwards[{earlier}] ({spec.forwards[earlier].protocol} "
                        f"{spec.forwards[earlier].port}{_on(spec.forwards[earlier])}); one "
                        "port of one address goes to one guest",
                    )
                )
                break
        if forward.hairpin and not spec.hairpin_sources(forward):
            sources = ", ".join(m.source for m in spec.masquerade) or "none"
            found.append(
                Problem(
                    f"forwards[{index}].hairpin",
                    f"{forward.to} is in no masquerade source (masquerade: {sources}); hairpin "
                    "lets the guests of the forward's own network reach it by the node's "
                    "address: add a masquerade entry for that network",
                )
            )
    return found


def _duplicates(
    found: list[Problem],
    key: str,
    items: Sequence[Any],
    shown_as: Callable[[Any], str],
    field: str = "",
) -> None:
    first: dict[Any, int] = {}
    for index, item in enumerate(items):
        if item in first:
            found.append(
                Problem(
                    f"{key}[{index}]{field}",
                    f"{shown_as(item)} appears twice (also {key}[{first[item]}])",
                )
            )
        first.setdefault(item, index)


def _on(forward: Forward) -> str:
    where = []
    if forward.address:
        where.append(f"address {forward.address}")
    if forward.interface:
        where.append(f"interface {forward.interface}")
    return (" on " + " and ".join(where)) if where else ""


def collides(one: Forward, other: Forward) -> bool:
    """Whether a connection could match both forwards (one protocol, port, address, interface)."""
    return (
        one.protocol == other.protocol
        and one.version == other.version
        and one.ports.overlaps(other.ports)
        and _same_or_any(one.address, other.address)
        and _same_or_any(one.interface, other.interface)
    )


def _same_or_any(one: str | None, other: str | None) -> bool:
    return one is None or other is None or one == other


def lockout_problems(
    spec: HostRulesSpec, ports: Mapping[int, str], management: Iterable[str]
) -> list[Problem]:
    """Forwards that would take a port pvenet reaches the node by (``ports``: port -> what,
    such as 22 -> "SSH") on an address it uses (``management``)."""
    held = set(management)
    found = []
    for index, forward in enumerate(spec.forwards):
        if forward.protocol != "tcp" or (forward.address and forward.address not in held):
            continue
        for port, what in sorted(ports.items()):
            if forward.ports.covers(port):
                found.append(
                    Problem(
                        f"forwards[{index}].port",
                        f"tcp port {forward.port} covers port {port}, by which pvenet reaches "
                        f"the node ({what}){_on(forward)}: forwarding it would cut pvenet off; "
                        "give the forward another port or an address pvenet does not use",
                    )
                )
    return found


def reminders(spec: HostRulesSpec) -> list[str]:
    """What the rules need that they do not turn on themselves (warnings, not failures)."""
    found = []
    for version, wanted in ((4, spec.ip_forward.ipv4), (6, spec.ip_forward.ipv6)):
        uses = [
            kind
            for kind, entries in (
                ("forwards", [f for f in spec.forwards if f.version == version]),
                ("masquerade", [m for m in spec.masquerade if m.network.version == version]),
                ("routes", [r for r in spec.routes if r.host.version == version]),
            )
            if entries
        ]
        if uses and not wanted:
            found.append(
                f"{' and '.join(uses)} for IPv{version} need forwarding: set "
                f"ip_forward.ipv{version}=True unless something else on the node turns it on"
            )
    return found


def spec_to_dict(spec: HostRulesSpec) -> dict[str, Any]:
    """The normalised input form (what state stores and diff compares)."""
    return spec.model_dump(mode="json")
