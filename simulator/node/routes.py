"""The node's default routes, as ifupdown2 sets them up from the live interfaces file.

The simulator has no kernel. Where Proxmox asks the kernel about routes, the
answer comes from the live ``/etc/network/interfaces``: the interface whose
stanza has a ``gateway`` (``gateway6`` for IPv6, which is also where a
``gateway`` with an IPv6 value goes) carries the default route of that
family, and its static address is the source the kernel picks for it. Without
such an interface there is no route, and ``ip route get`` fails as it does on
a node without one ("Network is unreachable").

Used for ``ip route get 8.8.8.8`` / ``ip route get 2001:4860:4860::8888``
(the SNAT rules of an SDN Simple zone) and for the node's own address.
"""

from __future__ import annotations

from collections.abc import Collection

from simulator.node.read import read_interfaces
from simulator.perl import text, truthy


def default_route(interfaces: str, nics: Collection[str], family: int) -> tuple[str, str] | None:
    """(interface, source address) of the IPv4 (``family`` 4) or IPv6 (6) default route."""
    suffix = "6" if family == 6 else ""
    config = read_interfaces(interfaces, nics)
    for name in sorted(config.ifaces):
        stanza = config.ifaces[name]
        if truthy(stanza.get("gateway" + suffix)) and truthy(stanza.get("address" + suffix)):
            return name, text(stanza["address" + suffix])
    return None


def route_get(interfaces: str, nics: Collection[str], target: str) -> tuple[str, str] | None:
    """``ip route get TARGET``: the ``dev`` and ``src`` of the route to an outside address.

    Only default routes are known, so the answer is the default route of the
    target's family; None when the node has none (the command fails).
    """
    return default_route(interfaces, nics, 6 if ":" in target else 4)
