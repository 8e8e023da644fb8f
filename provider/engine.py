"""Helpers every pvenet dynamic provider shares for what the Pulumi engine sends it.

The engine hands providers values that are not quite the program's: numbers
arrive as floats (``1500.0``, pulumi/pulumi#13830), and during preview any
value may be unknown (an ``output.Unknown`` object, or the RPC sentinel
string). These helpers undo the first and detect the second, so each
provider's ``check`` and ``diff`` read the same way.
"""

from __future__ import annotations

from typing import Any

from pulumi.output import Unknown
from pulumi.runtime import rpc


def is_unknown(value: Any) -> bool:
    """Whether a value (or anything inside it) is unknown during preview."""
    if isinstance(value, dict):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(is_unknown(v) for v in value)
    return isinstance(value, Unknown) or (isinstance(value, str) and value == rpc.UNKNOWN)


def coerce_numbers(value: Any) -> Any:
    """Engine numbers arrive as floats (1500.0); whole floats become ints again."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [coerce_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: coerce_numbers(v) for k, v in value.items()}
    return value
