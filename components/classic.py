"""The admin guide's classic NAT and routed setups: a plain bridge plus host rules, no SDN.

The Proxmox admin guide describes both with hook lines in
``/etc/network/interfaces`` ("Masquerading (NAT) with iptables", "Routed
Configuration"), which Proxmox's API cannot write. pvenet builds the bridge
through the API, like ``BridgedNetwork``, and the rest as host rules of the
node (``docs/host-rules.md``): pvenet's own nftables table, sysctls and routes,
installed over SSH and put back after a reboot or an ``ifreload -a``.

Which one to choose:

- ``MasqueradeBridge`` on nodes without the SDN packages (``libpve-network-perl``),
  or where the guests' network should be one plain bridge on one node: the same
  NAT as ``NatGateway``, without DHCP (give guests static addresses).
- ``RoutedBridge`` when the hosting provider hands out **single extra addresses**
  on the uplink's network, or routes them to the node's address, and allows one
  MAC address per port: the uplink keeps the node's address and answers ARP for
  the guests (``proxy_arp``), and the node routes each guest's address to the
  bridge. ``RoutedSubnet`` is the SDN choice for a block routed to the node.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pulumi

from components.arguments import MasqueradeBridgeArgs, RoutedBridgeArgs, must_be_known, naming
from components.errors import ArgumentProblem
from components.host_rules import HostPart, NatRules, RoutedRules
from components.node import _NodeComponent
from components.node_arguments import Interface, Layout, Setting, common_settings
from provider.problems import Problem


class _ClassicBridge(_NodeComponent):
    """A bridge with no ports carrying the host's address for its guests, plus host rules."""

    bridge: pulumi.Output[str]

    _OUTPUTS = ("attach", "bridge", "node", "cidr", "gateway", "interfaces")
    _HOST_ARGUMENTS: tuple[str, ...]

    @classmethod
    def names(cls, values: Mapping[str, Any]) -> dict[str, pulumi.Input[Any]]:
        """``bridge``, which is also ``attach``."""
        return {"bridge": values["bridge"], "attach": values["bridge"]}

    @classmethod
    def guest_addresses(
        cls, values: Mapping[str, Any]
    ) -> tuple[pulumi.Input[str | None], pulumi.Input[str | None]]:
        """``gateway``: the host's address on the bridge; ``cidr``: the bridge's network."""
        cidr = pulumi.Output.from_input(values["cidr"])
        return (
            cidr.apply(lambda c: str(ipaddress.ip_interface(c).ip)),
            cidr.apply(lambda c: str(ipaddress.ip_interface(c).network)),
        )

    @classmethod
    def _layout(cls, arguments: Mapping[str, Any]) -> Layout:
        return [
            Interface(
                "bridge",
                (
                    Setting("iface", "bridge", arguments["bridge"]),
                    Setting("bridge_ports", "bridge", []),
                    Setting("cidr", "cidr", arguments["cidr"]),
                    *common_settings(arguments),
                ),
            )
        ]

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[ArgumentProblem]:
        """The bridge's rules, then the host rules' (with every argument they read known)."""
        found = super().rules(values)
        if unknown := must_be_known(values, cls._HOST_ARGUMENTS):
            return found + unknown
        if found:
            return found  # host rules read the bridge's values: fix those first
        return found + [naming(p.path, p.message) for p in cls._host_problems(values)]

    @classmethod
    def _host_rules(
        cls, name: str, values: Mapping[str, Any], owner: str
    ) -> NatRules | RoutedRules:
        raise NotImplementedError

    @classmethod
    def _host_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        return cls._host_rules("", values, "").problems()

    @classmethod
    def host_parts(
        cls, name: str, values: Mapping[str, Any], owner: str | None = None
    ) -> list[HostPart]:
        """The host rules on the bridge's node."""
        return cls._host_rules(name, values, owner or f"{cls.__name__} '{name}'").parts()


class MasqueradeBridge(_ClassicBridge, args=MasqueradeBridgeArgs):
    """The admin guide's masquerading (NAT): private guests on a plain bridge, no SDN.

    A bridge with no ports carries the guests' gateway address (``cidr``); the
    node forwards and masquerades the bridge's network out of ``uplink`` (its
    traffic leaves with the node's address), and ``forwards`` make guests
    reachable from outside at ports of the node. Guests need static addresses
    (no DHCP). Everything but the bridge is host rules, written over SSH
    (``pvenet:ssh``).

    The children are ``<name>-interfaces`` (the bridge) and ``<name>-<node>-host``
    (the host rules). Outputs: ``attach`` and ``bridge`` (what guests attach to),
    ``gateway`` (the guests' default gateway), ``cidr`` (the network), ``node``.
    """

    _HOST_ARGUMENTS = ("node", "bridge", "cidr", "uplink", "forwards", "hairpin")

    @classmethod
    def _host_rules(cls, name: str, values: Mapping[str, Any], owner: str) -> NatRules:
        return NatRules.of(cls.__name__, name, values, owner)


class RoutedBridge(_ClassicBridge, args=RoutedBridgeArgs):
    """The admin guide's routed configuration: guests' extra addresses through the host.

    The uplink keeps the node's address and answers ARP for the guests'
    addresses (``proxy_arp``); a bridge with no ports carries the host's
    address for the guests (``cidr``, their gateway); the node forwards and
    routes each of ``addresses`` (``/32``) to the bridge. Guests use their
    extra address with ``gateway`` as default gateway (with a ``/32`` address,
    as an on-link route). Everything but the bridge is host rules, written
    over SSH (``pvenet:ssh``).

    The children are ``<name>-interfaces`` (the bridge) and ``<name>-<node>-host``
    (the host rules). Outputs: ``attach`` and ``bridge``, ``gateway`` (the
    host's address on the bridge), ``cidr``, ``node``.
    """

    _HOST_ARGUMENTS = ("node", "bridge", "uplink", "addresses")

    @classmethod
    def _host_rules(cls, name: str, values: Mapping[str, Any], owner: str) -> RoutedRules:
        return RoutedRules(
            owner=owner,
            node=values["node"],
            bridge=values["bridge"],
            uplink=values["uplink"],
            addresses=values["addresses"],
        )

    @classmethod
    def _host_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        found = super()._host_problems(values)
        host = ipaddress.ip_interface(values["cidr"]).ip  # checked with the bridge
        for index, address in enumerate(values["addresses"]):
            if address.partition("/")[0] == str(host):
                found.append(
                    Problem(
                        f"addresses[{index}]",
                        f"{address} is the host's own address on the bridge (cidr); give "
                        "the guests' addresses",
                    )
                )
        return found
