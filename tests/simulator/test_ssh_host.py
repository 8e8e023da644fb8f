"""The node's kernel and systemd behind its SSH face: sysctls, routes, scripts, units,
the confirm-or-revert timer, ``ifreload -a`` and its hook, boot, faults, restarts.

The files are written in the shapes ``docs/host-rules.md`` gives them (by hand here,
not by the provider), and installed and run over SSH as the provider would.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import asyncssh
import pytest

from simulator.faults import Fault
from simulator.testing import SimulatorHandle, running_simulator
from tests.simulator.ssh_client import run

RULES = "/etc/pvenet/rules.nft"
HOST_SH = "/etc/pvenet/host.sh"
UNIT = "/etc/systemd/system/pvenet-rules.service"
HOOK = "/etc/network/if-up.d/pvenet"
SYSCTL = "/etc/sysctl.d/90-pvenet.conf"
REVERT = "/etc/pvenet/backup/revert.sh"
REVERT_UNIT = "pvenet-revert-7f3a"


def table(*rules: str) -> str:
    body = "".join(f"\t\t{rule}\n" for rule in rules)
    return (
        "table inet pvenet {\n\tchain prerouting {\n"
        "\t\ttype nat hook prerouting priority dstnat; policy accept;\n"
        f"{body}\t}}\n}}\n"
    )


def rules_file(text: str) -> str:
    return "#!/usr/sbin/nft -f\ntable inet pvenet\ndelete table inet pvenet\n" + text


OLD_TABLE = table('fib daddr type local tcp dport 8080 dnat ip to 10.10.10.5:80 comment "old"')
NEW_TABLE = table('fib daddr type local tcp dport 8443 dnat ip to 10.10.10.6:443 comment "new"')
HOST_SCRIPT = """\
#!/bin/sh
# per-interface settings and routes; with an interface name, only that interface's
only="$1"
if [ -z "$only" ] || [ "$only" = eno2 ]; then
	ip route replace 192.168.10.51/32 dev eno2
fi
if [ -z "$only" ] || [ "$only" = vmbr0 ]; then
	sysctl -qw net.ipv4.conf.vmbr0.proxy_arp=1
	ip route replace 192.168.10.50/32 dev vmbr0
fi
"""
UNIT_FILE = """\
[Unit]
Description=pvenet host rules
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/pvenet/rules.nft
ExecStart=/etc/pvenet/host.sh
ExecStop=/usr/sbin/nft delete table inet pvenet

[Install]
WantedBy=multi-user.target
"""
HOOK_FILE = """\
#!/bin/sh
# ifupdown2 runs this for each interface it brings up
[ -x /etc/pvenet/host.sh ] || exit 0
exec /etc/pvenet/host.sh "$IFACE"
"""
REVERT_SCRIPT = f"""\
#!/bin/sh
# unit: {REVERT_UNIT}
install -D -m 0644 /etc/pvenet/backup/etc/pvenet/rules.nft /etc/pvenet/rules.nft
rm -f /etc/sysctl.d/90-pvenet.conf
nft -f /etc/pvenet/rules.nft
sysctl -qw net.ipv4.ip_forward=0
ip route del 192.168.10.50/32 dev vmbr0
"""


def ok(sim: SimulatorHandle, command: str, stdin: str | None = None) -> str:
    answer = run(sim, command, stdin)
    assert answer.status == 0, (command, answer)
    return answer.stdout


def install(sim: SimulatorHandle, path: str, text: str, mode: str = "0644") -> None:
    ok(sim, f"install -D -m {mode} /dev/stdin {path}", text)


def set_up_rules(sim: SimulatorHandle) -> None:
    """What a first apply leaves: files, loaded table, sysctls, routes, the enabled unit."""
    install(sim, RULES, rules_file(OLD_TABLE))
    install(sim, HOST_SH, HOST_SCRIPT, "0755")
    install(sim, SYSCTL, "net.ipv4.ip_forward = 1\n")
    install(sim, UNIT, UNIT_FILE)
    install(sim, HOOK, HOOK_FILE, "0755")
    ok(sim, f"nft -f {RULES}")
    ok(sim, f"sysctl -p {SYSCTL}")
    ok(sim, HOST_SH)
    ok(sim, "systemctl daemon-reload")
    ok(sim, "systemctl enable pvenet-rules.service")


def routes(sim: SimulatorHandle) -> list[tuple[str, str]]:
    return sorted((r.dst, r.dev) for r in sim.host_state().routes)


def wait_for(condition: object, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {seconds} s")


# -- sysctl ---------------------------------------------------------------------------------


def test_sysctl_reads_writes_and_applies_a_file(simulator: SimulatorHandle) -> None:
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "0\n"
    assert run(simulator, "sysctl -qw net.ipv4.ip_forward=1") == (0, "", "")
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "1\n"
    install(
        simulator, SYSCTL, "# pvenet\nnet.ipv4.ip_forward = 0\nnet.ipv6.conf.all.forwarding = 1\n"
    )
    applied = ok(simulator, f"sysctl -p {SYSCTL}")
    assert applied == "net.ipv4.ip_forward = 0\nnet.ipv6.conf.all.forwarding = 1\n"
    assert ok(simulator, "sysctl -n net.ipv6.conf.all.forwarding") == "1\n"


@pytest.mark.parametrize(
    ("command", "stderr"),
    [
        (
            "sysctl -n net.ipv4.nope",
            "sysctl: cannot stat /proc/sys/net/ipv4/nope: No such file or directory\n",
        ),
        (
            "sysctl -qw net.ipv4.conf.vmbr9.proxy_arp=1",
            "sysctl: cannot stat /proc/sys/net/ipv4/conf/vmbr9/proxy_arp: "
            "No such file or directory\n",
        ),
        (
            "sysctl -p /etc/sysctl.d/none.conf",
            'sysctl: cannot open "/etc/sysctl.d/none.conf": No such file or directory\n',
        ),
    ],
)
def test_sysctl_refuses_what_the_kernel_does_not_have(
    simulator: SimulatorHandle, command: str, stderr: str
) -> None:
    assert run(simulator, command) == (1, "", stderr)


def test_a_sysctl_file_with_an_unknown_key_sets_the_others_and_fails(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, SYSCTL, "net.ipv4.nope = 1\nnet.ipv4.ip_forward = 1\n")
    answer = run(simulator, f"sysctl -p {SYSCTL}")
    assert answer.status == 1
    assert answer.stdout == "net.ipv4.ip_forward = 1\n"
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "1\n"
    install(simulator, SYSCTL, "-net.ipv4.nope = 1\nnet.ipv4.ip_forward = 0\n")
    assert run(simulator, f"sysctl -q -p {SYSCTL}") == (0, "", "")  # "-key": ignored
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "0\n"


def test_a_vlan_interface_sysctl_is_named_with_a_slash(simulator: SimulatorHandle) -> None:
    assert ok(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == "0\n"
    assert run(simulator, "sysctl -n net.ipv4.conf.vmbr0/10.proxy_arp").status == 1


# -- routes ---------------------------------------------------------------------------------


def test_routes_are_replaced_shown_and_deleted(simulator: SimulatorHandle) -> None:
    assert ok(simulator, "ip -j route show 192.168.10.50/32") == "[]\n"
    ok(simulator, "ip route replace 192.168.10.50/32 dev eno2")
    ok(simulator, "ip route replace 192.168.10.50/32 dev vmbr0")  # replaces, does not add
    shown = ok(simulator, "ip -j route show 192.168.10.50/32")
    assert shown == '[{"dst":"192.168.10.50","dev":"vmbr0","scope":"link","flags":[]}]\n'
    assert run(simulator, "ip route del 192.168.10.50/32 dev vmbr0") == (0, "", "")
    gone = run(simulator, "ip route del 192.168.10.50/32 dev vmbr0")
    assert gone == (2, "", "RTNETLINK answers: No such process\n")
    missing = run(simulator, "ip route replace 192.168.10.50/32 dev vmbr7")
    assert missing == (1, "", 'Cannot find device "vmbr7"\n')


# -- scripts --------------------------------------------------------------------------------


def test_host_sh_applies_every_interface_or_the_one_it_is_given(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, HOST_SH, HOST_SCRIPT, "0755")
    assert run(simulator, f"{HOST_SH} eno2") == (0, "", "")
    assert routes(simulator) == [("192.168.10.51", "eno2")]
    assert ok(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == "0\n"
    assert run(simulator, HOST_SH) == (0, "", "")
    assert routes(simulator) == [("192.168.10.50", "vmbr0"), ("192.168.10.51", "eno2")]
    assert ok(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == "1\n"


def test_a_script_runs_only_with_its_execute_bit_or_through_sh(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, HOST_SH, HOST_SCRIPT, "0644")
    assert run(simulator, HOST_SH) == (126, "", f"sh: 1: {HOST_SH}: Permission denied\n")
    assert run(simulator, f"/bin/sh {HOST_SH} vmbr0").status == 0
    assert routes(simulator) == [("192.168.10.50", "vmbr0")]
    assert run(simulator, "/etc/pvenet/none.sh") == (
        127,
        "",
        "sh: 1: /etc/pvenet/none.sh: not found\n",
    )


@pytest.mark.parametrize(
    "line",
    [
        "for iface in vmbr0 eno2; do",
        "ip route replace 192.168.10.9/32 dev $(cat /etc/iface)",
        "ip route show > /tmp/routes",
        "case $1 in",
    ],
)
def test_a_script_with_a_construct_the_simulator_does_not_know_is_refused_whole(
    simulator: SimulatorHandle, line: str
) -> None:
    script = "#!/bin/sh\nip route replace 192.168.10.50/32 dev vmbr0\n" + line + "\n"
    install(simulator, HOST_SH, script, "0755")
    answer = run(simulator, HOST_SH)
    assert answer.status == 2
    assert answer.stderr.startswith(f"{HOST_SH}: 3: Syntax error: ")
    assert routes(simulator) == []  # nothing of it ran


def test_an_argument_that_would_split_into_words_stops_the_script(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, HOST_SH, "#!/bin/sh\nip route replace 192.168.10.9/32 dev $1\n", "0755")
    answer = run(simulator, f"{HOST_SH} 'vmbr0 eno2'")
    assert answer.status == 2
    assert answer.stderr.startswith(f"{HOST_SH}: 2: ")
    assert routes(simulator) == []


def test_a_failing_command_in_a_script_does_not_stop_it(simulator: SimulatorHandle) -> None:
    install(
        simulator,
        HOST_SH,
        "#!/bin/sh\nip route replace 192.168.10.9/32 dev vmbr7\n"
        "ip route replace 192.168.10.50/32 dev vmbr0\n",
        "0755",
    )
    answer = run(simulator, HOST_SH)
    assert answer == (0, "", 'Cannot find device "vmbr7"\n')
    assert routes(simulator) == [("192.168.10.50", "vmbr0")]


# -- systemd --------------------------------------------------------------------------------


def test_the_unit_is_enabled_and_disabled(simulator: SimulatorHandle) -> None:
    missing = run(simulator, "systemctl enable pvenet-rules.service")
    assert missing == (
        1,
        "",
        "Failed to enable unit: Unit file pvenet-rules.service does not exist.\n",
    )
    install(simulator, UNIT, UNIT_FILE)
    assert run(simulator, "systemctl daemon-reload") == (0, "", "")
    enabled = run(simulator, "systemctl enable pvenet-rules.service")
    assert enabled.status == 0
    assert enabled.stderr.startswith("Created symlink ")
    assert simulator.host_state().enabled_units == ["pvenet-rules.service"]
    assert run(simulator, "systemctl is-enabled pvenet-rules.service") == (0, "enabled\n", "")
    assert run(simulator, "systemctl disable pvenet-rules.service").status == 0
    assert simulator.host_state().enabled_units == []
    assert run(simulator, "systemctl is-enabled pvenet-rules.service") == (1, "disabled\n", "")
    ok(simulator, f"rm -f {UNIT}")
    assert run(simulator, "systemctl is-enabled pvenet-rules.service") == (
        1,
        "",
        "Failed to get unit file state for pvenet-rules.service: No such file or directory\n",
    )


def test_a_confirmed_change_disarms_the_timer(simulator: SimulatorHandle) -> None:
    set_up_rules(simulator)
    install(simulator, REVERT, REVERT_SCRIPT)
    armed = run(simulator, f"systemd-run --unit={REVERT_UNIT} --on-active=3 /bin/sh {REVERT}")
    assert armed.status == 0
    assert f"Running timer as unit: {REVERT_UNIT}.timer" in armed.stderr
    assert run(simulator, f"systemctl is-active {REVERT_UNIT}.timer") == (0, "active\n", "")
    again = run(simulator, f"systemd-run --unit={REVERT_UNIT} --on-active=3 /bin/sh {REVERT}")
    assert again.status == 1
    assert "already loaded" in again.stderr
    assert run(simulator, f"systemctl stop {REVERT_UNIT}.timer") == (0, "", "")
    assert run(simulator, f"systemctl is-active {REVERT_UNIT}.timer") == (3, "inactive\n", "")
    time.sleep(3.5)
    assert ok(simulator, "nft list table inet pvenet") == OLD_TABLE  # the revert never ran
    stopped = run(simulator, f"systemctl stop {REVERT_UNIT}.timer")
    assert stopped.status == 5
    assert "not loaded" in stopped.stderr


def test_an_unconfirmed_change_is_put_back_by_the_timer_while_ssh_is_refused(
    simulator: SimulatorHandle,
) -> None:
    set_up_rules(simulator)
    install(simulator, "/etc/pvenet/backup/etc/pvenet/rules.nft", rules_file(OLD_TABLE))
    install(simulator, REVERT, REVERT_SCRIPT)
    ok(simulator, f"systemd-run --unit={REVERT_UNIT} --on-active=5 /bin/sh {REVERT}")
    # the change: new rules loaded
    install(simulator, RULES, rules_file(NEW_TABLE))
    ok(simulator, f"nft -f {RULES}")
    assert ok(simulator, "nft list table inet pvenet") == NEW_TABLE
    # ... and the node can no longer be reached
    simulator.faults.arm(Fault("drop", method="CONNECT", path="/nodes/pve1/ssh", times=1000))
    with pytest.raises((OSError, asyncssh.Error)):
        run(simulator, "systemctl is-active pvenet-revert-7f3a.timer")
    wait_for(lambda: simulator.host_state().timers == {}, 10.0)
    simulator.faults.clear()
    assert ok(simulator, "nft list table inet pvenet") == OLD_TABLE
    assert simulator.host_file(RULES) == rules_file(OLD_TABLE)
    assert simulator.host_file(SYSCTL) is None
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "0\n"
    assert routes(simulator) == [("192.168.10.51", "eno2")]
    assert run(simulator, f"systemctl is-active {REVERT_UNIT}.timer").status == 3
    fired = simulator.requests.select(method="TIMER")
    assert [(e.path, e.status) for e in fired] == [(f"/nodes/pve1/{REVERT_UNIT}.timer", 0)]
    assert simulator.requests.count(method="CONNECT", status=-1) == 1


# -- faults ---------------------------------------------------------------------------------


def test_a_lost_answer_still_ran(simulator: SimulatorHandle) -> None:
    install(simulator, RULES, rules_file(NEW_TABLE))
    simulator.faults.arm(Fault("lost", method="SSH", path="/nodes/pve1/ssh/nft -f *"))
    answer = run(simulator, f"nft -f {RULES}")
    assert answer.status is None  # the channel closed without an exit status
    assert ok(simulator, "nft list table inet pvenet") == NEW_TABLE
    assert simulator.requests.count(method="SSH", path_glob="*nft -f*", status=-1) == 1


def test_a_dropped_command_did_not_run(simulator: SimulatorHandle) -> None:
    install(simulator, RULES, rules_file(NEW_TABLE))
    simulator.faults.arm(Fault("drop", method="SSH", path="/nodes/pve1/ssh/nft -f *"))
    assert run(simulator, f"nft -f {RULES}").status is None
    assert run(simulator, "nft list table inet pvenet").status == 1


# -- ifreload and boot ----------------------------------------------------------------------


def test_ifreload_runs_the_hook_for_each_interface(simulator: SimulatorHandle) -> None:
    set_up_rules(simulator)
    ok(simulator, "ip route del 192.168.10.50/32 dev vmbr0")
    ok(simulator, "sysctl -qw net.ipv4.conf.vmbr0.proxy_arp=0")
    assert run(simulator, "ifreload -a") == (0, "", "")
    assert routes(simulator) == [("192.168.10.50", "vmbr0"), ("192.168.10.51", "eno2")]
    assert ok(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == "1\n"


def test_ifreload_applies_a_staged_interfaces_file_and_links_that_go_lose_their_routes(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, HOST_SH, HOST_SCRIPT, "0755")
    install(simulator, HOOK, HOOK_FILE, "0755")
    api = simulator.proxmox()
    api.nodes("pve1").network.post(iface="vmbr1", type="bridge", autostart=1)
    api.nodes("pve1").network.put()
    ok(simulator, "ip route replace 192.168.10.60/32 dev vmbr1")
    api.nodes("pve1").network("vmbr1").delete()
    staged = simulator.files()["/etc/network/interfaces.new"]
    ok(simulator, "ifreload -a")  # a bare ifreload leaves a staged change pending
    assert ("192.168.10.60", "vmbr1") in routes(simulator)
    assert simulator.files()["/etc/network/interfaces.new"] == staged
    ok(simulator, "install -D -m 0644 /dev/stdin /etc/network/interfaces", staged)
    ok(simulator, "ifreload -a")
    assert ("192.168.10.60", "vmbr1") not in routes(simulator)
    assert ("192.168.10.50", "vmbr0") in routes(simulator)  # the hook put vmbr0's back


def test_an_apply_through_the_api_runs_the_hook_too(simulator: SimulatorHandle) -> None:
    """``PUT /nodes/{node}/network`` is ``ifreload -a`` on a real node: the hook runs."""
    set_up_rules(simulator)
    ok(simulator, "ip route del 192.168.10.50/32 dev vmbr0")
    simulator.proxmox().nodes("pve1").network.put()
    assert routes(simulator) == [("192.168.10.50", "vmbr0"), ("192.168.10.51", "eno2")]


def test_boot_runs_the_enabled_units_again(simulator: SimulatorHandle) -> None:
    set_up_rules(simulator)
    ok(simulator, f"systemd-run --unit={REVERT_UNIT} --on-active=60 /bin/sh {REVERT}")
    result = simulator.boot()
    assert result.status == 0, result
    state = simulator.host_state()
    assert state.timers == {}  # transient units do not survive a reboot
    assert ok(simulator, "nft list table inet pvenet") == OLD_TABLE
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "1\n"  # from /etc/sysctl.d
    assert routes(simulator) == [("192.168.10.50", "vmbr0"), ("192.168.10.51", "eno2")]
    assert ok(simulator, "systemctl is-active pvenet-rules.service") == "active\n"


def test_boot_makes_a_staged_network_change_live_as_pvenetcommit_does(
    simulator: SimulatorHandle,
) -> None:
    simulator.proxmox().nodes("pve1").network.post(iface="vmbr1", type="bridge", autostart=1)
    simulator.boot()
    files = simulator.files()
    assert files["/etc/network/interfaces.new"] is None
    assert "iface vmbr1 inet manual" in (files["/etc/network/interfaces"] or "")
    assert ok(simulator, "sysctl -n net.ipv4.conf.vmbr1.proxy_arp") == "0\n"  # vmbr1 is up


def test_boot_without_the_unit_loses_the_runtime_state(simulator: SimulatorHandle) -> None:
    set_up_rules(simulator)
    ok(simulator, "systemctl disable pvenet-rules.service")
    ok(simulator, f"rm -f {HOOK}")
    simulator.boot()
    assert run(simulator, "nft list table inet pvenet").status == 1
    assert routes(simulator) == []
    assert ok(simulator, "sysctl -n net.ipv4.conf.vmbr0.proxy_arp") == "0\n"
    assert ok(simulator, "sysctl -n net.ipv4.ip_forward") == "1\n"  # the file is still there


# -- restarts and ports ---------------------------------------------------------------------


def test_the_host_state_survives_a_simulator_restart_and_timers_still_fire(
    tmp_path: Path,
) -> None:
    with running_simulator(tmp_path / "sim") as sim:
        set_up_rules(sim)
        install(sim, "/etc/pvenet/backup/etc/pvenet/rules.nft", rules_file(NEW_TABLE))
        install(sim, REVERT, REVERT_SCRIPT)
        ok(sim, f"systemd-run --unit={REVERT_UNIT} --on-active=5 /bin/sh {REVERT}")
    with running_simulator(tmp_path / "sim") as sim:
        assert ok(sim, "nft list table inet pvenet") == OLD_TABLE
        assert ok(sim, "sysctl -n net.ipv4.ip_forward") == "1\n"
        assert routes(sim) == [("192.168.10.50", "vmbr0"), ("192.168.10.51", "eno2")]
        assert ok(sim, f"systemctl is-active {REVERT_UNIT}.timer") == "active\n"
        wait_for(lambda: sim.host_state().timers == {}, 10.0)
        assert ok(sim, "nft list table inet pvenet") == NEW_TABLE


def test_a_configured_ssh_port_is_used(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with running_simulator(tmp_path / "sim", ssh_ports={"pve1": port}) as sim:
        assert sim.ssh_environment()["PVENET_SSH_ADDRESSES"] == f"pve1=127.0.0.1:{port}"
        assert ok(sim, "sysctl -n net.ipv4.ip_forward") == "0\n"


def test_a_unit_that_reloads_the_network_stays_active(simulator: SimulatorHandle) -> None:
    """A unit whose ExecStart runs `ifreload -a` (which reads the host state again) is active
    once started, as on a node."""
    unit = "/etc/systemd/system/reload.service"
    install(
        simulator,
        unit,
        "[Service]\nType=oneshot\nRemainAfterExit=yes\nExecStart=/sbin/ifreload -a\n",
    )
    assert run(simulator, "systemctl daemon-reload").status == 0
    assert run(simulator, "systemctl start reload.service").status == 0
    assert run(simulator, "systemctl is-active reload.service") == (0, "active\n", "")
    assert simulator.host_state().active_units == ["reload.service"]
