"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.testing import SimulatorHandle, running_simulator


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[SimulatorHandle]:
    """A simulator (node pve1, NICs eno1..eno4) over HTTPS on a free loopback port.

    Its state lives in the test's ``tmp_path``; it is stopped after the test.
    """
    with running_simulator(state_dir=tmp_path / "simulator") as sim:
        yield sim
