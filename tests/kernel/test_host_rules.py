"""Host rules on a real kernel, written over real SSH (docs/host-rules.md).

The ``pve`` namespace is a node in the Proxmox admin guide's routed setup: the uplink
eno1 keeps its address (192.0.2.10/24), vmbr0 is a bridge with no ports (10.10.10.1/24)
for the guests. Its sshd is Debian's OpenSSH (``sshnode.py``); the test reaches it from
the upstream router's namespace, as an admin would. The host rules:

- forward tcp 8080 of the node to vm100's 10.10.10.5:80, with hairpin;
- masquerade 10.10.10.0/24 out of eno1, ip_forward;
- vm101's extra address 192.0.2.50 (from the uplink's own subnet): a /32 route to
  vmbr0 and proxy_arp on eno1 (the upstream finds it) and vmbr0 (the guest finds its
  gateway 192.0.2.1).

Every test asserts what a user would see: the packet that arrives and the address it
comes from, the node's files and ``nft list ruleset``.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from provider.errors import NodeError
from provider.host.confirm import InterfacesGuard, Reach
from provider.host.model import HostRulesSpec, parse_rules
from provider.host.render import (
    HOOK,
    MANAGED_FILES,
    PVENET_DIR,
    RULES,
    SERVICE,
    SYSCTL,
    TABLE,
    UNIT,
    parse_table,
    rules_file,
    table,
    table_lines,
)
from provider.host.resource import HostRulesProvider
from simulator.testing import SimulatorHandle, running_simulator
from tests.kernel import ifupdown2
from tests.kernel.conftest import Tier
from tests.kernel.netns import Lab
from tests.kernel.sshnode import Openssh, SshNode, fetch_openssh
from tests.kernel.topology import HOST, UPSTREAM, Guest, Guests, Host, Wan

pytestmark = pytest.mark.kernel

INTERFACES = """\
auto lo
iface lo inet loopback

auto eno1
iface eno1 inet static
	address 192.0.2.10/24
	gateway 192.0.2.1

auto vmbr0
iface vmbr0 inet static
	address 10.10.10.1/24
	bridge-ports none
	bridge-stp off
	bridge-fd 0
"""
LAN_GATEWAY = "10.10.10.1"
EXTRA = "192.0.2.50"  # vm101's extra address, routed to it through the node
PORT = 8080
CUT_TIMEOUT = 5  # seconds: the apply's own commands run within it, then the node reverts

NODE = "pve1"
RULES_INPUT: dict[str, Any] = {
    "masquerade": [{"source": "10.10.10.0/24", "interface": "eno1", "comment": "lab net"}],
    "forwards": [
        {"protocol": "tcp", "port": PORT, "to": "10.10.10.5", "to_port": 80, "hairpin": True}
    ],
    "ip_forward": {"ipv4": True},
    "proxy_arp": ["eno1", "vmbr0"],
    "routes": [{"address": EXTRA, "interface": "vmbr0"}],
}


def _spec(raw: dict[str, Any]) -> HostRulesSpec:
    spec, problems = parse_rules(raw)
    assert spec is not None, problems
    return spec


RULES_SPEC = _spec(RULES_INPUT)
FOREIGN = """\
table inet proxmox-firewall {
	chain input {
		type filter hook input priority filter; policy accept;
		tcp dport 3128 counter drop comment "pve"
	}
}
"""


@dataclass
class Pvenet:
    """pvenet's HostRules provider for node pve1, called as the engine calls it: ``check``
    (which reads the node's networks over the simulator's API), then ``create``, ``update``,
    ``read`` or ``delete``, with the PVENET_SSH_* settings pointing at the node's sshd."""

    provider: HostRulesProvider
    state: dict[str, Any] = field(default_factory=dict)
    id: str = ""
    """The resource's id, as ``create`` gave it."""

    def check(self, rules: dict[str, Any]) -> dict[str, Any]:
        """The inputs after ``check`` (it must accept them)."""
        result = self.provider.check({}, {"node": NODE, "rules": copy.deepcopy(rules)})
        assert result.failures == [], result.failures
        return dict(result.inputs)

    def up(self, rules: dict[str, Any]) -> None:
        """``pulumi up`` with these rules: create the first time, update after."""
        news = self.check(rules)
        if not self.state:
            created = self.provider.create(news)
            self.id, self.state = str(created.id), dict(created.outs or news)
        else:
            self.state = dict(self.provider.update(self.id, self.state, news).outs or news)

    def drift(self) -> list[str]:
        """What ``pulumi refresh`` reports the node changed."""
        return list((self.provider.read(self.id, self.state).outs or {})["drift"])

    def destroy(self) -> None:
        """``pulumi destroy``."""
        self.provider.delete(self.id, self.state)
        self.state = {}


@dataclass
class Site:
    """The node, its guests and the upstream, for one test."""

    wan: Wan
    pve: Host
    node: SshNode
    pvenet: Pvenet
    sim: SimulatorHandle
    api_env: dict[str, str]
    lan: Guest  # vm100 10.10.10.5, behind the masquerade, target of the forward
    routed: Guest  # vm101 192.0.2.50/24, the extra address
    client: Guest  # vm102 10.10.10.6, a neighbour of vm100 (hairpin)

    @property
    def forward_url(self) -> str:
        """The forwarded port on the node's public address."""
        return f"http://{HOST}:{PORT}"

    def attach(self) -> None:
        """Plug the guests into vmbr0, again after each ``ifreload -a``: Debian's ifupdown2
        takes the ports its files do not name off a bridge. A recreated bridge has a new
        MAC, which the guests learn anew."""
        for guest in (self.lan, self.routed, self.client):
            guest.attach("vmbr0")
            guest.ns.ip("neigh", "flush", "all")


@pytest.fixture(scope="session")
def openssh(tier: Tier) -> Openssh:
    """Debian's openssh-server, unpacked in the tier's cache."""
    return fetch_openssh(ifupdown2.CACHE)


def api_environment(sim: SimulatorHandle) -> dict[str, str]:
    """PROXMOX_VE_* for the simulator (verified HTTPS on loopback)."""
    return {
        "PROXMOX_VE_ENDPOINT": sim.url,
        "PROXMOX_VE_API_TOKEN": sim.token,
        "PROXMOX_VE_CA_CERT": str(sim.ca_file),
        "PROXMOX_VE_TIMEOUT": "5",
    }


def pvenet_for(ssh_env: dict[str, str], api_env: dict[str, str], confirm_timeout: float) -> Pvenet:
    """pvenet configured from the environment only, as the provider is outside the engine."""
    env = {**api_env, **ssh_env, "PVENET_SSH_CONFIRM_TIMEOUT": f"{confirm_timeout:g}"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        return Pvenet(HostRulesProvider.from_environment())


@pytest.fixture
def site(wan: Wan, pve: Host, guests: Guests, openssh: Openssh, tier: Tier) -> Iterator[Site]:
    """The routed setup applied by ifupdown2, three guests plugged in, sshd running, and the
    simulator's API for the node (same interfaces) that pvenet checks against."""
    assert tier.package is not None
    result = pve.apply({"/etc/network/interfaces": INTERFACES})
    assert result.clean, str(result)
    lan = guests.add(100, "10.10.10.5/24", LAN_GATEWAY)
    routed = guests.add(101, f"{EXTRA}/24", UPSTREAM)
    client = guests.add(102, "10.10.10.6/24", LAN_GATEWAY, server=False)
    with (
        running_simulator(state_dir=pve.lab.workdir / "simulator", interfaces=INTERFACES) as sim,
        SshNode(pve, wan, openssh, tier.package, NODE) as node,
    ):
        api = api_environment(sim)
        made = Site(
            wan, pve, node, pvenet_for(node.environment(), api, 30), sim, api, lan, routed, client
        )
        made.attach()
        yield made


def loaded(node: SshNode) -> list[str]:
    """The table ``inet pvenet`` as the kernel holds it (lines, no handles or counters)."""
    return table_lines(node.host.ns.exec("nft", "list", "table", *TABLE.split()).stdout)


def foreign(node: SshNode) -> str:
    """The pre-existing table, as ``nft list`` prints it."""
    return node.host.ns.exec("nft", "list", "table", "inet", "proxmox-firewall").stdout


def assert_traffic(site: Site) -> None:
    """Forward, masquerade, hairpin and the routed extra address all carry traffic."""
    wan = site.wan
    got = wan.ns.wait_http(site.forward_url, seconds=5)
    assert str(got) == f"vm100 saw client {UPSTREAM}", "the forward from outside"
    got = site.lan.ns.http_get(wan.url)
    assert str(got) == f"wan saw client {HOST}", "vm100 out through the masquerade"
    got = site.client.ns.http_get(site.forward_url)
    assert str(got) == f"vm100 saw client {LAN_GATEWAY}", "the hairpin: vm102 by the public address"
    got = wan.ns.wait_http(f"http://{EXTRA}:80", seconds=5)
    assert str(got) == f"vm101 saw client {UPSTREAM}", "the extra address through proxy_arp"
    got = site.routed.ns.http_get(wan.url)
    assert str(got) == f"wan saw client {EXTRA}", "vm101 out with its own address"


def assert_in_force(site: Site) -> None:
    """The loaded table is the rendered one; the sysctls and route are set; traffic flows."""
    node = site.node
    assert loaded(node) == table_lines(table(RULES_SPEC))
    assert node.sysctl("net.ipv4.ip_forward") == "1"
    for iface in RULES_SPEC.proxy_arp:
        assert node.sysctl(f"net.ipv4.conf.{iface}.proxy_arp") == "1", iface
    assert f"{EXTRA} dev vmbr0" in site.pve.ns.ip("route", "show", f"{EXTRA}/32")
    assert_traffic(site)


def test_rules_carry_traffic(site: Site) -> None:
    """Before: the node's port 8080 is closed. After pvenet's create: forward, masquerade,
    hairpin and the extra address carry traffic, from the files pvenet renders."""
    assert not site.wan.ns.blocked(site.forward_url).ok
    site.pvenet.up(RULES_INPUT)
    assert site.node.read(RULES) == rules_file(table(RULES_SPEC))
    assert site.node.run(["systemctl", "is-enabled", SERVICE]).stdout.strip() == "enabled"
    assert_in_force(site)
    assert site.pvenet.drift() == []


def wanted_at_boot(node: SshNode) -> list[str]:
    """The units enabled in multi-user.target (this machine's own ones included)."""
    return node.run(["ls", "/etc/systemd/system/multi-user.target.wants"]).stdout.split()


def ruleset_shape(node: SshNode) -> tuple[int, int, int]:
    """Tables, chains and rules in ``nft list ruleset`` (what would pile up)."""
    text = node.ruleset()
    lines = [line.strip() for line in text.splitlines()]
    tables = sum(line.startswith("table ") for line in lines)
    chains = sum(line.startswith("chain ") for line in lines)
    rules = sum(
        bool(line) and not line.startswith(("table ", "chain ", "type ", "}")) for line in lines
    )
    return tables, chains, rules


def reboot(site: Site) -> None:
    """What a reboot does to the node's host rules: the table, the sysctls and vmbr0 (with
    its proxy_arp and route) are gone; networking brings vmbr0 up again (``ifreload -a``,
    the if-up.d hook), systemd-sysctl reads the sysctl files, then the enabled units start:
    of those, the test runs pvenet's (the others are this machine's)."""
    node, pve = site.node, site.pve
    pve.ns.exec("nft", "delete", "table", *TABLE.split())
    for key in ("net.ipv4.ip_forward", "net.ipv4.conf.eno1.proxy_arp"):
        pve.ns.exec("sysctl", "-qw", f"{key}=0")
    pve.ns.ip("link", "del", "vmbr0")
    assert not site.wan.ns.blocked(site.forward_url).ok
    node.run(["ifreload", "-a"])
    node.run(["sysctl", "-p", SYSCTL])
    assert SERVICE in wanted_at_boot(node)
    node.run(["systemctl", "start", SERVICE])


def test_rules_survive_ifreload_and_boot(site: Site) -> None:
    """ifreload -a twice: nothing piles up. vmbr0 recreated: the if-up.d hook puts proxy_arp
    and the route back. "Boot" (table, sysctls, links gone): the unit's ExecStart restores all."""
    node, pve = site.node, site.pve
    conf = (pve.ifupdown2.state / "network/ifupdown2/ifupdown2.conf").read_text()
    assert "\naddon_scripts_support=1\n" in conf, "ifupdown2 runs /etc/network/if-up.d"
    site.pvenet.up(RULES_INPUT)
    shape = ruleset_shape(node)
    for _ in range(2):
        node.run(["ifreload", "-a"])
    site.attach()
    assert ruleset_shape(node) == shape
    assert_in_force(site)

    pve.ns.ip("link", "del", "vmbr0")  # ifreload recreates it: sysctls and routes are gone
    node.run(["ifreload", "-a"])
    site.attach()
    assert_in_force(site)

    reboot(site)
    site.attach()
    assert ruleset_shape(node) == shape
    assert_in_force(site)
    assert site.pvenet.drift() == []


def test_update_and_delete_leave_the_firewall_and_nothing_of_pvenet(site: Site) -> None:
    """A firewall's table is byte-identical after create, update and delete. An update that
    drops the extra address takes its proxy_arp and route back; delete leaves none of
    pvenet's files, its table, route or sysctls."""
    node, pve = site.node, site.pve
    node.run(["nft", "-f", "/dev/stdin"], stdin=FOREIGN)
    before = foreign(node)
    keys = ("net.ipv4.ip_forward", "net.ipv4.conf.eno1.proxy_arp", "net.ipv4.conf.vmbr0.proxy_arp")
    sysctls = {key: node.sysctl(key) for key in keys}
    site.pvenet.up(RULES_INPUT)
    assert foreign(node) == before
    assert_traffic(site)

    site.pvenet.up({**RULES_INPUT, "proxy_arp": [], "routes": []})
    assert foreign(node) == before
    assert not site.wan.ns.blocked(f"http://{EXTRA}:80").ok
    assert pve.ns.ip("route", "show", f"{EXTRA}/32").strip() == ""
    assert {key: node.sysctl(key) for key in keys[1:]} == {key: sysctls[key] for key in keys[1:]}
    assert str(site.wan.ns.http_get(site.forward_url)) == f"vm100 saw client {UPSTREAM}"
    assert site.pvenet.drift() == []

    site.pvenet.destroy()
    assert foreign(node) == before
    assert node.run(["nft", "list", "table", *TABLE.split()], check=False).rc != 0
    for path in (*MANAGED_FILES, PVENET_DIR, SYSCTL, UNIT, HOOK):
        assert not node.exists(path), f"{path} left on the node"
    assert SERVICE not in wanted_at_boot(node)
    assert {key: node.sysctl(key) for key in keys} == sysctls
    assert not site.wan.ns.blocked(site.forward_url).ok


def node_files(node: SshNode) -> dict[str, str | None]:
    """Every file host rules keep on the node, as it holds them."""
    return {path: node.read(path) for path in MANAGED_FILES}


def test_management_cut_is_reverted_by_the_node(site: Site) -> None:
    """pvenet reaches sshd through a port forward in front of the node, so its preview
    cannot see that forwarding tcp 22 to a guest cuts it off. The new connection fails,
    the node's timer puts the previous rules back, and pvenet says so."""
    node = site.node
    site.pvenet.up(RULES_INPUT)
    files_before = node_files(node)
    pvenet = pvenet_for(node.environment(), site.api_env, CUT_TIMEOUT)
    pvenet.state = site.pvenet.state
    cutting = copy.deepcopy(RULES_INPUT)
    cutting["forwards"].append({"protocol": "tcp", "port": 22, "to": "10.10.10.5"})
    with pytest.raises(NodeError) as reverted:
        pvenet.up(cutting)
    message = str(reverted.value)
    assert message.startswith(f"{NODE}: the change was made, but pvenet could not reach the node")
    assert "The node put back what it ran (timer pvenet-revert-" in message, message
    assert f"after {CUT_TIMEOUT} s): {RULES}" in message, message
    assert "read back as before this change" in message, message
    # the path was cut by the forward: port 22 of the node went to vm100, which refused it
    assert node.relay is not None
    assert f"{HOST}:22 from {site.wan.ns.name}: [Errno 111] Connection refused" in node.relay.errors
    node.reconnect()
    assert node_files(node) == files_before
    assert loaded(node) == table_lines(table(RULES_SPEC))
    assert_traffic(site)
    assert site.pvenet.drift() == []


def test_network_change_that_cuts_ssh_is_reverted_by_the_node(site: Site) -> None:
    """A node network change guarded as pvenet guards it when SSH is configured: backup and
    timer armed over SSH, then Proxmox's apply (the new interfaces file, ``ifreload -a``)
    moves the node's address away from the one pvenet reaches. The node's timer puts the old
    file back and reloads it with the real ifupdown2; pvenet says so; SSH works again."""
    node, pve = site.node, site.pve
    provider = pvenet_for(node.environment(), site.api_env, CUT_TIMEOUT).provider
    ssh = provider.ssh
    assert ssh is not None
    reach = Reach(provider.settings, ssh, NODE)
    guard = InterfacesGuard(NODE, reach.connect, reach.api, CUT_TIMEOUT)
    guard.arm()
    moved = INTERFACES.replace("address 192.0.2.10/24", "address 192.0.2.11/24")
    result = pve.apply({"/etc/network/interfaces": moved})  # what the API's apply runs
    assert result.clean, str(result)
    assert "192.0.2.11/24" in pve.ns.ip("-br", "addr", "show", "eno1")
    with pytest.raises(NodeError) as reverted:
        guard.confirm()
    message = str(reverted.value)
    assert message.startswith(
        f"{NODE}: the network change was made, but pvenet could not reach the node again"
    ), message
    assert f"The node put back what it ran (timer {guard.unit}, after {CUT_TIMEOUT} s)" in message
    assert "/etc/network/interfaces read back as before this change" in message, message
    assert pve.ifupdown2.read("/etc/network/interfaces") == INTERFACES
    assert f"{HOST}/24" in pve.ns.ip("-br", "addr", "show", "eno1")
    node.reconnect()
    assert node.run(["cat", "/etc/network/interfaces"]).stdout == INTERFACES


READS = (
    *(f"cat {path}" for path in MANAGED_FILES),
    "cat /etc/pvenet/nosuch",
    "nft list table inet pvenet",
    "nft list table inet nosuch",
    "nft -c -f /etc/pvenet/rules.nft",
    "nft -c -f /etc/pvenet/nosuch.nft",
    "sysctl -n net.ipv4.ip_forward",
    "sysctl -n net.ipv4.conf.eno1.proxy_arp",
    "sysctl -n net.ipv4.conf.vmbr0.proxy_arp",
    "sysctl -n net.ipv4.conf.nosuch.proxy_arp",
    "sysctl -qw net.ipv4.conf.nosuch.proxy_arp=1",
    "sysctl -p /etc/pvenet/nosuch.conf",
    f"ip -j route show {EXTRA}/32",
    "ip -j route show 192.0.2.99/32",
)
"""Reads of the contract answered by the real tools on both sides (systemctl and
systemd-run are shims on the kernel node, so they are not compared)."""


def differences(site: Site) -> list[str]:
    """Each read of ``READS`` whose exit status, stdout or stderr differ between the
    simulator's pve1 and the real node."""
    differ = []
    for line in READS:
        sim = site.sim.ssh.run(NODE, line)
        real = site.node.run(line, check=False)
        if (sim.status, sim.stdout, sim.stderr) != (real.rc, real.stdout, real.stderr):
            differ.append(
                f"{line}\n  simulator: {sim.status} {sim.stdout!r} {sim.stderr!r}"
                f"\n  real node: {real.rc} {real.stdout!r} {real.stderr!r}"
            )
    return differ


def test_simulator_answers_as_the_real_node(site: Site) -> None:
    """The same provider code against the simulator's SSH face and the real node: after the
    same create, after a reboot of each and after the same delete, each read of the
    contract gets the same exit status, stdout and stderr."""
    on_sim = pvenet_for(site.sim.ssh_environment(), site.api_env, 30)
    on_sim.up(RULES_INPUT)
    site.pvenet.up(RULES_INPUT)
    assert differences(site) == [], "after create:\n" + "\n".join(differences(site))
    reboot(site)
    assert site.sim.boot(NODE).status == 0
    assert differences(site) == [], "after boot:\n" + "\n".join(differences(site))
    on_sim.destroy()
    site.pvenet.destroy()
    assert differences(site) == [], "after delete:\n" + "\n".join(differences(site))


BROAD_RULES: dict[str, Any] = {
    "masquerade": [
        {"source": "10.10.10.0/24", "interface": "eno1", "comment": "lab net"},
        {"source": "10.20.0.0/16", "interface": "vmbr0.20"},
        {"source": "fd00:10::/64", "interface": "eno1"},
    ],
    "forwards": [
        {"protocol": "tcp", "port": 8080, "to": "10.10.10.5", "to_port": 80, "hairpin": True},
        {"protocol": "udp", "port": "5000-5010", "to": "10.10.10.6"},
        {"protocol": "tcp", "port": 2222, "to": "10.10.10.7", "to_port": 22, "address": HOST},
        {
            "protocol": "tcp",
            "port": 8443,
            "to": "10.10.10.8",
            "to_port": 443,
            "interface": "eno1",
            "hairpin": True,
            "comment": "web, tls",
        },
        {"protocol": "tcp", "port": 8081, "to": "fd00:10::5", "to_port": 80},
        {"protocol": "tcp", "port": 9000, "to": "fd00:10::6", "address": "2001:db8::10"},
        {"protocol": "udp", "port": 53, "to": "10.20.0.5", "comment": "dns"},
    ],
    "ip_forward": {"ipv4": True, "ipv6": True},
}
"""Every shape of rule pvenet writes: ranges, addresses, interfaces, hairpin, IPv6, comments."""


def test_simulator_lists_tables_as_nft_does(lab: Lab, tmp_path: Path) -> None:
    """The same rules files loaded into the simulator's nft and the real one (a firewall's
    table with a counter, then pvenet's with every shape of rule): ``nft list`` prints the
    same, byte for byte, and the table reads back as the rules it was rendered from."""
    ns = lab.netns("nft")
    spec = _spec(BROAD_RULES)
    files = {"firewall.nft": FOREIGN, "rules.nft": rules_file(table(spec))}
    with running_simulator(state_dir=tmp_path / "simulator") as sim:
        for name, text in files.items():
            (tmp_path / name).write_text(text)
            ns.exec("nft", "-f", str(tmp_path / name))
            path = f"/etc/pvenet/{name}"
            assert (
                sim.ssh.run(NODE, f"install -D -m 0644 /dev/stdin {path}", text.encode()).status
                == 0
            )
            loaded_sim = sim.ssh.run(NODE, f"nft -f {path}")
            assert loaded_sim.status == 0, loaded_sim.stderr
        differ: list[str] = []
        for command in ("list table inet pvenet", "list table inet proxmox-firewall"):
            real = ns.exec("nft", *command.split()).stdout
            listed = sim.ssh.run(NODE, f"nft {command}").stdout
            differ += difflib.unified_diff(
                real.splitlines(), listed.splitlines(), f"nft {command}", "simulator", lineterm=""
            )
        assert not differ, "\n".join(differ)
        real = ns.exec("nft", "list", "ruleset").stdout
        assert sim.ssh.run(NODE, "nft list ruleset").stdout == real
    listing = ns.exec("nft", "list", "table", *TABLE.split()).stdout
    assert table_lines(listing) == table_lines(table(spec))
    parsed = parse_table(table_lines(listing))
    assert (parsed.forwards, parsed.masquerade, parsed.unknown) == (
        spec.forwards,
        spec.masquerade,
        [],
    )
