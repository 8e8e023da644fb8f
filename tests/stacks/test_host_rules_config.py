"""``pvenet:hostRules``: host rules by node that no network brings (what ``components.adopt``
maps hook lines to), merged with the networks' own into each node's one ``HostRules``."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from components.local_engine import LocalEngine
from components.project import PROJECT_ROOT, load_project
from components.stack_schema import StackConfigError
from simulator.testing import SimulatorHandle
from tests.programs import connected, ssh_to

ROOT = load_project(PROJECT_ROOT)
RULES = "/etc/pvenet/rules.nft"


def dev_with(rules: Any) -> dict[str, Any]:
    """Pulumi.dev.yaml's config with ``pvenet:hostRules`` set to ``rules``."""
    config = copy.deepcopy(ROOT.stack_config("dev"))
    config["pvenet:hostRules"] = rules
    return config


@pytest.mark.parametrize(
    ("rules", "lines"),
    [
        (
            ["x"],
            [
                "pvenet:hostRules: must be a map of node names to host rules (masquerade, "
                "forwards, ip_forward, proxy_arp, routes)"
            ],
        ),
        ({"pve 1": {}}, ["pvenet:hostRules: 'pve 1' is not a node name"]),
        (
            {"pve1": {"forwards": [{"protocol": "tcp", "port": 70000, "to": "10.10.10.9"}]}},
            ["pvenet:hostRules.pve1.forwards[0].port: "],
        ),
        (
            {"pve1": {"forwards": [{"protocol": "tcp", "port": 8080, "to": "10.10.10.9"}]}},
            [
                "pvenet:networks.nat[0].forwards[0].port: tcp port 8080 of pve1 is forwarded to "
                "10.10.10.9 by pvenet:hostRules.pve1.forwards[0] already"
            ],
        ),
    ],
    ids=["not a map", "bad node name", "port out of range", "port a network forwards already"],
)
def test_bad_host_rules_fail_at_preview_with_their_key_path_and_no_request(
    simulator: SimulatorHandle, rules: Any, lines: list[str]
) -> None:
    engine = LocalEngine(connected(dev_with(rules), simulator))
    with pytest.raises(StackConfigError) as raised:
        engine.run(ROOT.program(), preview=True)
    said = str(raised.value).splitlines()
    assert len(said) == len(lines), said
    for line, start in zip(said, lines, strict=True):
        assert line.startswith(start), said
    assert simulator.requests.entries() == []


def test_host_rules_join_the_nodes_rules_and_land_on_the_node(
    simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A route and a forward of ``pvenet:hostRules`` are installed with the dev stack's own
    forwards, in the one rules file of the node."""
    ssh_to(simulator, monkeypatch)
    rules = {
        "pve1": {
            "forwards": [
                {"protocol": "udp", "port": 5353, "to": "10.10.10.7", "comment": "from hooks"}
            ]
        }
    }
    engine = LocalEngine(connected(dev_with(rules), simulator))
    engine.run(ROOT.program())
    installed = simulator.host_file(RULES) or ""
    assert 'udp dport 5353 dnat ip to 10.10.10.7 comment "from hooks"' in installed
    assert "tcp dport 8080 dnat ip to 10.10.10.5:80" in installed
