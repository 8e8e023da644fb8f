"""``python -m components.adopt`` as a person runs it: through the API, or on a file.

Through the API it reads the simulator's node (the installer's file) and prints a stack
whose first ``up`` writes nothing; bad input (text that is not an interfaces file, a node
that does not answer) is an error that names it, and nothing is written.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import yaml

from components.adopt.__main__ import from_api, main
from components.stack_schema import parse_networks
from provider.api.settings import settings_from
from simulator.testing import SimulatorHandle, running_simulator
from tests.adopt.roundtrip import up_on, up_with

CORPUS = Path(__file__).resolve().parent.parent / "data" / "interfaces-corpus"
PROJECT = Path(__file__).resolve().parent.parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), out, err)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture
def through(simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch) -> SimulatorHandle:
    """The simulator as the API the command reads (the environment's connection settings)."""
    monkeypatch.setenv("PROXMOX_VE_ENDPOINT", simulator.url)
    monkeypatch.setenv("PROXMOX_VE_API_TOKEN", simulator.token)
    monkeypatch.setenv("PROXMOX_VE_CA_CERT", str(simulator.ca_file))
    return simulator


def test_through_the_api_the_installer_bridge_is_adopted_and_up_writes_nothing(
    through: SimulatorHandle,
) -> None:
    status, out, err = run()
    assert status == 0, err
    networks = yaml.safe_load(out)["config"]["pvenet:networks"]
    assert networks == {
        "bridged": [
            {
                "name": "pve1-vmbr0",
                "node": "pve1",
                "bridge": "vmbr0",
                "ports": ["eno1"],
                "cidr": networks["bridged"][0]["cidr"],
                "gateway": networks["bridged"][0]["gateway"],
                "adopt": True,
            }
        ]
    }
    parse_networks(networks)
    assert [(e.method, e.path) for e in through.requests.entries() if e.method != "GET"] == []
    proposals = from_api(settings_from({}), ["pve1"])
    before = through.files("pve1")
    assert up_on(through, proposals).writes == []
    assert through.files("pve1") == before


def test_the_stack_file_is_written_with_its_other_keys_kept(
    through: SimulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: adopted\nruntime: python\n")
    (tmp_path / "Pulumi.lab.yaml").write_text(
        f"config:\n  pvenet:endpoint: {through.url}\n  pvenet:caCert: {through.ca_file}\n"
    )
    status, out, err = run("--stack", "lab", "--program", str(tmp_path))
    assert status == 0, err
    assert out == ""
    config = yaml.safe_load((tmp_path / "Pulumi.lab.yaml").read_text())["config"]
    assert config["pvenet:endpoint"] == through.url
    assert config["pvenet:networks"]["bridged"][0]["bridge"] == "vmbr0"


def test_a_file_gives_the_same_stack_on_stdout_and_in_a_new_stack_file(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: adopted\nruntime: python\n")
    path = CORPUS / "08-port-forwards.interfaces"
    status, out, err = run("--file", str(path), "--node", "pve7")
    assert status == 0, err
    assert (
        run("--file", str(path), "--node", "pve7", "--stack", "x", "--program", str(tmp_path))[0]
        == 0
    )
    assert (tmp_path / "Pulumi.x.yaml").read_text() == out
    config = yaml.safe_load(out)["config"]
    assert [e.node for e in parse_networks(config["pvenet:networks"]).bridged] == ["pve7", "pve7"]
    assert config["pvenet:hostRules"]["pve7"]["masquerade"] == [
        {"source": "10.10.10.0/24", "interface": "vmbr0"}
    ]
    assert f"{path}:24: post-up iptables -A FORWARD" in err
    assert "delete lines 20, 21, 22, 23, 25, 26, 27 of /etc/network/interfaces" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("config:\n  pvenet:networks: {}\n", "line 1: 'config:' is not a line of an"),
        ("# just a comment\n\n", "has no 'iface' stanza"),
        ("", "has no 'iface' stanza"),
        ("auto lo\niface lo inet loopback\n\x00\x01", "is binary"),
    ],
    ids=["yaml", "comments-only", "empty", "binary"],
)
def test_a_file_that_is_not_an_interfaces_file_is_refused_and_nothing_is_written(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: adopted\nruntime: python\n")
    path = tmp_path / "interfaces"
    path.write_text(content)
    status, out, err = run("--file", str(path), "--stack", "x", "--program", str(tmp_path))
    assert status == 1
    assert message in err
    assert err.endswith("nothing written\n")
    assert out == ""
    assert not (tmp_path / "Pulumi.x.yaml").exists()


def test_a_missing_file_is_named() -> None:
    status, _out, err = run("--file", "/nonexistent/interfaces")
    assert status == 1
    assert "cannot read --file /nonexistent/interfaces" in err


def test_a_node_that_does_not_answer_is_named_and_nothing_is_written(
    through: SimulatorHandle, tmp_path: Path
) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: adopted\nruntime: python\n")
    status, out, err = run("--node", "pve9", "--stack", "x", "--program", str(tmp_path))
    assert status == 1
    assert err.startswith("adopt: pve9: the node did not answer (")
    assert out == ""
    assert not (tmp_path / "Pulumi.x.yaml").exists()


def test_an_endpoint_that_does_not_answer_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROXMOX_VE_ENDPOINT", "https://127.0.0.1:9")
    monkeypatch.setenv("PROXMOX_VE_API_TOKEN", "root@pam!adopt=00000000-0000")
    monkeypatch.setenv("PROXMOX_VE_INSECURE", "1")
    monkeypatch.setenv("PROXMOX_VE_TIMEOUT", "1")
    status, out, err = run()
    assert status == 1
    assert "https://127.0.0.1:9 did not list its nodes" in err
    assert "00000000-0000" not in err
    assert out == ""


def test_sdn_zones_are_adopted_as_routed_and_nat_networks_and_up_writes_nothing(
    through: SimulatorHandle,
) -> None:
    """The dev stack's routed and NAT networks, made on the cluster, come back as they were
    (less their port forwards: host rules, kept over SSH, which adopt does not read)."""
    dev = yaml.safe_load((PROJECT / "Pulumi.dev.yaml").read_text())["config"]["pvenet:networks"]
    host_rule_arguments = ("forwards", "hairpin", "uplink")
    sdn = {
        mode: [{k: v for k, v in e.items() if k not in host_rule_arguments} for e in dev[mode]]
        for mode in ("routed", "nat")
    }
    assert up_with(through, sdn).writes != []
    status, out, err = run("--node", "pve1")
    assert status == 0, err
    networks = yaml.safe_load(out)["config"]["pvenet:networks"]
    for mode in ("routed", "nat"):
        adopted = [{k: v for k, v in e.items() if k != "name"} for e in networks[mode]]
        given = [{k: v for k, v in e.items() if k != "name"} for e in sdn[mode]]
        assert adopted == given
    assert up_with(through, networks).writes == [], "the first up of the adopted stack"


def test_through_the_api_hook_lines_become_host_rules_as_from_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The API lists a stanza's hook lines (``options``): the same host rules as offline."""
    path = CORPUS / "08-port-forwards.interfaces"
    offline = yaml.safe_load(run("--file", str(path))[1])["config"]
    with running_simulator(tmp_path / "sim", nics=["eno1"], interfaces=path.read_text()) as sim:
        monkeypatch.setenv("PROXMOX_VE_ENDPOINT", sim.url)
        monkeypatch.setenv("PROXMOX_VE_API_TOKEN", sim.token)
        monkeypatch.setenv("PROXMOX_VE_CA_CERT", str(sim.ca_file))
        status, out, err = run("--node", "pve1")
        assert status == 0, err
        config = yaml.safe_load(out)["config"]
        assert config == offline
        assert "pve1 https://127.0.0.1:" in err
        assert up_with(sim, config["pvenet:networks"]).writes == []


def test_a_node_with_staged_changes_is_refused(through: SimulatorHandle) -> None:
    """What is staged is not what the node runs: adopt neither, and say what to do."""
    through.proxmox().nodes("pve1").network.post(iface="vmbr5", type="bridge")
    status, out, err = run("--node", "pve1")
    assert status == 1
    assert "pve1 has staged network changes (interfaces.new): apply or revert them" in err
    assert out == ""
