"""The simulated nodes' SSH face, through a plain SSH client: who gets in, files, nft.

Every answer is checked the way the provider (or a person at a shell) would see it:
exit status, standard output, standard error, and what the node holds afterwards.
"""

from __future__ import annotations

import re
from pathlib import Path

import asyncssh
import pytest

from simulator.faults import Fault
from simulator.testing import SimulatorHandle, running_simulator
from tests.simulator.ssh_client import run, run_many

RULES = "/etc/pvenet/rules.nft"
TABLE = """\
table inet pvenet {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		ip daddr 192.168.10.2 tcp dport 8080 dnat ip to 10.10.10.5:80 comment "web"
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.10.10.0/24 oifname "vmbr0" masquerade
	}
}
"""
RULES_FILE = (
    "#!/usr/sbin/nft -f\n# replaces the table in one transaction\n"
    "table inet pvenet\ndelete table inet pvenet\n" + TABLE
)


def install(sim: SimulatorHandle, path: str, text: str, mode: str = "0644") -> None:
    answer = run(sim, f"install -D -m {mode} /dev/stdin {path}", text)
    assert (answer.status, answer.stderr) == (0, ""), answer


# -- who gets in ----------------------------------------------------------------------------


def test_the_settings_pin_each_nodes_host_key_at_its_address(tmp_path: Path) -> None:
    with running_simulator(tmp_path / "sim", nodes=("pve1", "pve2")) as sim:
        env = sim.ssh_environment()
        assert env["PVENET_SSH_USER"] == "root"
        assert Path(env["PVENET_SSH_KEY"]).stat().st_mode & 0o077 == 0  # a private key: 0600
        lines = Path(env["PVENET_SSH_KNOWN_HOSTS"]).read_text().splitlines()
        addresses = dict(pair.split("=") for pair in env["PVENET_SSH_ADDRESSES"].split(","))
        assert sorted(addresses) == ["pve1", "pve2"]
        for node, addr in addresses.items():
            host, port = addr.rsplit(":", 1)
            entry = next(line for line in lines if line.startswith(f"[{host}]:{port} "))
            assert re.fullmatch(r"\[127\.0\.0\.1\]:\d+ ssh-ed25519 \S+", entry)
            assert run(sim, "cat /etc/hostname-missing", node=node).status == 1
        assert len(set(lines)) == 2  # each node its own host key


def test_a_host_key_other_than_the_pinned_one_is_not_trusted(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    host, port = simulator.ssh.addresses["pve1"]
    forged = tmp_path / "known_hosts"
    forged.write_text(f"[{host}]:{port} {other}")
    with pytest.raises(asyncssh.HostKeyNotVerifiable):
        run_many(simulator, [("cat /etc/network/interfaces", None)], known_hosts=forged)


def test_only_root_with_the_trusted_key_gets_in(simulator: SimulatorHandle, tmp_path: Path) -> None:
    stranger = tmp_path / "stranger"
    stranger.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    stranger.chmod(0o600)
    with pytest.raises(asyncssh.PermissionDenied):
        run_many(simulator, [("cat /etc/network/interfaces", None)], key=stranger)
    with pytest.raises(asyncssh.PermissionDenied):
        run_many(simulator, [("cat /etc/network/interfaces", None)], user="admin")
    assert run(simulator, "cat /etc/network/interfaces").stdout.startswith("auto lo\n")


def test_keys_survive_a_restart_and_the_addresses_follow_the_new_ports(tmp_path: Path) -> None:
    with running_simulator(tmp_path / "sim") as sim:
        key = Path(sim.ssh_environment()["PVENET_SSH_KEY"]).read_bytes()
        pinned = Path(sim.ssh_environment()["PVENET_SSH_KNOWN_HOSTS"]).read_text().split()[1:]
    with running_simulator(tmp_path / "sim") as sim:
        env = sim.ssh_environment()
        assert Path(env["PVENET_SSH_KEY"]).read_bytes() == key
        assert Path(env["PVENET_SSH_KNOWN_HOSTS"]).read_text().split()[1:] == pinned
        assert run(sim, "cat /etc/network/interfaces").status == 0


# -- files ----------------------------------------------------------------------------------


def test_cat_of_a_missing_file_fails_as_coreutils_does(simulator: SimulatorHandle) -> None:
    answer = run(simulator, f"cat {RULES}")
    assert answer == (1, "", f"cat: {RULES}: No such file or directory\n")


def test_install_writes_the_file_with_its_mode_and_cat_reads_it_back(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, "/etc/pvenet/host.sh", "#!/bin/sh\n", mode="0755")
    install(simulator, RULES, RULES_FILE)
    assert run(simulator, f"cat {RULES}").stdout == RULES_FILE
    assert simulator.host_file(RULES) == RULES_FILE
    host_sh = simulator.state_dir / "nodes/pve1/etc/pvenet/host.sh"
    assert host_sh.stat().st_mode & 0o777 == 0o755


def test_install_without_parents_needs_the_directory(simulator: SimulatorHandle) -> None:
    answer = run(simulator, "install -m 0644 /dev/stdin /etc/pvenet/x.conf", "x\n")
    assert answer.status == 1
    assert "cannot create regular file '/etc/pvenet/x.conf'" in answer.stderr
    assert simulator.host_file("/etc/pvenet/x.conf") is None


def test_install_copies_a_backup_back_as_revert_does(simulator: SimulatorHandle) -> None:
    install(simulator, "/etc/pvenet/backup/etc/pvenet/rules.nft", RULES_FILE)
    copy = run(simulator, f"install -D -m 0644 /etc/pvenet/backup/etc/pvenet/rules.nft {RULES}")
    assert copy.status == 0
    assert simulator.host_file(RULES) == RULES_FILE
    missing = run(simulator, f"install -D -m 0644 /etc/pvenet/backup/nothing {RULES}")
    assert missing == (
        1,
        "",
        "install: cannot stat '/etc/pvenet/backup/nothing': No such file or directory\n",
    )


def test_rm_removes_files_and_the_directory(simulator: SimulatorHandle) -> None:
    install(simulator, RULES, RULES_FILE)
    install(simulator, "/etc/sysctl.d/90-pvenet.conf", "net.ipv4.ip_forward = 1\n")
    assert run(simulator, "rm -f /etc/sysctl.d/90-pvenet.conf /etc/nothing").status == 0
    assert simulator.host_file("/etc/sysctl.d/90-pvenet.conf") is None
    refused = run(simulator, "rm -f /etc/pvenet")
    assert refused == (1, "", "rm: cannot remove '/etc/pvenet': Is a directory\n")
    assert run(simulator, "rm -rf /etc/pvenet").status == 0
    assert simulator.host_file(RULES) is None
    assert run(simulator, "rm /etc/nothing") == (
        1,
        "",
        "rm: cannot remove '/etc/nothing': No such file or directory\n",
    )


def test_the_simulators_own_records_are_not_node_files(simulator: SimulatorHandle) -> None:
    answer = run(simulator, "cat /host-state.json /active.json")
    assert answer.status == 1
    assert answer.stdout == ""


# -- the shell ------------------------------------------------------------------------------


def test_an_unknown_command_is_not_found(simulator: SimulatorHandle) -> None:
    assert run(simulator, "iptables -L") == (127, "", "sh: 1: iptables: not found\n")


@pytest.mark.parametrize(
    "command",
    [
        "cat /etc/network/interfaces | head",
        "cat /etc/network/interfaces > /tmp/copy",
        "cat $HOME",
        "cat /etc/*",
        "cat `ls`",
        "|| cat /etc/network/interfaces",
    ],
)
def test_shell_constructs_are_refused_not_guessed(simulator: SimulatorHandle, command: str) -> None:
    answer = run(simulator, command)
    assert answer.status == 2
    assert answer.stderr.startswith("sh: 1: Syntax error: ")


def test_a_command_line_may_chain_commands_as_a_person_would(simulator: SimulatorHandle) -> None:
    """The hand removal of docs/host-rules.md, as one line."""
    install(simulator, RULES, RULES_FILE)
    install(simulator, "/etc/systemd/system/pvenet-rules.service", "[Service]\n")
    assert run(simulator, f"nft -f {RULES} && systemctl enable pvenet-rules.service").status == 0
    line = (
        "systemctl disable --now pvenet-rules.service; nft delete table inet pvenet; "
        "rm -rf /etc/pvenet /etc/systemd/system/pvenet-rules.service; systemctl daemon-reload; "
        "sysctl --system"
    )
    assert run(simulator, line).status == 0
    assert simulator.host_file(RULES) is None
    assert run(simulator, "nft list table inet pvenet").status == 1
    assert simulator.host_state().enabled_units == []
    assert run(simulator, "cat /nothing || cat /etc/network/interfaces").status == 0
    assert run(simulator, "cat /nothing && cat /etc/network/interfaces").stdout == ""


# -- nft ------------------------------------------------------------------------------------


def test_a_rules_file_is_checked_loaded_and_listed(simulator: SimulatorHandle) -> None:
    install(simulator, RULES, RULES_FILE)
    absent = run(simulator, "nft list table inet pvenet")
    assert absent.status == 1
    assert absent.stderr.startswith("Error: No such file or directory\nlist table inet pvenet\n")
    assert run(simulator, f"nft -c -f {RULES}") == (0, "", "")
    assert run(simulator, "nft list table inet pvenet").status == 1  # -c loads nothing
    assert run(simulator, f"nft -f {RULES}") == (0, "", "")
    assert run(simulator, "nft list table inet pvenet") == (0, TABLE, "")
    # loading again replaces the table (the file deletes it first), it does not add rules
    assert run(simulator, f"/usr/sbin/nft -f {RULES}").status == 0
    assert run(simulator, "nft list table inet pvenet").stdout == TABLE


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("dport 8080 dnat", "dport 8080 dnot", "syntax error, unexpected string"),
        ("dport 8080 dnat", "dport 80800 dnat", "Could not resolve service"),
        ("daddr 192.168.10.2", "daddr 192.168.10.300", "Could not resolve hostname"),
        ("masquerade\n", "masquerade accept\n", "Statement after terminal statement"),
        ("priority srcnat;", "priority sourcenat;", "syntax error, unexpected string"),
        ("\t}\n}\n", "\t}\n", "syntax error, unexpected end of file"),
        ("tcp dport 8080 dnat ip", "tcp dport 8080 dnat", "specify `dnat ip' or 'dnat ip6'"),
        ("chain postrouting {", "chain postrouting", "syntax error, unexpected newline"),
    ],
)
def test_a_file_that_does_not_parse_is_refused_with_nfts_message(
    simulator: SimulatorHandle, old: str, new: str, message: str
) -> None:
    bad = RULES_FILE.replace(old, new, 1)
    bad = bad.replace("ip daddr 192.168.10.2 tcp", "tcp") if "specify" in message else bad
    install(simulator, RULES, bad)
    for command in (f"nft -c -f {RULES}", f"nft -f {RULES}"):
        answer = run(simulator, command)
        assert answer.status == 1, (command, bad)
        first, source_line, carets = answer.stderr.split("\n")[:3]
        assert re.match(rf"{RULES}:\d+:\d+-\d+: Error: ", first), answer.stderr
        assert message in first, answer.stderr
        assert source_line in bad.split("\n")
        assert set(carets.strip()) == {"^"}
    assert run(simulator, "nft list table inet pvenet").status == 1


def test_a_load_is_all_or_nothing(simulator: SimulatorHandle) -> None:
    install(simulator, RULES, RULES_FILE)
    assert run(simulator, f"nft -f {RULES}").status == 0
    # parses, but its second part fails in the kernel: DNAT in a postrouting chain
    failing = RULES_FILE.replace(
        'oifname "vmbr0" masquerade',
        'oifname "vmbr0" masquerade\n\t\ttcp dport 22 dnat ip to 10.0.0.9',
    ).replace("10.10.10.5:80", "10.10.10.6:80")
    install(simulator, "/etc/pvenet/new/rules.nft", failing)
    answer = run(simulator, "nft -f /etc/pvenet/new/rules.nft")
    assert answer.status == 1
    assert "Error: Could not process rule: Operation not supported" in answer.stderr
    assert run(simulator, "nft list table inet pvenet").stdout == TABLE  # the old table, whole


def test_delete_table_unloads_and_fails_when_there_is_none(simulator: SimulatorHandle) -> None:
    install(simulator, RULES, RULES_FILE)
    assert run(simulator, f"nft -f {RULES}").status == 0
    assert run(simulator, "nft delete table inet pvenet") == (0, "", "")
    again = run(simulator, "nft delete table inet pvenet")
    assert again.status == 1
    assert again.stderr.startswith("Error: Could not process rule: No such file or directory\n")


def test_a_missing_rules_file_is_an_error(simulator: SimulatorHandle) -> None:
    answer = run(simulator, f"nft -c -f {RULES}")
    assert answer.status == 1
    assert RULES in answer.stderr
    assert "No such file or directory" in answer.stderr


# -- the request log ------------------------------------------------------------------------


def test_each_command_is_logged_with_the_length_of_its_input_only(
    simulator: SimulatorHandle,
) -> None:
    install(simulator, RULES, RULES_FILE)
    run(simulator, f"nft -c -f {RULES}")
    logged = simulator.requests.select(method="SSH")
    assert [entry.path for entry in logged] == [
        f"/nodes/pve1/ssh/install -D -m 0644 /dev/stdin {RULES}",
        f"/nodes/pve1/ssh/nft -c -f {RULES}",
    ]
    assert logged[0].params == {"stdin": f"{len(RULES_FILE)} bytes"}
    assert [entry.status for entry in logged] == [0, 0]
    assert "masquerade" not in simulator.requests.path.read_text()
    assert simulator.requests.count(method="CONNECT", path_glob="/nodes/pve1/ssh") == 2


def test_an_api_fault_with_wildcards_leaves_ssh_alone(simulator: SimulatorHandle) -> None:
    """SSH requests match only faults that name their method (CONNECT, SSH) exactly."""
    simulator.faults.arm(Fault("drop"))
    assert run(simulator, "sysctl -n net.ipv4.ip_forward") == (0, "0\n", "")
    assert len(simulator.faults.armed()) == 1  # still waiting for an API request
