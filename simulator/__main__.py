"""``python -m simulator``: serve the simulated Proxmox VE API, arm faults, replay scenarios.

Commands:

``serve``   run the HTTPS server (and each node's SSH server) until SIGINT or SIGTERM
``fault``   arm, list or clear faults of a running server (through its state dir)
``replay``  run a scenario's calls in process and print the results and files
``demo``    start a background server (or reuse it) and show the node's network
``stop``    stop the background server ``demo`` started

Run ``python -m simulator COMMAND --help`` for each command's options.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from simulator.cluster import DEFAULT_NICS
from simulator.demo import run_demo, stop_demo
from simulator.faults import FAULT_KINDS, Fault, Faults
from simulator.http.server import DEFAULT_HOST, SimulatorServer, build_server
from simulator.node import read_bytes_as_text
from simulator.replay import replay

DEFAULT_STATE_DIR = Path(".state/simulator")
DEMO_STATE_DIR = Path(".state/dev")
DEFAULT_PORT = 8006
# pveproxy holds back every 401 by 3 s to slow down password guessing.
PVEPROXY_AUTH_FAILURE_DELAY_S = 3.0
FAULTS_FILE = "faults.json"  # where Cluster keeps its Faults


def _nic_list(text: str) -> list[str]:
    nics = [nic.strip() for nic in text.split(",") if nic.strip()]
    if not nics:
        raise argparse.ArgumentTypeError("give at least one NIC, e.g. eno1,eno2")
    return nics


def _ssh_port(text: str) -> tuple[str, int]:
    node, sep, port = text.partition("=")
    if not sep or not node or not port.isdigit() or not 0 < int(port) < 65536:
        raise argparse.ArgumentTypeError(f"give NODE=PORT (pve1=2222), not {text!r}")
    return node, int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="A faithful, stateful Proxmox VE API simulator (node network and SDN).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="serve the API over HTTPS until interrupted")
    serve.add_argument("--host", default=DEFAULT_HOST, help="address to bind (default %(default)s)")
    serve.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free one (default 8006)"
    )
    serve.add_argument(
        "--node",
        dest="nodes",
        action="append",
        metavar="NAME",
        help="a node of the cluster; repeat for several (default: the state's nodes, or pve1)",
    )
    serve.add_argument(
        "--nics",
        type=_nic_list,
        default=list(DEFAULT_NICS),
        help="physical NICs of new nodes, comma-separated (default eno1,eno2,eno3,eno4)",
    )
    serve.add_argument(
        "--interfaces",
        type=Path,
        metavar="FILE",
        help="initial /etc/network/interfaces of new nodes (default: the installer's)",
    )
    serve.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    serve.add_argument(
        "--ssh-port",
        dest="ssh_ports",
        action="append",
        type=_ssh_port,
        default=[],
        metavar="NODE=PORT",
        help="SSH port of a node; repeat for several (default: a free port each)",
    )
    serve.add_argument(
        "--token", metavar="USER@REALM!ID=SECRET", help="the API token (default: kept in state)"
    )
    serve.add_argument("--password", help="password of root@pam (default: kept in state)")
    serve.add_argument(
        "--task-seconds",
        type=float,
        default=0.0,
        metavar="S",
        help="how long tasks report 'running' (default 0)",
    )
    serve.add_argument(
        "--auth-failure-delay",
        type=float,
        default=PVEPROXY_AUTH_FAILURE_DELAY_S,
        metavar="S",
        help="hold back 401 answers, as pveproxy does (default 3)",
    )

    fault = commands.add_parser("fault", help="arm, list or clear faults of a running server")
    fault.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    actions = fault.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="arm a fault")
    add.add_argument("--kind", required=True, choices=FAULT_KINDS)
    add.add_argument("--method", default="*", help="HTTP method glob (default *)")
    add.add_argument("--path", default="*", help="glob on the path under /api2/json (default *)")
    add.add_argument("--nth", type=int, default=1, help="fire on the nth matching request")
    add.add_argument("--times", type=int, default=1, help="and on this many in a row")
    add.add_argument("--status", type=int, default=500, help="HTTP status of an 'error'")
    add.add_argument("--message", help="message of an 'error' or a 'task-fail'")
    add.add_argument("--seconds", type=float, default=0.0, help="wait of a 'delay'")
    add.add_argument("--setting", default="", help="option an 'ignore' leaves out (mtu, ...)")
    actions.add_parser("list", help="show the armed faults")
    actions.add_parser("clear", help="disarm every fault")

    replay_cmd = commands.add_parser("replay", help="run a scenario's calls and print the result")
    replay_cmd.add_argument("scenario", help="scenario JSON file ('-' for standard input)")

    demo = commands.add_parser("demo", help="start a background server and show the network")
    demo.add_argument("--state-dir", type=Path, default=DEMO_STATE_DIR)
    demo.add_argument("--port", type=int, default=DEFAULT_PORT)

    stop = commands.add_parser("stop", help="stop the background server started by demo")
    stop.add_argument("--state-dir", type=Path, default=DEMO_STATE_DIR)
    return parser


def _banner(server: SimulatorServer, state_dir: Path) -> str:
    """The one place the credentials are printed: when ``serve`` starts."""
    auth = server.auth
    nodes = ", ".join(server.cluster.nodes)
    return (
        f"Proxmox VE simulator listening on {server.url} (nodes: {nodes})\n"
        f"  CA file:   {server.certs.ca_file}\n"
        f"  API token: {auth.token.full}\n"
        f"  password:  root@pam / {auth.password}\n"
        f"  state:     {state_dir}\n"
        f"  requests:  {server.log.path}\n"
        f"{_ssh_banner(server)}"
        "Stop with Ctrl-C.\n"
    )


def _ssh_banner(server: SimulatorServer) -> str:
    """Where each node's SSH server listens and the settings the provider reads."""
    if server.ssh is None:
        return ""
    keys = server.ssh.keys
    addresses = ", ".join(
        f"{node}={host}:{port}" for node, (host, port) in server.ssh.addresses.items()
    )
    return (
        f"  SSH:       root@ {addresses}\n"
        f"  SSH key:   {keys.client_file}\n"
        f"  known_hosts: {keys.known_hosts_file}\n"
    )


def _serve(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    state_dir = args.state_dir.resolve()
    try:
        interfaces = read_bytes_as_text(args.interfaces) if args.interfaces else None
    except OSError as exc:
        print(f"error: cannot read --interfaces: {exc}", file=sys.stderr)
        return 2
    try:
        server = build_server(
            state_dir,
            nodes=args.nodes,
            nics=args.nics,
            interfaces=interfaces,
            token=args.token,
            password=args.password,
            host=args.host,
            port=args.port,
            task_seconds=args.task_seconds,
            auth_failure_delay=args.auth_failure_delay,
            ssh_ports=dict(args.ssh_ports),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen for {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(_banner(server, state_dir), end="", flush=True)
    while not stopping.wait(0.5):
        pass
    server.stop()
    return 0


def _fault(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    if not (state_dir / "cluster.json").exists():
        print(f"error: no simulator state in {state_dir} (see --state-dir)", file=sys.stderr)
        return 2
    faults = Faults(state_dir / FAULTS_FILE)
    if args.action == "add":
        try:
            fault = faults.arm(
                Fault(
                    kind=args.kind,
                    method=args.method,
                    path=args.path,
                    nth=args.nth,
                    times=args.times,
                    status=args.status,
                    message=args.message or Fault.message,
                    seconds=args.seconds,
                    setting=args.setting,
                )
            )
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"armed: {_describe(fault)}")
    elif args.action == "list":
        armed = faults.armed()
        for fault in armed:
            print(_describe(fault))
        if not armed:
            print("no faults armed")
    else:
        faults.clear()
        print("cleared all faults")
    return 0


def _describe(fault: Fault) -> str:
    """One line per fault: kind, effect, matcher and how far it has counted."""
    effect = {
        "error": f"HTTP {fault.status} {fault.message!r}",
        "delay": f"{fault.seconds:g} s",
        "task-fail": repr(fault.message),
        "ignore": f"leaves out {fault.setting!r}",
    }.get(fault.kind)
    window = f"request {fault.nth}" if fault.times == 1 else f"requests {fault.nth}+{fault.times}"
    parts = [fault.kind, effect, f"on {fault.method} {fault.path},", f"matching {window}"]
    return " ".join(part for part in parts if part) + f" (seen {fault.seen})"


def _replay(args: argparse.Namespace) -> int:
    text = sys.stdin.read() if args.scenario == "-" else Path(args.scenario).read_text()
    try:
        result = replay(json.loads(text))
    except ValueError as exc:  # also json.JSONDecodeError
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run one command; the process exit status."""
    args = _parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "fault":
        return _fault(args)
    if args.command == "replay":
        return _replay(args)
    if args.command == "demo":
        return run_demo(args.state_dir, args.port)
    return stop_demo(args.state_dir)


if __name__ == "__main__":
    sys.exit(main())
