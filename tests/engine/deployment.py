"""A copy of a Pulumi program deployed to a simulator by the real Pulumi CLI, for the engine tier.

A :class:`Deployment` is what a user has after ``git clone``: a project directory (a copy of
the root program or of an example, so the test may edit it), a stack in a file backend of its
own, its connection set with ``pulumi config set`` (the token with ``--secret``), and the
Pulumi CLI. Each operation runs in a process of its own (``tests.engine.driver``), exactly as
``./run pulumi`` runs it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pulumi import automation as auto

from components.project import PROGRAM_FILE, PROJECT_FILE, PROJECT_ROOT
from components.pulumi_cli import cli_environment
from components.render import format_files
from provider.host.render import RENDERED_FILES
from simulator.testing import SimulatorHandle

PASSPHRASE = "engine-tier"
"""Encrypts the test stacks' secrets (a test stack only ever talks to a simulator)."""
OPERATION_TIMEOUT_S = 300
HEADER_LINE = re.compile(r"#")
SECTION = re.compile(r"# (\S+): (/\S*)")  # render's line before each file


@dataclass(frozen=True)
class Outcome:
    """What one operation did: success, Pulumi's output, the engine's steps, the CLI's counts."""

    ok: bool
    output: str
    steps: list[dict[str, str]]
    changes: dict[str, int]
    error: str = ""

    def ops(self, *, custom_only: bool = True) -> dict[str, str]:
        """Step op by resource name (dynamic resources only, by default)."""
        return {
            step["name"]: step["op"]
            for step in self.steps
            if not custom_only or step["type"].startswith("pulumi-python:dynamic")
        }


@dataclass
class Deployment:
    """A program's copy, its stack in a private backend, and the simulator it is connected to."""

    directory: Path
    stack: str
    sim: SimulatorHandle
    cli: auto.PulumiCommand
    home: Path
    nodes: Sequence[str] = ("pve1",)
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        source: Path,
        workdir: Path,
        sim: SimulatorHandle,
        cli: auto.PulumiCommand,
        *,
        stack: str = "dev",
        nodes: Sequence[str] = ("pve1",),
    ) -> Deployment:
        """Copy the project at ``source``, init its stack, and connect it to ``sim``."""
        directory = workdir / source.name
        directory.mkdir(parents=True)
        for name in (PROJECT_FILE, PROGRAM_FILE):
            shutil.copy(source / name, directory / name)
        stack_file = source / f"Pulumi.{stack}.yaml"
        if stack_file.exists():  # without its salt: this stack has a passphrase of its own
            lines = stack_file.read_text().splitlines(keepends=True)
            kept = [line for line in lines if not line.startswith("encryptionsalt:")]
            (directory / stack_file.name).write_text("".join(kept))
        (workdir / "backend").mkdir()
        deployment = cls(directory, stack, sim, cli, workdir / "pulumi-home", nodes)
        deployment.env = {
            **cli_environment(cli),
            "PULUMI_BACKEND_URL": f"file://{workdir / 'backend'}",
            "PULUMI_HOME": str(deployment.home),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            **sim.ssh_environment(),  # host rules reach the nodes over the simulator's SSH
        }
        deployment.pulumi("stack", "init")
        deployment.pulumi("config", "set", "pvenet:endpoint", sim.url)
        deployment.pulumi("config", "set", "pvenet:caCert", str(sim.ca_file))
        deployment.pulumi("config", "set", "--secret", "pvenet:apiToken", sim.token)
        return deployment

    def pulumi(self, *args: str) -> str:
        """Run the CLI itself in the project (``config``, ``stack export``); its stdout."""
        done = subprocess.run(
            [self.cli.command, *args, "--stack", self.stack, "--non-interactive"],
            cwd=self.directory,
            env={**os.environ, **self.env},
            capture_output=True,
            text=True,
            timeout=OPERATION_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args[:2])} failed: {done.stderr.strip()}")
        return done.stdout

    def run(
        self,
        operation: str,
        *,
        diff: bool = False,
        expect_no_changes: bool = False,
        refresh: bool = False,
    ) -> Outcome:
        """``preview``, ``up``, ``refresh`` or ``destroy``, as ``./run pulumi`` runs it."""
        request = self.directory.parent / "request.json"
        result = self.directory.parent / "result.json"
        request.write_text(
            json.dumps(
                {
                    "program": str(self.directory),
                    "stack": self.stack,
                    "operation": operation,
                    "diff": diff,
                    "expect_no_changes": expect_no_changes,
                    "refresh": refresh,
                }
            )
        )
        subprocess.run(
            [sys.executable, "-m", "tests.engine.driver", str(request), str(result)],
            cwd=PROJECT_ROOT,
            env={**os.environ, **self.env},
            timeout=OPERATION_TIMEOUT_S,
            check=True,
        )
        return Outcome(**json.loads(result.read_text()))

    def render(self) -> str:
        """What ``python -m components.render`` prints for this program and stack."""
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "components.render",
                "--program",
                str(self.directory),
                "--stack",
                self.stack,
            ],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=OPERATION_TIMEOUT_S,
            check=True,
        )
        return done.stdout

    def files(self) -> str:
        """The nodes' network files and host rules files now, formatted as ``render`` prints
        them."""
        return format_files(
            {
                node: {
                    **self.sim.files(node),
                    **{path: self.sim.host_file(path, node) for path in RENDERED_FILES},
                }
                for node in self.nodes
            }
        )

    def edit(self, name: str, old: str, new: str) -> None:
        """Change one input: replace ``old`` (which must occur once) in the copy's file."""
        path = self.directory / name
        text = path.read_text()
        assert text.count(old) == 1, f"{old!r} is not in {path} exactly once"
        path.write_text(text.replace(old, new))

    def writes(self) -> list[tuple[str, str]]:
        """(method, path) of every request to the simulator that was not a read."""
        return [(e.method, e.path) for e in self.sim.requests.entries() if e.method != "GET"]


def stanzas(text: str | None) -> list[str]:
    """The stanzas of a network file: blocks between blank lines that are not only comments.

    Proxmox's writer adds a header comment to ``/etc/network/interfaces`` and ``#version``
    to the SDN file; what a node runs is in the other blocks.
    """
    blocks = [b.strip("\n") for b in (text or "").split("\n\n")]
    return [b for b in blocks if b and not all(HEADER_LINE.match(line) for line in b.splitlines())]


def sections(text: str) -> dict[tuple[str, str], list[str]]:
    """``render``'s output (or :meth:`Deployment.files`) as sorted stanzas per (node, path).

    Sorted, because a node keeps the order in which interfaces were created: an interface
    deleted by hand and created again moves to the end of its kind, with the same stanza.
    """
    found: dict[tuple[str, str], list[str]] = {}
    key: tuple[str, str] | None = None
    lines: list[str] = []
    for line in [*text.splitlines(), "# end: /"]:
        if match := SECTION.fullmatch(line):
            if key is not None:
                found[key] = sorted(stanzas("\n".join(lines)))
            key, lines = (match[1], match[2]), []
        else:
            lines.append(line)
    return found


def node_stanzas(sim: SimulatorHandle, nodes: Sequence[str]) -> dict[str, dict[str, list[str]]]:
    """Each node's files as their sorted stanzas (what destroy must give back)."""
    return {
        node: {path: sorted(stanzas(text)) for path, text in sim.files(node).items()}
        for node in nodes
    }


def new_stanzas(
    before: dict[str, dict[str, list[str]]], after: dict[str, dict[str, list[str]]]
) -> list[str]:
    """The stanzas of ``after`` (node, file) that ``before`` did not have."""
    return [
        stanza
        for node, files in after.items()
        for path, blocks in files.items()
        for stanza in blocks
        if stanza not in before.get(node, {}).get(path, [])
    ]
