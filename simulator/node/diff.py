"""The ``changes`` text Proxmox shows for pending network changes.

Proxmox computes it with ``diff -b -N -u /etc/network/interfaces
/etc/network/interfaces.new``: a unified diff that ignores changes in the amount
of white space, where a missing file counts as empty. This module produces
the same text without running a program.
"""

from __future__ import annotations

import difflib
import re
from datetime import UTC, datetime


def _timestamp(mtime_ns: int | None) -> str:
    """GNU diff's header time: ``2026-11-26 03:32:12.123456789 +0000``."""
    seconds, nanos = divmod(mtime_ns or 0, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{nanos:09d} +0000"


def _normalise(line: str) -> str:
    """A line as ``-b`` compares it: runs of blanks as one, none at the end (a CR is one)."""
    return re.sub(r"[ \t\v\f\r]+", " ", line).rstrip(" ")


def _lines(text: str) -> list[str]:
    """The lines diff sees: split at LF only, without the empty piece after a final LF."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _range(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


def unified_diff(
    old: str,
    new: str,
    old_label: str,
    new_label: str,
    old_mtime_ns: int | None,
    new_mtime_ns: int | None,
) -> str | None:
    """``diff -b -N -u`` of two texts, or None when they differ only in white space."""
    old_lines, new_lines = _lines(old), _lines(new)
    matcher = difflib.SequenceMatcher(
        None, [_normalise(x) for x in old_lines], [_normalise(x) for x in new_lines], False
    )
    hunks = list(matcher.get_grouped_opcodes(3))
    if not hunks:
        return None
    out = [
        f"--- {old_label}\t{_timestamp(old_mtime_ns)}",
        f"+++ {new_label}\t{_timestamp(new_mtime_ns)}",
    ]
    for group in hunks:
        first, last = group[0], group[-1]
        out.append(
            f"@@ -{_range(first[1], last[2] - first[1])} +{_range(first[3], last[4] - first[3])} @@"
        )
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out.extend(" " + line for line in old_lines[i1:i2])
                continue
            out.extend("-" + line for line in old_lines[i1:i2])
            out.extend("+" + line for line in new_lines[j1:j2])
    return "\n".join(out) + "\n"
