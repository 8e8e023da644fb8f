"""Pulumi mocks for component tests: one that records, one that acts as the engine.

``RecordingMocks`` records every registration (``MockResourceArgs``) and echoes
the inputs back as outputs, so tests can assert a component's children, types,
names and inputs without any server.

``RealProviderMocks`` plays the engine's part for dynamic resources: it
unpickles the real provider from ``__provider`` (as ``python -m
pulumi.dynamic`` does), configures it with stack config, and runs check, diff,
create, update and delete with the engine's semantics (old *outputs* as
``olds``, only check and diff at preview), keeping the stack's state between
runs so a second run, a change and a destroy can be tested.

Use :meth:`RealProviderMocks.run` for each ``pulumi up``/``preview`` of a
program. Never call ``asyncio.run()`` in the test process: it unsets the event
loop Pulumi's mocks need.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, rpc
from pulumi.runtime._serialization import _deserialize
from pulumi.runtime.settings import SETTINGS

PROVIDER_KEY = "__provider"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
PROJECT = "pvenet"
_LOGGER_NUMBERS = itertools.count()  # one logger per recorder: loggers live as long as the process


def plain(value: Any) -> Any:
    """A value as the provider receives it: secrets unwrapped, recursively."""
    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def unknown_output() -> pulumi.Output[Any]:
    """An Output whose value is unknown, as another resource's computed output is at preview."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


def settle_failed_run() -> None:
    """Finish what a failed Pulumi program left pending on the event loop, retrieving errors.

    A program that fails leaves registrations and outputs resolved with the
    error but never awaited. Their futures would report "exception was never
    retrieved" whenever the garbage collector reaches them, possibly in the
    middle of a later test or of pytest's own imports (on CPython 3.11 that
    can surface as "SystemError: AST constructor recursion depth mismatch").
    """
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # What ``pulumi.runtime.test`` clears before the next run: the run's outputs and RPCs.
    # Cleared now, they are collected now, inside the test that failed.
    for task in list(SETTINGS.outputs):
        if task.done() and not task.cancelled():
            task.exception()
    SETTINGS.outputs.clear()
    SETTINGS.rpc_manager.clear()
    gc.collect()


class LogRecorder(logging.Handler):
    """Collects what the program logs through ``pulumi.log`` (the mock engine's logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(f"pvenet.tests.mocks.{next(_LOGGER_NUMBERS)}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)

    def messages(self, level: int = logging.INFO) -> list[str]:
        """The messages logged at exactly ``level``."""
        return [r.getMessage() for r in self.records if r.levelno == level]


class RecordingMocks(Mocks):
    """Records every registered resource; custom resources get their inputs back as outputs.

    At preview (``preview=True``) a custom resource gets an empty id (unknown, as
    the engine gives a resource it has not created) and only its inputs as
    outputs, so its computed outputs are unknown.
    """

    def __init__(self, preview: bool = False) -> None:
        self.preview = preview
        self.seen: list[MockResourceArgs] = []
        self.logs = LogRecorder()
        self._lock = threading.Lock()

    def install(self) -> RecordingMocks:
        """Make these the mocks of the Pulumi runtime (for the test that follows)."""
        pulumi.runtime.set_mocks(
            self, project=PROJECT, preview=self.preview, logger=self.logs.logger
        )
        return self

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        """Record ``args``; echo a custom resource's inputs (without ``__provider``)."""
        with self._lock:
            self.seen.append(args)
        if not args.custom:
            return "", {}
        state = {k: v for k, v in args.inputs.items() if k != PROVIDER_KEY}
        return ("" if self.preview else f"{args.name}-id"), state

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        """No invokes are expected; answer empty."""
        return {}, None

    def named(self, name: str) -> MockResourceArgs:
        """The registration of the resource called ``name`` (fails the test if there is none)."""
        found = [a for a in self.seen if a.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, saw {found!r}"
        return found[0]


class CheckFailed(Exception):
    """The provider's ``check`` returned failures: what ``pulumi preview`` would report."""

    def __init__(self, name: str, failures: list[tuple[str, str]]) -> None:
        self.name = name
        self.failures = failures
        listed = "; ".join(f"{prop}: {reason}" for prop, reason in failures)
        super().__init__(f"{name}: {listed}")


@dataclass
class Deployed:
    """A resource in the emulated stack state: id, checked inputs, outputs (both with provider)."""

    typ: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class RealProviderMocks(Mocks):
    """The engine's part for dynamic resources, with the real providers and a stack state.

    ``config`` is the stack config the providers are configured with
    (``stack_config(sim)``). ``state`` survives across :meth:`run` calls, like
    a stack's checkpoint; ``operations`` lists ``(resource name, step)`` in the
    order they happened, with steps ``create``, ``update``, ``same``,
    ``replace``, ``delete`` (and ``check``/``diff`` at preview).
    """

    config: Mapping[str, Any]
    state: dict[str, Deployed] = field(default_factory=dict)
    operations: list[tuple[str, str]] = field(default_factory=list)
    preview: bool = False
    logs: LogRecorder = field(default_factory=LogRecorder)
    _registered: list[str] = field(default_factory=list)
    _providers: dict[str, ResourceProvider] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def run(self, program: Callable[[], Any], *, preview: bool = False) -> None:
        """One ``pulumi up`` (or ``preview``) of ``program``; raises what the run would report.

        After an ``up``, resources of the previous state that the program no
        longer declares are deleted, newest first, as the engine does.
        """
        self.preview = preview
        self._registered = []
        pulumi.runtime.set_mocks(self, project=PROJECT, preview=preview, logger=self.logs.logger)
        try:
            pulumi.runtime.test(program)()
        except BaseException:
            settle_failed_run()
            raise
        if not preview:
            for name in reversed(list(self.state)):
                if name not in self._registered:
                    self._delete(name)

    def destroy(self) -> None:
        """``pulumi destroy``: delete every resource in the state, newest first."""
        for name in reversed(list(self.state)):
            self._delete(name)

    def steps(self, step: str) -> list[str]:
        """Names of the resources that had ``step`` (``create``, ``update``, ...) so far."""
        return [name for name, done in self.operations if done == step]

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        """Register: components are recorded; dynamic resources go through their provider."""
        if not args.custom or not args.typ.startswith(DYNAMIC_PREFIX):
            return "", {}
        with self._lock:
            self._registered.append(args.name)
            return self._register(args)

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        """No invokes are expected; answer empty."""
        return {}, None

    # -- the engine's steps ---------------------------------------------------------------------

    def _provider(self, encoded: str) -> ResourceProvider:
        """The provider pickled in ``__provider``, loaded and configured once (as the engine)."""
        if encoded not in self._providers:
            loaded: ResourceProvider = _deserialize(lambda: dill.loads(base64.b64decode(encoded)))
            loaded.configure(ConfigureRequest(Config(dict(self.config), PROJECT)))
            self._providers[encoded] = loaded
        return self._providers[encoded]

    def _register(self, args: MockResourceArgs) -> tuple[str, dict[str, Any]]:
        encoded = plain(args.inputs[PROVIDER_KEY])
        provider = self._provider(encoded)
        news = {k: plain(v) for k, v in args.inputs.items() if k != PROVIDER_KEY}
        old = self.state.get(args.name)
        checked = provider.check(dict(old.inputs) if old else {}, news)
        if checked.failures:
            raise CheckFailed(args.name, [(f.property, f.reason) for f in checked.failures])
        inputs = {**(checked.inputs or {}), PROVIDER_KEY: encoded}
        if old is None:
            return self._create(args, provider, inputs)
        diff = provider.diff(old.id, dict(old.outputs), inputs)
        changed = diff.changes if diff.changes is not None else old.inputs != inputs
        if self.preview:
            self.operations.append((args.name, "diff"))
            return old.id, _visible(inputs if changed or diff.replaces else old.outputs)
        if diff.replaces:
            return self._replace(args, provider, old, inputs, bool(diff.delete_before_replace))
        if not changed:
            self.operations.append((args.name, "same"))
            return old.id, _visible(old.outputs)
        updated = provider.update(old.id, dict(old.outputs), inputs)
        outputs = {**(updated.outs or {}), PROVIDER_KEY: encoded}
        self.state[args.name] = Deployed(args.typ, old.id, inputs, outputs)
        self.operations.append((args.name, "update"))
        return old.id, _visible(outputs)

    def _create(
        self, args: MockResourceArgs, provider: ResourceProvider, inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        if self.preview:
            self.operations.append((args.name, "check"))
            return "", _visible(inputs)
        created = provider.create(inputs)
        outputs = {**(created.outs or {}), PROVIDER_KEY: inputs[PROVIDER_KEY]}
        self.state[args.name] = Deployed(args.typ, str(created.id), inputs, outputs)
        self.operations.append((args.name, "create"))
        return str(created.id), _visible(outputs)

    def _replace(
        self,
        args: MockResourceArgs,
        provider: ResourceProvider,
        old: Deployed,
        inputs: dict[str, Any],
        delete_first: bool,
    ) -> tuple[str, dict[str, Any]]:
        """Replace: create the new one, then delete the old (or the other way round)."""
        if delete_first:
            provider.delete(old.id, dict(old.outputs))
        created = provider.create(inputs)
        if not delete_first:
            provider.delete(old.id, dict(old.outputs))
        outputs = {**(created.outs or {}), PROVIDER_KEY: inputs[PROVIDER_KEY]}
        self.state[args.name] = Deployed(args.typ, str(created.id), inputs, outputs)
        self.operations.append((args.name, "replace"))
        return str(created.id), _visible(outputs)

    def _delete(self, name: str) -> None:
        with self._lock:
            deployed = self.state[name]
            provider = self._provider(deployed.outputs[PROVIDER_KEY])
            provider.delete(deployed.id, dict(deployed.outputs))
            del self.state[name]
            self.operations.append((name, "delete"))


def _visible(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs as the program sees them (the pickled provider is not one of them)."""
    return {k: v for k, v in outputs.items() if k != PROVIDER_KEY}
