"""What one pvenet set hands to another within one deployment, so the old set's delete leaves it.

Renaming a component, or declaring networks in other sets (a stack that had a set per
component now has one per node), makes Pulumi create the new resource and, at the end of
the same deployment, delete the old one. The new set finds the interfaces (or SDN networks)
running exactly as it wants them and takes them as its own; the old set's delete must then
leave them, or it removes them from under their new owner. An update that drops an
interface another set has just taken leaves it too.

Every dynamic resource of a deployment runs in one provider process, so a record kept in
this process is what both sides see. It is keyed by the endpoint and the place (a node, or
the cluster's SDN) and only ever makes a delete do less. A delete in a later deployment
than the hand-over (after ``pulumi up --target``) cannot see it: the README says so.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterable

Place = tuple[str, str]
"""(endpoint, node name or ``"sdn"``)."""

_HELD: dict[Place, dict[str, str]] = {}
_LOCK = threading.Lock()


def new_id(what: str) -> str:
    """A resource id for a create: ``what`` it is, made unique, so a set created under a new
    name is never taken for the one it replaces (both may describe the same interfaces)."""
    return f"{what}#{uuid.uuid4().hex[:8]}"


def hold(place: Place, owner: str, names: Iterable[str]) -> None:
    """Record that ``owner`` (a resource id) now runs ``names`` at ``place``; what it held
    before and no longer names is no longer its."""
    wanted = set(names)
    with _LOCK:
        held = _HELD.setdefault(place, {})
        for name in [n for n, o in held.items() if o == owner and n not in wanted]:
            del held[name]
        held.update(dict.fromkeys(wanted, owner))


def release(place: Place, owner: str) -> None:
    """``owner`` is gone (deleted): it holds nothing any more."""
    with _LOCK:
        held = _HELD.get(place, {})
        for name in [n for n, o in held.items() if o == owner]:
            del held[name]


def held_by_others(place: Place, owner: str, names: Iterable[str]) -> dict[str, str]:
    """Each of ``names`` that another resource took over in this deployment, with its id."""
    with _LOCK:
        held = _HELD.get(place, {})
        return {name: held[name] for name in names if held.get(name, owner) != owner}
