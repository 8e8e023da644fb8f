"""What ifupdown2 reads in an interfaces file: a small reader of its line rules, and Debian's.

:func:`read_lines` follows the rules of Debian 12's ifupdown2 3.0.0
(``ifupdown/networkinterfaces.py``, ``read_file`` and ``process_interfaces``):

- the file is opened in Python's universal-newline mode: CR, CR LF and LF end a line;
- when the file holds a ``%``, it is rendered as a Mako template first (with
  python3-mako installed, ``template_enable=1``); this reader then refuses a
  file in which Mako would find markup (:class:`TemplateMarkup`);
- every backslash and the whitespace around it, line breaks included, become
  one space;
- each line is stripped of ``\\n\\t\\r`` and spaces; blank lines and lines
  starting with ``#`` are skipped (a stanza does not end at them);
- ``auto``, ``iface``, ``source``, ``source-directory``, ``vlan`` and
  ``allow-*`` start a new element; any other line inside a stanza is an
  option: its first word is the key, the rest (``$IFACE`` replaced by the
  interface's name) the value.

:func:`debian_reader` is Debian's ifupdown2 parser itself, imported from
where a kernel-tier run unpacked the package (``tests.kernel.ifupdown2``);
with Mako installed in the test environment its template step runs too.

Both give a :data:`Reading`: per interface, whether it is ``auto`` and its
options (key -> values, as ifupdown2 stores them). The small reader also keeps
each stanza's comment lines, where Proxmox's reader finds an interface's
comments; ifupdown2 itself ignores them.
"""

from __future__ import annotations

import re
import sys
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kernel.ifupdown2 import Package

_KEYWORDS = ("auto", "iface", "source", "source-directory", "vlan")
_SPLIT = re.compile(r"[\s\t]\s*")  # ifupdown2's word separator
# What Mako 1.2.4's lexer treats as markup: expressions, blocks, tags and their ends, the
# old call tags (whose '<' it drops), control lines, '##' comment lines and a backslash at
# the end of a line (it drops both, so the line break goes).
_MAKO_MARKUP = re.compile(r"\$\{|</?%|</?&|^[ \t]*(?:%|##)|\\\r?\n", re.MULTILINE)


class TemplateMarkup(AssertionError):
    """The file holds Mako markup: ifupdown2 would read what Mako renders, not the file."""


@dataclass
class Stanza:
    """One interface as ifupdown2 reads it."""

    auto: bool = False
    options: dict[str, list[str]] = field(default_factory=dict)
    comments: list[str] = field(default_factory=list)


Reading = dict[str, Stanza]
Reader = Callable[[str], Reading]


def read_lines(text: str) -> Reading:
    """``text`` read with ifupdown2's line rules; TemplateMarkup where Mako would render."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "%" in text and (markup := _MAKO_MARKUP.search(text)):
        raise TemplateMarkup(f"Mako would render {markup.group()!r} in:\n{text}")
    text = " ".join(piece.strip() for piece in text.split("\\"))
    reading: Reading = {}
    autos: set[str] = set()
    current: Stanza | None = None
    name = ""
    for line in (raw.strip("\n\t\r ") for raw in text.split("\n")):
        if not line:
            continue
        if line.startswith("#"):
            if current is not None:
                current.comments.append(line[1:])
            continue
        words = _SPLIT.split(line, maxsplit=1)
        if words[0] in _KEYWORDS or words[0].split("-")[0] == "allow":
            current = None
            if words[0] == "auto":
                autos.update(_SPLIT.split(words[1]))
            elif words[0] == "iface":
                name = _SPLIT.split(words[1])[0]
                current = reading.setdefault(name, Stanza())
            continue
        if current is None or len(words) < 2:
            raise AssertionError(f"ifupdown2 reports a syntax error at {line!r}")
        current.options.setdefault(words[0], []).append(words[1].replace("$IFACE", name))
    for iface, stanza in reading.items():
        stanza.auto = iface in autos
    return reading


def debian_reader(package: Package) -> Reader:
    """Debian's ifupdown2 parser (``networkInterfaces``) as a Reader; it reads from a file, as
    ``ifreload`` does, with templates enabled as Debian's ``ifupdown2.conf`` has them."""
    sys.path.insert(0, str(package.modules))
    try:
        with warnings.catch_warnings():  # its regexes have escapes Python 3.12 warns about
            warnings.simplefilter("ignore", DeprecationWarning)
            from ifupdown.networkinterfaces import (  # type: ignore[import-not-found]  # noqa: PLC0415
                networkInterfaces,
            )
    finally:
        sys.path.remove(str(package.modules))

    def read(text: str) -> Reading:
        with tempfile.TemporaryDirectory(prefix="pvenet-ifupdown2-") as directory:
            path = Path(directory) / "interfaces"
            path.write_bytes(text.encode())
            found: list[Any] = []
            parser = networkInterfaces(
                interfacesfile=str(path), template_enable="1", template_engine="mako"
            )
            parser.subscribe("iface_found", found.append)
            parser.load()
        if parser.errors:
            raise AssertionError(f"Debian's ifupdown2 reports {parser.errors} error(s) in:\n{text}")
        return {
            obj.name: Stanza(bool(obj.auto), {k: list(v) for k, v in obj.config.items()})
            for obj in found
        }

    return read
