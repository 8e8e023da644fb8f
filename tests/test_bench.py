"""The benchmark still runs and still measures what it says: not a timed test, its counts.

pvenet makes each change of a set with one apply, whatever its size; a per-interface driver
reloads the node once per interface and change.
"""

from __future__ import annotations

import io

from bench import core, operations


def test_whole_changes_count_one_apply_per_change_for_pvenet_and_one_per_interface_otherwise() -> (
    None
):
    out = io.StringIO()
    results = operations.run([10], out)
    ours, theirs = results[10]["pvenet"], results[10]["per interface"]
    assert (ours.applies, theirs.applies) == (3, 30)
    assert theirs.requests > 2 * ours.requests
    assert ours.one_update is not None
    assert ours.one_update <= 6
    assert "ratio" in out.getvalue()


def test_core_rows_cover_plan_replan_and_render_at_each_size() -> None:
    labels = [label for label, _figure in core.core_rows((10, 20))]
    assert "plan 20 interfaces on a fresh node" in labels
    assert "plan: replace half of 20 interfaces" in labels
    assert "render 20 interfaces" in labels
    assert any(label.startswith("plan 20 again") for label in labels)
