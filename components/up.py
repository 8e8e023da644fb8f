"""``python -m components.up`` (``./run up``): the dev stack on the simulator, with the Pulumi CLI.

::

    python -m components.up [--program DIR] [--destroy]

1. Starts the simulator in the background, or reuses the running one
   (``simulator.demo``: state in ``.state/dev``, ``https://127.0.0.1:8006``).
2. Finds the Pulumi CLI (``components.pulumi_cli``): ``pulumi`` on ``PATH``, the one
   built or installed under ``.state/pulumi-cli/``, Pulumi's installer, or a build from Go
   modules. When none works it says so in one line and exits with status 1.
3. Selects (or creates) the ``dev`` stack of the root program, or of the project in
   ``--program DIR`` (``examples/nat``), in a file backend inside the project (``.pulumi/``,
   ``PULUMI_BACKEND_URL=file://<project>``). The dev stack's secrets are encrypted with a
   fixed passphrase, :data:`DEV_PASSPHRASE`, unless ``PULUMI_CONFIG_PASSPHRASE`` is set; the
   simulator's API token reaches the providers as ``PROXMOX_VE_API_TOKEN``, so no stack file
   holds it.
4. Runs ``pulumi up`` (``--destroy``: ``pulumi destroy``) without asking, streaming Pulumi's
   output (``components.deploy``: the program runs in this process), then prints each
   node's ``/etc/network/interfaces`` and ``/etc/network/interfaces.d/sdn``.

A second run finds nothing to change. The same stack by hand: ``./run pulumi preview --diff``
(see the README).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from components.deploy import run
from components.project import PROJECT_ROOT, add_program_argument, load_project
from components.render import format_files
from provider.errors import PvenetError
from simulator.demo import run_demo
from simulator.http.auth import AUTH_FILE, Auth
from simulator.node import Node
from simulator.ssh.keys import ssh_environment

STACK = "dev"
SIMULATOR_STATE = PROJECT_ROOT / ".state" / "dev"
SIMULATOR_PORT = 8006  # the port Pulumi.dev.yaml's endpoint names
BACKEND_URL = f"file://{PROJECT_ROOT}"
"""The project's own file backend: stack state lands in ``<project>/.pulumi/``."""
DEV_PASSPHRASE = "pvenet-dev"
"""Encrypts the dev stack's secrets. Not a secret: the dev stack only talks to the simulator."""


def stack_environment(token: str) -> dict[str, str]:
    """What the CLI, the program and the providers need for the dev stack (beyond os.environ):
    the backend, the passphrase, the API token and the simulated nodes' SSH settings
    (``PVENET_SSH_*``, see ``simulator.ssh.keys``)."""
    return {
        "PULUMI_BACKEND_URL": BACKEND_URL,
        "PULUMI_CONFIG_PASSPHRASE": os.environ.get("PULUMI_CONFIG_PASSPHRASE", DEV_PASSPHRASE),
        "PROXMOX_VE_API_TOKEN": token,
        **ssh_environment(SIMULATOR_STATE),
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
    operation = "destroy" if args.destroy else "up"
    status = run(project, STACK, operation, stack_environment(token), out, err, command="up")
    if status != 0:
        return status
    out.write("\n" + format_files(node_files(SIMULATOR_STATE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
