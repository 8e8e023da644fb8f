"""A node's networks, and SDN networks, each group as ONE set: one apply for all of them.

Each component owns one set, so a program with three networks on a node reloads that node
three times. A group makes one set of many components' networks:

- ``NodeNetworks``: bridges, bonds and host VLANs of one node (``BridgedNetwork``,
  ``BondedUplink``, ``VlanNetwork`` arguments), as one ``NodeInterfaces``: one staged plan,
  one reload of the node, verified and rolled back together;
- ``SdnNetworkGroup``: routed and NAT networks (``RoutedSubnet``, ``NatGateway``
  arguments), as one ``SdnNetworks``: one ``PUT /cluster/sdn``, one reload of each node.

The networks are given as ``(component class, name, arguments)``; the arguments are the
component's own and are checked as the component checks them (errors name the component,
its name and the argument). ``networks[name]`` holds each network's outputs, as the
component would have them: ``attach``, ``gateway``, ``cidr``. The root program
(``components.stack``) declares one ``NodeNetworks`` per node and one ``SdnNetworkGroup``.

A network's flags (``adopt``, ``allow_management_change``, ``allow_dhcp_to_static``) keep
applying to its own interfaces only: the set gets the list of interfaces each flag covers.

Each group gathers its networks' host rules too (``host_parts``: port forwards, classic
masquerade and routing) and, unless told not to (``host_rules=False``), declares them
merged, one ``HostRules`` per node (``<name>-<node>-host``). The root program declares
each node's host rules once for all groups (``components.host.NodeHostRules``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.host import declare
from components.host_rules import HostPart
from components.node import _NodeComponent
from components.node_arguments import after
from components.sdn import _SdnComponent
from provider.host.resource import HostRules
from provider.node.resource import FLAGS, NodeInterfaces
from provider.sdn.networks import SdnNetworks

Declared = tuple[type[Any], str, Mapping[str, Any]]
"""One network of a group: its component class, its name, its arguments."""


@dataclass(frozen=True)
class NetworkOutputs:
    """What a network of a group outputs, as its component would."""

    attach: pulumi.Output[Any]
    gateway: pulumi.Output[Any]
    cidr: pulumi.Output[Any]


def _host_parts(checked: Sequence[tuple[Any, str, Mapping[str, Any]]]) -> list[HostPart]:
    """Every network's host rules, each named by its component and name."""
    return [part for c, network, values in checked for part in c.host_parts(network, values)]


def _flattened(lists: list[list[Any]]) -> list[Any]:
    return [item for part in lists for item in part]


class NodeNetworks(pulumi.ComponentResource):
    """Bridges, bonds and host VLANs of one node as one set (``<name>-interfaces``)."""

    interfaces: NodeInterfaces
    networks: dict[str, NetworkOutputs]
    host_parts: list[HostPart]
    """The networks' host rules (declared here unless ``host_rules=False``)."""
    host_rules: dict[str, HostRules]

    def __init__(
        self,
        name: str,
        *,
        node: pulumi.Input[str],
        networks: Sequence[Declared],
        host_rules: bool = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        checked = [
            (component, network, component.checked(network, {**arguments, "node": node}))
            for component, network, arguments in networks
        ]
        for component, network, _values in checked:
            if not issubclass(component, _NodeComponent):
                raise TypeError(f"{network}: {component.__name__} is not a node network")
        super().__init__("pvenet:index:NodeNetworks", name, None, opts)
        parts = [component.interface_inputs(n, values) for component, n, values in checked]
        self.interfaces = NodeInterfaces(
            f"{name}-interfaces",
            node=node,
            interfaces=pulumi.Output.all(*parts).apply(_flattened),
            **{flag: self._covered(flag, checked) for flag in FLAGS},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.networks = {}
        for component, network, values in checked:
            component.remind(values, self)
            names = component.names(values)
            gateway, cidr = component.guest_addresses(values)
            self.networks[network] = NetworkOutputs(
                after(self.interfaces, names["attach"]),
                after(self.interfaces, gateway),
                after(self.interfaces, cidr),
            )
        self.host_parts = _host_parts(checked)
        self.host_rules = declare(
            self, name, self.host_parts if host_rules else [], [self.interfaces]
        )
        self.register_outputs(
            {f"{network}.attach": out.attach for network, out in self.networks.items()}
        )

    @staticmethod
    def _covered(
        flag: str, checked: list[tuple[Any, str, dict[str, Any]]]
    ) -> pulumi.Output[list[str]]:
        """The interfaces of the networks that set ``flag``: what it covers in the set."""
        per_network = [
            pulumi.Output.all(values.get(flag, False), *component.interface_names(values))
            for component, _network, values in checked
        ]
        return pulumi.Output.all(*per_network).apply(
            lambda found: sorted({name for on, *names in found if on for name in names})
        )


class SdnNetworkGroup(pulumi.ComponentResource):
    """Routed and NAT networks as one set of SDN networks (``<name>-networks``)."""

    sdn: SdnNetworks
    networks: dict[str, NetworkOutputs]
    host_parts: list[HostPart]
    """The networks' host rules (declared here unless ``host_rules=False``)."""
    host_rules: dict[str, HostRules]

    def __init__(
        self,
        name: str,
        *,
        networks: Sequence[Declared],
        host_rules: bool = True,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        parts = []
        checked = []
        for component, network, arguments in networks:
            if not issubclass(component, _SdnComponent):
                raise TypeError(f"{network}: {component.__name__} is not an SDN network")
            values = component.checked(network, arguments)
            checked.append((component, network, values))
            parts.append((network, *component.network_inputs(network, values)))
        super().__init__("pvenet:index:SdnNetworkGroup", name, None, opts)
        self.sdn = SdnNetworks(
            f"{name}-networks",
            networks=[inputs for _network, inputs, _subnet in parts],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.networks = {
            network: NetworkOutputs(
                after(self.sdn, inputs["vnet"]),
                after(self.sdn, subnet.apply(lambda s: str(s["gateway"]))),
                after(self.sdn, subnet.apply(lambda s: str(s["cidr"]))),
            )
            for network, inputs, subnet in parts
        }
        self.host_parts = _host_parts(checked)
        self.host_rules = declare(self, name, self.host_parts if host_rules else [], [self.sdn])
        self.register_outputs(
            {f"{network}.attach": out.attach for network, out in self.networks.items()}
        )
