"""Merging many networks' host rules into the one set each node gets (pure, no Pulumi).

What a node ends up with when several networks want host rules on it: shared settings
(forwarding, proxy_arp) once, every forward and route of each, and a refusal naming both
networks where the node could only do one of two things.
"""

from __future__ import annotations

from components.host_rules import HostPart, NatRules, PortForward, RoutedRules, merge
from provider.host.model import Forward, IpForward, Masquerade, Route
from provider.host.render import rendered

WEB = Forward(protocol="tcp", port=8080, to="10.10.10.5", to_port=80)


def nat(owner: str, *forwards: dict[str, object], **more: object) -> NatRules:
    """A classic NAT network on pve1 (10.30.0.0/24 out of vmbr0) with these forwards."""
    arguments: dict[str, object] = {
        "owner": owner,
        "label": "MasqueradeBridge build",
        "cidr": "10.30.0.1/24",
        "uplink": "vmbr0",
        "forwards": [PortForward.model_validate(f) for f in forwards],
        "hairpin": False,
        "node": "pve1",
    }
    return NatRules(**{**arguments, **more})  # type: ignore[arg-type]


def test_shared_settings_once_and_every_networks_rules_on_the_one_node() -> None:
    """A classic NAT network and a classic routed one on pve1, an SDN forward to pve1 and
    one to pve2: pve1's set has all three networks' rules, forwarding on, proxy_arp once."""
    routed = RoutedRules("extra", "pve1", "vmbr6", "vmbr0", ["192.168.10.50"])
    other = RoutedRules("extra2", "pve1", "vmbr7", "vmbr0", ["192.168.10.60"])
    sdn = HostPart("pve1", "lab", forwards=(("forwards[0]", WEB),), ip_forward=IpForward(ipv4=True))
    far = HostPart("pve2", "lab", forwards=(("forwards[1]", WEB),))
    parts = [*nat("build").parts(), *routed.parts(), *other.parts(), sdn, far]
    specs, conflicts = merge(parts)
    assert conflicts == []
    assert sorted(specs) == ["pve1", "pve2"]
    pve1 = specs["pve1"]
    assert pve1.proxy_arp == ["vmbr0"]
    assert pve1.ip_forward == IpForward(ipv4=True, ipv6=False)
    assert pve1.masquerade == [
        Masquerade(source="10.30.0.0/24", interface="vmbr0", comment="MasqueradeBridge build")
    ]
    assert pve1.forwards == [WEB]
    assert pve1.routes == [
        Route(address="192.168.10.50/32", interface="vmbr6"),
        Route(address="192.168.10.60/32", interface="vmbr7"),
    ]
    assert specs["pve2"].ip_forward == IpForward(ipv4=False, ipv6=False)
    files = rendered(pve1)
    assert "\tip route replace 192.168.10.60/32 dev vmbr7\n" in files["/etc/pvenet/host.sh"]


def test_one_port_forwarded_by_two_networks_is_refused_naming_both() -> None:
    """The later network's forward is refused; the message says who has the port and where."""
    sdn = HostPart("pve1", "NatGateway 'lab'", forwards=(("forwards[0]", WEB),))
    build = nat(
        "MasqueradeBridge 'build'", {"protocol": "tcp", "port": "8000-8100", "to": "10.30.0.9"}
    )
    specs, conflicts = merge([sdn, *build.parts()])
    assert specs == {}
    assert [str(c) for c in conflicts] == [
        "MasqueradeBridge 'build': forwards[0].port: tcp port 8000-8100 of pve1 is forwarded "
        "to 10.10.10.5 by NatGateway 'lab' (forwards[0]) already; one port of one address "
        "goes to one guest: give one of them another port or external address"
    ]


def test_the_same_port_on_two_addresses_or_protocols_is_no_conflict() -> None:
    """What the node can tell apart: udp beside tcp, or one external address each."""
    one = HostPart(
        "pve1", "a", forwards=(("forwards[0]", WEB.model_copy(update={"address": "192.0.2.1"})),)
    )
    two = HostPart(
        "pve1", "b", forwards=(("forwards[0]", WEB.model_copy(update={"address": "192.0.2.2"})),)
    )
    three = HostPart(
        "pve1", "c", forwards=(("forwards[0]", WEB.model_copy(update={"protocol": "udp"})),)
    )
    specs, conflicts = merge([one, two, three])
    assert conflicts == []
    assert len(specs["pve1"].forwards) == 3


def test_stack_key_paths_name_the_other_network_by_its_path() -> None:
    """Owners that are key paths read as one: ``pvenet:networks.nat[0].forwards[0]``."""
    first = HostPart(
        "pve1",
        "pvenet:networks.routed_bridge[0]",
        routes=(("addresses[0]", Route(address="192.168.10.50", interface="vmbr6")),),
    )
    second = HostPart(
        "pve1",
        "pvenet:networks.routed_bridge[1]",
        routes=(("addresses[2]", Route(address="192.168.10.50", interface="vmbr7")),),
    )
    _specs, conflicts = merge([first, second])
    assert [(c.owner, c.argument) for c in conflicts] == [
        ("pvenet:networks.routed_bridge[1]", "addresses[2]")
    ]
    assert (
        "routed by pvenet:networks.routed_bridge[0].addresses[0] already (through vmbr6)"
        in conflicts[0].message
    )


def test_a_network_that_wants_nothing_makes_no_set() -> None:
    """An SDN NAT network without forwards: no part, no node, no SSH."""
    lab = NatRules("lab", "NatGateway lab", "10.10.10.1/24", None, [], hairpin=True)
    assert lab.problems() == []
    assert merge(lab.parts()) == ({}, [])
    assert merge([HostPart("pve1", "empty")]) == ({}, [])


def test_hairpin_needs_the_guests_network_masqueraded_and_an_uplink() -> None:
    """Classic: the network's own masquerade serves; SDN: only with an uplink to name."""
    hairpin = nat("b", {"protocol": "tcp", "port": 22, "to": "10.30.0.9"}, hairpin=True)
    assert hairpin.problems() == []
    (part,) = hairpin.parts()
    assert part.forwards[0][1].hairpin
    sdn = NatRules(
        "lab",
        "NatGateway lab",
        "10.10.10.1/24",
        None,
        [PortForward(node="pve1", protocol="tcp", port=80, to="10.10.10.5")],
        hairpin=True,
    )
    assert [(p.path, p.message) for p in sdn.problems()] == [
        (
            "uplink",
            "is required: the interface with the node's address (hairpin masquerades out of it)",
        )
    ]


def test_a_component_name_nft_would_read_is_left_out_of_the_rule_comment() -> None:
    """The masquerade rule's comment names the component; a name with a quote is not
    written into nft's string, the kind alone is."""
    values = {"cidr": "10.30.0.1/24", "uplink": "vmbr0", "forwards": [], "hairpin": False}
    plain = NatRules.of("MasqueradeBridge", "build", {**values, "node": "pve1"}).parts()
    hostile = NatRules.of("MasqueradeBridge", 'b"; flush ruleset', {**values, "node": "pve1"})
    assert plain[0].masquerade[0][1].comment == "MasqueradeBridge build"
    assert hostile.parts()[0].masquerade[0][1].comment == "MasqueradeBridge"
