"""SdnNetwork against the simulator over HTTPS: one lock, one apply, verified, rolled back.

Each test drives the provider as the engine does (check, then create /
update / delete / read with the previous outputs) and asserts what an
operator would notice: the node's ``/etc/network/interfaces.d/sdn``, the SDN
config in the API, the calls in the request log, the error text.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2 as pb

from provider.errors import ForeignPendingChanges, NodeError
from provider.sdn import client as sdn_client
from provider.sdn.model import require_sdn
from provider.sdn.plan import SdnState, SubnetState, VnetState, ZoneState, plan
from provider.sdn.render import render_vnet
from provider.sdn.resource import SdnNetworkProvider
from simulator.faults import Fault
from simulator.node import INTERFACES_NEW, SDN_INTERFACES
from simulator.testing import SimulatorHandle, running_simulator
from tests.provider.conftest import configure_for, stack_config
from tests.provider.grpc_harness import PROVIDER_KEY, provider_process

SDN = "/cluster/sdn"
WRITES = ("POST", "PUT", "DELETE")
NAT_SUBNET_ID = "labnat-10.10.10.0-24"
NAT: dict[str, Any] = {
    "zone": "labnat",
    "vnet": "labnet",
    "alias": "Lab NAT",
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
ROUTED: dict[str, Any] = {
    "zone": "pubrt",
    "vnet": "pubnet",
    "mtu": 1450,
    "subnets": [{"cidr": "203.0.113.16/28", "gateway": "203.0.113.17"}],
}

# What pve-network's SimplePlugin writes for the NAT vnet on pve1 (vmbr0 holds 192.168.10.2
# and the default route), and for the routed vnet (pve-network src/test/zones/simple/*).
SNAT = "POSTROUTING -s '10.10.10.0/24' -o vmbr0 -j SNAT --to-source 192.168.10.2"
NAT_STANZA = (
    "auto labnet\n"
    "iface labnet\n"
    "\taddress 10.10.10.1/24\n"
    f"\tpost-up iptables -t nat -A {SNAT}\n"
    f"\tpost-down iptables -t nat -D {SNAT}\n"
    "\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1\n"
    "\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1\n"
    "\tbridge_ports none\n"
    "\tbridge_stp off\n"
    "\tbridge_fd 0\n"
    "\talias Lab NAT\n"
    "\tip-forward on\n"
)
ROUTED_STANZA = (
    "auto pubnet\n"
    "iface pubnet\n"
    "\taddress 203.0.113.17/28\n"
    "\tbridge_ports none\n"
    "\tbridge_stp off\n"
    "\tbridge_fd 0\n"
    "\tmtu 1450\n"
    "\tip-forward on\n"
)


def configured(sim: SimulatorHandle) -> SdnNetworkProvider:
    """An SdnNetworkProvider configured for the simulator."""
    return configure_for(SdnNetworkProvider(), sim)


@pytest.fixture
def sdn(simulator: SimulatorHandle) -> SdnNetworkProvider:
    """An SdnNetworkProvider talking to the test's simulator over verified HTTPS."""
    return configured(simulator)


@pytest.fixture
def cluster() -> Iterator[SimulatorHandle]:
    """A two-node simulator: pve1 (192.168.10.2) and pve2 (192.168.10.3)."""
    with running_simulator(nodes=("pve1", "pve2")) as sim:
        yield sim


def checked(provider: SdnNetworkProvider, news: dict[str, Any]) -> dict[str, Any]:
    """Inputs after check, failing the test on any check failure."""
    result = provider.check({}, dict(news))
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


def create(provider: SdnNetworkProvider, news: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """check + create; the id and outputs."""
    created = provider.create(checked(provider, news))
    return str(created.id), dict(created.outs or {})


def update(
    provider: SdnNetworkProvider, rid: str, olds: dict[str, Any], news: dict[str, Any]
) -> dict[str, Any]:
    """check + diff + update with the previous outputs as olds; the new outputs."""
    inputs = checked(provider, news)
    assert provider.diff(rid, olds, inputs).changes
    return dict(provider.update(rid, olds, inputs).outs or {})


def sdn_file(sim: SimulatorHandle, node: str = "pve1") -> str | None:
    """The node's /etc/network/interfaces.d/sdn."""
    return sim.files(node)[SDN_INTERFACES]


def writes(sim: SimulatorHandle) -> list[tuple[str, str]]:
    """Every write request since the log was cleared, as (method, path)."""
    return [(e.method, e.path) for e in sim.requests.entries() if e.method in WRITES]


def sdn_config(sim: SimulatorHandle, **view: int) -> dict[str, list[dict[str, Any]]]:
    """Zones, vnets and every vnet's subnets in a view (current, running=1), digests dropped."""
    api = sim.proxmox().cluster.sdn
    vnets = api.vnets.get(**view)
    subnets = [s for v in api.vnets.get() for s in api.vnets(v["vnet"]).subnets.get(**view)]
    return {
        kind: [{k: v for k, v in item.items() if k != "digest"} for item in items]
        for kind, items in (
            ("zones", api.zones.get(**view)),
            ("vnets", vnets),
            ("subnets", subnets),
        )
    }


# --- create --------------------------------------------------------------------------------------


def test_nat_create_is_one_locked_apply_and_writes_what_pve_network_writes(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Zone, vnet and subnet are written under the SDN lock and applied once; pve1's sdn file
    is byte for byte what pve-network writes for a NAT vnet, and `rendered` previewed it."""
    inputs = checked(sdn, NAT)
    assert inputs["rendered"] == NAT_STANZA
    simulator.requests.clear()
    created = sdn.create(inputs)
    assert str(created.id).startswith("labnat/labnet#")
    assert sdn_file(simulator) == "#version:1\n\n" + NAT_STANZA
    assert writes(simulator) == [
        ("POST", f"{SDN}/lock"),
        ("POST", f"{SDN}/zones"),
        ("POST", f"{SDN}/vnets"),
        ("POST", f"{SDN}/vnets/labnet/subnets"),
        ("PUT", SDN),
    ]
    logged = [e for e in simulator.requests.entries() if e.method in WRITES][1:]
    assert all("lock-token" in e.params for e in logged)
    assert logged[-1].params["release-lock"] == "1"
    assert simulator.cluster.sdn.lock() is None
    zone = simulator.proxmox().cluster.sdn.zones("labnat").get(running=1)
    assert (zone["type"], zone["ipam"], zone["dhcp"]) == ("simple", "pve", "dnsmasq")
    subnet = simulator.proxmox().cluster.sdn.vnets("labnet").subnets(NAT_SUBNET_ID).get()
    assert subnet["dhcp-range"] == [
        {"start-address": "10.10.10.100", "end-address": "10.10.10.200"}
    ]
    assert subnet["dhcp-dns-server"] == "10.10.10.1"
    outs = created.outs or {}
    assert outs["active_nodes"] == ["pve1"]
    assert outs["subnets"] == inputs["subnets"]


def test_routed_create_writes_the_gateway_without_snat(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """A routed vnet: the gateway address, the zone's mtu, forwarding on, no SNAT rules, and a
    zone without DHCP."""
    _, outs = create(sdn, ROUTED)
    assert sdn_file(simulator) == "#version:1\n\n" + ROUTED_STANZA
    assert outs["rendered"] == ROUTED_STANZA
    zone = simulator.proxmox().cluster.sdn.zones("pubrt").get()
    assert (zone["mtu"], zone.get("dhcp")) == (1450, None)


def test_nodes_limit_where_the_vnet_runs_and_snat_names_each_nodes_uplink(
    cluster: SimulatorHandle,
) -> None:
    """With nodes=[pve2] only pve2 runs the vnet (its own address in the SNAT rule); pve1's file
    holds just the version. Without nodes, `rendered` shows each node's stanza."""
    provider = configured(cluster)
    _, outs = create(provider, {**NAT, "nodes": ["pve2"]})
    assert outs["active_nodes"] == ["pve2"]
    assert sdn_file(cluster, "pve1") == "#version:1\n"
    pve2 = NAT_STANZA.replace("192.168.10.2", "192.168.10.3")
    assert sdn_file(cluster, "pve2") == "#version:1\n\n" + pve2
    assert outs["rendered"] == pve2
    everywhere = checked(provider, {**NAT, "nodes": None})["rendered"]
    assert everywhere == (
        f"# pve1: {SDN_INTERFACES}\n{NAT_STANZA}\n# pve2: {SDN_INTERFACES}\n{pve2}"
    )


def test_unknown_node_fails_at_preview_and_is_refused_before_any_write(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """A node the cluster does not have is named, with the cluster's nodes: in check when the
    cluster can be read, and again by create before any write."""
    failures = sdn.check({}, {**ROUTED, "nodes": ["pve1", "pve9"]}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("nodes[1]", "'pve9' is not a node of this cluster (pve1)")
    ]
    inputs = checked(SdnNetworkProvider(), {**ROUTED, "nodes": ["pve9"]})  # no connection
    simulator.requests.clear()
    with pytest.raises(NodeError, match=r"zone pubrt: nodes pve9 are not nodes of this cluster"):
        sdn.create(inputs)
    assert writes(simulator) == []


def test_without_a_connection_check_renders_placeholders_for_the_uplink() -> None:
    """No stack config: check still validates and renders, with <uplink> placeholders."""
    inputs = checked(SdnNetworkProvider(), NAT)
    assert "-o <uplink> -j SNAT --to-source <uplink-address>" in inputs["rendered"]


# --- update, delete ------------------------------------------------------------------------------


def test_update_writes_only_what_changed(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Changing the alias writes the vnet only; adding a subnet posts only that subnet; a
    dropped DHCP range and DNS server go with delete=; each change is one apply."""
    rid, outs = create(sdn, NAT)
    simulator.requests.clear()
    outs = update(sdn, rid, outs, {**NAT, "alias": "Lab"})
    assert writes(simulator) == [
        ("POST", f"{SDN}/lock"),
        ("PUT", f"{SDN}/vnets/labnet"),
        ("PUT", SDN),
    ]
    assert "\talias Lab\n" in (sdn_file(simulator) or "")

    simulator.requests.clear()
    second = {"cidr": "10.10.20.0/24", "gateway": "10.10.20.1"}
    outs = update(sdn, rid, outs, {**NAT, "alias": "Lab", "subnets": [*NAT["subnets"], second]})
    assert writes(simulator)[1:] == [("POST", f"{SDN}/vnets/labnet/subnets"), ("PUT", SDN)]
    assert "\taddress 10.10.20.1/24\n" in (sdn_file(simulator) or "")

    simulator.requests.clear()
    plain = {"cidr": "10.10.10.0/24", "gateway": "10.10.10.1", "snat": True}
    update(sdn, rid, outs, {**NAT, "alias": "Lab", "subnets": [plain, second]})
    changed = [e for e in simulator.requests.entries() if e.method in WRITES][1:]
    assert [(e.method, e.path) for e in changed] == [
        ("PUT", f"{SDN}/zones/labnat"),
        ("PUT", f"{SDN}/vnets/labnet/subnets/{NAT_SUBNET_ID}"),
        ("PUT", SDN),
    ]
    assert changed[0].params["delete"] == "dhcp"
    assert changed[1].params["delete"] == "dhcp-dns-server,dhcp-range"


def test_unchanged_inputs_diff_to_no_change_and_write_nothing(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Same inputs: diff reports no change; an update anyway writes and applies nothing."""
    rid, outs = create(sdn, NAT)
    inputs = checked(sdn, NAT)
    assert not sdn.diff(rid, outs, inputs).changes
    simulator.requests.clear()
    sdn.update(rid, outs, inputs)
    assert writes(simulator) == []


def test_delete_removes_subnets_vnet_zone_in_order_with_one_apply(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Delete leaves no zone, vnet or subnet, pending or running, and an sdn file without the
    vnet."""
    rid, outs = create(sdn, NAT)
    simulator.requests.clear()
    sdn.delete(rid, outs)
    assert writes(simulator) == [
        ("POST", f"{SDN}/lock"),
        ("DELETE", f"{SDN}/vnets/labnet/subnets/{NAT_SUBNET_ID}"),
        ("DELETE", f"{SDN}/vnets/labnet"),
        ("DELETE", f"{SDN}/zones/labnat"),
        ("PUT", SDN),
    ]
    assert sdn_file(simulator) == "#version:2\n"
    empty: dict[str, list[Any]] = {"zones": [], "vnets": [], "subnets": []}
    assert sdn_config(simulator) == empty
    assert sdn_config(simulator, running=1) == empty
    assert simulator.proxmox().nodes("pve1").network.get(type="vnet") == []


def test_delete_refuses_a_zone_that_holds_another_vnet(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """A vnet someone added to our zone is named and nothing is written."""
    rid, outs = create(sdn, ROUTED)
    api = simulator.proxmox().cluster.sdn
    api.vnets.post(vnet="extra", zone="pubrt")
    api.put()
    simulator.requests.clear()
    with pytest.raises(NodeError, match=r"zone pubrt also holds vnet\(s\) extra"):
        sdn.delete(rid, outs)
    assert writes(simulator) == []


def test_changing_an_id_replaces_and_removes_first_when_one_id_stays(
    sdn: SdnNetworkProvider,
) -> None:
    """zone and vnet are identity; a new vnet in the same zone must delete before create."""
    olds = checked(sdn, ROUTED)
    renamed = checked(sdn, {**ROUTED, "vnet": "pubnet2"})
    diff = sdn.diff("pubrt/pubnet", olds, renamed)
    assert (diff.replaces, diff.delete_before_replace) == (["vnet"], True)
    both = checked(sdn, {**ROUTED, "zone": "pub2", "vnet": "pubnet2"})
    diff = sdn.diff("pubrt/pubnet", olds, both)
    assert (sorted(diff.replaces or []), diff.delete_before_replace) == (["vnet", "zone"], False)
    diff = sdn.diff("pubrt/pubnet", olds, checked(sdn, {**ROUTED, "mtu": 1400}))
    assert (diff.changes, diff.replaces) == (True, [])


# --- refusals before any write -------------------------------------------------------------------


def test_foreign_pending_sdn_change_is_refused(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Someone's unapplied SDN change would be applied along with ours: refused, named, and
    left as it is."""
    simulator.proxmox().cluster.sdn.zones.post(zone="other", type="simple")
    inputs = checked(sdn, NAT)
    simulator.requests.clear()
    with pytest.raises(ForeignPendingChanges, match=r"pending changes .*: zone other \(new\)"):
        sdn.create(inputs)
    assert writes(simulator) == []
    assert [z["zone"] for z in simulator.proxmox().cluster.sdn.zones.get()] == ["other"]


def test_pending_interfaces_new_on_a_node_is_refused(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """An SDN apply reloads every node, committing staged interfaces.new changes too: refused,
    with the node and its diff, and nothing written."""
    simulator.proxmox().nodes("pve1").network.post(iface="vmbr9", type="bridge", autostart=1)
    inputs = checked(sdn, NAT)
    simulator.requests.clear()
    with pytest.raises(ForeignPendingChanges) as refused:
        sdn.create(inputs)
    message = str(refused.value)
    assert message.startswith("pve1: the node has staged network changes")
    assert "+auto vmbr9" in message
    assert writes(simulator) == []
    assert simulator.files()[INTERFACES_NEW] is not None


def test_existing_zone_or_vnet_is_refused(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Ids that exist already are not taken over."""
    api = simulator.proxmox().cluster.sdn
    api.zones.post(zone="labnat", type="simple")
    api.put()
    inputs = checked(sdn, NAT)
    simulator.requests.clear()
    with pytest.raises(NodeError, match=r"zone 'labnat' already exist .* not this resource's"):
        sdn.create(inputs)
    assert writes(simulator) == []


def test_lock_held_by_another_client_is_refused_and_left_alone(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another client's SDN lock: pvenet waits a little, then refuses without breaking it."""
    monkeypatch.setattr(sdn_client, "SDN_LOCK_ATTEMPTS", 2)
    monkeypatch.setattr(sdn_client, "SDN_LOCK_BACKOFF_S", 0.01)
    token = simulator.proxmox().cluster.sdn.lock.post()
    inputs = checked(sdn, NAT)
    simulator.requests.clear()
    with pytest.raises(NodeError, match="locked by another client"):
        sdn.create(inputs)
    assert simulator.cluster.sdn.lock() == token
    assert [m for m, _ in writes(simulator) if m != "POST"] == []


# --- failures: rolled back, restored ------------------------------------------------------------


def test_apply_task_failure_restores_the_previous_config(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """The apply task fails after the commit: pvenet writes the previous objects back, applies
    again, and says so; pending and running config are as before."""
    rid, outs = create(sdn, NAT)
    before_pending, before_running = sdn_config(simulator), sdn_config(simulator, running=1)
    simulator.faults.arm(Fault("task-fail", method="PUT", path=SDN))
    inputs = checked(sdn, {**NAT, "alias": "Changed"})
    with pytest.raises(NodeError) as failed:
        sdn.update(rid, outs, inputs)
    message = str(failed.value)
    assert "the SDN apply task failed: command 'ifreload -a' failed: exit code 1" in message
    assert "restored the previous SDN configuration and applied it" in message
    assert sdn_config(simulator) == before_pending
    assert sdn_config(simulator, running=1) == before_running
    assert "\talias Lab NAT\n" in (sdn_file(simulator) or "")
    assert simulator.cluster.sdn.lock() is None


def test_a_node_whose_reload_fails_is_noticed_though_the_apply_task_ends_ok(
    cluster: SimulatorHandle,
) -> None:
    """pve2 cannot load its network: the SDN apply task still ends OK, pvenet reads pve2's own
    reload task, calls the change not live, and puts the previous config back."""
    network = cluster.proxmox().nodes("pve2").network
    network.post(iface="eno9", type="eth")
    network.post(iface="vmbr9", type="bridge", bridge_ports="eno9", autostart=1)
    network.put()  # fails on pve2 (no NIC eno9), leaving the broken file live
    sdn = configured(cluster)
    with pytest.raises(NodeError) as failed:
        create(sdn, NAT)
    message = str(failed.value)
    assert (
        "node pve2.reload: desired 'OK', current \"command 'ifreload -a' failed: exit code 1\""
        in message
    )
    assert "pvenet wrote the previous SDN configuration back and applied it" in message
    empty: dict[str, list[Any]] = {"zones": [], "vnets": [], "subnets": []}
    assert sdn_config(cluster, running=1) == empty


def test_apply_task_failure_on_create_leaves_nothing(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """A failed first apply: the new objects are removed again and that is applied."""
    simulator.faults.arm(Fault("task-fail", method="PUT", path=SDN))
    inputs = checked(sdn, NAT)
    simulator.requests.clear()
    with pytest.raises(NodeError, match="the cluster is as before"):
        sdn.create(inputs)
    assert simulator.requests.count(method="PUT", path_glob=SDN) == 2
    empty: dict[str, list[Any]] = {"zones": [], "vnets": [], "subnets": []}
    assert sdn_config(simulator) == empty
    assert sdn_config(simulator, running=1) == empty
    assert sdn_file(simulator) == "#version:2\n"


@pytest.mark.parametrize(
    ("path", "k"),
    [(f"{SDN}/zones", 1), (f"{SDN}/vnets", 2), (f"{SDN}/vnets/labnet/subnets", 3)],
    ids=["zone", "vnet", "subnet"],
)
def test_kth_write_failure_rolls_back_and_applies_nothing(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider, path: str, k: int
) -> None:
    """A failed k-th write: POST /cluster/sdn/rollback (with the token) undoes the earlier ones;
    nothing is applied, the config and the node are as before, the lock is released."""
    inputs = checked(sdn, NAT)
    before = simulator.files()
    simulator.faults.arm(Fault("error", method="POST", path=path, message="cfs write failed"))
    simulator.requests.clear()
    with pytest.raises(NodeError) as failed:
        sdn.create(inputs)
    message = str(failed.value)
    assert f"SDN write {k} of 3" in message
    assert "HTTP 500: cfs write failed" in message
    assert "rolled back the pending SDN changes, nothing was applied" in message
    assert simulator.requests.count(method="POST", path_glob=f"{SDN}/rollback") == 1
    assert simulator.requests.count(method="PUT", path_glob=SDN) == 0
    assert sdn_config(simulator) == {"zones": [], "vnets": [], "subnets": []}
    assert simulator.cluster.sdn.lock() is None
    assert simulator.files() == before


def test_server_refusal_under_the_lock_reports_its_reason(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """pve-network's reason on the second line of a 500 under the lock reaches the error."""
    rid, outs = create(sdn, ROUTED)
    api = simulator.proxmox().cluster.sdn
    # A guest holds 203.0.113.18 in the zone's PVE IPAM, so the gateway cannot move there.
    state = simulator.cluster.sdn.ipam_db()
    ips = state["zones"]["pubrt"]["subnets"]["203.0.113.16/28"]["ips"]
    ips["203.0.113.18"] = {"vmid": 100}
    simulator.cluster.sdn.write_ipam_db(state)
    moved = {**ROUTED, "subnets": [{"cidr": "203.0.113.16/28", "gateway": "203.0.113.18"}]}
    with pytest.raises(NodeError) as failed:
        update(sdn, rid, outs, moved)
    assert "update sdn subnet object failed: IP '203.0.113.18' already exist" in str(failed.value)
    assert api.vnets("pubnet").subnets("pubrt-203.0.113.16-28").get()["gateway"] == "203.0.113.17"


# --- refresh -------------------------------------------------------------------------------------


def test_refresh_shows_drift_and_update_repairs_it(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """An out-of-band change that was applied shows in read's inputs, diff sees it, and the next
    update puts the declared config back."""
    rid, outs = create(sdn, NAT)
    api = simulator.proxmox().cluster.sdn
    api.vnets("labnet").subnets(NAT_SUBNET_ID).put(delete="snat")
    api.zones("labnat").put(mtu=1400)
    api.put()
    read = sdn.read(rid, outs)
    assert read.inputs is not None
    assert read.inputs["subnets"][0]["snat"] is False
    assert read.inputs["mtu"] == 1400
    assert "SNAT" not in (read.outs or {})["rendered"]
    declared = checked(sdn, NAT)
    assert sdn.diff(rid, dict(read.outs or {}), declared).changes
    update(sdn, rid, dict(read.outs or {}), NAT)
    assert sdn_file(simulator) == "#version:3\n\n" + NAT_STANZA


def test_refresh_of_a_network_deleted_out_of_band_reports_it_gone(
    simulator: SimulatorHandle, sdn: SdnNetworkProvider
) -> None:
    """Neither zone nor vnet runs any more: read returns an empty id."""
    rid, outs = create(sdn, ROUTED)
    api = simulator.proxmox().cluster.sdn
    api.vnets("pubnet").subnets("pubrt-203.0.113.16-28").delete()
    api.vnets("pubnet").delete()
    api.zones("pubrt").delete()
    api.put()
    assert sdn.read(rid, outs).id == ""


# --- check ---------------------------------------------------------------------------------------


BAD_INPUTS = [
    pytest.param({**NAT, "zone": "lab_nat"}, "zone", "'lab_nat' is not a valid SDN id", id="zone"),
    pytest.param({**NAT, "vnet": "labnetwork"}, "vnet", "2 to 8 letters", id="vnet-length"),
    pytest.param(
        {**NAT, "subnets": [{"cidr": "10.10.10.0/24", "gateway": "10.9.0.1"}]},
        "subnets[0].gateway",
        "labnet: gateway '10.9.0.1' is not inside 10.10.10.0/24",
        id="gateway",
    ),
    pytest.param(
        {**NAT, "subnets": [{"cidr": "10.10.10.0/24"}, {"cidr": "10.10.0.0/16"}]},
        "subnets[1].cidr",
        "labnet: 10.10.0.0/16 overlaps subnets[0] (10.10.10.0/24)",
        id="overlap",
    ),
    pytest.param(
        {
            **NAT,
            "subnets": [
                {
                    "cidr": "10.10.10.0/24",
                    "gateway": "10.10.10.1",
                    "dhcp_ranges": [{"start": "10.10.10.5", "end": "10.10.11.5"}],
                }
            ],
        },
        "subnets[0].dhcp_ranges[0].end",
        "labnet: end 10.10.11.5 is not in 10.10.10.0/24",
        id="dhcp-range",
    ),
    pytest.param(
        {**NAT, "subnets": [{"cidr": "10.10.10.0/24", "snat": True}]},
        "subnets[0].snat",
        "needs a gateway",
        id="snat-without-gateway",
    ),
    pytest.param({**NAT, "mtu": 99}, "mtu", "99 is outside 1280 to 65520", id="mtu"),
    pytest.param({**NAT, "mtu": True}, "mtu", "True is not a whole number", id="mtu-bool"),
    pytest.param(
        {**NAT, "alias": "Lab NAT\\"},
        "alias",
        "ifupdown2 joins lines at every backslash",
        id="alias-swallowing-ip-forward",
    ),
    pytest.param(
        {**NAT, "subnets": [{"cidr": "10.10.10.0/24", "gateway": "10.10.10.0"}]},
        "subnets[0].gateway",
        "labnet: gateway '10.10.10.0' is the network address of 10.10.10.0/24",
        id="gateway-network-address",
    ),
    pytest.param(
        {**NAT, "gateway": "10.10.10.1"},
        "gateway",
        "'gateway' is not an input of SdnNetwork (got '10.10.10.1'); its inputs are zone,",
        id="unknown-input",
    ),
]


@pytest.mark.parametrize(("news", "path", "reason"), BAD_INPUTS)
def test_bad_inputs_fail_in_check_with_property_paths_and_no_writes(
    simulator: SimulatorHandle,
    sdn: SdnNetworkProvider,
    news: dict[str, Any],
    path: str,
    reason: str,
) -> None:
    """Proxmox's id rules and the subnet rules fail at preview, at the property, unwritten."""
    simulator.requests.clear()
    result = sdn.check({}, news)
    assert [f.property for f in result.failures] == [path]
    assert reason in result.failures[0].reason
    assert writes(simulator) == []


def test_check_normalises_and_tolerates_unknowns(sdn: SdnNetworkProvider) -> None:
    """Floats become ints, subnets are sorted; unknown inputs skip validation and rendering."""
    from pulumi.output import Unknown  # noqa: PLC0415 - only this test needs it

    inputs = checked(
        sdn,
        {
            **ROUTED,
            "mtu": 1450.0,
            "nodes": ["pve1", "pve1"],
            "subnets": [{"cidr": "203.0.113.32/28", "gateway": "203.0.113.33"}, *ROUTED["subnets"]],
        },
    )
    assert inputs["mtu"] == 1450
    assert inputs["nodes"] == ["pve1"]
    assert [s["cidr"] for s in inputs["subnets"]] == ["203.0.113.16/28", "203.0.113.32/28"]
    preview = sdn.check({}, {**ROUTED, "vnet": Unknown()})
    assert not preview.failures
    assert "rendered" not in preview.inputs
    assert sdn.check({}, {**ROUTED, "zone": Unknown(), "mtu": 5}).failures[0].property == "mtu"


# --- the engine's path: python -m pulumi.dynamic over gRPC ----------------------------------------


def test_lifecycle_through_the_dynamic_provider_plugin(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    """The provider pickled as the SDK pickles it, served by ``python -m pulumi.dynamic``:
    engine floats become ints, create applies, an unchanged diff is no change, refresh reads
    the running config, update and delete apply once each."""
    pickled = str(_serialize(True, serialize_provider, SdnNetworkProvider())[0])
    with provider_process(tmp_path / "plugin") as engine:
        assert engine.configure(stack_config(simulator)).acceptSecrets is False
        news = {PROVIDER_KEY: pickled, **ROUTED, "mtu": 1450.0}
        outcome = engine.check(news)
        assert outcome.failures == []
        assert (outcome.inputs["mtu"], outcome.inputs["rendered"]) == (1450, ROUTED_STANZA)
        rid, outs = engine.create(outcome.inputs)
        assert rid.startswith("pubrt/pubnet#")
        assert sdn_file(simulator) == "#version:1\n\n" + ROUTED_STANZA
        assert engine.diff(rid, outs, outcome.inputs).changes == pb.DiffResponse.DIFF_NONE
        read = engine.read(rid, outs, outcome.inputs)
        assert read.inputs is not None
        assert read.inputs["subnets"] == outcome.inputs["subnets"]
        changed = engine.check({**news, "mtu": 1400.0}).inputs
        outs = engine.update(rid, outs, changed)
        assert "\tmtu 1400\n" in (sdn_file(simulator) or "")
        engine.delete(rid, outs)
        assert sdn_file(simulator) == "#version:3\n"
        assert simulator.requests.count(method="PUT", path_glob=SDN) == 3


# --- the pure parts: plan and renderer -----------------------------------------------------------


def test_the_sdn_core_imports_no_client_and_no_pulumi() -> None:
    """provider.sdn.model, plan and render load without proxmoxer, requests or pulumi."""
    code = (
        "import provider.sdn.model, provider.sdn.plan, provider.sdn.render, sys; "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('proxmoxer', 'requests', 'pulumi')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "[]"


def test_routed_stanza_orders_subnets_by_id_with_a_host_route_for_a_32() -> None:
    """pve-network's order: subnets sorted by id as strings (IPv6 '2001:' before '203.'), the
    /32's route (its gateway may lie outside), mtu, then ip-forward and ip6-forward."""
    spec = require_sdn(
        {
            "zone": "pubrt",
            "vnet": "pubnet",
            "mtu": 1450,
            "subnets": [
                {"cidr": "203.0.113.16/28", "gateway": "203.0.113.17"},
                {"cidr": "203.0.113.50/32", "gateway": "203.0.113.17"},
                {"cidr": "2001:db8::/64", "gateway": "2001:db8::1"},
            ],
        }
    )
    assert render_vnet(spec) == (
        "auto pubnet\niface pubnet\n"
        "\taddress 2001:db8::1/64\n"
        "\taddress 203.0.113.17/28\n"
        "\tup ip route add 203.0.113.50/32 dev pubnet\n"
        "\tbridge_ports none\n\tbridge_stp off\n\tbridge_fd 0\n"
        "\tmtu 1450\n"
        "\tip-forward on\n\tip6-forward on\n"
    )


def _state(**subnets: SubnetState) -> SdnState:
    zone = ZoneState(ipam="pve")
    return SdnState(zone, VnetState("labnat"), dict(subnets))


def test_plan_orders_writes_so_every_one_is_accepted() -> None:
    """Create: zone, vnet, subnets. Update: changed and new subnets first, removed ones last.
    Remove: subnets, vnet, zone. A change of the zone's IPAM deletes and recreates subnets."""
    gateway = SubnetState(gateway="10.0.0.1")
    created = plan("labnat", "labnet", SdnState(), _state(a=gateway))
    assert [str(s) for s in created] == [
        "create zone labnat",
        "create vnet labnet",
        "create subnet a",
    ]
    updated = plan(
        "labnat",
        "labnet",
        _state(a=gateway, b=gateway),
        _state(a=SubnetState(gateway="10.0.0.2"), c=gateway),
    )
    assert [str(s) for s in updated] == ["update subnet a", "create subnet c", "delete subnet b"]
    removed = plan("labnat", "labnet", _state(a=gateway), SdnState())
    assert [str(s) for s in removed] == [
        "delete subnet a",
        "delete vnet labnet",
        "delete zone labnat",
    ]
    no_ipam = SdnState(ZoneState(), VnetState("labnat"), {"a": gateway})
    switched = plan("labnat", "labnet", _state(a=gateway), no_ipam)
    assert [str(s) for s in switched] == [
        "delete subnet a",
        "update zone labnat",
        "create subnet a",
    ]
    assert plan("labnat", "labnet", _state(a=gateway), _state(a=gateway)) == []
