"""Where each line of an ``/etc/network/interfaces`` file belongs, by line number (pure).

``provider.node.dialect`` reads the file as Proxmox does, into interfaces; it
does not say which line each setting came from. A report that tells a person
which lines of their file pvenet cannot express needs that: this module walks
the lines with the same boundaries as Proxmox's reader (a ``#`` line at the top
is dropped, ``auto``/``allow-*`` name interfaces, ``iface`` opens a stanza, a
``KEY VALUE`` line belongs to the open stanza, a blank or other line ends it;
a ``KEY VALUE`` line left at the top is kept by Proxmox where it stands).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Kind = Literal["blank", "comment", "auto", "iface", "option", "top"]

_AUTO_RE = re.compile(r"\s*(?:auto|allow-auto|allow-hotplug|allow-ovs)\s+(.*)", re.ASCII)
_IFACE_RE = re.compile(r"\s*iface\s+(\S+)(?:\s+(inet6?)\s+(\S+))?\s*", re.ASCII)
_ENDS_RE = re.compile(r"\s*(?:(?:iface|mapping|auto|source|source-directory)\s|allow-)", re.ASCII)
_OPTION_RE = re.compile(r"\s*(\S+)\s+(.+)", re.ASCII)
_OPTION_WORD_RE = re.compile(r"[a-z][a-z0-9_.-]*", re.ASCII)
TOP_WORDS = ("source", "source-directory", "mapping")
"""Lines Proxmox keeps at the top of the file as they are (it reads no stanza from them)."""


@dataclass(frozen=True)
class SourceLine:
    """One line of the file: its number (from 1), its text, what it is and whose it is."""

    number: int
    text: str
    kind: Kind
    iface: str | None = None
    """The stanza an ``iface``, ``option`` or in-stanza ``comment`` line belongs to."""
    family: str | None = None
    """``inet`` or ``inet6`` for a line of a stanza that names its family."""
    names: tuple[str, ...] = ()
    """The interfaces an ``auto`` line starts."""

    @property
    def key(self) -> str:
        """The option's name (``post-up``, ``bridge-ports``); empty for other lines."""
        return self.text.split()[0] if self.kind in ("option", "top") and self.text.split() else ""

    @property
    def value(self) -> str:
        """What follows the option's name, as written."""
        match = _OPTION_RE.fullmatch(self.text.rstrip())
        return match[2] if match else ""


class NotAnInterfacesFile(ValueError):
    """The text is not an ``/etc/network/interfaces`` file: nothing can be adopted from it."""


def scan(text: str) -> list[SourceLine]:
    """Every line of the file, classified (line numbers from 1)."""
    found: list[SourceLine] = []
    stanza: tuple[str, str | None] | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip("\r")
        stripped = line.strip()
        if stanza is not None:
            if stripped.startswith("#"):
                found.append(SourceLine(number, line, "comment", stanza[0], stanza[1]))
                continue
            if not _ENDS_RE.match(line) and _OPTION_RE.fullmatch(line.rstrip()):
                found.append(SourceLine(number, line, "option", stanza[0], stanza[1]))
                continue
            stanza = None
        if not stripped:
            found.append(SourceLine(number, line, "blank"))
        elif stripped.startswith("#"):
            found.append(SourceLine(number, line, "comment"))
        elif auto := _AUTO_RE.fullmatch(line):
            found.append(SourceLine(number, line, "auto", names=tuple(auto[1].split())))
        elif iface := _IFACE_RE.fullmatch(line):
            stanza = (iface[1], iface[2])
            found.append(SourceLine(number, line, "iface", iface[1], iface[2]))
        else:
            found.append(SourceLine(number, line, "top"))
    if found and found[-1].kind == "blank" and not found[-1].text:
        found.pop()  # the newline that ends the last line opens no line of its own
    return found


def require_interfaces_file(lines: list[SourceLine], name: str = "the file") -> None:
    """NotAnInterfacesFile unless ``lines`` read as an interfaces file.

    Proxmox's reader takes any text (it keeps what it does not know), so a YAML
    file or a log would "parse"; pvenet refuses text that has no ``iface``
    stanza, or a line at the top that is none of: a comment, ``auto``/``allow-*``,
    ``iface``, ``source``/``mapping``, or a ``KEY VALUE`` option line.
    """
    for line in lines:
        if line.kind != "top":
            continue
        word = line.text.split()[0]
        if word in TOP_WORDS or (_OPTION_WORD_RE.fullmatch(word) and len(line.text.split()) > 1):
            continue
        raise NotAnInterfacesFile(
            f"{name}, line {line.number}: {line.text.strip()[:60]!r} is not a line of an "
            "/etc/network/interfaces file (auto, iface, source, or an option of a stanza); "
            "give the node's /etc/network/interfaces"
        )
    if not any(line.kind == "iface" for line in lines):
        raise NotAnInterfacesFile(
            f"{name} has no 'iface' stanza: it is not an /etc/network/interfaces file; give the "
            "node's /etc/network/interfaces"
        )
