"""Node networks in the admin guide's words: a bridge, a bond (with a bridge on top), a host VLAN.

Each component turns its arguments into the interface dicts of ONE
``NodeInterfaces`` set, so a change to a component is one staged plan and one
reload on the node, however many interfaces it touches.

The arguments are the fields of each component's argument model
(``components.arguments``) and may be ``pulumi.Input``s. Plain values are
validated when the component is constructed, before anything is registered:
each against its field, then together with the same rules the provider checks
(``provider.node.model.parse_interfaces``); errors name the component and the
*argument* (``BondedUplink 'uplink': primary 'eno4' ...``), not the interface
dict the argument ends up in. Values that are ``Output``s are validated in full
once they resolve (at preview when they are known then), and the provider's
``check`` validates the set again before any write.

Every component has the same outputs, so programs can treat them alike:
``attach`` (what guests attach to), ``gateway``, ``cidr``, ``node``, the
mode-specific names (``bridge``, ``bond``, ``iface``), and ``interfaces``, the
child ``NodeInterfaces`` resource. The name outputs depend on the child, so a
guest that attaches to ``attach`` is created after the network is live.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import pulumi

from components.arguments import (
    BondedUplinkArgs,
    BridgedNetworkArgs,
    Component,
    VlanNetworkArgs,
    is_plain,
)
from components.errors import ArgumentProblem
from components.host import declare
from components.node_arguments import (
    Interface,
    Layout,
    Setting,
    address_settings,
    after,
    common_settings,
    interface_dicts,
    known,
    set_problems,
)
from provider.host.resource import HostRules
from provider.node.resource import FLAGS, NodeInterfaces
from provider.problems import Problem

LACP_MODE = "802.3ad"
_RESOURCE_INPUTS = ("node", *FLAGS)
"""Arguments that are inputs of the ``NodeInterfaces`` child as they are, not interface settings."""


class _NodeComponent(Component):
    """A component that owns one ``NodeInterfaces`` set (``<name>-interfaces``).

    A subclass says how its arguments become the set's interfaces (``_layout``)
    and which rules about its own arguments the interfaces cannot express
    (``_own_rules``).
    """

    attach: pulumi.Output[str]
    """What guests attach to: the bridge, else the bond or the VLAN interface."""
    node: pulumi.Output[str]
    cidr: pulumi.Output[str | None]
    gateway: pulumi.Output[str | None]
    interfaces: NodeInterfaces
    """The child resource that owns the set."""
    host_rules: dict[str, HostRules]
    """The child that holds the node's host rules (``<name>-<node>-host``), for the
    components that have some."""

    _OUTPUTS: ClassVar[tuple[str, ...]]

    @classmethod
    def _layout(cls, arguments: Mapping[str, Any]) -> Layout:
        raise NotImplementedError

    @classmethod
    def _own_rules(cls, arguments: Mapping[str, Any]) -> list[Problem]:
        return []

    @classmethod
    def rules(cls, values: Mapping[str, Any]) -> list[ArgumentProblem]:
        """What the node model finds wrong with the set these arguments make, and own rules."""
        arguments = _set_arguments(values)
        return set_problems(cls._layout(arguments), cls._own_rules(arguments))

    @classmethod
    def interface_inputs(
        cls, name: str, values: Mapping[str, Any]
    ) -> pulumi.Input[list[pulumi.Input[Mapping[str, Any]]]]:
        """The set's interfaces, known now or, from Outputs, once they resolve (and check)."""
        arguments = _set_arguments(values)
        if is_plain(list(arguments.values())):
            return list(interface_dicts(cls._layout(arguments)))

        def resolved(given: dict[str, Any]) -> list[pulumi.Input[Mapping[str, Any]]]:
            checked = cls.checked(name, {**values, **given})
            return list(interface_dicts(cls._layout(_set_arguments(checked))))

        return pulumi.Output.all(**arguments).apply(resolved)

    @classmethod
    def interface_names(cls, values: Mapping[str, Any]) -> list[pulumi.Input[str]]:
        """The names of the interfaces the component's set has (some may be Outputs)."""
        return [
            setting.value
            for interface in cls._layout(_set_arguments(values))
            for setting in interface.settings
            if setting.key == "iface"
        ]

    @classmethod
    def names(cls, values: Mapping[str, Any]) -> dict[str, pulumi.Input[Any]]:
        """The component's name outputs (``bridge``, ``bond``, ``iface``) and ``attach``."""
        raise NotImplementedError

    def _build(self, name: str, values: dict[str, Any]) -> None:
        self.interfaces = NodeInterfaces(
            f"{name}-interfaces",
            interfaces=self.interface_inputs(name, values),
            **{key: values[key] for key in _RESOURCE_INPUTS if key in values},
            opts=pulumi.ResourceOptions(parent=self),
        )
        for key, value in self.names(values).items():
            setattr(self, key, after(self.interfaces, value))
        self.remind(values, self)
        self.host_rules = declare(self, name, self.host_parts(name, values), [self.interfaces])
        gateway, cidr = self.guest_addresses(values)
        self.node = after(self.interfaces, values["node"])
        self.cidr = after(self.interfaces, cidr)
        self.gateway = after(self.interfaces, gateway)
        self.register_outputs({key: getattr(self, key) for key in self._OUTPUTS})

    @classmethod
    def remind(cls, values: Mapping[str, Any], resource: pulumi.Resource) -> None:
        """Log what the operator should know about these arguments (on ``resource``)."""

    @classmethod
    def guest_addresses(
        cls, values: Mapping[str, Any]
    ) -> tuple[pulumi.Input[str | None], pulumi.Input[str | None]]:
        """The ``gateway`` and ``cidr`` outputs: the host's default gateway and address."""
        return values["gateway"], values["cidr"]


def _set_arguments(values: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments the component turns into interface settings."""
    return {key: value for key, value in values.items() if key not in _RESOURCE_INPUTS}


class BridgedNetwork(_NodeComponent, args=BridgedNetworkArgs):
    """A Linux bridge with physical port(s): guests sit on the real LAN (the default mode).

    The bridge (``vmbrN``) is the node's virtual switch; its ports are NICs
    (or bonds or VLANs managed elsewhere). It may carry the host's address and
    default gateway, and may be VLAN-aware so guests choose a tag.
    """

    bridge: pulumi.Output[str]

    _OUTPUTS = ("attach", "bridge", "node", "cidr", "gateway", "interfaces")

    @classmethod
    def names(cls, values: Mapping[str, Any]) -> dict[str, pulumi.Input[Any]]:
        """``bridge``, which is also ``attach``."""
        return {"bridge": values["bridge"], "attach": values["bridge"]}

    @classmethod
    def _layout(cls, arguments: Mapping[str, Any]) -> Layout:
        return [
            Interface(
                "bridge",
                (
                    Setting("iface", "bridge", arguments["bridge"]),
                    Setting("bridge_ports", "ports", arguments["ports"]),
                    Setting("bridge_vlan_aware", "vlan_aware", arguments["vlan_aware"]),
                    Setting("bridge_vids", "vids", arguments["vids"]),
                    *address_settings(arguments, ipv6=True),
                    *common_settings(arguments),
                ),
            )
        ]


class BondedUplink(_NodeComponent, args=BondedUplinkArgs):
    """A bond of NICs, optionally with a bridge on top, as one atomic set (the bond mode).

    The bond joins several NICs into one link for bandwidth and/or failover;
    the bridge (if any) makes it the uplink guests attach to. Bond and bridge
    are one set, so moving a bridge onto a new bond is one reload. Proxmox
    starts every bond slave (``auto ethX``); the set records each slave NIC as
    it was and puts it back when the bond is deleted or the NIC leaves it.

    **802.3ad (LACP) needs the switch to take part**: choose it when the
    switch supports IEEE 802.3ad and its ports for the slaves are configured
    as one LACP group; otherwise the bond does not carry traffic as intended.
    Without such a switch, ``active-backup`` is the usual choice: it needs
    nothing from the switch. (``balance-rr`` and ``balance-xor`` also expect
    the switch ports grouped, as a static aggregation.) The component logs a
    reminder about LACP when mode is ``802.3ad``.

    The host's address (``cidr``, ``gateway``) and ``comments`` go on the bridge
    when there is one, else on the bond; ``mtu`` on both.
    """

    bond: pulumi.Output[str]
    bridge: pulumi.Output[str | None]

    _OUTPUTS = ("attach", "bond", "bridge", "node", "cidr", "gateway", "interfaces")

    @classmethod
    def names(cls, values: Mapping[str, Any]) -> dict[str, pulumi.Input[Any]]:
        """``bond`` and ``bridge``; ``attach`` is the bridge, else the bond."""
        bond, bridge = values["bond"], values["bridge"]
        attach = pulumi.Output.all(bridge, bond).apply(
            lambda names: names[0] if names[0] is not None else names[1]
        )
        return {"bond": bond, "bridge": bridge, "attach": attach}

    @classmethod
    def remind(cls, values: Mapping[str, Any], resource: pulumi.Resource) -> None:
        """The LACP reminder, once the mode is known."""
        bond, slaves = values["bond"], values["slaves"]
        pulumi.Output.from_input(values["mode"]).apply(
            lambda m: cls._remind_lacp(m, bond, slaves, resource)
        )

    @staticmethod
    def _remind_lacp(mode: str, bond: Any, slaves: Any, resource: pulumi.Resource) -> None:
        """Remind the operator (in preview and update output) that 802.3ad needs LACP ports."""
        if mode != LACP_MODE:
            return
        bond_name = bond if is_plain(bond) else "the bond"
        ports = (
            f"the switch ports of {', '.join(slaves)}"
            if is_plain(slaves) and not isinstance(slaves, str)
            else "the switch ports of its slaves"
        )
        pulumi.log.info(
            f"{bond_name} uses 802.3ad (LACP): {ports} must be configured as one LACP link "
            "aggregation group, or the bond will not pass traffic; without LACP on the switch, "
            "use mode 'active-backup'",
            resource=resource,
        )

    @classmethod
    def _layout(cls, arguments: Mapping[str, Any]) -> Layout:
        has_bridge = arguments["bridge"] is not None
        top = (*address_settings(arguments), *common_settings(arguments))
        bond = Interface(
            "bond",
            (
                Setting("iface", "bond", arguments["bond"]),
                Setting("slaves", "slaves", arguments["slaves"]),
                Setting("bond_mode", "mode", arguments["mode"]),
                Setting("bond_xmit_hash_policy", "hash_policy", arguments["hash_policy"]),
                Setting("bond_primary", "primary", arguments["primary"]),
                *(((Setting("mtu", "mtu", arguments["mtu"]),)) if has_bridge else top),
            ),
        )
        if not has_bridge:
            return [bond]
        bridge = Interface(
            "bridge",
            (
                Setting("iface", "bridge", arguments["bridge"]),
                Setting("bridge_ports", "bond", [arguments["bond"]]),
                Setting("bridge_vlan_aware", "vlan_aware", arguments["vlan_aware"]),
                Setting("bridge_vids", "vids", arguments["vids"]),
                *top,
            ),
        )
        return [bond, bridge]

    @classmethod
    def _own_rules(cls, arguments: Mapping[str, Any]) -> list[Problem]:
        """Rules about the component's own arguments (not expressible as interface settings)."""
        if arguments["bridge"] is not None:
            return []
        problems = []
        if known(arguments, "vlan_aware") and arguments["vlan_aware"]:
            problems.append(
                Problem(
                    "vlan_aware",
                    "vlan_aware needs bridge: a bond is not VLAN-aware, a bridge on it is",
                )
            )
        if arguments["vids"] is not None:
            problems.append(Problem("vids", "vids need bridge (with vlan_aware=True)"))
        return problems


class VlanNetwork(_NodeComponent, args=VlanNetworkArgs):
    """A host VLAN interface on a bridge or bond: the node's own address in one VLAN.

    Named ``<parent>.<vlan_id>`` (``vmbr0.50``, ``bond0.50``) by default; a
    custom name (``vlan50``, ``mgmt``) is written with ``vlan-raw-device`` and
    ``vlan-id``. Guests do not need this to use a VLAN (they tag on a
    VLAN-aware bridge); it gives the host an address in the VLAN, such as a
    separate cluster or storage network.
    """

    iface: pulumi.Output[str]

    _OUTPUTS = ("attach", "iface", "node", "cidr", "gateway", "interfaces")

    @classmethod
    def names(cls, values: Mapping[str, Any]) -> dict[str, pulumi.Input[Any]]:
        """``iface`` (``<parent>.<vlan_id>`` by default), which is also ``attach``."""
        iface = _vlan_name(values)
        return {"iface": iface, "attach": iface}

    @classmethod
    def _layout(cls, arguments: Mapping[str, Any]) -> Layout:
        # A default name is parent + ".<vlan_id>"; vlan_id is checked on its own (1 to 4094), so
        # a bad default name (bad characters, longer than 15) comes from parent.
        name_argument = "iface" if arguments["iface"] is not None else "parent"
        return [
            Interface(
                "vlan",
                (
                    Setting("iface", name_argument, _vlan_name(arguments)),
                    Setting("vlan_raw_device", "parent", arguments["parent"]),
                    Setting("vlan_id", "vlan_id", arguments["vlan_id"]),
                    *address_settings(arguments),
                    *common_settings(arguments),
                ),
            )
        ]


def _vlan_name(arguments: Mapping[str, Any]) -> pulumi.Input[str]:
    """The VLAN interface's name: ``iface``, or ``<parent>.<vlan_id>``."""
    given: pulumi.Input[str] | None = arguments["iface"]
    if given is not None:
        return given
    parent, vlan_id = arguments["parent"], arguments["vlan_id"]
    if is_plain([parent, vlan_id]):
        return f"{parent}.{vlan_id}"
    return pulumi.Output.all(parent, vlan_id).apply(lambda pv: f"{pv[0]}.{pv[1]}")
