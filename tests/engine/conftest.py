"""Fixtures of the engine tier: the real Pulumi CLI, or a clear skip (a failure under CI)."""

from __future__ import annotations

import os

import pytest
from pulumi import automation as auto

from components.pulumi_cli import CLI_ROOT, existing_cli


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder carries the ``engine`` marker (``-m 'not engine'`` skips them)."""
    for item in items:
        if "tests/engine/" in item.nodeid:
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def pulumi_cli() -> auto.PulumiCommand:
    """The Pulumi CLI (on PATH, or built or installed under ``.state/pulumi-cli``).

    ``./run test`` finds, installs or builds it before pytest starts. Without one the tier
    is skipped with the reason, except under CI (``CI=true``), where it fails: a broken
    build must not pass as a skipped tier.
    """
    cli = existing_cli()
    if cli is not None:
        return cli
    reason = (
        f"no Pulumi CLI on PATH or in {CLI_ROOT}/bin; `python -m components.pulumi_cli` "
        "installs or builds one"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)
