"""NodeInterfaces against the simulator over HTTPS: one plan, one apply, verified, safe.

Each test drives the provider as the engine does (check, then create / update
/ delete / read with the previous outputs) and asserts what an operator would
notice: the node's files, the API calls in the request log, the error text.
"""

from __future__ import annotations

import re
from typing import Any

import pulumi
import pytest

from provider.errors import ForeignPendingChanges, NodeError
from provider.node import plan as plan_module
from provider.node.resource import NodeInterfacesProvider
from simulator.faults import Fault
from simulator.node import INTERFACES, INTERFACES_NEW
from simulator.testing import SimulatorHandle
from tests.programs import writes

NETWORK = "/nodes/pve1/network"
VMBR0 = {
    "iface": "vmbr0",
    "type": "bridge",
    "bridge_ports": ["eno1"],
    "cidr": "192.168.10.2/24",
    "gateway": "192.168.10.1",
}


def checked(
    provider: NodeInterfacesProvider, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Inputs after check, failing the test on any check failure."""
    result = provider.check(olds or {}, news)
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


def create(provider: NodeInterfacesProvider, **news: Any) -> tuple[str, dict[str, Any]]:
    """check + create; the id and outputs."""
    created = provider.create(checked(provider, {"node": "pve1", **news}))
    return str(created.id), dict(created.outs or {})


def update(
    provider: NodeInterfacesProvider, rid: str, olds: dict[str, Any], **news: Any
) -> dict[str, Any]:
    """check + diff + update with the previous outputs as olds; the new outputs."""
    inputs = checked(provider, {"node": "pve1", **news}, olds)
    assert provider.diff(rid, olds, inputs).changes
    return dict(provider.update(rid, olds, inputs).outs or {})


def node_config(sim: SimulatorHandle) -> dict[str, dict[str, Any]]:
    """Every interface as the API lists it, without its position in the file."""
    listed = sim.proxmox().nodes("pve1").network.get()
    return {i["iface"]: {k: v for k, v in i.items() if k != "priority"} for i in listed}


def applies(sim: SimulatorHandle) -> int:
    """How many network reloads the node was asked for."""
    return sim.requests.count(method="PUT", path_glob=NETWORK)


def test_moving_vmbr0_onto_a_new_bond_is_one_update_with_one_apply(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """vmbr0 and the host address move from eno1 onto bond0(eno1, eno2): one reload."""
    rid, outs = create(node_interfaces, interfaces=[VMBR0], adopt=True)
    simulator.requests.clear()
    bond = {
        "iface": "bond0",
        "type": "bond",
        "slaves": ["eno1", "eno2"],
        "bond_mode": "802.3ad",
        "bond_xmit_hash_policy": "layer3+4",
    }
    outs = update(
        node_interfaces,
        rid,
        outs,
        interfaces=[bond, {**VMBR0, "bridge_ports": ["bond0"]}],
        adopt=True,
        allow_management_change=True,
    )
    assert applies(simulator) == 1
    files = simulator.files()
    assert files[INTERFACES_NEW] is None
    assert (files[INTERFACES] or "").split("\n\n", 1)[1] == (
        "auto lo\niface lo inet loopback\n\n"
        "auto eno1\niface eno1 inet manual\n\n"
        "auto eno2\niface eno2 inet manual\n\n"
        "iface eno3 inet manual\n\n"
        "iface eno4 inet manual\n\n"
        "auto bond0\niface bond0 inet manual\n\tbond-slaves eno1 eno2\n\tbond-miimon 100\n"
        "\tbond-mode 802.3ad\n\tbond-xmit-hash-policy layer3+4\n\n"
        "auto vmbr0\niface vmbr0 inet static\n\taddress 192.168.10.2/24\n\tgateway 192.168.10.1\n"
        "\tbridge-ports bond0\n\tbridge-stp off\n\tbridge-fd 0\n\n"
        "source /etc/network/interfaces.d/*\n"
    )
    assert outs["live"]["vmbr0"]["bridge_ports"] == ["bond0"]


def _big_set() -> list[dict[str, Any]]:
    bonds = [
        {"iface": "bond0", "type": "bond", "slaves": ["eno2"], "bond_mode": "active-backup"},
        {"iface": "bond1", "type": "bond", "slaves": ["eno3", "eno4"], "bond_mode": "802.3ad"},
    ]
    bridges = [
        {"iface": "vmbr1", "type": "bridge", "bridge_ports": ["bond0"], "bridge_vlan_aware": True},
        {"iface": "vmbr2", "type": "bridge", "bridge_ports": ["bond1"], "mtu": 1500},
        {"iface": "vmbr3", "type": "bridge", "cidr": "10.3.0.1/24", "comments": "lab"},
        {"iface": "vmbr4", "type": "bridge", "cidr": "10.4.0.1/24"},
        {"iface": "vmbr5", "type": "bridge"},
    ]
    vlans = [
        {"iface": "vmbr1.10", "type": "vlan", "cidr": "10.10.0.2/24"},
        {"iface": "vmbr1.20", "type": "vlan"},
        {"iface": "bond1.30", "type": "vlan", "cidr": "10.30.0.2/24"},
        {"iface": "vlan40", "type": "vlan", "vlan_raw_device": "vmbr5"},
    ]
    return bonds + bridges + vlans


def test_big_set_is_created_with_one_apply_and_an_update_stages_one_interface(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """5 bridges, 2 bonds and 4 VLANs come up with one reload; changing one rewrites only it."""
    simulator.requests.clear()
    rid, outs = create(node_interfaces, interfaces=_big_set())
    assert applies(simulator) == 1
    live = simulator.files()[INTERFACES] or ""
    for name in ("bond0", "bond1", "vmbr1", "vmbr5", "vmbr1.10", "bond1.30", "vlan40"):
        assert f"\nauto {name}\niface {name} " in live
    simulator.requests.clear()
    changed = [dict(i, comments="lab v2") if i["iface"] == "vmbr3" else i for i in _big_set()]
    update(node_interfaces, rid, outs, interfaces=changed)
    staged = [e for e in simulator.requests.entries() if e.method in ("POST", "PUT", "DELETE")]
    assert [(e.method, e.path) for e in staged] == [
        ("PUT", f"{NETWORK}/vmbr3"),
        ("PUT", NETWORK),
    ]
    assert "#lab v2\n" in (simulator.files()[INTERFACES] or "")


def test_no_change_means_no_write_and_no_apply(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """An update whose inputs equal the node stages nothing, does not reload, and reads the
    node once (nothing it would change is on a path to an address: no cluster read)."""
    rid, outs = create(node_interfaces, interfaces=[{"iface": "vmbr7", "type": "bridge"}])
    inputs = checked(
        node_interfaces,
        {"node": "pve1", "interfaces": [{"iface": "vmbr7", "type": "bridge"}]},
        outs,
    )
    assert not node_interfaces.diff(rid, outs, inputs).changes
    simulator.requests.clear()
    node_interfaces.update(rid, outs, inputs)
    assert [(e.method, e.path) for e in simulator.requests.entries()] == [("GET", NETWORK)]


def test_the_change_check_planned_is_not_planned_again_unless_the_node_changed(
    simulator: SimulatorHandle,
    node_interfaces: NodeInterfacesProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """check plans the change on the node as it reads it; create, reading the same node under
    its lock, reuses that plan. A node changed between the two is planned again from what
    create reads."""
    monkeypatch.setattr(plan_module, "_recent", ())  # other tests planned on such a node
    made: list[str] = []
    fresh_plan = plan_module.fresh_plan
    monkeypatch.setattr(
        plan_module, "fresh_plan", lambda *inputs: made.append("plan") or fresh_plan(*inputs)
    )
    inputs = checked(
        node_interfaces, {"node": "pve1", "interfaces": [{"iface": "vmbr7", "type": "bridge"}]}
    )
    node_interfaces.create(inputs)
    assert made == ["plan"]
    inputs = checked(
        node_interfaces, {"node": "pve1", "interfaces": [{"iface": "vmbr8", "type": "bridge"}]}
    )
    node = simulator.proxmox().nodes("pve1")
    node.network("eno3").put(type="eth", comments="changed meanwhile")
    node.network.put()
    node_interfaces.create(inputs)
    assert made == ["plan", "plan", "plan"]
    assert {"vmbr7", "vmbr8"} <= set(node_config(simulator))


def test_delete_removes_created_and_restores_adopted(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Destroy deletes what the set created and puts adopted interfaces back as they were."""
    before = simulator.files()[INTERFACES]
    rid, outs = create(
        node_interfaces,
        interfaces=[{**VMBR0, "comments": "managed"}, {"iface": "vmbr8", "type": "bridge"}],
        adopt=True,
    )
    assert "#managed" in (simulator.files()[INTERFACES] or "")
    node_interfaces.delete(rid, outs)
    after = simulator.files()[INTERFACES] or ""
    assert "vmbr8" not in after
    assert "#managed" not in after
    assert before is not None
    assert (
        "iface vmbr0 inet static\n\taddress 192.168.10.2/24\n\tgateway 192.168.10.1\n"
        "\tbridge-ports eno1" in after
    )


def test_existing_interface_is_refused_without_adopt(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Creating a set that names an existing interface it would change fails before any
    write, naming it."""
    simulator.requests.clear()
    mine = {**VMBR0, "comments": "mine"}
    with pytest.raises(NodeError, match=r"pve1: vmbr0 already exist on the node; set adopt=True"):
        create(node_interfaces, interfaces=[mine, {"iface": "vmbr9", "type": "bridge"}])
    assert applies(simulator) == 0
    assert all(e.method == "GET" for e in simulator.requests.entries())


def test_an_interface_already_running_as_wanted_is_the_sets_own(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """A create whose answer was lost left vmbr9 live: the next create takes it as done (no
    adopt needed, no apply), and deleting the set deletes it."""
    simulator.proxmox().nodes("pve1").network.post(iface="vmbr9", type="bridge", autostart=1)
    simulator.proxmox().nodes("pve1").network.put()
    simulator.requests.clear()
    rid, outs = create(node_interfaces, interfaces=[{"iface": "vmbr9", "type": "bridge"}])
    assert applies(simulator) == 0
    assert outs["adopted"] == {}
    node_interfaces.delete(rid, outs)
    assert "vmbr9" not in node_config(simulator)


def test_state_from_before_allow_dhcp_to_static_diffs_to_no_change(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Upgrading pvenet adds no update to a stack whose state lacks the new flag."""
    rid, outs = create(node_interfaces, interfaces=[{"iface": "vmbr7", "type": "bridge"}])
    inputs = checked(node_interfaces, {"node": "pve1", "interfaces": outs["interfaces"]}, outs)
    older = {k: v for k, v in outs.items() if k != "allow_dhcp_to_static"}
    assert not node_interfaces.diff(rid, older, inputs).changes
    assert node_interfaces.diff(rid, older, {**inputs, "allow_dhcp_to_static": True}).changes


def test_foreign_pending_changes_block_the_change(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Someone's staged GUI edit is shown, and nothing of ours is staged or applied."""
    simulator.proxmox().nodes("pve1").network.post(iface="vmbr9", type="bridge")
    pending = simulator.files()[INTERFACES_NEW]
    simulator.requests.clear()
    with pytest.raises(ForeignPendingChanges) as caught:
        create(node_interfaces, interfaces=[{"iface": "vmbr7", "type": "bridge"}])
    assert "+iface vmbr9 inet manual" in str(caught.value)
    assert "apply or revert them on the node" in str(caught.value)
    assert simulator.files()[INTERFACES_NEW] == pending
    assert applies(simulator) == 0


def test_lockout_guard_fails_at_preview(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Rewiring the bridge with the management address fails in check, with no writes."""
    simulator.requests.clear()
    news = {
        "node": "pve1",
        "interfaces": [{**VMBR0, "bridge_ports": ["eno2"]}],
        "adopt": True,
    }
    failures = node_interfaces.check({}, news).failures
    assert failures
    assert failures[0].property == "interfaces"
    assert "vmbr0 carries the management path" in failures[0].reason
    assert "allow_management_change=True" in failures[-1].reason
    assert all(e.method == "GET" for e in simulator.requests.entries())
    assert not node_interfaces.check({}, {**news, "allow_management_change": True}).failures


def test_refresh_shows_drift_and_out_of_band_deletes(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Out-of-band edits show in read; an interface deleted by hand leaves the state."""
    rid, outs = create(
        node_interfaces,
        interfaces=[
            {"iface": "vmbr6", "type": "bridge", "cidr": "10.6.0.1/24"},
            {"iface": "vmbr7", "type": "bridge"},
        ],
    )
    api = simulator.proxmox().nodes("pve1").network
    api("vmbr6").put(type="bridge", cidr="10.66.0.1/24")
    api("vmbr7").delete()
    api.put()
    read = node_interfaces.read(rid, outs)
    live = {i["iface"]: i for i in (read.outs or {})["interfaces"]}
    assert list(live) == ["vmbr6"]
    assert live["vmbr6"]["cidr"] == "10.66.0.1/24"
    assert [i["iface"] for i in (read.inputs or {})["interfaces"]] == ["vmbr6"]


def test_failed_write_reverts_and_second_run_converges(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """The 2nd staged write fails with a 500: changes reverted, node as before; a rerun works."""
    before = simulator.files()
    simulator.faults.arm(Fault("error", method="POST", path=NETWORK, nth=2, message="disk full"))
    news = {
        "interfaces": [{"iface": "vmbr6", "type": "bridge"}, {"iface": "vmbr7", "type": "bridge"}]
    }
    with pytest.raises(
        NodeError,
        match=r"staging step 2 of 2 .* failed: HTTP 500: disk full; "
        r"the staged changes were reverted, the node is unchanged",
    ):
        create(node_interfaces, **news)
    assert simulator.files() == before
    create(node_interfaces, **news)
    assert "iface vmbr7" in (simulator.files()[INTERFACES] or "")


def test_lock_timeout_is_retried(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """A write that hits the interfaces lock timeout is retried and the change lands."""
    simulator.faults.arm(Fault("lock-timeout", method="POST", path=NETWORK, times=2))
    create(node_interfaces, interfaces=[{"iface": "vmbr6", "type": "bridge"}])
    assert "iface vmbr6" in (simulator.files()[INTERFACES] or "")
    assert simulator.files()[INTERFACES_NEW] is None


def test_lock_that_never_frees_leaves_node_unchanged(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """A lock that stays taken fails the change with Proxmox's message; nothing is staged."""
    before = simulator.files()
    simulator.faults.arm(Fault("lock-timeout", method="POST", path=NETWORK, times=50))
    with pytest.raises(NodeError, match=r"can't lock file '/etc/network/.pve-interfaces.lock'"):
        create(node_interfaces, interfaces=[{"iface": "vmbr6", "type": "bridge"}])
    assert simulator.files() == before


def test_failed_apply_is_rolled_back(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """The reload task fails: pvenet restores and re-applies the previous config, and says so."""
    before = node_config(simulator)
    simulator.faults.arm(Fault("task-fail", method="PUT", path=NETWORK))
    with pytest.raises(NodeError) as caught:
        create(node_interfaces, interfaces=[{"iface": "vmbr6", "type": "bridge"}])
    message = str(caught.value)
    assert "the apply task failed: command 'ifreload -a' failed: exit code 1" in message
    assert "restored the previous configuration and applied it; the node is as before" in message
    assert node_config(simulator) == before
    assert simulator.files()[INTERFACES_NEW] is None
    assert applies(simulator) == 2
    create(node_interfaces, interfaces=[{"iface": "vmbr6", "type": "bridge"}])
    assert "iface vmbr6" in (simulator.files()[INTERFACES] or "")


def test_dropped_connection_while_staging_reverts(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """A connection dropped mid-staging leaves no pending changes; the next run converges."""
    before = simulator.files()
    simulator.faults.arm(Fault("drop", method="POST", path=NETWORK, nth=2))
    news = {
        "interfaces": [{"iface": "vmbr6", "type": "bridge"}, {"iface": "vmbr7", "type": "bridge"}]
    }
    with pytest.raises(NodeError, match=r"the connection to .* failed"):
        create(node_interfaces, **news)
    assert simulator.files() == before
    create(node_interfaces, **news)
    assert simulator.files()[INTERFACES_NEW] is None


def test_dropped_apply_request_is_retried(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """The apply request is lost before the node saw it: pvenet sees it staged, applies again."""
    simulator.faults.arm(Fault("drop", method="PUT", path=NETWORK))
    create(node_interfaces, interfaces=[{"iface": "vmbr6", "type": "bridge"}])
    assert "iface vmbr6" in (simulator.files()[INTERFACES] or "")
    assert simulator.files()[INTERFACES_NEW] is None


def test_destroying_a_bond_puts_its_nics_back_as_they_were(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Proxmox marks bond slaves `auto`; destroy restores the NICs, so the node is as it started."""
    before = node_config(simulator)
    bond = {"iface": "bond1", "type": "bond", "slaves": ["eno3", "eno4"], "bond_mode": "802.3ad"}
    rid, outs = create(node_interfaces, interfaces=[bond])
    assert node_config(simulator)["eno3"]["autostart"] == 1
    assert sorted(outs["adopted"]) == ["eno3", "eno4"]
    outs = update(node_interfaces, rid, outs, interfaces=[{**bond, "slaves": ["eno3"]}])
    assert "autostart" not in node_config(simulator)["eno4"]
    assert sorted(outs["adopted"]) == ["eno3"]
    node_interfaces.delete(rid, outs)
    assert node_config(simulator) == before


def test_a_target_that_does_not_fit_the_node_warns_at_preview_and_is_refused_before_writes(
    simulator: SimulatorHandle,
    node_interfaces: NodeInterfacesProvider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A bridge with mtu 9000 on a NIC left at 1500: a warning at preview naming both (another
    resource might raise the NIC's MTU first), then a refusal before any write."""
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *_, **__: warnings.append(message))
    news = {
        "node": "pve1",
        "interfaces": [{"iface": "vmbr1", "type": "bridge", "bridge_ports": ["eno2"], "mtu": 9000}],
    }
    inputs = checked(node_interfaces, news)
    warning = "the target does not fit the node: mtu of eno2 (1500) is lower than vmbr1's (9000)"
    assert any(warning in w for w in warnings), warnings
    simulator.requests.clear()
    with pytest.raises(NodeError, match=r"mtu of eno2 \(1500\) is lower than vmbr1's \(9000\)"):
        node_interfaces.create(inputs)
    assert all(e.method == "GET" for e in simulator.requests.entries())


def test_a_setting_the_node_ignores_fails_verification_and_is_rolled_back(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """The node applies the change but silently leaves the new MTU out: verification names
    the setting, the previous config is restored and applied, and the message says so."""
    bridge = {"iface": "vmbr5", "type": "bridge", "mtu": 1400}
    rid, outs = create(node_interfaces, interfaces=[bridge])
    before = node_config(simulator)
    simulator.faults.arm(Fault("ignore", method="PUT", path=NETWORK, setting="mtu"))
    with pytest.raises(NodeError) as caught:
        update(node_interfaces, rid, outs, interfaces=[{**bridge, "mtu": 1450}])
    message = str(caught.value)
    assert message.startswith(
        "pve1: the node does not show the change: vmbr5.mtu: desired 1450, current None. "
    )
    assert message.endswith(
        "pvenet restored the previous configuration and applied it; the node is as before"
    )
    assert node_config(simulator) == before
    assert node_config(simulator)["vmbr5"]["mtu"] == "1400"
    assert applies(simulator) == 3  # create, the change, the rollback


# --- refused at preview from the one node read, before any write ----------------------------------

# The management address on a custom-named VLAN on a VLAN-aware bridge on an active-backup bond.
MANAGEMENT_ON_A_BOND = """\
auto lo
iface lo inet loopback

auto eno1
iface eno1 inet manual

auto eno2
iface eno2 inet manual

iface eno3 inet manual

iface eno4 inet manual

auto bond0
iface bond0 inet manual
\tbond-slaves eno1 eno2
\tbond-miimon 100
\tbond-mode active-backup

auto vmbr0
iface vmbr0 inet manual
\tbridge-ports bond0
\tbridge-stp off
\tbridge-fd 0
\tbridge-vlan-aware yes
\tbridge-vids 2-4094

auto mgmt
iface mgmt inet static
\taddress 192.168.10.2/24
\tgateway 192.168.10.1
\tvlan-raw-device vmbr0
\tvlan-id 10
"""
BOND0 = {"iface": "bond0", "type": "bond", "slaves": ["eno1", "eno2"], "bond_mode": "active-backup"}
MGMT = {
    "iface": "mgmt",
    "type": "vlan",
    "vlan_raw_device": "vmbr0",
    "vlan_id": 10,
    "cidr": "192.168.10.2/24",
    "gateway": "192.168.10.1",
}


@pytest.mark.parametrize(
    ("interface", "change"),
    [
        pytest.param(
            {**BOND0, "bond_mode": "802.3ad"},
            "bond_mode 'active-backup' -> '802.3ad'",
            id="bond-mode",
        ),
        pytest.param(
            {**MGMT, "gateway": "192.168.10.254"},
            "gateway '192.168.10.1' -> '192.168.10.254'",
            id="gateway",
        ),
        pytest.param({**MGMT, "vlan_id": 20}, "vlan_id 10 -> 20", id="vlan-id"),
        pytest.param(
            {**MGMT, "vlan_raw_device": "bond0"}, "parent 'vmbr0' -> 'bond0'", id="vlan-parent"
        ),
        pytest.param({**MGMT, "mtu": 1400}, "mtu unset -> 1400", id="mtu"),
        pytest.param(
            {"iface": "eno2", "type": "eth", "mtu": 1400}, "mtu unset -> 1400", id="slave-mtu"
        ),
    ],
)
def test_the_lockout_guard_covers_mode_gateway_mtu_and_vlan_of_the_management_path(
    simulator: SimulatorHandle,
    node_interfaces: NodeInterfacesProvider,
    interface: dict[str, Any],
    change: str,
) -> None:
    """Each of these can cut the node off; each is refused at preview, naming the change."""
    simulator.cluster.nodes["pve1"].write(INTERFACES, MANAGEMENT_ON_A_BOND)
    simulator.requests.clear()
    news = {"node": "pve1", "interfaces": [interface], "adopt": True}
    failures = node_interfaces.check({}, news).failures
    reasons = [f.reason for f in failures if f.property == "interfaces"]
    assert any(f"{interface['iface']} carries the management path" in r for r in reasons), failures
    assert any(change in r for r in reasons), reasons
    assert writes(simulator) == []
    assert not node_interfaces.check({}, {**news, "allow_management_change": True}).failures


def test_a_guest_bridge_with_the_node_address_as_a_host_address_is_not_the_management_path(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """The classic routed setup puts the node's address on a port-less bridge as a /32 (the
    guests' gateway) while vmbr0 keeps it with its network: the bridge is created and deleted
    without allow_management_change; vmbr0 itself stays guarded."""
    bridge = {"iface": "vmbr6", "type": "bridge", "bridge_ports": [], "cidr": "192.168.10.2/32"}
    news = {"node": "pve1", "interfaces": [bridge]}
    assert not node_interfaces.check({}, news).failures
    created = node_interfaces.create(node_interfaces.check({}, news).inputs)
    assert "iface vmbr6 inet static\n\taddress 192.168.10.2/32\n" in (
        simulator.files()[INTERFACES] or ""
    )
    node_interfaces.delete(created.id, created.outs)
    assert "vmbr6" not in (simulator.files()[INTERFACES] or "")
    vmbr0 = {"iface": "vmbr0", "type": "bridge", "bridge_ports": [], "cidr": "192.168.10.2/24"}
    failures = node_interfaces.check({}, {**news, "interfaces": [vmbr0], "adopt": True}).failures
    assert any("vmbr0 carries the management path" in f.reason for f in failures), failures


def test_an_interface_the_node_addresses_by_dhcp_is_not_written_unless_allowed(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Proxmox's PUT makes `inet dhcp` manual or static: refused at preview and before any write
    at apply; with allow_dhcp_to_static=True the bridge becomes static, as asked."""
    installer = simulator.files()[INTERFACES] or ""
    dhcp = installer.replace(
        "iface vmbr0 inet static\n\taddress 192.168.10.2/24\n\tgateway 192.168.10.1\n",
        "iface vmbr0 inet dhcp\n",
    )
    assert "iface vmbr0 inet dhcp" in dhcp
    simulator.cluster.nodes["pve1"].write(INTERFACES, dhcp)
    simulator.requests.clear()
    news = {"node": "pve1", "interfaces": [VMBR0], "adopt": True}
    failures = node_interfaces.check({}, news).failures
    assert [f.property for f in failures] == ["interfaces[0].iface"]
    assert "pve1: vmbr0 is 'inet dhcp' on the node" in failures[0].reason
    assert "set allow_dhcp_to_static=True" in failures[0].reason
    allowed = checked(node_interfaces, {**news, "allow_dhcp_to_static": True})
    with pytest.raises(NodeError, match="vmbr0 is 'inet dhcp' on the node"):
        node_interfaces.create({**allowed, "allow_dhcp_to_static": False})
    assert writes(simulator) == []
    node_interfaces.create(allowed)
    assert "iface vmbr0 inet static\n\taddress 192.168.10.2/24\n" in (
        simulator.files()[INTERFACES] or ""
    )


def test_settings_for_a_nic_the_node_lacks_fail_at_preview(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """No resource can create a NIC, so unlike other misfits this fails the preview."""
    simulator.requests.clear()
    news = {"node": "pve1", "interfaces": [{"iface": "eno9", "type": "eth", "mtu": 9000}]}
    failures = node_interfaces.check({}, news).failures
    assert [(f.property, f.reason) for f in failures] == [
        (
            "interfaces[0].iface",
            "pve1: eno9 is not a NIC on this node, and no resource can create a NIC; type eth "
            "is for the node's NICs (eno1, eno2, eno3, eno4): fix iface",
        )
    ]
    assert writes(simulator) == []


def test_an_input_nodeinterfaces_does_not_take_fails_at_preview(
    node_interfaces: NodeInterfacesProvider,
) -> None:
    """A misspelt input would otherwise sit in the state and do nothing."""
    news = {"node": "pve1", "interfaces": [], "allow_managment_change": True}
    failures = node_interfaces.check({}, news).failures
    assert [(f.property, f.reason) for f in failures] == [
        (
            "allow_managment_change",
            "'allow_managment_change' is not an input of NodeInterfaces (got True); its inputs "
            "are node, interfaces, adopt, allow_management_change, allow_dhcp_to_static",
        )
    ]


def test_a_one_interface_update_takes_six_requests_and_its_preview_none_but_a_read(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """Preview (check) reads the node once; the update reads it, stages the one write, reads
    the staged diff back, applies, follows the task and reads the node back: six requests.
    The cluster is not asked for the node's address (the change touches no addressed
    interface), and the task's log is not fetched (it ended OK)."""
    bridge = {"iface": "vmbr2", "type": "bridge", "bridge_ports": ["eno4"], "comments": "a"}
    rid, outs = create(node_interfaces, interfaces=[bridge])
    simulator.requests.clear()
    news = {"node": "pve1", "interfaces": [{**bridge, "comments": "b"}]}
    inputs = checked(node_interfaces, news, outs)
    assert [(e.method, e.path) for e in simulator.requests.entries()] == [("GET", NETWORK)]
    simulator.requests.clear()
    node_interfaces.update(rid, outs, inputs)
    calls = [
        (e.method, re.sub(r"UPID:[^/]+", "UPID", e.path)) for e in simulator.requests.entries()
    ]
    assert calls == [
        ("GET", NETWORK),
        ("PUT", f"{NETWORK}/vmbr2"),
        ("GET", NETWORK),
        ("PUT", NETWORK),
        ("GET", "/nodes/pve1/tasks/UPID/status"),
        ("GET", NETWORK),
    ]


def test_an_apply_whose_result_cannot_be_read_says_so_and_the_rerun_takes_it_as_done(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """The node applies, then cannot be read back (a gateway keeps failing): pvenet says it
    cannot tell, not that it failed or succeeded; the next run finds the set live and is
    done without another apply."""
    inputs = checked(
        node_interfaces, {"node": "pve1", "interfaces": [{"iface": "vmbr6", "type": "bridge"}]}
    )
    # the third read of this create is the one after the apply; it and its retries fail
    simulator.faults.arm(Fault("error", method="GET", path=NETWORK, nth=3, times=10, status=502))
    with pytest.raises(NodeError) as caught:
        node_interfaces.create(inputs)
    message = str(caught.value)
    assert message.startswith("pve1: verifying the change: reading the node back failed (HTTP 502")
    assert "pvenet cannot tell whether the node runs it" in message
    simulator.faults.clear()
    applies_before = applies(simulator)
    created = node_interfaces.create(inputs)
    assert applies(simulator) == applies_before
    assert created.outs is not None
    assert "vmbr6" in node_config(simulator)
