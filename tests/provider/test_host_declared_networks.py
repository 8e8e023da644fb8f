"""``HostRules``' ``networks``: the guest networks the same deployment creates on the node.

At the first preview of a NAT network with port forwards, neither the vnet nor the bridge
exists yet, so the node shows no network holding the guest. The components pass their
networks; the preview counts them as the node's, and still refuses a guest outside all.
"""

from __future__ import annotations

import pytest

from provider.host.resource import HostRulesProvider
from simulator.testing import SimulatorHandle
from tests.programs import ssh_to, writes
from tests.provider.conftest import configure_for

FORWARD = {"forwards": [{"protocol": "tcp", "port": 8080, "to": "10.10.10.5", "to_port": 80}]}


@pytest.fixture
def host(simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> HostRulesProvider:
    """A HostRulesProvider for the simulator (API from stack config, SSH from its settings)."""
    ssh_to(simulator, monkeypatch)
    return configure_for(HostRulesProvider(), simulator)


def test_a_guest_in_a_declared_network_passes_the_preview(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    """Without ``networks`` the guest is in no network of the node; with it, it is."""
    news = {"node": "pve1", "rules": FORWARD}
    failures = host.check({}, news).failures
    assert [(f.property, f.reason.split(";")[0]) for f in failures] == [
        (
            "rules.forwards[0].to",
            "pve1: 10.10.10.5 is in no network of the node (its networks: 192.168.10.0/24",
        )
    ]
    assert host.check({}, {**news, "networks": ["10.10.10.0/24"]}).failures == []
    outside = host.check({}, {**news, "networks": ["10.20.0.0/24"]}).failures
    assert [f.property for f in outside] == ["rules.forwards[0].to"]
    assert writes(simulator) == []


def test_networks_that_are_not_networks_are_refused(host: HostRulesProvider) -> None:
    """A list of network texts, nothing else."""
    news = {"node": "pve1", "rules": FORWARD, "networks": ["10.10.10.0/33"]}
    failures = host.check({}, news).failures
    assert [f.property for f in failures] == ["networks"]
    assert "give networks such as '10.10.10.0/24'" in failures[0].reason
    failures = host.check({}, {**news, "networks": "10.10.10.0/24"}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("networks", "must be a list of networks such as '10.10.10.0/24', not '10.10.10.0/24'")
    ]
