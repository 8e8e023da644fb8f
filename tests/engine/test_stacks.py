"""The root program's prod stack on two nodes, secrets in the state, and ``./run pulumi``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pulumi import automation as auto

from components.project import PROJECT_ROOT
from simulator.testing import running_simulator
from tests.engine.deployment import Deployment, node_stanzas

EXAMPLES = PROJECT_ROOT / "examples"
PROD_NODES = ("pve-a", "pve-b")  # the node names Pulumi.prod.yaml uses


def test_prod_stack_two_nodes_one_program_one_up(
    tmp_path: Path, pulumi_cli: auto.PulumiCommand
) -> None:
    """Pulumi.prod.yaml's shape on a simulated two-node cluster: one up builds both nodes
    exactly as render shows them, then nothing changes, then destroy gives both back."""
    with running_simulator(state_dir=tmp_path / "cluster", nodes=PROD_NODES) as sim:
        deployment = Deployment.of(
            PROJECT_ROOT, tmp_path / "work", sim, pulumi_cli, stack="prod", nodes=PROD_NODES
        )
        before = node_stanzas(sim, PROD_NODES)

        up = deployment.run("up")
        assert up.ok, up.output
        assert deployment.files() == deployment.render()
        for node in PROD_NODES:
            assert "bond-mode 802.3ad" in (sim.files(node)["/etc/network/interfaces"] or "")
        again = deployment.run("preview", expect_no_changes=True)
        assert again.ok, again.output

        destroyed = deployment.run("destroy")
        assert destroyed.ok, destroyed.output
        assert node_stanzas(sim, PROD_NODES) == before


def test_the_api_token_is_in_the_stack_only_encrypted(
    tmp_path: Path, pulumi_cli: auto.PulumiCommand
) -> None:
    """Set with ``config set --secret``, the token is ciphertext in the stack file and in the
    state (where the engine keeps the provider's config), and in plain text nowhere: not in
    the backend's files, Pulumi's home or its output; and no resource, pickled provider
    included, holds it even decrypted."""
    with running_simulator(state_dir=tmp_path / "sim") as sim:
        deployment = Deployment.of(EXAMPLES / "bridged", tmp_path / "work", sim, pulumi_cli)
        up = deployment.run("up")
        assert up.ok, up.output
        secrets = (sim.token, sim.token_value)

        stack_file = (deployment.directory / "Pulumi.dev.yaml").read_text()
        assert "pvenet:apiToken:\n    secure: v1:" in stack_file
        exported = deployment.pulumi("stack", "export")
        for text in (stack_file, exported, up.output):
            assert not any(secret in text for secret in secrets)
        resources = json.loads(exported)["deployment"]["resources"]
        (default,) = [r for r in resources if r["type"] == "pulumi:providers:pulumi-python"]
        assert "ciphertext" in default["inputs"]["pvenet:apiToken"], "the engine keeps it"
        decrypted = json.loads(deployment.pulumi("stack", "export", "--show-secrets"))
        for resource in decrypted["deployment"]["resources"]:
            if resource["type"] != default["type"]:  # no resource or pickle captured it
                assert not any(secret in json.dumps(resource) for secret in secrets)
        for root in (tmp_path / "work" / "backend", tmp_path / "work" / "pulumi-home"):
            for path in root.rglob("*"):
                if path.is_file():
                    data = path.read_bytes()
                    assert not any(s.encode() in data for s in secrets), path


def test_run_pulumi_previews_with_the_stanzas_and_writes_nothing(
    tmp_path: Path, pulumi_cli: auto.PulumiCommand
) -> None:
    """``./run pulumi preview --diff`` (``python -m components.deploy``) as a user runs it:
    the stanzas in full, no write, status 0; ``--expect-no-changes`` fails with status 1."""
    with running_simulator(state_dir=tmp_path / "sim") as sim:
        deployment = Deployment.of(EXAMPLES / "nat", tmp_path / "work", sim, pulumi_cli)
        env = {**os.environ, **deployment.env}
        program = ["--program", str(deployment.directory)]

        def preview(*options: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "components.deploy", "preview", *options, *program],
                env=env,
                cwd=PROJECT_ROOT,
                capture_output=True,
                text=True,
                check=False,
            )

        done = preview("--diff")
        assert done.returncode == 0, done.stderr
        assert r"post-up iptables -t nat -A POSTROUTING -s '10.10.10.0/24'" in done.stdout
        assert deployment.writes() == []

        strict = preview("--expect-no-changes")
        assert strict.returncode == 1
        assert strict.stderr.endswith(
            f"deploy: pulumi preview failed on stack 'dev' of {deployment.directory} "
            "(output above)\n"
        )
