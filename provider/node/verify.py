"""Did the node end up as desired? A pure comparison with dotted paths.

After an apply, pvenet reads the node back and compares it with the target.
Every difference is a ``Mismatch`` naming ``<iface>.<setting>`` with the
desired and the observed value, so a failed verification says exactly what is
not live.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from provider.node.model import Spec


@dataclass(frozen=True)
class Mismatch:
    """One setting that differs between the target and the node."""

    path: str
    desired: Any
    observed: Any

    def __str__(self) -> str:
        return f"{self.path}: desired {self.desired!r}, current {self.observed!r}"


def verify(targets: Mapping[str, Spec | None], observed: Mapping[str, Spec]) -> list[Mismatch]:
    """Differences between ``targets`` (None = must be absent) and the ``observed`` specs."""
    found: list[Mismatch] = []
    for name in sorted(targets):
        target, actual = targets[name], observed.get(name)
        if target is None:
            if actual is not None:
                found.append(Mismatch(name, "absent", "present"))
            continue
        if actual is None:
            found.append(Mismatch(name, "present", "absent"))
            continue
        want, have = target.model_dump(), actual.model_dump()
        for key in sorted(want):
            if want[key] != have.get(key):
                found.append(Mismatch(f"{name}.{key}", want[key], have.get(key)))
    return found
