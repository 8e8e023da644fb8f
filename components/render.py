"""``python -m components.render``: the files Proxmox would end up with, for review, without a node.

::

    python -m components.render [--stack NAME] [--base FILE] [--program DIR] [--nics LIST]
    python -m components.render --diagram [--stack NAME]

``--diagram`` prints the stack's topology as a Mermaid flowchart instead
(``components.diagram``), from its ``pvenet:networks`` alone: nothing runs.

Runs a stack's program (the root program with ``Pulumi.<stack>.yaml`` by
default, or the project in ``--program DIR``, such as ``examples/homelab``)
with the local engine (``components.local_engine``): Pulumi's mocks, the real
providers, and an in-process simulator started in a temporary directory for
the nodes the program names. Each node starts from ``--base`` FILE (its
``/etc/network/interfaces``), else from the installer's file. Then it prints,
per node, each network file Proxmox would end up with after a line
``# <node>: <path>``, or with ``--base`` a unified diff against it: what a
reviewer wants to see in a pull request.

Beside them come the files of the node's host rules (port forwards,
masquerade, forwarding, ``proxy_arp``, routes): pvenet's rules file, its
``host.sh`` and its sysctl file, made from the ``HostRules`` inputs by
``provider.host.render`` (pure), as a ``pulumi up`` would install them.

It needs no credentials, no SSH and no Pulumi CLI: the stack's endpoint and
token are replaced by the simulator's, and host rules are only rendered, so
nothing reaches a real node.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from components.diagram import stack_diagram
from components.host import HOST_RULES_TYPE
from components.local_engine import CheckFailed, LocalEngine, Recorder, run_with_mocks
from components.project import PROJECT_ROOT, Project, add_program_argument, load_project
from provider.errors import PvenetError
from provider.host.model import parse_rules
from provider.host.render import RENDERED_FILES, rendered
from simulator.cluster import DEFAULT_NICS
from simulator.node import INTERFACES, SDN_INTERFACES
from simulator.testing import running_simulator

DEFAULT_STACK = "dev"
NETWORK_FILES = (INTERFACES, SDN_INTERFACES)
FILES = (*NETWORK_FILES, *RENDERED_FILES)
"""Every file render shows for a node, in this order: Proxmox's, then the host rules'."""
DEFAULT_NODE = "pve1"  # a program that names no node (SDN on every node) still needs one
# Connection keys the render replaces with the in-process simulator's.
CONNECTION_KEYS = ("pvenet:endpoint", "pvenet:apiToken", "pvenet:caCert", "pvenet:insecure")

NodeFiles = dict[str, dict[str, str | None]]
"""Per node, the text of each network file (None: the file does not exist)."""


@dataclass(frozen=True)
class Rendered:
    """What a render produced: each node's files, and what the run logged."""

    files: NodeFiles
    logs: list[logging.LogRecord]


def nodes_of(project: Project, config: Mapping[str, Any], stack: str) -> list[str]:
    """The nodes the program's resources name (``node``, ``nodes``), found at preview.

    No provider runs: the program's registrations are only recorded. A bad
    stack config or bad component arguments fail here, before anything else.
    """
    recorder = Recorder(preview=True)
    run_with_mocks(
        project.program(),
        recorder,
        config=config,
        project=project.name,
        stack=stack,
        preview=True,
        logger=recorder.logs.logger,
    )
    found: set[str] = set()
    for args in recorder.seen:
        if not args.custom:
            continue
        node, nodes = args.inputs.get("node"), args.inputs.get("nodes")
        if isinstance(node, str):
            found.add(node)
        if isinstance(nodes, list):
            found.update(n for n in nodes if isinstance(n, str))
    return sorted(found) or [DEFAULT_NODE]


def render(
    project: Project,
    stack: str = DEFAULT_STACK,
    *,
    base: str | None = None,
    nics: Sequence[str] = DEFAULT_NICS,
) -> Rendered:
    """Run the stack's program against a fresh simulator; the files each node ends up with.

    ``base`` is the text every node's ``/etc/network/interfaces`` starts from
    (the installer's file when None); ``nics`` the nodes' physical NICs.
    Raises what the run raises: StackConfigError or InvalidSpec for bad
    arguments, CheckFailed for what the providers refuse at preview,
    NodeError for what the (simulated) node refuses.
    """
    stack_config = project.stack_config(stack, required=project.directory == PROJECT_ROOT)
    config = {k: v for k, v in stack_config.items() if k not in CONNECTION_KEYS}
    nodes = nodes_of(project, config, stack)
    with running_simulator(nodes=nodes, nics=nics, interfaces=base) as sim:
        engine = LocalEngine(
            {
                **config,
                "pvenet:endpoint": sim.url,
                "pvenet:apiToken": sim.token,
                "pvenet:caCert": str(sim.ca_file),
            },
            project=project.name,
            stack=stack,
            record_only=frozenset({HOST_RULES_TYPE}),
        )
        engine.run(project.program())
        files: NodeFiles = {node: dict(sim.files(node)) for node in nodes}
    for node, host_files in host_rule_files(engine.recorded).items():
        files.setdefault(node, {}).update(host_files)
    return Rendered(files, engine.logs.records)


def host_rule_files(recorded: Mapping[str, Mapping[str, Any]]) -> NodeFiles:
    """Per node, the host rules' files the recorded ``HostRules`` inputs make (pure).

    CheckFailed, as the provider's check would report it, for rules the model refuses.
    """
    files: NodeFiles = {}
    for name, inputs in recorded.items():
        spec, problems = parse_rules(inputs.get("rules") or {})
        if spec is None:
            raise CheckFailed(name, [(f"rules.{p.path}", p.message) for p in problems])
        wanted = rendered(spec)
        files[str(inputs["node"])] = {path: wanted.get(path) for path in RENDERED_FILES}
    return files


def format_files(files: NodeFiles) -> str:
    """Each existing file after a line ``# <node>: <path>``, node by node, a blank line between."""
    parts = []
    for node in sorted(files):
        for path in FILES:
            text = files[node].get(path)
            if text is not None:
                parts.append(f"# {node}: {path}\n{_ended(text)}")
    return "\n".join(parts)


def format_diff(files: NodeFiles, base: str) -> str:
    """Per node and file, a unified diff from ``base`` (no SDN file before) to the result."""
    parts = []
    for node in sorted(files):
        for path in FILES:
            if path not in files[node]:
                continue  # no host rules on this node
            before = base if path == INTERFACES else None
            after = files[node].get(path)
            if before is None and after is None:
                continue
            diff = difflib.unified_diff(
                _ended(before or "").splitlines(keepends=True),
                _ended(after or "").splitlines(keepends=True),
                fromfile=f"a{path}" if before is not None else "/dev/null",
                tofile=f"b{path}" if after is not None else "/dev/null",
            )
            parts.append(f"# {node}: {path}\n" + ("".join(diff) or "(unchanged)\n"))
    return "\n".join(parts)


def _diagram(program: Path, stack: str, out: TextIO, err: TextIO) -> int:
    """``--diagram``: the Mermaid flowchart of the stack's ``pvenet:networks``."""
    try:
        text = stack_diagram(load_project(program).stack_config(stack))
    except PvenetError as error:
        err.write(f"render: {error}\n")
        return 1
    out.write(text)
    return 0


def _ended(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.render",
        description="Print the network files Proxmox would end up with for a stack, and "
        "pvenet's host rules files, from an in-process simulator: no node, no credentials, "
        "no SSH, no Pulumi CLI.",
    )
    parser.add_argument(
        "--stack", default=DEFAULT_STACK, help="the stack whose config to use (default dev)"
    )
    parser.add_argument(
        "--base",
        type=Path,
        metavar="FILE",
        help="each node's /etc/network/interfaces before; print a unified diff against it",
    )
    add_program_argument(parser)
    parser.add_argument(
        "--nics",
        default=",".join(DEFAULT_NICS),
        help="the nodes' physical NICs, comma-separated (default %(default)s)",
    )
    parser.add_argument(
        "--diagram",
        action="store_true",
        help="print the stack's topology as a Mermaid flowchart (from pvenet:networks)",
    )
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """The command line; the exit status (1 when the program or a provider refuses)."""
    args = _parser().parse_args(argv)
    if args.diagram:
        return _diagram(args.program, args.stack, out, err)
    try:
        base = args.base.read_text() if args.base else None
    except OSError as error:
        err.write(f"render: cannot read --base: {error}\n")
        return 2
    nics = [n.strip() for n in args.nics.split(",") if n.strip()]
    try:
        rendered = render(load_project(args.program), args.stack, base=base, nics=nics)
    except (PvenetError, CheckFailed) as error:
        err.write(f"render: {error}\n")
        return 1
    for record in rendered.logs:
        if record.levelno >= logging.INFO:
            err.write(f"{record.levelname.lower()}: {record.getMessage()}\n")
    out.write(
        format_diff(rendered.files, base) if base is not None else format_files(rendered.files)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
