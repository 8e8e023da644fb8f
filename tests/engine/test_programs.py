"""Every program under the real Pulumi engine: the root program's dev stack and each example.

For each, against a simulator over HTTPS, in a file backend of its own, with the real CLI:
a preview that writes nothing and shows the stanzas; an up that leaves the node with what
``render`` prints; nothing to change afterwards; a change made by hand found by refresh and
repaired by the next up; an input change that is one in-place update; an apply that fails
leaving the node as it was, then converging; a destroy that gives the node back its stanzas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from proxmoxer import ProxmoxAPI
from pulumi import automation as auto

from components.project import PROJECT_ROOT
from simulator.faults import Fault
from simulator.testing import SimulatorHandle, running_simulator
from tests.engine.deployment import Deployment, new_stanzas, node_stanzas, sections

EXAMPLES = PROJECT_ROOT / "examples"
NODE_APPLY = "/nodes/*/network"
SDN_APPLY = "/cluster/sdn"
PHYSICAL = re.compile(r"iface eno\d+ ")


def delete_interface(iface: str) -> Callable[[ProxmoxAPI], None]:
    """Someone deletes ``iface`` in the GUI and applies."""

    def drift(api: ProxmoxAPI) -> None:
        api.nodes("pve1").network(iface).delete()
        api.nodes("pve1").network.put()

    return drift


def move_gateway(vnet: str, subnet: str, gateway: str) -> Callable[[ProxmoxAPI], None]:
    """Someone changes an SDN subnet's gateway and applies the SDN config."""

    def drift(api: ProxmoxAPI) -> None:
        api.cluster.sdn.vnets(vnet).subnets(subnet).put(gateway=gateway)
        api.cluster.sdn.put()

    return drift


@dataclass(frozen=True)
class Case:
    """A program, one input change to it, and one change made on the node by hand."""

    source: Path
    edit: tuple[str, str, str]  # file of the copy, text in it, replacement
    changed: str  # the resource the edit updates in place (and nothing else)
    apply: str  # the path of the apply the edit makes (where the fault goes)
    drift: Callable[[ProxmoxAPI], None]
    drifted: str  # the resource whose live state the hand edit changes


CASES = {
    "root-dev": Case(
        PROJECT_ROOT,
        ("Pulumi.dev.yaml", "comments: guests on the DMZ switch", "comments: DMZ, rack 2"),
        "pve1-interfaces",  # every network of pve1 is one set: one apply per change
        NODE_APPLY,
        delete_interface("vmbr2"),
        "pve1-interfaces",
    ),
    "bond": Case(
        EXAMPLES / "bond",
        ("__main__.py", 'cidr="10.1.0.2/24"', 'cidr="10.1.0.3/24"'),
        "uplink-interfaces",
        NODE_APPLY,
        delete_interface("vmbr1"),
        "uplink-interfaces",
    ),
    "bridged": Case(
        EXAMPLES / "bridged",
        ("__main__.py", 'comments="second LAN"', 'comments="second LAN, rack 2"'),
        "lan-interfaces",
        NODE_APPLY,
        delete_interface("vmbr1"),
        "lan-interfaces",
    ),
    "homelab": Case(
        EXAMPLES / "homelab",
        ("__main__.py", 'comments="DMZ switch"', 'comments="DMZ, rack 2"'),
        "dmz-interfaces",
        NODE_APPLY,
        move_gateway("labnet", "labnat-10.10.10.0-24", "10.10.10.30"),
        "lab-sdn",
    ),
    "nat": Case(
        EXAMPLES / "nat",
        ("__main__.py", 'cidr="10.10.10.1/24"', 'cidr="10.10.10.254/24"'),
        "lab-sdn",
        SDN_APPLY,
        move_gateway("labnet", "labnat-10.10.10.0-24", "10.10.10.30"),
        "lab-sdn",
    ),
    "routed": Case(
        EXAMPLES / "routed",
        ("__main__.py", 'cidr="203.0.113.17/28"', 'cidr="203.0.113.18/28"'),
        "public-sdn",
        SDN_APPLY,
        move_gateway("pubnet", "pubrt-203.0.113.16-28", "203.0.113.30"),
        "public-sdn",
    ),
}


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimulatorHandle]:
    """A node pve1 with NICs eno1..eno4, as the installer left it."""
    with running_simulator(state_dir=tmp_path / "simulator") as handle:
        yield handle


def _ok(outcome_ok: bool, output: str, error: str = "") -> None:
    assert outcome_ok, f"the operation failed:\n{output}\n{error}"


@pytest.mark.parametrize("name", sorted(CASES))
def test_program_lifecycle_under_the_real_engine(
    name: str, tmp_path: Path, sim: SimulatorHandle, pulumi_cli: auto.PulumiCommand
) -> None:
    """Preview, up, no-op, drift and repair, an in-place change, a failed apply, destroy."""
    case = CASES[name]
    deployment = Deployment.of(case.source, tmp_path / "work", sim, pulumi_cli)
    before = node_stanzas(sim, deployment.nodes)
    api = sim.proxmox()

    preview = deployment.run("preview", diff=True)
    _ok(preview.ok, preview.output, preview.error)
    assert deployment.writes() == [], "a preview must not write"
    assert set(preview.ops().values()) == {"create"}
    rendered = deployment.render()

    up = deployment.run("up")
    _ok(up.ok, up.output, up.error)
    assert deployment.files() == rendered, "the node differs from what render prints"
    for stanza in new_stanzas(before, node_stanzas(sim, deployment.nodes)):
        head = "\n".join(stanza.splitlines()[:2])
        if PHYSICAL.search(head):  # a bond slave's `auto`: the node's doing, not in `rendered`
            continue
        assert json.dumps(head)[1:-1] in preview.output, f"the preview does not show {head!r}"

    again = deployment.run("preview", expect_no_changes=True)
    _ok(again.ok, again.output, again.error)
    refresh = deployment.run("refresh", expect_no_changes=True)
    _ok(refresh.ok, refresh.output, refresh.error)

    case.drift(api)
    drifted = deployment.run("refresh")
    _ok(drifted.ok, drifted.output, drifted.error)
    assert drifted.ops()[case.drifted] in {"update", "refresh", "delete"}, drifted.steps
    assert drifted.changes.get("update", 0) + drifted.changes.get("delete", 0) >= 1
    repaired = deployment.run("up")
    _ok(repaired.ok, repaired.output, repaired.error)
    assert sections(deployment.files()) == sections(rendered), "the hand edit is not repaired"

    deployment.edit(*case.edit)
    edited = deployment.render()
    assert edited != rendered
    as_it_was = deployment.files()
    sim.faults.arm(Fault("task-fail", method="PUT", path=case.apply))
    failed = deployment.run("up")
    sim.faults.clear()
    assert not failed.ok, "an up whose apply failed must fail"
    said = " ".join(failed.output.split())
    assert "apply task failed: command 'ifreload -a' failed" in said, failed.output
    assert "pvenet restored the previous" in said, failed.output
    assert "is as before" in said, failed.output
    assert sections(deployment.files()) == sections(as_it_was), "a failed apply changed the node"
    converged = deployment.run("up")
    _ok(converged.ok, converged.output, converged.error)
    assert sections(deployment.files()) == sections(edited)
    changed = {n: op for n, op in converged.ops().items() if op != "same"}
    assert changed == {case.changed: "update"}, converged.steps

    destroyed = deployment.run("destroy")
    _ok(destroyed.ok, destroyed.output, destroyed.error)
    assert node_stanzas(sim, deployment.nodes) == before


def test_renamed_components_keep_their_networks_on_the_node(
    tmp_path: Path, sim: SimulatorHandle, pulumi_cli: auto.PulumiCommand
) -> None:
    """A bridge's and a NAT network's component renamed: the engine creates the new sets and
    deletes the old ones last; the node keeps every network (nothing is removed from under
    its new owner), and nothing is left to change."""
    deployment = Deployment.of(EXAMPLES / "homelab", tmp_path / "work", sim, pulumi_cli)
    first = deployment.run("up")
    _ok(first.ok, first.output, first.error)
    files = deployment.files()
    deployment.edit("__main__.py", '    "dmz",', '    "dmz-rack2",')
    deployment.edit("__main__.py", '    "lab",', '    "lab-rack2",')
    renamed = deployment.run("up")
    _ok(renamed.ok, renamed.output, renamed.error)
    ops = renamed.ops()
    assert (ops["dmz-rack2-interfaces"], ops["dmz-interfaces"]) == ("create", "delete"), ops
    assert (ops["lab-rack2-sdn"], ops["lab-sdn"]) == ("create", "delete"), ops
    assert sections(deployment.files()) == sections(files), "a rename changed the node"
    assert "took them over in this deployment" in renamed.output
    again = deployment.run("preview", expect_no_changes=True)
    _ok(again.ok, again.output, again.error)


def test_up_with_refresh_rebuilds_a_node_that_was_reset(
    tmp_path: Path, sim: SimulatorHandle, pulumi_cli: auto.PulumiCommand
) -> None:
    """`./run up` refreshes first: after the node lost every network (a reset simulator, a
    reinstalled host), it builds them again instead of reporting nothing to change."""
    deployment = Deployment.of(EXAMPLES / "homelab", tmp_path / "work", sim, pulumi_cli)
    first = deployment.run("up")
    _ok(first.ok, first.output, first.error)
    built = deployment.files()
    api = sim.proxmox()
    for network in api.cluster.sdn.vnets.get():
        for subnet in api.cluster.sdn.vnets(network["vnet"]).subnets.get():
            api.cluster.sdn.vnets(network["vnet"]).subnets(subnet["subnet"]).delete()
        api.cluster.sdn.vnets(network["vnet"]).delete()
    for zone in api.cluster.sdn.zones.get():
        api.cluster.sdn.zones(zone["zone"]).delete()
    api.cluster.sdn.put()
    for name in ("vmbr1.20", "vmbr2", "vmbr1", "bond0"):
        api.nodes("pve1").network(name).delete()
    api.nodes("pve1").network.put()
    plain = deployment.run("up")
    _ok(plain.ok, plain.output, plain.error)
    assert sections(deployment.files()) != sections(built), "an up without refresh saw no drift"
    rebuilt = deployment.run("up", refresh=True)
    _ok(rebuilt.ok, rebuilt.output, rebuilt.error)
    assert sections(deployment.files()) == sections(built)


def test_host_rules_show_in_the_preview_and_a_hand_edit_shows_on_refresh(
    tmp_path: Path, sim: SimulatorHandle, pulumi_cli: auto.PulumiCommand
) -> None:
    """The NAT example's port forward: `preview --diff` shows the rule that will be installed
    and makes no SSH write; forwarding turned off by hand on the node shows on `refresh` as
    drift of the host rules, and the next `up` turns it back on."""
    deployment = Deployment.of(EXAMPLES / "nat", tmp_path / "work", sim, pulumi_cli)
    preview = deployment.run("preview", diff=True)
    _ok(preview.ok, preview.output, preview.error)
    assert "tcp dport 8080 dnat ip to 10.10.10.5:80" in preview.output, preview.output
    assert not [e for e in sim.requests.entries() if e.method == "SSH"], "a preview used SSH"
    up = deployment.run("up")
    _ok(up.ok, up.output, up.error)
    assert sim.ssh.run("pve1", "sysctl -n net.ipv4.ip_forward").stdout == "1\n"
    assert sim.ssh.run("pve1", "sysctl -qw net.ipv4.ip_forward=0").status == 0
    drifted = deployment.run("refresh", diff=True)
    _ok(drifted.ok, drifted.output, drifted.error)
    host_rules = [s for s in drifted.steps if s["type"].endswith(":HostRules")]
    assert [s["op"] for s in host_rules] in (["update"], ["refresh"]), drifted.steps
    assert drifted.changes.get("update", 0) == 1, drifted.changes
    assert "net.ipv4.ip_forward" in drifted.output
    repaired = deployment.run("up")
    _ok(repaired.ok, repaired.output, repaired.error)
    assert sim.ssh.run("pve1", "sysctl -n net.ipv4.ip_forward").stdout == "1\n"
