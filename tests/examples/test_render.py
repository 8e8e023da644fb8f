"""``python -m components.render``: the files a stack would leave on each node, for review.

Run in process through its ``main`` (as the command line does), with no
credentials and no Pulumi CLI: the render starts its own simulator.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from components import render
from components.project import PROJECT_ROOT
from simulator.node import installer_interfaces
from tests.programs import EXPECTED

HOMELAB = PROJECT_ROOT / "examples" / "homelab"
INSTALLER = installer_interfaces(
    ["eno1", "eno2", "eno3", "eno4"], "192.168.10.2/24", "192.168.10.1"
)


def run(*argv: str) -> tuple[int, str, str]:
    """``python -m components.render ARGV``: status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    status = render.main(list(argv), out=out, err=err)
    return status, out.getvalue(), err.getvalue()


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
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT_ROOT / "__main__.py", project)
    shutil.copy(PROJECT_ROOT / "Pulumi.yaml", project)
    (project / "Pulumi.lab.yaml").write_text(
        "config:\n  pvenet:networks:\n    nat:\n"
        "      - {name: lab, zone: labnat, vnet: labnet, cidr: 10.10.10.255/24}\n"
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
