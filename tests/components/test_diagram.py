"""``python -m components.render --diagram``: a stack's topology as a Mermaid flowchart.

The dev and prod stacks' diagrams are pinned (``tests/expected/diagram``): the output is the
same on every run, so a change to a stack shows as a change to its diagram in review. A stack
adopted from a node with hook lines draws its host rules too.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from components.adopt.__main__ import file_nics, from_file
from components.adopt.document import host_rules_config, networks_config
from components.diagram import diagram
from components.render import main
from components.stack_schema import StackConfigError, parse_host_rules, parse_networks

EXPECTED = Path(__file__).resolve().parent.parent / "expected" / "diagram"
CORPUS = Path(__file__).resolve().parent.parent / "data" / "interfaces-corpus"


def render(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--diagram", *argv], out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_diagram_is_pinned(stack: str) -> None:
    status, out, err = render("--stack", stack)
    assert status == 0, err
    assert out == (EXPECTED / f"{stack}.mmd").read_text()
    assert render("--stack", stack)[1] == out, "the same on every run"


def test_the_dev_diagram_draws_every_network_of_the_stack() -> None:
    lines = [line.strip() for line in render()[1].splitlines()]
    for line in (
        'pve1__bond0{{"bond0<br/>active-backup"}}',
        "pve1__eno2 --- pve1__bond0",
        "pve1__bond0 --- pve1__vmbr1",
        'pve1__vmbr1 ---|"tag 20"| pve1__vmbr1_20',
        "pve1__eno4 --- pve1__vmbr2",
        'upstream ==>|"routed to the node: 203.0.113.17/28"| vnet__pubnet',
        'vnet__labnet -.->|"SNAT through the node\'s address"| upstream',
    ):
        assert line in lines, line


def test_an_adopted_node_draws_its_port_forwards_and_masquerade() -> None:
    text = (CORPUS / "08-port-forwards.interfaces").read_text()
    proposal = from_file(text, "pve1", file_nics(text))
    rules = parse_host_rules(host_rules_config([proposal]))
    out = diagram(parse_networks(networks_config([proposal])), rules)
    lines = [line.strip() for line in out.splitlines()]
    assert 'upstream -->|"tcp 2222 on vmbr0 → 22"| pve1__guest__10_10_10_20' in lines
    assert 'pve1__net__10_10_10_0_24 -.->|"masquerade out of vmbr0"| pve1__vmbr0' in lines
    assert 'pve1__vmbr0 ---|"default gw 203.0.113.1"| upstream' in lines


def test_a_stack_without_networks_is_refused_with_its_key() -> None:
    status, out, err = render("--stack", "missing")
    assert status == 1
    assert "there is no stack 'missing'" in err
    assert out == ""


def test_a_bad_value_is_refused_at_its_key_path_as_the_root_program_refuses_it() -> None:
    networks = parse_networks(
        {
            "bridged": [
                {
                    "name": "lan",
                    "node": "pve1",
                    "bridge": "vmbr0",
                    "cidr": "10.0.0.2/24",
                    "gateway": "192.168.0.1",
                }
            ]
        }
    )
    with pytest.raises(StackConfigError) as raised:
        diagram(networks)
    assert str(raised.value) == (
        "pvenet:networks.bridged[0].gateway: gateway '192.168.0.1' is not inside cidr 10.0.0.0/24"
    )


def test_the_readme_shows_the_dev_diagram_as_render_draws_it() -> None:
    """The README's picture of the dev stack is the one `render --diagram` prints today."""
    readme = (EXPECTED.parent.parent.parent / "README.md").read_text()
    after = readme.index("render --diagram [--stack NAME]` draws a stack")
    start = readme.index("```mermaid\n", after) + len("```mermaid\n")
    shown = readme[start : readme.index("```", start)]
    assert shown == render("--diagram")[1]
