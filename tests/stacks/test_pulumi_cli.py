"""Finding the Pulumi CLI (``components.pulumi_cli``): PATH, ``.state``, installer, Go build.

These tests never reach the network: where the CLI would be downloaded, the installer is
made to fail as it does on a machine without internet, and the Go build is a stand-in script
that leaves a CLI (a shell script reporting a version) where the real build would.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pulumi import automation as auto
from pulumi._version import version as sdk_version

from components import pulumi_cli

INSTALL_HINT = "; install it with: curl -fsSL https://get.pulumi.com | sh"


def _script(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path


def _fake_cli(directory: Path, version: str) -> Path:
    """A ``pulumi`` that only answers ``pulumi version``."""
    return _script(directory / "pulumi", f"echo v{version}")


@pytest.mark.usefixtures("failing_installer")
def test_without_installer_or_go_the_reason_is_one_line(tmp_path: Path, bare_path: Path) -> None:
    root = tmp_path / "pulumi-cli"
    with pytest.raises(pulumi_cli.CliUnavailable) as raised:
        pulumi_cli.find_cli(root)
    assert str(raised.value) == (
        f"the Pulumi CLI is not installed and could not be installed into {root} "
        "(the installer: exited with status 1), and there is no Go to build it with"
        f"{INSTALL_HINT}"
    )


@pytest.mark.usefixtures("failing_installer")
def test_where_the_installer_fails_go_builds_the_pinned_cli(
    tmp_path: Path, bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``go`` on PATH the build script runs (announced, with how long it takes), into
    ``root/bin``, and the CLI it leaves there is the one used."""
    _script(bare_path / "go", "exit 0")
    build = _script(
        tmp_path / "build.sh",
        f'mkdir -p "$1" && printf \'#!/bin/sh\\necho v{sdk_version}\\n\' > "$1/pulumi" '
        '&& chmod +x "$1/pulumi"',
    )
    monkeypatch.setattr(pulumi_cli, "GO_BUILD", build)
    root = tmp_path / "pulumi-cli"
    log = io.StringIO()

    cli = pulumi_cli.find_cli(root, log)

    assert cli.command == str(root / "bin" / "pulumi")
    assert log.getvalue() == (
        f"pvenet: building the Pulumi CLI {pulumi_cli.pinned_version()} from Go modules into "
        f"{root}/bin (the first build takes 5 to 10 minutes; later ones take seconds)\n"
    )
    assert pulumi_cli.existing_cli(root) is not None, "a second run finds it without building"


@pytest.mark.usefixtures("failing_installer")
def test_a_failed_go_build_is_named(
    tmp_path: Path, bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _script(bare_path / "go", "exit 0")
    monkeypatch.setattr(pulumi_cli, "GO_BUILD", _script(tmp_path / "build.sh", "exit 3"))
    with pytest.raises(pulumi_cli.CliUnavailable) as raised:
        pulumi_cli.find_cli(tmp_path / "pulumi-cli", io.StringIO())
    assert str(raised.value) == "the Go build of the Pulumi CLI failed (exited with status 3)"


def test_a_pulumi_on_path_is_used_and_nothing_is_installed(
    tmp_path: Path, bare_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_cli(bare_path, str(sdk_version))

    def must_not_install(**_: object) -> auto.PulumiCommand:
        raise AssertionError("installed although pulumi is on PATH")

    monkeypatch.setattr(auto.PulumiCommand, "install", must_not_install)
    assert pulumi_cli.find_cli(tmp_path / "cli").command == "pulumi"


def test_a_pulumi_older_than_the_sdk_is_passed_over(tmp_path: Path, bare_path: Path) -> None:
    """The SDK may need engine features an older CLI lacks: the one under root wins."""
    _fake_cli(bare_path, "3.100.0")
    root = tmp_path / "pulumi-cli"
    _fake_cli(root / "bin", str(sdk_version))
    assert pulumi_cli.find_cli(root).command == str(root / "bin" / "pulumi")


def test_the_pinned_cli_is_at_least_the_python_sdk() -> None:
    """go.mod's pin and pyproject's bound keep the CLI no older than the SDK it serves."""
    pinned = pulumi_cli.pinned_version().lstrip("v")
    assert sdk_version.compare(pinned) <= 0


def test_every_cli_run_is_offline_and_runs_this_virtualenv(tmp_path: Path) -> None:
    """No update check, no plugin download; the CLI's folder first on PATH (its bundled
    dynamic-provider plugin), and that plugin runs this interpreter's virtualenv."""
    cli_dir = tmp_path / "bin"
    _fake_cli(cli_dir, str(sdk_version))
    env = pulumi_cli.cli_environment(auto.PulumiCommand(root=str(tmp_path)))
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PATH"].split(":")[0] == str(cli_dir)
    assert env["PULUMI_RUNTIME_VIRTUALENV"] == pulumi_cli.sys.prefix
