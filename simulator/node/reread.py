"""Reading a node's file again where it differs from a file read before.

Every API write prints the whole file anew from a config that differs in one
interface, and the next request reads it again: a file of a thousand
interfaces, most paragraphs as they were. When the file is one the reader
keeps a ``Trace`` for (each paragraph empty, kept lines or all about one
interface, as the writer prints it), this module finds the paragraphs that
differ from the last files read (the run between their common first and last
paragraphs) and reads those only: the interfaces before the run are as they
were, those after it too, one or more places further up or down the file
(``config.moved``), and the interfaces of the run are completed as the reader
completes them, in the same state of the others.

It does so only where that is what reading the whole file gives, and reads the
whole file otherwise: the interfaces of the run have all their paragraphs in
it, are no NIC nor ``lo``, and no interface looks at them as a parent (a VLAN's
or an alias's) or at a parent that the file lacks, or one after it in name
order (not completed yet when it is), and kept lines stay as they were.
``tests/simulator/test_node_shortcuts.py`` checks the answers against reading
the whole file.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Collection, Iterable

from simulator.node.config import NetworkConfig, moved
from simulator.node.read import OwnParagraphs, Reader, Trace, read_paragraph, read_traced

_RUN = 32
"""Paragraphs that differ beyond which the whole file is read."""
_CHUNK = 64
"""Paragraphs compared at once (as lists, in C) while looking for where two files differ."""
_KEPT = 4
"""Files read whose traces are kept (the node's staged file and its live one, other nodes')."""
_TRACES: list[Trace] = []
"""The traces of the last files read, the newest last; each never changed."""


def read_again(text: str, nics: Collection[str], active: Iterable[str]) -> NetworkConfig:
    """``read.read_interfaces``: the same config, read where the file differs from one read
    before, else whole. The config is the caller's, its stanzas shared (see there)."""
    paragraphs = text.split("\n\n")
    nics, active = tuple(nics), frozenset(active)
    for trace in reversed(_TRACES):
        if trace.nics == nics and trace.active == active:
            again = _read_run(trace, paragraphs)
            if again is not None:
                _keep(again)
                return NetworkConfig(dict(again.ifaces), list(again.options))
    config, traced = read_traced(paragraphs, nics, active)
    if traced is not None:
        _keep(traced)
    return config


def _keep(trace: Trace) -> None:
    _TRACES.append(trace)
    del _TRACES[:-_KEPT]


def _common_ends(old: list[str], new: list[str]) -> tuple[int, int]:
    """How many paragraphs the two files share at their start, then at their end (not
    counting twice those of the start): compared ``_CHUNK`` at a time, then one by one."""
    limit = min(len(old), len(new))
    start = 0
    while start + _CHUNK <= limit and old[start : start + _CHUNK] == new[start : start + _CHUNK]:
        start += _CHUNK
    while start < limit and old[start] == new[start]:
        start += 1
    end, old_size, new_size = 0, len(old), len(new)
    while (
        end + _CHUNK <= limit - start
        and old[old_size - end - _CHUNK : old_size - end]
        == new[new_size - end - _CHUNK : new_size - end]
    ):
        end += _CHUNK
    while end < limit - start and old[-1 - end] == new[-1 - end]:
        end += 1
    return start, end


def _missing(trace: Trace, name: str) -> bool:
    """Whether ``name`` is a parent the file lacks, added as missing by the reader."""
    return name in trace.tail and name not in trace.nics and name != "lo"


def _read_run(trace: Trace, paragraphs: list[str]) -> Trace | None:
    """The trace of ``paragraphs`` read where they differ from ``trace``'s, or None where that
    would not give what reading them whole gives (see the module)."""
    old_paragraphs = trace.paragraphs
    start, end = _common_ends(old_paragraphs, paragraphs)
    old_end, new_end = len(old_paragraphs) - end, len(paragraphs) - end
    if max(old_end, new_end) - start > _RUN:
        return None
    gone: dict[str, int] = {}
    for text in old_paragraphs[start:old_end]:
        paragraph = read_paragraph(text)
        if paragraph.owner is not None:
            gone[paragraph.owner] = gone.get(paragraph.owner, 0) + 1
        elif paragraph.events:
            return None  # kept lines
    if any(trace.counts[name] != count for name, count in gone.items()):
        return None  # an interface with paragraphs before or after the run
    own: dict[str, OwnParagraphs] = {}
    firsts, positions = [], []
    position = trace.positions[start]
    for index, text in enumerate(paragraphs[start:new_end], start):
        positions.append(position)
        paragraph = read_paragraph(text)
        name = paragraph.owner
        if name is None:
            if paragraph.events:
                return None  # kept lines
            continue
        if name not in own:
            if (name in trace.counts and name not in gone) or not paragraph.stanzas:
                return None  # paragraphs before or after the run, or its place in a later one
            own[name] = OwnParagraphs([])
            firsts.append(index)
        own[name].texts.append(text)
        if own[name].priority is None and paragraph.stanzas:
            own[name].priority = position
            position += 1
    run = gone.keys() | own.keys()
    if any(
        name in trace.nics or name == "lo" or name in trace.looked_at or name in trace.tail
        for name in run
    ):
        return None
    if any(_missing(trace, parent) for name in gone for parent in trace.parents.get(name, ())):
        return None  # a parent the file lacks, added as missing: maybe not anymore
    shift = position - trace.positions[old_end]
    before = bisect.bisect_left(trace.firsts, start)
    after = bisect.bisect_left(trace.firsts, old_end)
    count = len(trace.owners)  # the owners come first in the config, in order, then the tail
    items = trace.ifaces.items()
    ifaces = dict(itertools.islice(items, before))
    ifaces.update({name: {} for name in own})  # their places, kept until completed
    if shift:
        later = trace.owners[after:]
        stanzas = moved(list(itertools.islice(trace.ifaces.values(), after, count)), shift)
        ifaces.update(zip(later, stanzas, strict=True))
    else:
        ifaces.update(itertools.islice(items, after, count))
    ifaces.update(itertools.islice(items, count, None))
    counts = dict(trace.counts)
    for name in gone:
        del counts[name]
    counts.update({name: len(paragraphs.texts) for name, paragraphs in own.items()})
    owners = [*trace.owners[:before], *own, *trace.owners[after:]]
    reader = Reader(ifaces)
    reader.own = own  # emptied as they are completed
    parents = dict(trace.parents)
    for name in gone:
        parents.pop(name, None)
    looked_at = trace.looked_at if len(parents) == len(trace.parents) else None
    for name in sorted(own):  # the keys: ``own`` is emptied on the way
        size = len(ifaces)
        looked = reader.complete_one(name, trace.nics, trace.active)
        if len(ifaces) != size or any(
            parent in run or parent >= name or _missing(trace, parent) for parent in looked
        ):
            return None  # a parent missing, in the run, or not completed before it
        if looked:
            parents[name] = looked
            looked_at = None
    moved_by = len(paragraphs) - len(old_paragraphs)
    later_firsts = trace.firsts[after:]
    later_positions = trace.positions[old_end:]
    return Trace(
        paragraphs,
        trace.nics,
        trace.active,
        ifaces,
        [
            (kept + shift if kept >= trace.positions[old_end] else kept, line)
            for kept, line in trace.options
        ],
        owners,
        [
            *trace.firsts[:before],
            *firsts,
            *([first + moved_by for first in later_firsts] if moved_by else later_firsts),
        ],
        counts,
        [
            *trace.positions[:start],
            *positions,
            *([kept + shift for kept in later_positions] if shift else later_positions),
        ],
        trace.tail,
        parents,
        looked_at
        if looked_at is not None
        else frozenset(parent for looked in parents.values() for parent in looked),
    )
