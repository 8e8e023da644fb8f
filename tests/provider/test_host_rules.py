"""``HostRules`` end to end: the provider against the simulator's HTTPS API and SSH face.

What a user would notice: the files on the node, the rules nft holds, the sysctls, the timer
that is stopped once pvenet reached the node again, drift after a hand edit, nft's own words
when it refuses the rules, a rerun after a lost answer that converges, a delete that leaves
nothing of pvenet behind, and a node that puts itself back when pvenet cannot reach it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provider.errors import HostCallFailed, NodeError
from provider.host.confirm import Reach
from provider.host.model import EMPTY, parse_rules
from provider.host.render import (
    HOOK,
    MANAGED_FILES,
    RULES,
    SYSCTL,
    UNIT,
)
from provider.host.resource import HostRulesProvider
from provider.host.transaction import HostTransaction
from simulator.faults import Fault
from simulator.testing import SimulatorHandle
from tests.provider.conftest import configure_for

CONFIRM_S = "3"
NAT: dict[str, Any] = {
    "masquerade": [{"source": "10.10.10.0/24", "interface": "vmbr0", "comment": "lab NAT"}],
    "forwards": [
        {"protocol": "tcp", "port": 8080, "to": "10.10.10.5", "to_port": 80, "comment": "web"}
    ],
    "ip_forward": {"ipv4": True},
    "proxy_arp": ["vmbr0"],
    "routes": [{"address": "192.168.10.77", "interface": "vmbr0"}],
}


@pytest.fixture
def host(simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> HostRulesProvider:
    """A HostRulesProvider for the simulator: the API from stack config, SSH from the
    environment the simulator gives (its client key, known_hosts and per-node ports)."""
    for key, value in simulator.ssh_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PVENET_SSH_CONFIRM_TIMEOUT", CONFIRM_S)
    return configure_for(HostRulesProvider(), simulator)


def checked(provider: HostRulesProvider, rules: dict[str, Any]) -> dict[str, Any]:
    """The inputs as the engine passes them after ``check`` (normalised, with ``rendered``)."""
    result = provider.check({}, {"node": "pve1", "rules": copy.deepcopy(rules)})
    assert result.failures == [], result.failures
    return dict(result.inputs)


def run(sim: SimulatorHandle, line: str) -> tuple[int, str]:
    """A command on pve1 as its shell would run it (no SSH, no faults): status and stdout."""
    result = sim.ssh.run("pve1", line)
    return result.status, result.stdout


def armed_timers(sim: SimulatorHandle) -> list[str]:
    return sorted(sim.host_state().timers)


def test_create_installs_the_files_loads_the_rules_and_stops_the_timer(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    props = checked(host, NAT)
    created = host.create(props)
    assert created.id == "pve1/host-rules"
    for path, content in props["rendered"].items():
        assert simulator.host_file(path) == content, path
    assert simulator.host_file(UNIT) is not None
    assert simulator.host_file(HOOK) is not None
    status, listing = run(simulator, "nft list table inet pvenet")
    assert status == 0
    assert 'tcp dport 8080 dnat ip to 10.10.10.5:80 comment "web"' in listing
    assert 'ip saddr 10.10.10.0/24 oifname "vmbr0" masquerade comment "lab NAT"' in listing
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == (0, "1\n")
    assert run(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == (0, "1\n")
    assert run(simulator, "systemctl is-enabled pvenet-rules.service")[0] == 0
    status, route = run(simulator, "ip -j route show 192.168.10.77/32")
    assert '"dev":"vmbr0"' in route.replace(" ", "")
    assert armed_timers(simulator) == []


def test_a_second_run_changes_nothing(simulator: SimulatorHandle, host: HostRulesProvider) -> None:
    props = checked(host, NAT)
    host.create(props)
    simulator.requests.clear()
    host.update("pve1/host-rules", props, props)
    written = [r for r in simulator.requests.entries() if r.method == "SSH" and "install" in r.path]
    assert written == []


def test_read_shows_rules_and_forwarding_changed_by_hand(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    props = checked(host, NAT)
    host.create(props)
    assert host.read("pve1/host-rules", props).outs["drift"] == []
    edited = (simulator.host_file(RULES) or "").replace("dport 8080", "dport 8081")
    assert run(simulator, "sysctl -qw net.ipv4.ip_forward=0")[0] == 0
    simulator.ssh.run("pve1", "install -D -m 0644 /dev/stdin /tmp/edited.nft", edited.encode())
    assert run(simulator, "nft -f /tmp/edited.nft")[0] == 0
    read = host.read("pve1/host-rules", props)
    assert read.inputs["rules"]["forwards"][0]["port"] == 8081
    assert read.inputs["rules"]["ip_forward"]["ipv4"] is False
    assert any("net.ipv4.ip_forward" in line for line in read.outs["drift"])
    host.update("pve1/host-rules", read.outs, props)
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == (0, "1\n")
    assert "dport 8080" in run(simulator, "nft list table inet pvenet")[1]


def test_nft_refusal_installs_nothing_and_arms_no_timer(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    """nft refuses the staged file (a node whose nftables lacks the nat family, say): its
    words reach the user, nothing is installed, no timer is armed."""
    words = "Error: Could not process rule: No such file or directory"
    simulator.faults.arm(
        Fault("error", method="SSH", path="/nodes/pve1/ssh/nft -c -f *", message=words)
    )
    with pytest.raises(NodeError) as refused:
        host.create(checked(host, NAT))
    message = str(refused.value)
    assert message.startswith(f"pve1: nft refuses the rules ({words})")
    assert "no rule was installed and no timer armed" in message
    for path in MANAGED_FILES:
        assert simulator.host_file(path) is None, path
    assert run(simulator, "nft list table inet pvenet")[0] != 0
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == (0, "0\n")
    assert armed_timers(simulator) == []


def test_delete_leaves_nothing_of_pvenet(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    before_forward = run(simulator, "sysctl -n net.ipv4.ip_forward")
    props = checked(host, NAT)
    host.create(props)
    host.delete("pve1/host-rules", props)
    for path in (*MANAGED_FILES, "/etc/pvenet/backup/revert.sh", "/etc/pvenet/new/rules.nft"):
        assert simulator.host_file(path) is None, path
    assert run(simulator, "nft list table inet pvenet")[0] != 0
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == before_forward
    assert run(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == (0, "0\n")
    assert run(simulator, "systemctl is-enabled pvenet-rules.service")[0] != 0
    assert run(simulator, "ip -j route show 192.168.10.77/32")[1].strip() in ("", "[]")
    assert armed_timers(simulator) == []
    host.delete("pve1/host-rules", props)  # a delete whose answer was lost runs again


def test_a_rerun_after_a_lost_answer_converges(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    """The answer of ``nft -f`` is lost: the run fails and the node puts itself back; the
    rerun installs the rules and confirms."""
    props = checked(host, NAT)
    simulator.faults.arm(Fault("lost", method="SSH", path="/nodes/pve1/ssh/nft -f *"))
    with pytest.raises(NodeError, match="The node put back what it ran"):
        host.create(props)
    assert simulator.host_file(RULES) is None
    host.create(props)
    assert simulator.host_file(RULES) == props["rendered"][RULES]
    assert simulator.host_file(SYSCTL) == props["rendered"][SYSCTL]
    assert armed_timers(simulator) == []


class ProcessEnds(BaseException):
    """pvenet's process ends (killed, the machine loses power) at the moment it is raised."""


def test_an_unconfirmed_change_left_armed_is_confirmed_by_the_rerun(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    """pvenet ends after installing, before it confirmed: the timer stays armed. The rerun
    recognises the leftover, keeps the way back, and stops the timer once it reached the
    node; nothing is installed twice."""
    props = checked(host, NAT)
    ssh = host.ssh
    assert ssh is not None
    reach = Reach(host.settings, ssh, "pve1")

    def ends() -> None:
        raise ProcessEnds

    slow = HostTransaction("pve1", host.settings.endpoint, reach.connect, ends, 600.0)
    with pytest.raises(ProcessEnds):
        slow.apply(parse_rules(props["rules"])[0] or EMPTY)
    left = armed_timers(simulator)
    assert len(left) == 1
    assert simulator.host_file(RULES) == props["rendered"][RULES]
    simulator.requests.clear()
    host.create(props)
    assert armed_timers(simulator) == []
    written = [r for r in simulator.requests.entries() if r.method == "SSH" and "install" in r.path]
    assert written == []


def test_the_node_puts_itself_back_when_pvenet_cannot_reach_it_again(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    """The new connection that would confirm is refused: the timer fires, the node runs
    what it ran before, and the error says so."""
    first = checked(host, {"ip_forward": {"ipv4": True}})
    host.create(first)
    props = checked(host, NAT)
    simulator.faults.arm(Fault("drop", method="CONNECT", path="/nodes/pve1/ssh", nth=2))
    with pytest.raises(NodeError) as failed:
        host.update("pve1/host-rules", first, props)
    message = str(failed.value)
    assert "could not reach the node again to confirm it" in message
    assert f"after {CONFIRM_S} s" in message
    assert "read back as before this change" in message
    assert simulator.host_file(RULES) == first["rendered"][RULES]
    assert "dport 8080" not in run(simulator, "nft list table inet pvenet")[1]
    assert run(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == (0, "0\n")
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == (0, "1\n")


def test_an_unknown_host_key_is_refused_with_its_fingerprint(
    simulator: SimulatorHandle,
    host: HostRulesProvider,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    monkeypatch.setenv("PVENET_SSH_KNOWN_HOSTS", str(empty))
    provider = configure_for(HostRulesProvider(), simulator)
    with pytest.raises(HostCallFailed) as refused:
        provider.create(checked(provider, NAT))
    message = str(refused.value)
    assert "SHA256:" in message
    assert "pulumi config set --path pvenet:ssh.hostKey 'ssh-" in message
    assert "PRIVATE KEY" not in message
    assert simulator.host_file(RULES) is None


@pytest.mark.parametrize(
    ("command", "first"),
    [
        ("cat /etc/pvenet/rules.nft", "no rule was installed"),
        ("systemd-run *", "no rule was installed"),
        ("install -D -m 0755 /dev/stdin /etc/pvenet/host.sh", "The node put back what it ran"),
        ("sysctl -qw *", "The node put back what it ran"),
        ("systemctl stop *", None),
    ],
)
def test_a_lost_answer_anywhere_leaves_a_true_message_and_the_rerun_converges(
    simulator: SimulatorHandle, host: HostRulesProvider, command: str, first: str | None
) -> None:
    """The command ran, its answer did not come back. The first run says what the node holds
    (or, when the lost answer was the confirmation's and the node shows it ran, succeeds);
    the run after converges: the rules are live, no timer is left armed."""
    props = checked(host, NAT)
    simulator.faults.arm(Fault("lost", method="SSH", path=f"/nodes/pve1/ssh/{command}"))
    if first is None:
        host.create(props)
    else:
        with pytest.raises(NodeError, match=first):
            host.create(props)
    host.create(props)
    for path, content in props["rendered"].items():
        assert simulator.host_file(path) == content, path
    assert "dport 8080" in run(simulator, "nft list table inet pvenet")[1]
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == (0, "1\n")
    assert armed_timers(simulator) == []


def test_proxy_arp_on_an_interface_the_node_lacks_is_refused_before_any_write(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    props = checked(host, {"proxy_arp": ["vmbr9"], "ip_forward": {"ipv4": True}})
    simulator.requests.clear()
    with pytest.raises(NodeError) as refused:
        host.create(props)
    assert str(refused.value).startswith("pve1: the node has no interface vmbr9, which proxy_arp")
    assert [e.path for e in simulator.requests.entries() if "install" in e.path] == []
    assert armed_timers(simulator) == []


def test_create_and_delete_leave_another_table_and_sysctl_file_as_they_were(
    simulator: SimulatorHandle, host: HostRulesProvider
) -> None:
    """A firewall's own table and someone's sysctl file are not pvenet's: untouched."""
    firewall = (
        "table inet proxmox-firewall {\n\tchain input {\n\t\ttype filter hook input priority "
        "filter; policy accept;\n\t\ttcp dport 8006 accept\n\t}\n}\n"
    )
    simulator.ssh.run("pve1", "install -D -m 0644 /dev/stdin /etc/firewall.nft", firewall.encode())
    assert run(simulator, "nft -f /etc/firewall.nft")[0] == 0
    simulator.ssh.run(
        "pve1", "install -D -m 0644 /dev/stdin /etc/sysctl.d/80-mine.conf", b"vm.swappiness = 10\n"
    )
    listed = run(simulator, "nft list table inet proxmox-firewall")
    props = checked(host, NAT)
    host.create(props)
    assert run(simulator, "nft list table inet proxmox-firewall") == listed
    host.delete("pve1/host-rules", props)
    assert run(simulator, "nft list table inet proxmox-firewall") == listed
    assert simulator.host_file("/etc/sysctl.d/80-mine.conf") == "vm.swappiness = 10\n"
    assert simulator.host_file("/etc/firewall.nft") == firewall


GUEST_RULES = st.fixed_dictionaries(
    {
        "masquerade": st.lists(
            st.sampled_from(
                [
                    {"source": "10.10.10.0/24", "interface": "vmbr0"},
                    {"source": "fd00:10::/64", "interface": "vmbr0", "comment": "lab v6"},
                ]
            ),
            unique_by=lambda m: m["source"],
        ),
        "forwards": st.lists(
            st.builds(
                lambda port, host, to_port: {
                    "protocol": "tcp",
                    "port": port,
                    "to": f"192.168.10.{host}",
                    "to_port": to_port,
                },
                st.integers(2000, 2999),
                st.integers(50, 60),
                st.none() | st.integers(1, 1024),
            ),
            max_size=2,
            unique_by=lambda f: f["port"],
        ),
        "ip_forward": st.fixed_dictionaries({"ipv4": st.booleans(), "ipv6": st.booleans()}),
        "proxy_arp": st.lists(st.just("vmbr0"), max_size=1),
        "routes": st.lists(
            st.builds(
                lambda host: {"address": f"203.0.113.{host}", "interface": "vmbr0"},
                st.integers(1, 4),
            ),
            max_size=2,
            unique_by=lambda r: r["address"],
        ),
    }
)
KERNEL_KEYS = (
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.vmbr0.proxy_arp",
)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(GUEST_RULES, min_size=1, max_size=3))
def test_any_sequence_of_changes_lands_and_delete_puts_the_node_back(
    simulator: SimulatorHandle, host: HostRulesProvider, steps: list[dict[str, Any]]
) -> None:
    """Create, update, update, delete on one node (each example starts from the node the
    previous one's delete left): every step runs as rendered, and delete leaves the sysctls
    and routes as they were before pvenet, with none of its files."""
    kernel = {key: run(simulator, f"sysctl -n {key}") for key in KERNEL_KEYS}
    previous: dict[str, Any] | None = None
    for rules in steps:
        props = checked(host, rules)
        if previous is None:
            host.create(props)
        else:
            host.update("pve1/host-rules", previous, props)
        for path, content in props["rendered"].items():
            assert simulator.host_file(path) == content, path
        assert host.read("pve1/host-rules", props).outs["drift"] == []
        assert armed_timers(simulator) == []
        previous = props
    assert previous is not None
    host.delete("pve1/host-rules", previous)
    assert {key: run(simulator, f"sysctl -n {key}") for key in KERNEL_KEYS} == kernel
    for host_number in range(1, 5):
        routes = run(simulator, f"ip -j route show 203.0.113.{host_number}/32")[1]
        assert routes.strip() in ("", "[]")
    for path in MANAGED_FILES:
        assert simulator.host_file(path) is None, path
