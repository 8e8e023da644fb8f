"""``python -m simulator``: serve, fault, replay, demo and stop, as a user runs them.

These run the real command in a subprocess where the behaviour is about the
process (signals, banner, detaching) and in process otherwise.
"""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from simulator.demo import PID_FILE, running_pid
from simulator.node import INTERFACES, INTERFACES_NEW, SDN_INTERFACES, installer_interfaces
from simulator.replay import replay
from simulator.ssh.keys import ssh_environment
from simulator.testing import SimulatorHandle

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BASE = installer_interfaces(["eno1", "eno2"], "192.168.10.2/24", "192.168.10.1")
NOT_IN_SCHEMA = (
    "property is not defined in schema and the schema does not allow additional properties"
)


def _cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop(process: subprocess.Popen[str]) -> None:
    """End a server this test started, by its PID, and close its pipes."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()


def _exited(pid: int) -> bool:
    """Whether ``pid`` has ended (gone, or a zombie waiting for a parent to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


# -- replay --------------------------------------------------------------------------------------


def _scenario() -> dict[str, Any]:
    return {
        "node": "pve1",
        "nics": ["eno1", "eno2"],
        "base": BASE,
        "calls": [
            {"method": "GET", "path": "/version"},
            {"method": "GET", "path": "/nodes/pve1/tasks/UPID:pve1:x/status", "params": {"x": 1}},
            {"method": "get", "path": "/api2/json/no/such/path"},
            {"method": "GET", "path": "/nodes/pve9/tasks/UPID:pve9:x/status"},
        ],
    }


def test_replay_reports_results_and_files() -> None:
    """replay answers each call as the API would (status, data, message, errors) and the files."""
    result = replay(_scenario())
    version, bad_param, unknown, bad_node = result["results"]
    assert version["status"] == 200
    assert version["data"]["release"]
    assert (version["message"], version["errors"]) == (None, None)
    assert bad_param == {
        "status": 400,
        "data": None,
        "message": "Parameter verification failed.\n",
        "errors": {"x": NOT_IN_SCHEMA},
    }
    assert unknown["status"] == 501
    assert unknown["message"] == "Method 'GET /no/such/path' not implemented"
    assert bad_node["status"] == 500
    assert bad_node["message"].startswith("hostname lookup 'pve9' failed")
    assert result["files"] == {INTERFACES: BASE, INTERFACES_NEW: None, SDN_INTERFACES: None}


def test_replay_command_prints_the_same_json(tmp_path: Path) -> None:
    """``python -m simulator replay FILE`` prints replay's answer as one JSON object."""
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps(_scenario()))
    done = _cli("replay", str(scenario))
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    expected = replay(_scenario())
    assert [r["status"] for r in printed["results"]] == [r["status"] for r in expected["results"]]
    assert printed["files"] == expected["files"]


def test_replay_rejects_a_malformed_scenario(tmp_path: Path) -> None:
    """A call without a path, or a parameter no form can carry, is refused with a message."""
    with pytest.raises(ValueError, match="call 0 needs 'method' and 'path'"):
        replay({"calls": [{"method": "GET"}]})
    with pytest.raises(ValueError, match="cannot be sent as a form parameter"):
        replay({"calls": [{"method": "GET", "path": "/version", "params": {"x": {"a": 1}}}]})
    scenario = tmp_path / "bad.json"
    scenario.write_text("{not json")
    done = _cli("replay", str(scenario))
    assert done.returncode == 2
    assert done.stderr.startswith("error:")


# -- fault ---------------------------------------------------------------------------------------


def test_fault_command_arms_a_running_server(simulator: SimulatorHandle) -> None:
    """``fault add`` writes faults.json; the running server picks the fault up on its next call."""
    state = str(simulator.state_dir)
    added = _cli(
        "fault", "--state-dir", state, "add", "--kind", "error", "--path", "/version",
        "--status", "500", "--message", "injected failure",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "error" in added.stdout
    listed = _cli("fault", "--state-dir", state, "list")
    assert "/version" in listed.stdout
    api = simulator.proxmox()
    with pytest.raises(ResourceException, match=r"^500 Internal Server Error: injected failure"):
        api.version.get()
    assert api.version.get()["release"]
    _cli("fault", "--state-dir", state, "add", "--kind", "drop", "--path", "/nodes")
    assert _cli("fault", "--state-dir", state, "clear").returncode == 0
    assert api.nodes.get()  # cleared before it fired
    assert "no faults armed" in _cli("fault", "--state-dir", state, "list").stdout


def test_fault_command_refuses_bad_input(simulator: SimulatorHandle, tmp_path: Path) -> None:
    """An unknown state dir or a count below one is an error, not a silently ignored fault."""
    missing = _cli("fault", "--state-dir", str(tmp_path / "none"), "list")
    assert missing.returncode == 2
    assert "no simulator state" in missing.stderr
    bad = _cli(
        "fault", "--state-dir", str(simulator.state_dir), "add", "--kind", "drop", "--nth", "0"
    )
    assert bad.returncode == 2
    assert "nth and times count from 1" in bad.stderr


# -- serve ---------------------------------------------------------------------------------------


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    """Start ``python -m simulator serve`` processes; each is stopped after the test."""
    started: list[subprocess.Popen[str]] = []

    def start(state: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator", "serve", "--state-dir", str(state),
             "--port", "0", "--auth-failure-delay", "0", *extra],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        started.append(process)
        assert process.stdout is not None
        banner: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while "password" not in banner and time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            if match := re.match(r"Proxmox VE simulator listening on (\S+)", line):
                banner["url"] = match[1]
            elif match := re.match(r"\s+(CA file|API token|password):\s+(.*)", line):
                banner[match[1].split()[-1].lower()] = match[2].strip()
        assert "password" in banner, process.stderr.read() if process.stderr else ""
        return process, banner

    yield start
    for process in started:
        _stop(process)


def test_serve_prints_credentials_and_stops_on_sigterm(serve: Any, tmp_path: Path) -> None:
    """``serve`` prints URL, CA file and token, answers over verified TLS, exits on SIGTERM."""
    process, banner = serve(tmp_path / "state")
    assert banner["url"].startswith("https://127.0.0.1:")
    response = requests.get(
        f"{banner['url']}/api2/json/version",
        headers={"Authorization": f"PVEAPIToken={banner['token']}"},
        verify=banner["file"],
        timeout=10,
    )
    assert response.status_code == 200
    _stop(process)
    assert process.returncode == 0


def test_serve_keeps_state_and_takes_token_and_password(serve: Any, tmp_path: Path) -> None:
    """A restart keeps CA and token; ``--token``/``--password`` replace them and are kept too."""
    state = tmp_path / "state"
    first, banner = serve(state)
    ca = Path(banner["file"]).read_bytes()
    _stop(first)
    second, again = serve(state)
    assert again["token"] == banner["token"]
    assert Path(again["file"]).read_bytes() == ca
    _stop(second)
    token = "ci@pve!pipeline=5ecret-value-for-ci"
    _, custom = serve(state, "--token", token, "--password", "hunter2-simulated")
    assert custom["token"] == token
    host_port = custom["url"].removeprefix("https://")
    api = ProxmoxAPI(
        host_port,
        user="ci@pve",
        token_name="pipeline",
        token_value="5ecret-value-for-ci",
        verify_ssl=custom["file"],
    )
    assert api.version.get()["release"]
    login = ProxmoxAPI(
        host_port, user="root@pam", password="hunter2-simulated", verify_ssl=custom["file"]
    )
    assert login.nodes.get()
    log = (state / "requests.jsonl").read_text()
    assert "5ecret-value-for-ci" not in log
    assert "hunter2-simulated" not in log


def test_serve_refuses_a_malformed_token(tmp_path: Path) -> None:
    """``--token`` must be USER@REALM!ID=SECRET; anything else stops serve with a message."""
    done = _cli("serve", "--state-dir", str(tmp_path), "--port", "0", "--token", "root@pam:abc")
    assert done.returncode == 2
    assert "API token" in done.stderr


def test_serve_listens_for_ssh_on_the_port_it_is_given(serve: Any, tmp_path: Path) -> None:
    """``--ssh-port NODE=PORT``: that node's SSH server, published for the provider."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    serve(tmp_path / "state", "--ssh-port", f"pve1={port}")
    env = ssh_environment(tmp_path / "state")
    assert env["PVENET_SSH_ADDRESSES"] == f"pve1=127.0.0.1:{port}"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        assert conn.recv(8) == b"SSH-2.0-"


def test_serve_says_which_port_it_cannot_listen_on(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        api = _cli("serve", "--state-dir", str(tmp_path / "a"), "--port", str(port))
        ssh = _cli(
            "serve", "--state-dir", str(tmp_path / "b"), "--port", "0", "--ssh-port", f"pve1={port}"
        )
    assert api.returncode == 1
    assert f"error: cannot listen for the API on 127.0.0.1:{port}: " in api.stderr
    assert ssh.returncode == 1
    assert f"error: cannot listen for SSH of node pve1 on 127.0.0.1:{port}: " in ssh.stderr


def test_serve_refuses_a_malformed_ssh_port(tmp_path: Path) -> None:
    done = _cli("serve", "--state-dir", str(tmp_path), "--port", "0", "--ssh-port", "2222")
    assert done.returncode == 2
    assert "NODE=PORT" in done.stderr


# -- demo and stop -------------------------------------------------------------------------------


def test_demo_starts_a_background_server_and_stop_ends_it(tmp_path: Path) -> None:
    """``demo`` detaches a server (PID file), shows the network and is reused; ``stop`` ends it."""
    state = (tmp_path / "dev").resolve()
    port = str(_free_port())
    try:
        shown = _cli("demo", "--state-dir", str(state), "--port", port)
        assert shown.returncode == 0, shown.stdout + shown.stderr
        pid = running_pid(state)
        assert pid is not None
        assert int((state / PID_FILE).read_text()) == pid
        assert f"https://127.0.0.1:{port}" in shown.stdout
        assert str(state / "pve-root-ca.pem") in shown.stdout
        assert "Network of node pve1" in shown.stdout
        assert "iface vmbr0 inet static" in shown.stdout  # the node's file
        ssh = ssh_environment(state)
        assert f"  SSH:       {ssh['PVENET_SSH_ADDRESSES']} (user root)\n" in shown.stdout
        again = _cli("demo", "--state-dir", str(state), "--port", port)
        assert again.returncode == 0
        assert f"Reusing the simulator already running (PID {pid})" in again.stdout
    finally:
        stopped = _cli("stop", "--state-dir", str(state))
    assert stopped.returncode == 0
    assert "Stopped the simulator" in stopped.stdout
    assert running_pid(state) is None
    assert not (state / PID_FILE).exists()
    assert ssh_environment(state) == {}  # no SSH settings for a server that is gone
    assert _exited(pid)
    assert "No simulator is running" in _cli("stop", "--state-dir", str(state)).stdout


def test_stop_ignores_a_pid_that_is_not_our_server(tmp_path: Path) -> None:
    """``stop`` signals only a simulator serving that state dir, never whatever owns the PID."""
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        (tmp_path / PID_FILE).write_text(f"{sleeper.pid}\n")
        done = _cli("stop", "--state-dir", str(tmp_path))
        assert "No simulator is running" in done.stdout
        assert sleeper.poll() is None
    finally:
        sleeper.kill()
        sleeper.wait()
