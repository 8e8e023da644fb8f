"""Fixtures of the stack tests: a machine without the Pulumi CLI and without internet."""

from __future__ import annotations

from pathlib import Path

import pytest
from pulumi.automation import _cmd

from components import pulumi_cli


@pytest.fixture
def bare_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """PATH holds an empty directory of the test's (plus /bin for shells): no pulumi, no go.

    The CLI's install folder (``pulumi_cli.CLI_ROOT``) is the test's ``pulumi-cli``.
    """
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", f"{empty}:/bin:/usr/bin")
    monkeypatch.setattr(pulumi_cli, "CLI_ROOT", tmp_path / "pulumi-cli")
    return empty


@pytest.fixture
def failing_installer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pulumi's installer script, as downloaded on a machine that cannot reach get.pulumi.com."""

    def download(_url: str, path: str) -> None:
        Path(path).write_text("#!/bin/sh\necho 'cannot reach get.pulumi.com' >&2\nexit 1\n")

    monkeypatch.setattr(_cmd, "_download_to_file", download)
