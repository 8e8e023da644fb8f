"""``python -m components.deploy`` (``./run pulumi``): a stack's preview, up, refresh or destroy.

::

    python -m components.deploy {preview,up,refresh,destroy} [--program DIR] [--stack NAME]
                                [--diff] [--expect-no-changes]

The real Pulumi engine runs the operation: the CLI that :mod:`components.pulumi_cli` finds
or builds, with the stack's own config (``Pulumi.<stack>.yaml`` of the project), backend
(``PULUMI_BACKEND_URL`` or ``pulumi login``) and secrets provider
(``PULUMI_CONFIG_PASSPHRASE`` for the passphrase one). Only the program runs differently
from ``pulumi up``: in this process, served to the CLI by the Automation API's language
server (an inline program), instead of by the Python language host. So it works with a CLI
that has no language host, such as the one built from Go modules, and it runs the same
program the same way: the project's ``__main__.py``.

``preview --diff`` shows every property in full (``--show-full-output``): a set's
``rendered`` stanzas are the file change a reviewer reads. ``up``, ``refresh`` and
``destroy`` do not ask for confirmation. The exit status is 0 on success, 1 when the
operation fails (Pulumi's output says why), 2 for a bad project or stack.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from pulumi import automation as auto

from components.project import Project, ProjectError, add_program_argument, load_project
from components.pulumi_cli import CliUnavailable, cli_environment, find_cli

OPERATIONS = ("preview", "up", "refresh", "destroy")
COLOR = "never"  # the output is relayed line by line, not to a terminal


class Workspace(auto.LocalWorkspace):
    """A local workspace that can pass the CLI a flag the Automation API has no parameter for.

    ``extra_args`` go to every stack command run after they are set; only set flags that
    the next command accepts (``--show-full-output``: preview, up, destroy).
    """

    extra_args: tuple[str, ...] = ()

    def serialize_args_for_op(self, stack_name: str) -> list[str]:
        """The Automation API's hook for extra CLI arguments."""
        return list(self.extra_args)


def open_stack(
    project: Project, stack: str, cli: auto.PulumiCommand, env: Mapping[str, str]
) -> auto.Stack:
    """The project's stack (created if new), its program run in this process by the CLI.

    ``env`` is added to this process's environment for every CLI run (backend, passphrase,
    credentials), after what the CLI itself needs (:func:`cli_environment`).
    """
    workspace = Workspace(
        work_dir=str(project.directory),
        program=project.program(),
        pulumi_command=cli,
        env_vars={**cli_environment(cli), **env},
    )
    return auto.Stack.create_or_select(stack, workspace)


def run_operation(
    stack: auto.Stack,
    operation: str,
    out: TextIO,
    *,
    diff: bool = False,
    expect_no_changes: bool = False,
    refresh: bool = False,
    on_event: auto.OnEvent | None = None,
) -> Any:
    """Run ``operation`` on ``stack``, streaming the CLI's output to ``out``; its result.

    ``refresh`` (``up`` only): read what the nodes hold first (``pulumi up --refresh``), so a
    node changed or reset since the last ``up`` is put right rather than taken as unchanged.
    Raises ``auto.CommandError`` (with the CLI's output) when the operation fails.
    """

    def show(line: str) -> None:
        out.write(line + "\n")
        out.flush()

    common: dict[str, Any] = {
        "on_output": show,
        "on_error": show,
        "on_event": on_event,
        "color": COLOR,
    }
    workspace = stack.workspace
    full_output = diff and operation == "preview"
    if isinstance(workspace, Workspace):
        workspace.extra_args = ("--show-full-output",) if full_output else ()
    try:
        if operation == "preview":
            return stack.preview(diff=diff, expect_no_changes=expect_no_changes, **common)
        if operation == "up":
            return stack.up(
                diff=diff, expect_no_changes=expect_no_changes, refresh=refresh, **common
            )
        if operation == "refresh":
            return stack.refresh(diff=diff, expect_no_changes=expect_no_changes, **common)
        if operation == "destroy":
            return stack.destroy(diff=diff, **common)
    finally:
        if isinstance(workspace, Workspace):
            workspace.extra_args = ()
    raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, not {operation!r}")


def cli_said(error: auto.CommandError) -> str:
    """What the CLI wrote on stderr for a failed command, on one line."""
    text = str(error)
    said = text.split(" stderr: ", 1)[1] if " stderr: " in text else text
    return " ".join(said.split())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.deploy",
        description="Run a stack's preview, up, refresh or destroy with the Pulumi CLI, "
        "the program running in this process (no Python language host needed).",
    )
    parser.add_argument("operation", choices=OPERATIONS)
    add_program_argument(parser)
    parser.add_argument("--stack", default="dev", help="the stack (default dev)")
    parser.add_argument("--diff", action="store_true", help="show each resource's changes")
    parser.add_argument(
        "--expect-no-changes", action="store_true", help="fail if anything would change"
    )
    return parser


def run(
    project: Project,
    stack_name: str,
    operation: str,
    env: Mapping[str, str],
    out: TextIO,
    err: TextIO,
    *,
    command: str = "deploy",
    diff: bool = False,
    expect_no_changes: bool = False,
    refresh: bool = False,
) -> int:
    """Find the CLI, select the stack, run the operation; the exit status (0 or 1).

    What went wrong goes to ``err`` on one line that starts with ``command``; Pulumi's own
    output (and its account of a failure) goes to ``out``.
    """
    try:
        cli = find_cli(log=err)
        stack = open_stack(project, stack_name, cli, env)
    except CliUnavailable as error:
        err.write(f"{command}: {error}\n")
        return 1
    except auto.CommandError as error:
        err.write(f"{command}: cannot select stack '{stack_name}': {cli_said(error)}\n")
        return 1
    try:
        run_operation(
            stack,
            operation,
            out,
            diff=diff,
            expect_no_changes=expect_no_changes,
            refresh=refresh,
        )
    except auto.CommandError:
        err.write(
            f"{command}: pulumi {operation} failed on stack '{stack_name}' of "
            f"{project.directory} (output above)\n"
        )
        return 1
    return 0


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """The command line; the exit status."""
    args = _parser().parse_args(argv)
    try:
        project = load_project(args.program)
        project.program()  # a project without __main__.py fails here, not in the engine
    except ProjectError as error:
        err.write(f"deploy: {error}\n")
        return 2
    return run(
        project,
        args.stack,
        args.operation,
        {},
        out,
        err,
        diff=args.diff,
        expect_no_changes=args.expect_no_changes,
    )


if __name__ == "__main__":
    sys.exit(main())
