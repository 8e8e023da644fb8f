"""A node's host side as its SSH face sees it: files, the loaded nft ruleset, sysctls,
routes, systemd units and armed timers.

Files are the node's own (``simulator.node.Node``, under ``<state>/nodes/<node>/``, with
their modes). What lives in a real node's kernel and systemd is kept beside them in
``/host-state.json`` (a simulator record, not a node file: commands cannot see it), so it
survives a simulator restart and tests can read it as they read the node's files.
"""

from __future__ import annotations

import json
import posixpath
import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from simulator.node import Node
from simulator.ssh import nft

STATE_FILE = "/host-state.json"
VISIBLE_ROOTS = ("/etc/", "/usr/", "/lib/", "/var/", "/root/", "/run/", "/tmp/")
"""Where a command may see node files; the simulator's own records sit outside these."""

# Sysctls every node has, with their values at boot (a kernel's defaults).
GLOBAL_SYSCTLS = {"net.ipv4.ip_forward": "0", "net.ipv6.conf.all.forwarding": "0"}
# Per-interface sysctls under net.ipv4.conf.<if>. and their defaults.
INTERFACE_SYSCTLS = {"proxy_arp": "0", "forwarding": "0", "rp_filter": "0"}

_locks: dict[str, threading.RLock] = {}
_locks_guard = threading.Lock()


def node_lock(node: Node) -> threading.RLock:
    """The lock that serialises host-side changes of one node (commands, timers, boot)."""
    with _locks_guard:
        return _locks.setdefault(str(node.root), threading.RLock())


@dataclass
class Timer:
    """An armed transient timer: when it fires (epoch seconds) and the command it runs."""

    deadline: float
    argv: list[str]


@dataclass
class Route:
    """A route in the node's main table, as ``ip -j route show`` reports it."""

    dst: str
    dev: str


@dataclass
class HostState:
    """The runtime state of a node's kernel and systemd (what a reboot loses, and units)."""

    ruleset: list[dict[str, Any]] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    loaded_units: list[str] = field(default_factory=list)
    enabled_units: list[str] = field(default_factory=list)
    active_units: list[str] = field(default_factory=list)
    timers: dict[str, Timer] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HostState:
        """The state :meth:`to_json` wrote."""
        return cls(
            ruleset=list(data.get("ruleset", [])),
            sysctls=dict(data.get("sysctls", {})),
            routes=[Route(**r) for r in data.get("routes", [])],
            loaded_units=list(data.get("loaded_units", [])),
            enabled_units=list(data.get("enabled_units", [])),
            active_units=list(data.get("active_units", [])),
            timers={unit: Timer(**t) for unit, t in data.get("timers", {}).items()},
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data for the state file."""
        return asdict(self)


class Host:
    """One node's host side: its files (through ``Node``) and its persisted ``HostState``."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.state = HostState()
        self.reload()

    @property
    def name(self) -> str:
        """The node's name."""
        return self.node.name

    def reload(self) -> None:
        """Read the runtime state again (another command changed it meanwhile), into the same
        object: a command that holds ``state`` (systemctl running a unit whose ExecStart is
        ``ifreload -a``) then sees, and saves, what the others did."""
        text = self.node.read(STATE_FILE)
        fresh = HostState.from_json(json.loads(text)) if text else HostState()
        for name in (f.name for f in fields(HostState)):
            setattr(self.state, name, getattr(fresh, name))

    def save(self) -> None:
        """Persist the runtime state (after every command that changed it)."""
        self.node.write(STATE_FILE, json.dumps(self.state.to_json(), indent=1) + "\n")

    # -- files ------------------------------------------------------------------------------

    @staticmethod
    def normal(path: str) -> str:
        """``path`` with ``.``, ``..`` and doubled slashes resolved (relative paths from /root)."""
        return posixpath.normpath(posixpath.join("/root", path))

    def visible(self, path: str) -> bool:
        """Whether ``path`` is somewhere commands may look (not a simulator record)."""
        return any((self.normal(path) + "/").startswith(root) for root in VISIBLE_ROOTS)

    def is_file(self, path: str) -> bool:
        """Whether a regular file exists at ``path``."""
        return self.visible(path) and self.node.host_path(self.normal(path)).is_file()

    def is_dir(self, path: str) -> bool:
        """Whether a directory exists at ``path``."""
        return self.visible(path) and self.node.host_path(self.normal(path)).is_dir()

    def read(self, path: str) -> str | None:
        """The text of the file at ``path`` (None: no such file)."""
        return self.node.read(self.normal(path)) if self.is_file(path) else None

    def write(self, path: str, text: str, mode: int) -> None:
        """Replace the file at ``path`` with ``text`` and give it ``mode``."""
        self.node.write(self.normal(path), text)
        self.node.host_path(self.normal(path)).chmod(mode)

    def mode(self, path: str) -> int | None:
        """The permission bits of the file at ``path`` (None: no such file)."""
        if not self.is_file(path):
            return None
        return self.node.host_path(self.normal(path)).stat().st_mode & 0o7777

    def executable(self, path: str) -> bool:
        """Whether ``path`` is a file with an execute bit (``[ -x PATH ]``)."""
        mode = self.mode(path)
        return mode is not None and bool(mode & 0o111)

    def remove(self, path: str, recursive: bool) -> str | None:
        """Remove ``path``; the reason (as ``rm`` words it) when it cannot, else None."""
        host = self.node.host_path(self.normal(path))
        if not self.visible(path) or not (host.exists() or host.is_symlink()):
            return "No such file or directory"
        if host.is_dir():
            if not recursive:
                return "Is a directory"
            for child in sorted(host.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if child.is_dir():
                    child.rmdir()
                else:
                    child.unlink()
            host.rmdir()
        else:
            host.unlink()
        return None

    def parent_exists(self, path: str) -> bool:
        """Whether the directory ``path`` would be created in exists."""
        parent = posixpath.dirname(self.normal(path))
        return parent == "/" or self.is_dir(parent)

    # -- the kernel ---------------------------------------------------------------------------

    @property
    def ruleset(self) -> nft.Ruleset:
        """The loaded nftables ruleset."""
        return nft.from_json(self.state.ruleset)

    @ruleset.setter
    def ruleset(self, ruleset: nft.Ruleset) -> None:
        self.state.ruleset = nft.to_json(ruleset)

    def links(self) -> set[str]:
        """The network devices the node's kernel has now (``lo``, its NICs, what is up)."""
        return {"lo", *self.node.nics, *self.node.active}

    def sysctl_default(self, key: str) -> str | None:
        """The boot value of sysctl ``key`` (dotted, interfaces with ``/`` for ``.``); None
        when the kernel has no such key."""
        if key in GLOBAL_SYSCTLS:
            return GLOBAL_SYSCTLS[key]
        parts = key.split(".")
        if len(parts) == 5 and parts[:3] == ["net", "ipv4", "conf"]:
            iface = parts[3].replace("/", ".")
            if parts[4] in INTERFACE_SYSCTLS and (
                iface in ("all", "default") or iface in self.links()
            ):
                return INTERFACE_SYSCTLS[parts[4]]
        return None

    def sysctl(self, key: str) -> str | None:
        """The current value of sysctl ``key`` (None: no such key)."""
        default = self.sysctl_default(key)
        return None if default is None else self.state.sysctls.get(key, default)

    def drop_gone_links(self) -> None:
        """Forget routes and per-interface sysctls of devices that no longer exist."""
        links = self.links()
        self.state.routes = [r for r in self.state.routes if r.dev in links]
        self.state.sysctls = {
            key: value
            for key, value in self.state.sysctls.items()
            if self.sysctl_default(key) is not None
        }

    def power_cycle(self) -> None:
        """What a reboot loses: the ruleset, runtime sysctls, routes, transient timers, and
        which units ran."""
        self.state.ruleset = []
        self.state.sysctls = {}
        self.state.routes = []
        self.state.timers = {}
        self.state.active_units = []
