"""Did the node end up as desired? A pure comparison with dotted paths.

After an apply, pvenet reads the node back and compares it with the target.
Every difference is a ``Mismatch`` naming ``<iface>.<setting>`` with the
desired and the observed value, so a failed verification says exactly what is
not live.
"""

from __future__ import annotations

from collections.abc import Mapping

from provider.node.model import Spec
from provider.problems import Mismatch, differences


def verify(targets: Mapping[str, Spec | None], observed: Mapping[str, Spec]) -> list[Mismatch]:
    """Differences between ``targets`` (None = must be absent) and the ``observed`` specs."""
    found: list[Mismatch] = []
    for name in sorted(targets):
        target, actual = targets[name], observed.get(name)
        found += differences(
            name,
            None if target is None else target.model_dump(),
            None if actual is None else actual.model_dump(),
        )
    return found
