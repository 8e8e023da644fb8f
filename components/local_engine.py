"""A local stand-in for the Pulumi engine: runs a program in process, with the real providers.

``pulumi up`` needs the Pulumi CLI, a backend and a provider process. To show
what a program would do to a node without any of them (``python -m
components.render``), and for fast tests of the Pulumi side of components and
programs, :class:`LocalEngine` plays the engine's part through Pulumi's mocks
(``pulumi.runtime.set_mocks``): the program registers its resources as it
would under the CLI; every dynamic resource's provider is unpickled from
``__provider`` (as ``python -m pulumi.dynamic`` does), configured with the
stack's config, and driven with the engine's semantics:

- ``check`` always; at preview only ``check`` and ``diff`` (nothing is written);
- a new resource is created; an existing one is diffed against its old
  *outputs* and updated, replaced (create then delete, or delete first when
  the provider asks) or left alone;
- after an ``up``, resources the program no longer declares are deleted,
  newest first; :meth:`LocalEngine.destroy` deletes everything, newest first.

The state survives across runs of one engine, like a stack's checkpoint.

Registrations are handled one at a time, in the order the program makes
them (a resource waits for the ones it depends on, as under the engine), so
the same program leaves a node with the same files every time: ``render``'s
output is stable from run to run.

The real engine is the reference (the engine tier, ``tests/engine``, runs
every program under the real CLI); where the two differ, the real engine is
right, and this module claims only what was seen to agree there:

- **Order of steps.** The real engine runs independent steps in parallel, so
  two sets on one node may be created in either order, and Proxmox keeps
  creation order in the file. Here they run in registration order. The two
  agree where the program orders a node's sets (the root program makes all
  of a node's networks one set; ``examples/homelab`` declares ``depends_on``):
  then the real engine leaves exactly the files ``render`` prints.
- **Deletes** follow the dependency graph under the real engine, newest first
  here: for the programs in this repository both leave the node with the
  same stanzas, though not always in the same order.
- **Not emulated**: ``refresh`` and ``import``, ``ignore_changes``, the state
  on disk and its secrets (the real engine stores the providers' config, the
  API token included, encrypted in the state), and how a failure is shown (the
  real engine prints a provider's exception with its Python traceback; here
  the exception itself is raised).

State is keyed by resource name, so names must be unique in a program (the
components derive their children's names from theirs).

Two rules keep it safe to run many times in one process (tests, render):
it never calls ``asyncio.run()``, which would unset the event loop Pulumi's
runtime uses, and after a failed run it settles what the program left
pending (:func:`settle_failed_run`), so no stray "exception was never
retrieved" fires later, in the middle of unrelated code.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import gc
import itertools
import json
import logging
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import dill
import pulumi
from pulumi.dynamic import Config, ConfigureRequest, ResourceProvider
from pulumi.runtime import MockCallArgs, MockResourceArgs, Mocks, rpc
from pulumi.runtime._serialization import _deserialize
from pulumi.runtime.settings import ROOT, SETTINGS, get_root_resource

PROVIDER_KEY = "__provider"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
DEFAULT_PROJECT = "pvenet"
DEFAULT_STACK = "dev"
_LOGGER_NUMBERS = itertools.count()  # one logger per recorder: loggers live as long as the process

Program = Callable[[], Any]
"""A Pulumi program: registers resources when called; may return an ``Output`` to wait for."""


def plain(value: Any) -> Any:
    """A value as the provider receives it: secrets unwrapped, recursively."""
    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def program_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Stack config as the engine hands it to a program: every value a string.

    Structured values (maps, lists, numbers, booleans) become JSON, which
    ``pulumi.Config.get_object``/``get_int``/``get_bool`` parse back; values
    that are still encrypted (``{"secure": ...}``) are left out, since no
    secrets provider decrypts them here.
    """
    strings: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            continue
        strings[key] = value if isinstance(value, str) else json.dumps(value)
    return strings


def settle_failed_run() -> None:
    """Finish what a failed Pulumi program left pending on the event loop, retrieving errors.

    A program that fails leaves registrations and outputs resolved with the
    error but never awaited (a resource whose registration failed keeps one
    future per output property). Their futures would report "exception was
    never retrieved" whenever the garbage collector reaches them, possibly in
    the middle of later code or an import (on CPython 3.11 that can surface
    as "SystemError: AST constructor recursion depth mismatch").
    """
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    # What ``pulumi.runtime.test`` clears before the next run: the run's outputs and RPCs.
    # Cleared now, they are collected now, while the failure is being handled.
    for task in list(SETTINGS.outputs):
        if task.done() and not task.cancelled():
            task.exception()
    SETTINGS.outputs.clear()
    SETTINGS.rpc_manager.clear()
    # Futures that no task holds any more (the outputs of a failed registration).
    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()
    gc.collect()


class LogRecorder(logging.Handler):
    """Collects what the program and the providers log through ``pulumi.log``.

    Each recorder has a logger of its own that does not propagate, so what a
    run logs is neither lost nor printed twice; read it with :meth:`messages`.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.logger = logging.getLogger(f"pvenet.local_engine.{next(_LOGGER_NUMBERS)}")
        self.logger.setLevel(logging.DEBUG)
        self.logger.propagate = False
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the record."""
        self.records.append(record)

    def messages(self, level: int = logging.INFO) -> list[str]:
        """The messages logged at exactly ``level``."""
        return [r.getMessage() for r in self.records if r.levelno == level]


def run_with_mocks(
    program: Program,
    mocks: Mocks,
    *,
    config: Mapping[str, Any],
    project: str = DEFAULT_PROJECT,
    stack: str = DEFAULT_STACK,
    preview: bool = False,
    logger: logging.Logger | None = None,
) -> None:
    """Run ``program`` once under ``mocks``, as the CLI would run it for this stack.

    The program sees ``config`` through ``pulumi.Config`` and a fresh root
    stack resource (no export of an earlier run leaks in); an ``Output`` it
    returns is awaited. What it raises is raised here, after the failed run
    is settled (:func:`settle_failed_run`).
    """
    # One worker for the runtime's RPCs: the mocks see registrations in the order the program
    # makes them, one at a time, so a run writes the node's files in the same order every time.
    _event_loop().set_default_executor(_serial_executor())
    ROOT.set(None)
    pulumi.runtime.set_all_config(program_config(config))
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=preview, logger=logger)
    try:
        wrapped: Callable[[], None] = pulumi.runtime.test(program)  # type: ignore[no-untyped-call]
        wrapped()
    except BaseException:
        settle_failed_run()
        raise


def _event_loop() -> asyncio.AbstractEventLoop:
    """This thread's event loop, made and set if there is none (as Pulumi's runtime does)."""
    try:
        return asyncio.get_event_loop()
    except RuntimeError:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        return loop


@functools.cache
def _serial_executor() -> ThreadPoolExecutor:
    """The process's one single-worker executor for Pulumi's RPCs under the local engine."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pvenet-engine")


class Recorder(Mocks):
    """Mocks that record every registration and call no provider: what a program declares.

    A custom resource gets its inputs back as outputs; at preview
    (``preview=True``) with an empty id (unknown, as the engine gives a
    resource it has not created), so its computed outputs are unknown.
    """

    def __init__(self, preview: bool = False) -> None:
        self.preview = preview
        self.seen: list[MockResourceArgs] = []
        self.logs = LogRecorder()
        self._lock = threading.Lock()

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


class CheckFailed(Exception):
    """The provider's ``check`` returned failures: what ``pulumi preview`` would report."""

    def __init__(self, name: str, failures: list[tuple[str, str]]) -> None:
        self.name = name
        self.failures = failures
        listed = "; ".join(f"{prop}: {reason}" for prop, reason in failures)
        super().__init__(f"{name}: {listed}")


@dataclass
class Deployed:
    """A resource in the stack state: id, checked inputs, outputs (both with ``__provider``)."""

    typ: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass
class LocalEngine(Mocks):
    """The engine's part for dynamic resources, with the real providers and a stack state.

    ``config`` is the stack's config (``{"pvenet:endpoint": ..., "pvenet:networks":
    {...}}``): the program reads it through ``pulumi.Config`` and the providers
    get it in ``configure``, as under the CLI. ``state`` survives across
    :meth:`run` calls, like a stack's checkpoint; ``operations`` lists
    ``(resource name, step)`` in the order they happened, with steps
    ``create``, ``update``, ``same``, ``replace``, ``delete`` (and
    ``check``/``diff`` at preview); ``outputs`` holds the stack outputs
    (``pulumi.export``) of the last ``up``.

    Resources of the types in ``record_only`` reach no provider: their inputs
    are kept in ``recorded`` (by name) and echoed as outputs. ``render`` shows
    host rules this way, from their inputs, without SSH to a node.
    """

    config: Mapping[str, Any]
    project: str = DEFAULT_PROJECT
    stack: str = DEFAULT_STACK
    state: dict[str, Deployed] = field(default_factory=dict)
    operations: list[tuple[str, str]] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    preview: bool = False
    logs: LogRecorder = field(default_factory=LogRecorder)
    record_only: frozenset[str] = frozenset()
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)
    _registered: list[str] = field(default_factory=list)
    _providers: dict[str, ResourceProvider] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def run(self, program: Program, *, preview: bool = False) -> None:
        """One ``pulumi up`` (or ``preview``) of ``program``; raises what the run would report.

        After an ``up``, resources of the previous state that the program no
        longer declares are deleted, newest first, as the engine does. A run
        that raises leaves the state as far as it got (what was created stays
        recorded, so :meth:`destroy` can remove it).
        """
        self.preview = preview
        self._registered = []
        self.outputs = {}
        run_with_mocks(
            lambda: self._with_exports(program),
            self,
            config=self.config,
            project=self.project,
            stack=self.stack,
            preview=preview,
            logger=self.logs.logger,
        )
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
        if args.typ in self.record_only:
            inputs = {k: plain(v) for k, v in args.inputs.items() if k != PROVIDER_KEY}
            self.recorded[args.name] = inputs
            return ("" if self.preview else f"{args.name}-recorded"), inputs
        with self._lock:
            self._registered.append(args.name)
            return self._register(args)

    def call(self, args: MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        """No invokes are expected; answer empty."""
        return {}, None

    # -- the program's exports ------------------------------------------------------------------

    def _with_exports(self, program: Program) -> pulumi.Output[Any]:
        """Run ``program``; wait for what it returns and keep the stack's exports once known."""
        result = program()
        root = get_root_resource()
        exports = getattr(root, "outputs", None) or {}
        kept = pulumi.Output.from_input(dict(exports)).apply(self._keep_outputs)
        return pulumi.Output.all(pulumi.Output.from_input(result), kept)

    def _keep_outputs(self, values: dict[str, Any]) -> None:
        self.outputs = dict(values)

    # -- the engine's steps ---------------------------------------------------------------------

    def _provider(self, encoded: str) -> ResourceProvider:
        """The provider pickled in ``__provider``, loaded and configured once (as the engine)."""
        if encoded not in self._providers:
            loaded: ResourceProvider = _deserialize(lambda: dill.loads(base64.b64decode(encoded)))
            loaded.configure(ConfigureRequest(Config(dict(self.config), self.project)))
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
