"""``python -m components.up`` (``./run up``): the dev stack on the simulator, with the Pulumi CLI.

::

    python -m components.up [--program DIR] [--destroy]

1. Starts the simulator in the background, or reuses the running one
   (``simulator.demo``: state in ``.state/dev``, ``https://127.0.0.1:8006``).
2. Finds the Pulumi CLI: ``pulumi`` on ``PATH``, else the one installed in
   ``.state/pulumi-cli/``, else installs it there with Pulumi's Automation API
   (``PulumiCommand.install``). When that fails it says so in one line, with
   the install command, and exits with status 1.
3. Selects (or creates) the ``dev`` stack of the root program, or of the
   project in ``--program DIR`` (``examples/nat``), in a file backend inside
   the project (``.pulumi/``, ``PULUMI_BACKEND_URL=file://<project>``). The
   dev stack's secrets are encrypted with a fixed passphrase,
   :data:`DEV_PASSPHRASE`, unless ``PULUMI_CONFIG_PASSPHRASE`` is set; the
   simulator's API token reaches the providers as ``PROXMOX_VE_API_TOKEN``, so
   no stack file holds it.
4. Runs ``pulumi up --yes`` (``--destroy``: ``pulumi destroy --yes``),
   streaming Pulumi's output, then prints each node's
   ``/etc/network/interfaces`` and ``/etc/network/interfaces.d/sdn``.

A second run finds nothing to change. To use the same stack by hand::

    export PULUMI_BACKEND_URL=file://$PWD PULUMI_CONFIG_PASSPHRASE=pvenet-dev
    export PROXMOX_VE_API_TOKEN=...   # printed by ./run sim demo
    pulumi preview --diff -s dev
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from pulumi import automation as auto

from components.project import PROJECT_ROOT, add_program_argument, load_project
from components.render import format_files
from provider.errors import PvenetError
from simulator.auth import AUTH_FILE, Auth
from simulator.demo import run_demo
from simulator.node import Node

STACK = "dev"
INSTALL_COMMAND = "curl -fsSL https://get.pulumi.com | sh"
CLI_ROOT = PROJECT_ROOT / ".state" / "pulumi-cli"
"""Where ``up`` installs the Pulumi CLI when there is none on PATH (ignored by git)."""
SIMULATOR_STATE = PROJECT_ROOT / ".state" / "dev"
SIMULATOR_PORT = 8006  # the port Pulumi.dev.yaml's endpoint names
BACKEND_URL = f"file://{PROJECT_ROOT}"
"""The project's own file backend: stack state lands in ``<project>/.pulumi/``."""
DEV_PASSPHRASE = "pvenet-dev"
"""Encrypts the dev stack's secrets. Not a secret: the dev stack only talks to the simulator."""
# urllib waits forever by default; the installer download gets this long per socket operation.
DOWNLOAD_TIMEOUT_S = 60.0
CLI_ERRORS = (OSError, subprocess.SubprocessError, auto.InvalidVersionError)


class CliUnavailable(PvenetError, RuntimeError):
    """The Pulumi CLI is not on PATH and could not be installed; the message is one line."""


@contextlib.contextmanager
def _download_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _reason(error: BaseException) -> str:
    """Why an install failed, in a few words on one line."""
    if isinstance(error, urllib.error.URLError):
        return f"cannot download the installer: {error.reason}"
    if isinstance(error, subprocess.CalledProcessError):
        return f"the installer exited with status {error.returncode}"
    return " ".join(str(error).split()) or type(error).__name__


def find_cli(install_root: Path = CLI_ROOT) -> auto.PulumiCommand:
    """The Pulumi CLI to use: ``pulumi`` on PATH, else one installed under ``install_root``.

    A CLI on PATH that is too old for this SDK is passed over for the
    installed one. CliUnavailable (one line, with the install command) when
    there is none and installing fails, e.g. without a network.
    """
    if shutil.which("pulumi"):
        with contextlib.suppress(*CLI_ERRORS):
            return auto.PulumiCommand()
    try:
        with _download_timeout(DOWNLOAD_TIMEOUT_S):
            return auto.PulumiCommand.install(root=str(install_root))
    except CLI_ERRORS as error:
        raise CliUnavailable(
            f"the Pulumi CLI is not installed and could not be installed into {install_root} "
            f"({_reason(error)}); install it with: {INSTALL_COMMAND}"
        ) from None


def stack_environment(token: str) -> dict[str, str]:
    """What the CLI, the program and the providers need for the dev stack (beyond os.environ)."""
    return {
        "PULUMI_BACKEND_URL": BACKEND_URL,
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PROXMOX_VE_API_TOKEN": token,
    }


def start_simulator(out: TextIO, err: TextIO) -> str | None:
    """Start or reuse the background simulator; its API token, or None (reason on ``err``)."""
    shown = io.StringIO()
    if run_demo(SIMULATOR_STATE, SIMULATOR_PORT, shown) != 0:
        err.write(shown.getvalue())
        return None
    first_line = shown.getvalue().splitlines()[0].rstrip(".")
    out.write(f"{first_line}: https://127.0.0.1:{SIMULATOR_PORT}, state in {SIMULATOR_STATE}\n")
    return Auth(SIMULATOR_STATE / AUTH_FILE).token.full


def node_files(state_dir: Path) -> dict[str, dict[str, str | None]]:
    """Each simulated node's network files, read from the simulator's state directory."""
    nodes = sorted(p.name for p in (state_dir / "nodes").iterdir() if p.is_dir())
    return {name: Node(name, [], state_dir / "nodes" / name).files() for name in nodes}


def deploy(
    program_dir: Path,
    cli: auto.PulumiCommand,
    env: Mapping[str, str],
    out: TextIO,
    *,
    destroy: bool = False,
) -> None:
    """``pulumi up --yes`` (or ``destroy --yes``) of the dev stack, streaming its output."""

    def show(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    stack = auto.create_or_select_stack(
        stack_name=STACK,
        work_dir=str(program_dir),
        opts=auto.LocalWorkspaceOptions(pulumi_command=cli, env_vars=dict(env)),
    )
    if destroy:
        stack.destroy(on_output=show, on_error=show, color="never")
    else:
        stack.up(on_output=show, on_error=show, color="never")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.up",
        description="Deploy the dev stack to the simulator with the Pulumi CLI "
        "and show the node's network files.",
    )
    add_program_argument(parser)
    parser.add_argument(
        "--destroy", action="store_true", help="remove what the dev stack built instead"
    )
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """The command line; the exit status."""
    args = _parser().parse_args(argv)
    try:
        project = load_project(args.program)
    except PvenetError as error:
        err.write(f"up: {error}\n")
        return 2
    token = start_simulator(out, err)
    if token is None:
        return 1
    try:
        cli = find_cli(CLI_ROOT)
    except CliUnavailable as error:
        err.write(f"up: {error}\n")
        return 1
    try:
        deploy(project.directory, cli, stack_environment(token), out, destroy=args.destroy)
    except auto.CommandError:
        err.write(f"up: pulumi failed on stack '{STACK}' of {project.directory} (output above)\n")
        return 1
    out.write("\n" + format_files(node_files(SIMULATOR_STATE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
