"""A proposal checked the way ``up`` will check it: nothing proposed that would write.

``components.adopt.networks`` proposes networks from what the node lists; this
module holds each one against the code that will run it:

1. the component's own ``validate`` (its argument model and rules), as the root
   program does before declaring anything;
2. the node's networks together as the one set ``NodeNetworks`` makes of them
   (``provider.node.model.parse_interfaces``: one default gateway, one owner per port);
3. the provider's no-op test: the set's interfaces, resolved against the node's
   current specs as a ``NodeInterfaces`` update resolves them, verified against
   those specs (``provider.node.verify``). A network that would differ in any
   setting is no adoption: it would write.

A network that fails is taken out of the proposal (its interfaces stay on the
node as they are) and the finding says why, so the first ``up`` of what is left
writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from components.adopt.networks import Finding, Network, Proposal, leave, report
from components.adopt.sdn import CLUSTER
from components.arguments import Component
from components.errors import InvalidArguments
from components.node import BondedUplink, BridgedNetwork, VlanNetwork, _NodeComponent
from components.sdn import NatGateway, RoutedSubnet, _subnet
from provider.node.model import parse_interfaces
from provider.node.transaction import resolve
from provider.node.verify import verify
from provider.node.wire import spec_from_api
from provider.sdn.model import DhcpRange, require_sdn
from provider.sdn.plan import SdnState, desired_state
from provider.sdn.plan import verify as verify_sdn

COMPONENTS: Mapping[str, type[_NodeComponent]] = {
    "bridged": BridgedNetwork,
    "bonded": BondedUplink,
    "vlans": VlanNetwork,
}
"""The components of the node modes, by the mode's key in ``pvenet:networks``."""
_ROUNDS = 10
"""How often the set is checked again after a network was taken out (each round takes one)."""


def confirm(
    proposal: Proposal, items: Mapping[str, Mapping[str, Any]], lines: Any = ()
) -> Proposal:
    """Take out every network that ``up`` would refuse or that would write; report again."""
    current = {
        name: spec
        for name, item in items.items()
        if (spec := spec_from_api(name, item)) is not None
    }
    for network in list(proposal.networks):
        subject = ", ".join(network.interfaces)
        reason = _refused(network, COMPONENTS[network.mode], subject) or _writes(network, current)
        if reason:
            leave(proposal, network, reason)
    for _round in range(_ROUNDS):
        clash = _set_problem(proposal)
        if clash is None:
            break
        leave(proposal, *clash)
    report(proposal, items, lines)
    return proposal


def interface_dicts(network: Network) -> list[dict[str, Any]]:
    """The interface dicts the network's component makes of its entry (checked first)."""
    component = COMPONENTS[network.mode]
    values = component.checked(network.name, network.arguments())
    made = component.interface_inputs(network.name, values)
    # an entry from the node holds plain values only, so its interfaces are known now
    assert isinstance(made, list)
    return [dict(item) for item in made if isinstance(item, Mapping)]


def _refused(network: Network, component: type[Component], subject: str) -> str | None:
    """What ``component``'s validation says of the entry, if it refuses it (led by
    ``subject``: the network's interfaces, or its zone)."""
    try:
        component.validate(network.name, **network.arguments())
    except (InvalidArguments, TypeError) as error:
        return f"{subject}: pvenet would refuse it as a network: {error}"
    return None


def _writes(network: Network, current: Mapping[str, Any]) -> str | None:
    """The settings an ``up`` of the network would change on the node, if any."""
    specs, problems = parse_interfaces(interface_dicts(network))
    if problems:
        return f"{', '.join(network.interfaces)}: " + "; ".join(p.message for p in problems)
    targets = resolve({spec.iface: spec for spec in specs}, current)
    mismatches = verify(targets, current)
    if not mismatches:
        return None
    shown = "; ".join(str(m) for m in mismatches[:3])
    return (
        f"{', '.join(network.interfaces)}: as a {network.mode} network pvenet would change it "
        f"({shown}); it is left as it is"
    )


def _set_problem(proposal: Proposal) -> tuple[Network, str] | None:
    """The first network the node's set as a whole refuses (a second gateway, a shared port)."""
    owners: list[Network] = []
    dicts: list[dict[str, Any]] = []
    for network in proposal.networks:
        made = interface_dicts(network)
        dicts += made
        owners += [network] * len(made)
    _specs, problems = parse_interfaces(dicts)
    for problem in problems:
        if problem.path.startswith("interfaces["):
            index = int(problem.path.split("[", 1)[1].split("]", 1)[0])
            return owners[index], f"{problem.message}; left as it is"
    return None


def confirm_sdn(proposal: Proposal, states: Mapping[str, SdnState]) -> Proposal:
    """Take out every SDN network the component refuses or whose ``up`` would write.

    ``states``: each proposed zone's objects as read (``components.adopt.sdn.observed``).
    """
    for network in list(proposal.networks):
        zone = network.entry["zone"]
        component = NatGateway if network.mode == "nat" else RoutedSubnet
        reason = _refused(network, component, f"zone {zone}") or _sdn_writes(network, states[zone])
        if reason:
            proposal.networks.remove(network)
            proposal.left[zone] = reason
            proposal.findings.append(Finding(CLUSTER, f"zone {zone}", reason))
    return proposal


def _sdn_writes(network: Network, state: SdnState) -> str | None:
    """What an ``up`` of the network would change in the zone, if anything."""
    entry = network.entry
    dhcp = entry.get("dhcp_range")
    subnet = _subnet(
        entry["cidr"],
        network.mode == "nat",
        DhcpRange(start=dhcp[0], end=dhcp[1]) if dhcp else None,
        entry.get("dns_server"),
    )
    raw = {"zone": entry["zone"], "vnet": entry["vnet"], "subnets": [subnet]}
    raw.update({key: entry[key] for key in ("nodes", "mtu") if key in entry})
    mismatches = verify_sdn(entry["zone"], entry["vnet"], desired_state(require_sdn(raw)), state)
    if not mismatches:
        return None
    shown = "; ".join(str(m) for m in mismatches[:3])
    return (
        f"zone {entry['zone']}: as a {network.mode} network pvenet would change it ({shown}); "
        "it is left as it is"
    )
