"""What a simulated command runs with and what it gives back.

Each tool (``cat``, ``nft``, ``systemctl``, ...) is a function ``tool(ctx, argv) -> Result``:
``ctx`` holds the node's host side, the command's standard input and environment, and
the way back into the shell for commands that run others (a script, a timer, the
if-up.d hook after ``ifreload``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from simulator.ssh.host import Host

if TYPE_CHECKING:
    from simulator.cluster import Cluster


@dataclass
class Result:
    """A finished command: exit status, standard output and standard error."""

    status: int = 0
    stdout: str = ""
    stderr: str = ""

    def __add__(self, other: Result) -> Result:
        """Both outputs, the later status (how a script's lines add up)."""
        return Result(other.status, self.stdout + other.stdout, self.stderr + other.stderr)

    def also(self, other: Result) -> Result:
        """Both outputs; a failure's status stays (a tool going on after an error, as
        ``cat a b`` or ``sysctl -p`` do)."""
        return Result(
            self.status or other.status, self.stdout + other.stdout, self.stderr + other.stderr
        )


def fail(status: int, message: str) -> Result:
    """A failure with ``message`` (a newline added) on standard error."""
    return Result(status, "", message if message.endswith("\n") else message + "\n")


class Timers(Protocol):
    """Arms and disarms the real (wall-clock) timers behind ``systemd-run --on-active``."""

    def arm(self, node: str, unit: str, seconds: float) -> None:
        """Fire ``unit`` of ``node`` after ``seconds`` (its command is in the host state)."""

    def disarm(self, node: str, unit: str) -> None:
        """Forget the timer ``unit`` of ``node``."""


@dataclass
class Context:
    """One command's world: the node, its input, its environment, and the shell."""

    host: Host
    cluster: Cluster
    timers: Timers
    run: Callable[[Context, list[str]], Result]
    """Runs another command line (already split) in this context."""
    stdin: bytes = b""
    env: Mapping[str, str] = field(default_factory=dict)
    now: Callable[[], float] = field(default=lambda: 0.0)

    def child(self, env: Mapping[str, str] | None = None) -> Context:
        """The context of a command a script runs: no standard input, its own environment."""
        return Context(
            self.host, self.cluster, self.timers, self.run, b"", dict(env or self.env), self.now
        )
