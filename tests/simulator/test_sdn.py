"""Fidelity: the cluster-wide SDN API (/cluster/sdn) and the files it makes nodes write.

Each test or case names the pve-network behaviour it checks. Messages are
verbatim from pve-network (API2/Network/SDN*.pm, Network/SDN*.pm), pve-common
(SectionConfig.pm, JSONSchema.pm, Exception.pm) and pve-cluster (cfs_lock):
failures inside ``lock_sdn_config`` come back as HTTP 500
``"<what> failed: <error>"``, even parameter errors, which PVE::Exception
stringifies as ``"400 Parameter verification failed.\\n<param>: <msg>\\n"``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from simulator.api import Request
from simulator.cluster import Cluster
from simulator.node import SDN_INTERFACES
from simulator.sdn.render import render
from tests.simulator.conftest import INSTALLER, Answer, NodeApi

SDN = "//cluster/sdn"
PERL = "/usr/share/perl5/PVE"
PARAM_FAILED = "Parameter verification failed.\n"
BAD_TOKEN = f"invalid lock token provided! at {PERL}/Network/SDN.pm line 291.\n"

NAT_ZONE = {"zone": "labnat", "type": "simple", "ipam": "pve"}
NAT_VNET = {"vnet": "labnet", "zone": "labnat", "alias": "Lab NAT"}
NAT_SUBNET = {
    "subnet": "10.10.10.0/24",
    "type": "subnet",
    "gateway": "10.10.10.1",
    "snat": 1,
    "dhcp__range": ["start-address=10.10.10.100,end-address=10.10.10.200"],
}
NAT_SUBNET_ID = "labnat-10.10.10.0-24"
Call = tuple[str, str, dict[str, Any]]
NAT_SETUP: list[Call] = [
    ("POST", f"{SDN}/zones", NAT_ZONE),
    ("POST", f"{SDN}/vnets", NAT_VNET),
    ("POST", f"{SDN}/vnets/labnet/subnets", NAT_SUBNET),
]

# /etc/network/interfaces.d/sdn of pve1 (vmbr0 192.168.10.2) after applying NAT_SETUP.
SNAT = "POSTROUTING -s '10.10.10.0/24' -o vmbr0 -j SNAT --to-source 192.168.10.2"
NAT_SDN_FILE = f"""\
#version:1

auto labnet
iface labnet
\taddress 10.10.10.1/24
\tpost-up iptables -t nat -A {SNAT}
\tpost-down iptables -t nat -D {SNAT}
\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1
\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1
\tbridge_ports none
\tbridge_stp off
\tbridge_fd 0
\talias Lab NAT
\tip-forward on
"""


@pytest.fixture
def sdn(tmp_path: Path) -> NodeApi:
    """A two-node cluster (pve1 192.168.10.2, pve2 192.168.10.3) with no SDN config yet."""
    return NodeApi(Cluster(tmp_path / "state", ["pve1", "pve2"], ["eno1", "eno2", "eno3"]))


def run(api: NodeApi, calls: list[Call]) -> None:
    """Make calls that must all succeed."""
    for method, path, params in calls:
        api.ok(method, path, **params)


def disk(api: NodeApi) -> dict[str, bytes]:
    """Every SDN and node file of the cluster (tasks and logs aside)."""
    root = api.cluster.state_dir
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.parts[len(root.parts)] in ("sdn", "nodes")
    }


def apply(api: NodeApi, **params: Any) -> dict[str, Any]:
    """PUT /cluster/sdn and return the reloadnetworkall task's status."""
    upid = str(api.ok("PUT", SDN, **params))
    status: dict[str, Any] = api.ok("GET", f"//nodes/{upid.split(':')[1]}/tasks/{upid}/status")
    return status


def sdn_file(api: NodeApi, node: str) -> str | None:
    """The node's /etc/network/interfaces.d/sdn."""
    return api.cluster.nodes[node].read(SDN_INTERFACES)


# --- the NAT gateway, end to end --------------------------------------------------------------


def test_index_lists_the_sdn_children(sdn: NodeApi) -> None:
    """GET /cluster/sdn is the directory index of pve-network's API2/Network/SDN.pm."""
    names = [item["id"] for item in sdn.ok("GET", SDN)]
    assert names == ["vnets", "zones", "controllers", "ipams", "dns", "fabrics"]


def test_created_objects_read_back_with_proxmox_types_and_file_digest(sdn: NodeApi) -> None:
    """The current view reads the SectionConfig files: numbers for booleans, sha1 digests,
    the subnet's id-derived fields, and dhcp-range parsed into objects."""
    run(sdn, NAT_SETUP)
    sdn_dir = sdn.cluster.state_dir / "sdn"
    digest = hashlib.sha1((sdn_dir / "subnets.cfg").read_bytes()).hexdigest()
    assert (sdn_dir / "subnets.cfg").read_text() == (
        f"subnet: {NAT_SUBNET_ID}\n"
        "\tvnet labnet\n"
        "\tdhcp-range start-address=10.10.10.100,end-address=10.10.10.200\n"
        "\tgateway 10.10.10.1\n"
        "\tsnat 1\n\n"
    )
    assert sdn.ok("GET", f"{SDN}/vnets/labnet/subnets/{NAT_SUBNET_ID}") == {
        "type": "subnet",
        "vnet": "labnet",
        "gateway": "10.10.10.1",
        "snat": 1,
        "dhcp-range": [{"start-address": "10.10.10.100", "end-address": "10.10.10.200"}],
        "id": NAT_SUBNET_ID,
        "subnet": NAT_SUBNET_ID,
        "cidr": "10.10.10.0/24",
        "network": "10.10.10.0",
        "mask": "24",
        "zone": "labnat",
        "digest": digest,
    }
    zones = sdn.ok("GET", f"{SDN}/zones")
    assert [(z["zone"], z["type"], z["ipam"]) for z in zones] == [("labnat", "simple", "pve")]
    vnet = sdn.ok("GET", f"{SDN}/vnets/labnet")
    assert {k: v for k, v in vnet.items() if k != "digest"} == {
        "vnet": "labnet",
        "type": "vnet",
        "zone": "labnat",
        "alias": "Lab NAT",
    }


def test_pending_view_marks_new_objects_and_running_view_is_empty(sdn: NodeApi) -> None:
    """Before any apply, pending=1 shows state 'new' with every value under 'pending'
    (type and vnet stay at the top level), and running=1 shows nothing."""
    run(sdn, NAT_SETUP)
    assert sdn.ok("GET", f"{SDN}/zones", pending=1) == [
        {
            "zone": "labnat",
            "type": "simple",
            "state": "new",
            "pending": {"ipam": "pve"},
            "digest": None,
        }
    ]
    [subnet] = sdn.ok("GET", f"{SDN}/vnets/labnet/subnets", pending=1)
    assert subnet["state"] == "new"
    assert subnet["vnet"] == "labnet"
    assert subnet["dhcp-range"] == []  # the ranges are pending, not running
    assert subnet["pending"] == {
        "gateway": "10.10.10.1",
        "snat": 1,
        "dhcp-range": ["start-address=10.10.10.100,end-address=10.10.10.200"],
    }
    assert sdn.ok("GET", f"{SDN}/zones", running=1) == []
    assert sdn.ok("GET", f"{SDN}/vnets", running=1) == []


def test_apply_writes_the_sdn_file_on_every_node(sdn: NodeApi) -> None:
    """PUT /cluster/sdn commits the pending config as version 1 and reloads every node: each
    writes interfaces.d/sdn with its own default route in the SNAT rules."""
    run(sdn, NAT_SETUP)
    status = apply(sdn)
    assert status["type"] == "reloadnetworkall"
    assert status["exitstatus"] == "OK"
    assert sdn_file(sdn, "pve1") == NAT_SDN_FILE
    assert sdn_file(sdn, "pve2") == NAT_SDN_FILE.replace("192.168.10.2", "192.168.10.3")
    running = sdn.ok("GET", f"{SDN}/vnets/labnet/subnets", running=1)
    assert [(s["id"], s["snat"], s["digest"]) for s in running] == [(NAT_SUBNET_ID, 1, None)]
    assert sdn.ok("GET", f"{SDN}/vnets", pending=1)[0].get("state") is None


def test_apply_task_log_names_each_node(sdn: NodeApi) -> None:
    """The reloadnetworkall worker prints '<node>: reloading network config' per node."""
    run(sdn, NAT_SETUP)
    upid = sdn.ok("PUT", SDN)
    assert ":reloadnetworkall::root@pam:" in upid
    log = sdn.ok("GET", f"//nodes/pve1/tasks/{upid}/log")
    assert [line["t"] for line in log] == [
        "pve1: reloading network config",
        "pve2: reloading network config",
        "TASK OK",
    ]


def test_apply_task_failure_fault_fails_the_task_but_files_are_written(sdn: NodeApi) -> None:
    """An armed task-fail fault ends the apply task in error; the config is committed and the
    nodes' files are already written, as after a failed reload on Proxmox."""
    run(sdn, NAT_SETUP)
    request = Request("PUT", "/cluster/sdn", {}, task_failure="no quorum")
    upid = sdn.cluster.handle(request).data
    status = sdn.ok("GET", f"//nodes/pve1/tasks/{upid}/status")
    assert status["exitstatus"] == "no quorum"
    assert sdn_file(sdn, "pve1") == NAT_SDN_FILE


def test_failed_node_reload_does_not_fail_the_apply_task(sdn: NodeApi) -> None:
    """reloadnetworkall only runs 'pvesh set /nodes/<node>/network' per node and ignores how
    those reloads end: a node whose ifreload fails still leaves the apply task OK."""
    sdn.ok("POST", "/network", iface="eno7", type="eth")
    sdn.ok("POST", "/network", iface="vmbr1", type="bridge", bridge_ports="eno7", autostart=1)
    run(sdn, NAT_SETUP)
    assert apply(sdn)["exitstatus"] == "OK"
    assert "bridge-ports eno7" in (sdn.file("/etc/network/interfaces") or "")
    assert sdn_file(sdn, "pve1") == NAT_SDN_FILE


def test_node_lists_running_vnets_as_type_vnet(sdn: NodeApi) -> None:
    """GET /nodes/{node}/network?type=vnet lists the running vnets (get_local_vnets)."""
    run(sdn, NAT_SETUP)
    assert sdn.ok("GET", "/network", type="vnet") == []
    apply(sdn)
    assert sdn.ok("GET", "/network", type="vnet") == [
        {
            "iface": "labnet",
            "type": "vnet",
            "active": "1",
            "ipam": 1,
            "vlanaware": 0,
            "comments": "Lab NAT",
        }
    ]


def test_sdn_apply_commits_pending_node_changes(sdn: NodeApi) -> None:
    """SDN apply runs the node reload, which also moves a pending interfaces.new into place."""
    sdn.ok("POST", "/network", iface="vmbr1", type="bridge")
    apply(sdn)
    assert sdn.file() is None
    assert "iface vmbr1 inet manual" in (sdn.file("/etc/network/interfaces") or "")


# --- the generated file -----------------------------------------------------------------------

# src/test/zones/simple/ipv4snat/expected_sdn_interfaces in pve-network (the vnet has no mac).
IPV4SNAT_EXPECTED = """\
#version:1

auto myvnet
iface myvnet
\taddress 10.0.0.1/24
\tpost-up iptables -t nat -A POSTROUTING -s '10.0.0.0/24' -o vmbr0 -j SNAT --to-source 192.168.0.1
\tpost-down iptables -t nat -D POSTROUTING -s '10.0.0.0/24' -o vmbr0 -j SNAT --to-source 192.168.0.1
\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1
\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1
\tbridge_ports none
\tbridge_stp off
\tbridge_fd 0
\tip-forward on
"""


def test_pve_network_ipv4snat_expectation_byte_for_byte(tmp_path: Path) -> None:
    """The Simple zone's SNAT output equals pve-network's own test expectation."""
    interfaces = INSTALLER.replace("192.168.10.2/24", "192.168.0.1/24").replace(
        "192.168.10.1", "192.168.0.254"
    )
    api = NodeApi(Cluster(tmp_path, ["pve1"], ["eno1", "eno2", "eno3"], interfaces))
    run(
        api,
        [
            ("POST", f"{SDN}/zones", {"zone": "myzone", "type": "simple"}),
            ("POST", f"{SDN}/vnets", {"vnet": "myvnet", "zone": "myzone"}),
            (
                "POST",
                f"{SDN}/vnets/myvnet/subnets",
                {"subnet": "10.0.0.0/24", "type": "subnet", "gateway": "10.0.0.1", "snat": 1},
            ),
        ],
    )
    apply(api)
    assert sdn_file(api, "pve1") == IPV4SNAT_EXPECTED


def test_routed_options_in_plugin_order(sdn: NodeApi) -> None:
    """Addresses per subnet (deduplicated), the /32 route, vlan-aware lines, zone mtu, alias and
    ip-forward/ip6-forward come in SimplePlugin's order; a /32 gateway may lie outside."""
    run(
        sdn,
        [
            ("POST", f"{SDN}/zones", {"zone": "pubrt", "type": "simple", "mtu": 1450}),
            ("POST", f"{SDN}/vnets", {"vnet": "pubnet", "zone": "pubrt"}),
            ("POST", f"{SDN}/vnets", {"vnet": "trunk", "zone": "pubrt", "vlanaware": 1}),
            (
                "POST",
                f"{SDN}/vnets/pubnet/subnets",
                {"subnet": "203.0.113.16/28", "type": "subnet", "gateway": "203.0.113.17"},
            ),
            (
                "POST",
                f"{SDN}/vnets/pubnet/subnets",
                {"subnet": "203.0.113.50/32", "type": "subnet", "gateway": "203.0.113.17"},
            ),
            (
                "POST",
                f"{SDN}/vnets/pubnet/subnets",
                {"subnet": "2001:db8::/64", "type": "subnet", "gateway": "2001:db8::1"},
            ),
        ],
    )
    apply(sdn)
    assert sdn_file(sdn, "pve1") == (
        "#version:1\n"
        "\nauto pubnet\niface pubnet\n"
        "\taddress 2001:db8::1/64\n"
        "\taddress 203.0.113.17/28\n"
        "\tup ip route add 203.0.113.50/32 dev pubnet\n"
        "\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n"
        "\tmtu 1450\n"
        "\tip-forward on\n\tip6-forward on\n"
        "\nauto trunk\niface trunk\n"
        "\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n"
        "\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n"
        "\tmtu 1450\n"
    )


def test_zone_nodes_restrict_where_vnets_are_generated(sdn: NodeApi) -> None:
    """A zone with 'nodes' generates its vnets only there; other nodes get just the version."""
    run(sdn, [("POST", f"{SDN}/zones", {**NAT_ZONE, "nodes": "pve2"}), *NAT_SETUP[1:]])
    apply(sdn)
    assert sdn_file(sdn, "pve1") == "#version:1\n"
    assert sdn_file(sdn, "pve2") == NAT_SDN_FILE.replace("192.168.10.2", "192.168.10.3")
    assert sdn.ok("GET", "/network", type="vnet") == []
    assert sdn.ok("GET", f"{SDN}/zones/labnat")["nodes"] == "pve2"


def test_file_when_never_applied_and_with_zero_vnets(sdn: NodeApi) -> None:
    """Every node reload writes the file: empty while SDN was never applied (no running
    config), '#version:N' alone once an apply had no vnets."""
    node = sdn.cluster.nodes["pve1"]
    assert sdn.cluster.sdn.render_interfaces(node) == ""
    sdn.apply()
    assert sdn_file(sdn, "pve1") == ""
    apply(sdn)
    apply(sdn)
    assert sdn_file(sdn, "pve1") == "#version:2\n"


def test_snat_without_a_route_leaves_the_vnet_out() -> None:
    """When 'ip route get' fails, generate_sdn_config dies and the vnet is skipped with a
    warning; the rest of the file is still written."""
    running = {
        "version": 3,
        "zones": {"ids": {"z": {"type": "simple"}}},
        "vnets": {"ids": {"a": {"type": "vnet", "zone": "z"}, "b": {"type": "vnet", "zone": "z"}}},
        "subnets": {"ids": {"z-10.0.0.0-24": {"type": "subnet", "vnet": "a", "snat": 1}}},
    }
    result = render(running, "pve1", lambda target: None)
    assert result.text == (
        "#version:3\n\nauto b\niface b\n\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n"
    )
    assert result.warnings == [
        "zone z : vnet a : command '/sbin/ip route get 8.8.8.8' failed: exit code 2"
    ]


# A node with an IPv6 default route as well: vmbr0 holds 2001:db8:10::2 with gateway ::1.
DUAL_STACK = INSTALLER.replace(
    "\tbridge-fd 0\n",
    "\tbridge-fd 0\niface vmbr0 inet6 static\n"
    "\taddress 2001:db8:10::2/64\n\tgateway 2001:db8:10::1\n",
)
SNAT6 = "POSTROUTING -s 'fd00:6::/64' -o vmbr0 -j SNAT --to-source 2001:db8:10::2"
V6_SETUP: list[Call] = [
    ("POST", f"{SDN}/zones", {"zone": "dual", "type": "simple"}),
    ("POST", f"{SDN}/vnets", {"vnet": "dualnet", "zone": "dual"}),
    (
        "POST",
        f"{SDN}/vnets/dualnet/subnets",
        {"subnet": "fd00:6::/64", "type": "subnet", "gateway": "fd00:6::1", "snat": 1},
    ),
]


def test_ipv6_snat_leaves_by_the_ipv6_default_route(tmp_path: Path) -> None:
    """For an IPv6 subnet SimplePlugin asks 'ip route get 2001:4860:4860::8888': the SNAT
    rules (ip6tables) name the IPv6 default route's interface and source address, and an
    IPv4 subnet of the same vnet still leaves by the IPv4 route."""
    api = NodeApi(Cluster(tmp_path, ["pve1"], ["eno1", "eno2", "eno3"], DUAL_STACK))
    run(api, [*V6_SETUP, ("POST", f"{SDN}/vnets/dualnet/subnets", NAT_SUBNET)])
    apply(api)
    assert sdn_file(api, "pve1") == (
        "#version:1\n\nauto dualnet\niface dualnet\n"
        "\taddress 10.10.10.1/24\n"
        f"\tpost-up iptables -t nat -A {SNAT}\n"
        f"\tpost-down iptables -t nat -D {SNAT}\n"
        "\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1\n"
        "\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1\n"
        "\taddress fd00:6::1/64\n"
        f"\tpost-up ip6tables -t nat -A {SNAT6}\n"
        f"\tpost-down ip6tables -t nat -D {SNAT6}\n"
        "\tpost-up ip6tables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1\n"
        "\tpost-down ip6tables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1\n"
        "\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n"
        "\tip-forward on\n\tip6-forward on\n"
    )


def test_ipv6_snat_without_an_ipv6_default_route_leaves_the_vnet_out(sdn: NodeApi) -> None:
    """On a node with no IPv6 default route 'ip route get 2001:4860:4860::8888' fails: the vnet
    is left out of the node's file and its reload logs why."""
    run(sdn, V6_SETUP)
    apply(sdn)
    assert sdn_file(sdn, "pve1") == "#version:1\n"
    [task] = sdn.ok("GET", "/tasks", typefilter="srvreload")
    log = [line["t"] for line in sdn.ok("GET", f"/tasks/{task['upid']}/log")]
    assert (
        "zone dual : vnet dualnet : "
        "command '/sbin/ip route get 2001:4860:4860::8888' failed: exit code 2"
    ) in log


def test_snat_source_is_the_route_the_kernel_had_before_the_reload(sdn: NodeApi) -> None:
    """The node reload (pve-manager's reload_network_config) moves interfaces.new into place,
    writes interfaces.d/sdn (asking the kernel 'ip route get') and only then runs
    'ifreload -a': a new node address staged with the SDN change reaches the SNAT rules one
    reload later."""
    run(sdn, NAT_SETUP)
    sdn.ok(
        "PUT",
        "/network/vmbr0",
        type="bridge",
        bridge_ports="eno1",
        cidr="192.168.10.9/24",
        gateway="192.168.10.1",
    )
    apply(sdn)
    assert "\taddress 192.168.10.9/24\n" in (sdn.file("/etc/network/interfaces") or "")
    assert sdn_file(sdn, "pve1") == NAT_SDN_FILE
    assert sdn.apply()["exitstatus"] == "OK"
    assert sdn_file(sdn, "pve1") == NAT_SDN_FILE.replace("192.168.10.2", "192.168.10.9")


def test_a_simple_vnet_made_through_the_api_has_no_mac(sdn: NodeApi) -> None:
    """SimplePlugin's vnet_update_hook gives a vnet without 'mac' a random one, but 'mac' is no
    option of the vnet section type (pve-network moved it to the EVPN zone), so SectionConfig's
    write_config leaves it out of vnets.cfg: the vnet reads back without it, the running config
    has none and the generated stanza carries no 'hwaddress'."""
    run(sdn, NAT_SETUP)
    assert "mac" not in sdn.ok("GET", f"{SDN}/vnets/labnet")
    assert (sdn.cluster.state_dir / "sdn" / "vnets.cfg").read_text() == (
        "vnet: labnet\n\tzone labnat\n\talias Lab NAT\n\n"
    )
    sdn.ok("PUT", f"{SDN}/vnets/labnet", alias="Lab NAT")  # the hook runs on update too
    apply(sdn)
    assert "mac" not in sdn.ok("GET", f"{SDN}/vnets/labnet", running=1)
    assert sdn_file(sdn, "pve1") == NAT_SDN_FILE
    assert "hwaddress" not in (sdn_file(sdn, "pve2") or "")


# --- changes, deletes, rollback ---------------------------------------------------------------


def test_update_and_delete_show_as_changed_in_pending_view(sdn: NodeApi) -> None:
    """After an apply, a changed value is listed under 'pending' with state 'changed', a removed
    key as 'deleted', and the top level keeps the running value."""
    run(sdn, NAT_SETUP)
    apply(sdn)
    sdn.ok("PUT", f"{SDN}/vnets/labnet", alias="Lab2")
    sdn.ok("PUT", f"{SDN}/vnets/labnet/subnets/{NAT_SUBNET_ID}", delete="snat")
    vnet = sdn.ok("GET", f"{SDN}/vnets/labnet", pending=1)
    assert (vnet["alias"], vnet["state"], vnet["pending"]) == (
        "Lab NAT",
        "changed",
        {"alias": "Lab2"},
    )
    subnet = sdn.ok("GET", f"{SDN}/vnets/labnet/subnets/{NAT_SUBNET_ID}", pending=1)
    assert (subnet["snat"], subnet["state"], subnet["pending"]) == (
        1,
        "changed",
        {"snat": "deleted"},
    )


def test_delete_in_dependency_order_then_apply_empties_the_file(sdn: NodeApi) -> None:
    """Subnet, vnet, zone delete in that order; pending=1 then shows them 'deleted' until the
    apply, after which the file holds only the new version."""
    run(sdn, NAT_SETUP)
    apply(sdn)
    sdn.ok("DELETE", f"{SDN}/vnets/labnet/subnets/{NAT_SUBNET_ID}")
    sdn.ok("DELETE", f"{SDN}/vnets/labnet")
    sdn.ok("DELETE", f"{SDN}/zones/labnat")
    assert sdn.ok("GET", f"{SDN}/zones") == []
    [zone] = sdn.ok("GET", f"{SDN}/zones", pending=1)
    assert (zone["zone"], zone["state"], zone["pending"]) == ("labnat", "deleted", {})
    apply(sdn)
    assert sdn_file(sdn, "pve1") == "#version:2\n"
    assert sdn.ok("GET", f"{SDN}/zones", pending=1) == []


def test_rollback_restores_the_running_config(sdn: NodeApi) -> None:
    """POST /cluster/sdn/rollback rewrites the pending files from the running config."""
    run(sdn, NAT_SETUP)
    apply(sdn)
    before = disk(sdn)
    sdn.ok("POST", f"{SDN}/zones", zone="other", type="simple")
    sdn.ok("PUT", f"{SDN}/vnets/labnet", delete="alias")
    sdn.ok("POST", f"{SDN}/rollback")
    assert [z["zone"] for z in sdn.ok("GET", f"{SDN}/zones")] == ["labnat"]
    assert sdn.ok("GET", f"{SDN}/vnets/labnet")["alias"] == "Lab NAT"
    assert not any("state" in v for v in sdn.ok("GET", f"{SDN}/vnets", pending=1))
    assert disk(sdn).keys() == before.keys()


def test_rollback_before_any_apply_discards_everything(sdn: NodeApi) -> None:
    """With no running config, a rollback leaves empty pending files."""
    run(sdn, NAT_SETUP)
    sdn.ok("POST", f"{SDN}/rollback")
    assert sdn.ok("GET", f"{SDN}/zones") == []
    assert sdn.ok("GET", f"{SDN}/vnets") == []


# --- the PVE 9 global lock --------------------------------------------------------------------


def test_lock_token_is_required_once_locked(sdn: NodeApi) -> None:
    """POST /cluster/sdn/lock returns a UUIDv7 token; from then on every write needs it."""
    token = sdn.ok("POST", f"{SDN}/lock")
    assert token[14] == "7"
    before = disk(sdn)
    answer = sdn.call("POST", f"{SDN}/zones", **NAT_ZONE)
    assert (answer.status, answer.message) == (500, f"create sdn zone object failed: {BAD_TOKEN}")
    answer = sdn.call("POST", f"{SDN}/zones", **NAT_ZONE, lock__token="wrong")
    assert answer.message == f"create sdn zone object failed: {BAD_TOKEN}"
    assert disk(sdn) == before
    sdn.ok("POST", f"{SDN}/zones", **NAT_ZONE, lock__token=token)
    answer = sdn.call("POST", f"{SDN}/lock")
    assert answer.message == f"could not acquire lock for SDN config: {BAD_TOKEN}"


def test_apply_releases_the_lock_only_when_asked(sdn: NodeApi) -> None:
    """release-lock is documented 'default 1' but Proxmox never fills defaults: the lock goes
    only with lock-token and an explicit release-lock=1."""
    token = sdn.ok("POST", f"{SDN}/lock")
    answer = sdn.call("PUT", SDN)
    assert answer.message == f"could not commit SDN config: {BAD_TOKEN}"
    apply(sdn, lock__token=token)
    assert sdn.call("POST", f"{SDN}/zones", **NAT_ZONE).status == 500
    apply(sdn, lock__token=token, release__lock=1)
    sdn.ok("POST", f"{SDN}/zones", **NAT_ZONE)


def test_lock_refused_with_pending_changes_unless_allowed(sdn: NodeApi) -> None:
    """Locking with pending changes dies 'configuration has pending changes' (a Perl die
    without newline, so with its source line) unless allow-pending=1."""
    run(sdn, NAT_SETUP[:1])
    answer = sdn.call("POST", f"{SDN}/lock")
    assert answer.message == (
        "could not acquire lock for SDN config: configuration has pending changes "
        f"at {PERL}/API2/Network/SDN.pm line 149.\n"
    )
    assert sdn.ok("POST", f"{SDN}/lock", allow__pending=1)


def test_release_lock_needs_the_token_or_force(sdn: NodeApi) -> None:
    """DELETE /cluster/sdn/lock checks the token unless force=1; rollback can release it."""
    token = sdn.ok("POST", f"{SDN}/lock")
    assert sdn.call("DELETE", f"{SDN}/lock").message == f"could not release lock: {BAD_TOKEN}"
    sdn.ok("DELETE", f"{SDN}/lock", force=1)
    token = sdn.ok("POST", f"{SDN}/lock")
    sdn.ok("DELETE", f"{SDN}/lock", lock__token=token)
    token = sdn.ok("POST", f"{SDN}/lock")
    answer = sdn.call("POST", f"{SDN}/rollback")
    assert answer.message == f"could not rollback SDN configuration: {BAD_TOKEN}"
    sdn.ok("POST", f"{SDN}/rollback", lock__token=token, release__lock=1)
    sdn.ok("POST", f"{SDN}/zones", **NAT_ZONE)


# --- bad requests: Proxmox's error, nothing changes on disk -----------------------------------


@dataclass(frozen=True)
class ErrorCase:
    """Calls that set the scene, then one call that must fail exactly so."""

    behaviour: str
    call: Call
    status: int
    message: str
    errors: dict[str, str] | None = None
    setup: list[Call] = field(default_factory=lambda: list(NAT_SETUP))


class Expect(NamedTuple):
    """The answer a failing call must get."""

    status: int
    message: str
    errors: dict[str, str] | None = None


def _param(errors: dict[str, str]) -> Expect:
    return Expect(400, PARAM_FAILED, errors)


def _plain(message: str, status: int = 500) -> Expect:
    return Expect(status, message)


def _locked(what: str, error: str) -> Expect:
    return Expect(500, f"{what} failed: {error}")


def _locked_param(what: str, name: str, error: str) -> Expect:
    return _locked(what, f"400 Parameter verification failed.\n{name}: {error}\n")


ZONE_FAILED = "create sdn zone object"
VNET_FAILED = "create sdn vnet object"
SUBNET_FAILED = "create sdn subnet object"
SUBNETS = f"{SDN}/vnets/labnet/subnets"
RANGE = "dhcp__range"


def case(behaviour: str, call: Call, expect: Expect, setup: list[Call] | None = None) -> Any:
    """One table row, with its behaviour as the test id."""
    steps = list(NAT_SETUP) if setup is None else setup
    row = ErrorCase(behaviour, call, expect.status, expect.message, expect.errors, steps)
    return pytest.param(row, id=behaviour)


ERROR_CASES = [
    case(
        "zone id longer than 8 characters",
        ("POST", f"{SDN}/zones", {"zone": "toolongzone", "type": "simple"}),
        _param({"zone": "value may only be 8 characters long"}),
    ),
    case(
        "zone id must start with a letter and be alphanumeric",
        ("POST", f"{SDN}/zones", {"zone": "1a-b", "type": "simple"}),
        _param({"zone": "value does not match the regex pattern"}),
    ),
    case(
        "zone type outside the plugin enumeration",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "bgp"}),
        _param(
            {
                "type": "value 'bgp' does not have a value in the enumeration "
                "'evpn, faucet, qinq, simple, vlan, vxlan'"
            }
        ),
    ),
    case(
        "zone type is required and nodes is a node list",
        ("POST", f"{SDN}/zones", {"zone": "z1", "nodes": "pve1,bad_node"}),
        _param(
            {
                "type": "property is missing and it is not optional",
                "nodes": "invalid format - value does not look like a valid node name\n",
            }
        ),
    ),
    case(
        "zone mtu must be an integer and unknown properties are refused",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "simple", "mtu": "big", "color": "red"}),
        _param(
            {
                "mtu": "type check ('integer') failed - got 'big'",
                "color": "property is not defined in schema and the schema does not allow "
                "additional properties",
            }
        ),
    ),
    case(
        "zone already defined",
        ("POST", f"{SDN}/zones", {"zone": "labnat", "type": "simple"}),
        _locked(ZONE_FAILED, "sdn zone object ID 'labnat' already defined\n"),
    ),
    case(
        "simple zone refuses another plugin's option (outside the lock)",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "simple", "bridge": "vmbr0"}),
        _plain("unexpected property 'bridge'\n"),
    ),
    case(
        "vlan zone needs its bridge",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "vlan"}),
        _plain("missing value for required option 'bridge'\n"),
    ),
    case(
        "zone dns server must exist",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "simple", "dns": "pdns"}),
        _locked_param(ZONE_FAILED, "dns", "pdns don't exist"),
    ),
    case(
        "zone dnszone needs a dns server",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "simple", "dnszone": "lab.example"}),
        _locked_param(ZONE_FAILED, "dnszone", "missing dns server"),
    ),
    case(
        "zone ipam must exist (only the built-in 'pve')",
        ("POST", f"{SDN}/zones", {"zone": "z1", "type": "simple", "ipam": "netbox"}),
        _locked_param(ZONE_FAILED, "ipam", "netbox not existing"),
    ),
    case(
        "zone read of a missing zone",
        ("GET", f"{SDN}/zones/nozone", {}),
        _plain("sdn 'nozone' does not exist\n"),
    ),
    case(
        "zone update of a missing zone",
        ("PUT", f"{SDN}/zones/nozone", {"mtu": 1400}),
        _locked("update sdn zone object", "sdn 'nozone' does not exist\n"),
    ),
    case(
        "zone update with a stale digest",
        ("PUT", f"{SDN}/zones/labnat", {"mtu": 1400, "digest": "0" * 40}),
        _locked(
            "update sdn zone object",
            "detected modified configuration - file changed by other user? Try again.\n",
        ),
    ),
    case(
        "zone update cannot delete an unknown option",
        ("PUT", f"{SDN}/zones/labnat", {"delete": "bridge"}),
        _locked("update sdn zone object", "no such option 'bridge'\n"),
    ),
    case(
        "zone update cannot set and delete the same option",
        ("PUT", f"{SDN}/zones/labnat", {"mtu": 1400, "delete": "mtu"}),
        _locked(
            "update sdn zone object", "cannot set and delete property 'mtu' at the same time!\n"
        ),
    ),
    case(
        "zone ipam cannot change while the zone has subnets",
        ("PUT", f"{SDN}/zones/labnat", {"delete": "ipam"}),
        _locked_param(
            "update sdn zone object",
            "ipam",
            "can't change ipam if a subnet is already defined in this zone",
        ),
    ),
    case(
        "zone delete while a vnet uses it (a die without newline)",
        ("DELETE", f"{SDN}/zones/labnat", {}),
        _locked(
            "delete sdn zone object",
            f"zone labnat is used by vnet labnet at {PERL}/Network/SDN/Zones/Plugin.pm line 148.\n",
        ),
    ),
    case(
        "vnet id pattern",
        ("POST", f"{SDN}/vnets", {"vnet": "lab_net", "zone": "labnat"}),
        _param({"vnet": "value does not match the regex pattern"}),
    ),
    case(
        "vnet tag range",
        ("POST", f"{SDN}/vnets", {"vnet": "v2", "zone": "labnat", "tag": 16777216}),
        _param({"tag": "value must have a maximum value of 16777215"}),
    ),
    case(
        "vnet zone is required",
        ("POST", f"{SDN}/vnets", {"vnet": "v2"}),
        _param({"zone": "property is missing and it is not optional"}),
    ),
    case(
        "vnet already defined",
        ("POST", f"{SDN}/vnets", {"vnet": "labnet", "zone": "labnat"}),
        _locked(VNET_FAILED, "sdn vnet object ID 'labnet' already defined\n"),
    ),
    case(
        "vnet tag on a simple zone",
        ("POST", f"{SDN}/vnets", {"vnet": "v2", "zone": "labnat", "tag": 10}),
        _locked_param(VNET_FAILED, "tag", "vlan tag is not allowed on simple zone"),
    ),
    case(
        "vnet in a missing zone (Zones::Plugin->lookup(undef) croaks)",
        ("POST", f"{SDN}/vnets", {"vnet": "v2", "zone": "nozone"}),
        _locked(
            VNET_FAILED,
            f"cannot lookup undefined type! at {PERL}/API2/Network/SDN/Vnets.pm line 326.\n",
        ),
    ),
    case(
        "vnet read of a missing vnet",
        ("GET", f"{SDN}/vnets/novnet", {}),
        _plain("sdn vnet 'novnet' does not exist\n"),
    ),
    case(
        "vnet vlanaware with subnets",
        ("PUT", f"{SDN}/vnets/labnet", {"vlanaware": 1}),
        _locked_param(
            "update sdn vnet object", "vlanaware", "vlanaware vnet is not compatible with subnets"
        ),
    ),
    case(
        "vnet zone cannot be deleted (a required option)",
        ("PUT", f"{SDN}/vnets/labnet", {"delete": "zone"}),
        _locked("update sdn vnet object", "unable to delete required option 'zone'\n"),
    ),
    case(
        "vnet delete while subnets exist",
        ("DELETE", f"{SDN}/vnets/labnet", {}),
        _locked_param("delete sdn vnet object", "vnet", "Can't delete vnet if subnets exists"),
    ),
    case(
        "subnet must be a CIDR and type 'subnet' is required",
        ("POST", SUBNETS, {"subnet": "10.20.0.0"}),
        _param(
            {
                "subnet": "invalid format - value does not look like a valid CIDR network\n",
                "type": "property is missing and it is not optional",
            }
        ),
    ),
    case(
        "subnet gateway and snat types",
        (
            "POST",
            SUBNETS,
            {"subnet": "10.20.0.0/24", "type": "subnet", "gateway": "10.20.0", "snat": "yes"},
        ),
        _param(
            {
                "gateway": "invalid format - value does not look like a valid IP address\n",
                "snat": "type check ('boolean') failed - got 'yes'",
            }
        ),
    ),
    case(
        "subnet dhcp-range items are pve-sdn-dhcp-range property strings",
        (
            "POST",
            SUBNETS,
            {
                "subnet": "10.20.0.0/24",
                "type": "subnet",
                RANGE: ["start-address=10.20.0.5", "x", "size=4"],
            },
        ),
        _param(
            {
                "dhcp-range[0]": "invalid format - format error\n"
                "dhcp-range[0].end-address: property is missing and it is not optional\n",
                "dhcp-range[1]": "invalid format - value without key, but schema does not "
                "define a default key\n",
                "dhcp-range[2]": "invalid format - invalid key in comma-separated list "
                "property: size\n",
            }
        ),
    ),
    case(
        "subnet on a missing vnet",
        ("POST", f"{SDN}/vnets/novnet/subnets", {"subnet": "10.20.0.0/24", "type": "subnet"}),
        _plain("sdn vnet 'novnet' does not exist\n"),
    ),
    case(
        "subnet already defined",
        ("POST", SUBNETS, {"subnet": "10.10.10.0/24", "type": "subnet"}),
        _locked(SUBNET_FAILED, f"sdn subnet object ID '{NAT_SUBNET_ID}' already defined\n"),
    ),
    case(
        "subnet gateway outside the subnet",
        ("POST", SUBNETS, {"subnet": "10.20.0.0/24", "type": "subnet", "gateway": "10.30.0.1"}),
        _locked_param(SUBNET_FAILED, "gateway", "10.30.0.1 is not in subnet 10.20.0.0/24"),
    ),
    case(
        "dhcp-range start after end",
        (
            "POST",
            SUBNETS,
            {
                "subnet": "10.20.0.0/24",
                "type": "subnet",
                RANGE: "start-address=10.20.0.9,end-address=10.20.0.5",
            },
        ),
        _locked_param(
            SUBNET_FAILED,
            "dhcp-range",
            "start-address 10.20.0.9 must be smaller than end-address 10.20.0.5",
        ),
    ),
    case(
        "dhcp-range outside the subnet",
        (
            "POST",
            SUBNETS,
            {
                "subnet": "10.20.0.0/24",
                "type": "subnet",
                RANGE: "start-address=10.20.0.5,end-address=10.20.1.5",
            },
        ),
        _locked_param(
            SUBNET_FAILED, "dhcp-range", "end-address 10.20.1.5 is not in subnet 10.20.0.0/24"
        ),
    ),
    case(
        "dhcp-range address that is no IP",
        (
            "POST",
            SUBNETS,
            {
                "subnet": "10.20.0.0/24",
                "type": "subnet",
                RANGE: "start-address=nope,end-address=10.20.0.5",
            },
        ),
        _locked_param(SUBNET_FAILED, "dhcp-range", "start-address is not a valid IP nope"),
    ),
    case(
        "dhcp-range start that is a network",
        (
            "POST",
            SUBNETS,
            {
                "subnet": "10.20.0.0/24",
                "type": "subnet",
                RANGE: "start-address=10.20.0.0/30,end-address=10.20.0.5",
            },
        ),
        _locked_param(SUBNET_FAILED, "dhcp-range", "start-address must be a singular IP"),
    ),
    case(
        "dhcp-ranges that overlap",
        (
            "POST",
            SUBNETS,
            {
                "subnet": "10.20.0.0/24",
                "type": "subnet",
                RANGE: [
                    "start-address=10.20.0.10,end-address=10.20.0.20",
                    "start-address=10.20.0.20,end-address=10.20.0.30",
                ],
            },
        ),
        _locked_param(SUBNET_FAILED, "dhcp-range", "dhcp ranges must not overlap"),
    ),
    case(
        "subnet on a vlanaware vnet",
        ("POST", f"{SDN}/vnets/trunk/subnets", {"subnet": "10.20.0.0/24", "type": "subnet"}),
        _locked_param(SUBNET_FAILED, "vnet", "you can't add a subnet on a vlanaware vnet"),
        setup=[
            *NAT_SETUP,
            ("POST", f"{SDN}/vnets", {"vnet": "trunk", "zone": "labnat", "vlanaware": 1}),
        ],
    ),
    case(
        "subnet read through another vnet",
        ("GET", f"{SDN}/vnets/other/subnets/{NAT_SUBNET_ID}", {}),
        _param({"vnet": "wrong vnet"}),
        setup=[*NAT_SETUP, ("POST", f"{SDN}/vnets", {"vnet": "other", "zone": "labnat"})],
    ),
    case(
        "subnet read of a missing subnet",
        ("GET", f"{SUBNETS}/labnat-10.99.0.0-24", {}),
        _plain("sdn subnet 'labnat-10.99.0.0-24' does not exist\n"),
    ),
    case(
        "subnet id in the path must be a CIDR id",
        ("GET", f"{SUBNETS}/labnat-10.99.0.0", {}),
        _param({"subnet": "invalid format - value does not look like a valid CIDR network\n"}),
    ),
    case(
        "subnet update of a missing subnet",
        ("PUT", f"{SUBNETS}/labnat-10.99.0.0-24", {"snat": 0}),
        _locked("update sdn subnet object", "sdn subnet 'labnat-10.99.0.0-24' does not exist\n"),
    ),
    case(
        "subnet delete of a missing one in an IPAM zone (PVE IPAM has no such subnet)",
        ("DELETE", f"{SUBNETS}/labnat-10.99.0.0-24", {}),
        _locked("delete sdn subnet object", "zone '' doesn't exist in IPAM DB\n"),
    ),
    case(
        "apply of a zone type the simulator cannot render",
        ("PUT", SDN, {}),
        _plain(
            "simulator: cannot apply zone 'vz' of type 'vlan' "
            "(only 'simple' zones are simulated)\n",
            status=501,
        ),
        setup=[("POST", f"{SDN}/zones", {"zone": "vz", "type": "vlan", "bridge": "vmbr0"})],
    ),
]


@pytest.mark.parametrize("case", ERROR_CASES)
def test_bad_request_gets_proxmox_error_and_disk_is_unchanged(
    sdn: NodeApi, case: ErrorCase
) -> None:
    """The failing call answers exactly as pve-network does, and no SDN or node file changes."""
    run(sdn, case.setup)
    before = disk(sdn)
    method, path, params = case.call
    answer: Answer = sdn.call(method, path, **params)
    assert (answer.status, answer.message, answer.errors) == (
        case.status,
        case.message,
        case.errors,
    )
    assert disk(sdn) == before


# --- quieter paths ----------------------------------------------------------------------------


def test_deleting_a_missing_subnet_outside_ipam_succeeds(sdn: NodeApi) -> None:
    """DELETE of a subnet that does not exist is no error when the zone has no IPAM."""
    run(
        sdn,
        [
            ("POST", f"{SDN}/zones", {"zone": "z1", "type": "simple"}),
            ("POST", f"{SDN}/vnets", {"vnet": "v1", "zone": "z1"}),
        ],
    )
    sdn.ok("DELETE", f"{SDN}/vnets/v1/subnets/z1-10.1.0.0-24")


def test_ipam_tracks_subnet_and_gateway(sdn: NodeApi) -> None:
    """A subnet in an ipam=pve zone is registered with its gateway at once; deleting it
    (only the gateway left) removes it from the IPAM state."""
    run(sdn, NAT_SETUP)
    state = sdn.cluster.sdn.ipam_db()
    assert state == {
        "zones": {"labnat": {"subnets": {"10.10.10.0/24": {"ips": {"10.10.10.1": {"gateway": 1}}}}}}
    }
    sdn.ok("DELETE", f"{SUBNETS}/{NAT_SUBNET_ID}")
    assert sdn.cluster.sdn.ipam_db() == {"zones": {"labnat": {"subnets": {}}}}


def test_zone_index_filters_by_type(sdn: NodeApi) -> None:
    """GET /cluster/sdn/zones?type= lists only zones of that plugin type."""
    run(
        sdn,
        [*NAT_SETUP, ("POST", f"{SDN}/zones", {"zone": "vz", "type": "vlan", "bridge": "vmbr0"})],
    )
    assert [z["zone"] for z in sdn.ok("GET", f"{SDN}/zones", type="vlan")] == ["vz"]
    assert [z["zone"] for z in sdn.ok("GET", f"{SDN}/zones")] == ["labnat", "vz"]
