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
- ``NatGateway`` when guests mostly *reach out* (updates, a lab, build
  machines) and you have no addresses to give them: they get private
  addresses, optionally by DHCP, and leave through the host's own address
  (SNAT). pve-network sets up SNAT only; outside connections reach a guest
  only through the port forwards pvenet adds (DNAT in its host rules, over
  SSH).

The arguments are the fields of each component's argument model
(``components.arguments``) and may be ``pulumi.Input``s; plain values are
checked at construction (each against its field, then the subnet ``cidr``
makes and the SDN model's rules), ``Output``s once they resolve.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

from components.arguments import (
    Component,
    NatGatewayArgs,
    RoutedSubnetArgs,
    is_plain,
    must_be_known,
    naming,
)
from components.errors import ArgumentProblem
from components.host import declare
from components.host_rules import HostPart, NatRules
from provider.addresses import plain_address, reserved_in
from provider.host.resource import HostRules
from provider.problems import Problem
from provider.sdn.model import DhcpRange, parse_sdn
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
_SUBNET_ARGUMENTS = ("cidr", "dhcp_range", "dns_server")


def _argument(path: str) -> str:
    """The component argument a property path of the SdnNetwork comes from."""
    for prefix in sorted(_ARGUMENTS, key=len, reverse=True):
        if path == prefix or path.startswith((prefix + ".", prefix + "[")):
            return _ARGUMENTS[prefix]
    return path


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


def _subnet(cidr: str, snat: bool, dhcp: DhcpRange | None, dns: str | None) -> dict[str, Any]:
    gateway, network = split_gateway(cidr)
    return {
        "cidr": network,
        "gateway": gateway,
        "snat": snat,
        "dhcp_ranges": [dhcp.model_dump()] if dhcp else [],
        "dns_server": dns,
    }


class _SdnComponent(Component):
    """A component that owns one ``SdnNetwork`` (``<name>-sdn``) with one subnet."""

    _snat: ClassVar[bool]

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
    host_rules: dict[str, HostRules]
    """The children that hold the host rules, by node (``<name>-<node>-host``); none
    without port forwards."""

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[ArgumentProblem]:
        """The subnet ``cidr`` makes, and the SDN model's rules on what is known."""
        cidr, dhcp, dns = values["cidr"], values.get("dhcp_range"), values.get("dns_server")
        problems: list[Problem] = []
        subnet_known = is_plain([cidr, dhcp, dns])
        if is_plain(cidr):
            try:
                split_gateway(cidr)
            except ValueError as error:
                problems.append(Problem("cidr", str(error)))
                subnet_known = False
        raw = {key: values[key] for key in ("zone", "vnet", "nodes", "mtu")}
        raw["subnets"] = [_subnet(cidr, cls._snat, dhcp, dns)] if subnet_known else []
        unknown = {key for key, value in raw.items() if not is_plain(value)}
        if not subnet_known:
            unknown.add("subnets")
        _, found = parse_sdn({k: v for k, v in raw.items() if v is not None}, unknown)
        return [naming(_argument(p.path), p.message) for p in problems + found]

    @classmethod
    def network_inputs(
        cls, name: str, values: Mapping[str, Any]
    ) -> tuple[dict[str, Any], pulumi.Output[dict[str, Any]]]:
        """The ``SdnNetwork`` inputs these arguments make, and the subnet alone (an Output:
        it is checked as plain arguments are up front once Output arguments resolve)."""
        snat = cls._snat

        def resolved(given: dict[str, Any]) -> dict[str, Any]:
            checked = cls.checked(name, {**values, **given})
            return _subnet(
                checked["cidr"], snat, checked.get("dhcp_range"), checked.get("dns_server")
            )

        subnet_inputs = {key: values[key] for key in _SUBNET_ARGUMENTS if key in values}
        subnet = pulumi.Output.all(**subnet_inputs).apply(resolved)
        network = {
            "zone": values["zone"],
            "vnet": values["vnet"],
            "subnets": subnet.apply(lambda s: [s]),
            "nodes": values["nodes"],
            "mtu": values["mtu"],
        }
        return network, subnet

    def _build(self, name: str, values: dict[str, Any]) -> None:
        network, subnet = self.network_inputs(name, values)
        self.network = SdnNetwork(
            f"{name}-sdn", **network, opts=pulumi.ResourceOptions(parent=self)
        )
        self.host_rules = declare(self, name, self.host_parts(name, values), [self.network])
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


class RoutedSubnet(_SdnComponent, args=RoutedSubnetArgs):
    """A public block routed to guests through the host: guests keep their real addresses.

    An SDN Simple zone with one vnet; the host takes the block's gateway
    address on the vnet and forwards between the vnet and its uplink (no
    SNAT). Guests use addresses of the block with ``gateway`` as their
    default gateway and are reachable at them from outside.

    The upstream (hosting provider, router) **must route the block to the
    host's main address**; pvenet cannot check that. Choose ``NatGateway``
    instead when you have no block routed to you.

    The child is ``<name>-sdn``. Outputs: ``attach`` (the vnet guests attach
    to), ``vnet``, ``gateway``, ``cidr`` (the block, e.g. ``203.0.113.16/28``)
    and ``zone``.
    """

    _snat = False


class NatGateway(_SdnComponent, args=NatGatewayArgs):
    """A private network whose guests reach out through the host's address (SNAT).

    An SDN Simple zone with one vnet and one subnet with ``snat``: the host
    takes the gateway address on the vnet, forwards, and rewrites the
    guests' source address to its own outgoing address (the interface that
    holds the default route, fixed when the SDN config is applied). With
    ``dhcp_range`` the zone runs Proxmox's dnsmasq DHCP (the ``dnsmasq``
    package must be installed on the nodes) and hands out addresses from
    that range, with ``dns_server`` as the resolver.

    pve-network sets up SNAT only, with no port forwarding; ``forwards`` make
    guests reachable from outside: each forwards a port of the node the guest runs on to the
    guest (DNAT in pvenet's host rules on that node, written over SSH, see
    ``docs/host-rules.md``). ``hairpin`` lets the network's own guests use
    those forwards by the node's address too. Choose ``RoutedSubnet`` when
    guests must be reachable at public addresses of their own, and
    ``MasqueradeBridge`` on nodes without the SDN packages.

    The children are ``<name>-sdn`` and, with forwards, ``<name>-<node>-host``
    for each node they name. Outputs: ``attach`` (the vnet guests attach to),
    ``vnet``, ``gateway``, ``cidr`` (the subnet, e.g. ``10.10.10.0/24``) and
    ``zone``.
    """

    _snat = True
    _HOST_ARGUMENTS = ("forwards", "hairpin", "uplink", "nodes", "cidr")

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[ArgumentProblem]:
        """The SDN rules, then the forwards' (against the subnet and the vnet's nodes)."""
        found = super().rules(values)
        forwards, uplink = values["forwards"], values["uplink"]
        if not is_plain(forwards) or forwards or uplink is not None:
            if unknown := must_be_known(values, cls._HOST_ARGUMENTS):
                return found + unknown
            found += [naming(p.path, p.message) for p in NatRules.of("", "", values).problems()]
        return found

    @classmethod
    def host_parts(
        cls, name: str, values: Mapping[str, Any], owner: str | None = None
    ) -> list[HostPart]:
        """The forwards (and, for hairpin, a masquerade) on each node a forward names."""
        if not values["forwards"]:
            return []
        owner = owner or f"{cls.__name__} '{name}'"
        return NatRules.of(cls.__name__, name, values, owner).parts()
