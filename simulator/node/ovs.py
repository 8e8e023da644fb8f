"""The ``ovs_options`` line of an Open vSwitch stanza, as Proxmox takes it apart and rebuilds it.

Proxmox keeps some OVS settings inside the free-form ``ovs_options`` value
(``bond_mode=balance-slb lacp=active tag=10``): its reader moves ``bond_mode``,
``lacp`` and ``tag`` out into keys of their own, and its writer puts them back.
Both rebuild the value from the ``key=value`` words that remain; a word
without ``=`` (or with an empty or ``0`` key) is dropped on the way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from simulator.node.config import Stanza
from simulator.perl import split_words, text, truthy

T = TypeVar("T")


def _options(stanza: Stanza) -> dict[str, str]:
    options: dict[str, str] = {}
    raw = stanza.get("ovs_options")
    for word in split_words(text(raw) if truthy(raw) else ""):
        key, equals, value = word.partition("=")
        if truthy(key) and equals:
            options[key] = value
    return options


def _store(stanza: Stanza, options: dict[str, str]) -> None:
    joined = " ".join(f"{key}={value}" for key, value in options.items())
    if joined:
        stanza["ovs_options"] = joined
    else:
        stanza.pop("ovs_options", None)


def _rewrite(stanza: Stanza, change: Callable[[dict[str, str]], T]) -> T:
    """Apply ``change`` to the stanza's options and store what remains; return its result."""
    options = _options(stanza)
    result = change(options)
    _store(stanza, options)
    return result


def take_ovs_option(stanza: Stanza, name: str) -> str | None:
    """Remove ``name=...`` from the stanza's ``ovs_options``; return its value (None if absent)."""
    return _rewrite(stanza, lambda options: options.pop(name, None))


def put_ovs_option(stanza: Stanza, name: str, value: Any) -> None:
    """Set ``name=value`` in the stanza's ``ovs_options``; a false value removes it."""

    def put(options: dict[str, str]) -> None:
        if truthy(value):
            options[name] = text(value)
        else:
            options.pop(name, None)

    _rewrite(stanza, put)
