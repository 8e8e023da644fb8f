"""The SDN configuration on disk, as pve-network keeps it in ``/etc/pve/sdn``.

Proxmox stores the *pending* SDN config in three SectionConfig files
(``zones.cfg``, ``vnets.cfg``, ``subnets.cfg``), the *applied* one as JSON in
``.running-config`` (with a version number that ``PUT /cluster/sdn`` bumps),
the optional global lock token in ``.lock`` and the PVE IPAM's state in
``pve-ipam-state.json``. The simulator keeps the same files under its state
directory, written in the same format, so an object's ``digest`` is the SHA-1
of its file as on a real cluster and a person can read the files.

Values are held as Proxmox holds them after parsing: integers and booleans as
``int`` (SectionConfig adds 0 to them, so the API returns JSON numbers),
``nodes``/``exitnodes`` as ``{node: 1}``, ``dhcp-range`` as a list of
property strings, everything else as ``str``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.schema import split_list

Section = dict[str, Any]
Ids = dict[str, Section]

# Value kinds of the SectionConfig properties (how a value is parsed, stored and written).
INT = "integer"
BOOL = "boolean"
NODES = "nodes"
ARRAY = "array"
STRING = "string"

ZONE_KINDS: Mapping[str, str] = {
    "nodes": NODES,
    "exitnodes": NODES,
    "mtu": INT,
    "tag": INT,
    "vrf-vxlan": INT,
    "vxlan-port": INT,
    "dp-id": INT,
    "bridge-disable-mac-learning": BOOL,
    "exitnodes-local-routing": BOOL,
    "advertise-subnets": BOOL,
    "disable-arp-nd-suppression": BOOL,
}
VNET_KINDS: Mapping[str, str] = {"tag": INT, "vlanaware": BOOL, "isolate-ports": BOOL}
SUBNET_KINDS: Mapping[str, str] = {"snat": BOOL, "dhcp-range": ARRAY}

_DNS = {"dns": False, "reversedns": False, "dnszone": False, "ipam": False}

# options() of each plugin: option name -> required (``optional => 0``).
ZONE_OPTIONS: Mapping[str, Mapping[str, bool]] = {
    "simple": {"nodes": False, "mtu": False, "dhcp": False, **_DNS},
    "vlan": {
        "nodes": False,
        "bridge": True,
        "bridge-disable-mac-learning": False,
        "mtu": False,
        **_DNS,
    },
    "qinq": {
        "nodes": False,
        "tag": True,
        "bridge": True,
        "bridge-disable-mac-learning": False,
        "mtu": False,
        "vlan-protocol": False,
        **_DNS,
    },
    "vxlan": {
        "nodes": False,
        "peers": False,
        "vxlan-port": False,
        "mtu": False,
        "fabric": False,
        **_DNS,
    },
    "evpn": {
        "nodes": False,
        "vrf-vxlan": True,
        "controller": True,
        "exitnodes": False,
        "exitnodes-local-routing": False,
        "exitnodes-primary": False,
        "advertise-subnets": False,
        "disable-arp-nd-suppression": False,
        "bridge-disable-mac-learning": False,
        "rt-import": False,
        "vxlan-port": False,
        "mtu": False,
        "mac": False,
        **_DNS,
    },
    "faucet": {"nodes": False, "dp-id": True, "controller": True, **_DNS},
}
ZONE_TYPES = tuple(sorted(ZONE_OPTIONS))
VNET_OPTIONS: Mapping[str, Mapping[str, bool]] = {
    "vnet": {"zone": True, "tag": False, "alias": False, "vlanaware": False, "isolate-ports": False}
}
SUBNET_OPTIONS: Mapping[str, Mapping[str, bool]] = {
    "subnet": {
        "vnet": True,
        "gateway": False,
        "snat": False,
        "dnszoneprefix": False,
        "dhcp-range": False,
        "dhcp-dns-server": False,
    }
}

_NODE_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?")


@dataclass(frozen=True)
class Kind:
    """One SectionConfig file: its name, plugin options and value kinds."""

    filename: str
    options: Mapping[str, Mapping[str, bool]]
    kinds: Mapping[str, str]

    def kind(self, key: str) -> str:
        """How values of ``key`` are parsed and written."""
        return self.kinds.get(key, STRING)


ZONES = Kind("zones.cfg", ZONE_OPTIONS, ZONE_KINDS)
VNETS = Kind("vnets.cfg", VNET_OPTIONS, VNET_KINDS)
SUBNETS = Kind("subnets.cfg", SUBNET_OPTIONS, SUBNET_KINDS)


def decode_value(kind: str, value: Any) -> Any:
    """A request or file value as SectionConfig keeps it (``check_value`` + ``decode_value``)."""
    if kind in (INT, BOOL):
        return int(str(value))
    if kind == NODES:
        return {name: 1 for name in split_list(str(value)) if _NODE_NAME.fullmatch(name)}
    if kind == ARRAY:
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return str(value)


def encode_value(value: Any) -> str | None:
    """PVE::Network::SDN::encode_value: lists and node sets as sorted comma lists, for comparing."""
    if value is None:
        return None
    if isinstance(value, dict):
        return ",".join(sorted(value))
    if isinstance(value, list):
        return ",".join(sorted(str(v) for v in value))
    return str(value)


@dataclass
class SectionFile:
    """A parsed SectionConfig file: sections by id in file order, and the file's digest."""

    ids: Ids = field(default_factory=dict)
    digest: str = hashlib.sha1(b"").hexdigest()


def parse_sections(text: str, kind: Kind) -> SectionFile:
    """Parse a SectionConfig file the simulator wrote (``type: id`` headers, TAB-indented keys)."""
    ids: Ids = {}
    section: Section | None = None
    for line in text.split("\n"):
        if not line.strip():
            section = None  # a blank line ends a section
            continue
        if line.lstrip().startswith("#"):
            continue
        if header := re.fullmatch(r"(\S+):\s*(\S+)\s*", line):
            section = ids.setdefault(header[2], {"type": header[1].lower()})
            continue
        item = re.fullmatch(r"\s+(\S+)(?:\s+(.*\S))?\s*", line)
        if section is None or item is None:
            continue
        key, value = item[1], item[2] if item[2] is not None else ""
        if kind.kind(key) == ARRAY:
            section.setdefault(key, []).append(value)
        else:
            section[key] = decode_value(kind.kind(key), value)
    return SectionFile(ids, hashlib.sha1(text.encode()).hexdigest())


def _format_line(kind: str, key: str, value: Any) -> str:
    if kind == BOOL:
        return f"\t{key} {1 if value else 0}\n"
    if kind == ARRAY:
        return "".join(f"\t{key} {item}\n" for item in value)
    text = ",".join(sorted(value)) if kind == NODES else str(value)
    return f"\t{key} {text}\n" if text != "" else ""


def format_sections(ids: Ids, kind: Kind) -> str:
    """SectionConfig's writer: header, required options, then the optional ones, sorted."""
    out = []
    for section_id, section in ids.items():
        options = kind.options[section["type"]]
        data = f"{section['type']}: {section_id}\n"
        required = sorted(k for k, needed in options.items() if needed)
        optional = sorted(k for k, needed in options.items() if not needed)
        for key in [*required, *optional]:
            if section.get(key) is not None:
                data += _format_line(kind.kind(key), key, section[key])
        out.append(data + "\n")
    return "".join(out)


def lock_token() -> str:
    """A fresh token as ``generate_lock_token`` makes it: a version 7 UUID."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


class SdnStore:
    """The SDN files of one cluster in ``directory`` (the simulator's ``/etc/pve/sdn``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def _read_text(self, name: str) -> str | None:
        path = self.directory / name
        return path.read_text() if path.exists() else None

    def _write_text(self, name: str, text: str) -> None:
        path = self.directory / name
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def read(self, kind: Kind) -> SectionFile:
        """The pending config of one kind (zones, vnets or subnets)."""
        return parse_sections(self._read_text(kind.filename) or "", kind)

    def write(self, kind: Kind, ids: Ids) -> None:
        """Replace the pending config of one kind."""
        self._write_text(kind.filename, format_sections(ids, kind))

    def running(self) -> dict[str, Any]:
        """The applied config (``.running-config``); ``{}`` when SDN was never applied."""
        text = self._read_text(".running-config")
        if not text:
            return {}
        try:
            data = json.loads(text)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def write_running(self, config: Mapping[str, Any]) -> None:
        """Replace the applied config."""
        self._write_text(".running-config", json.dumps(config, sort_keys=True))

    def lock(self) -> str | None:
        """The global lock's token, or None when SDN is not locked."""
        return self._read_text(".lock")

    def set_lock(self, token: str | None) -> None:
        """Create (``token``) or remove (None) the global lock."""
        if token is None:
            (self.directory / ".lock").unlink(missing_ok=True)
        else:
            self._write_text(".lock", token)

    def ipam_db(self) -> dict[str, Any]:
        """The PVE IPAM's state (``pve-ipam-state.json``)."""
        text = self._read_text("pve-ipam-state.json")
        return json.loads(text) if text else {}

    def write_ipam_db(self, db: Mapping[str, Any]) -> None:
        """Replace the PVE IPAM's state."""
        self._write_text("pve-ipam-state.json", json.dumps(db, sort_keys=True))
