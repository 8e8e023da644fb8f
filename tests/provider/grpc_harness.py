"""Drive pvenet's dynamic provider as the Pulumi engine does: ``python -m pulumi.dynamic``, gRPC.

The engine runs the ``pulumi-python`` plugin (``python -u -m pulumi.dynamic``)
from the project directory, reads the port it prints on stdout, configures it
with the stack config, and then sends Check, Diff, Create, Read, Update and
Delete requests whose properties carry the provider, pickled by the SDK, as
``__provider``. ``ProviderProcess`` does the same with the generated stubs, no
CLI and no mocks, so a test exercises exactly the code path ``pulumi up`` does.

The engine's semantics emulated here (see
``shared/reference/pulumi-dynamic-providers.md``):

- properties travel as ``google.protobuf.Struct``: every number is a float;
- ``Configure`` gets the stack config, secrets wrapped; the provider answers
  ``acceptSecrets=False``, so later requests carry plain values;
- ``Check(olds=old inputs, news=program inputs)``; ``Diff``, ``Update``,
  ``Delete`` and ``Read`` get the previous *outputs*; a preview runs only Check
  and Diff, and sends unknown values as ``rpc.UNKNOWN``.

Serialising a Struct awaits futures, so it runs on a private event loop:
``asyncio.run()`` (or setting the main thread's loop) would break Pulumi mock
tests that run later in the same pytest process.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2 as pb
from pulumi.runtime.proto.provider_pb2_grpc import ResourceProviderStub

from provider.engine import ConfiguredProvider
from provider.node.resource import NodeInterfacesProvider

_R = TypeVar("_R")

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT = "pvenet"
TYPE = "pulumi-python:dynamic/pvenet:NodeInterfaces"
PROVIDER_KEY = "__provider"
START_TIMEOUT_S = 30.0
CALL_TIMEOUT_S = 60.0
SECRET_CONFIG_KEYS = ("pvenet:apiToken", "pvenet:ssh")
"""Stack config set with ``pulumi config set --secret``: the engine sends it wrapped as a secret."""


def serialized_provider(provider: ConfiguredProvider | None = None) -> str:
    """The ``__provider`` input exactly as ``pulumi.dynamic.Resource`` computes it."""
    value, _contains_secrets = _serialize(
        True, serialize_provider, provider or NodeInterfacesProvider()
    )
    return str(value)


def urn(name: str) -> str:
    """The URN the engine gives a top-level NodeInterfaces resource called ``name``."""
    return f"urn:pulumi:test::{PROJECT}::{TYPE}::{name}"


@dataclass(frozen=True)
class CheckOutcome:
    """What Check answered: the normalised inputs and the (property, reason) failures."""

    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@dataclass(frozen=True)
class ReadOutcome:
    """What Read answered: the id ("" = gone), the outputs and the inputs for later diffs."""

    id: str
    outputs: dict[str, Any]
    inputs: dict[str, Any] | None


class ProviderProcess:
    """A running ``python -m pulumi.dynamic`` and a gRPC stub talking to it.

    Every response message is kept in ``responses`` so tests can search what
    left the provider; ``output()`` is what the process wrote to stdout and stderr.
    """

    def __init__(
        self, process: subprocess.Popen[bytes], stub: ResourceProviderStub, log_dir: Path
    ) -> None:
        self.process = process
        self.stub = stub
        self.log_dir = log_dir
        self.responses: list[Any] = []
        self._loop = asyncio.new_event_loop()

    def close(self) -> None:
        """Release the private event loop."""
        self._loop.close()

    # -- wire format ----------------------------------------------------------------------------

    def struct(self, props: Mapping[str, Any]) -> struct_pb2.Struct:
        """Properties as the engine sends them (numbers become floats, unknowns stay unknown)."""
        return self._loop.run_until_complete(rpc.serialize_properties(dict(props), {}))

    @staticmethod
    def props(struct: struct_pb2.Struct) -> dict[str, Any]:
        """Properties from a response, unknown values kept as ``pulumi.output.Unknown``."""
        result: dict[str, Any] = rpc.deserialize_properties(struct, keep_unknowns=True)
        return result

    def _keep(self, response: _R) -> _R:
        self.responses.append(response)
        return response

    # -- the provider protocol ------------------------------------------------------------------

    def configure(self, config: Mapping[str, Any]) -> pb.ConfigureResponse:
        """Configure with stack config; secret keys travel wrapped as the engine wraps them."""
        args = {
            key: rpc.wrap_rpc_secret(value) if key in SECRET_CONFIG_KEYS else value
            for key, value in config.items()
        }
        request = pb.ConfigureRequest(
            args=self.struct(args), acceptSecrets=True, acceptResources=True
        )
        response: pb.ConfigureResponse = self.stub.Configure(request, timeout=CALL_TIMEOUT_S)
        return self._keep(response)

    def check(
        self, news: Mapping[str, Any], olds: Mapping[str, Any] | None = None, name: str = "set"
    ) -> CheckOutcome:
        """Check(olds = the previous inputs, or none for a new resource; news = the program's)."""
        request = pb.CheckRequest(
            urn=urn(name),
            name=name,
            type=TYPE,
            olds=self.struct(olds or {}),
            news=self.struct(news),
        )
        response = self._keep(self.stub.Check(request, timeout=CALL_TIMEOUT_S))
        failures = [(f.property, f.reason) for f in response.failures]
        return CheckOutcome(self.props(response.inputs), failures)

    def diff(
        self,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        old_inputs: Mapping[str, Any] | None = None,
        name: str = "set",
    ) -> pb.DiffResponse:
        """Diff(olds = the previous outputs, news = Check's inputs)."""
        request = pb.DiffRequest(
            id=id_,
            urn=urn(name),
            name=name,
            type=TYPE,
            olds=self.struct(olds),
            news=self.struct(news),
            old_inputs=self.struct(old_inputs or {}),
        )
        response: pb.DiffResponse = self.stub.Diff(request, timeout=CALL_TIMEOUT_S)
        return self._keep(response)

    def create(self, inputs: Mapping[str, Any], name: str = "set") -> tuple[str, dict[str, Any]]:
        """Create(properties = Check's inputs): the id and the outputs."""
        request = pb.CreateRequest(
            urn=urn(name), name=name, type=TYPE, properties=self.struct(inputs), timeout=300
        )
        response = self._keep(self.stub.Create(request, timeout=CALL_TIMEOUT_S))
        return response.id, self.props(response.properties)

    def read(
        self, id_: str, outputs: Mapping[str, Any], inputs: Mapping[str, Any], name: str = "set"
    ) -> ReadOutcome:
        """Read as ``pulumi refresh`` sends it: the previous outputs and inputs."""
        request = pb.ReadRequest(
            id=id_,
            urn=urn(name),
            name=name,
            type=TYPE,
            properties=self.struct(outputs),
            inputs=self.struct(inputs),
        )
        response = self._keep(self.stub.Read(request, timeout=CALL_TIMEOUT_S))
        new_inputs = self.props(response.inputs) if response.HasField("inputs") else None
        return ReadOutcome(response.id, self.props(response.properties), new_inputs)

    def update(
        self,
        id_: str,
        olds: Mapping[str, Any],
        news: Mapping[str, Any],
        old_inputs: Mapping[str, Any] | None = None,
        name: str = "set",
    ) -> dict[str, Any]:
        """Update(olds = the previous outputs, news = Check's inputs): the new outputs."""
        request = pb.UpdateRequest(
            id=id_,
            urn=urn(name),
            name=name,
            type=TYPE,
            olds=self.struct(olds),
            news=self.struct(news),
            old_inputs=self.struct(old_inputs or {}),
            timeout=300,
        )
        response = self._keep(self.stub.Update(request, timeout=CALL_TIMEOUT_S))
        return self.props(response.properties)

    def delete(
        self,
        id_: str,
        outputs: Mapping[str, Any],
        old_inputs: Mapping[str, Any] | None = None,
        name: str = "set",
    ) -> None:
        """Delete(properties = the last outputs)."""
        request = pb.DeleteRequest(
            id=id_,
            urn=urn(name),
            name=name,
            type=TYPE,
            properties=self.struct(outputs),
            old_inputs=self.struct(old_inputs or {}),
            timeout=300,
        )
        self._keep(self.stub.Delete(request, timeout=CALL_TIMEOUT_S))

    # -- what the process wrote -----------------------------------------------------------------

    def output(self) -> str:
        """Everything the provider process wrote to stdout and stderr so far."""
        return "".join(
            (self.log_dir / name).read_text(errors="replace")
            for name in ("stdout", "stderr")
            if (self.log_dir / name).exists()
        )


def _read_port(stdout: Path, process: subprocess.Popen[bytes], stderr: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        first, newline, _rest = stdout.read_text().partition("\n")
        if newline:
            return int(first)
        if process.poll() is not None:
            raise RuntimeError(
                f"python -m pulumi.dynamic exited with {process.returncode}: {stderr.read_text()}"
            )
        time.sleep(0.02)
    raise RuntimeError(f"python -m pulumi.dynamic printed no port in {START_TIMEOUT_S:.0f} s")


def _provider_env() -> dict[str, str]:
    """The plugin's environment: the project name, and no connection settings from our shell."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROXMOX_VE_")}
    env["PULUMI_PROJECT"] = PROJECT
    return env


@contextmanager
def provider_process(log_dir: Path) -> Iterator[ProviderProcess]:
    """Start ``python -u -m pulumi.dynamic`` in the project directory; stop it (by PID) after."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout, stderr = log_dir / "stdout", log_dir / "stderr"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=PROJECT_DIR,
            env=_provider_env(),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
        )
    channel: grpc.Channel | None = None
    harness: ProviderProcess | None = None
    try:
        port = _read_port(stdout, process, stderr)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=START_TIMEOUT_S)
        harness = ProviderProcess(process, ResourceProviderStub(channel), log_dir)
        yield harness
    finally:
        if harness is not None:
            harness.close()
        if channel is not None:
            channel.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
