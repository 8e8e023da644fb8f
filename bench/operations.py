"""Whole changes against the simulator: pvenet's one set against one resource per interface.

::

    python -m bench.operations [--sizes 1,10,100]

For each size N, on a fresh simulated node (a simulator in a process of its own, over
HTTPS, so this process's CPU time is the client's alone), the same three changes are made
two ways:

- **pvenet**: one ``NodeInterfaces`` set of N bridges, created, then updated (every
  bridge's comment changes), then deleted: each change one staged plan and one apply;
- **per interface**: what a provider with one resource per interface does (the Terraform
  provider bpg/proxmox, before its experimental applier): for each bridge, read it at plan
  time (Terraform's refresh, for a bridge that exists), write it, reload the node, wait for
  the reload task, read the interface back: N reloads per change.

pvenet's figures include its preview reads (each ``check`` reads the node once).

It prints, per size and way, the API requests, the applies (node reloads), the wall time
and this process's CPU time, and each figure's ratio per-interface / pvenet.
"""

from __future__ import annotations

import argparse
import io
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from pulumi.dynamic import Config, ConfigureRequest

from provider.api.session import ApiSession, Call
from provider.api.settings import Settings
from provider.node.resource import NodeInterfacesProvider
from simulator.demo import run_demo, stop_demo
from simulator.http.auth import AUTH_FILE, Auth
from simulator.http.certs import CA_FILE
from simulator.http.requestlog import RequestLog

NODE = "pve1"
NETWORK = f"/nodes/{NODE}/network"
SIZES = (1, 10, 100)


@dataclass(frozen=True)
class Figures:
    """What one way of making the three changes cost."""

    requests: int
    applies: int
    wall_s: float
    cpu_s: float
    one_update: int | None = None
    """pvenet only: the requests of an update that changes one interface of the set."""


def bridges(count: int, comment: str) -> list[dict[str, Any]]:
    """``count`` port-less bridges, vmbr100 up, with ``comment``."""
    return [
        {"iface": f"vmbr{100 + n}", "type": "bridge", "comments": comment} for n in range(count)
    ]


def _provider(settings: Settings) -> NodeInterfacesProvider:
    """pvenet's node provider, configured as the engine configures it."""
    provider = NodeInterfacesProvider()
    provider.configure(
        ConfigureRequest(
            Config(
                {
                    "pvenet:endpoint": settings.endpoint,
                    "pvenet:apiToken": settings.token,
                    "pvenet:caCert": settings.ca_cert,
                },
                "bench",
            )
        )
    )
    return provider


def _checked(
    provider: NodeInterfacesProvider, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``check`` as a preview makes it: the inputs it accepts."""
    result = provider.check(olds or {}, news)
    assert not result.failures, result.failures
    return dict(result.inputs)


def with_pvenet(settings: Settings, count: int) -> None:
    """Create, update and delete one set of ``count`` bridges through the provider."""
    provider = _provider(settings)
    created = provider.create(
        _checked(provider, {"node": NODE, "interfaces": bridges(count, "first")})
    )
    outs = dict(created.outs or {})
    news = _checked(provider, {"node": NODE, "interfaces": bridges(count, "second")}, outs)
    outs = dict(provider.update(str(created.id), outs, news).outs or {})
    provider.delete(str(created.id), outs)


def one_update_requests(settings: Settings, log: RequestLog, count: int) -> int:
    """The requests of the update that changes one bridge's comment in a set of ``count``
    (preview's ``check`` before it reads the node once more): the same whatever the size."""
    provider = _provider(settings)
    first = bridges(count, "first")
    created = provider.create(_checked(provider, {"node": NODE, "interfaces": first}))
    outs = dict(created.outs or {})
    changed = [dict(first[0], comments="second"), *first[1:]]
    news = _checked(provider, {"node": NODE, "interfaces": changed}, outs)
    log.clear()
    outs = dict(provider.update(str(created.id), outs, news).outs or {})
    requests = len(log.entries())
    provider.delete(str(created.id), outs)
    return requests


def _per_interface_change(session: ApiSession, method: str, path: str, params: Any) -> None:
    """One interface's change as a per-interface resource makes it: refresh (an existing
    interface), write, reload, wait, read back."""
    if method != "POST":
        session.call("GET", path, kind=Call.READ)
    session.call(method, path, params, kind=Call.WRITE)
    upid = str(session.call("PUT", NETWORK, kind=Call.ONCE))
    while True:
        status = session.call("GET", f"/nodes/{NODE}/tasks/{upid}/status", kind=Call.READ)
        if status.get("status") == "stopped":
            break
        time.sleep(0.2)
    if method != "DELETE":
        session.call(
            "GET", path if method == "PUT" else f"{NETWORK}/{params['iface']}", kind=Call.READ
        )


def per_interface(settings: Settings, count: int) -> None:
    """Create, update and delete ``count`` bridges one resource (one reload) at a time."""
    session = ApiSession(settings)
    for bridge in bridges(count, "first"):
        _per_interface_change(session, "POST", NETWORK, {**bridge, "autostart": 1})
    for bridge in bridges(count, "second"):
        params = {"type": "bridge", "comments": bridge["comments"], "autostart": 1}
        _per_interface_change(session, "PUT", f"{NETWORK}/{bridge['iface']}", params)
    for bridge in bridges(count, "second"):
        _per_interface_change(session, "DELETE", f"{NETWORK}/{bridge['iface']}", None)


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on now (each run its own simulator)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _settings(state_dir: Path, port: int) -> Settings:
    """How to reach the simulator of ``state_dir`` on ``port``."""
    auth = Auth(state_dir / AUTH_FILE)
    return Settings(f"https://127.0.0.1:{port}", auth.token.full, ca_cert=str(state_dir / CA_FILE))


def measure(
    change: Callable[[Settings, int], None], state_dir: Path, port: int, count: int
) -> Figures:
    """Run ``change`` against the simulator of ``state_dir`` on ``port``; what it cost."""
    settings = _settings(state_dir, port)
    log = RequestLog(state_dir / "requests.jsonl")
    log.clear()
    wall, cpu = time.perf_counter(), time.process_time()
    change(settings, count)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    entries = log.entries()
    applies = sum(1 for e in entries if e.method == "PUT" and e.path == NETWORK)
    return Figures(len(entries), applies, wall, cpu)


WAYS: dict[str, Callable[[Settings, int], None]] = {
    "pvenet": with_pvenet,
    "per interface": per_interface,
}


def run(sizes: Sequence[int], out: TextIO) -> dict[int, dict[str, Figures]]:
    """Every size, both ways, each on a fresh simulator; the figures, also printed."""
    results: dict[int, dict[str, Figures]] = {}
    for count in sizes:
        results[count] = {}
        for way, change in WAYS.items():
            with tempfile.TemporaryDirectory(prefix="pvenet-bench-") as directory:
                state_dir = Path(directory)
                port = free_port()
                try:
                    if run_demo(state_dir, port, out=io.StringIO()) != 0:
                        raise SystemExit(f"bench: the simulator did not start on port {port}")
                    figures = measure(change, state_dir, port, count)
                    if change is with_pvenet:
                        log = RequestLog(state_dir / "requests.jsonl")
                        updates = one_update_requests(_settings(state_dir, port), log, count)
                        figures = replace(figures, one_update=updates)
                    results[count][way] = figures
                finally:
                    stop_demo(state_dir, out=io.StringIO())
    _print(results, out)
    return results


def _print(results: dict[int, dict[str, Figures]], out: TextIO) -> None:
    header = (
        f"{'interfaces':>10} {'way':<14} {'requests':>9} {'applies':>8} {'wall s':>8} {'cpu s':>7}"
    )
    out.write("create + update + delete of N bridges on one node\n" + header + "\n")
    for count, ways in results.items():
        for way, f in ways.items():
            out.write(
                f"{count:>10} {way:<14} {f.requests:>9} {f.applies:>8} "
                f"{f.wall_s:>8.2f} {f.cpu_s:>7.2f}\n"
            )
        ours, theirs = ways["pvenet"], ways["per interface"]
        out.write(
            f"{count:>10} {'ratio':<14} {theirs.requests / ours.requests:>9.1f} "
            f"{theirs.applies / ours.applies:>8.1f} {theirs.wall_s / ours.wall_s:>8.1f} "
            f"{theirs.cpu_s / max(ours.cpu_s, 1e-9):>7.1f}\n"
        )
    out.write("\npvenet's update of one bridge of the N (its preview reads the node once more)\n")
    for count, ways in results.items():
        out.write(f"{count:>10} interfaces: {ways['pvenet'].one_update} requests, 1 apply\n")


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> int:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.operations", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    args = parser.parse_args(argv)
    run([int(s) for s in args.sizes.split(",")], out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
