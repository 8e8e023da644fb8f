"""``python -m components.render``: the files a stack would leave on each node, for review.

Run in process through its ``main`` (as the command line does), with no
credentials and no Pulumi CLI: the render starts its own simulator.
"""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

from components import render
from components.project import PROJECT_ROOT
from simulator.node import installer_interfaces
from tests.programs import EXPECTED, expected_host_files

HOMELAB = PROJECT_ROOT / "examples" / "homelab"
INSTALLER = installer_interfaces(
    ["eno1", "eno2", "eno3", "eno4"], "192.168.10.2/24", "192.168.10.1"
)


def run(*argv: str) -> tuple[int, str, str]:
    """``python -m components.render ARGV``: status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = render.main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def root_program_with(tmp_path: Path, stack_file: str) -> Path:
    """A copy of the root program with the stack ``lab`` given as ``Pulumi.lab.yaml``."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "__main__.py", project)
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", project)
    (project / "Pulumi.lab.yaml").write_text(stack_file)
    return project


def test_homelab_renders_the_files_proxmox_would_write() -> None:
    """Each file after ``# pve1: <path>``: the exact text, every time."""
    status, out, err = run("--program", str(HOMELAB))
    assert (status, err) == (0, "")
    assert out == (EXPECTED / "render" / "homelab.txt").read_text()


def test_with_base_it_prints_a_unified_diff_per_file(tmp_path: Path) -> None:
    """Against the node's file as it is now: what changes, as ``diff -u`` shows it."""
    base = tmp_path / "interfaces"
    base.write_text(INSTALLER)
    status, out, _err = run(
        "--program", str(PROJECT_ROOT / "examples" / "bond"), "--base", str(base)
    )
    assert status == 0
    assert out == (EXPECTED / "render" / "bond-from-installer.diff").read_text()

    status, out, _err = run(
        "--program", str(PROJECT_ROOT / "examples" / "nat"), "--base", str(base)
    )
    assert status == 0
    interfaces, sdn = out.split("\n# pve1: /etc/network/interfaces.d/sdn\n")
    assert interfaces == "# pve1: /etc/network/interfaces\n(unchanged)\n", "NAT is SDN only"
    assert sdn.startswith("--- /dev/null\n+++ b/etc/network/interfaces.d/sdn\n")
    assert "+iface labnet\n+\taddress 10.10.10.1/24\n" in sdn


def test_the_dev_stack_renders_by_default_and_prod_on_its_own_nodes() -> None:
    """No flags: the root program with Pulumi.dev.yaml; ``--stack prod``: nodes pve-a, pve-b."""
    status, out, _err = run()
    assert status == 0
    assert out.startswith("# pve1: /etc/network/interfaces\n")
    assert "iface vmbr1.20 inet static\n\taddress 10.20.0.2/24\n" in out
    status, out, err = run("--stack", "prod")
    assert status == 0
    headers = [line for line in out.splitlines() if line.startswith("# pve-")]
    assert headers == [
        "# pve-a: /etc/network/interfaces",
        "# pve-a: /etc/network/interfaces.d/sdn",
        "# pve-b: /etc/network/interfaces",
        "# pve-b: /etc/network/interfaces.d/sdn",
    ]
    assert "info: bond0 uses 802.3ad (LACP)" in err


def test_a_bad_stack_is_one_error_with_the_key_path_and_status_1(tmp_path: Path) -> None:
    """A stack file with a mistake: the reason on stderr, nothing on stdout."""
    project = root_program_with(
        tmp_path,
        "config:\n  pvenet:networks:\n    nat:\n"
        "      - {name: lab, zone: labnat, vnet: labnet, cidr: 10.10.10.255/24}\n",
    )
    status, out, err = run("--program", str(project), "--stack", "lab")
    assert (status, out) == (1, "")
    assert err == (
        "render: pvenet:networks.nat[0].cidr: '10.10.10.255/24' is the broadcast address "
        "of 10.10.10.0/24\n"
    )


def test_a_missing_stack_file_is_named() -> None:
    """The root program needs ``Pulumi.<stack>.yaml``."""
    status, _out, err = run("--stack", "staging")
    assert status == 1
    assert err == f"render: {PROJECT_ROOT}/Pulumi.staging.yaml does not exist: there is no " + (
        "stack 'staging' here\n"
    )


def test_host_rules_show_beside_the_network_files() -> None:
    """The routed example's classic half: pvenet's rules file, host.sh (proxy_arp, routes)
    and sysctl file after Proxmox's files, each as ``up`` would install it."""
    status, out, err = run("--program", str(PROJECT_ROOT / "examples" / "routed"))
    assert (status, err) == (0, "")
    sections = re.split(r"^# pve1: (\S+)\n", out, flags=re.MULTILINE)[1:]
    shown = dict(zip(sections[::2], sections[1::2], strict=True))
    assert list(shown) == [
        "/etc/network/interfaces",
        "/etc/network/interfaces.d/sdn",
        "/etc/pvenet/rules.nft",
        "/etc/pvenet/host.sh",
        "/etc/sysctl.d/90-pvenet.conf",
    ]
    for path, text in expected_host_files("example-routed/pve1").items():
        assert shown[path].rstrip("\n") == (text or "").rstrip("\n"), path  # + blank line
    assert "\tsysctl -qw net.ipv4.conf.vmbr0.proxy_arp=1\n" in shown["/etc/pvenet/host.sh"]
    assert "\tip route replace 192.168.10.51/32 dev vmbr6\n" in shown["/etc/pvenet/host.sh"]


def test_with_base_host_rules_files_are_new(tmp_path: Path) -> None:
    """Against a node's file: pvenet's files come from /dev/null, the forward in the table."""
    base = tmp_path / "interfaces"
    base.write_text(INSTALLER)
    status, out, _err = run(
        "--program", str(PROJECT_ROOT / "examples" / "nat"), "--base", str(base)
    )
    assert status == 0
    _before, rules = out.split("\n# pve1: /etc/pvenet/rules.nft\n")
    assert rules.startswith("--- /dev/null\n+++ b/etc/pvenet/rules.nft\n")
    assert (
        '+\t\tfib daddr type local tcp dport 8080 dnat ip to 10.10.10.5:80 comment "lab web'
        in rules
    )
    assert "+\t\tip saddr 10.10.10.0/24 ip daddr 10.10.10.5 tcp dport 80 ct status dnat" in rules


def test_a_stack_without_host_rules_renders_no_host_files() -> None:
    """prod has no forwards or classic networks: no pvenet files, nothing that needs SSH."""
    status, out, _err = run("--stack", "prod")
    assert status == 0
    assert "/etc/pvenet/" not in out
    assert "90-pvenet" not in out


def test_a_hostile_forward_comment_fails_the_render(tmp_path: Path) -> None:
    """A comment that would close the nftables string and add a rule: refused, nothing shown."""
    project = root_program_with(
        tmp_path,
        "config:\n  pvenet:networks:\n    masquerade:\n"
        "      - {name: lab, node: pve1, bridge: vmbr5, cidr: 10.30.0.1/24, uplink: vmbr0,\n"
        "         forwards: [{protocol: tcp, port: 22, to: 10.30.0.9,\n"
        "           comment: 'ssh\" accept; tcp dport 1-65535 dnat ip to 10.30.0.9 \"'}]}\n",
    )
    status, out, err = run("--program", str(project), "--stack", "lab")
    assert (status, out) == (1, "")
    assert err.startswith("render: pvenet:networks.masquerade[0].forwards[0].comment: comment ")
    assert "which an nftables string cannot hold; remove it\n" in err
