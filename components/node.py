"""Node networks in the admin guide's words: a bridge, a bond (with a bridge on top), a host VLAN.

Each component turns its arguments into the interface dicts of ONE
``NodeInterfaces`` set, so a change to a component is one staged plan and one
reload on the node, however many interfaces it touches.

Arguments may be ``pulumi.Input``s. Plain values are validated here, when the
component is constructed and before anything is registered, with the same
rules the provider checks (``provider.node.model.parse_interfaces``); errors name
the component and the *argument* (``BondedUplink 'uplink': primary 'eno4' ...``),
not the interface dict the argument ends up in. Values that are ``Output``s are
validated in full once they resolve (at preview when they are known then),
and the provider's ``check`` validates the set again before any write.

Every component has the same outputs, so programs can treat them alike:
``attach`` (what guests attach to), ``gateway``, ``cidr``, ``node``, the
mode-specific names (``bridge``, ``bond``, ``iface``), and ``interfaces``, the
child ``NodeInterfaces`` resource. The name outputs depend on the child, so a
guest that attaches to ``attach`` is created after the network is live.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi

from components.node_arguments import (
    Interface,
    Layout,
    Rules,
    Setting,
    address_settings,
    after,
    as_list,
    common_settings,
    interfaces_input,
    is_plain,
    known,
    no_rules,
    vid_strings,
)
from provider.node.model import BondMode, HashPolicy
from provider.node.resource import NodeInterfaces
from provider.problems import Problem

LACP_MODE = "802.3ad"


class _NodeComponent(pulumi.ComponentResource):
    """A component that owns one ``NodeInterfaces`` set; ``validate`` checks its arguments."""

    @classmethod
    def validate(cls, name: str, **arguments: Any) -> None:
        """Raise what ``cls(name, **arguments)`` would for bad arguments; register nothing.

        ``InvalidArguments`` names each bad argument (plain values are checked in
        full, ``Output``s once they resolve, as in the constructor); ``TypeError``
        an argument the component does not take, or a required one left out. A
        caller that declares several components validates all of them first, so
        a mistake in the last one cannot leave the first ones half deployed.
        """
        layout, rules = _SETS[cls]
        interfaces_input(cls.__name__, name, _set_arguments(cls, name, arguments), layout, rules)


# Arguments of a node component that are not settings of the interfaces in its set.
_NOT_SET_ARGUMENTS = frozenset(
    {"self", "name", "node", "adopt", "allow_management_change", "allow_dhcp_to_static", "opts"}
)


def _set_arguments(
    component: type[pulumi.ComponentResource], name: str, given: Mapping[str, Any]
) -> dict[str, Any]:
    """The arguments the constructor turns into interface settings, its defaults filled in."""
    bound = inspect.signature(component.__init__).bind(None, name, **given)
    bound.apply_defaults()
    return {k: v for k, v in bound.arguments.items() if k not in _NOT_SET_ARGUMENTS}


class BridgedNetwork(_NodeComponent):
    """A Linux bridge with physical port(s): guests sit on the real LAN (the default mode).

    The bridge (``vmbrN``) is the node's virtual switch; its ports are NICs
    (or bonds or VLANs managed elsewhere). It may carry the host's address and
    default gateway, and may be VLAN-aware so guests choose a tag.

    Keyword arguments (all may be ``pulumi.Input``s):

    - ``node``: the Proxmox node name.
    - ``bridge``: the bridge name, such as ``vmbr0`` (a letter, then up to 9 letters, digits
      or ``_``).
    - ``ports``: the bridge ports (default none: a bridge with no uplink, for host-only
      networks). A port belongs to one bridge or bond.
    - ``cidr``, ``gateway``: the host's IPv4 address with prefix length
      (``192.168.10.2/24``) and the default gateway, which must be inside ``cidr``. Default
      none: no host address on the bridge. One default gateway per node.
    - ``cidr6``, ``gateway6``: the same for IPv6.
    - ``vlan_aware``: let guests use VLAN tags on this bridge (default False).
    - ``vids``: the VLAN ids or ranges a VLAN-aware bridge carries (``[10, "100-200"]``);
      needs ``vlan_aware=True``; default none: Proxmox's ``2-4094``.
    - ``mtu``: the bridge's MTU (1280 to 65520); default none: left as the node has it.
    - ``comments``: a comment shown in the GUI.
    - ``adopt``: take over a bridge that already exists (such as the installer's ``vmbr0``);
      it is put back as it was when the component is deleted. Default False: an existing
      bridge of that name is an error.
    - ``allow_management_change``: allow changing the bridge that carries the address pvenet
      reaches the node by. Default False, so a typo cannot cut the node off.
    - ``allow_dhcp_to_static``: allow adopting a bridge the node addresses by DHCP (``inet
      dhcp``); Proxmox's API can only write it as ``manual`` or ``static``. Default False.
    """

    attach: pulumi.Output[str]
    bridge: pulumi.Output[str]
    node: pulumi.Output[str]
    cidr: pulumi.Output[str | None]
    gateway: pulumi.Output[str | None]
    interfaces: NodeInterfaces

    def __init__(
        self,
        name: str,
        *,
        node: pulumi.Input[str],
        bridge: pulumi.Input[str],
        ports: pulumi.Input[Sequence[pulumi.Input[str]]] = (),
        cidr: pulumi.Input[str] | None = None,
        gateway: pulumi.Input[str] | None = None,
        cidr6: pulumi.Input[str] | None = None,
        gateway6: pulumi.Input[str] | None = None,
        vlan_aware: pulumi.Input[bool] = False,
        vids: pulumi.Input[Sequence[pulumi.Input[str | int]]] | None = None,
        mtu: pulumi.Input[int] | None = None,
        comments: pulumi.Input[str] | None = None,
        adopt: pulumi.Input[bool] = False,
        allow_management_change: pulumi.Input[bool] = False,
        allow_dhcp_to_static: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        arguments = {
            "bridge": bridge,
            "ports": ports,
            "cidr": cidr,
            "gateway": gateway,
            "cidr6": cidr6,
            "gateway6": gateway6,
            "vlan_aware": vlan_aware,
            "vids": vids,
            "mtu": mtu,
            "comments": comments,
        }
        interfaces = interfaces_input("BridgedNetwork", name, arguments, _bridged_layout, no_rules)
        super().__init__("pvenet:index:BridgedNetwork", name, None, opts)
        self.interfaces = NodeInterfaces(
            f"{name}-interfaces",
            node=node,
            interfaces=interfaces,
            adopt=adopt,
            allow_management_change=allow_management_change,
            allow_dhcp_to_static=allow_dhcp_to_static,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.bridge = after(self.interfaces, bridge)
        self.attach = self.bridge
        self.node = after(self.interfaces, node)
        self.cidr = after(self.interfaces, cidr)
        self.gateway = after(self.interfaces, gateway)
        self.register_outputs(
            {
                "attach": self.attach,
                "bridge": self.bridge,
                "node": self.node,
                "cidr": self.cidr,
                "gateway": self.gateway,
                "interfaces": self.interfaces,
            }
        )


def _bridged_layout(arguments: Mapping[str, Any]) -> Layout:
    return [
        Interface(
            "bridge",
            (
                Setting("iface", "bridge", arguments["bridge"]),
                Setting("bridge_ports", "ports", arguments["ports"], as_list),
                Setting("bridge_vlan_aware", "vlan_aware", arguments["vlan_aware"]),
                Setting("bridge_vids", "vids", arguments["vids"], vid_strings),
                *address_settings(arguments, ipv6=True),
                *common_settings(arguments),
            ),
        )
    ]


class BondedUplink(_NodeComponent):
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

    Keyword arguments (all may be ``pulumi.Input``s):

    - ``node``: the Proxmox node name.
    - ``bond``: the bond name, ``bondN`` (Proxmox only reads ``bondN`` back as a bond).
    - ``slaves``: the NICs in the bond (at least one; each belongs to one bond or bridge). A
      bond (``bondN``) may be a slave too; it is not put in this set as a NIC.
    - ``mode``: a Linux bonding mode: ``balance-rr``, ``active-backup`` (default),
      ``balance-xor``, ``broadcast``, ``802.3ad``, ``balance-tlb``, ``balance-alb``.
    - ``hash_policy``: the transmit hash policy (``layer2``, ``layer2+3``, ``layer3+4``);
      only with mode ``802.3ad`` or ``balance-xor``; default none: the kernel's ``layer2``.
    - ``primary``: the slave preferred while it is up; only with mode ``active-backup``, and
      one of ``slaves``.
    - ``bridge``: a bridge (``vmbrN``) to put on the bond; default none: guests or VLANs use
      the bond directly.
    - ``cidr``, ``gateway``: the host's IPv4 address and default gateway; on the bridge when
      there is one, else on the bond. ``gateway`` must be inside ``cidr``.
    - ``mtu``: the MTU of the bond and the bridge (1280 to 65520); default none: left as the
      node has it.
    - ``vlan_aware``, ``vids``: make the bridge VLAN-aware and choose its VLAN ids; need
      ``bridge`` (a bond itself is not VLAN-aware); ``vids`` needs ``vlan_aware=True``.
    - ``comments``: a comment on the bridge, or on the bond without a bridge.
    - ``adopt``: take over a bond or bridge that already exists (such as the installer's
      ``vmbr0``); each is put back as it was when the component is deleted. Default False.
    - ``allow_management_change``: allow rewiring the interface that carries the address
      pvenet reaches the node by (moving the management bridge onto the bond needs it).
      Default False.
    - ``allow_dhcp_to_static``: allow adopting a bond or bridge the node addresses by DHCP
      (``inet dhcp``); Proxmox's API can only write it as ``manual`` or ``static``. Default
      False.
    """

    attach: pulumi.Output[str]
    bond: pulumi.Output[str]
    bridge: pulumi.Output[str | None]
    node: pulumi.Output[str]
    cidr: pulumi.Output[str | None]
    gateway: pulumi.Output[str | None]
    interfaces: NodeInterfaces

    def __init__(
        self,
        name: str,
        *,
        node: pulumi.Input[str],
        bond: pulumi.Input[str],
        slaves: pulumi.Input[Sequence[pulumi.Input[str]]],
        mode: pulumi.Input[BondMode] = "active-backup",
        hash_policy: pulumi.Input[HashPolicy] | None = None,
        primary: pulumi.Input[str] | None = None,
        bridge: pulumi.Input[str] | None = None,
        cidr: pulumi.Input[str] | None = None,
        gateway: pulumi.Input[str] | None = None,
        mtu: pulumi.Input[int] | None = None,
        vlan_aware: pulumi.Input[bool] = False,
        vids: pulumi.Input[Sequence[pulumi.Input[str | int]]] | None = None,
        comments: pulumi.Input[str] | None = None,
        adopt: pulumi.Input[bool] = False,
        allow_management_change: pulumi.Input[bool] = False,
        allow_dhcp_to_static: pulumi.Input[bool] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        arguments = {
            "bond": bond,
            "slaves": slaves,
            "mode": mode,
            "hash_policy": hash_policy,
            "primary": primary,
            "bridge": bridge,
            "cidr": cidr,
            "gateway": gateway,
            "mtu": mtu,
            "vlan_aware": vlan_aware,
            "vids": vids,
            "comments": comments,
        }
        interfaces = interfaces_input(
            "BondedUplink", name, arguments, _bonded_layout, _bonded_rules
        )
        super().__init__("pvenet:index:BondedUplink", name, None, opts)
        self.interfaces = NodeInterfaces(
            f"{name}-interfaces",
            node=node,
            interfaces=interfaces,
            adopt=adopt,
            allow_management_change=allow_management_change,
            allow_dhcp_to_static=allow_dhcp_to_static,
            opts=pulumi.ResourceOptions(parent=self),
        )
        pulumi.Output.from_input(mode).apply(lambda m: self._remind_lacp(m, bond, slaves))
        self.bond = after(self.interfaces, bond)
        self.bridge = after(self.interfaces, bridge)
        self.attach = pulumi.Output.all(self.bridge, self.bond).apply(
            lambda names: names[0] if names[0] is not None else names[1]
        )
        self.node = after(self.interfaces, node)
        self.cidr = after(self.interfaces, cidr)
        self.gateway = after(self.interfaces, gateway)
        self.register_outputs(
            {
                "attach": self.attach,
                "bond": self.bond,
                "bridge": self.bridge,
                "node": self.node,
                "cidr": self.cidr,
                "gateway": self.gateway,
                "interfaces": self.interfaces,
            }
        )

    def _remind_lacp(self, mode: str, bond: Any, slaves: Any) -> None:
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
            resource=self,
        )


def _bonded_layout(arguments: Mapping[str, Any]) -> Layout:
    has_bridge = arguments["bridge"] is not None
    top = (*address_settings(arguments), *common_settings(arguments))
    bond = Interface(
        "bond",
        (
            Setting("iface", "bond", arguments["bond"]),
            Setting("slaves", "slaves", arguments["slaves"], as_list),
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
            Setting("bridge_vids", "vids", arguments["vids"], vid_strings),
            *top,
        ),
    )
    return [bond, bridge]


def _bonded_rules(arguments: Mapping[str, Any]) -> list[Problem]:
    """Rules about the component's own arguments (not expressible as interface settings)."""
    if arguments["bridge"] is not None:
        return []
    problems = []
    if known(arguments, "vlan_aware") and arguments["vlan_aware"]:
        problems.append(
            Problem(
                "vlan_aware", "vlan_aware needs bridge: a bond is not VLAN-aware, a bridge on it is"
            )
        )
    if arguments["vids"] is not None:
        problems.append(Problem("vids", "vids need bridge (with vlan_aware=True)"))
    return problems


class VlanNetwork(_NodeComponent):
    """A host VLAN interface on a bridge or bond: the node's own address in one VLAN.

    Named ``<parent>.<vlan_id>`` (``vmbr0.50``, ``bond0.50``) by default; a
    custom name (``vlan50``, ``mgmt``) is written with ``vlan-raw-device`` and
    ``vlan-id``. Guests do not need this to use a VLAN (they tag on a
    VLAN-aware bridge); it gives the host an address in the VLAN, such as a
    separate cluster or storage network.

    Keyword arguments (all may be ``pulumi.Input``s):

    - ``node``: the Proxmox node name.
    - ``parent``: the bridge or bond the VLAN sits on (``vmbr0``, ``bond0``); it must exist
      (managed by another component or already on the node).
    - ``vlan_id``: the VLAN tag, 1 to 4094.
    - ``iface``: the interface name; default ``f"{parent}.{vlan_id}"``. A name of the form
      ``PARENT.ID`` or ``vlanID`` must agree with ``parent`` and ``vlan_id``. At most 15
      characters (the kernel's limit).
    - ``cidr``, ``gateway``: the host's IPv4 address in the VLAN and a default gateway inside
      it (one default gateway per node); default none.
    - ``mtu``: the MTU (at most the parent's); default none: left as the node has it.
    - ``comments``: a comment shown in the GUI.
    """

    attach: pulumi.Output[str]
    iface: pulumi.Output[str]
    node: pulumi.Output[str]
    cidr: pulumi.Output[str | None]
    gateway: pulumi.Output[str | None]
    interfaces: NodeInterfaces

    def __init__(
        self,
        name: str,
        *,
        node: pulumi.Input[str],
        parent: pulumi.Input[str],
        vlan_id: pulumi.Input[int],
        iface: pulumi.Input[str] | None = None,
        cidr: pulumi.Input[str] | None = None,
        gateway: pulumi.Input[str] | None = None,
        mtu: pulumi.Input[int] | None = None,
        comments: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        arguments = {
            "iface": iface,
            "parent": parent,
            "vlan_id": vlan_id,
            "cidr": cidr,
            "gateway": gateway,
            "mtu": mtu,
            "comments": comments,
        }
        interfaces = interfaces_input("VlanNetwork", name, arguments, _vlan_layout, no_rules)
        super().__init__("pvenet:index:VlanNetwork", name, None, opts)
        self.interfaces = NodeInterfaces(
            f"{name}-interfaces",
            node=node,
            interfaces=interfaces,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.iface = after(self.interfaces, _vlan_name(arguments))
        self.attach = self.iface
        self.node = after(self.interfaces, node)
        self.cidr = after(self.interfaces, cidr)
        self.gateway = after(self.interfaces, gateway)
        self.register_outputs(
            {
                "attach": self.attach,
                "iface": self.iface,
                "node": self.node,
                "cidr": self.cidr,
                "gateway": self.gateway,
                "interfaces": self.interfaces,
            }
        )


def _vlan_name(arguments: Mapping[str, Any]) -> pulumi.Input[str]:
    """The VLAN interface's name: ``iface``, or ``<parent>.<vlan_id>``."""
    given: pulumi.Input[str] | None = arguments["iface"]
    if given is not None:
        return given
    parent, vlan_id = arguments["parent"], arguments["vlan_id"]
    if is_plain([parent, vlan_id]):
        return f"{parent}.{vlan_id}"
    return pulumi.Output.all(parent, vlan_id).apply(lambda pv: f"{pv[0]}.{pv[1]}")


def _vlan_layout(arguments: Mapping[str, Any]) -> Layout:
    # A default name is parent + ".<vlan_id>"; vlan_id is checked on its own (1 to 4094), so a
    # bad default name (bad characters, longer than 15) comes from parent.
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


_SETS: dict[type[_NodeComponent], tuple[Callable[[Mapping[str, Any]], Layout], Rules]] = {
    BridgedNetwork: (_bridged_layout, no_rules),
    BondedUplink: (_bonded_layout, _bonded_rules),
    VlanNetwork: (_vlan_layout, no_rules),
}
