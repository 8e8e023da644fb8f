"""SdnNetworks: several SDN networks, one apply per change, against the simulator over HTTPS."""

from __future__ import annotations

from typing import Any

import pytest

from provider.errors import NodeError
from provider.sdn.networks import SdnNetworksProvider
from simulator.faults import Fault
from simulator.node import SDN_INTERFACES
from simulator.testing import SimulatorHandle
from tests.provider.conftest import configure_for

SDN_APPLY = "/cluster/sdn"
NAT = {
    "zone": "labnat",
    "vnet": "labnet",
    "subnets": [{"cidr": "10.10.10.0/24", "gateway": "10.10.10.1", "snat": True}],
}
ROUTED = {
    "zone": "pubrt",
    "vnet": "pubnet",
    "subnets": [{"cidr": "203.0.113.16/28", "gateway": "203.0.113.17"}],
}
LAB2 = {
    "zone": "lab2",
    "vnet": "lab2net",
    "subnets": [{"cidr": "10.20.30.0/24", "gateway": "10.20.30.1"}],
}


@pytest.fixture
def provider(simulator: SimulatorHandle) -> SdnNetworksProvider:
    return configure_for(SdnNetworksProvider(), simulator)


def _checked(
    provider: SdnNetworksProvider,
    networks: list[dict[str, Any]],
    olds: dict[str, Any] | None = None,
) -> dict[str, Any]:
    result = provider.check(olds or {}, {"networks": networks})
    assert not result.failures, [(f.property, f.reason) for f in result.failures]
    return dict(result.inputs)


def _applies(sim: SimulatorHandle) -> int:
    return sim.requests.count(method="PUT", path_glob=SDN_APPLY)


def _running_vnets(sim: SimulatorHandle) -> list[str]:
    return sorted(v["vnet"] for v in sim.proxmox().cluster.sdn.vnets.get(running=1))


def test_two_networks_are_created_with_one_apply(
    simulator: SimulatorHandle, provider: SdnNetworksProvider
) -> None:
    """A NAT and a routed network: one PUT /cluster/sdn, both vnets in every node's file."""
    created = provider.create(_checked(provider, [ROUTED, NAT]))
    assert _applies(simulator) == 1
    assert _running_vnets(simulator) == ["labnet", "pubnet"]
    sdn = simulator.files()[SDN_INTERFACES] or ""
    assert "auto labnet" in sdn
    assert "auto pubnet" in sdn
    outs = dict(created.outs or {})
    assert [n["vnet"] for n in outs["networks"]] == ["labnet", "pubnet"]  # sorted by zone
    assert outs["active_nodes"] == {"labnet": ["pve1"], "pubnet": ["pve1"]}
    assert "auto labnet" in outs["rendered"]


def test_adding_changing_and_removing_networks_is_one_apply(
    simulator: SimulatorHandle, provider: SdnNetworksProvider
) -> None:
    """One update: the routed network goes, the NAT network's gateway moves, a third comes."""
    created = provider.create(_checked(provider, [ROUTED, NAT]))
    olds = dict(created.outs or {})
    moved = {**NAT, "subnets": [{**NAT["subnets"][0], "gateway": "10.10.10.254"}]}
    news = _checked(provider, [moved, LAB2], olds)
    assert provider.diff(str(created.id), olds, news).changes
    provider.update(str(created.id), olds, news)
    assert _applies(simulator) == 2
    assert _running_vnets(simulator) == ["lab2net", "labnet"]
    assert "address 10.10.10.254/24" in (simulator.files()[SDN_INTERFACES] or "")
    zones = sorted(z["zone"] for z in simulator.proxmox().cluster.sdn.zones.get(running=1))
    assert zones == ["lab2", "labnat"]


def test_a_zone_or_vnet_twice_is_refused_at_preview(provider: SdnNetworksProvider) -> None:
    result = provider.check({}, {"networks": [NAT, {**LAB2, "vnet": "labnet"}]})
    assert [(f.property, f.reason) for f in result.failures] == [
        (
            "networks[1].vnet",
            "vnet 'labnet' is also networks[0]'s; each zone and vnet belongs to one network",
        )
    ]


def test_a_failed_apply_restores_every_network(
    simulator: SimulatorHandle, provider: SdnNetworksProvider
) -> None:
    """The node's reload fails: both networks' previous config is written back and applied."""
    created = provider.create(_checked(provider, [NAT]))
    olds = dict(created.outs or {})
    before = simulator.files()[SDN_INTERFACES]
    simulator.faults.arm(Fault("task-fail", method="PUT", path=SDN_APPLY))
    with pytest.raises(NodeError, match="the cluster is as before"):
        provider.update(str(created.id), olds, _checked(provider, [NAT, ROUTED], olds))
    assert _running_vnets(simulator) == ["labnet"]
    assert simulator.files()[SDN_INTERFACES] == before.replace("#version:1", "#version:3")


def test_delete_removes_every_network_with_one_apply_and_read_drops_gone_ones(
    simulator: SimulatorHandle, provider: SdnNetworksProvider
) -> None:
    created = provider.create(_checked(provider, [NAT, ROUTED]))
    outs = dict(created.outs or {})
    api = simulator.proxmox()
    api.cluster.sdn.vnets("pubnet").subnets("pubrt-203.0.113.16-28").delete()
    api.cluster.sdn.vnets("pubnet").delete()
    api.cluster.sdn.zones("pubrt").delete()
    api.cluster.sdn.put()
    read = provider.read(str(created.id), outs)
    assert [n["vnet"] for n in (read.outs or {})["networks"]] == ["labnet"]
    applies = _applies(simulator)
    provider.delete(str(created.id), dict(read.outs or {}))
    assert _applies(simulator) == applies + 1
    assert _running_vnets(simulator) == []
