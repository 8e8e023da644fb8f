"""Bad stack config fails at preview with the key path and the reason, before any API call.

Each case edits ``Pulumi.dev.yaml``'s ``pvenet:networks`` the way a person
might get it wrong, runs the root program with the local engine against the
simulator, and expects ``StackConfigError`` naming every bad key (checked by
the schema or by the component the entry becomes). The request log proves
that nothing, not even a read, reached the node: the whole description is
validated before the first resource is declared.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from components.local_engine import LocalEngine
from components.project import PROJECT_ROOT, load_project
from components.stack import COMPONENTS
from components.stack_schema import ENTRY_MODELS, StackConfigError
from simulator.testing import SimulatorHandle
from tests.programs import connected

ROOT = load_project(PROJECT_ROOT)
NETWORKS = "pvenet:networks"
Edit = Callable[[dict[str, Any]], Any]

CASES: list[tuple[str, Edit, list[str]]] = [
    (
        "a NAT cidr that is the network, not the gateway",
        lambda n: n["nat"][0].update(cidr="10.10.10.0/24"),
        [
            "pvenet:networks.nat[0].cidr: '10.10.10.0/24' is the network's own address; give the "
            "gateway's address, such as '10.10.10.1/24'"
        ],
    ),
    (
        "a bond mode Linux does not have",
        lambda n: n["bonded"][0].update(mode="lacp"),
        [
            "pvenet:networks.bonded[0].mode: Input should be 'balance-rr', 'active-backup', "
            "'balance-xor', 'broadcast', '802.3ad', 'balance-tlb' or 'balance-alb' (got 'lacp')"
        ],
    ),
    (
        "a primary that is not a slave",
        lambda n: n["bonded"][0].update(primary="eno4"),
        ["pvenet:networks.bonded[0].primary: primary 'eno4' is not one of its slaves (eno2, eno3)"],
    ),
    (
        "a VLAN id out of range",
        lambda n: n["vlans"][0].update(vlan_id=5000),
        ["pvenet:networks.vlans[0].vlan_id: Input should be less than or equal to 4094 (got 5000)"],
    ),
    (
        "a gateway outside the VLAN's subnet",
        lambda n: n["vlans"][0].update(gateway="10.30.0.1"),
        ["pvenet:networks.vlans[0].gateway: gateway '10.30.0.1' is not inside cidr 10.20.0.0/24"],
    ),
    (
        "a mode that does not exist",
        lambda n: n.update(bridges=[]),
        [
            "pvenet:networks.bridges: is not a network mode; the modes are bridged, bonded, "
            "vlans, routed, nat, masquerade, routed_bridge"
        ],
    ),
    (
        "an argument the component does not take",
        lambda n: n["nat"][0].update(dhcp=["10.10.10.100", "10.10.10.200"]),
        [
            "pvenet:networks.nat[0].dhcp: is not an argument of nat networks; use name, zone, "
            "vnet, cidr, dhcp_range, dns_server, nodes, mtu, forwards, hairpin, uplink"
        ],
    ),
    (
        "a required argument left out",
        lambda n: n["routed"][0].pop("zone"),
        ["pvenet:networks.routed[0].zone: is required"],
    ),
    (
        "a list given as one string",
        lambda n: n["bridged"][0].update(ports="eno4"),
        ["pvenet:networks.bridged[0].ports: Input should be a valid list (got 'eno4')"],
    ),
    (
        "a node name with a space",
        lambda n: n["bridged"][0].update(node="pve 1"),
        [
            "pvenet:networks.bridged[0].node: 'pve 1' is not a Proxmox node name (letters, "
            "digits and '-')"
        ],
    ),
    (
        "two networks with one name",
        lambda n: n["nat"][0].update(name="dmz"),
        [
            "pvenet:networks.nat[0].name: 'dmz' is already the name of bridged[0]; each network "
            "needs its own name (it names the resources and the stack output)"
        ],
    ),
    (
        "an SDN zone id with a dash",
        lambda n: n["nat"][0].update(zone="lab-nat"),
        [
            "pvenet:networks.nat[0].zone: 'lab-nat' is not a valid SDN id: 2 to 8 letters or "
            "digits, starting with a letter (no '-', '_' or '.')"
        ],
    ),
    (
        "two networks taking one NIC as a port",
        lambda n: n["bridged"].append(
            {"name": "dmz2", "node": "pve1", "bridge": "vmbr3", "ports": ["eno4"]}
        ),
        [
            "pvenet:networks.bridged[1].ports: 'eno4' on pve1 is already a port of vmbr2 "
            "(pvenet:networks.bridged[0].ports); a NIC, bond or VLAN is a port of one bridge or "
            "bond"
        ],
    ),
    (
        "a bond slave that is another network's bridge port",
        lambda n: n["bridged"][0].update(ports=["eno2"]),
        [
            "pvenet:networks.bonded[0].slaves: 'eno2' on pve1 is already a port of vmbr2 "
            "(pvenet:networks.bridged[0].ports); a NIC, bond or VLAN is a port of one bridge or "
            "bond"
        ],
    ),
    (
        "two networks creating one bridge",
        lambda n: n["bridged"][0].update(bridge="vmbr1"),
        [
            "pvenet:networks.bonded[0].bridge: 'vmbr1' on pve1 is also created by "
            "pvenet:networks.bridged[0].bridge; each interface belongs to one network"
        ],
    ),
    (
        "a vnet named like a bridge of a node it runs on",
        lambda n: n["nat"][0].update(vnet="vmbr2"),
        [
            "pvenet:networks.nat[0].vnet: 'vmbr2' on pve1 is also created by "
            "pvenet:networks.bridged[0].bridge (a vnet is a bridge on each of its nodes); each "
            "interface belongs to one network"
        ],
    ),
    (
        "two SDN networks in one zone",
        lambda n: n["nat"][0].update(zone="pubrt"),
        [
            "pvenet:networks.nat[0].zone: zone 'pubrt' is also pvenet:networks.routed[0].zone's; "
            "SDN ids are cluster-wide, so each network needs its own zone"
        ],
    ),
    (
        "a forwarded port out of range",
        lambda n: n["nat"][0]["forwards"][0].update(port=70000),
        ["pvenet:networks.nat[0].forwards[0].port: 70000 is out of range: ports are 1 to 65535"],
    ),
    (
        "a forward to an address outside the network",
        lambda n: n["nat"][0]["forwards"][0].update(to="10.99.0.5"),
        [
            "pvenet:networks.nat[0].forwards[0].to: 10.99.0.5 is not in 10.10.10.0/24: forward "
            "to a guest of this network"
        ],
    ),
    (
        "a NAT forward that names no node",
        lambda n: n["nat"][0]["forwards"][0].pop("node"),
        ["pvenet:networks.nat[0].forwards[0].node: is required: the node the guest runs on"],
    ),
    (
        "two forwards of two networks on one port of a node",
        lambda n: n["masquerade"][0]["forwards"][0].update(port="8000-8100", to_port=None),
        [
            "pvenet:networks.masquerade[0].forwards[0].port: tcp port 8000-8100 of pve1 is "
            "forwarded to 10.10.10.5 by pvenet:networks.nat[0].forwards[0] already; one port of "
            "one address goes to one guest: give one of them another port or external address"
        ],
    ),
    (
        "a comment that would end the nftables string",
        lambda n: n["nat"][0]["forwards"][0].update(comment='web"; flush ruleset; "'),
        [
            "pvenet:networks.nat[0].forwards[0].comment: comment 'web\"; flush ruleset; \"' "
            "holds '\"' at character 4, which an nftables string cannot hold; remove it"
        ],
    ),
    (
        "an uplink name with shell syntax",
        lambda n: n["masquerade"][0].update(uplink="vmbr0; reboot"),
        [
            "pvenet:networks.masquerade[0].uplink: 'vmbr0; reboot' is not a valid interface "
            "name: start with a letter, then letters, digits or '_' (no '-'), optionally '.N' "
            "for a VLAN"
        ],
    ),
    (
        "hairpin on an SDN network without its uplink",
        lambda n: n["nat"][0].update(hairpin=True),
        [
            "pvenet:networks.nat[0].uplink: is required: the interface with the node's address "
            "(hairpin masquerades out of it)"
        ],
    ),
    (
        "a classic bridge named like another network's bridge",
        lambda n: n["masquerade"][0].update(bridge="vmbr2"),
        [
            "pvenet:networks.masquerade[0].bridge: 'vmbr2' on pve1 is also created by "
            "pvenet:networks.bridged[0].bridge; each interface belongs to one network"
        ],
    ),
    (
        "one guest address routed by two networks",
        lambda n: n.update(
            routed_bridge=[
                {"name": f"extra{i}", "node": "pve1", "bridge": f"vmbr{6 + i}", "uplink": "vmbr0"}
                | {"cidr": "192.168.10.2/32", "addresses": ["192.168.10.50"]}
                for i in (1, 2)
            ]
        ),
        [
            "pvenet:networks.routed_bridge[1].addresses[0]: 192.168.10.50 on pve1 is routed by "
            "pvenet:networks.routed_bridge[0].addresses[0] already (through vmbr7); an address "
            "belongs to one guest"
        ],
    ),
    (
        "a routed address with a prefix",
        lambda n: n.update(
            routed_bridge=[
                {"name": "extra", "node": "pve1", "bridge": "vmbr6", "uplink": "vmbr0"}
                | {"cidr": "192.168.10.2/32", "addresses": ["192.168.10.50/24"]}
            ]
        ),
        [
            "pvenet:networks.routed_bridge[0].addresses[0]: '192.168.10.50/24': routes are to "
            "single addresses ('192.168.10.50/32')"
        ],
    ),
    (
        "a VLAN id given as true",
        lambda n: n["vlans"][0].update(vlan_id=True),
        ["pvenet:networks.vlans[0].vlan_id: True is not a whole number"],
    ),
    (
        "two mistakes in two networks, both reported",
        lambda n: (n["bonded"][0].update(vlan_aware=False), n["routed"][0].update(cidr="x")),
        [
            "pvenet:networks.bonded[0].vids: vids only apply to a VLAN-aware bridge; set "
            "vlan_aware=True",
            "pvenet:networks.routed[0].cidr: 'x' is not the gateway's address with the prefix "
            "length, such as '203.0.113.17/28'",
        ],
    ),
]


def dev_networks(edit: Edit) -> dict[str, Any]:
    """Pulumi.dev.yaml's config with ``edit`` applied to its networks."""
    config = copy.deepcopy(ROOT.stack_config("dev"))
    edit(config[NETWORKS])
    return config


@pytest.mark.parametrize(
    ("edit", "lines"), [(e, m) for _, e, m in CASES], ids=[c[0] for c in CASES]
)
def test_bad_stack_config_fails_at_preview_with_the_key_path_and_no_api_call(
    simulator: SimulatorHandle, edit: Edit, lines: list[str]
) -> None:
    """The error lists each bad key path and why; the simulator saw no request at all."""
    engine = LocalEngine(connected(dev_networks(edit), simulator))
    with pytest.raises(StackConfigError) as raised:
        engine.run(ROOT.program(), preview=True)
    assert str(raised.value).splitlines() == lines
    assert simulator.requests.entries() == []
    assert engine.operations == []


def test_a_bad_last_network_stops_an_up_before_the_first_is_created(
    simulator: SimulatorHandle,
) -> None:
    """Under ``pulumi up`` too: a mistake in the last network leaves the first ones uncreated."""
    engine = LocalEngine(
        connected(dev_networks(lambda n: n["nat"][0].update(dns_server="dns")), simulator)
    )
    with pytest.raises(StackConfigError, match=r"^pvenet:networks\.nat\[0\]\.dns_server: 'dns'"):
        engine.run(ROOT.program())
    assert simulator.requests.entries() == []
    assert engine.state == {}


def test_missing_networks_and_a_non_map_are_refused_with_what_to_write() -> None:
    """No ``pvenet:networks`` at all, or a list where the modes map belongs."""
    engine = LocalEngine({})
    with pytest.raises(StackConfigError, match=r"^pvenet:networks: is not set: describe"):
        engine.run(ROOT.program(), preview=True)
    engine = LocalEngine({NETWORKS: [{"name": "lan"}]})
    with pytest.raises(StackConfigError, match=r"^pvenet:networks: must be a map of network modes"):
        engine.run(ROOT.program(), preview=True)


def test_the_error_is_a_run_error_so_pulumi_prints_it_without_a_traceback() -> None:
    """``pulumi.RunError`` is what the Python language host reports as a plain message."""
    assert issubclass(StackConfigError, pulumi.RunError)


@pytest.mark.parametrize("mode", list(ENTRY_MODELS))
def test_each_mode_takes_its_components_arguments_with_the_same_defaults(mode: str) -> None:
    """The schema cannot drift from the components: same argument names, same defaults."""
    parameters = inspect.signature(COMPONENTS[mode]).parameters
    wanted = {n: p.default for n, p in parameters.items() if n not in ("name", "opts")}
    fields = ENTRY_MODELS[mode].model_fields
    schema = {n: None if f.is_required() else f.default for n, f in fields.items() if n != "name"}
    defaults = {n: None if d is inspect.Parameter.empty else d for n, d in wanted.items()}
    assert schema == {n: list(d) if isinstance(d, tuple) else d for n, d in defaults.items()}
