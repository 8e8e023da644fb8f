"""Fidelity: the node's task index (GET /nodes/{node}/tasks), as pve-manager's Tasks.pm lists it."""

from __future__ import annotations

import itertools
import time

import pytest

from simulator.faults import Fault
from tests.simulator.conftest import NodeApi


def test_index_lists_finished_tasks_newest_first_with_exit_status(api: NodeApi) -> None:
    """Each reload appears with its type, user, end time and status ("OK" or the error)."""
    api.ok("POST", "/network", iface="vmbr1", type="bridge")
    ok = api.ok("PUT", "/network")
    api.cluster.faults.arm(Fault("task-fail", method="PUT", path="/nodes/pve1/network"))
    failed = api.ok("PUT", "/network")
    listed = api.ok("GET", "/tasks", typefilter="srvreload")
    assert [t["upid"] for t in listed] == [failed, ok]
    assert [t["status"] for t in listed] == ["command 'ifreload -a' failed: exit code 1", "OK"]
    assert {(t["type"], t["id"], t["user"], t["node"]) for t in listed} == {
        ("srvreload", "networking", "root@pam", "pve1")
    }
    assert all(t["endtime"] >= t["starttime"] for t in listed)


def test_index_filters(api: NodeApi) -> None:
    """errors=1 keeps failed tasks only; since= drops older ones; typefilter matches exactly."""
    api.ok("PUT", "/network")
    api.cluster.faults.arm(Fault("task-fail", method="PUT", path="/nodes/pve1/network"))
    failed = api.ok("PUT", "/network")
    assert [t["upid"] for t in api.ok("GET", "/tasks", errors=1)] == [failed]
    assert api.ok("GET", "/tasks", since=4_000_000_000) == []
    assert api.ok("GET", "/tasks", typefilter="srvreloa") == []
    assert api.call("GET", "/tasks", source="everything").errors == {
        "source": "value 'everything' does not have a value in the enumeration "
        "'archive, active, all'"
    }


def test_an_sdn_apply_starts_before_the_node_reloads_it_runs(
    api: NodeApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``reloadnetworkall`` forks first and reloads each node from inside, so listing the
    node's ``srvreload`` tasks ``since`` the apply's start time finds them, even when the
    reloads take the clock past a second (each clock reading here is a second later)."""
    clock = itertools.count(1_800_000_000)
    monkeypatch.setattr(time, "time", lambda: float(next(clock)))
    upid = api.ok("PUT", "//cluster/sdn")
    since = int(upid.split(":")[4], 16)
    reloads = api.ok("GET", "/tasks", typefilter="srvreload", since=since)
    assert [t["type"] for t in reloads] == ["srvreload"]
