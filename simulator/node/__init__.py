"""One simulated Proxmox node: its files on disk and its kernel's view of the links.

A node's files live under ``<state-dir>/nodes/<name>/`` with the paths they have
on a real node (``etc/network/interfaces``, ``etc/network/interfaces.new``,
``etc/network/interfaces.d/sdn``), so a person can read them and a restart
finds them again. ``active.json`` records which interfaces the last successful
``ifreload -a`` brought up, and ``applied-interfaces`` the file it brought them
up from: what the node's kernel (its routes) currently follows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

INTERFACES = "/etc/network/interfaces"
INTERFACES_NEW = "/etc/network/interfaces.new"
SDN_INTERFACES = "/etc/network/interfaces.d/sdn"
NODE_FILES = (INTERFACES, INTERFACES_NEW, SDN_INTERFACES)
APPLIED = "/applied-interfaces"  # the simulator's record of the kernel's state, not a node file

INSTALLER_TEMPLATE = """\
auto lo
iface lo inet loopback

iface {uplink} inet manual

auto vmbr0
iface vmbr0 inet static
	address {address}
	gateway {gateway}
	bridge-ports {uplink}
	bridge-stp off
	bridge-fd 0

{others}source /etc/network/interfaces.d/*
"""


def read_bytes_as_text(path: Path) -> str:
    """A file's bytes as text, line ends untouched (Proxmox reads bytes: a CRLF stays CRLF).

    Bytes that are not UTF-8 are kept as surrogates, so writing the text back
    with ``text_as_bytes`` restores them.
    """
    return path.read_bytes().decode("utf-8", "surrogateescape")


def text_as_bytes(text: str) -> bytes:
    """The bytes ``read_bytes_as_text`` read ``text`` from."""
    return text.encode("utf-8", "surrogateescape")


def installer_interfaces(nics: list[str], address: str, gateway: str) -> str:
    """The file the Proxmox installer writes: vmbr0 on the first NIC, the others unused."""
    others = "".join(f"iface {nic} inet manual\n\n" for nic in nics[1:])
    return INSTALLER_TEMPLATE.format(
        uplink=nics[0], address=address, gateway=gateway, others=others
    )


class Node:
    """A node's name, physical NICs and files; all file access goes through here."""

    def __init__(self, name: str, nics: list[str], root: Path) -> None:
        self.name = name
        self.nics = list(nics)
        self.root = root

    def host_path(self, path: str) -> Path:
        """Where the node's file at ``path`` lives in the state directory."""
        return self.root / path.lstrip("/")

    def read(self, path: str) -> str | None:
        """The text of the node's file at ``path``, or None when it does not exist."""
        host = self.host_path(path)
        return read_bytes_as_text(host) if host.exists() else None

    def write(self, path: str, text: str) -> None:
        """Replace the node's file at ``path`` atomically (tmp file + rename, as PVE does)."""
        host = self.host_path(path)
        host.parent.mkdir(parents=True, exist_ok=True)
        tmp = host.with_name(host.name + ".tmp")
        tmp.write_bytes(text_as_bytes(text))
        os.replace(tmp, host)

    def remove(self, path: str) -> None:
        """Delete the node's file at ``path`` if it exists."""
        self.host_path(path).unlink(missing_ok=True)

    def rename(self, src: str, dst: str) -> None:
        """rename(2) of one node file over another."""
        os.replace(self.host_path(src), self.host_path(dst))

    def exists(self, path: str) -> bool:
        """Whether the node's file at ``path`` exists."""
        return self.host_path(path).exists()

    def mtime_ns(self, path: str) -> int | None:
        """Modification time of the node's file at ``path`` (None when missing)."""
        host = self.host_path(path)
        return host.stat().st_mtime_ns if host.exists() else None

    def files(self) -> dict[str, str | None]:
        """The node's network files by path (None for a missing one)."""
        return {path: self.read(path) for path in NODE_FILES}

    @property
    def active(self) -> set[str]:
        """Interfaces that are up in the node's kernel."""
        text = self.read("/active.json")
        return set(json.loads(text)) if text else set()

    @active.setter
    def active(self, names: set[str]) -> None:
        self.write("/active.json", json.dumps(sorted(names)))

    @property
    def applied(self) -> str:
        """The interfaces file the kernel's state comes from (the last successful reload's).

        It lags the live file while a reload is under way: Proxmox writes the
        SDN file, asking the kernel for routes, before ``ifreload -a`` runs.
        State from before this was recorded falls back to the live file.
        """
        text = self.read(APPLIED)
        return text if text is not None else self.read(INTERFACES) or ""

    @applied.setter
    def applied(self, text: str) -> None:
        self.write(APPLIED, text)
