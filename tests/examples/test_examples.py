"""Every example program end to end: the local engine drives the real providers over HTTPS.

For each example in ``examples/``: a preview writes nothing; an up leaves
pve1 with exactly the files Proxmox writes (``tests/expected/example-*``) and
exports ``attach``, ``gateway`` and ``cidr``; a second up writes nothing; an
edit of the program (as a person would make it) is one update and one
apply; destroy leaves the node's interfaces and running SDN config as they
started. Host rules (port forwards, classic routing) go over the
simulator's SSH face: the node holds exactly the expected rules files where
the case has them, none elsewhere, and none after destroy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from components.project import PROGRAM_FILE, PROJECT_ROOT, Project, load_project
from provider.errors import InvalidSpec
from simulator.node import INTERFACES, INTERFACES_NEW, SDN_INTERFACES
from simulator.testing import SimulatorHandle
from tests.programs import (
    applies,
    engine_for,
    expected,
    expected_host_files,
    host_files,
    node_state,
    ssh_to,
    writes,
)

EXAMPLES = PROJECT_ROOT / "examples"


@dataclass(frozen=True)
class Example:
    """An example, the edit a test makes to its program, and what the edit must change."""

    name: str
    creates: tuple[str, ...]
    exports: dict[str, Any]
    edit: tuple[str, str]  # replace this text of __main__.py with that
    updated: tuple[str, ...]  # the resources the edit updates
    file: str  # the node file that shows the edit
    shows: str  # text that file has after the edit


CASES = [
    Example(
        "bridged",
        ("lan-interfaces",),
        {"attach": "vmbr1", "gateway": None, "cidr": "192.168.20.2/24"},
        ('"192.168.20.2/24"', '"192.168.20.3/24"'),
        ("lan-interfaces",),
        INTERFACES,
        "iface vmbr1 inet static\n\taddress 192.168.20.3/24\n",
    ),
    Example(
        "routed",
        ("public-sdn", "extra-interfaces", "extra-pve1-host"),
        {
            "public": {"attach": "pubnet", "gateway": "203.0.113.17", "cidr": "203.0.113.16/28"},
            "extra": {"attach": "vmbr6", "gateway": "192.168.10.2", "cidr": "192.168.10.2/32"},
        },
        ('"203.0.113.17/28"', '"203.0.113.33/28"'),
        ("public-sdn",),
        SDN_INTERFACES,
        "iface pubnet\n\taddress 203.0.113.33/28\n",
    ),
    Example(
        "nat",
        ("lab-sdn", "lab-pve1-host"),
        {"attach": "labnet", "gateway": "10.10.10.1", "cidr": "10.10.10.0/24"},
        ("10.10.10.", "10.10.20."),
        ("lab-sdn", "lab-pve1-host"),
        SDN_INTERFACES,
        "\tpost-up iptables -t nat -A POSTROUTING -s '10.10.20.0/24' -o vmbr0 -j SNAT",
    ),
    Example(
        "bond",
        ("uplink-interfaces",),
        {"attach": "vmbr1", "gateway": None, "cidr": "10.1.0.2/24"},
        ('"layer3+4"', '"layer2+3"'),
        ("uplink-interfaces",),
        INTERFACES,
        "\tbond-mode 802.3ad\n\tbond-xmit-hash-policy layer2+3\n",
    ),
    Example(
        "homelab",
        ("uplink-interfaces", "storage-interfaces", "dmz-interfaces", "public-sdn", "lab-sdn"),
        {
            "uplink": {"attach": "vmbr1", "gateway": None, "cidr": None},
            "storage": {"attach": "vmbr1.20", "gateway": None, "cidr": "10.20.0.2/24"},
            "dmz": {"attach": "vmbr2", "gateway": None, "cidr": None},
            "public": {"attach": "pubnet", "gateway": "203.0.113.17", "cidr": "203.0.113.16/28"},
            "lab": {"attach": "labnet", "gateway": "10.10.10.1", "cidr": "10.10.10.0/24"},
        },
        ('"10.20.0.2/24"', '"10.20.0.9/24"'),
        ("storage-interfaces",),
        INTERFACES,
        "iface vmbr1.20 inet static\n\taddress 10.20.0.9/24\n",
    ),
]


def edited(project: Project, edit: tuple[str, str], where: Path) -> Project:
    """A copy of the project whose program has ``edit`` applied (as a person would edit it)."""
    source = (project.directory / PROGRAM_FILE).read_text()
    assert edit[0] in source, f"{project.name}: the test's edit no longer applies"
    where.mkdir()
    (where / PROGRAM_FILE).write_text(source.replace(*edit))
    return Project(where, project.name)


def test_every_example_has_a_case() -> None:
    """A new example needs its end-to-end case here."""
    assert sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()) == sorted(c.name for c in CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_example_previews_deploys_stays_changes_and_destroys(
    simulator: SimulatorHandle, tmp_path: Path, case: Example, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The whole life of the example's dev stack on the simulator."""
    ssh_to(simulator, monkeypatch)
    project = load_project(EXAMPLES / case.name)
    before = node_state(simulator)
    engine = engine_for(project, simulator)

    engine.run(project.program(), preview=True)
    assert writes(simulator) == [], "a preview must not write"

    engine.run(project.program())
    assert sorted(engine.steps("create")) == sorted(case.creates)
    files = simulator.files()
    assert files[INTERFACES] == expected(f"example-{case.name}/pve1", "interfaces")
    assert files[SDN_INTERFACES] == expected(f"example-{case.name}/pve1", "sdn")
    assert files[INTERFACES_NEW] is None
    assert engine.outputs == case.exports
    assert host_files(simulator) == expected_host_files(f"example-{case.name}/pve1")

    simulator.requests.clear()
    engine.run(project.program())
    assert writes(simulator) == [], "a second run with nothing changed writes nothing"

    engine.run(edited(project, case.edit, tmp_path / "edited").program())
    assert engine.steps("update") == list(case.updated)
    assert len(applies(simulator)) == 1, "one apply for the one changed network"
    assert case.shows in (simulator.files()[case.file] or "")

    engine.destroy()
    assert engine.state == {}
    assert node_state(simulator) == before, "destroy leaves the node as it started"
    assert set(host_files(simulator).values()) == {None}, "and nothing of pvenet's"


def test_a_bad_argument_in_an_example_fails_the_preview_with_no_write(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    """A VLAN id out of range in homelab: the component and argument are named; nothing written."""
    project = load_project(EXAMPLES / "homelab")
    bad = edited(project, ("vlan_id=20", "vlan_id=5000"), tmp_path / "bad")
    engine = engine_for(project, simulator)
    with pytest.raises(InvalidSpec, match=r"^VlanNetwork 'storage': vlan_id: .*4094"):
        engine.run(bad.program(), preview=True)
    assert writes(simulator) == []
    assert engine.state == {}
