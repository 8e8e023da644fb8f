"""Proxmox's reader of ``/etc/network/interfaces``, written from the behaviour of pve-common's
``read_etc_network_interfaces`` (``PVE::Network::Interfaces``, formerly ``PVE::INotify``).

Every node network API call starts by reading the file this way, so what the
API answers (types, families, methods, ``options``, ``comments``) and what the
writer prints next both follow from these rules:

* The file is read line by line, lines ending at LF only: a CRLF file keeps a CR
  at the end of each line, which matters only where Proxmox does not strip it
  (top-level lines are kept with it).
* At the top level, a line whose first non-blank character is ``#`` is dropped;
  ``auto``, ``allow-auto``, ``allow-ovs`` and ``allow-hotplug`` mark every name
  they list as started at boot (``autostart``); ``iface NAME [inet|inet6 METHOD]``
  opens a stanza; any other line with a word character in it is kept as it is,
  with its position (``source``, ``mapping``, a ``post-up`` line that a blank
  line cut off from its stanza).
* In a stanza, trailing blanks are dropped first. ``#`` lines are its comments
  (kept per family, each ending in a newline); a line starting with ``iface``,
  ``mapping``, ``auto``, ``source`` or ``source-directory`` and a blank, or with
  ``allow-``, ends it and is read again at the top level; a ``KEY VALUE`` line,
  indented or not, is an option; anything else, a blank line above all, ends it.
* Options are stored under Proxmox's names (``bridge-ports`` is ``bridge_ports``,
  a numeric ``bond-mode`` becomes its name); addresses go to the family of the
  stanza (an IPv6 value in a stanza without a family goes to the ``6`` keys);
  lines Proxmox does not know (``post-up``, ``hwaddress``, ...) are kept as
  ``options``/``options6``. A second stanza for the same interface adds to the
  first; its family's ``method``, ``comments`` and ``options`` replace those the
  first stanza of that family had.
* Each stanza gets the next file position (``priority``; 1 is kept for ``lo``),
  and so does each kept top-level line, which is how the writer puts them back
  in order.

An empty line ends any stanza and does nothing at the top level, so the reader
takes the file a paragraph (the lines between empty ones) at a time and keeps
what each paragraph's text does: a file written anew for a change to one
interface of a thousand is mostly paragraphs read before.

A file whose paragraphs are each about one interface (as the writer prints
it) is read with a ``Trace`` of how: ``simulator.node.reread`` reads the next
file, which differs in a few paragraphs, from it.

Then the node's NICs are marked ``exists`` (and added when the file lacks them),
the links that are up ``active``, ``lo`` added if missing, and each interface
completed (type, ``cidr``, methods, families: ``simulator.node.kinds``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

from simulator.node.config import LINUX_BOND_MODES, NetworkConfig, Stanza, copied, moved
from simulator.node.kinds import complete_one, exists_as_parent
from simulator.perl import split_words, truthy

_COMMENT = re.compile(r"\s*#", re.ASCII)
_AUTO = re.compile(r"\s*(?:allow-auto|auto|allow-ovs|allow-hotplug)\s+(.*)", re.ASCII)
_IFACE = re.compile(r"\s*iface\s+(\S+)(?:\s+(inet6?)\s+(\S+))?\s*", re.ASCII)
_WORD = re.compile(r"\w")
_TRAILING_BLANKS = re.compile(r"\s+\Z", re.ASCII)
_STANZA_COMMENT = re.compile(r"\s*#(.*?)\s*", re.ASCII)
_STANZA_END = re.compile(
    r"\s*(?:(?:iface|mapping|auto|source|source-directory)\s|allow-)", re.ASCII
)
_OPTION = re.compile(r"\s*((\S+)\s+(.+))", re.ASCII)
_STP_ON = re.compile(r"\s*(?:on|yes)\s*", re.ASCII | re.IGNORECASE)
_OVS_ALLOW = re.compile(r"allow-ovs\s+", re.ASCII)
_PORT_ALLOW = re.compile(r"allow-(\S+)\s+(.*)", re.ASCII)

# Option names the file may spell differently from Proxmox's key: ifupdown2's dashes for
# underscores, bond slaves under three names, the OVS MTU as the plain one.
_UNDERSCORED = (
    "bond-miimon bond-mode bond-xmit-hash-policy "
    "bridge-fd bridge-ports bridge-stp bridge-vids bridge-vlan-aware"
)
_RENAMED = {
    "ovs_mtu": "mtu",
    "bond-slaves": "slaves",
    "bond_slaves": "slaves",
    **{name: name.replace("-", "_") for name in _UNDERSCORED.split()},
}

# Options stored as the value string under their own name.
_KEPT_AS_IS = frozenset(
    " ".join(
        (
            "mtu link-type uplink-id",
            "bond_miimon bond_xmit_hash_policy bond-primary",
            "bridge_fd bridge_vids bridge-access bridge-learning bridge-arp-nd-suppress",
            "bridge-unicast-flood bridge-multicast-flood bridge-disable-mac-learning",
            "ovs_type ovs_options ovs_bridge ovs_bonds ovs_ports",
            "vlan-protocol vlan-raw-device vlan-id",
            "vxlan-id vxlan-svcnodeip vxlan-physdev vxlan-local-tunnelip",
        )
    ).split()
)
_ADDRESS_KEYS = frozenset(("address", "netmask", "broadcast", "gateway"))

# The kernel's bond mode numbers, which the reader turns into names (an exact match only).
_BOND_MODE_BY_NUMBER = {str(number): name for number, name in enumerate(LINUX_BOND_MODES)}


def _add_ports(stanza: Stanza, key: str, value: str) -> None:
    """``bridge-ports``/``bond-slaves``: names sorted and de-duplicated, ``none`` left out.

    ``bridge-ports none`` marks an empty bridge; a second line for the same key
    appends its names.
    """
    words = split_words(value)
    if key == "bridge_ports" and "none" in words:
        stanza["is_empty_bridge"] = 1
    joined = " ".join(sorted({word for word in words if word != "none"}))
    if truthy(stanza.get(key)):
        if truthy(joined):
            stanza[key] += " " + joined
    else:
        stanza[key] = joined if truthy(joined) else ""


def _address_suffix(key: str, value: str, suffix: str | None) -> str:
    """The family an address line belongs to: its stanza's, else IPv6 for a value with ':'."""
    if suffix is not None:
        return suffix
    return "6" if key != "netmask" and ":" in value else ""


def _store_option(stanza: Stanza, own: Stanza, suffix: str | None, match: re.Match[str]) -> None:
    """One ``KEY VALUE`` line of a stanza; ``own`` collects what belongs to its family only."""
    line, key, value = match.groups()
    key = _RENAMED.get(key, key)
    if key in _ADDRESS_KEYS:
        stanza[key + _address_suffix(key, value, suffix)] = value
    elif key in _KEPT_AS_IS:
        stanza[key] = value
    elif key in ("slaves", "bridge_ports"):
        _add_ports(stanza, key, value)
    elif key == "bridge_stp":
        stanza[key] = "on" if _STP_ON.fullmatch(value) else "off"
    elif key == "bridge_vlan_aware":
        stanza[key] = 1  # whatever the value says, even "no"
    elif key == "bond_mode":
        stanza[key] = _BOND_MODE_BY_NUMBER.get(value, value)
    elif key == "vxlan-remoteip":
        stanza.setdefault(key, []).append(value)
    else:
        own.setdefault("options", []).append(line)


@dataclass(frozen=True)
class _Iface:
    """``iface NAME [FAMILY METHOD]`` and the lines of its stanza (trailing blanks stripped).

    ``settings`` is what the lines set on an interface read for the first time,
    ``own`` what they set for the family only (its ``method``, ``comments`` and
    ``options``; empty for a stanza without a family, whose own are the
    interface's). Both are read once and copied where the paragraph comes again.
    """

    name: str
    family: str | None
    method: str | None
    body: tuple[str, ...]
    settings: Stanza
    own: Stanza

    @property
    def suffix(self) -> str | None:
        """The suffix of its family's keys (see ``_suffix``)."""
        return _suffix(self.family)


def _suffix(family: str | None) -> str | None:
    """``""`` for inet, ``"6"`` for inet6, None for a stanza without a family."""
    return None if family is None else family.removeprefix("inet")


_Event = _Iface | tuple[str, tuple[str, ...]]
"""What a paragraph does: a stanza, ``("auto", names)`` or ``("kept", (line,))``."""

_ADDED_TO = ("bridge_ports", "slaves", "vxlan-remoteip", "comments", "options")
"""Keys a stanza's lines add to rather than set: read again where an earlier stanza set one."""

_PARAGRAPHS: dict[str, Paragraph] = {}
"""Each paragraph's reading, by its text (``read_paragraph``); emptied when it holds ``_MOST``."""
_MOST = 100_000


def _read_body(body: Iterable[str], stanza: Stanza, target: Stanza, suffix: str | None) -> None:
    """Store a stanza's comment and option lines: options on ``stanza`` (addresses of the
    family ``suffix``), comments and unknown options on ``target``."""
    for line in body:
        if comment := _STANZA_COMMENT.fullmatch(line):
            target["comments"] = (target.get("comments") or "") + comment[1] + "\n"
        elif option := _OPTION.fullmatch(line):
            _store_option(stanza, target, suffix, option)


def _iface(
    lines: list[str], index: int, name: str, family: str | None, method: str | None
) -> tuple[int, str | None, _Iface]:
    """The stanza that starts at ``lines[index]``: where it ends, the line that ends it."""
    body: list[str] = []
    ended_by = None
    while index < len(lines):
        line = _TRAILING_BLANKS.sub("", lines[index])
        if _STANZA_COMMENT.fullmatch(line) is None and (
            _STANZA_END.match(line) or not _OPTION.fullmatch(line)
        ):
            ended_by = line
            break
        body.append(line)
        index += 1
    settings: Stanza = {}
    own: Stanza = {"method": method}
    suffix = _suffix(family)
    _read_body(body, settings, settings if suffix is None else own, suffix)
    return (
        index,
        ended_by,
        _Iface(name, family, method, tuple(body), settings, own if suffix is not None else {}),
    )


def _events(paragraph: str) -> list[_Event]:
    """What reading a paragraph (lines between empty ones) does; a line that ends a stanza
    is read again at the top level, stripped."""
    lines = paragraph.split("\n")
    events: list[_Event] = []
    index, again = 0, None
    while index < len(lines):
        line = lines[index] if again is None else again
        again = None
        if _COMMENT.match(line):
            index += 1
        elif auto := _AUTO.match(line):
            events.append(("auto", tuple(split_words(auto[1]))))
            index += 1
        elif iface := _IFACE.fullmatch(line):
            index, again, stanza = _iface(lines, index + 1, *iface.groups())
            events.append(stanza)
        else:
            if _WORD.search(line):
                events.append(("kept", (line,)))
            index += 1
    return events


@dataclass(frozen=True)
class Paragraph:
    """What reading a paragraph does (``events``), and the one interface it is all about, if
    it is (``owner``: its ``auto`` and ``iface`` lines name that interface alone)."""

    events: list[_Event]
    owner: str | None
    stanzas: bool
    """Whether it has an ``iface`` line (it gives its interface a position)."""


def read_paragraph(text: str) -> Paragraph:
    """The paragraph's reading, worked out once per text."""
    paragraph = _PARAGRAPHS.get(text)
    if paragraph is None:
        events = _events(text)
        names = {name for event in events for name in _named(event)}
        kept = any(not isinstance(event, _Iface) and event[0] == "kept" for event in events)
        owner = names.pop() if len(names) == 1 and not kept else None
        paragraph = Paragraph(events, owner, any(isinstance(e, _Iface) for e in events))
        if len(_PARAGRAPHS) >= _MOST:
            _PARAGRAPHS.clear()
        _PARAGRAPHS[text] = paragraph
    return paragraph


@dataclass
class OwnParagraphs:
    """An interface read so far only from paragraphs all about it, not yet built: where its
    first stanza stood (``priority``) and those paragraphs."""

    texts: list[str]
    priority: int | None = None


@dataclass(frozen=True)
class _Completed:
    """An interface as read and completed, and the parents completing it looked at: each
    one's ``exists`` (type and value), or None for a parent the file lacked."""

    stanza: Stanza
    parents: tuple[tuple[str, tuple[type, object] | None], ...]


_COMPLETED: dict[tuple[object, ...], _Completed] = {}
"""Interfaces read from paragraphs of their own, completed (``Reader.complete``); emptied
when it holds ``_MOST``."""


def _apply(event: _Event, config: NetworkConfig, position: Callable[[], int]) -> None:
    """Do what one event of a paragraph does to the config read so far."""
    ifaces = config.ifaces
    if isinstance(event, _Iface):
        _stanza(event, ifaces.setdefault(event.name, {}), position)
    elif event[0] == "auto":
        for name in event[1]:
            ifaces.setdefault(name, {})["autostart"] = 1
    else:
        config.options.append((position(), event[1][0]))


def _stanza(event: _Iface, stanza: Stanza, position: Callable[[], int]) -> None:
    """Add ``iface NAME [FAMILY METHOD]`` and its lines to the interface."""
    if not truthy(stanza.get("priority")):
        stanza["priority"] = position()
    stanza.setdefault("families", []).append(event.family)
    suffix = event.suffix
    if any(key in stanza for key in _ADDED_TO if key in event.settings):
        own: Stanza = {"method": event.method}
        _read_body(event.body, stanza, stanza if suffix is None else own, suffix)
    else:
        stanza.update(copied(event.settings))
        own = copied(event.own)
    if suffix is not None:
        stanza.update({key + suffix: value for key, value in own.items()})


def _named(event: _Event) -> tuple[str, ...]:
    """The interfaces an event of a paragraph is about."""
    if isinstance(event, _Iface):
        return (event.name,)
    return event[1] if event[0] == "auto" else ()


def _parent_seen(ifaces: dict[str, Stanza], parent: str) -> tuple[type, object] | None:
    """What completing a VLAN or alias reads of its parent: its ``exists``, None if absent."""
    if parent not in ifaces:
        return None
    exists = ifaces[parent].get("exists")
    return type(exists), exists


@dataclass(frozen=True)
class Trace:
    """A file as read, and how: what ``simulator.node.reread`` needs to read a file that
    differs from it in a few paragraphs by reading those only.

    Kept only for a file whose paragraphs are each empty, kept lines (no
    ``allow-`` ones) or all about one interface (``Paragraph.owner``), as the
    writer prints it: then each interface is read from its own paragraphs alone.
    """

    paragraphs: list[str]
    nics: tuple[str, ...]
    active: frozenset[str]
    ifaces: dict[str, Stanza]
    """The interfaces read, in the reader's order (its own dict, never changed)."""
    options: list[tuple[int, str]]
    owners: list[str]
    """The interfaces read from paragraphs of their own, in the order of their first one."""
    firsts: list[int]
    """The index of each owner's first paragraph (ascending)."""
    counts: dict[str, int]
    """How many paragraphs each owner has."""
    positions: list[int]
    """The next file position before each paragraph, and after the last."""
    tail: list[str]
    """The interfaces after the owners: NICs the file lacks, ``lo``, missing parents."""
    parents: dict[str, tuple[str, ...]]
    """The parents each interface looked at when it was completed (those with any)."""
    looked_at: frozenset[str]
    """Every interface some interface looked at as its parent."""


class Reader:
    """One pass over the file, a paragraph at a time, filling a ``NetworkConfig`` in order.

    An empty line ends any stanza and does nothing at the top level, so each
    paragraph is read the same wherever it stands: what it does is worked out
    once per text (``read_paragraph``). An interface read only from paragraphs all
    about it (most are: a file written by Proxmox gives each its own) is built
    only if another paragraph names it; else it is completed at the end, from
    what its paragraphs gave when they came before with the same NIC, link
    and parent state (``_COMPLETED``). A file written anew for a change to one
    interface of a thousand is read at the cost of that one.
    """

    def __init__(self, ifaces: dict[str, Stanza] | None = None) -> None:
        self.config = NetworkConfig({} if ifaces is None else ifaces)
        self.position = 2  # 1 is lo's
        self.own: dict[str, OwnParagraphs] = {}
        self.owners: list[str] = []
        self.firsts: list[int] = []
        self.positions: list[int] = []
        self.counts: dict[str, int] = {}
        self.parents: dict[str, tuple[str, ...]] = {}
        self.simple = True
        """Whether every paragraph so far is empty, kept lines or about one interface whose
        first paragraph has its ``iface`` line (so its place is its first paragraph's)."""

    def _next_position(self) -> int:
        position = self.position
        self.position += 1
        return position

    def read(self, paragraphs: list[str]) -> None:
        """Read the whole text, paragraph by paragraph (the text split at empty lines)."""
        ifaces = self.config.ifaces
        read_before = _PARAGRAPHS  # the same dict as read_paragraph's: looked up here, for speed
        own_paragraphs = self.own
        positions = self.positions
        for index, paragraph_text in enumerate(paragraphs):
            positions.append(self.position)
            paragraph = read_before.get(paragraph_text) or read_paragraph(paragraph_text)
            owner = paragraph.owner
            if owner is not None:
                own = own_paragraphs.get(owner)
                if own is None and owner not in ifaces:
                    ifaces[owner] = {}  # its place, kept until it is built
                    own = own_paragraphs[owner] = OwnParagraphs([])
                    self.owners.append(owner)
                    self.firsts.append(index)
                    self.simple = self.simple and paragraph.stanzas
                if own is not None:
                    own.texts.append(paragraph_text)
                    if own.priority is None and paragraph.stanzas:
                        own.priority = self._next_position()
                    continue
            for event in paragraph.events:
                for name in _named(event):
                    self.simple = False
                    if name in self.own:
                        ifaces[name] = self._built(name)
                _apply(event, self.config, self._next_position)
        positions.append(self.position)
        self.counts = {name: len(own.texts) for name, own in own_paragraphs.items()}

    def _built(self, name: str) -> Stanza:
        """The interface read from its own paragraphs, as reading them in place gives it."""
        own = self.own.pop(name)
        scratch = NetworkConfig()
        for paragraph_text in own.texts:
            for event in read_paragraph(paragraph_text).events:
                _apply(event, scratch, lambda: own.priority or 0)
        return scratch.ifaces[name]

    def complete(self, nics: Collection[str], active: Collection[str]) -> None:
        """Mark the NICs and active links, add ``lo``, and complete every interface."""
        ifaces = self.config.ifaces
        for nic in nics:
            ifaces.setdefault(nic, {})["exists"] = 1  # on an interface not built: its place
        for name in active:
            if name in ifaces:
                ifaces[name]["active"] = 1
        ifaces.setdefault(
            "lo", {"priority": 1, "method": "loopback", "type": "loopback", "autostart": 1}
        )
        for name in sorted(ifaces):
            if parents := self.complete_one(name, nics, active):
                self.parents[name] = parents

    def complete_one(
        self, name: str, nics: Collection[str], active: Collection[str]
    ) -> tuple[str, ...]:
        """Complete one interface (see ``kinds.complete_one``); returns the parents it looked
        at. One read from its own paragraphs only is as before where its paragraphs, the
        node's state and its parents' are as before (``_COMPLETED``)."""
        ifaces = self.config.ifaces
        own = self.own.get(name)
        if own is None:
            looked: list[str] = []

            def parent_exists(parent: str) -> object:
                looked.append(parent)
                return exists_as_parent(ifaces, parent)

            complete_one(name, ifaces[name], nics, parent_exists)
            return tuple(looked)
        texts = own.texts
        key = (name, texts[0] if len(texts) == 1 else tuple(texts), name in nics, name in active)
        done = _COMPLETED.get(key)
        if done is None or (
            done.parents and any(_parent_seen(ifaces, p) != seen for p, seen in done.parents)
        ):
            done = self._complete_own(name, key, nics, active)
        else:
            stanza = done.stanza  # as before: its paragraphs, the node and its parents are
            if own.priority is not None and stanza["priority"] != own.priority:
                stanza = moved([stanza], own.priority - stanza["priority"])[0]  # elsewhere
            ifaces[name] = stanza
            for parent, _seen in done.parents:
                exists_as_parent(ifaces, parent)  # a missing parent is added as missing
            del self.own[name]
        return tuple(parent for parent, _seen in done.parents) if done.parents else ()

    def _complete_own(
        self, name: str, key: tuple[object, ...], nics: Collection[str], active: Collection[str]
    ) -> _Completed:
        """Build and complete an interface read only from its own paragraphs, and keep it by
        ``key`` (its paragraphs and the node's state) with the parents it looked at."""
        ifaces = self.config.ifaces
        stanza = ifaces[name] = self._built(name)
        if name in nics:
            stanza["exists"] = 1
        if name in active:
            stanza["active"] = 1
        parents: list[tuple[str, tuple[type, object] | None]] = []

        def parent_exists(parent: str) -> object:
            parents.append((parent, _parent_seen(ifaces, parent)))
            return exists_as_parent(ifaces, parent)

        complete_one(name, stanza, nics, parent_exists)
        if len(_COMPLETED) >= _MOST:
            _COMPLETED.clear()
        done = _COMPLETED[key] = _Completed(stanza, tuple(parents))
        return done

    def trace(
        self, paragraphs: list[str], nics: tuple[str, ...], active: frozenset[str]
    ) -> Trace | None:
        """How the file was read, if it is one ``Trace`` is kept for (the reading done)."""
        config = self.config
        if not self.simple or any(line.startswith("allow-") for _, line in config.options):
            return None  # an allow- line: kept or not, according to the bridges read
        ifaces = dict(config.ifaces)
        names = list(ifaces)
        return Trace(
            paragraphs,
            nics,
            active,
            ifaces,
            list(config.options),
            self.owners,
            self.firsts,
            self.counts,
            self.positions,
            names[len(self.owners) :],
            self.parents,
            frozenset(parent for parents in self.parents.values() for parent in parents),
        )


def _without_ovs_port_lines(config: NetworkConfig) -> list[tuple[int, str]]:
    """The kept lines less the ``allow-BRIDGE PORT`` lines the writer makes again for OVS.

    ``allow-ovs`` lines go; an ``allow-BRIDGE`` line loses the ports that
    bridge lists in ``ovs_ports`` and goes when none is left.
    """
    kept: list[tuple[int, str]] = []
    for position, line in config.options:
        if _OVS_ALLOW.match(line):
            continue
        allow = _PORT_ALLOW.fullmatch(line)
        if allow is None:
            kept.append((position, line))
            continue
        bridge, ports = allow[1], split_words(allow[2])
        if bridge in config.ifaces:
            listed = set(split_words(str(config.ifaces[bridge].get("ovs_ports") or "")))
            ports = [port for port in ports if port not in listed]
        if ports:
            kept.append((position, f"allow-{bridge} " + " ".join(ports)))
    return kept


def read_traced(
    paragraphs: list[str], nics: tuple[str, ...], active: frozenset[str]
) -> tuple[NetworkConfig, Trace | None]:
    """``read_interfaces`` of the text split at empty lines, and how it was read (None for a
    file no ``Trace`` is kept for)."""
    reader = Reader()
    reader.read(paragraphs)
    reader.complete(nics, active)
    trace = reader.trace(paragraphs, nics, active)
    config = reader.config
    config.options = _without_ovs_port_lines(config)
    return config, trace


def read_interfaces(
    text: str, nics: Collection[str] = (), active: Iterable[str] = ()
) -> NetworkConfig:
    """The file as Proxmox reads it on a node whose ``ip link`` lists ``nics``.

    ``active`` names the links that are up (``/proc/net/dev``). The config is the
    caller's; its stanzas may be shared with other reads of the same paragraphs:
    copy one (``config.copied``) before changing it.
    """
    return read_traced(text.split("\n\n"), tuple(nics), frozenset(active))[0]
