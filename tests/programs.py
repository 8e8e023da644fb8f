"""Whole Pulumi programs end to end: stack config for a simulator, and what a node shows.

The stack and example tests run a project's program with the local engine
(``components.local_engine.LocalEngine``), the real providers and a simulator
over HTTPS. These helpers give them the stack's config pointed at the
simulator, the node as the API shows it (to prove destroy leaves it as it
started), and the request log's writes (to prove a run wrote nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from components.local_engine import LocalEngine
from components.project import Project
from provider.host.render import RENDERED_FILES
from simulator.testing import SimulatorHandle

APPLY_RE = re.compile(r"/nodes/[^/]+/network|/cluster/sdn")
EXPECTED = Path(__file__).parent / "expected"
"""Files as Proxmox writes them, one directory per case (``<case>/interfaces``, ``<case>/sdn``)."""


def connected(config: Mapping[str, Any], sim: SimulatorHandle) -> dict[str, Any]:
    """``config`` with the endpoint, token and CA of ``sim`` (as ``pulumi config set`` would)."""
    return {
        **config,
        "pvenet:endpoint": sim.url,
        "pvenet:apiToken": sim.token,
        "pvenet:caCert": str(sim.ca_file),
    }


def engine_for(project: Project, sim: SimulatorHandle, stack: str = "dev") -> LocalEngine:
    """A local engine for the project's stack, its connection pointed at ``sim``."""
    config = project.stack_config(stack, required=False)
    return LocalEngine(connected(config, sim), project=project.name, stack=stack)


def ssh_to(sim: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    """Host rules reach ``sim``'s nodes over its SSH face: ``PVENET_SSH_*`` as a user would
    set them (its client key, known_hosts and per-node ports)."""
    for key, value in sim.ssh_environment().items():
        monkeypatch.setenv(key, value)


def host_files(sim: SimulatorHandle, node: str = "pve1") -> dict[str, str | None]:
    """The host rules' files a node holds now, by path (None: absent)."""
    return {path: sim.host_file(path, node) for path in RENDERED_FILES}


def writes(sim: SimulatorHandle) -> list[tuple[str, str]]:
    """(method, path) of every request that was not a read."""
    return [(e.method, e.path) for e in sim.requests.entries() if e.method != "GET"]


def applies(sim: SimulatorHandle) -> list[str]:
    """Paths of the applies: ``PUT /nodes/<node>/network`` and ``PUT /cluster/sdn``."""
    return [path for method, path in writes(sim) if method == "PUT" and APPLY_RE.fullmatch(path)]


def node_state(sim: SimulatorHandle, nodes: Sequence[str] = ("pve1",)) -> dict[str, Any]:
    """Each node's interfaces (``GET /nodes/<node>/network`` without ``priority``) and the
    running SDN config (zones, vnets and their subnets): what destroy must restore."""
    api = sim.proxmox()
    state: dict[str, Any] = {}
    for node in nodes:
        listed = api.nodes(node).network.get()
        state[node] = {i["iface"]: {k: v for k, v in i.items() if k != "priority"} for i in listed}
    vnets = api.cluster.sdn.vnets.get(running=1)
    state["sdn"] = {
        "zones": api.cluster.sdn.zones.get(running=1),
        "vnets": vnets,
        "subnets": {
            v["vnet"]: api.cluster.sdn.vnets(v["vnet"]).subnets.get(running=1) for v in vnets
        },
    }
    return state


def expected(case: str, name: str) -> str:
    """The expected file ``tests/expected/<case>/<name>``."""
    return (EXPECTED / case / name).read_text()


def expected_host_files(case: str) -> dict[str, str | None]:
    """The files of a node's host rules (``tests/expected/<case>/rules.nft``, ...) by their
    path on the node, as :func:`host_files` gives them (None: the case has no such file)."""
    found: dict[str, str | None] = {}
    for path in RENDERED_FILES:
        file = EXPECTED / case / Path(path).name
        found[path] = file.read_text() if file.exists() else None
    return found
