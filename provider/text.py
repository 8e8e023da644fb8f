"""Text pvenet writes into a node's network files, and what it may not hold (pure).

Interface comments, the vnet alias and every other value pvenet sends end up
as lines of ``/etc/network/interfaces`` (Proxmox's writer) or
``/etc/network/interfaces.d/sdn`` (pve-network's), which Debian's ifupdown2
reads as root at every reload. A value that changes where ifupdown2 sees a
line or a stanza begin injects configuration, and a ``post-up`` line is a
command run as root. :func:`check_text` is the one rule for all such values;
both models call it at preview, before anything reaches a node.

What ifupdown2 does with a file (Debian 12's ifupdown2 3.0.0,
``ifupdown/networkinterfaces.py``, and python3-mako 1.2.4, ``mako/lexer.py``):

* It opens the file in Python's universal-newline mode, so a carriage return
  (CR, or CR LF) ends a line exactly as a line feed does. Proxmox's own
  reader ends lines at LF only, so it keeps ``#x<CR>post-up ...`` as one
  comment while ifupdown2 runs the ``post-up``.
* Before it splits the file into lines, it replaces every backslash, and the
  blanks on both sides of it, line breaks included, with one space. A value
  ending in ``\\`` pulls the next line (``auto vmbr0``, ``ip-forward on``)
  into its own; one inside a value changes the value.
* When the file holds a ``%`` anywhere (any line, written by anyone) and
  python3-mako is installed (``template_enable=1`` is the packaged default),
  it first renders the whole file as a Mako template: ``${...}`` is
  evaluated as Python, ``<%...%>`` blocks run, ``<%tag>``/``</%tag>`` are
  tags, ``<&`` and ``</&`` lose their ``<``, a line whose first non-blank
  character is ``%`` is a control line (``%%`` an escaped ``%``), and a line
  whose first non-blank characters are ``##`` is dropped. The markers are
  refused whether or not the value itself holds the ``%`` that turns this on.
* It strips the blanks around each line and around each option's value.

Other control characters (NUL, tab, DEL, the C1 range) and Unicode's line and
paragraph separators are refused too: readers disagree on them (Python's
``str.splitlines`` ends a line at several), and no network setting needs
them. A line feed is allowed only where the writer turns each line of a value
into a line of its own (an interface comment becomes one ``#`` line per line).
"""

from __future__ import annotations

import unicodedata
from typing import Final

SHOWN_MAX: Final = 40
"""Characters of a value quoted in a message; a longer value is cut (a 100 KB comment)."""

_CHARACTER_NAMES: Final = {
    "\r": "a carriage return",
    "\n": "a line break",
    "\t": "a tab",
    "\x00": "a NUL character",
    "\x7f": "a DEL character",
    "\x85": "a next-line character",
    "\u2028": "a line separator",
    "\u2029": "a paragraph separator",
}
_BREAKS_LINE: Final = frozenset("\r\n")
# Marker -> what ifupdown2's Mako templating does with it.
_TEMPLATE_MARKERS: Final = {
    "${": "evaluates it as a Python expression",
    "<%": "runs it as a Python block or template tag",
    "%>": "ends a Python block there",
    "</%": "reads it as a closing template tag",
    "<&": "drops its '<'",
    "</&": "drops its '<'",
}


def shown(value: str) -> str:
    """``value`` quoted for a message, cut to its first :data:`SHOWN_MAX` characters."""
    if len(value) <= SHOWN_MAX:
        return repr(value)
    return f"{value[:SHOWN_MAX]!r}... ({len(value)} characters)"


def _character(char: str) -> str:
    """A character named for a person: ``a carriage return (U+000D)``."""
    name = _CHARACTER_NAMES.get(char) or "a control character"
    return f"{name} (U+{ord(char):04X})"


def _is_refused_character(char: str, multiline: bool) -> bool:
    if char == "\n":
        return not multiline
    category = unicodedata.category(char)
    return category in ("Cc", "Zl", "Zp", "Cs")


def refused_character(value: str) -> tuple[int, str] | None:
    """The first character no node file may hold in a one-line value (a control character, a
    line or paragraph separator, a surrogate): its place (from 1) and its name."""
    for index, char in enumerate(value):
        if _is_refused_character(char, multiline=False):
            return index + 1, _character(char)
    return None


def _character_problem(value: str, field: str, multiline: bool) -> str | None:
    for index, char in enumerate(value):
        if not _is_refused_character(char, multiline):
            continue
        where = f"{field} {shown(value)} holds {_character(char)} at character {index + 1}"
        if unicodedata.category(char) == "Cs":
            return f"{where}, which is not text (no UTF-8 encoding); remove it"
        if char in _BREAKS_LINE:
            return (
                f"{where}: ifupdown2 ends a line there and reads what follows as "
                "configuration (a 'post-up' line runs as root); "
                + ("write the text on one line" if char == "\n" else "remove it")
            )
        return (
            f"{where}: network files hold printable text only (readers disagree on control "
            "characters, some end a line there); remove it"
        )
    return None


def _template_problem(value: str, field: str, prefix: str, multiline: bool) -> str | None:
    for marker, effect in _TEMPLATE_MARKERS.items():
        if marker in value:
            return (
                f"{field} {shown(value)} holds '{marker}': when python3-mako is installed, "
                f"ifupdown2 renders the file as a Mako template and {effect}; remove it"
            )
    for number, line in enumerate(value.split("\n") if multiline else [value], start=1):
        written = (prefix + line).lstrip(" \t")
        for start, effect in (("##", "drops the line"), ("%", "runs it as a control line")):
            if written.startswith(start):
                which = f"{field} {shown(value)}" + (f": its line {number}" if multiline else "")
                return (
                    f"{which} would be written as {shown(written)}, which starts with "
                    f"'{start}': when python3-mako is installed, ifupdown2 renders the file as "
                    f"a Mako template and {effect}; start the text with another character"
                )
    return None


def text_problem(
    value: str, *, field: str, prefix: str, max_length: int, multiline: bool = False
) -> str | None:
    """Why ``value`` cannot be written at the end of a line after ``prefix``; None if it can.

    ``prefix`` is what the writer puts before the value on its line (``#`` for
    a comment, ``\\talias `` for the alias option); ``multiline`` allows line
    feeds, for values the writer splits into lines of their own, each after
    ``prefix``. The sentence names ``field``, shows the value, and says why and
    what to do.
    """
    if len(value) > max_length:
        return (
            f"{field} {shown(value)} is {len(value)} characters long; at most {max_length} "
            "are written to a node"
        )
    problem = _character_problem(value, field, multiline) or _template_problem(
        value, field, prefix, multiline
    )
    if problem:
        return problem
    if (at := value.find("\\")) >= 0:
        return (
            f"{field} {shown(value)} holds a backslash at character {at + 1}: "
            "ifupdown2 joins lines at every backslash (one at the end pulls the next line, "
            "such as 'auto vmbr0', into this one); remove it"
        )
    if not multiline and value != value.strip():
        return (
            f"{field} {shown(value)} starts or ends with whitespace, which ifupdown2 drops; "
            "remove it"
        )
    return None


def check_text(
    value: str, *, field: str, prefix: str, max_length: int, multiline: bool = False
) -> str:
    """``value`` unchanged, or ValueError with :func:`text_problem`'s sentence (for pydantic)."""
    problem = text_problem(
        value, field=field, prefix=prefix, max_length=max_length, multiline=multiline
    )
    if problem:
        raise ValueError(problem)
    return value
