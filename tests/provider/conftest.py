"""Fixtures for provider tests: a NodeInterfacesProvider configured for a running simulator."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from provider.resources import NodeInterfacesProvider
from simulator.testing import SimulatorHandle


def stack_config(sim: SimulatorHandle) -> dict[str, Any]:
    """Stack config as `pulumi config set` would give it for the simulator."""
    return {
        "pvenet:endpoint": sim.url,
        "pvenet:apiToken": sim.token,
        "pvenet:caCert": str(sim.ca_file),
    }


def configured(sim: SimulatorHandle) -> NodeInterfacesProvider:
    """A provider configured as the engine configures it (Configure, then the first call)."""
    provider = NodeInterfacesProvider()
    provider.configure(ConfigureRequest(Config(stack_config(sim), "pvenet")))
    return provider


@pytest.fixture
def node_interfaces(simulator: SimulatorHandle) -> NodeInterfacesProvider:
    """A NodeInterfacesProvider talking to the test's simulator over verified HTTPS."""
    return configured(simulator)
