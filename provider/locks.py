"""Locks that keep two pvenet changes off the same node, or the same SDN config, at once.

Proxmox's network API has no lock a client can hold across calls: staging takes a
file lock per request only, and neither apply nor revert takes one (no digest either).
Two runs that stage on one node at the same time would each apply the other's half-done
change. pvenet therefore serialises its own changes:

- between threads of one provider process, with a ``threading.Lock``;
- between pvenet processes on one machine (two stacks deployed at once, a second
  ``pulumi up``), with an ``flock`` on a file of pvenet's in the user's runtime
  directory (``$XDG_RUNTIME_DIR``, else the system's temporary directory);

both held for a whole transaction. Processes on different machines are caught by the
transactions themselves: before every apply they read the staged diff back and apply
only if it is exactly their own (``provider.node.transaction``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

_thread_locks: dict[str, threading.Lock] = {}
_thread_locks_guard = threading.Lock()


def _thread_lock(key: str) -> threading.Lock:
    with _thread_locks_guard:
        return _thread_locks.setdefault(key, threading.Lock())


def lock_directory() -> Path:
    """Where pvenet's lock files live (created, private to the user)."""
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    directory = Path(base) / f"pvenet-locks-{os.getuid()}"
    directory.mkdir(mode=0o700, exist_ok=True)
    return directory


@contextmanager
def _held(key: str) -> Iterator[None]:
    """This process's lock for ``key``, then the machine-wide one."""
    name = hashlib.sha256(key.encode()).hexdigest()[:24] + ".lock"
    with _thread_lock(key), open(lock_directory() / name, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@contextmanager
def node_change(endpoint: str, *nodes: str) -> Iterator[None]:
    """Held while pvenet changes these nodes' interfaces (in name order: no two changes
    wait on each other)."""
    with ExitStack() as stack:
        for node in sorted(set(nodes)):
            stack.enter_context(_held(f"{endpoint}/nodes/{node}"))
        yield


@contextmanager
def sdn_change(endpoint: str) -> Iterator[None]:
    """Held while pvenet changes the cluster's SDN config (taken before any node's lock)."""
    with _held(f"{endpoint}/sdn"):
        yield
