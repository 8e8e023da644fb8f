"""What pvenet reports as wrong, in one shape for every layer (pure).

- :class:`Problem`: an input that is not valid, at its property path
  (``interfaces[1].bond_primary``, ``subnets[0].gateway``, ``nat[0].cidr``);
  :func:`pydantic_problems` turns pydantic's errors into problems, each kind
  of input choosing its words with a :class:`Wording`;
- :class:`Mismatch`: a setting a node or the cluster does not run as desired,
  found by :func:`differences` when a change is read back.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

Location = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One validation failure: the property path and a sentence a person can act on."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def path_of(prefix: str, location: Sequence[str | int]) -> str:
    """``("dhcp_ranges", 0, "end")`` below ``subnets[0]`` -> ``subnets[0].dhcp_ranges[0].end``."""
    text = prefix
    for part in location:
        if isinstance(part, int) or part.isdigit():
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


@dataclass(frozen=True)
class Wording:
    """How one kind of input words pydantic's errors (the defaults suit most).

    pydantic's own sentence is kept, without its ``Value error, `` lead, and
    ends with ``(got <value>)`` where it does not show the value itself.
    """

    extra: Callable[[Location], str] | None = None
    """The sentence for a key the input may not have, given its location; None: pydantic's."""
    missing: str | None = "is required"
    """The sentence for a required key left out; None: pydantic's (``Field required``)."""
    types: Mapping[str, str] = field(default_factory=dict)
    """Error types said of the value instead: ``{"list_type": "is not a list"}`` words a
    string given for a list as ``'eno4' is not a list``."""
    special: Callable[[ErrorDetails, str], Problem | None] | None = None
    """A problem of its own for an error (with its path) that needs other words, or None."""
    tags: Collection[str] = ()
    """Location parts that name the member of a union (``bridge``), not a key."""

    def problem(self, error: ErrorDetails, path: str, location: Location) -> Problem:
        """One of pydantic's errors, at ``path``, in these words."""
        kind, value = error["type"], error.get("input")
        if self.special is not None and (own := self.special(error, path)) is not None:
            return own
        if kind == "extra_forbidden" and self.extra is not None:
            return Problem(path, self.extra(location))
        if kind == "missing" and self.missing is not None:
            return Problem(path, self.missing)
        if kind in self.types:
            return Problem(path, f"{value!r} {self.types[kind]}")
        message = str(error["msg"]).removeprefix("Value error, ")
        if (
            kind not in ("missing", "value_error")  # our own sentences show the value
            and not isinstance(value, Mapping)
            and str(value) not in message
        ):
            message = f"{message} (got {value!r})"
        return Problem(path, message)


def pydantic_problems(error: ValidationError, wording: Wording, prefix: str = "") -> list[Problem]:
    """Every error of ``error`` as a problem at its path below ``prefix``, in ``wording``."""
    problems = []
    for detail in error.errors():
        location = tuple(part for part in detail["loc"] if not _names_a_type(part, wording.tags))
        problems.append(wording.problem(detail, path_of(prefix, location), location))
    return problems


def _names_a_type(part: str | int, tags: Collection[str]) -> bool:
    """Whether a location part is pydantic's name for a union member or a validator."""
    return isinstance(part, str) and (part in tags or "[" in part or part.startswith("function-"))


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
