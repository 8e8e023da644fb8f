"""Pulumi mocks for component tests: one that records, one that acts as the engine.

``RecordingMocks`` (the product's :class:`components.local_engine.Recorder`,
installed by each test) records every registration (``MockResourceArgs``) and
echoes the inputs back as outputs, so tests can assert a component's
children, types, names and inputs without any server.

``RealProviderMocks`` is the product's local engine
(:class:`components.local_engine.LocalEngine`): it drives the real providers
with the engine's semantics against a simulator, keeping the stack's state
between runs so a second run, a change and a destroy can be tested. It and
its helpers are re-exported here under the names the tests use.

Never call ``asyncio.run()`` in the test process: it unsets the event loop
Pulumi's mocks need.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pulumi
from pulumi.runtime import MockResourceArgs, rpc

from components.local_engine import (
    DYNAMIC_PREFIX,
    PROVIDER_KEY,
    CheckFailed,
    Deployed,
    LocalEngine,
    LogRecorder,
    Recorder,
    plain,
    settle_failed_run,
)

RealProviderMocks = LocalEngine
PROJECT = "pvenet"

__all__ = [
    "DYNAMIC_PREFIX",
    "PROJECT",
    "PROVIDER_KEY",
    "CheckFailed",
    "Deployed",
    "LogRecorder",
    "RealProviderMocks",
    "RecordingMocks",
    "plain",
    "settle_failed_run",
    "unknown_output",
]


def unknown_output() -> pulumi.Output[Any]:
    """An Output whose value is unknown, as another resource's computed output is at preview."""
    loop = asyncio.get_event_loop()
    value: asyncio.Future[Any] = loop.create_future()
    value.set_result(None)
    known: asyncio.Future[bool] = loop.create_future()
    known.set_result(False)
    return pulumi.Output(set(), value, known)


class RecordingMocks(Recorder):
    """The product's :class:`Recorder`, installed as the runtime's mocks by each test."""

    def install(self) -> RecordingMocks:
        """Make these the mocks of the Pulumi runtime (for the test that follows)."""
        pulumi.runtime.set_mocks(
            self, project=PROJECT, preview=self.preview, logger=self.logs.logger
        )
        return self

    def named(self, name: str) -> MockResourceArgs:
        """The registration of the resource called ``name`` (fails the test if there is none)."""
        found = [a for a in self.seen if a.name == name]
        assert len(found) == 1, f"expected one resource named {name!r}, saw {found!r}"
        return found[0]


STACK_URN = "urn:pulumi:stack::pvenet::"


def registered(mocks: RecordingMocks) -> list[tuple[str, str, bool]]:
    """(type, name, custom) of every registration, in order."""
    return [(a.typ, a.name, bool(a.custom)) for a in mocks.seen]


def child_inputs(mocks: RecordingMocks, name: str, child_type: str) -> dict[str, Any]:
    """The inputs a component gave its dynamic-resource child, without the pickled provider."""
    args = mocks.named(name)
    assert args.typ == child_type, f"{name} is a {args.typ}"
    assert rpc.is_rpc_secret(args.inputs["__provider"]), f"{name}: __provider is not secret"
    return {k: v for k, v in args.inputs.items() if k != "__provider"}


def child_urn(component_type: str, child_type: str, child: str) -> str:
    """The URN of a child of ``child_type`` whose parent is a component of ``component_type``."""
    return f"{STACK_URN}pvenet:index:{component_type}${child_type}::{child}"
