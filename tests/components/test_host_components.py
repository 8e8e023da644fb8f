"""Components with host rules under Pulumi's mocks: what they declare, and what they refuse.

``NatGateway`` with port forwards, ``MasqueradeBridge`` (classic NAT) and ``RoutedBridge``
(classic routed) each declare their bridge or SDN network and, for the node that needs them,
one ``HostRules`` child whose ``rules`` input is what the node will run. Networks that need
no host rules declare none (no SSH). Bad forwards and addresses fail at construction with
the component and argument named, before anything is registered; two components declaring
host rules for one node in one program are refused, naming the first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components import MasqueradeBridge, NatGateway, RoutedBridge
from components.errors import InvalidArguments
from components.groups import NodeNetworks, SdnNetworkGroup
from components.host import HOST_RULES_TYPE
from tests.components.mocks import RecordingMocks, child_inputs, child_urn, registered

NODE_INTERFACES = "pulumi-python:dynamic/pvenet:NodeInterfaces"
SDN_NETWORK = "pulumi-python:dynamic/pvenet:SdnNetwork"
WEB = {"node": "pve1", "protocol": "tcp", "port": 8080, "to": "10.10.10.5", "to_port": 80}


def host_rules(mocks: RecordingMocks) -> dict[str, dict[str, Any]]:
    """Every HostRules child by name: its node and rules inputs."""
    return {
        args.name: child_inputs(mocks, args.name, HOST_RULES_TYPE)
        for args in mocks.seen
        if args.typ == HOST_RULES_TYPE
    }


def numbers(value: Any) -> Any:
    """Whole floats (as Pulumi's wire carries numbers) as ints, so expectations read naturally."""
    if isinstance(value, dict):
        return {k: numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [numbers(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@pulumi.runtime.test
def test_masquerade_bridge_is_a_port_less_bridge_and_the_nodes_nat_rules(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """The bridge through the API; masquerade out of the uplink, forwarding, the forward with
    hairpin through host rules on the same node; outputs say the guests' gateway."""
    build = MasqueradeBridge(
        "build",
        node="pve1",
        bridge="vmbr5",
        cidr="10.30.0.1/24",
        uplink="vmbr0",
        forwards=[{"protocol": "tcp", "port": 2222, "to": "10.30.0.10", "to_port": 22}],
        hairpin=True,
    )

    def check(values: list[Any]) -> None:
        assert registered(mocks) == [
            ("pvenet:index:MasqueradeBridge", "build", False),
            (NODE_INTERFACES, "build-interfaces", True),
            (HOST_RULES_TYPE, "build-pve1-host", True),
        ]
        assert child_inputs(mocks, "build-interfaces", NODE_INTERFACES)["interfaces"] == [
            {"type": "bridge", "iface": "vmbr5", "bridge_ports": [], "cidr": "10.30.0.1/24"}
        ]
        assert numbers(host_rules(mocks)["build-pve1-host"]) == {
            "node": "pve1",
            "networks": ["10.30.0.0/24"],
            "rules": {
                "masquerade": [
                    {
                        "source": "10.30.0.0/24",
                        "interface": "vmbr0",
                        "comment": "MasqueradeBridge build",
                    }
                ],
                "forwards": [
                    {"protocol": "tcp", "port": 2222, "to": "10.30.0.10", "to_port": 22}
                    | {"hairpin": True}
                ],
                "ip_forward": {"ipv4": True},
            },
        }
        assert values[:3] == ["vmbr5", "10.30.0.1", "10.30.0.0/24"]
        assert values[3] == child_urn("MasqueradeBridge", HOST_RULES_TYPE, "build-pve1-host")

    return pulumi.Output.all(
        build.attach, build.gateway, build.cidr, build.host_rules["pve1"].urn
    ).apply(check)


@pulumi.runtime.test
def test_routed_bridge_is_proxy_arp_forwarding_and_a_route_per_guest(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """The uplink answers ARP for the guests, the node forwards, each address is routed /32
    to the bridge that holds the node's address for the guests."""
    extra = RoutedBridge(
        "extra",
        node="pve1",
        bridge="vmbr6",
        uplink="vmbr0",
        cidr="192.168.10.2/32",
        addresses=["192.168.10.51", "192.168.10.50/32"],
    )

    def check(values: list[Any]) -> None:
        assert child_inputs(mocks, "extra-interfaces", NODE_INTERFACES)["interfaces"] == [
            {"type": "bridge", "iface": "vmbr6", "bridge_ports": [], "cidr": "192.168.10.2/32"}
        ]
        assert host_rules(mocks) == {
            "extra-pve1-host": {
                "node": "pve1",
                "networks": [],
                "rules": {
                    "proxy_arp": ["vmbr0"],
                    "routes": [
                        {"address": "192.168.10.50/32", "interface": "vmbr6"},
                        {"address": "192.168.10.51/32", "interface": "vmbr6"},
                    ],
                    "ip_forward": {"ipv4": True},
                },
            }
        }
        assert values == ["vmbr6", "192.168.10.2", "192.168.10.2/32"]

    return pulumi.Output.all(
        extra.attach, extra.gateway, extra.cidr, extra.host_rules["pve1"].urn
    ).apply(lambda values: check(values[:3]))


@pulumi.runtime.test
def test_nat_gateway_forwards_are_host_rules_on_each_node_a_guest_runs_on(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """Two nodes named by forwards: one HostRules each, with only that node's forwards; no
    masquerade (Proxmox's SDN does the SNAT), forwarding for the forwards, and the subnet
    as a network the node gets (the preview counts the guests in it)."""
    lab = NatGateway(
        "lab",
        zone="labnat",
        vnet="labnet",
        cidr="10.10.10.1/24",
        forwards=[
            WEB,
            {"node": "pve2", "protocol": "udp", "port": "5000-5010", "to": "10.10.10.9"},
        ],
    )

    def check(_urns: list[str]) -> None:
        assert [name for _t, name, _c in registered(mocks)] == [
            "lab",
            "lab-sdn",
            "lab-pve1-host",
            "lab-pve2-host",
        ]
        assert numbers(host_rules(mocks)) == {
            "lab-pve1-host": {
                "node": "pve1",
                "networks": ["10.10.10.0/24"],
                "rules": {
                    "forwards": [WEB_RULE],
                    "ip_forward": {"ipv4": True},
                },
            },
            "lab-pve2-host": {
                "node": "pve2",
                "networks": ["10.10.10.0/24"],
                "rules": {
                    "forwards": [{"protocol": "udp", "port": "5000-5010", "to": "10.10.10.9"}],
                    "ip_forward": {"ipv4": True},
                },
            },
        }

    return pulumi.Output.all(*(r.urn for r in lab.host_rules.values())).apply(check)


WEB_RULE = {"protocol": "tcp", "port": 8080, "to": "10.10.10.5", "to_port": 80}


@pulumi.runtime.test
def test_hairpin_on_an_sdn_network_adds_its_masquerade_out_of_the_uplink(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """Hairpin needs the guests' own network masqueraded: pvenet adds it beside Proxmox's."""
    lab = NatGateway(
        "lab", zone="labnat", vnet="labnet", forwards=[WEB], hairpin=True, uplink="vmbr0"
    )

    def check(_urn: str) -> None:
        rules = numbers(host_rules(mocks)["lab-pve1-host"]["rules"])
        assert rules["forwards"] == [WEB_RULE | {"hairpin": True}]
        assert rules["masquerade"] == [
            {"source": "10.10.10.0/24", "interface": "vmbr0", "comment": "NatGateway lab"}
        ]

    return lab.host_rules["pve1"].urn.apply(check)


@pulumi.runtime.test
def test_networks_without_host_rules_declare_none(mocks: RecordingMocks) -> pulumi.Output[Any]:
    """A NAT network without forwards is the SDN network alone: nothing needs SSH."""
    lab = NatGateway("lab", zone="labnat", vnet="labnet", hairpin=True)

    def check(_urn: str) -> None:
        assert [typ for typ, _n, _c in registered(mocks)] == [
            "pvenet:index:NatGateway",
            SDN_NETWORK,
        ]
        assert lab.host_rules == {}

    return lab.network.urn.apply(check)


@pulumi.runtime.test
def test_groups_merge_their_networks_host_rules_into_one_set_per_node(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """A node's classic network and an SDN network's forward to it: one group each, and with
    host_rules=False neither declares (the root program declares the merged set)."""
    nodes = NodeNetworks(
        "pve1",
        node="pve1",
        networks=[
            (
                MasqueradeBridge,
                "build",
                {"bridge": "vmbr5", "cidr": "10.30.0.1/24", "uplink": "vmbr0"},
            ),
            (RoutedBridge, "extra", {"bridge": "vmbr6", "uplink": "vmbr0", "cidr": "10.9.0.1/32"}),
        ],
    )
    sdn = SdnNetworkGroup(
        "sdn",
        networks=[(NatGateway, "lab", {"zone": "labnat", "vnet": "labnet", "forwards": [WEB]})],
        host_rules=False,
    )

    def check(_urns: list[str]) -> None:
        assert list(host_rules(mocks)) == ["pve1-pve1-host"]
        rules = host_rules(mocks)["pve1-pve1-host"]["rules"]
        assert rules["proxy_arp"] == ["vmbr0"]
        assert [m["source"] for m in rules["masquerade"]] == ["10.30.0.0/24"]
        assert [p.owner for p in sdn.host_parts] == ["NatGateway 'lab'"]

    return pulumi.Output.all(nodes.host_rules["pve1"].urn, sdn.sdn.urn).apply(check)


BAD: list[tuple[str, Callable[[], Any], str]] = [
    (
        "a forwarded port out of range",
        lambda: NatGateway("lab", zone="labnat", vnet="labnet", forwards=[WEB | {"port": 0}]),
        "NatGateway 'lab': forwards[0].port: 0 is out of range: ports are 1 to 65535",
    ),
    (
        "a guest outside the network",
        lambda: NatGateway(
            "lab", zone="labnat", vnet="labnet", forwards=[WEB | {"to": "192.168.1.5"}]
        ),
        "NatGateway 'lab': forwards[0].to: 192.168.1.5 is not in 10.10.10.0/24: forward to a "
        "guest of this network",
    ),
    (
        "the gateway as the guest",
        lambda: NatGateway(
            "lab", zone="labnat", vnet="labnet", forwards=[WEB | {"to": "10.10.10.1"}]
        ),
        "NatGateway 'lab': forwards[0].to: 10.10.10.1 is the host's own address on "
        "10.10.10.0/24: give the guest's address",
    ),
    (
        "a node outside the vnet's nodes",
        lambda: NatGateway("lab", zone="labnat", vnet="labnet", nodes=["pve2"], forwards=[WEB]),
        "NatGateway 'lab': forwards[0].node: pve1 is not one of nodes (pve2): the guest runs "
        "where the network exists",
    ),
    (
        "two forwards of one port",
        lambda: NatGateway(
            "lab", zone="labnat", vnet="labnet", forwards=[WEB, WEB | {"to": "10.10.10.6"}]
        ),
        "NatGateway 'lab': forwards[1].port: tcp port 8080 is forwarded already by "
        "forwards[0] (tcp 8080); one port of one address goes to one guest",
    ),
    (
        "a comment with a line break",
        lambda: NatGateway(
            "lab", zone="labnat", vnet="labnet", forwards=[WEB | {"comment": "a\nb"}]
        ),
        "NatGateway 'lab': forwards[0].comment: comment 'a\\nb' holds a line break (U+000A)",
    ),
    (
        "an uplink with shell syntax, even without forwards",
        lambda: NatGateway("lab", zone="labnat", vnet="labnet", hairpin=True, uplink="vmbr0;x"),
        "NatGateway 'lab': uplink: 'vmbr0;x' is not a valid interface name",
    ),
    (
        "a forward to another node of a classic network",
        lambda: MasqueradeBridge(
            "build",
            node="pve1",
            bridge="vmbr5",
            cidr="10.30.0.1/24",
            uplink="vmbr0",
            forwards=[{"node": "pve2", "protocol": "tcp", "port": 22, "to": "10.30.0.9"}],
        ),
        "MasqueradeBridge 'build': forwards[0].node: pve2 is not pve1: the network's guests "
        "run on its node",
    ),
    (
        "the guests' bridge as the uplink",
        lambda: RoutedBridge(
            "extra", node="pve1", bridge="vmbr6", uplink="vmbr6", cidr="192.168.10.2/32"
        ),
        "RoutedBridge 'extra': uplink: vmbr6 is the guests' bridge: the uplink is the "
        "interface that keeps the node's address, such as vmbr0",
    ),
    (
        "one guest address twice",
        lambda: RoutedBridge(
            "extra",
            node="pve1",
            bridge="vmbr6",
            uplink="vmbr0",
            cidr="10.9.0.1/32",
            addresses=["192.0.2.5", "192.0.2.5/32"],
        ),
        "RoutedBridge 'extra': addresses[1]: 192.0.2.5 on pve1 is routed by addresses[0] "
        "already (through vmbr6); an address belongs to one guest",
    ),
    (
        "the host's address as a guest's",
        lambda: RoutedBridge(
            "extra",
            node="pve1",
            bridge="vmbr6",
            uplink="vmbr0",
            cidr="192.168.10.2/32",
            addresses=["192.168.10.2"],
        ),
        "RoutedBridge 'extra': addresses[0]: 192.168.10.2 is the host's own address on the "
        "bridge (cidr); give the guests' addresses",
    ),
]


@pytest.mark.parametrize(("build", "message"), [(b, m) for _, b, m in BAD], ids=[c[0] for c in BAD])
def test_bad_host_rule_arguments_fail_before_anything_is_registered(
    mocks: RecordingMocks, build: Callable[[], Any], message: str
) -> None:
    """The component, the argument (with the forward's index) and the reason."""
    with pytest.raises(InvalidArguments) as raised:
        build()
    assert str(raised.value).startswith(message), str(raised.value)
    assert mocks.seen == []


def test_a_forward_argument_known_only_later_is_refused(mocks: RecordingMocks) -> None:
    """Host rules are merged per node before anything is deployed: their arguments must be
    values, not outputs of other resources."""
    with pytest.raises(InvalidArguments, match=r"uplink must be a value the program knows"):
        MasqueradeBridge(
            "build",
            node="pve1",
            bridge="vmbr5",
            cidr="10.30.0.1/24",
            uplink=pulumi.Output.from_input("vmbr0"),
        )


@pulumi.runtime.test
def test_two_components_with_host_rules_on_one_node_are_refused(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """Each would replace the other's table on every up: the second names the first."""
    first = MasqueradeBridge(
        "build", node="pve1", bridge="vmbr5", cidr="10.30.0.1/24", uplink="vmbr0"
    )
    with pytest.raises(InvalidArguments) as raised:
        NatGateway("lab", zone="labnat", vnet="labnet", forwards=[WEB])
    assert str(raised.value).startswith(
        "NatGateway 'lab': the host rules of pve1 are declared by MasqueradeBridge 'build' "
        "already; a node has one set of host rules"
    )
    return first.interfaces.urn
