"""SSH keys of the simulated nodes and of the one client they all trust, kept in the state dir.

``<state>/ssh/``:

``host_<node>_ed25519``   each node's host key (stable across restarts, as on a real node)
``client_ed25519``        the client key every node authorises for ``root`` (mode 0600),
                          with ``client_ed25519.pub``
``known_hosts``           ``[127.0.0.1]:<port> ssh-ed25519 ...`` per node, rewritten at start
``addresses.json``        ``{"pve1": "127.0.0.1:<port>", ...}`` of the running server (removed
                          when it stops)

:func:`ssh_environment` turns these into the settings the provider reads
(``PVENET_SSH_USER``, ``PVENET_SSH_KEY``, ``PVENET_SSH_KNOWN_HOSTS``,
``PVENET_SSH_ADDRESSES``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import asyncssh

SSH_DIR = "ssh"
CLIENT_KEY = "client_ed25519"
KNOWN_HOSTS = "known_hosts"
ADDRESSES = "addresses.json"
USER = "root"
KEY_TYPE = "ssh-ed25519"


def _key(path: Path) -> asyncssh.SSHKey:
    """The private key in ``path``, made (mode 0600) when there is none yet."""
    if path.exists():
        return asyncssh.read_private_key(str(path))
    key = asyncssh.generate_private_key(KEY_TYPE)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key.export_private_key("openssh"))
    path.with_name(path.name + ".pub").write_bytes(key.export_public_key("openssh"))
    return key


@dataclass
class Keys:
    """The keys of one state dir: each node's host key and the trusted client key."""

    directory: Path
    hosts: dict[str, asyncssh.SSHKey]
    client: asyncssh.SSHKey

    @property
    def client_file(self) -> Path:
        """The client's private key (what ``PVENET_SSH_KEY`` names)."""
        return self.directory / CLIENT_KEY

    @property
    def known_hosts_file(self) -> Path:
        """The known_hosts file pinning each node's host key at its address."""
        return self.directory / KNOWN_HOSTS

    def publish(self, addresses: dict[str, tuple[str, int]]) -> None:
        """Write ``known_hosts`` and ``addresses.json`` for the nodes listening at ``addresses``."""
        lines = []
        for node, (host, port) in sorted(addresses.items()):
            public = self.hosts[node].export_public_key("openssh").decode().split()[:2]
            lines.append(f"[{host}]:{port} {' '.join(public)}\n")
        self.known_hosts_file.write_text("".join(lines))
        table = {node: f"{host}:{port}" for node, (host, port) in sorted(addresses.items())}
        (self.directory / ADDRESSES).write_text(json.dumps(table, indent=2) + "\n")

    def withdraw(self) -> None:
        """Remove ``addresses.json``: no server listens at those addresses any more."""
        (self.directory / ADDRESSES).unlink(missing_ok=True)


def ensure_keys(state_dir: Path, nodes: list[str]) -> Keys:
    """The keys in ``state_dir`` (made on first use), one host key per node in ``nodes``."""
    directory = Path(state_dir) / SSH_DIR
    hosts = {node: _key(directory / f"host_{node}_ed25519") for node in nodes}
    return Keys(directory, hosts, _key(directory / CLIENT_KEY))


def ssh_environment(state_dir: Path) -> dict[str, str]:
    """The provider's SSH settings for the server running on ``state_dir`` ({} if none)."""
    directory = Path(state_dir) / SSH_DIR
    try:
        addresses = json.loads((directory / ADDRESSES).read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return {
        "PVENET_SSH_USER": USER,
        "PVENET_SSH_KEY": str((directory / CLIENT_KEY).resolve()),
        "PVENET_SSH_KNOWN_HOSTS": str((directory / KNOWN_HOSTS).resolve()),
        "PVENET_SSH_ADDRESSES": ",".join(f"{node}={addr}" for node, addr in addresses.items()),
    }
