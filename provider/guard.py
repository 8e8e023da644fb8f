"""The lockout guard: refuse, at preview, changes that could cut pvenet off the node (pure).

The interface that holds the address pvenet talks to (the endpoint's address,
or the node's address in the cluster) and everything under it (its bridge
ports, bond slaves, VLAN parent) form the management path. Deleting or
rewiring anything on that path can leave the node unreachable after the
reload, so such a change needs ``allow_management_change=True``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from provider.model import Spec
from provider.plan import Link


def _holds(spec: Spec, addresses: Collection[str]) -> bool:
    for cidr in (spec.cidr, spec.cidr6):
        if cidr and str(ipaddress.ip_interface(cidr).ip) in addresses:
            return True
    return False


def management_path(
    addresses: Collection[str], specs: Mapping[str, Spec], links: Mapping[str, Link]
) -> list[str]:
    """Interfaces carrying the management address, and what they are built on."""
    roots = sorted(name for name, spec in specs.items() if _holds(spec, addresses))
    path: list[str] = []
    pending = list(roots)
    while pending:
        name = pending.pop(0)
        if name in path:
            continue
        path.append(name)
        link = links.get(name)
        if link is not None:
            pending.extend(sorted(link.ports))
            if link.parent:
                pending.append(link.parent)
    return path


def _wiring(spec: Spec) -> tuple[object, ...]:
    addresses = tuple(
        str(ipaddress.ip_interface(c).ip) if c else None for c in (spec.cidr, spec.cidr6)
    )
    return (spec.type, tuple(spec.ports()), spec.parent(), addresses)


def management_changes(
    node: str,
    addresses: Collection[str],
    specs: Mapping[str, Spec],
    links: Mapping[str, Link],
    targets: Mapping[str, Spec | None],
) -> list[str]:
    """Sentences naming each change to the management path; empty when there is none."""
    path = management_path(addresses, specs, links)
    found = []
    for name in path:
        if name not in targets:
            continue
        target, current = targets[name], specs.get(name)
        if target is None:
            found.append(f"{node}: {name} carries the management path and would be deleted")
        elif current is not None and _wiring(target) != _wiring(current):
            found.append(
                f"{node}: {name} carries the management path ({', '.join(sorted(addresses))}) "
                f"and would be rewired: ports {list(current.ports())} -> {list(target.ports())}, "
                f"address {current.cidr} -> {target.cidr}"
            )
    return found
