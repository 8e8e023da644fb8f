"""``/etc/network/interfaces`` as a Proxmox node holds it in memory between reading and writing.

pve-common's reader returns ``{ifaces => {NAME => {...}}, options => [[PRIORITY, LINE]]}``
and its writer takes the same structure back; the API handlers change one
interface in between. ``NetworkConfig`` is that structure: each interface a
``Stanza`` under Proxmox's own keys (``type``, ``families``, ``method``,
``address``, ``bridge_ports``, ``slaves``, ``vlan-raw-device``, ``options``,
``comments``, ``priority``, ...), and the kept top-level lines (``source``,
``mapping``, detached ``post-up`` lines) with the file position they had.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from dataclasses import dataclass, field
from typing import Any

from simulator.perl import truthy
from simulator.schema import IPV4_MASK_BITS, split_list

Stanza = dict[str, Any]

# The keys whose values name other interfaces: a bridge's ports, a bond's slaves (and OVS's).
PORT_KEYS = ("bridge_ports", "ovs_ports", "slaves", "ovs_bonds")

# Linux bond modes in the kernel's numbering (``bond-mode 4`` is 802.3ad).
LINUX_BOND_MODES = (
    "balance-rr",
    "active-backup",
    "balance-xor",
    "broadcast",
    "802.3ad",
    "balance-tlb",
    "balance-alb",
)

# The position Proxmox gives a stanza that has none yet (one the API just created).
NEW_PRIORITY = 50000

_HAS_PREFIX = re.compile(r"/\d+\Z", re.ASCII)
_DIGITS = re.compile(r"\d+", re.ASCII)


@dataclass
class NetworkConfig:
    """The parsed file: interfaces by name, and the top-level lines kept with their position."""

    ifaces: dict[str, Stanza] = field(default_factory=dict)
    options: list[tuple[int, str]] = field(default_factory=list)


def copied(stanza: Stanza) -> Stanza:
    """A copy of a stanza to change freely, its lists copied too (its other values, text and
    numbers, cannot change)."""
    copy = dict(stanza)
    for key, value in copy.items():
        if isinstance(value, list):
            copy[key] = value[:]  # the same keys: changing values while going through them
    return copy


_MOVED: list[dict[int, tuple[Stanza, Stanza]]] = [{}, {}]
"""Stanzas made by ``moved``, by id, the newer first: the stanza itself (its id is not
reused while it is held here) and the stanza it was first read as. When the newer holds
``_MOVED_MOST``, it becomes the older and the older is dropped: only recent moves are
known, in bounded memory (``same_values`` compares the others)."""
_MOVED_MOST = 8192


def moved(stanzas: list[Stanza], shift: int) -> list[Stanza]:
    """The stanzas read again ``shift`` places further down the file (up if negative): each
    that has a place (``priority``) a copy with the very same values but its place, known as
    such (``same_values``); the others as they are."""
    newer = _MOVED[0]
    if len(newer) + len(stanzas) > _MOVED_MOST:
        _MOVED[1] = newer
        newer = _MOVED[0] = {}
    copies = []
    for stanza in stanzas:
        priority = stanza.get("priority")
        if not priority:
            copies.append(stanza)
            continue
        copy = {**stanza, "priority": priority + shift}
        newer[id(copy)] = (copy, origin(stanza))
        copies.append(copy)
    return copies


def origin(stanza: Stanza) -> Stanza:
    """The stanza that ``stanza`` was made from by ``moved`` (through any number of moves), or
    ``stanza`` itself: stanzas of one origin hold the very same values but their place."""
    newer, older = _MOVED
    entry = newer.get(id(stanza)) or older.get(id(stanza))
    return entry[1] if entry is not None and entry[0] is stanza else stanza


def same_values(stanza: Stanza, other: Stanza, apart: frozenset[str]) -> bool:
    """Whether ``stanza`` holds the very values ``other`` holds (the same objects), under the
    same keys in the same order, but for the keys ``apart`` (which hold ``priority``).

    What is worked out from a stanza holds for one that passes: the interfaces
    after a new one are read again as copies one place further down (``moved``),
    holding the same values. The same objects, not equal ones: ``0``, ``False``
    and ``0.0`` are equal but print differently.
    """
    if origin(stanza) is origin(other):
        return True
    if len(stanza) != len(other) or list(stanza) != list(other):
        return False
    changed = itertools.compress(stanza, map(operator.is_not, stanza.values(), other.values()))
    return apart.issuperset(changed)


def ports_of(stanza: Stanza) -> tuple[str, ...]:
    """Every interface a stanza names as a port or slave, as ``split_list`` reads them."""
    if stanza.keys().isdisjoint(PORT_KEYS):
        return ()  # most interfaces: asked first, for speed
    lists = [stanza[key] for key in PORT_KEYS if key in stanza]
    if len(lists) == 1:  # a bridge's or a bond's list: asked next, for speed
        return _split(str(lists[0])) if truthy(lists[0]) else ()
    return _split(" ".join(str(value) for value in lists if truthy(value)))


@functools.lru_cache(maxsize=4096)
def _split(names: str) -> tuple[str, ...]:
    """``split_list`` of a port list, kept: the same lists are split on every write."""
    return tuple(split_list(names))


def cidr_of(address: str, mask: Any) -> str | None:
    """``ADDRESS/BITS`` from an address and a netmask (``24`` or ``255.255.255.0``), or None.

    An address that already ends in ``/BITS`` is returned as it is; a missing,
    ``0`` or unknown mask (dotted masks must be one of the 33 contiguous ones)
    gives None.
    """
    if _HAS_PREFIX.search(address):
        return address
    if not truthy(mask):
        return None
    mask = str(mask)
    if _DIGITS.fullmatch(mask):
        return f"{address}/{mask}"
    bits = IPV4_MASK_BITS.get(mask)
    return f"{address}/{bits}" if bits else None
