"""``demo`` and ``stop``: a simulator in the background for trying pvenet by hand (``./run up``).

``demo`` starts ``python -m simulator serve`` as a detached process (its PID
in ``<state>/simulator.pid``, its stderr in ``<state>/simulator.log``), or
reuses the one already running for that state dir, waits until ``/version``
answers over TLS verified against the simulator's CA, then prints how to
connect and the node's network as the API and the file show it. ``stop`` ends
that process: only the PID in the pid file, and only when that PID is still a
simulator serving this state dir.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from simulator.http.auth import AUTH_FILE, Auth
from simulator.http.certs import CA_FILE
from simulator.node import INTERFACES, INTERFACES_NEW, Node
from simulator.ssh.keys import ssh_environment

PID_FILE = "simulator.pid"
LOG_FILE = "simulator.log"
DEMO_HOST = "127.0.0.1"
# A first start makes a CA, keys and the node files: allow it some time.
READY_TIMEOUT_S = 30.0
READY_POLL_S = 0.2
# How long `stop` waits for SIGTERM to end the server before it sends SIGKILL.
STOP_TIMEOUT_S = 10.0
# `python -m simulator` must find the package: run it from the directory holding it.
_PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _read_pid(state_dir: Path) -> int | None:
    try:
        return int((state_dir / PID_FILE).read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is a finished child of this process (else nothing)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie counts as exited)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


def _is_our_server(pid: int, state_dir: Path) -> bool:
    """Whether ``pid`` is a live ``simulator serve`` for ``state_dir`` (so it may be signalled)."""
    if not _alive(pid):
        return False
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return True  # no /proc to ask: trust the pid file
    args = [arg.decode(errors="replace") for arg in argv]
    return "simulator" in args and "serve" in args and str(state_dir) in args


def running_pid(state_dir: Path) -> int | None:
    """The PID of the demo server of ``state_dir`` if it is running, else None."""
    pid = _read_pid(state_dir)
    return pid if pid is not None and _is_our_server(pid, state_dir) else None


def _credentials(state_dir: Path) -> Auth | None:
    """The server's credentials once it has written them (None before)."""
    if not (state_dir / AUTH_FILE).exists():
        return None
    return Auth(state_dir / AUTH_FILE)


def _answers(url: str, ca_file: Path, auth: Auth) -> bool:
    """Whether ``GET /version`` succeeds over TLS verified with ``ca_file``."""
    try:
        response = requests.get(
            f"{url}/api2/json/version",
            headers={"Authorization": f"PVEAPIToken={auth.token.full}"},
            verify=str(ca_file),
            timeout=2,
        )
    except requests.RequestException:
        return False
    return response.status_code == 200


def _spawn(state_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "simulator",
        "serve",
        "--state-dir",
        str(state_dir),
        "--host",
        DEMO_HOST,
        "--port",
        str(port),
    ]
    with (state_dir / LOG_FILE).open("ab") as log:
        # The credentials banner goes to /dev/null: `demo` prints them itself.
        process = subprocess.Popen(
            command,
            cwd=_PROJECT_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    (state_dir / PID_FILE).write_text(f"{process.pid}\n")
    return process


def _wait_ready(state_dir: Path, url: str, process: subprocess.Popen[bytes]) -> Auth:
    """Wait until the new server answers; RuntimeError (with its log) if it does not."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        auth = _credentials(state_dir)
        if auth is not None and _answers(url, state_dir / CA_FILE, auth):
            return auth
        time.sleep(READY_POLL_S)
    log = (state_dir / LOG_FILE).read_text(errors="replace")[-2000:]
    status = "exited" if process.poll() is not None else "did not answer in time"
    raise RuntimeError(f"the simulator {status}; the end of {state_dir / LOG_FILE}:\n{log}")


def _first_node(state_dir: Path) -> str:
    try:
        layout = json.loads((state_dir / "cluster.json").read_text())
        return str(sorted(layout["nodes"])[0])
    except (OSError, ValueError, KeyError, IndexError):
        return "pve1"


def _table(rows: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        out.write(
            "  "
            + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
            + "\n"
        )


def _interface_row(iface: dict[str, Any]) -> list[str]:
    cidrs = [str(iface[key]) for key in ("cidr", "cidr6") if iface.get(key)]
    ports = iface.get("bridge_ports") or iface.get("slaves") or iface.get("vlan-raw-device") or ""
    return [
        str(iface.get("iface", "")),
        str(iface.get("type", "")),
        " ".join(cidrs),
        str(ports),
        "yes" if str(iface.get("active", "")) == "1" else "no",
    ]


def show_network(api: ProxmoxAPI, state_dir: Path, node: str, out: TextIO) -> None:
    """Print the node's interfaces (from the API) and its ``/etc/network/interfaces``."""
    out.write(f"\nNetwork of node {node} (GET /nodes/{node}/network):\n")
    try:
        interfaces = api.nodes(node).network.get()
    except ResourceException as exc:
        out.write(f"  (not available: {exc})\n")
    else:
        rows = [["IFACE", "TYPE", "CIDR", "PORTS/SLAVES", "ACTIVE"]]
        rows += [_interface_row(i) for i in sorted(interfaces, key=lambda i: str(i.get("iface")))]
        _table(rows, out)
    files = Node(node, [], state_dir / "nodes" / node)
    out.write(f"\n{INTERFACES} on {node}:\n\n{files.read(INTERFACES) or '(missing)'}")
    if files.exists(INTERFACES_NEW):
        out.write(f"\n(pending changes are staged in {INTERFACES_NEW})\n")


def _ssh_lines(state_dir: Path) -> str:
    """Where the nodes' SSH servers listen and how to log in (the settings the provider reads)."""
    env = ssh_environment(state_dir)
    if not env:
        return ""
    return (
        f"  SSH:       {env['PVENET_SSH_ADDRESSES']} (user {env['PVENET_SSH_USER']})\n"
        f"  SSH key:   {env['PVENET_SSH_KEY']}\n"
        f"  known_hosts: {env['PVENET_SSH_KNOWN_HOSTS']}\n"
    )


def run_demo(state_dir: Path, port: int, out: TextIO = sys.stdout) -> int:
    """Start (or reuse) the background simulator and show how to use it; the exit status."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    url = f"https://{DEMO_HOST}:{port}"
    pid = running_pid(state_dir)
    auth = _credentials(state_dir)
    if pid is not None:
        if auth is None or not _answers(url, state_dir / CA_FILE, auth):
            out.write(
                f"A simulator (PID {pid}) already runs for {state_dir} but does not answer on "
                f"{url}.\nStop it first: python -m simulator stop --state-dir {state_dir}\n"
            )
            return 1
        out.write(f"Reusing the simulator already running (PID {pid}).\n")
    else:
        process = _spawn(state_dir, port)
        try:
            auth = _wait_ready(state_dir, url, process)
        except RuntimeError as exc:
            out.write(f"{exc}\n")
            return 1
        pid = process.pid
        out.write(f"Started the simulator in the background (PID {pid}).\n")
    assert auth is not None
    ca_file = state_dir / CA_FILE
    out.write(
        f"\n  URL:       {url}\n"
        f"  CA file:   {ca_file}\n"
        f"  API token: {auth.token.full}\n"
        f"  state:     {state_dir}\n"
        f"{_ssh_lines(state_dir)}"
        f"  stop it:   python -m simulator stop --state-dir {state_dir}\n"
        f"\n  curl --cacert {ca_file} -H 'Authorization: PVEAPIToken={auth.token.full}' "
        f"{url}/api2/json/nodes\n"
    )
    api = ProxmoxAPI(
        f"{DEMO_HOST}:{port}",
        user=auth.token.user,
        token_name=auth.token.name,
        token_value=auth.token.secret,
        verify_ssl=str(ca_file),
    )
    show_network(api, state_dir, _first_node(state_dir), out)
    return 0


def stop_demo(state_dir: Path, out: TextIO = sys.stdout) -> int:
    """Stop the background simulator of ``state_dir`` by its PID; the exit status."""
    state_dir = state_dir.resolve()
    pid = running_pid(state_dir)
    if pid is None:
        (state_dir / PID_FILE).unlink(missing_ok=True)
        out.write(f"No simulator is running for {state_dir}.\n")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        out.write(f"The simulator (PID {pid}) ignored SIGTERM; killed it.\n")
    else:
        out.write(f"Stopped the simulator (PID {pid}).\n")
    _reap(pid)
    (state_dir / PID_FILE).unlink(missing_ok=True)
    return 0
