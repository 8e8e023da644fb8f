"""The simulator imports nothing from the code it tests (``provider``, ``components``).

The simulator stands in for a Proxmox node: its reader, writer and checks are
written from Proxmox's behaviour. If it borrowed the provider's parser, a
parsing mistake in the provider would be mirrored by the "node" and no test
could see it. This test reads every module of ``simulator/`` (without
importing it) and fails on any import of those packages, however written.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIMULATOR = Path(__file__).resolve().parents[2] / "simulator"
FORBIDDEN = ("provider", "components")


def _dynamic_import(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("...")`` or ``__import__("...")``."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None


def _imported_modules(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, module) of every import, including those inside functions and dynamic ones."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and (module := _dynamic_import(node)):
            found.append((node.lineno, module))
    return found


def _forbidden(module: str) -> bool:
    return module.partition(".")[0] in FORBIDDEN


def test_no_simulator_module_imports_provider_or_components() -> None:
    """Walk simulator/**/*.py; any import of provider or components is listed as a failure."""
    modules = sorted(SIMULATOR.rglob("*.py"))
    assert modules, f"no modules found under {SIMULATOR}"
    offences = [
        f"{path.relative_to(SIMULATOR.parent)}:{line}: imports {module}"
        for path in modules
        for line, module in _imported_modules(ast.parse(path.read_text(), str(path)))
        if _forbidden(module)
    ]
    assert offences == []


@pytest.mark.parametrize(
    "source",
    [
        "import provider.node.dialect",
        "from provider.node.dialect import parse",
        "from components import render",
        "def f():\n    import components.stack\n",
        "import importlib\nimportlib.import_module('provider.node.model')",
        "__import__('provider')",
    ],
)
def test_the_check_sees_every_form_of_import(source: str) -> None:
    """The guard itself: each way of importing a forbidden package is found."""
    assert any(_forbidden(module) for _, module in _imported_modules(ast.parse(source)))


def test_the_check_leaves_other_imports_alone() -> None:
    """Relative imports and modules merely named like the packages are not offences."""
    source = "from . import provider\nimport providers_extra\nfrom simulator import network\n"
    assert not any(_forbidden(module) for _, module in _imported_modules(ast.parse(source)))
