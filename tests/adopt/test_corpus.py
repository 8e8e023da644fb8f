"""The round trip on a corpus of real-world ``/etc/network/interfaces`` shapes (issue 12).

For every file in ``tests/data/interfaces-corpus`` (see its README for what each is
modelled on), adopting it offline gives a stack that

- changes nothing on a simulator node holding that file: the first ``up`` of the root
  program with the real providers sends no request but reads, and the file is as it was;
- makes the same file from scratch: ``up`` on a node that holds everything but the adopted
  interfaces' stanzas ends with the file Proxmox itself prints for the original, less the
  reported lines of those stanzas (compared stanza by stanza: the stanzas a stack creates
  go where Proxmox's writer puts new ones, not where the file had them);
- leaves no line unaccounted for: each line is carried by the stack (a modelled setting of
  an adopted interface, an ``auto`` line, a NIC's plain stanza) or reported with its number.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from components.adopt.__main__ import file_nics, from_file
from components.adopt.lines import SourceLine, scan
from components.adopt.networks import MODELLED_OPTIONS, Proposal
from provider.node import dialect
from tests.adopt.roundtrip import blocks, expected_file, first_up, rendered_from_scratch

CORPUS = Path(__file__).resolve().parent.parent / "data" / "interfaces-corpus"
FILES = sorted(CORPUS.glob("*.interfaces"))


# What each file's stack adopts: "<mode> <interfaces the network manages>". Everything else is
# left on the node and reported; a mapping that grew worse would leave more here.
ADOPTED = {
    "01-installer-bridge": ["bridged vmbr0"],
    "02-four-vlan-aware-bridges": [
        "bridged vmbr0",
        "bridged vmbr1",
        "bridged vmbr2",
        "bridged vmbr3",
    ],
    "03-lacp-bond-vlan-bridges": [
        "bonded bond0",
        "bridged vmbr15",
        "bridged vmbr20",
        "vlans bond0.15",
        "vlans bond0.20",
    ],
    "04-alb-bond-ipv6-vxlan": ["bonded bond0", "bridged vmbr0", "bridged vmbr1"],
    "05-routed-pointopoint": ["bridged vmbr0", "bridged vmbr1"],
    "06-nat-bridge-stray-hooks": ["bridged vmbr99"],
    "07-admin-guide-masquerade": ["bridged vmbr0"],
    "08-port-forwards": ["bridged vmbr0", "bridged vmbr1"],
    "09-dhcp-bridge": ["bridged vmbr1"],
    "10-openvswitch": ["bridged vmbr0"],
    "11-active-backup-jumbo": ["bonded bond0 vmbr0", "vlans vmbr0.50"],
    "12-vlan-aware-usb-nic": ["bridged vmbr0", "bridged vmbr10"],
    "13-storage-bridges-ipv6": ["bridged brvlan666", "bridged brvlan888", "bridged vmbr0"],
    "14-named-vlans-on-bond": ["bonded bond0 vmbr0", "vlans mgmt", "vlans vlan50"],
    "15-stp-bridge": ["bridged vmbr0"],
    "16-hotplug-and-manual-start": ["bridged vmbr0"],
    "17-alias-and-dummy": ["bridged vmbr0"],
    "18-routed-subnet-sysctl": ["bridged vmbr1"],
    "19-old-underscore-spelling": ["bonded bond0 vmbr0"],
    "20-snat-dnat-address": ["bridged vmbr0", "bridged vmbr1"],
    "21-bond-with-address": ["bonded bond0", "bridged vmbr100", "vlans bond0.100"],
    "22-ipv6-routed-guests": ["bridged vmbr1"],
}


def adopted(path: Path) -> tuple[str, list[str], Proposal]:
    text = path.read_text()
    nics = file_nics(text)
    return text, nics, from_file(text, "pve1", nics, path.name)


def test_the_corpus_has_the_shapes_the_issue_names() -> None:
    """At least 20 files, with bonds, VLAN-aware bridges, NAT and routed hooks, IPv6."""
    texts = [path.read_text() for path in FILES]
    assert len(FILES) >= 20
    for needle in ("bond-mode", "bridge-vlan-aware", "MASQUERADE", "DNAT", "proxy_arp", "inet6"):
        assert any(needle in text for text in texts), needle


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_each_file_adopts_the_networks_it_has(path: Path) -> None:
    _text, _nics, proposal = adopted(path)
    got = sorted(" ".join((n.mode, *n.interfaces)) for n in proposal.networks)
    assert got == ADOPTED[path.stem]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_first_up_of_the_adopted_stack_writes_nothing(path: Path) -> None:
    text, nics, proposal = adopted(path)
    up = first_up(proposal, nics, text)
    assert up.writes == [], f"{path.name}: the first up wrote {up.writes}"
    assert up.file == text


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_the_adopted_stack_renders_the_same_file(path: Path) -> None:
    text, nics, proposal = adopted(path)
    got = blocks(rendered_from_scratch(proposal, nics, text))
    want = blocks(expected_file(proposal, nics, text))
    assert got == want, f"{path.name}: the stack renders another file"


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_line_is_carried_or_reported(path: Path) -> None:
    text, _nics, proposal = adopted(path)
    reported = {
        number
        for finding in proposal.findings
        if finding.line is not None
        for number in range(finding.line, (finding.last or finding.line) + 1)
    }
    items = dialect.parse(text, file_nics(text)).ifaces
    dropped = [
        f"line {line.number}: {line.text.strip()}"
        for line in scan(text)
        if line.number not in reported and not _carried(line, proposal, items)
    ]
    assert dropped == [], f"{path.name}: lines neither carried by the stack nor reported"


def _carried(line: SourceLine, proposal: Proposal, items: dict[str, dict[str, object]]) -> bool:
    """Whether the stack says what ``line`` says (or the line says nothing to keep)."""
    if line.kind in ("blank", "auto"):
        return True
    kind = items.get(line.iface or "", {}).get("type")
    if line.kind == "iface" and kind in ("loopback", "eth"):
        return True
    if line.iface not in proposal.managed:
        return False
    return line.kind in ("iface", "comment") or line.key in MODELLED_OPTIONS


def test_hook_lines_become_host_rules() -> None:
    """The NAT, port-forward and routed files' hook lines, as the host rules they express."""
    _text, _nics, nat = adopted(CORPUS / "08-port-forwards.interfaces")
    assert [(r.part, r.value) for r in nat.rules] == [
        ("ip_forward", "ipv4"),
        ("masquerade", {"source": "10.10.10.0/24", "interface": "vmbr0"}),
        (
            "forwards",
            {
                "protocol": "tcp",
                "port": 2222,
                "to": "10.10.10.20",
                "to_port": 22,
                "interface": "vmbr0",
            },
        ),
        (
            "forwards",
            {"protocol": "tcp", "port": "8080-8084", "to": "10.10.10.21", "interface": "vmbr0"},
        ),
    ]
    _text, _nics, routed = adopted(CORPUS / "05-routed-pointopoint.interfaces")
    assert {(r.part, str(r.value)) for r in routed.rules} >= {
        ("routes", str({"address": "65.21.20.139/32", "interface": "vmbr0"})),
        ("proxy_arp", "enp7s0"),
        ("ip_forward", "ipv4"),
    }


LEFT = [
    ("09-dhcp-bridge", 9, "vmbr0 gets its address by inet dhcp"),
    ("10-openvswitch", 8, "ovsbr0 is Open vSwitch (OVSBridge)"),
    ("15-stp-bridge", 20, "vmbr1 runs STP (bridge-stp on)"),
    ("16-hotplug-and-manual-start", 18, "vmbr9 is not started at boot (no 'auto vmbr9')"),
    ("17-alias-and-dummy", 15, "vmbr0:1 is of a type pvenet does not model (alias)"),
    ("05-routed-pointopoint", 8, "enp7s0 is a NIC with an address of its own"),
    ("12-vlan-aware-usb-nic", None, None),
]


@pytest.mark.parametrize(("stem", "line", "reason"), LEFT, ids=[case[0] for case in LEFT])
def test_what_is_left_on_the_node_is_reported_at_its_line(
    stem: str, line: int | None, reason: str | None
) -> None:
    """An interface the stack cannot write as the node has it: named at its ``iface`` line."""
    _text, _nics, proposal = adopted(CORPUS / f"{stem}.interfaces")
    left = [(f.line, f.reason) for f in proposal.findings if f.text.startswith("iface ")]
    if reason is None:
        assert left == [], "every interface of this file is adopted"
        return
    assert any(at == line and why.startswith(reason) for at, why in left), left
