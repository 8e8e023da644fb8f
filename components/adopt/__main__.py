"""``python -m components.adopt``: a stack that describes running nodes, and what it cannot say.

::

    python -m components.adopt [--stack NAME] [--node NODE ...]        # through the API
    python -m components.adopt --file FILE [--nics LIST] [--node NODE] [--stack NAME]

Through the API it reads each node's interfaces (``GET /nodes/{node}/network``,
every node of the cluster unless ``--node`` names some) and the cluster's SDN
zones, vnets and subnets (``/cluster/sdn``), with the connection
settings of the stack file ``Pulumi.<stack>.yaml`` (``pvenet:endpoint``,
``pvenet:caCert``, ``pvenet:insecure``) and the token from
``PROXMOX_VE_API_TOKEN`` (a stack file holds it only encrypted). ``--file``
works offline on a copy of a node's ``/etc/network/interfaces``: its NICs are
the names that look like NICs, or ``--nics``. It only reads: nothing is sent
that changes a node.

It prints the stack config (``pvenet:networks``, and ``pvenet:hostRules`` for
hook lines that host rules express) on stdout, or with ``--stack`` writes it
into ``Pulumi.<stack>.yaml`` (the file's other keys are kept; its comments are
not). The report (stderr) has one line per thing the stack does not carry,
with the file's line number. Bad input (a file that is not an interfaces file,
a node that does not answer) is an error that names it, and nothing is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

import yaml

from components.adopt.document import report_lines, stack_config, stack_text, yaml_text
from components.adopt.lines import NotAnInterfacesFile, require_interfaces_file, scan
from components.adopt.networks import Proposal, propose
from components.adopt.proof import confirm, confirm_sdn
from components.adopt.sdn import observed, propose_sdn
from components.project import ProjectError, add_program_argument, load_project
from provider.api.session import ApiSession, Call
from provider.api.settings import Settings, settings_from
from provider.errors import ApiCallFailed, PvenetError
from provider.names import NODE_RE
from provider.node import dialect
from provider.node.client import Client

SDN = "/cluster/sdn"
DEFAULT_NODE = "pve1"
"""The node a ``--file`` describes when ``--node`` does not say."""


class AdoptError(PvenetError, ValueError):
    """Nothing can be adopted from this input; the message says what to give instead."""


def from_file(
    text: str, node: str, nics: Sequence[str] | None = None, name: str = "the file"
) -> Proposal:
    """The proposal for a node whose ``/etc/network/interfaces`` is ``text`` (offline, pure).

    ``nics``: the node's NICs; None takes the names the file uses that look like NICs.
    AdoptError when the text is not an interfaces file.
    """
    if "\x00" in text:
        raise AdoptError(f"{name} is binary, not an /etc/network/interfaces file")
    lines = scan(text)
    try:
        require_interfaces_file(lines, name)
    except NotAnInterfacesFile as error:
        raise AdoptError(str(error)) from None
    physical = list(nics) if nics is not None else file_nics(text)
    items = dialect.parse(text, physical).ifaces
    return confirm(propose(node, items, lines), items, lines)


def file_nics(text: str) -> list[str]:
    """The names a file uses (stanzas, ports, slaves) that look like NICs (``eno1``, ``enp3s0``)."""
    config = dialect.parse(text)
    names = set(config.ifaces)
    for stanza in config.ifaces.values():
        for key in ("bridge_ports", "slaves"):
            names.update(dialect.split_ports(stanza.get(key)))
    return sorted(n for n in names if dialect.PHYSICAL_NIC_RE.fullmatch(n))


def from_api(settings: Settings, nodes: Sequence[str]) -> list[Proposal]:
    """The proposals for these nodes (every node of the cluster when none), read through the API.

    AdoptError naming the node when one does not answer or has staged changes.
    """
    session = ApiSession(settings)
    try:
        if not nodes:
            try:
                listed = session.call("GET", "/nodes", kind=Call.READ) or []
            except ApiCallFailed as error:
                raise AdoptError(
                    f"{settings.endpoint} did not list its nodes ({error.describe()}); check "
                    "pvenet:endpoint and the token, or name the nodes with --node"
                ) from None
            nodes = sorted(str(entry["node"]) for entry in listed if entry.get("node"))
        proposals = []
        for node in nodes:
            try:
                view = Client(settings, node, session).view()
            except ApiCallFailed as error:
                raise AdoptError(f"{node}: the node did not answer ({error.describe()})") from None
            if view.changes:
                raise AdoptError(
                    f"{node} has staged network changes (interfaces.new): apply or revert them "
                    "first (GUI: System > Network), then adopt what the node runs"
                )
            proposals.append(confirm(propose(node, view.items), view.items))
        return [*proposals, _sdn_proposal(session)]
    finally:
        session.close()


def _sdn_proposal(session: ApiSession) -> Proposal:
    """The cluster's Simple zones as routed and NAT networks (the SDN config as listed)."""
    try:
        zones = session.call("GET", f"{SDN}/zones", kind=Call.READ) or []
        vnets = session.call("GET", f"{SDN}/vnets", kind=Call.READ) or []
        subnets = {
            str(vnet["vnet"]): session.call(
                "GET", f"{SDN}/vnets/{vnet['vnet']}/subnets", kind=Call.READ
            )
            or []
            for vnet in vnets
        }
    except ApiCallFailed as error:
        raise AdoptError(f"the cluster's SDN config did not answer ({error.describe()})") from None
    proposal = propose_sdn(zones, vnets, subnets)
    zone_items = {str(item["zone"]): item for item in zones}
    vnet_items = {str(item["vnet"]): item for item in vnets}
    states = {
        n.entry["zone"]: observed(
            zone_items[n.entry["zone"]], vnet_items[n.entry["vnet"]], subnets[n.entry["vnet"]]
        )
        for n in proposal.networks
    }
    return confirm_sdn(proposal, states)


def write_stack(path: Path, proposals: Sequence[Proposal], source: str) -> bool:
    """Write the config into the stack file ``path`` (other keys kept); True if it existed."""
    if not path.exists():
        text = stack_text(proposals, source)
        existed = False
    else:
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise AdoptError(f"{path}: cannot read it as a stack file: {error}") from None
        if not isinstance(data, dict) or not isinstance(data.get("config") or {}, dict):
            raise AdoptError(f"{path} is not a stack file (no 'config' map)")
        data["config"] = {**(data.get("config") or {}), **stack_config(proposals)}
        text = yaml_text(data)
        existed = True
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)
    return existed


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.adopt",
        description="Write the stack config (pvenet:networks) that describes running nodes, "
        "read through the API or from a copy of /etc/network/interfaces, and report what it "
        "cannot express.",
    )
    parser.add_argument(
        "--file", type=Path, metavar="FILE", help="a node's /etc/network/interfaces (offline)"
    )
    parser.add_argument(
        "--nics",
        help="with --file: the node's NICs, comma-separated (default: the names that look "
        "like NICs)",
    )
    parser.add_argument(
        "--node",
        action="append",
        default=[],
        help=f"a node to adopt (repeatable; default: every node, or {DEFAULT_NODE} with --file)",
    )
    parser.add_argument(
        "--stack", help="write into Pulumi.STACK.yaml (and, through the API, connect as it says)"
    )
    add_program_argument(parser)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    """The command line; 0 when the stack was written, 1 for bad input or a silent node."""
    args = _parser().parse_args(argv)
    try:
        proposals, source = _proposals(args)
        target = load_project(args.program).stack_file(args.stack) if args.stack else None
        if target is not None:
            existed = write_stack(target, proposals, source)
            if existed:
                err.write(f"adopt: updated {target} (its comments are not kept)\n")
        else:
            out.write(stack_text(proposals, source))
    except (PvenetError, ProjectError) as error:
        err.write(f"adopt: {error}; nothing written\n")
        return 1
    for line in report_lines(proposals, source):
        err.write(line + "\n")
    return 0


def _proposals(args: argparse.Namespace) -> tuple[list[Proposal], str]:
    for node in args.node:
        if not NODE_RE.fullmatch(node):
            raise AdoptError(f"--node {node!r} is not a Proxmox node name (letters, digits, '-')")
    if args.file is not None:
        if len(args.node) > 1:
            raise AdoptError("--file describes one node: give at most one --node")
        try:
            text = args.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise AdoptError(f"cannot read --file {args.file}: {error}") from None
        nics = [n.strip() for n in args.nics.split(",") if n.strip()] if args.nics else None
        node = args.node[0] if args.node else DEFAULT_NODE
        return [from_file(text, node, nics, str(args.file))], str(args.file)
    if args.nics:
        raise AdoptError("--nics goes with --file; through the API the node lists its NICs")
    config = (
        load_project(args.program).stack_config(args.stack, required=False) if args.stack else {}
    )
    settings = settings_from({k.removeprefix("pvenet:"): v for k, v in config.items()})
    return from_api(settings, args.node), settings.endpoint


if __name__ == "__main__":
    sys.exit(main())
