"""SDN zones as routed and NAT networks, and the zones left as they are (pure)."""

from __future__ import annotations

from components.adopt.sdn import propose_sdn

SUBNET = {"cidr": "10.9.0.0/24", "gateway": "10.9.0.1", "snat": 1}


def test_a_simple_zone_with_one_vnet_and_one_subnet_is_a_network() -> None:
    proposal = propose_sdn(
        [{"zone": "lab", "type": "simple", "nodes": "pve2,pve1", "mtu": 1450}],
        [{"vnet": "labnet", "zone": "lab"}],
        {"labnet": [SUBNET]},
    )
    assert [(n.mode, n.entry) for n in proposal.networks] == [
        (
            "nat",
            {
                "name": "sdn-labnet",
                "zone": "lab",
                "vnet": "labnet",
                "cidr": "10.9.0.1/24",
                "nodes": ["pve1", "pve2"],
                "mtu": 1450,
            },
        )
    ]


def test_zones_the_components_cannot_say_are_left_with_the_reason() -> None:
    proposal = propose_sdn(
        [
            {"zone": "evpn1", "type": "evpn"},
            {"zone": "two", "type": "simple"},
            {"zone": "nogw", "type": "simple"},
            {"zone": "named", "type": "simple"},
        ],
        [
            {"vnet": "a", "zone": "two"},
            {"vnet": "b", "zone": "two"},
            {"vnet": "c", "zone": "nogw"},
            {"vnet": "d", "zone": "named", "alias": "guests"},
        ],
        {"a": [SUBNET], "b": [SUBNET], "c": [{"cidr": "10.8.0.0/24"}], "d": [SUBNET]},
    )
    assert proposal.networks == []
    assert [(f.text, f.reason.split(":")[0]) for f in proposal.findings] == [
        ("zone evpn1", "zone evpn1 is of type evpn"),
        ("zone named", "vnet d has an alias"),
        ("zone nogw", "vnet c's subnet has no gateway"),
        ("zone two", "zone two has 2 vnets"),
    ]
