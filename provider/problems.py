"""What pvenet reports as wrong, in one shape for every layer (pure).

- :class:`Problem`: an input that is not valid, at its property path
  (``interfaces[1].bond_primary``, ``subnets[0].gateway``, ``nat[0].cidr``);
- :class:`Mismatch`: a setting a node or the cluster does not run as desired,
  found by :func:`differences` when a change is read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One validation failure: the property path and a sentence a person can act on."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass(frozen=True)
class Mismatch:
    """One setting that differs between the desired state and the one read back."""

    path: str
    desired: Any
    observed: Any

    def __str__(self) -> str:
        return f"{self.path}: desired {self.desired!r}, current {self.observed!r}"


def differences(
    path: str, desired: Mapping[str, Any] | None, observed: Mapping[str, Any] | None
) -> list[Mismatch]:
    """How one object read back differs from the desired one (None = must be absent).

    An object that should be absent but is present, or the reverse, is one
    mismatch at ``path``; otherwise each differing setting is one at
    ``<path>.<setting>``, in the order of the setting names.
    """
    if desired is None:
        return [] if observed is None else [Mismatch(path, "absent", "present")]
    if observed is None:
        return [Mismatch(path, "present", "absent")]
    return [
        Mismatch(f"{path}.{key}", desired[key], observed.get(key))
        for key in sorted(desired)
        if desired[key] != observed.get(key)
    ]
