"""``HostRules`` through the engine-facing path: ``python -m pulumi.dynamic`` over gRPC,
configured with ``pvenet:ssh`` as ``pulumi config set --secret --path`` leaves it (an object
sent as JSON text, secret). The rules reach the node, and the private key appears nowhere:
not in state, outputs, errors, the plugin's output or the node's request log."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from provider.host.render import RULES
from provider.host.resource import HostRulesProvider
from simulator.testing import SimulatorHandle
from tests.provider.conftest import stack_config
from tests.provider.grpc_harness import (
    PROVIDER_KEY,
    ProviderProcess,
    provider_process,
    serialized_provider,
)

RULES_INPUT = {
    "masquerade": [{"source": "10.10.10.0/24", "interface": "vmbr0"}],
    "forwards": [{"protocol": "tcp", "port": 8080.0, "to": "10.10.10.5", "to_port": 80.0}],
    "ip_forward": {"ipv4": True},
}


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[ProviderProcess]:
    with provider_process(tmp_path / "provider") as process:
        yield process


def ssh_config(sim: SimulatorHandle) -> dict[str, Any]:
    """``pvenet:ssh`` as the stack holds it: the key's text, known_hosts, pve1's port."""
    env = sim.ssh_environment()
    return {
        "user": env["PVENET_SSH_USER"],
        "privateKey": Path(env["PVENET_SSH_KEY"]).read_text(),
        "knownHosts": env["PVENET_SSH_KNOWN_HOSTS"],
        "addresses": dict(pair.split("=", 1) for pair in env["PVENET_SSH_ADDRESSES"].split(",")),
        "confirmTimeout": 5,
    }


def program(rules: Any, node: Any = "pve1") -> dict[str, Any]:
    return {PROVIDER_KEY: serialized_provider(HostRulesProvider()), "node": node, "rules": rules}


def test_host_rules_over_grpc_keep_the_private_key_out_of_everything(
    plugin: ProviderProcess, simulator: SimulatorHandle
) -> None:
    ssh = ssh_config(simulator)
    key_line = ssh["privateKey"].splitlines()[1]
    plugin.configure({**stack_config(simulator), "pvenet:ssh": json.dumps(ssh)})
    checked = plugin.check(program(RULES_INPUT))
    assert checked.failures == []
    assert checked.inputs["rules"]["forwards"][0]["port"] == 8080
    id_, outputs = plugin.create(checked.inputs, name="rules")
    assert id_ == "pve1/host-rules"
    assert simulator.host_file(RULES) == outputs["rendered"][RULES]
    refreshed = plugin.read(id_, outputs, checked.inputs, name="rules")
    assert refreshed.outputs["drift"] == []
    ssh_port = simulator.ssh.addresses["pve1"][1]  # what pvenet reaches pve1's sshd by
    lockout = plugin.check(
        program({"forwards": [{"protocol": "tcp", "port": ssh_port, "to": "192.168.10.5"}]})
    )
    assert [path for path, reason in lockout.failures if "(SSH)" in reason] == [
        "rules.forwards[0].port"
    ]
    with pytest.raises(grpc.RpcError) as raised:  # pve2 does not exist: an error, no key in it
        plugin.create(program(RULES_INPUT, node="pve2"), name="other")
    plugin.delete(id_, outputs)
    assert simulator.host_file(RULES) is None
    error: Any = raised.value

    provider = serialized_provider(HostRulesProvider())
    seen = {
        "__provider, decoded": base64.b64decode(provider),
        "error details": error.details().encode(),
        "plugin stdout/stderr": plugin.output().encode(),
        "requests.jsonl": (simulator.state_dir / "requests.jsonl").read_bytes(),
    }
    for index, response in enumerate(plugin.responses):
        seen[f"response {index}"] = response.SerializeToString()
    leaks = [where for where, data in seen.items() if key_line.encode() in data]
    assert leaks == []
    assert b"PRIVATE KEY" not in b"".join(seen.values())
