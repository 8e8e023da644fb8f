"""Guards: refuse, at preview, changes that need the operator's explicit consent (pure).

The lockout guard. The interface that holds the address pvenet talks to (the
endpoint's address, or the node's address in the cluster) and everything
under it (its bridge ports, bond slaves, VLAN parent) form the management
path. Deleting or rewiring anything on that path (its type, ports, VLAN parent
or id, addresses, gateways, MTU, bond mode) can leave the node unreachable
after the reload, so such a change needs ``allow_management_change=True``.
A bridge that holds the address only as a single host address (``/32``,
``/128``) with no gateway, while another interface holds it with its network
(the classic routed setup's guest bridge), reaches nothing but its guests:
it is not on the path.

The DHCP guard. Proxmox's API cannot write ``inet dhcp`` (or ``inet6 auto``):
every PUT recomputes the method from the request alone, so any write to such
an interface makes it ``inet manual`` (or ``static`` with the given address),
and the node stops asking for an address. Adopting or changing one needs
``allow_dhcp_to_static=True``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Mapping

from provider.node.model import BondSpec, Spec, VlanSpec
from provider.node.plan import Link


def _holds(spec: Spec, addresses: Collection[str]) -> bool:
    for cidr in (spec.cidr, spec.cidr6):
        if cidr and str(ipaddress.ip_interface(cidr).ip) in addresses:
            return True
    return False


def _host_only(spec: Spec) -> bool:
    """Whether ``spec``'s addresses are single host addresses with no gateway."""
    cidrs = [ipaddress.ip_interface(c) for c in (spec.cidr, spec.cidr6) if c]
    gateways = (spec.gateway, spec.gateway6)
    return (
        bool(cidrs)
        and not any(gateways)
        and all(c.network.prefixlen == c.network.max_prefixlen for c in cidrs)
    )


def management_path(
    addresses: Collection[str], specs: Mapping[str, Spec], links: Mapping[str, Link]
) -> list[str]:
    """Interfaces carrying the management address, and what they are built on."""
    holding = {name: spec for name, spec in specs.items() if _holds(spec, addresses)}
    networked = [spec for spec in holding.values() if not _host_only(spec)]
    roots = sorted(name for name, spec in holding.items() if not (networked and _host_only(spec)))
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


def _address(cidr: str | None) -> str | None:
    return str(ipaddress.ip_interface(cidr).ip) if cidr else None


def _wiring(spec: Spec) -> dict[str, object]:
    """The settings of a management-path interface whose change can cut the node off."""
    return {
        "type": spec.type,
        "ports": list(spec.ports()),
        "parent": spec.parent(),
        "vlan_id": spec.tag() if isinstance(spec, VlanSpec) else None,
        "address": _address(spec.cidr),
        "address6": _address(spec.cidr6),
        "gateway": spec.gateway,
        "gateway6": spec.gateway6,
        "mtu": spec.mtu,
        "bond_mode": spec.bond_mode if isinstance(spec, BondSpec) else None,
    }


def _shown(value: object) -> str:
    return "unset" if value is None else repr(value)


def _rewiring(current: Spec, target: Spec) -> list[str]:
    """``setting old -> new`` for each wiring setting ``target`` changes."""
    before, after = _wiring(current), _wiring(target)
    return [
        f"{key} {_shown(before[key])} -> {_shown(after[key])}"
        for key in before
        if before[key] != after[key]
    ]


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
        elif current is not None and (changes := _rewiring(current, target)):
            found.append(
                f"{node}: {name} carries the management path ({', '.join(sorted(addresses))}) "
                f"and would be rewired: {', '.join(changes)}"
            )
    return found


def dynamic_address_changes(
    node: str, links: Mapping[str, Link], targets: Mapping[str, Spec | None]
) -> dict[str, str]:
    """For each interface the node addresses by DHCP or SLAAC that the targets would write,
    the sentence that says so; empty when there is none."""
    found = {}
    for name, target in sorted(targets.items()):
        link = links.get(name)
        if target is None or link is None or not link.dynamic:
            continue
        found[name] = (
            f"{node}: {name} is '{link.dynamic}' on the node, and Proxmox's API cannot write "
            f"that: any write (this change, and putting {name} back when the set is deleted) "
            "makes it 'manual' or 'static' and the node stops asking for its address; give it "
            "a static cidr and set allow_dhcp_to_static=True, or leave it out of the set"
        )
    return found
