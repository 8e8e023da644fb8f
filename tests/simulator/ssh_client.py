"""A plain SSH client for the simulator's SSH tests (asyncssh, not the provider's transport).

It connects the way the provider is told to: ``PVENET_SSH_USER``, ``PVENET_SSH_KEY``,
``PVENET_SSH_KNOWN_HOSTS`` (the host key pinned) and ``PVENET_SSH_ADDRESSES``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import NamedTuple

import asyncssh

from simulator.testing import SimulatorHandle


class Answer(NamedTuple):
    """What the client saw of one exec: exit status (None: the channel closed without
    one), standard output and standard error."""

    status: int | None
    stdout: str
    stderr: str


def address(sim: SimulatorHandle, node: str = "pve1") -> tuple[str, int]:
    """The node's SSH address, read from the settings the provider gets."""
    pairs = dict(
        item.split("=") for item in sim.ssh_environment()["PVENET_SSH_ADDRESSES"].split(",")
    )
    host, _sep, port = pairs[node].rpartition(":")
    return host, int(port)


async def _exec(
    sim: SimulatorHandle,
    commands: list[tuple[str, bytes | None]],
    node: str,
    user: str | None,
    key: Path | None,
    known_hosts: Path | None,
) -> list[Answer]:
    env = sim.ssh_environment()
    host, port = address(sim, node)
    answers = []
    async with asyncssh.connect(
        host,
        port,
        username=user or env["PVENET_SSH_USER"],
        client_keys=[str(key or env["PVENET_SSH_KEY"])],
        known_hosts=str(known_hosts or env["PVENET_SSH_KNOWN_HOSTS"]),
        agent_path=None,
        config=None,
    ) as conn:
        for command, stdin in commands:
            result = await conn.run(command, input=stdin, encoding=None, check=False)
            answers.append(
                Answer(
                    result.exit_status,
                    bytes(result.stdout or b"").decode(),
                    bytes(result.stderr or b"").decode(),
                )
            )
    return answers


def run_many(
    sim: SimulatorHandle,
    commands: list[tuple[str, bytes | None]],
    node: str = "pve1",
    *,
    user: str | None = None,
    key: Path | None = None,
    known_hosts: Path | None = None,
) -> list[Answer]:
    """Run each command in its own exec over one new connection."""
    return asyncio.run(_exec(sim, commands, node, user, key, known_hosts))


def run(
    sim: SimulatorHandle, command: str, stdin: bytes | str | None = None, node: str = "pve1"
) -> Answer:
    """One command over a new connection, as the provider runs each contract command."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return run_many(sim, [(command, data)], node)[0]
