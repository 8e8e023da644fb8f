"""One operation of a stack with the real Pulumi CLI, in a process of its own, for the engine tier.

::

    python -m tests.engine.driver REQUEST.json RESULT.json

``REQUEST.json``: ``{"program": DIR, "stack": NAME, "operation": "preview"|"up"|"refresh"|
"destroy", "diff": bool, "expect_no_changes": bool}``. The stack, backend and secrets come from
the environment the test gives this process (``PULUMI_BACKEND_URL``, ``PULUMI_HOME``,
``PULUMI_CONFIG_PASSPHRASE``). It runs the operation exactly as ``./run pulumi`` does
(``components.deploy``) and writes ``RESULT.json``: ``ok``, Pulumi's ``output``, the engine's
``steps`` (``op``, ``type`` and ``name`` of each resource step, from the engine's events) and
the ``changes`` the CLI summarised.

A process per operation, as under ``pulumi`` itself: the program runs in the process that
serves it to the CLI, and Pulumi's runtime settings are process-wide, so the test process
(where Pulumi's mocks run other tests) is left alone.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.deploy import open_stack, run_operation
from components.project import load_project
from components.pulumi_cli import existing_cli


def _step(event: auto.EngineEvent, steps: list[dict[str, str]]) -> None:
    pre = event.resource_pre_event
    if pre is not None:
        op = pre.metadata.op
        steps.append(
            {
                "op": op.value if hasattr(op, "value") else str(op),
                "type": pre.metadata.type,
                "name": pre.metadata.urn.rsplit("::", 1)[-1],
            }
        )


def _changes(result: Any) -> dict[str, int]:
    """The change counts of an up/refresh/destroy (``summary``) or a preview."""
    if hasattr(result, "change_summary"):
        counts = result.change_summary
    else:
        counts = result.summary.resource_changes or {}
    return {str(getattr(k, "value", k)): int(v) for k, v in counts.items()}


def main(request_file: str, result_file: str) -> int:
    """Run the requested operation and write what happened; status 0 even when it failed."""
    request = json.loads(Path(request_file).read_text())
    cli = existing_cli()
    if cli is None:
        raise SystemExit("driver: no Pulumi CLI")
    project = load_project(request["program"])
    output = io.StringIO()
    steps: list[dict[str, str]] = []
    result: dict[str, Any] = {"ok": True, "steps": steps, "changes": {}}
    try:
        stack = open_stack(project, request["stack"], cli, {})
        outcome = run_operation(
            stack,
            request["operation"],
            output,
            diff=request.get("diff", False),
            expect_no_changes=request.get("expect_no_changes", False),
            refresh=request.get("refresh", False),
            on_event=lambda event: _step(event, steps),
        )
        result["changes"] = _changes(outcome)
    except auto.CommandError as error:
        result["ok"] = False
        result["error"] = str(error)
    result["output"] = output.getvalue()
    Path(result_file).write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
