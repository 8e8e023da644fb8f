"""The ``changes`` diff's matcher: difflib's matching blocks, found without difflib's cost.

``simulator.node.diff`` answers ``diff -b -N -u`` with ``difflib.SequenceMatcher`` (no
junk, every line compared), searching its longest matching blocks a quicker way. The
blocks, and so every diff, must be exactly difflib's: on short random texts over a few
letters (many equal lines, many ties), and on long texts with a few edits (long runs).
"""

from __future__ import annotations

import difflib
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.node import diff
from simulator.node.diff import _Matcher

LINES = st.lists(st.sampled_from(("a", "b", "c", " x")), max_size=30)


def _difflib(old: list[str], new: list[str]) -> list[difflib.Match]:
    return difflib.SequenceMatcher(None, old, new, False).get_matching_blocks()


@settings(max_examples=500, deadline=None)
@given(LINES, LINES)
def test_the_blocks_of_any_two_short_texts_are_difflibs(old: list[str], new: list[str]) -> None:
    """Ties everywhere: the longest block, then the first in the old text, then in the new
    (the quicker search on every range, however short)."""
    with mock.patch.object(diff, "_SMALL", 0):
        assert _Matcher(old, new).get_matching_blocks() == _difflib(old, new)


@st.composite
def _edited(draw: st.DrawFn) -> tuple[list[str], list[str]]:
    """A long file of stanzas that share most lines, and the same with a few lines changed."""
    size = draw(st.integers(20, 120))
    old = [line for n in range(size) for line in (f"iface vmbr{n}", "\tbridge-stp off", "")]
    new = list(old)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(new)))
        removed = draw(st.integers(0, 4))
        added = draw(st.lists(st.sampled_from(("", "\tmtu 9000", "iface vmbr3")), max_size=4))
        new[at : at + removed] = added
    return old, new


@settings(max_examples=200, deadline=None)
@given(_edited())
def test_the_blocks_of_a_long_file_and_a_few_edits_are_difflibs(
    texts: tuple[list[str], list[str]],
) -> None:
    """Long runs of equal lines: the quicker search follows only some of them."""
    old, new = texts
    assert _Matcher(old, new).get_matching_blocks() == _difflib(old, new)
