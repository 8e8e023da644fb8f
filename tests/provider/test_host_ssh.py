"""The SSH transport against the simulator's SSH server: host keys are verified (known_hosts
with ``[host]:port``, or a pinned key), a wrong or unknown key is refused with its
fingerprint, a refused login or a dead port says what to set, and no message, repr or
pickle shows the private key."""

from __future__ import annotations

import pickle
from pathlib import Path

import paramiko
import pytest

from provider.errors import HostCallFailed
from provider.host.resource import HostRulesProvider
from provider.host.settings import SshSettings, ssh_settings_from
from provider.host.ssh import connect, fingerprint
from simulator.testing import SimulatorHandle
from tests.provider.conftest import configure_for


def settings(sim: SimulatorHandle, **changes: str) -> SshSettings:
    env = {**sim.ssh_environment(), **changes}
    found = ssh_settings_from({}, env={k: v for k, v in env.items() if v})
    assert found is not None
    return found


def node_key(sim: SimulatorHandle) -> str:
    """pve1's host key as ``ssh-ed25519 AAAA...`` (from the simulator's known_hosts)."""
    port = sim.ssh.addresses["pve1"][1]
    for line in Path(sim.ssh_environment()["PVENET_SSH_KNOWN_HOSTS"]).read_text().splitlines():
        host, key_type, key = line.split()[:3]
        if host == f"[127.0.0.1]:{port}":
            return f"{key_type} {key}"
    raise AssertionError("pve1 is not in the simulator's known_hosts")


def test_a_command_runs_with_stdin_and_gives_its_status_and_output(
    simulator: SimulatorHandle,
) -> None:
    with connect(settings(simulator), "pve1", "192.0.2.1") as conn:
        written = conn.run(
            ["install", "-D", "-m", "0644", "/dev/stdin", "/etc/pvenet/x"], b"it's mine\n"
        )
        assert written.ok
        assert conn.run(["cat", "/etc/pvenet/x"]).text == "it's mine\n"
        missing = conn.run(["cat", "/etc/pvenet/none"])
        assert (missing.status, missing.stdout) == (1, b"")
        with pytest.raises(HostCallFailed) as failed:
            conn.check(["nft", "-c", "-f", "/etc/pvenet/none"])
    assert failed.value.status == 1
    assert str(failed.value).startswith(
        "pve1: `nft -c -f /etc/pvenet/none` failed with exit status 1"
    )


def test_a_pinned_host_key_is_enough(simulator: SimulatorHandle, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    pinned = settings(
        simulator, PVENET_SSH_KNOWN_HOSTS=str(empty), PVENET_SSH_HOST_KEY=node_key(simulator)
    )
    with connect(pinned, "pve1", "192.0.2.1") as conn:
        assert conn.run(["sysctl", "-n", "net.ipv4.ip_forward"]).ok


def test_another_key_for_the_node_is_refused_as_a_possible_attack(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    other = paramiko.Ed25519Key.from_private_key_file(simulator.ssh_environment()["PVENET_SSH_KEY"])
    port = simulator.ssh.addresses["pve1"][1]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{port} {other.get_name()} {other.get_base64()}\n")
    with pytest.raises(HostCallFailed) as refused:
        connect(settings(simulator, PVENET_SSH_KNOWN_HOSTS=str(known)), "pve1", "192.0.2.1")
    message = str(refused.value)
    assert f"pvenet expects {fingerprint(other)}" in message
    assert "Someone may be in the middle" in message
    assert not refused.value.answered


def test_an_unknown_key_is_refused_with_how_to_pin_it(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    with pytest.raises(HostCallFailed) as refused:
        connect(settings(simulator, PVENET_SSH_KNOWN_HOSTS=str(empty)), "pve1", "192.0.2.1")
    message = str(refused.value)
    key = node_key(simulator)
    assert f"pulumi config set --path pvenet:ssh.hostKey '{key}'" in message
    assert "SHA256:" in message


def test_a_refused_login_says_what_to_set_without_the_key(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    stranger = tmp_path / "id_ed25519"
    key = paramiko.RSAKey.generate(2048)
    key.write_private_key_file(str(stranger))
    with pytest.raises(HostCallFailed) as refused:
        connect(settings(simulator, PVENET_SSH_KEY=str(stranger)), "pve1", "192.0.2.1")
    message = str(refused.value)
    assert "refused the login of root with pvenet:ssh.privateKey" in message
    assert "PRIVATE KEY" not in message
    assert stranger.read_text().splitlines()[1] not in message


def test_a_port_nobody_listens_on(simulator: SimulatorHandle) -> None:
    dead = settings(simulator, PVENET_SSH_ADDRESSES="pve1=127.0.0.1:1")
    with pytest.raises(HostCallFailed) as failed:
        connect(dead, "pve1", "192.0.2.1", timeout=5)
    assert "pve1: cannot connect over SSH to [127.0.0.1]:1: Connection refused" in str(failed.value)


def test_a_configured_provider_pickles_no_key(
    simulator: SimulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = Path(simulator.ssh_environment()["PVENET_SSH_KEY"])
    monkeypatch.setenv("PVENET_SSH_KEY", key_file.read_text())
    provider = configure_for(HostRulesProvider(), simulator)
    assert provider.ssh is not None
    assert provider.ssh.private_key
    pickled = pickle.dumps(provider)
    assert b"PRIVATE KEY" not in pickled
    assert simulator.token.encode() not in pickled
    assert "PRIVATE KEY" not in repr(provider.ssh)
