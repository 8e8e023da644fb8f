"""Fixtures for component tests: Pulumi's mocks for an up and for a preview."""

from __future__ import annotations

import pytest

from tests.components.mocks import RecordingMocks


@pytest.fixture
def mocks() -> RecordingMocks:
    """Mocks for a ``pulumi up``: every registration recorded, inputs echoed as outputs."""
    return RecordingMocks().install()


@pytest.fixture
def preview_mocks() -> RecordingMocks:
    """Mocks for a ``pulumi preview``: custom resources get unknown ids and computed outputs."""
    return RecordingMocks(preview=True).install()
