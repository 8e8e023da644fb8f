"""``./run up`` (``python -m components.up``): finding the Pulumi CLI, and saying so when it can't.

These tests never start the background simulator (``start_simulator`` is
replaced) and never reach the network: where the CLI would be downloaded,
the installer is made to fail, as it does on a machine without internet
(``tests/stacks/conftest.py``).
"""

from __future__ import annotations

import io
import urllib.error
from pathlib import Path

import pytest
from pulumi import automation as auto

from components import pulumi_cli, up
from components.project import PROJECT_ROOT
from simulator.testing import running_simulator


@pytest.mark.usefixtures("bare_path", "failing_installer")
def test_without_a_cli_up_says_so_in_one_line_and_exits_non_zero(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The real install path runs, into a directory of the test's, with an installer that
    fails; without Go there is nothing left to try."""
    monkeypatch.setattr(up, "start_simulator", lambda out, err: "root@pam!pvenet=SECRET")
    out, err = io.StringIO(), io.StringIO()

    status = up.main([], out=out, err=err)

    assert status == 1
    assert err.getvalue().splitlines() == [
        "up: the Pulumi CLI is not installed and could not be installed into "
        f"{tmp_path / 'pulumi-cli'} "
        "(the installer: exited with status 1), and there is no Go to build it with; "
        "install it with: curl -fsSL https://get.pulumi.com | sh"
    ]
    assert out.getvalue() == ""


@pytest.mark.usefixtures("bare_path")
def test_a_failed_download_is_named_in_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """No network: the reason urllib gives, on the same single line."""

    def offline(**_: object) -> auto.PulumiCommand:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(auto.PulumiCommand, "install", offline)
    with pytest.raises(pulumi_cli.CliUnavailable) as raised:
        pulumi_cli.find_cli()
    message = str(raised.value)
    assert "\n" not in message
    assert "(the installer: cannot download the installer: [Errno -2] Name or service " in message


def test_the_dev_stack_lives_in_the_project_with_a_documented_passphrase(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """State in ``<project>/.pulumi`` (file backend), passphrase ``pvenet-dev`` unless the user
    set one, and the simulator's token for the providers (never in a stack file)."""
    monkeypatch.delenv("PULUMI_CONFIG_PASSPHRASE", raising=False)
    env = up.stack_environment("root@pam!pvenet=SECRET")
    assert env["PULUMI_BACKEND_URL"] == f"file://{PROJECT_ROOT}"
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "pvenet-dev"
    assert env["PROXMOX_VE_API_TOKEN"] == "root@pam!pvenet=SECRET"
    monkeypatch.setenv("PULUMI_CONFIG_PASSPHRASE", "mine")
    assert up.stack_environment("t")["PULUMI_CONFIG_PASSPHRASE"] == "mine"


def test_the_dev_stack_gets_the_simulators_ssh_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The providers reach the simulated nodes over SSH with the settings it published."""
    with running_simulator(tmp_path / "dev") as sim:
        monkeypatch.setattr(up, "SIMULATOR_STATE", tmp_path / "dev")
        env = up.stack_environment("t")
        host, port = sim.ssh.addresses["pve1"]
        assert env["PVENET_SSH_ADDRESSES"] == f"pve1={host}:{port}"
        assert env["PVENET_SSH_USER"] == "root"
        assert Path(env["PVENET_SSH_KEY"]) == (tmp_path / "dev/ssh/client_ed25519").resolve()
        assert f"[{host}]:{port} ssh-ed25519 " in Path(env["PVENET_SSH_KNOWN_HOSTS"]).read_text()


def test_a_directory_that_is_not_a_project_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--program`` must hold a Pulumi.yaml; the simulator is not even started."""

    def must_not_start(out: object, err: object) -> str:
        raise AssertionError("started the simulator")

    monkeypatch.setattr(up, "start_simulator", must_not_start)
    err = io.StringIO()
    assert up.main(["--program", str(tmp_path)], out=io.StringIO(), err=err) == 2
    assert err.getvalue() == f"up: {tmp_path} is not a Pulumi project: it has no Pulumi.yaml\n"
