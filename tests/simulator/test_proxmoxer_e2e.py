"""proxmoxer, unmodified, against the simulator over HTTPS verified with the simulator's CA.

A client written for a real Proxmox node works here as it is: token and
password (ticket + CSRF) auth, the node network lifecycle for a bridge, a bond
and a VLAN, and an SDN NAT network, with the files a node would have.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from simulator.node import INTERFACES, INTERFACES_NEW, SDN_INTERFACES
from simulator.testing import SimulatorHandle


def wait_ok(api: ProxmoxAPI, node: str, upid: str) -> dict[str, Any]:
    """Poll a task as clients do until it stops; its final status."""
    for _ in range(100):
        status: dict[str, Any] = api.nodes(node).tasks(upid).status.get()
        if status["status"] == "stopped":
            return status
        time.sleep(0.05)
    raise AssertionError(f"task {upid} did not stop")


@pytest.mark.parametrize("auth", ["token", "password"])
def test_bridge_bond_vlan_lifecycle(simulator: SimulatorHandle, auth: str) -> None:
    """create -> read -> update -> apply -> delete for a bond, a bridge on it and a VLAN."""
    api = simulator.proxmox(auth)  # type: ignore[arg-type]
    network = api.nodes("pve1").network
    network.post(
        iface="bond0",
        type="bond",
        slaves="eno2 eno3",
        bond_mode="active-backup",
        **{"bond-primary": "eno2"},
        autostart=1,
    )
    network.post(
        iface="vmbr1",
        type="bridge",
        bridge_ports="bond0",
        autostart=1,
        bridge_vlan_aware=1,
        bridge_vids="10 20",
    )
    network.post(iface="vmbr1.10", type="vlan", cidr="10.10.0.2/24", autostart=1)
    assert simulator.files()[INTERFACES_NEW] is not None
    bond = network("bond0").get()
    assert (bond["type"], bond["slaves"], bond["bond-primary"]) == ("bond", "eno2 eno3", "eno2")
    network("vmbr1.10").put(type="vlan", cidr="10.10.0.3/24", mtu=1400)
    assert network("vmbr1.10").get()["cidr"] == "10.10.0.3/24"
    status = wait_ok(api, "pve1", network.put())
    assert status["exitstatus"] == "OK"
    live = simulator.files()[INTERFACES] or ""
    assert simulator.files()[INTERFACES_NEW] is None
    assert (
        "auto bond0\niface bond0 inet manual\n\tbond-slaves eno2 eno3\n\tbond-miimon 100\n"
        "\tbond-mode active-backup\n\tbond-primary eno2\n" in live
    )
    assert (
        "\tbridge-ports bond0\n\tbridge-stp off\n\tbridge-fd 0\n\tbridge-vlan-aware yes\n"
        "\tbridge-vids 10 20\n" in live
    )
    assert "auto vmbr1.10\niface vmbr1.10 inet static\n\taddress 10.10.0.3/24\n\tmtu 1400\n" in live
    for iface in ("vmbr1.10", "vmbr1", "bond0"):
        network(iface).delete()
    wait_ok(api, "pve1", network.put())
    live = simulator.files()[INTERFACES] or ""
    assert "bond0" not in live
    assert "vmbr1" not in live


def test_sdn_nat_network_lifecycle(simulator: SimulatorHandle) -> None:
    """zone -> vnet -> subnet with SNAT -> apply writes the node's interfaces.d/sdn."""
    api = simulator.proxmox()
    sdn = api.cluster.sdn
    sdn.zones.post(zone="labnat", type="simple")
    sdn.vnets.post(vnet="labnet", zone="labnat")
    sdn.vnets("labnet").subnets.post(
        subnet="10.10.10.0/24", type="subnet", gateway="10.10.10.1", snat=1
    )
    pending = sdn.vnets.get(pending=1)
    assert [(v["vnet"], v.get("state")) for v in pending] == [("labnet", "new")]
    upid = sdn.put()
    wait_ok(api, "pve1", upid)
    assert simulator.files()[SDN_INTERFACES] == (
        "#version:1\n\n"
        "auto labnet\n"
        "iface labnet\n"
        "\taddress 10.10.10.1/24\n"
        "\tpost-up iptables -t nat -A POSTROUTING -s '10.10.10.0/24' -o vmbr0 -j SNAT "
        "--to-source 192.168.10.2\n"
        "\tpost-down iptables -t nat -D POSTROUTING -s '10.10.10.0/24' -o vmbr0 -j SNAT "
        "--to-source 192.168.10.2\n"
        "\tpost-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1\n"
        "\tpost-down iptables -t raw -D PREROUTING -i fwbr+ -j CT --zone 1\n"
        "\tbridge_ports none\n"
        "\tbridge_stp off\n"
        "\tbridge_fd 0\n"
        "\tip-forward on\n"
    )
    vnets = api.nodes("pve1").network.get(type="any_bridge")
    assert {v["iface"]: v["type"] for v in vnets} == {"labnet": "vnet", "vmbr0": "bridge"}


def test_proxmoxer_shows_proxmox_error_text(simulator: SimulatorHandle) -> None:
    """A refused request raises ResourceException with Proxmox's reason and parameter errors."""
    network = simulator.proxmox().nodes("pve1").network
    with pytest.raises(ResourceException) as caught:
        network.post(iface="vmbr0", type="bridge")
    assert caught.value.status_code == 400
    assert str(caught.value) == (
        "400 Bad Request: Parameter verification failed. - {'iface': 'interface already exists'}"
    )
