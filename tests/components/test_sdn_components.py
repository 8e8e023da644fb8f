"""RoutedSubnet and NatGateway under Pulumi's mocks, and driving the real provider end to end.

With ``RecordingMocks`` (no server): what each component registers (types,
names, custom or not), that its one ``SdnNetwork`` child is parented to it
(the child's URN carries the component's type), the child's inputs, the
component's outputs, a preview with unknown arguments, and bad arguments
that fail with ``InvalidSpec`` naming the argument before anything is
registered. Assertions run inside ``apply`` on the returned Output, so
``@pulumi.runtime.test`` awaits them.

With ``RealProviderMocks`` and the simulator: both components created,
unchanged on a second run, changed, and destroyed, with the node's SDN file
checked at each step.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from components.sdn import NatGateway, RoutedSubnet
from provider.errors import InvalidSpec
from provider.sdn.resource import SdnNetwork
from simulator.node import SDN_INTERFACES
from simulator.testing import SimulatorHandle
from tests.components.mocks import (
    STACK_URN,
    RealProviderMocks,
    RecordingMocks,
    child_inputs,
    child_urn,
    registered,
    settle_failed_run,
    unknown_output,
)
from tests.provider.conftest import stack_config

SDN_NETWORK = "pulumi-python:dynamic/pvenet:SdnNetwork"


def outputs(component: RoutedSubnet | NatGateway) -> pulumi.Output[list[Any]]:
    """attach, vnet, gateway, cidr, zone: the outputs every SDN component has."""
    return pulumi.Output.all(
        component.attach, component.vnet, component.gateway, component.cidr, component.zone
    )


# -- NatGateway ---------------------------------------------------------------------------------


@pulumi.runtime.test
def test_nat_gateway_is_one_sdn_network_with_a_snat_subnet(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """A NAT network with DHCP: one parented SdnNetwork, the subnet's dict, the outputs."""
    lab = NatGateway(
        "lab",
        zone="labnat",
        vnet="labnet",
        cidr="10.10.10.1/24",
        dhcp_range=("10.10.10.100", "10.10.10.200"),
        dns_server="10.10.10.1",
    )
    assert isinstance(lab.network, SdnNetwork)

    def check(values: list[Any]) -> None:
        urn, child, found = values
        assert registered(mocks) == [
            ("pvenet:index:NatGateway", "lab", False),
            (SDN_NETWORK, "lab-sdn", True),
        ]
        assert urn == f"{STACK_URN}pulumi:pulumi:Stack$pvenet:index:NatGateway::lab"
        assert child == child_urn("NatGateway", SDN_NETWORK, "lab-sdn")
        assert child_inputs(mocks, "lab-sdn", SDN_NETWORK) == {
            "zone": "labnat",
            "vnet": "labnet",
            "subnets": [
                {
                    "cidr": "10.10.10.0/24",
                    "gateway": "10.10.10.1",
                    "snat": True,
                    "dhcp_ranges": [{"start": "10.10.10.100", "end": "10.10.10.200"}],
                    "dns_server": "10.10.10.1",
                }
            ],
        }
        assert found == ["labnet", "labnet", "10.10.10.1", "10.10.10.0/24", "labnat"]

    return pulumi.Output.all(lab.urn, lab.network.urn, outputs(lab)).apply(check)


@pulumi.runtime.test
def test_nat_gateway_defaults_to_10_10_10_1_without_dhcp(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """The default cidr, no DHCP range and no DNS server (None settings are not sent)."""
    lab = NatGateway("lab", zone="labnat", vnet="labnet", nodes=["pve1"], mtu=1400)

    def check(values: list[Any]) -> None:
        inputs = child_inputs(mocks, "lab-sdn", SDN_NETWORK)
        assert inputs["subnets"] == [
            {"cidr": "10.10.10.0/24", "gateway": "10.10.10.1", "snat": True, "dhcp_ranges": []}
        ]
        assert (inputs["nodes"], inputs["mtu"]) == (["pve1"], 1400)
        assert values == ["labnet", "labnet", "10.10.10.1", "10.10.10.0/24", "labnat"]

    return outputs(lab).apply(check)


# -- RoutedSubnet -------------------------------------------------------------------------------


@pulumi.runtime.test
def test_routed_subnet_splits_the_gateway_from_the_block(
    mocks: RecordingMocks,
) -> pulumi.Output[Any]:
    """203.0.113.17/28: gateway .17 in 203.0.113.16/28, no SNAT, no DHCP; parented child."""
    public = RoutedSubnet(
        "public", zone="pubrt", vnet="pubnet", cidr="203.0.113.17/28", nodes=["pve1"], mtu=1450
    )

    def check(values: list[Any]) -> None:
        child, found = values
        assert registered(mocks) == [
            ("pvenet:index:RoutedSubnet", "public", False),
            (SDN_NETWORK, "public-sdn", True),
        ]
        assert child == child_urn("RoutedSubnet", SDN_NETWORK, "public-sdn")
        assert child_inputs(mocks, "public-sdn", SDN_NETWORK) == {
            "zone": "pubrt",
            "vnet": "pubnet",
            "subnets": [
                {
                    "cidr": "203.0.113.16/28",
                    "gateway": "203.0.113.17",
                    "snat": False,
                    "dhcp_ranges": [],
                }
            ],
            "nodes": ["pve1"],
            "mtu": 1450,
        }
        assert found == ["pubnet", "pubnet", "203.0.113.17", "203.0.113.16/28", "pubrt"]

    return pulumi.Output.all(public.network.urn, outputs(public)).apply(check)


@pulumi.runtime.test
def test_routed_ipv6_block(mocks: RecordingMocks) -> pulumi.Output[Any]:
    """An IPv6 block works the same way."""
    public = RoutedSubnet("v6", zone="pub6", vnet="pubnet6", cidr="2001:db8:1::1/64")

    def check(values: list[Any]) -> None:
        assert values[2:4] == ["2001:db8:1::1", "2001:db8:1::/64"]

    return outputs(public).apply(check)


def test_docs_say_what_each_mode_is_and_when_to_choose_it() -> None:
    """Routed: the upstream must route the block; NAT: SNAT from Proxmox, forwards from pvenet."""
    routed, nat = RoutedSubnet.__doc__ or "", " ".join((NatGateway.__doc__ or "").split())
    assert "must route the block to the" in routed
    assert "SNAT only, with no port forwarding; ``forwards`` make guests reachable" in nat
    assert "dnsmasq" in nat


# -- preview with unknown arguments -------------------------------------------------------------


@pulumi.runtime.test
def test_preview_with_an_unknown_cidr(preview_mocks: RecordingMocks) -> pulumi.Output[Any]:
    """cidr unknown: registered, the subnets unknown, gateway and cidr unknown, attach known."""
    lab = NatGateway("lab", zone="labnat", vnet="labnet", cidr=unknown_output())

    def check(values: list[Any]) -> None:
        attach, vnet, gateway, cidr, zone, child_id = values
        assert registered(preview_mocks) == [
            ("pvenet:index:NatGateway", "lab", False),
            (SDN_NETWORK, "lab-sdn", True),
        ]
        assert isinstance(child_inputs(preview_mocks, "lab-sdn", SDN_NETWORK)["subnets"], Unknown)
        assert (attach, vnet, zone) == ("labnet", "labnet", "labnat")
        assert isinstance(gateway, Unknown)
        assert isinstance(cidr, Unknown)
        assert isinstance(child_id, Unknown), "a resource to be created has no id at preview"

    return pulumi.Output.all(
        lab.attach, lab.vnet, lab.gateway, lab.cidr, lab.zone, lab.network.id
    ).apply(check, run_with_unknowns=True)


@pulumi.runtime.test
def test_preview_with_unknown_ids(preview_mocks: RecordingMocks) -> pulumi.Output[Any]:
    """zone and vnet unknown: attach and zone unknown; the subnet, known, is still checked."""
    public = RoutedSubnet(
        "public", zone=unknown_output(), vnet=unknown_output(), cidr="192.0.2.1/24"
    )

    def check(values: list[Any]) -> None:
        attach, _vnet, gateway, cidr, zone = values
        assert isinstance(attach, Unknown)
        assert isinstance(zone, Unknown)
        assert (gateway, cidr) == ("192.0.2.1", "192.0.2.0/24")

    return outputs(public).apply(check, run_with_unknowns=True)


# -- bad arguments ------------------------------------------------------------------------------

Factory = Callable[..., pulumi.ComponentResource]
NAT: dict[str, Any] = {"zone": "labnat", "vnet": "labnet"}
ROUTED: dict[str, Any] = {"zone": "pubrt", "vnet": "pubnet", "cidr": "203.0.113.17/28"}

BAD_ARGUMENTS: list[tuple[str, Factory, dict[str, Any], str]] = [
    (
        "zone-id-characters",
        NatGateway,
        {**NAT, "zone": "lab_nat"},
        "NatGateway 'x': zone: 'lab_nat' is not a valid SDN id: 2 to 8 letters or digits",
    ),
    (
        "vnet-id-too-long",
        RoutedSubnet,
        {**ROUTED, "vnet": "publicnet"},
        "RoutedSubnet 'x': vnet: 'publicnet' is not a valid SDN id",
    ),
    (
        "cidr-without-prefix",
        RoutedSubnet,
        {**ROUTED, "cidr": "203.0.113.17"},
        "RoutedSubnet 'x': cidr: '203.0.113.17' is not the gateway's address with the prefix",
    ),
    (
        "cidr-is-the-network-address",
        RoutedSubnet,
        {**ROUTED, "cidr": "203.0.113.16/28"},
        "RoutedSubnet 'x': cidr: '203.0.113.16/28' is the network's own address; give the "
        "gateway's address, such as '203.0.113.17/28'",
    ),
    (
        "cidr-with-no-room-for-guests",
        RoutedSubnet,
        {**ROUTED, "cidr": "203.0.113.17/32"},
        "RoutedSubnet 'x': cidr: '203.0.113.17/32': a /32 leaves no room for guests",
    ),
    (
        "dhcp-range-outside-the-subnet",
        NatGateway,
        {**NAT, "dhcp_range": ("10.10.10.100", "10.10.11.5")},
        "NatGateway 'x': dhcp_range: labnet: end 10.10.11.5 is not in 10.10.10.0/24",
    ),
    (
        "dhcp-range-holds-the-gateway",
        NatGateway,
        {**NAT, "dhcp_range": ("10.10.10.1", "10.10.10.50")},
        "NatGateway 'x': dhcp_range: labnet: range 10.10.10.1-10.10.10.50 contains the gateway",
    ),
    (
        "dhcp-range-not-a-pair",
        NatGateway,
        {**NAT, "dhcp_range": ("10.10.10.100",)},
        "NatGateway 'x': dhcp_range: ('10.10.10.100',) is not a pair (start, end) of addresses",
    ),
    (
        "dns-server-not-an-address",
        NatGateway,
        {**NAT, "dhcp_range": ("10.10.10.100", "10.10.10.200"), "dns_server": "dns1"},
        "NatGateway 'x': dns_server: 'dns1' is not an IP address",
    ),
    (
        "dns-server-without-dhcp",
        NatGateway,
        {**NAT, "dns_server": "10.10.10.1"},
        "NatGateway 'x': dns_server: labnet: dns_server is handed out by DHCP only",
    ),
    (
        "mtu-too-small",
        NatGateway,
        {**NAT, "mtu": 100},
        "NatGateway 'x': mtu: 100 is outside 1280 to 65520",
    ),
    (
        "nodes-as-a-string",
        RoutedSubnet,
        {**ROUTED, "nodes": "pve1"},
        "RoutedSubnet 'x': nodes: Input should be a valid list (got 'pve1')",
    ),
]


@pytest.mark.parametrize(
    ("factory", "arguments", "message"),
    [case[1:] for case in BAD_ARGUMENTS],
    ids=[case[0] for case in BAD_ARGUMENTS],
)
def test_bad_arguments_fail_naming_the_argument_before_anything_is_registered(
    mocks: RecordingMocks, factory: Factory, arguments: dict[str, Any], message: str
) -> None:
    """InvalidSpec names the component and the argument; neither it nor a child is registered."""

    @pulumi.runtime.test
    def program() -> None:
        with pytest.raises(InvalidSpec, match="^" + re.escape(message)) as raised:
            factory("x", **arguments)
        assert "subnets[" not in str(raised.value), "paths of the SdnNetwork leak into the message"

    program()
    assert mocks.seen == []


def test_known_arguments_are_checked_at_once_while_others_are_outputs(
    preview_mocks: RecordingMocks,
) -> None:
    """A bad plain zone fails at once even though cidr is unknown; nothing is registered."""

    @pulumi.runtime.test
    def program() -> None:
        with pytest.raises(InvalidSpec, match=r"^NatGateway 'x': zone: 'lab-nat' is not a valid"):
            NatGateway("x", zone="lab-nat", vnet="labnet", cidr=unknown_output())
        with pytest.raises(InvalidSpec, match=r"^NatGateway 'x': dhcp_range.end: 'x' is not an IP"):
            NatGateway("x", **NAT, cidr=unknown_output(), dhcp_range=("10.0.0.5", "x"))

    program()
    assert preview_mocks.seen == []


def test_a_bad_value_inside_an_output_fails_the_run_naming_the_argument(
    mocks: RecordingMocks,
) -> None:
    """An Output argument is checked when it resolves; the SdnNetwork is not registered."""

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        public = RoutedSubnet(
            "x", **{**ROUTED, "cidr": pulumi.Output.from_input("203.0.113.16/28")}
        )
        return public.network.urn

    with pytest.raises(ValueError, match=r"RoutedSubnet 'x': cidr: '203.0.113.16/28' is the"):
        program()
    settle_failed_run()
    assert registered(mocks) == [("pvenet:index:RoutedSubnet", "x", False)]


# -- end to end: the real provider against the simulator ----------------------------------------

SNAT = "POSTROUTING -s '10.10.10.0/24' -o vmbr0 -j SNAT --to-source 192.168.10.2"
LAB_STANZA = (
    "auto labnet\niface labnet\n\taddress 10.10.10.1/24\n"
    f"\tpost-up iptables -t nat -A {SNAT}\n\tpost-down iptables -t nat -D {SNAT}\n"
    "\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1\n"
    "\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1\n"
    "\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n\tip-forward on\n"
)
PUBLIC_STANZA = (
    "auto pubnet\niface pubnet\n\taddress 203.0.113.17/28\n"
    "\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n\tip-forward on\n"
)


def test_both_components_create_stay_change_and_destroy_on_the_simulator(
    simulator: SimulatorHandle,
) -> None:
    """Create both (one apply each), a second run changes nothing, a DHCP range is one update,
    and destroy leaves an sdn file with no vnet."""
    engine = RealProviderMocks(stack_config(simulator))
    dhcp: list[tuple[str, str] | None] = [None]

    def program() -> None:
        NatGateway("lab", zone="labnat", vnet="labnet", dhcp_range=dhcp[0])
        RoutedSubnet("public", zone="pubrt", vnet="pubnet", cidr="203.0.113.17/28")

    engine.run(program)
    assert sorted(engine.steps("create")) == ["lab-sdn", "public-sdn"]
    assert simulator.requests.count(method="PUT", path_glob="/cluster/sdn") == 2
    assert simulator.files()[SDN_INTERFACES] == f"#version:2\n\n{LAB_STANZA}\n{PUBLIC_STANZA}"

    simulator.requests.clear()
    engine.run(program)
    assert sorted(engine.steps("same")) == ["lab-sdn", "public-sdn"]
    assert [e for e in simulator.requests.entries() if e.method != "GET"] == []

    dhcp[0] = ("10.10.10.100", "10.10.10.200")
    engine.run(program)
    assert engine.steps("update") == ["lab-sdn"]
    zone = simulator.proxmox().cluster.sdn.zones("labnat").get(running=1)
    assert zone["dhcp"] == "dnsmasq"

    engine.destroy()
    assert simulator.files()[SDN_INTERFACES] == "#version:5\n"
    assert simulator.proxmox().cluster.sdn.zones.get() == []
