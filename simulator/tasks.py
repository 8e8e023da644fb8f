"""Worker tasks: UPIDs, ``/nodes/{node}/tasks/{upid}/status`` and ``/log``.

Proxmox runs long operations (a network reload, an SDN apply) in a forked
worker and answers with its UPID; clients poll the status until it is
``stopped`` and read ``exitstatus`` ("OK" or the error). The simulator does the
work at once but can report a task as ``running`` for ``duration`` seconds, so
clients exercise their wait loops.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.api import Reply, Request, Router
from simulator.errors import die
from simulator.schema import Param, split_list, validate

if TYPE_CHECKING:
    from simulator.cluster import Cluster

_pids = itertools.count(os.getpid() * 16 % 0x3FFFFF + 1000)


@dataclass
class Task:
    """A worker task as Proxmox records it."""

    upid: str
    node: str
    pid: int
    pstart: int
    starttime: int
    type: str
    id: str
    user: str
    log: list[str] = field(default_factory=list)
    exitstatus: str = "OK"
    ends_at: float = 0.0

    @property
    def running(self) -> bool:
        """Whether the task still reports ``running``."""
        return time.time() < self.ends_at


class Tasks:
    """Task registry persisted under ``directory`` (one JSON file per task)."""

    def __init__(self, directory: Path) -> None:
        self._dir = directory
        self._dir.mkdir(parents=True, exist_ok=True)
        self.duration = 0.0

    def _file(self, upid: str) -> Path:
        return self._dir / (upid.replace(":", "_") + ".json")

    def start(
        self,
        node: str,
        kind: str,
        ident: str,
        user: str,
        log: list[str],
        error: str | None,
        began: float | None = None,
    ) -> Task:
        """Record a task that did its work; ``error`` is its failure, None for success.

        ``began`` (``time.time()`` when the worker started, default now) backdates a task
        whose work started other tasks: Proxmox forks the worker first, so its start time
        is never later than theirs.
        """
        pid = next(_pids)
        wall = time.time()
        began = wall if began is None else began
        now = int(began)
        pstart = int((time.monotonic() - (wall - began)) * 100)
        upid = f"UPID:{node}:{pid:08X}:{pstart:08X}:{now:08X}:{kind}:{ident}:{user}:"
        lines = [*log, f"TASK ERROR: {error}" if error else "TASK OK"]
        task = Task(
            upid=upid,
            node=node,
            pid=pid,
            pstart=pstart,
            starttime=now,
            type=kind,
            id=ident,
            user=user,
            log=lines,
            exitstatus=error or "OK",
            ends_at=time.time() + self.duration,
        )
        self._file(upid).write_text(json.dumps(asdict(task)))
        return task

    def on(self, node: str) -> list[Task]:
        """The node's tasks, newest first (as the node's task index lists them)."""
        tasks = [Task(**json.loads(path.read_text())) for path in self._dir.glob("*.json")]
        mine = [task for task in tasks if task.node == node]
        return sorted(mine, key=lambda task: (task.starttime, task.pstart, task.pid), reverse=True)

    def get(self, node: str, upid: str) -> Task:
        """The task with ``upid`` on ``node``, or Proxmox's error for an unknown one."""
        if not upid.startswith("UPID:"):
            raise die(f"unable to parse worker upid '{upid}'")
        path = self._file(upid)
        if not path.exists():
            raise die(f"no such task: {upid}")
        task = Task(**json.loads(path.read_text()))
        if task.node != node:
            raise die(f"no such task: {upid}")
        return task


def register(router: Router, cluster: Cluster) -> None:
    """Add the task status and log endpoints to ``router``."""

    def status(request: Request, node: str, upid: str) -> Reply:
        validate({**request.params, "node": node, "upid": upid}, _STATUS)
        cluster.node(node)
        task = cluster.tasks.get(node, upid)
        data = {**_identity(task), "status": "running" if task.running else "stopped"}
        if not task.running:
            data["exitstatus"] = task.exitstatus
        return Reply(data)

    def log(request: Request, node: str, upid: str) -> Reply:
        validate({**request.params, "node": node, "upid": upid}, _LOG)
        cluster.node(node)
        task = cluster.tasks.get(node, upid)
        lines = task.log[:-1] if task.running else task.log
        start = int(request.params.get("start", 0))
        limit = int(request.params.get("limit", 50))
        page = lines[start : start + limit]
        return Reply(
            [{"n": start + i + 1, "t": text} for i, text in enumerate(page)],
            {"total": len(lines)},
        )

    def index(request: Request, node: str) -> Reply:
        params = validate({**request.params, "node": node}, _INDEX)
        cluster.node(node)
        running = params.get("source") == "active"
        found = [
            _listed(task)
            for task in cluster.tasks.on(node)
            if _selected(task, params) and (task.running or not running)
        ]
        start = int(params.get("start", 0))
        limit = int(params.get("limit", 50))
        return Reply(found[start : start + limit], {"total": len(found)})

    router.add("GET", "/nodes/{node}/tasks", index)
    router.add("GET", "/nodes/{node}/tasks/{upid}/status", status)
    router.add("GET", "/nodes/{node}/tasks/{upid}/log", log)


def _status_type(task: Task) -> str:
    """PVE's classes of exit status: ok, warning, error."""
    if task.exitstatus == "OK":
        return "ok"
    return "warning" if task.exitstatus.startswith("WARNINGS") else "error"


def _selected(task: Task, params: Mapping[str, Any]) -> bool:
    """Whether a task passes the index's filters."""
    if params.get("userfilter") and str(params["userfilter"]).lower() not in task.user.lower():
        return False
    if params.get("typefilter") and task.type != params["typefilter"]:
        return False
    if params.get("since") is not None and task.starttime < int(params["since"]):
        return False
    if params.get("until") is not None and task.starttime > int(params["until"]):
        return False
    if task.running:
        return True
    wanted = {"ok", "warning", "error", "unknown"}
    if str(params.get("errors")) == "1":
        wanted.discard("ok")
    elif params.get("statusfilter"):
        wanted = {s.lower() for s in split_list(str(params["statusfilter"]))}
    return _status_type(task) in wanted


def _identity(task: Task) -> dict[str, Any]:
    """The fields that identify a task in the status and the index answers."""
    return {
        "upid": task.upid,
        "node": task.node,
        "pid": task.pid,
        "pstart": task.pstart,
        "starttime": task.starttime,
        "type": task.type,
        "id": task.id,
        "user": task.user,
    }


def _listed(task: Task) -> dict[str, Any]:
    """A task as the index lists it: finished ones with end time and exit status."""
    entry = _identity(task)
    if not task.running:
        entry["endtime"] = int(task.ends_at) if task.ends_at else task.starttime
        entry["status"] = task.exitstatus
    return entry


_STATUS = {"node": Param(optional=False, format="pve-node"), "upid": Param(optional=False)}
_INDEX = {
    "node": Param(optional=False, format="pve-node"),
    "start": Param(type="integer", minimum=0),
    "limit": Param(type="integer", minimum=0),
    "userfilter": Param(),
    "typefilter": Param(),
    "vmid": Param(type="integer", minimum=100, maximum=999999999),
    "errors": Param(type="boolean"),
    "source": Param(enum=("archive", "active", "all")),
    "since": Param(type="integer"),
    "until": Param(type="integer"),
    "statusfilter": Param(),
}
_LOG = {
    **_STATUS,
    "start": Param(type="integer", minimum=0),
    "limit": Param(type="integer", minimum=0),
    "download": Param(type="boolean"),
}
