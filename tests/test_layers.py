"""The layers, as the folders show them: pure modules do no I/O; the simulator stands alone.

Read with ``ast`` (nothing is imported): every module a pure module imports, directly or
through other project modules, must be pure too and may not reach the network, files,
processes or Pulumi. ``tests/simulator/test_independence.py`` keeps the simulator free of
``provider`` and ``components``.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PURE = (
    "components.host_rules",
    "provider.text",
    "provider.addresses",
    "provider.errors",
    "provider.handover",
    "provider.names",
    "provider.problems",
    "components.adopt.lines",
    "components.adopt.hooks",
    "components.adopt.networks",
    "components.adopt.sdn",
    "provider.node.model",
    "provider.node.dialect",
    "provider.node.plan",
    "provider.node.verify",
    "provider.node.guard",
    "provider.node.wire",
    "provider.sdn.model",
    "provider.sdn.plan",
    "provider.sdn.render",
    "provider.sdn.wire",
    "provider.host.model",
    "provider.host.render",
    "provider.host.plan",
    "simulator.node.checks",
    "simulator.node.config",
    "simulator.node.read",
    "simulator.node.reread",
    "simulator.node.write",
    "simulator.ssh.nft",
    "simulator.ssh.nftsyntax",
)
IO = (
    "os",
    "socket",
    "subprocess",
    "time",
    "fcntl",
    "tempfile",
    "urllib",
    "http",
    "requests",
    "paramiko",
    "asyncssh",
    "proxmoxer",
    "aiohttp",
    "pulumi",
    "provider.api",
    "provider.locks",
    "provider.engine",
    "provider.host.ssh",
)
"""Modules that talk to the world (or wait on it), and pvenet's own edges."""


def _path(module: str) -> Path:
    base = ROOT / module.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _imports(module: str) -> set[str]:
    """The modules ``module`` imports, as dotted names."""
    tree = ast.parse(_path(module).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            for alias in node.names:  # `from provider.node import model` imports a module
                candidate = f"{node.module}.{alias.name}"
                if _path(candidate).exists():
                    found.add(candidate)
    return found


def _reach(module: str) -> dict[str, str]:
    """Every module ``module`` reaches through imports, with the project module importing it."""
    reached: dict[str, str] = {}
    pending = [module]
    while pending:
        current = pending.pop()
        for imported in _imports(current):
            if imported in reached:
                continue
            reached[imported] = current
            if imported.split(".")[0] in ("provider", "components", "simulator"):
                pending.append(imported)
    return reached


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_reaches_no_io(module: str) -> None:
    bad = {
        imported: via
        for imported, via in _reach(module).items()
        if any(imported == io or imported.startswith(io + ".") for io in IO)
    }
    assert bad == {}, f"{module} reaches I/O: " + ", ".join(
        f"{imported} (imported by {via})" for imported, via in sorted(bad.items())
    )


def test_the_rule_sees_an_import_of_io() -> None:
    """The walk follows imports through project modules (so the test above can fail)."""
    assert "requests" in _reach("provider.api.session")
    assert "provider.api.session" in _reach("provider.node.client")


SERVER_SIDE = ("simulator", "aiohttp", "asyncssh", "trustme", "proxmoxer")
"""What only the simulator needs: the ``simulator`` extra, not a program's dependencies."""
PROGRAM_SIDE = (
    "components",
    "components.node",
    "components.sdn",
    "components.stack",
    "components.deploy",
    "provider.node.resource",
    "provider.host.resource",
    "provider.sdn.resource",
    "provider.sdn.networks",
)


@pytest.mark.parametrize("module", PROGRAM_SIDE)
def test_a_program_using_the_components_does_not_need_the_simulator(module: str) -> None:
    bad = {
        imported: via
        for imported, via in _reach(module).items()
        if imported.split(".")[0] in SERVER_SIDE
    }
    assert bad == {}, f"{module} reaches the simulator's side: " + ", ".join(
        f"{imported} (imported by {via})" for imported, via in sorted(bad.items())
    )


def test_the_simulators_libraries_are_an_extra() -> None:
    """``pip install pvenet`` gives a program what it needs; ``[simulator]`` adds the server."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    base = " ".join(project["dependencies"])
    assert not any(name in base for name in SERVER_SIDE)
    extra = " ".join(project["optional-dependencies"]["simulator"])
    assert all(name in extra for name in ("aiohttp", "trustme"))
