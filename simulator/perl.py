"""How Perl sees a scalar: truth, numeric value, text, and ``split /\\s+/``.

Proxmox's readers and writers are Perl, and much of their behaviour lies in
Perl's rules rather than in their code: ``if ($d->{mtu})`` is false for
``"0"``, ``$fd >= 2`` reads ``"3abc"`` as 3, a reference prints as
``ARRAY(0x...)``, ``split(/\\s+/, ...)`` keeps a leading empty field and drops
trailing ones. The simulator's Perl-derived modules ask these questions here,
so they are answered one way everywhere.
"""

from __future__ import annotations

import re
from typing import Any

# A Perl reference in string context prints its type and address; the address is the
# only part that varies between runs, so the simulator prints a fixed one.
ARRAY_REFERENCE = "ARRAY(0x55d5c0de0000)"

_LEADING_NUMBER = re.compile(r"[ \t\n\r\f\v]*([+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+))")
_WHITESPACE = re.compile(r"[ \t\n\r\f\v]+")


def truthy(value: Any) -> bool:
    """Perl's truth: undef, ``''``, ``'0'`` and the number 0 are false, all else is true."""
    if value.__class__ is str:  # most values: asked first, for speed
        return value not in ("", "0")
    if value is None:
        return False
    if isinstance(value, bool | int | float):
        return bool(value)
    if isinstance(value, list | dict):
        return True  # a reference
    return str(value) not in ("", "0")


def numeric(value: Any) -> float:
    """A scalar in numeric context: its leading number (``"3abc"`` is 3), else 0."""
    if isinstance(value, bool | int | float):
        return float(value)
    match = _LEADING_NUMBER.match(str(value or ""))
    return float(match[1]) if match else 0.0


def text(value: Any) -> str:
    """A scalar in string context, as ``"$value"`` interpolates it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ARRAY_REFERENCE
    return str(value)


def split_words(value: str) -> list[str]:
    """``split(/\\s+/, $value)``: a leading empty field is kept, trailing empty ones dropped."""
    fields = _WHITESPACE.split(value)
    while fields and not fields[-1]:
        fields.pop()
    return fields
