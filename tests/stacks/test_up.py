"""``./run up`` (``python -m components.up``): finding the Pulumi CLI, and saying so when it can't.

These tests never start the background simulator (``start_simulator`` is
replaced) and never reach the network: where the CLI would be downloaded,
the installer is made to fail, as it does on a machine without internet.
"""

from __future__ import annotations

import io
import urllib.error
from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi.automation import _cmd

from components import up
from components.project import PROJECT_ROOT

ONE_LINE_END = "; install it with: curl -fsSL https://get.pulumi.com | sh"


@pytest.fixture
def no_pulumi_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds only an empty directory (plus /bin for the installer's shell)."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}:/bin:/usr/bin")
    return empty


def test_without_a_cli_up_says_so_in_one_line_and_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pulumi_on_path: Path
) -> None:
    """The real install path runs, into a directory of the test's, with an installer that fails."""
    install_root = tmp_path / "pulumi-cli"

    def failing_installer(_url: str, path: str) -> None:
        Path(path).write_text("#!/bin/sh\necho 'cannot reach get.pulumi.com' >&2\nexit 1\n")

    monkeypatch.setattr(_cmd, "_download_to_file", failing_installer)
    monkeypatch.setattr(up, "CLI_ROOT", install_root)
    monkeypatch.setattr(up, "start_simulator", lambda out, err: "root@pam!pvenet=SECRET")
    out, err = io.StringIO(), io.StringIO()

    status = up.main([], out=out, err=err)

    assert status == 1
    assert err.getvalue().splitlines() == [
        f"up: the Pulumi CLI is not installed and could not be installed into {install_root} "
        f"(the installer exited with status 1){ONE_LINE_END}"
    ]
    assert out.getvalue() == ""


def test_a_failed_download_is_named_in_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_pulumi_on_path: Path
) -> None:
    """No network: the reason urllib gives, on the same single line."""

    def offline(**_: object) -> auto.PulumiCommand:
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(auto.PulumiCommand, "install", offline)
    with pytest.raises(up.CliUnavailable) as raised:
        up.find_cli(tmp_path / "cli")
    message = str(raised.value)
    assert "\n" not in message
    assert "(cannot download the installer: [Errno -2] Name or service not known)" in message
    assert message.endswith(ONE_LINE_END)


def test_a_pulumi_on_path_is_used_and_nothing_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An existing ``pulumi`` (here a stand-in that reports the SDK's version) wins."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "pulumi"
    fake.write_text("#!/bin/sh\necho v3.272.0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/bin:/usr/bin")

    def must_not_install(**_: object) -> auto.PulumiCommand:
        raise AssertionError("installed although pulumi is on PATH")

    monkeypatch.setattr(auto.PulumiCommand, "install", must_not_install)
    assert up.find_cli(tmp_path / "cli").command == "pulumi"


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
