"""How fast the core and the simulator are on big nodes: a table of figures, not a test.

::

    .venv/bin/python -m bench.core [--sizes 10,100,1000,3000] [--node-size 1000] [--samples 25]

Figures (issue 11, items 5 and 8):

* **plan, fresh node**: ``fresh_plan`` (``plan`` without its memo) of a set of
  N interfaces on the installer's node (vmbr0 on eno1, eno2..eno4 unused), CPU
  time (``time.process_time``);
* **plan, replace half**: the node runs a set of N interfaces; the new set keeps
  half of them and replaces the other half with new ones (deletes and creates);
* **plan again**: ``plan`` of the largest set a second time, from the node read
  again (equal inputs, new objects), as the transaction plans what ``check``
  planned when the node has not changed meanwhile;
* **render**: ``render_set`` of the set (the stanzas ``check`` shows at preview);
* **simulator, p50 per request** on a node of ``--node-size`` interfaces, reads and
  writes, through its in-process API (``Cluster.handle``) and over HTTPS
  (proxmoxer, keep-alive, token auth): wall-clock time, the median of
  ``--samples`` requests; over HTTPS also the server's own time from receipt to
  answer, as its request log records it (the client's wall time adds TLS, the
  transfer and decoding the JSON: 240 KB for a listing of 1,000 interfaces).

The set of N interfaces is a bond of eno2 and eno3 and, for each i, a VLAN
``bond0.i`` and a bridge ``vmbr<i>`` on it with an address: what a node carrying
many guest networks looks like.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from provider.node import dialect
from provider.node.client import NodeView
from provider.node.model import Spec, require_interfaces
from provider.node.plan import fresh_plan, plan
from provider.node.resource import render_set
from provider.node.transaction import Snapshot, resolve, snapshot
from provider.node.wire import stanza_of, to_params
from simulator.api import Request
from simulator.cluster import Cluster
from simulator.node import installer_interfaces
from simulator.testing import running_simulator

NODE = "pve1"
NICS = ["eno1", "eno2", "eno3", "eno4"]
INSTALLER = installer_interfaces(NICS, "192.168.10.2/24", "192.168.10.1")
SIZES = (10, 100, 1000, 3000)


# --- the interfaces --------------------------------------------------------------------------


def interface_set(size: int, first: int = 1) -> list[Spec]:
    """``size`` interfaces: bond0 (eno2, eno3), then VLAN ``bond0.i`` and bridge ``vmbr<i>``
    on it (with an address) for i from ``first``, until there are ``size``."""
    raw: list[dict[str, Any]] = [
        {"iface": "bond0", "type": "bond", "slaves": ["eno2", "eno3"], "bond_mode": "802.3ad"}
    ]
    index = first
    while len(raw) < size:
        raw.append({"iface": f"bond0.{index}", "type": "vlan"})
        raw.append(
            {
                "iface": f"vmbr{index}",
                "type": "bridge",
                "bridge_ports": [f"bond0.{index}"],
                "cidr": f"10.{index // 250}.{index % 250}.1/24",
                "comments": f"guest network {index}",
            }
        )
        index += 1
    return require_interfaces(raw[:size])


def node_text(specs: list[Spec]) -> str:
    """The interfaces file of the installer's node with ``specs`` added, as Proxmox writes it."""
    config = dialect.parse(INSTALLER, NICS)
    config.ifaces.update({spec.iface: stanza_of(spec) for spec in specs})
    return dialect.render(config)


def _cluster(state: Path, text: str) -> Cluster:
    return Cluster(state, [NODE], NICS, text)


def _view(cluster: Cluster) -> Snapshot:
    """``GET /nodes/pve1/network`` in the planner's terms, as the transaction reads it."""
    reply = cluster.handle(Request("GET", f"/nodes/{NODE}/network", {}))
    items = {item["iface"]: item for item in reply.data}
    return snapshot(NodeView(items, reply.extra.get("changes")))


def _targets(specs: list[Spec], before: list[Spec], current: Snapshot) -> dict[str, Spec | None]:
    """The set's targets, with the interfaces of ``before`` it drops deleted."""
    targets: dict[str, Spec | None] = {spec.iface: spec for spec in specs}
    for spec in before:
        targets.setdefault(spec.iface, None)
    return resolve(targets, current.specs)


# --- timing ---------------------------------------------------------------------------------


def cpu_ms(run: Callable[..., object], args: tuple[object, ...], repeat: int = 1) -> str:
    """The least CPU time of ``repeat`` calls ``run(*args)``, as a figure in milliseconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        run(*args)
        best = min(best, time.process_time() - start)
    return f"{best * 1000:9.1f} ms CPU"


def p50_ms(run: Callable[[int], object], samples: int) -> str:
    """The median wall-clock time of ``samples`` calls ``run(0)``, ``run(1)``, ... in ms."""
    times = []
    for index in range(samples):
        start = time.perf_counter()
        run(index)
        times.append(time.perf_counter() - start)
    return f"{statistics.median(times) * 1000:9.1f} ms p50"


def _repeat(size: int) -> int:
    return 5 if size <= 100 else 3 if size <= 1000 else 1


def core_rows(sizes: tuple[int, ...]) -> Iterator[tuple[str, str]]:
    """(label, figure) for the planner and the renderer at each size."""
    with tempfile.TemporaryDirectory(prefix="bench-") as state:
        installed = _cluster(Path(state) / "fresh", INSTALLER)
        fresh = _view(installed)
        for size in sizes:
            inputs = (fresh.links, fresh.specs, _targets(interface_set(size), [], fresh))
            yield (
                f"plan {size} interfaces on a fresh node",
                cpu_ms(fresh_plan, inputs, _repeat(size)),
            )
        again = _view(installed)
        inputs = (again.links, again.specs, _targets(interface_set(sizes[-1]), [], again))
        plan(fresh.links, fresh.specs, _targets(interface_set(sizes[-1]), [], fresh))
        yield (
            f"plan {sizes[-1]} again, the node read again (check, then create)",
            cpu_ms(plan, inputs),
        )
        for size in sizes:
            old = interface_set(size)
            current = _view(_cluster(Path(state) / f"n{size}", node_text(old)))
            new = old[: size // 2] + interface_set(size - size // 2 + 1, first=size)[1:]
            inputs = (current.links, current.specs, _targets(new, old, current))
            yield (
                f"plan: replace half of {size} interfaces",
                cpu_ms(fresh_plan, inputs, _repeat(size)),
            )
        for size in sizes:
            yield (
                f"render {size} interfaces",
                cpu_ms(render_set, (interface_set(size),), _repeat(size)),
            )


# --- the simulator --------------------------------------------------------------------------


Call = Callable[[str, str, Mapping[str, Any]], Any]
"""One API request: method, path below ``/nodes/pve1``, parameters; returns the data."""


def _requests(call: Call, size: int, samples: int) -> Iterator[tuple[str, str]]:
    """(what, p50) for reads and writes on a node that runs ``interface_set(size)``."""
    bridges = [spec for spec in interface_set(size) if spec.type == "bridge"]

    def list_all(_: int) -> None:
        call("GET", "/network", {})

    def read_one(_: int) -> None:
        call("GET", "/network/vmbr1", {})

    def put(index: int) -> None:
        spec = bridges[index % len(bridges)]
        changed = spec.model_copy(update={"comments": f"changed {index}"})
        call("PUT", f"/network/{spec.iface}", to_params(changed, spec))

    def post(index: int) -> None:
        call("POST", "/network", {"iface": f"eno4.{index + 1}", "type": "vlan"})

    def delete(index: int) -> None:
        call("DELETE", f"/network/eno4.{index + 1}", {})

    for what, run in (
        ("read: GET network, nothing staged", list_all),
        ("read: GET one interface", read_one),
        ("write: PUT an interface", put),
        ("read: GET network, changes staged", list_all),
        ("write: POST a new VLAN", post),
        ("write: DELETE an interface", delete),
    ):
        yield what, p50_ms(run, samples)
    call("DELETE", "/network", {})  # revert: nothing staged


def simulator_rows(size: int, samples: int) -> Iterator[tuple[str, str]]:
    """(label, figure) for the simulator's requests on a node of ``size`` interfaces."""
    text = node_text(interface_set(size))
    with tempfile.TemporaryDirectory(prefix="bench-") as state:
        cluster = _cluster(Path(state), text)

        def in_process(method: str, path: str, params: Mapping[str, Any]) -> Any:
            form = {k: str(v) for k, v in params.items()}
            return cluster.handle(Request(method, f"/nodes/{NODE}{path}", form)).data

        for what, figure in _requests(in_process, size, samples):
            yield f"simulator in process, {size}: {what}", figure
    with running_simulator(nodes=(NODE,), nics=NICS, interfaces=text) as sim:
        api = sim.proxmox()

        def over_https(method: str, path: str, params: Mapping[str, Any]) -> Any:
            target = api.nodes(NODE)
            for part in path.strip("/").split("/"):
                target = target(part)
            return getattr(target, method.lower())(**params)

        sim.requests.clear()
        for what, figure in _requests(over_https, size, samples):
            server = statistics.median(entry.ms for entry in sim.requests.entries())
            sim.requests.clear()
            yield f"simulator over HTTPS, {size}: {what}", figure
            yield "  the server's own time (request log) of those", f"{server:9.1f} ms p50"


# --- the table -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Print the table (one row a figure, as each is measured)."""
    parser = argparse.ArgumentParser(prog="python -m bench.core", description=__doc__)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--node-size", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=25)
    args = parser.parse_args(argv)
    sizes = tuple(int(size) for size in args.sizes.split(","))
    width = 70
    print(f"{'what':<{width}} {'figure':>16}")
    print("-" * (width + 17))
    for label, figure in itertools.chain(
        core_rows(sizes), simulator_rows(args.node_size, args.samples)
    ):
        print(f"{label:<{width}} {figure:>16}", flush=True)


if __name__ == "__main__":
    main()
