"""Two pvenet runs on one node never apply each other's staged changes.

On one machine the runs take turns (``provider.locks``): two processes creating sets on one
node at the same time each apply only their own interfaces. From two machines nothing can
make them take turns, so every run reads the staged diff back right before its apply: when
another client staged something meanwhile, it takes its own writes back, applies nothing,
and says what is staged.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from components.project import PROJECT_ROOT
from provider.errors import ForeignPendingChanges
from provider.node.resource import NodeInterfacesProvider
from simulator.faults import Fault
from simulator.node import INTERFACES_NEW
from simulator.testing import SimulatorHandle
from tests.provider.conftest import stack_config

NETWORK = "/nodes/pve1/network"
RUNS = 4  # sets each process creates, one after the other
CREATE_SETS = """
import json, sys
from pulumi.dynamic import Config, ConfigureRequest
from provider.node.resource import NodeInterfacesProvider
config, prefix, runs = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
provider = NodeInterfacesProvider()
provider.configure(ConfigureRequest(Config(config, "pvenet")))
for run in range(runs):
    bridges = [{"iface": f"{prefix}{run}{n}", "type": "bridge"} for n in range(3)]
    checked = provider.check({}, {"node": "pve1", "interfaces": bridges})
    assert not checked.failures, checked.failures
    provider.create(dict(checked.inputs))
"""


def _staged_between_applies(sim: SimulatorHandle) -> list[set[str]]:
    """For each apply, the first letters of the interfaces staged since the previous one."""
    batches: list[set[str]] = [set()]
    for entry in sim.requests.entries():
        if entry.method == "PUT" and entry.path == NETWORK:
            batches.append(set())
        elif entry.method == "POST" and entry.path == NETWORK:
            batches[-1].add(str(entry.params["iface"])[:5])
    return batches[:-1]  # the last one holds what was staged after the last apply


def test_two_processes_on_one_machine_apply_only_their_own_sets(
    simulator: SimulatorHandle, tmp_path: Path
) -> None:
    """Each apply carries the writes of one process only, and both processes' sets end up
    live: the processes took turns on the node."""
    config = json.dumps(stack_config(simulator))
    # every staging write takes a while, so two runs that did not take turns would overlap
    simulator.faults.arm(Fault("delay", method="POST", path=NETWORK, times=6 * RUNS, seconds=0.1))
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}  # the machine's lock files
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", CREATE_SETS, config, prefix, str(RUNS)],
            cwd=PROJECT_ROOT,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prefix in ("vmbra", "vmbrb")
    ]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    batches = _staged_between_applies(simulator)
    assert len(batches) == 2 * RUNS
    assert [len(batch) for batch in batches] == [1] * len(batches), batches
    live = simulator.proxmox().nodes("pve1").network.get()
    assert len([i for i in live if str(i["iface"]).startswith(("vmbra", "vmbrb"))]) == 6 * RUNS


def test_changes_staged_by_another_client_meanwhile_are_not_applied(
    simulator: SimulatorHandle, node_interfaces: NodeInterfacesProvider
) -> None:
    """While pvenet stages vmbr6 and vmbr7, another client stages vmbr9. pvenet's read-back
    before the apply sees it: it takes its own writes back, applies nothing, and shows the
    staged diff; vmbr9 stays staged for its owner."""
    # the third read of the node: after check's and the transaction's own, the one before apply
    simulator.faults.arm(Fault("delay", method="GET", path=NETWORK, nth=3, seconds=0.5))

    def other_client() -> None:
        deadline = time.monotonic() + 10
        while simulator.requests.count(method="POST", path_glob=NETWORK) < 2:
            if time.monotonic() > deadline:
                return
            time.sleep(0.01)
        simulator.proxmox().nodes("pve1").network.post(iface="vmbr9", type="bridge")

    intruder = threading.Thread(target=other_client)
    intruder.start()
    bridges = [{"iface": "vmbr6", "type": "bridge"}, {"iface": "vmbr7", "type": "bridge"}]
    inputs = node_interfaces.check({}, {"node": "pve1", "interfaces": bridges}).inputs
    with pytest.raises(ForeignPendingChanges) as caught:
        node_interfaces.create(dict(inputs))
    intruder.join()
    message = str(caught.value)
    assert message.startswith(
        "pve1: while pvenet staged its change, someone else staged changes to vmbr9"
    )
    assert "took its own staged changes to vmbr6, vmbr7 back and applied nothing" in message
    assert "+iface vmbr9 inet manual" in message
    staged = simulator.files()[INTERFACES_NEW] or ""
    assert "iface vmbr9" in staged
    assert "vmbr6" not in staged
    assert "vmbr7" not in staged
    assert simulator.requests.count(method="PUT", path_glob=NETWORK) == 0
