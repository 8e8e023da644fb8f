"""The round trip of adopting a node, run against the simulator with the real providers.

- :func:`first_up`: a simulator node holds the file; the generated stack's first ``up``
  (the root program, the real providers, ``components.local_engine``) and the requests it
  made;
- :func:`rendered_from_scratch`: the generated stack ``up`` on a node that holds only what
  the stack does not manage (the file less the stanzas of the adopted interfaces): the file
  Proxmox ends up with;
- :func:`expected_file`: the file as Proxmox itself prints it (the simulator's own reader and
  writer, which share no code with the provider), less the reported lines of the adopted
  stanzas: what the stack must make of the node.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from components.adopt.document import networks_config
from components.adopt.lines import SourceLine, scan
from components.adopt.networks import Proposal
from components.local_engine import LocalEngine
from components.stack import main as root_program
from simulator.http.requestlog import RequestLog
from simulator.node import INTERFACES
from simulator.node.read import read_interfaces
from simulator.node.write import render_interfaces
from simulator.testing import SimulatorHandle, running_simulator


@dataclass(frozen=True)
class Up:
    """What one ``up`` did: the requests that were not reads, and the node's file after it."""

    writes: list[tuple[str, str]]
    file: str


def _up(proposal: Proposal, nics: Sequence[str], interfaces: str) -> Up:
    with running_simulator(nodes=[proposal.node], nics=nics, interfaces=interfaces) as sim:
        return up_on(sim, [proposal])


def up_on(sim: SimulatorHandle, proposals: Sequence[Proposal]) -> Up:
    """``up`` of the root program with the proposals' networks on a running simulator."""
    return up_with(sim, networks_config(proposals), proposals[0].node)


def up_with(sim: SimulatorHandle, networks: Mapping[str, Any], node: str = "pve1") -> Up:
    """``up`` of the root program with ``pvenet:networks`` on a running simulator (new state)."""
    sim.requests.clear()
    engine = LocalEngine(
        {
            "pvenet:endpoint": sim.url,
            "pvenet:apiToken": sim.token,
            "pvenet:caCert": str(sim.ca_file),
            "pvenet:networks": networks,
        },
    )
    engine.run(root_program)
    log: RequestLog = sim.requests
    writes = [(e.method, e.path) for e in log.entries() if e.method != "GET"]
    text = sim.files(node)[INTERFACES]
    assert text is not None
    return Up(writes, text)


def first_up(proposal: Proposal, nics: Sequence[str], text: str) -> Up:
    """The generated stack's first ``up`` on a node that holds ``text``."""
    return _up(proposal, nics, text)


def rendered_from_scratch(proposal: Proposal, nics: Sequence[str], text: str) -> str:
    """The node's file after the stack's ``up`` on a node without the adopted interfaces.

    As Proxmox prints it: with nothing to create, no write rewrote the file, and
    Proxmox's writer prints its own output again unchanged.
    """
    return canonical(_up(proposal, nics, without_managed(text, proposal.managed)).file, nics)


def canonical(text: str, nics: Sequence[str]) -> str:
    """``text`` as Proxmox's writer prints it (the simulator's own reader and writer)."""
    return render_interfaces(read_interfaces(text, nics))


def without_managed(text: str, managed: Collection[str]) -> str:
    """``text`` less every line of the managed interfaces' stanzas, and their names on ``auto``."""
    kept: list[str] = []
    for line in scan(text):
        if line.iface in managed:
            continue
        if line.kind == "auto":
            names = [n for n in line.names if n not in managed]
            if names:
                kept.append(line.text.split()[0] + " " + " ".join(names))
            continue
        kept.append(line.text)
    return "\n".join(kept) + "\n"


def expected_file(proposal: Proposal, nics: Sequence[str], text: str) -> str:
    """The file as Proxmox prints it, less the reported lines of the managed stanzas."""
    dropped = reported_in_managed(proposal, scan(text))
    kept = [line.text for line in scan(text) if line.number not in dropped]
    return canonical("\n".join(kept) + "\n", nics)


def reported_in_managed(proposal: Proposal, lines: Sequence[SourceLine]) -> set[int]:
    """Line numbers of findings that are lines of an adopted interface's stanza."""
    managed = set(proposal.managed)
    owner = {line.number: line.iface for line in lines}
    found = set()
    for finding in proposal.findings:
        if finding.line is None:
            continue
        for number in range(finding.line, (finding.last or finding.line) + 1):
            if owner.get(number) in managed:
                found.add(number)
    return found


def blocks(text: str) -> list[str]:
    """The file's blank-line separated blocks (a stanza with its auto line, or kept lines)."""
    return sorted(block.strip("\n") for block in text.split("\n\n") if block.strip())


def dump(value: Any) -> str:
    """A value for an assertion message."""
    return repr(value)
