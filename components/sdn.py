"""The routed and NAT modes of the Proxmox admin guide, built on an SDN Simple zone.

Both components own one ``SdnNetwork`` (a Simple zone, one vnet, one subnet),
changed with one SDN apply. Guests attach to the vnet (``attach``) like to a
bridge; the host's address on it (``gateway``) is their default gateway.

Which one to choose:

- ``RoutedSubnet`` when your provider or upstream router gives you a public
  block and **routes it to the host** (a "routed subnet" or "additional
  subnet", next hop = the host's main address). Guests keep their real
  public addresses and are reachable from outside at them; the host only
  forwards. Nothing works until the upstream routes the block to the host:
  the host does not answer ARP for it on the uplink.
- ``NatGateway`` when guests only need to *reach out* (updates, a lab, build
  machines) and you have no addresses to give them: they get private
  addresses, optionally by DHCP, and leave through the host's own address
  (SNAT). Nothing outside can open a connection to them: pve-network sets up
  SNAT only; there is no port forwarding (DNAT).
"""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pydantic import TypeAdapter, ValidationError

from components.errors import ArgumentProblem, InvalidArguments
from provider.addresses import plain_address, reserved_in
from provider.problems import Problem
from provider.sdn.model import IpText, parse_sdn
from provider.sdn.resource import SdnNetwork
from provider.text import shown

_ARGUMENTS = {
    "zone": "zone",
    "vnet": "vnet",
    "nodes": "nodes",
    "mtu": "mtu",
    "subnets[0].cidr": "cidr",
    "subnets[0].gateway": "cidr",
    "subnets[0].snat": "cidr",
    "subnets[0].dhcp_ranges": "dhcp_range",
    "subnets[0].dns_server": "dns_server",
}


_IP: TypeAdapter[str] = TypeAdapter(IpText)


def _argument(path: str) -> str:
    """The component argument a property path of the SdnNetwork comes from."""
    for prefix in sorted(_ARGUMENTS, key=len, reverse=True):
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return _ARGUMENTS[prefix]
    return path


def _raise(kind: str, name: str, problems: Sequence[Problem]) -> None:
    """Raise one InvalidArguments naming the component and each argument, if there are problems."""
    if problems:
        found = [ArgumentProblem(_argument(p.path), p.message) for p in problems]
        raise InvalidArguments(
            "; ".join(f"{kind} '{name}': {p.argument}: {p.message}" for p in found),
            component=kind,
            name=name,
            problems=found,
        )


def split_gateway(value: str) -> tuple[str, str]:
    """``"203.0.113.17/28"`` -> (gateway ``203.0.113.17``, subnet ``203.0.113.16/28``).

    ValueError with the reason when ``value`` is not a host address with a
    prefix length inside a block that leaves room for guests.
    """
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(
            f"{value!r} is not the gateway's address with the prefix length, such as "
            "'203.0.113.17/28'"
        )
    if "%" in value:
        plain_address(value.partition("/")[0])  # names the scope id
    try:
        interface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(
            f"{shown(value)} is not the gateway's address with the prefix length, such as "
            "'203.0.113.17/28'"
        ) from None
    network = interface.network
    if network.version == 4 and network.prefixlen > 30:
        raise ValueError(
            f"'{value}': a /{network.prefixlen} leaves no room for guests; use /30 or larger"
        )
    if interface.ip == network.network_address:
        raise ValueError(
            f"'{value}' is the network's own address; give the gateway's address, such as "
            f"'{network.network_address + 1}/{network.prefixlen}'"
        )
    if problem := reserved_in(interface.ip, network):  # the broadcast address
        raise ValueError(f"'{value}' {problem}")
    return str(interface.ip), str(network)


def _subnet(cidr: str, snat: bool, dhcp: Sequence[str] | None, dns: str | None) -> dict[str, Any]:
    gateway, network = split_gateway(cidr)
    ranges = [{"start": dhcp[0], "end": dhcp[1]}] if dhcp else []
    return {
        "cidr": network,
        "gateway": gateway,
        "snat": snat,
        "dhcp_ranges": ranges,
        "dns_server": dns,
    }


def _is_output(value: Any) -> bool:
    if isinstance(value, pulumi.Output):
        return True
    if isinstance(value, Mapping):
        return any(_is_output(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_is_output(v) for v in value)
    return False


def _validate(
    kind: str,
    name: str,
    *,
    zone: Any,
    vnet: Any,
    cidr: Any,
    nodes: Any,
    mtu: Any,
    snat: bool,
    dhcp_range: Any = None,
    dns_server: Any = None,
) -> None:
    """Check every argument that is a plain value now; InvalidArguments names the argument."""
    problems: list[Problem] = []
    if dhcp_range is not None and not _is_output(dhcp_range):
        if not isinstance(dhcp_range, (tuple, list)) or len(dhcp_range) != 2:
            problems.append(
                Problem("dhcp_range", f"{dhcp_range!r} is not a pair (start, end) of addresses")
            )
        else:
            for key, address in zip(("start", "end"), dhcp_range, strict=True):
                if not _is_output(address):
                    problems += _ip_problems(f"dhcp_range.{key}", address)
    if dns_server is not None and not _is_output(dns_server):
        problems += _ip_problems("dns_server", dns_server)
    subnet_known = not any(_is_output(v) for v in (cidr, dhcp_range, dns_server))
    subnets: list[dict[str, Any]] = []
    if not _is_output(cidr):
        try:
            split_gateway(cidr)
        except ValueError as error:
            problems.append(Problem("cidr", str(error)))
            subnet_known = False
    if problems:
        _raise(kind, name, problems)
    if subnet_known:
        subnets = [_subnet(cidr, snat, dhcp_range, dns_server)]
    raw = {"zone": zone, "vnet": vnet, "subnets": subnets, "nodes": nodes, "mtu": mtu}
    unknown = {key for key, value in raw.items() if _is_output(value)}
    if not subnet_known:
        unknown.add("subnets")
    _, found = parse_sdn({k: v for k, v in raw.items() if v is not None}, unknown)
    _raise(kind, name, found)


def _ip_problems(path: str, value: Any) -> list[Problem]:
    try:
        _IP.validate_python(value)
    except ValidationError as error:
        detail = error.errors()[0]
        if detail["type"] == "value_error":  # the address rule's own sentence (scope id, ...)
            return [Problem(path, str(detail["msg"]).removeprefix("Value error, "))]
        return [Problem(path, f"{value!r} is not an IP address")]
    return []


class _SdnComponent(pulumi.ComponentResource):
    """A component that owns one ``SdnNetwork`` (``<name>-sdn``) with one subnet."""

    _snat: bool

    attach: pulumi.Output[str]
    """What guests attach to: the vnet's name (``net0: virtio,bridge=<attach>``)."""
    vnet: pulumi.Output[str]
    """The vnet's name."""
    gateway: pulumi.Output[str]
    """The host's address on the vnet: the guests' default gateway."""
    cidr: pulumi.Output[str]
    """The subnet (network address and prefix length)."""
    zone: pulumi.Output[str]
    """The SDN zone's id."""
    network: SdnNetwork
    """The child resource that owns the zone, vnet and subnet."""

    @classmethod
    def validate(cls, name: str, **arguments: Any) -> None:
        """Raise what ``cls(name, **arguments)`` would for bad arguments; register nothing.

        ``InvalidArguments`` names each bad argument that is a plain value;
        ``TypeError`` an argument the component does not take, or a required one
        left out. A caller that declares several components validates all of
        them first, so a mistake in the last one cannot leave the first ones
        half deployed.
        """
        bound = inspect.signature(cls.__init__).bind(None, name, **arguments)
        bound.apply_defaults()
        given = bound.arguments
        _validate(
            cls.__name__,
            name,
            zone=given["zone"],
            vnet=given["vnet"],
            cidr=given["cidr"],
            nodes=given["nodes"],
            mtu=given["mtu"],
            snat=cls._snat,
            dhcp_range=given.get("dhcp_range"),
            dns_server=given.get("dns_server"),
        )

    def _build(
        self,
        name: str,
        *,
        zone: pulumi.Input[str],
        vnet: pulumi.Input[str],
        cidr: pulumi.Input[str],
        snat: bool,
        nodes: pulumi.Input[list[str]] | None,
        mtu: pulumi.Input[int] | None,
        dhcp_range: Any = None,
        dns_server: pulumi.Input[str] | None = None,
    ) -> None:
        kind = type(self).__name__

        def resolved(args: list[Any]) -> dict[str, Any]:
            """The subnet once Output arguments resolve, checked as plain ones are up front."""
            given, dhcp, dns = args
            _validate(
                kind,
                name,
                zone=zone,
                vnet=vnet,
                cidr=given,
                nodes=nodes,
                mtu=mtu,
                snat=snat,
                dhcp_range=dhcp,
                dns_server=dns,
            )
            return _subnet(given, snat, dhcp, dns)

        subnet = pulumi.Output.all(cidr, dhcp_range, dns_server).apply(resolved)
        self.network = SdnNetwork(
            f"{name}-sdn",
            zone=zone,
            vnet=vnet,
            subnets=subnet.apply(lambda s: [s]),
            nodes=nodes,
            mtu=mtu,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.attach = self.network.vnet
        self.vnet = self.network.vnet
        self.zone = self.network.zone
        self.gateway = subnet.apply(lambda s: str(s["gateway"]))
        self.cidr = subnet.apply(lambda s: str(s["cidr"]))
        self.register_outputs(
            {
                "attach": self.attach,
                "vnet": self.vnet,
                "gateway": self.gateway,
                "cidr": self.cidr,
                "zone": self.zone,
            }
        )


class RoutedSubnet(_SdnComponent):
    """A public block routed to guests through the host: guests keep their real addresses.

    An SDN Simple zone with one vnet; the host takes the block's gateway
    address on the vnet and forwards between the vnet and its uplink (no
    SNAT). Guests use addresses of the block with ``gateway`` as their
    default gateway and are reachable at them from outside.

    The upstream (hosting provider, router) **must route the block to the
    host's main address**; pvenet cannot check that. Choose ``NatGateway``
    instead when you have no block routed to you.

    Args:
        name: the component's name; the child is ``<name>-sdn``.
        zone: SDN zone id, 2 to 8 letters or digits starting with a letter;
            the zone must not exist yet (it belongs to this component).
        vnet: vnet id, same rules; what guests attach to.
        cidr: the gateway's address with the block's prefix length:
            ``"203.0.113.17/28"`` = gateway 203.0.113.17 in 203.0.113.16/28.
        nodes: the nodes the vnet exists on; None (default) = every node.
        mtu: the vnet's MTU; None (default) = the kernel's default.

    Outputs: ``attach`` (the vnet guests attach to), ``vnet``, ``gateway``,
    ``cidr`` (the block, e.g. ``203.0.113.16/28``) and ``zone``.
    """

    _snat = False

    def __init__(
        self,
        name: str,
        *,
        zone: pulumi.Input[str],
        vnet: pulumi.Input[str],
        cidr: pulumi.Input[str],
        nodes: pulumi.Input[list[str]] | None = None,
        mtu: pulumi.Input[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        _validate(
            "RoutedSubnet", name, zone=zone, vnet=vnet, cidr=cidr, nodes=nodes, mtu=mtu, snat=False
        )
        super().__init__("pvenet:index:RoutedSubnet", name, None, opts)
        self._build(
            name,
            zone=zone,
            vnet=vnet,
            cidr=cidr,
            snat=False,
            nodes=nodes,
            mtu=mtu,
        )


class NatGateway(_SdnComponent):
    """A private network whose guests reach out through the host's address (SNAT).

    An SDN Simple zone with one vnet and one subnet with ``snat``: the host
    takes the gateway address on the vnet, forwards, and rewrites the
    guests' source address to its own outgoing address (the interface that
    holds the default route, fixed when the SDN config is applied). With
    ``dhcp_range`` the zone runs Proxmox's dnsmasq DHCP (the ``dnsmasq``
    package must be installed on the nodes) and hands out addresses from
    that range, with ``dns_server`` as the resolver.

    Only outbound connections work: pve-network sets up SNAT only, with no
    port forwarding (DNAT), so nothing outside can reach a guest. Choose
    ``RoutedSubnet`` when guests must be reachable at public addresses.

    Args:
        name: the component's name; the child is ``<name>-sdn``.
        zone: SDN zone id, 2 to 8 letters or digits starting with a letter;
            the zone must not exist yet (it belongs to this component).
        vnet: vnet id, same rules; what guests attach to.
        cidr: the gateway's address with the prefix length (default
            ``"10.10.10.1/24"``: gateway 10.10.10.1 in 10.10.10.0/24).
        dhcp_range: (first, last) address DHCP hands out, inside the subnet
            and not containing the gateway; None (default) = no DHCP.
        dns_server: the resolver DHCP hands out; needs ``dhcp_range``.
        nodes: the nodes the vnet exists on; None (default) = every node.
        mtu: the vnet's MTU; None (default) = the kernel's default.

    Outputs: ``attach`` (the vnet guests attach to), ``vnet``, ``gateway``,
    ``cidr`` (the subnet, e.g. ``10.10.10.0/24``) and ``zone``.
    """

    _snat = True

    def __init__(
        self,
        name: str,
        *,
        zone: pulumi.Input[str],
        vnet: pulumi.Input[str],
        cidr: pulumi.Input[str] = "10.10.10.1/24",
        dhcp_range: tuple[pulumi.Input[str], pulumi.Input[str]] | None = None,
        dns_server: pulumi.Input[str] | None = None,
        nodes: pulumi.Input[list[str]] | None = None,
        mtu: pulumi.Input[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        _validate(
            "NatGateway",
            name,
            zone=zone,
            vnet=vnet,
            cidr=cidr,
            nodes=nodes,
            mtu=mtu,
            snat=True,
            dhcp_range=dhcp_range,
            dns_server=dns_server,
        )
        super().__init__("pvenet:index:NatGateway", name, None, opts)
        self._build(
            name,
            zone=zone,
            vnet=vnet,
            cidr=cidr,
            snat=True,
            nodes=nodes,
            mtu=mtu,
            dhcp_range=list(dhcp_range) if dhcp_range is not None else None,
            dns_server=dns_server,
        )
