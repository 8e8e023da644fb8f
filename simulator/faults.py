"""Fault injection: make the k-th matching request fail the way real nodes and networks do.

A fault is armed with a kind, a request matcher (method and a glob on the path
relative to ``/api2/json``) and ``nth``: the fault fires on the nth matching
request after it was armed, and on the ``times - 1`` matching requests after
that. Kinds:

``error``         answer with HTTP ``status`` (500) and ``message``
``drop``          close the connection without an answer; the request is not carried out
``lost``          carry the request out, then close the connection without an answer
``delay``         wait ``seconds`` before carrying it out and answering (a client that gave
                  up sooner sees no answer, and the request lands after it gave up)
``lock-timeout``  "can't lock file '/etc/network/.pve-interfaces.lock' - got timeout"
``task-fail``     the apply task started by the request fails with ``message``
``ignore``        the apply started by the request leaves out the option ``setting`` (a
                  line such as ``mtu``) from every stanza it makes live, silently: the node
                  then runs without it and reports so

The nodes' SSH face (``simulator.ssh.server``) counts its connections as ``CONNECT
/nodes/<node>/ssh`` and its commands as ``SSH /nodes/<node>/ssh/<command line>``; a fault
matches those only when its method names them exactly (``"*"`` stays with the API).
There ``drop`` refuses a connection or closes the channel before the command runs,
``lost`` runs it and closes the channel without an exit status, ``delay`` waits and
``error`` fails the command (status 1, ``message`` on stderr).

Faults are kept in ``faults.json`` in the state directory and re-read when the
file changes, so ``python -m simulator fault ...`` can arm them in a running
server; from Python use ``Faults.arm``.
"""

from __future__ import annotations

import fcntl
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from simulator.api import Request

FAULT_KINDS = ("error", "drop", "lost", "delay", "lock-timeout", "task-fail", "ignore")
IFRELOAD_FAILED = "command 'ifreload -a' failed: exit code 1"
SSH_METHODS = ("SSH", "CONNECT")
"""The methods of the SSH face's requests: faults name them exactly to match them."""


@dataclass
class Fault:
    """One armed fault and how many matching requests it has seen."""

    kind: str
    method: str = "*"
    path: str = "*"
    nth: int = 1
    times: int = 1
    status: int = 500
    message: str = "Internal Server Error"
    seconds: float = 0.0
    setting: str = ""
    seen: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind '{self.kind}' (one of {', '.join(FAULT_KINDS)})")
        if self.nth < 1 or self.times < 1:
            raise ValueError("nth and times count from 1")
        if self.kind == "task-fail" and self.message == "Internal Server Error":
            self.message = IFRELOAD_FAILED
        if self.kind == "ignore" and not self.setting:
            raise ValueError("an 'ignore' fault needs the setting the node leaves out")

    def matches(self, request: Request) -> bool:
        """Whether ``request`` is one this fault counts."""
        if request.method in SSH_METHODS and self.method.upper() != request.method:
            return False
        return fnmatchcase(request.method, self.method.upper()) and fnmatchcase(
            request.path, self.path
        )

    @property
    def spent(self) -> bool:
        """Whether the fault has fired as often as it was armed to."""
        return self.seen >= self.nth + self.times - 1


class Faults:
    """The armed faults of one cluster, persisted in ``path``."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._mtime: int | None = None

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """Hold this process's lock and a file lock shared with `python -m simulator fault`."""
        with self._lock:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            with open(self._path.with_name(self._path.name + ".lock"), "w") as lock_file:
                fcntl.flock(lock_file, fcntl.LOCK_EX)
                yield

    def _reload(self) -> None:
        try:
            mtime = self._path.stat().st_mtime_ns
        except FileNotFoundError:
            self._faults, self._mtime = [], None
            return
        if mtime != self._mtime:
            self._faults = [Fault(**spec) for spec in json.loads(self._path.read_text())]
            self._mtime = mtime

    def _save(self) -> None:
        self._path.write_text(json.dumps([asdict(f) for f in self._faults], indent=2) + "\n")
        self._mtime = self._path.stat().st_mtime_ns

    def arm(self, fault: Fault) -> Fault:
        """Add ``fault``; it counts requests from now on."""
        with self._exclusive():
            self._reload()
            self._faults.append(fault)
            self._save()
        return fault

    def clear(self) -> None:
        """Disarm every fault."""
        with self._exclusive():
            self._faults = []
            self._save()

    def armed(self) -> list[Fault]:
        """The faults that have not fired as often as armed."""
        with self._exclusive():
            self._reload()
            return [f for f in self._faults if not f.spent]

    def take(self, request: Request) -> Fault | None:
        """Count ``request`` against every armed fault; return the one that fires, if any."""
        with self._exclusive():
            self._reload()
            fired = None
            changed = False
            for fault in self._faults:
                if fault.spent or not fault.matches(request):
                    continue
                fault.seen += 1
                changed = True
                if fired is None and fault.seen >= fault.nth:
                    fired = fault
            if changed:
                self._save()
            return fired
