"""The bad-input corpus: every case is refused at preview, before any write, and says so well.

``tests/data/bad-inputs/*.yaml`` holds the cases as data, one file per kind
of input (see ``tests/data/README.md``): the ``NodeInterfaces`` and
``SdnNetwork`` providers' inputs, a component's arguments, a stack's
``pvenet:networks``. One test drives each case the way the engine would:

- ``NodeInterfaces``, ``SdnNetwork``: the provider's ``check``, configured for
  the simulator as in ``pulumi preview`` (so the checks that read the node run);
- ``component``: the component's ``validate``, which its constructor and the
  stack program run before anything is registered;
- ``stack``: the root program under the local engine with the simulator, as
  ``pulumi preview`` runs it.

Each case must be refused at its property path (or argument, or key path),
with a message holding the expected fragment, and the line a person reads
(path and message) must name the node (for an interface of a set), the
object and the value; no message may show an exception class or hold a raw
control character (a hostile value is shown quoted, ``'x\\rpost-up ...'``).
The simulator's request log must show no request but reads.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.errors import InvalidArguments
from components.local_engine import LocalEngine
from components.node import BondedUplink, BridgedNetwork, VlanNetwork
from components.project import PROJECT_ROOT, load_project
from components.sdn import NatGateway, RoutedSubnet
from components.stack_schema import CONFIG_KEY, StackConfigError
from provider.host.resource import HostRulesProvider
from provider.names import NODE_RE
from provider.node.resource import NodeInterfacesProvider
from provider.sdn.resource import SdnNetworkProvider
from simulator.node import INTERFACES
from simulator.testing import SimulatorHandle
from tests.programs import connected, writes
from tests.provider.conftest import configure_for

CORPUS = Path(__file__).parent / "data" / "bad-inputs"
MINIMUM = 200
EXCEPTION_NAME = re.compile(r"\b[A-Z]\w*(?:Error|Exception)\b|Traceback")
COMPONENTS = {
    c.__name__: c for c in (BridgedNetwork, BondedUplink, VlanNetwork, NatGateway, RoutedSubnet)
}
ROOT = load_project(PROJECT_ROOT)


class _Loader(yaml.SafeLoader):
    """YAML with ``!repeat [text, count]`` for values too long to write out (a 100 KB comment)."""


def _repeat(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    text, count = loader.construct_sequence(node)  # type: ignore[arg-type]
    return str(text) * int(count)


_Loader.add_constructor("!repeat", _repeat)


@dataclass(frozen=True)
class Case:
    """One bad input and how its refusal must read."""

    file: str
    id: str
    kind: str
    input: Any
    path: str
    message: str
    object: str
    value: str | None
    component: str | None = None
    node_file: str | None = None

    def __str__(self) -> str:
        return f"{self.file}:{self.id}"

    @property
    def node(self) -> str | None:
        """The node a refusal about one of a set's interfaces must name, where known."""
        if self.kind != "NodeInterfaces" or not self.path.startswith("interfaces"):
            return None
        node = self.input.get("node")
        return node if isinstance(node, str) and NODE_RE.fullmatch(node) else None


def load_corpus() -> tuple[list[Case], dict[str, str]]:
    """Every case of every file, and the node files cases may start from (by name)."""
    cases: list[Case] = []
    node_files: dict[str, str] = {}
    for path in sorted(CORPUS.glob("*.yaml")):
        data = yaml.load(path.read_text(), Loader=_Loader)
        node_files.update(data.get("node_files") or {})
        defaults = data.get("defaults") or {}
        for raw in data["cases"]:
            given = raw["input"]
            if isinstance(given, dict) and isinstance(defaults, dict):
                given = {**defaults, **given}
            cases.append(
                Case(
                    file=path.name,
                    id=raw["id"],
                    kind=data["kind"],
                    input=given,
                    path=raw["path"],
                    message=raw["message"],
                    object=raw["object"],
                    value=raw["value"],
                    component=raw.get("component"),
                    node_file=raw.get("node_file"),
                )
            )
    return cases, node_files


Lines = list[tuple[str, str]]  # (path, message) of each refusal


def _provider_lines(provider: Any, case: Case) -> Lines:
    result = provider.check({}, case.input)
    return [(f.property, f.reason) for f in result.failures]


def _component_lines(case: Case) -> Lines:
    assert case.component is not None
    try:
        COMPONENTS[case.component].validate(case.object, **case.input)
    except InvalidArguments as error:
        prefix = f"{error.component} '{error.name}': "
        return [(p.argument, prefix + p.reason()) for p in error.problems]
    return []


def _stack_lines(sim: SimulatorHandle, case: Case) -> Lines:
    engine = LocalEngine(connected({CONFIG_KEY: case.input}, sim))
    try:
        engine.run(ROOT.program(), preview=True)
    except StackConfigError as error:
        return [
            (f"{CONFIG_KEY}.{p.path}" if p.path else CONFIG_KEY, p.reason) for p in error.problems
        ]
    return []


def _mismatch(case: Case, lines: Lines) -> str | None:
    """What is wrong with the refusal of ``case``, or None when it reads as it must."""
    at = [message for path, message in lines if path == case.path]
    if not at:
        return f"not refused at {case.path!r}; refusals: {lines}"
    line = next((m for m in at if case.message in m), None)
    if line is None:
        return f"no refusal at {case.path!r} says {case.message!r}: {at}"
    seen = f"{case.path}: {line}"
    for what, token in (("node", case.node), ("object", case.object), ("value", case.value)):
        if token is not None and token not in seen:
            return f"the refusal does not name the {what} {token!r}: {seen}"
    if EXCEPTION_NAME.search(seen):
        return f"the refusal shows an exception's name: {seen}"
    if any(unicodedata.category(char) in ("Cc", "Zl", "Zp") for char in seen):
        return f"the refusal holds a raw control character: {seen!r}"
    return None


@pytest.fixture
def drivers(simulator: SimulatorHandle) -> dict[str, Callable[[Case], Lines]]:
    """How each kind of case is refused, the providers configured for the test's simulator."""
    nodes = configure_for(NodeInterfacesProvider(), simulator)
    sdn = configure_for(SdnNetworkProvider(), simulator)
    host = configure_for(HostRulesProvider(), simulator)
    return {
        "NodeInterfaces": lambda case: _provider_lines(nodes, case),
        "HostRules": lambda case: _provider_lines(host, case),
        "SdnNetwork": lambda case: _provider_lines(sdn, case),
        "component": _component_lines,
        "stack": lambda case: _stack_lines(simulator, case),
    }


@contextmanager
def _on_node_file(sim: SimulatorHandle, text: str | None) -> Iterator[None]:
    """The node's interfaces file is ``text`` (when given) for the block, then as it was."""
    node = sim.cluster.nodes["pve1"]
    original = node.read(INTERFACES) or ""
    if text is not None:
        node.write(INTERFACES, text)
    try:
        yield
    finally:
        node.write(INTERFACES, original)


def test_every_bad_input_is_refused_at_preview_before_any_write(
    simulator: SimulatorHandle, drivers: dict[str, Callable[[Case], Lines]]
) -> None:
    """All cases, one simulator: each is refused where and as its file says, nothing written."""
    cases, node_files = load_corpus()
    ids = [str(case) for case in cases]
    assert len(ids) == len(set(ids)), "case ids repeat within a file"
    failed = []
    for case in cases:
        simulator.requests.clear()
        base = node_files[case.node_file] if case.node_file else None
        with _on_node_file(simulator, base):
            problem = _mismatch(case, drivers[case.kind](case))
        if problem is None and (written := writes(simulator)):
            problem = f"refused, but after writing: {written}"
        if problem is not None:
            failed.append(f"{case}: {problem}")
    assert not failed, f"{len(failed)} of {len(cases)} cases:\n" + "\n".join(failed)
    assert len(cases) >= MINIMUM, f"the corpus has {len(cases)} cases, fewer than {MINIMUM}"
