"""Fixtures for provider tests: a NodeInterfacesProvider configured for a running simulator."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest
from pulumi.dynamic import Config, ConfigureRequest

from provider.engine import ConfiguredProvider
from provider.node.resource import NodeInterfacesProvider
from simulator.testing import SimulatorHandle

P = TypeVar("P", bound=ConfiguredProvider)


def stack_config(sim: SimulatorHandle) -> dict[str, Any]:
    """Stack config as `pulumi config set` would give it for the simulator."""
    return {
        "pvenet:endpoint": sim.url,
        "pvenet:apiToken": sim.token,
        "pvenet:caCert": str(sim.ca_file),
        # the simulator answers in milliseconds: a lost answer is waited for this long
        "pvenet:timeout": "2",
    }


def configure_for(provider: P, sim: SimulatorHandle) -> P:
    """``provider`` configured as the engine configures it (Configure, then the first call)."""
    provider.configure(ConfigureRequest(Config(stack_config(sim), "pvenet")))
    return provider


def configured(sim: SimulatorHandle) -> NodeInterfacesProvider:
    """A NodeInterfacesProvider configured for the simulator."""
    return configure_for(NodeInterfacesProvider(), sim)


@pytest.fixture
def node_interfaces(simulator: SimulatorHandle) -> NodeInterfacesProvider:
    """A NodeInterfacesProvider talking to the test's simulator over verified HTTPS."""
    return configured(simulator)
