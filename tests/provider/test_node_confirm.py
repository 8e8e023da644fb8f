"""Confirm-or-revert for node network applies: with SSH configured, ``NodeInterfaces`` arms
the node's timer before the apply and stops it once it reached the node again; when it
cannot, the node puts ``/etc/network/interfaces`` back and reloads it. Without SSH nothing
changes (no SSH at all)."""

from __future__ import annotations

import pytest

from provider.errors import NodeError
from provider.host.confirm import REVERT_INTERFACES
from provider.host.render import INTERFACES, backup_path
from provider.node.resource import NodeInterfacesProvider
from simulator.faults import Fault
from simulator.testing import SimulatorHandle
from tests.provider.conftest import configure_for

VMBR5 = {"iface": "vmbr5", "type": "bridge", "cidr": "10.55.0.1/24"}


@pytest.fixture
def guarded(simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> NodeInterfacesProvider:
    """A NodeInterfacesProvider with the simulator's SSH settings (a 3 s timer)."""
    for key, value in simulator.ssh_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PVENET_SSH_CONFIRM_TIMEOUT", "3")
    return configure_for(NodeInterfacesProvider(), simulator)


def create(provider: NodeInterfacesProvider) -> None:
    result = provider.check({}, {"node": "pve1", "interfaces": [VMBR5]})
    assert not result.failures, result.failures
    provider.create(dict(result.inputs))


def listed(sim: SimulatorHandle) -> set[str]:
    return {i["iface"] for i in sim.proxmox().nodes("pve1").network.get()}


def test_an_apply_is_armed_then_confirmed(
    simulator: SimulatorHandle, guarded: NodeInterfacesProvider
) -> None:
    before = simulator.host_file(INTERFACES)
    create(guarded)
    assert "vmbr5" in listed(simulator)
    assert "iface vmbr5 inet static" in (simulator.host_file(INTERFACES) or "")
    assert simulator.host_file(backup_path(INTERFACES)) == before
    script = simulator.host_file(REVERT_INTERFACES) or ""
    assert f"install -D -m 0644 {backup_path(INTERFACES)} {INTERFACES}\n" in script
    assert script.endswith("ifreload -a\n")
    assert simulator.host_state().timers == {}


def test_the_node_puts_its_network_back_when_pvenet_cannot_reach_it_again(
    simulator: SimulatorHandle, guarded: NodeInterfacesProvider
) -> None:
    before = simulator.host_file(INTERFACES)
    simulator.faults.arm(Fault("drop", method="CONNECT", path="/nodes/pve1/ssh", nth=2))
    with pytest.raises(NodeError) as failed:
        create(guarded)
    message = str(failed.value)
    assert message.startswith("pve1: the network change was made, but pvenet could not reach")
    assert f"{INTERFACES} read back as before this change" in message
    assert simulator.host_file(INTERFACES) == before
    assert "vmbr5" not in listed(simulator)


def test_without_ssh_a_node_change_uses_no_ssh(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    create(node_interfaces)
    assert "vmbr5" in listed(simulator)
    assert [e for e in simulator.requests.entries() if e.method in ("SSH", "CONNECT")] == []


def test_a_failed_apply_is_rolled_back_and_the_timer_stopped(
    simulator: SimulatorHandle, guarded: NodeInterfacesProvider
) -> None:
    """The reload fails: pvenet restores the previous config through the API, as without
    SSH, and then stops the timer it armed (the node is reachable)."""
    simulator.faults.arm(Fault("task-fail", method="PUT", path="/nodes/pve1/network"))
    with pytest.raises(NodeError) as failed:
        create(guarded)
    assert "the node is as before" in str(failed.value)
    assert "vmbr5" not in listed(simulator)
    assert simulator.host_state().timers == {}
