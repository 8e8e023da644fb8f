"""The ``changes`` text Proxmox shows for pending network changes.

Proxmox computes it with ``diff -b -N -u /etc/network/interfaces
/etc/network/interfaces.new``: a unified diff that ignores changes in the amount
of white space, where a missing file counts as empty. This module produces
the same text without running a program: ``difflib.SequenceMatcher`` over the
lines (every line compared, none treated as junk), with a quicker search for
its longest matching block (``_Matcher``), and each diff kept for the texts and
times it was made of, so a node read again while nothing changed is not
diffed again.
"""

from __future__ import annotations

import bisect
import difflib
import functools
import itertools
import operator
from datetime import UTC, datetime


def _timestamp(mtime_ns: int | None) -> str:
    """GNU diff's header time: ``2026-11-26 03:32:12.123456789 +0000``."""
    seconds, nanos = divmod(mtime_ns or 0, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, UTC)
    return f"{moment:%Y-%m-%d %H:%M:%S}.{nanos:09d} +0000"


_SMALL = 16
"""Lines of ``a`` in a range below which difflib's own search is quick enough."""


@functools.lru_cache(maxsize=1 << 16)
def _normalise(line: str) -> str:
    """A line as ``-b`` compares it: runs of blanks as one, none at the end (a CR is one).
    Kept: a file's lines are mostly those of the files diffed before."""
    for blank in "\t\v\f\r":
        if blank in line:
            line = line.replace(blank, " ")
    while "  " in line:
        line = line.replace("  ", " ")
    return line.rstrip(" ")


class _Matcher(difflib.SequenceMatcher[str]):
    """``SequenceMatcher(None, a, b, autojunk=False)`` with a quicker ``find_longest_match``.

    difflib looks at every pair of equal lines of a range to find its longest
    matching block (the longest, then the first in ``a``, then in ``b``): with a
    file's many equal lines (``bridge-stp off``...), that is slow on a long file.
    Here the runs of equal lines on the diagonals of the range's two ends (where
    the lines around a change line up) are measured first; the longest,
    ``least`` lines long, says the block sought is at least as long, so it
    covers a whole window of ``least / 2`` lines of ``a``, windows laid end to
    end: only the pairs of each window's rarest line are followed (an
    ``iface`` line, not ``bridge-stp off``), each run once. The block found,
    and so the diff, is the one difflib finds.
    """

    def __init__(self, a: list[str], b: list[str]) -> None:
        super().__init__(None, a, b, False)
        self._a, self._b = a, b
        self._where: dict[str, list[int]] = self.b2j  # type: ignore[attr-defined]  # b's lines
        self._counts = [len(self._where.get(line, ())) for line in a]  # how often in b

    def _run(self, i: int, j: int, forward: bool, bounds: tuple[int, int, int, int]) -> int:
        """How many equal lines ``a`` and ``b`` have from ``a[i]``/``b[j]`` on (``forward``), or
        just before them, within the range: slices compared in bulk, by doubling then
        halving."""
        a, b = self._a, self._b
        alo, ahi, blo, bhi = bounds
        if forward:
            limit = min(ahi - i, bhi - j) if i >= alo and j >= blo else 0
        else:
            limit = min(i - alo, j - blo) if i <= ahi and j <= bhi else 0

        def same(start: int, end: int) -> bool:
            """Whether the lines ``start`` to ``end`` (exclusive) away are equal."""
            if forward:
                return a[i + start : i + end] == b[j + start : j + end]
            return a[i - end : i - start] == b[j - end : j - start]

        if limit <= 0 or not same(0, 1):
            return 0
        low, high = 1, 2  # the first ``low`` lines are equal
        while high <= limit and same(low, high):
            low, high = high, high * 2
        high = min(high, limit + 1)
        while high - low > 1:
            middle = (low + high) // 2
            low, high = (middle, high) if same(low, middle) else (low, middle)
        return low

    def _run_at(self, i: int, j: int, bounds: tuple[int, int, int, int]) -> tuple[int, int, int]:
        """The run of equal lines on ``a[i]``/``b[j]``'s diagonal that passes through them (or
        ends just before them): its size and where it starts in ``a`` and ``b``."""
        back = self._run(i, j, False, bounds)
        return back + self._run(i, j, True, bounds), i - back, j - back

    def _longest_on(self, shift: int, bounds: tuple[int, int, int, int]) -> tuple[int, int, int]:
        """The longest run of equal lines on one diagonal (``b[i + shift]`` against ``a[i]``)
        within the range, the first if several: where the lines around a change line up.
        The lines are compared in bulk; only where they differ is looked at one by one."""
        alo, ahi, blo, bhi = bounds
        low, high = max(alo, blo - shift), min(ahi, bhi - shift)
        if high <= low:
            return 0, alo, blo
        differ = itertools.compress(
            range(low, high),
            map(operator.ne, self._a[low:high], self._b[low + shift : high + shift]),
        )
        ends = [low - 1, *differ, high]  # the lines before and after each run
        sizes = list(map(operator.sub, ends[1:], ends[:-1]))
        size = max(sizes)
        start = ends[sizes.index(size)] + 1
        return size - 1, start, start + shift

    def find_longest_match(
        self, alo: int = 0, ahi: int | None = None, blo: int = 0, bhi: int | None = None
    ) -> difflib.Match:
        """difflib's answer for the range (see the class)."""
        ahi = len(self._a) if ahi is None else ahi
        bhi = len(self._b) if bhi is None else bhi
        if ahi - alo < _SMALL:
            return super().find_longest_match(alo, ahi, blo, bhi)
        bounds = (alo, ahi, blo, bhi)
        measured = {blo - alo, bhi - ahi}  # diagonals (j - i) whose runs are all known
        best = max((self._longest_on(shift, bounds) for shift in measured), key=_rank)  # size, i, j
        least = best[0]
        if least < 2:
            return super().find_longest_match(alo, ahi, blo, bhi)
        a, b = self._a, self._b
        window = (least + 1) // 2
        run_end: dict[int, int] = {}  # diagonal (j - i): where the last run followed on it ends
        for start in range(alo, ahi, window):
            # A run of ``least`` lines covers a whole window: follow its rarest line's pairs.
            counts = self._counts[start : min(start + window, ahi)]
            i = start + counts.index(min(counts))
            where = self._where.get(a[i], [])
            for j in where[bisect.bisect_left(where, blo) :]:
                if j >= bhi:
                    break
                if j - i in measured or run_end.get(j - i, alo) > i:
                    continue  # on a measured diagonal, or inside a run already followed
                # A run at least as long as the best passes through a[i + h] or a[i - h].
                h = best[0] // 2
                if not (
                    (i + h < ahi and j + h < bhi and a[i + h] == b[j + h])
                    or (i - h >= alo and j - h >= blo and a[i - h] == b[j - h])
                ):
                    continue
                run = self._run_at(i, j, bounds)
                run_end[j - i] = run[1] + run[0]
                best = max(best, run, key=_rank)
        size, i, j = best
        return difflib.Match(i, j, size)


def _rank(run: tuple[int, int, int]) -> tuple[int, int, int]:
    """difflib's order of matching blocks: the longest, then the first in ``a``, then in ``b``."""
    size, i, j = run
    return size, -i, -j


@functools.lru_cache(maxsize=4)
def _lines(text: str) -> tuple[list[str], list[str]]:
    """The lines diff sees (split at LF only, without the empty piece after a final LF), and
    the same as ``-b`` compares them. Kept for the last texts (the live file is diffed against
    each new staged one): the lists are shared, never to be changed."""
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines, [_normalise(line) for line in lines]


def _range(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    if length == 0:
        return f"{start},0"
    return f"{start + 1},{length}"


@functools.lru_cache(maxsize=16)
def unified_diff(
    old: str,
    new: str,
    old_label: str,
    new_label: str,
    old_mtime_ns: int | None,
    new_mtime_ns: int | None,
) -> str | None:
    """``diff -b -N -u`` of two texts, or None when they differ only in white space."""
    (old_lines, old_compared), (new_lines, new_compared) = _lines(old), _lines(new)
    hunks = list(_Matcher(old_compared, new_compared).get_grouped_opcodes(3))
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
