"""A node's interfaces as the stack's networks, and what they cannot say (pure).

:func:`propose` takes the node's interfaces as Proxmox lists them (the API's
``GET /nodes/{node}/network``, or ``provider.node.dialect.parse`` of a copy of
the file) and, when it has them, the file's lines (``components.adopt.lines``),
and proposes the stack's networks:

- a bond with a bridge on it (that bridge's only port) is one ``bonded`` network
  (``BondedUplink`` with ``bridge``); a bond alone is ``bonded`` without one;
- any other bridge is ``bridged`` (``BridgedNetwork``) with its ports;
- a host VLAN is ``vlans`` (``VlanNetwork``).

Each takes over what exists with ``adopt: true``. An interface is proposed only
when its component writes it exactly as the node has it, so the first ``up``
changes nothing; anything else (``inet dhcp``, STP, a bond's own MII interval,
Open vSwitch, an address on a NIC, an IPv6 address where the component has no
such argument) is left on the node as it is, with a :class:`Finding` that says
why. Hook lines become host rules (``components.adopt.hooks``); other options
pvenet does not model are findings too. ``components.adopt.proof`` then checks
the proposal with the components' own rules and the provider's verification.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from components.adopt.hooks import Hook, HostRule, read_hook
from components.adopt.lines import TOP_WORDS, SourceLine
from provider.host.model import parse_rules
from provider.node.model import (
    DOTTED_VLAN_RE,
    BondSpec,
    BridgeSpec,
    Spec,
    VlanSpec,
    parse_interfaces,
    spec_to_dict,
)
from provider.node.wire import spec_from_api

MODELLED_OPTIONS = frozenset(
    (
        "address",
        "bond-miimon",
        "bond-mode",
        "bond-primary",
        "bond-slaves",
        "bond-xmit-hash-policy",
        "bond_miimon",
        "bond_mode",
        "bond_slaves",
        "bond_xmit_hash_policy",
        "bridge-fd",
        "bridge-ports",
        "bridge-stp",
        "bridge-vids",
        "bridge-vlan-aware",
        "bridge_fd",
        "bridge_ports",
        "bridge_stp",
        "bridge_vids",
        "bridge_vlan_aware",
        "gateway",
        "mtu",
        "netmask",
        "slaves",
        "vlan-id",
        "vlan-raw-device",
    )
)
"""Option lines whose meaning the generated network carries (or, for STP and the MII interval,
whose defaults the adopt rules check)."""
DEFAULT_VIDS = ["2-4094"]
_MANAGED_TYPES = ("bridge", "bond", "vlan")
_OVS_TYPES = ("OVSBridge", "OVSBond", "OVSPort", "OVSIntPort")
_STATIC = ("static", "manual", None)


@dataclass(frozen=True)
class Finding:
    """Something of the node's config the generated stack does not carry, and what to do.

    ``line``/``last``: the lines of the file it covers (None when read through the API).
    """

    node: str
    text: str
    reason: str
    line: int | None = None
    last: int | None = None
    rule: HostRule | None = None
    """The host rule a hook line sets (or, ``removes``, takes away), if it is one."""
    removes: bool = False

    def where(self) -> str:
        """``7`` or ``7-11`` (empty without a line number)."""
        if self.line is None:
            return ""
        return str(self.line) if self.last in (None, self.line) else f"{self.line}-{self.last}"


@dataclass(frozen=True)
class Network:
    """One proposed network: its mode, its stack entry and the interfaces it manages."""

    mode: str
    entry: dict[str, Any]
    interfaces: tuple[str, ...]

    @property
    def name(self) -> str:
        """The entry's ``name``."""
        return str(self.entry["name"])

    def arguments(self) -> dict[str, Any]:
        """The entry's component arguments: every key but ``name``."""
        return {key: value for key, value in self.entry.items() if key != "name"}


@dataclass
class Proposal:
    """What one node's config becomes: networks, host rules, findings."""

    node: str
    networks: list[Network] = field(default_factory=list)
    rules: list[HostRule] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    left: dict[str, str] = field(default_factory=dict)
    """Interfaces left on the node as they are, with why (their stanza lines are reported)."""

    @property
    def managed(self) -> list[str]:
        """The interfaces the proposed networks manage."""
        return sorted(name for network in self.networks for name in network.interfaces)


def network_name(node: str, iface: str) -> str:
    """A network's name in the stack: ``<node>-<iface>``, ``.`` as ``-`` (``pve1-vmbr0-20``).

    A name starts with a letter: a node named ``1a`` gives ``vmbr0-1a``.
    """
    name = f"{node}-{iface}" if node[:1].isalpha() else f"{iface}-{node}"
    return name.replace(".", "-")


def propose(
    node: str, items: Mapping[str, Mapping[str, Any]], lines: Sequence[SourceLine] = ()
) -> Proposal:
    """The networks, host rules and findings for one node's interfaces (see the module)."""
    proposal = Proposal(node)
    specs: dict[str, Spec] = {}
    for name in sorted(items, key=lambda n: (items[n].get("priority") or 0, n)):
        item = items[name]
        reason = _left_because(name, item)
        if reason:
            proposal.left[name] = reason
            continue
        if item.get("type") not in _MANAGED_TYPES:
            continue
        spec = spec_from_api(name, item)
        assert spec is not None  # bridge, bond and vlan are modelled
        _specs, problems = parse_interfaces([spec_to_dict(spec)])
        if problems:
            proposal.left[name] = "; ".join(p.message for p in problems)
            continue
        specs[name] = spec
    for name, spec in list(specs.items()):
        if reason := _built_on_unmodelled(spec, items):
            proposal.left[name] = reason
            del specs[name]
    proposal.networks = _networks(node, specs, proposal.left)
    report(proposal, items, lines)
    return proposal


def leave(proposal: Proposal, network: Network, reason: str) -> None:
    """Take ``network`` out of the proposal: its interfaces stay on the node as they are."""
    proposal.networks.remove(network)
    for name in network.interfaces:
        proposal.left[name] = reason


def _left_because(name: str, item: Mapping[str, Any]) -> str | None:
    """Why an interface cannot be written by a component exactly as the node has it."""
    kind = item.get("type")
    if kind == "loopback":
        return None
    methods = [f"inet {item.get('method')}", f"inet6 {item.get('method6')}"]
    dynamic = [m for m in methods if m.split()[1] in ("dhcp", "auto")]
    if kind == "eth":
        if dynamic:
            return (
                f"{name} gets its address by {' and '.join(dynamic)}: a NIC's own address is "
                "the node's, pvenet leaves it"
            )
        if item.get("cidr") or item.get("cidr6"):
            return (
                f"{name} is a NIC with an address of its own: pvenet has no component for a "
                "NIC's address (put the address on a bridge to manage it), so it is left as it is"
            )
        return None
    if kind in _OVS_TYPES:
        return (
            f"{name} is Open vSwitch ({kind}): pvenet models Linux bridges and bonds only; "
            "it is left as it is"
        )
    if kind not in _MANAGED_TYPES:
        return (
            f"{name} is of a type pvenet does not model ({kind or 'unknown'}); it is left as it is"
        )
    if dynamic:
        return (
            f"{name} gets its address by {' and '.join(dynamic)}: Proxmox's API can only write "
            "static or manual, so pvenet leaves it (give it a static address to manage it)"
        )
    if item.get("method") not in _STATIC or item.get("method6") not in _STATIC:
        return (
            f"{name} uses method {item.get('method')}/{item.get('method6')}: not static or manual"
        )
    if not item.get("autostart"):
        return (
            f"{name} is not started at boot (no 'auto {name}'): pvenet's components start "
            "every interface they manage; add the auto line to manage it"
        )
    return _type_reason(name, item)


def _built_on_unmodelled(spec: Spec, items: Mapping[str, Mapping[str, Any]]) -> str | None:
    """Why an interface built on one pvenet does not model (OVS, or made by hook commands)
    cannot be a network: pvenet's planner cannot order writes around what it cannot see."""
    for below in [*spec.ports(), spec.parent()]:
        kind = items.get(below or "", {}).get("type")
        if below and below in items and kind not in (*_MANAGED_TYPES, "eth"):
            return (
                f"{spec.iface} is built on {below}, of a type pvenet does not model "
                f"({kind or 'unknown'}: made by hook commands, or Open vSwitch); it is left as "
                "it is"
            )
    return None


def _type_reason(name: str, item: Mapping[str, Any]) -> str | None:
    kind = item.get("type")
    if kind == "bridge":
        if item.get("bridge_stp") == "on":
            return f"{name} runs STP (bridge-stp on): pvenet's bridges have STP off"
        if str(item.get("bridge_fd", 0)) != "0":
            return f"{name} has bridge-fd {item.get('bridge_fd')}: pvenet's bridges have 0"
    if kind == "bond" and str(item.get("bond_miimon") or 100) != "100":
        return f"{name} has bond-miimon {item.get('bond_miimon')}: pvenet's bonds have 100"
    if kind in ("bond", "vlan") and (item.get("cidr6") or item.get("gateway6")):
        component = "BondedUplink" if kind == "bond" else "VlanNetwork"
        return f"{name} has an IPv6 address: {component} has no IPv6 argument"
    if item.get("vlan-protocol") not in (None, "802.1q"):
        return f"{name} uses vlan-protocol {item.get('vlan-protocol')}: pvenet writes 802.1q"
    return None


def _networks(node: str, specs: Mapping[str, Spec], left: dict[str, str]) -> list[Network]:
    """Bonds (with their bridge where they can be one network), bridges, VLANs."""
    found: list[Network] = []
    bridges = {n: s for n, s in specs.items() if isinstance(s, BridgeSpec)}
    taken: set[str] = set()
    for name, bond in specs.items():
        if not isinstance(bond, BondSpec):
            continue
        tops = [b for b in bridges.values() if b.bridge_ports == [name]]
        top = tops[0] if len(tops) == 1 and _one_network(bond, tops[0]) else None
        if top is not None:
            taken.add(top.iface)
        found.append(_bonded(node, bond, top))
    for name, bridge in bridges.items():
        if name not in taken:
            found.append(_bridged(node, bridge))
    found += [_vlan(node, s) for s in specs.values() if isinstance(s, VlanSpec)]
    return found


def _one_network(bond: BondSpec, bridge: BridgeSpec) -> bool:
    """Whether ``BondedUplink`` can say both: one MTU, and address and comments on the bridge."""
    return (
        bond.mtu == bridge.mtu
        and not (bond.cidr or bond.gateway or bond.comments)
        and not (bridge.cidr6 or bridge.gateway6)
    )


def _given(**values: Any) -> dict[str, Any]:
    """Arguments with a value (None and False are the components' defaults)."""
    return {key: value for key, value in values.items() if value not in (None, False, [])}


def _vids(spec: BridgeSpec) -> list[int | str] | None:
    if not spec.bridge_vlan_aware or spec.bridge_vids in (None, DEFAULT_VIDS):
        return None
    return [int(v) if v.isdigit() else v for v in spec.bridge_vids or []]


def _bonded(node: str, bond: BondSpec, bridge: BridgeSpec | None) -> Network:
    top: Spec = bridge or bond
    entry = _given(
        name=network_name(node, bond.iface),
        node=node,
        bond=bond.iface,
        slaves=list(bond.slaves),
        mode=bond.bond_mode,
        hash_policy=bond.bond_xmit_hash_policy,
        primary=bond.bond_primary,
        bridge=bridge.iface if bridge else None,
        cidr=top.cidr,
        gateway=top.gateway,
        mtu=bond.mtu,
        vlan_aware=bridge.bridge_vlan_aware if bridge else None,
        vids=_vids(bridge) if bridge else None,
        comments=top.comments,
        adopt=True,
    )
    names = (bond.iface, bridge.iface) if bridge else (bond.iface,)
    return Network("bonded", entry, names)


def _bridged(node: str, bridge: BridgeSpec) -> Network:
    entry = _given(
        name=network_name(node, bridge.iface),
        node=node,
        bridge=bridge.iface,
        ports=list(bridge.bridge_ports),
        cidr=bridge.cidr,
        gateway=bridge.gateway,
        cidr6=bridge.cidr6,
        gateway6=bridge.gateway6,
        vlan_aware=bridge.bridge_vlan_aware,
        vids=_vids(bridge),
        mtu=bridge.mtu,
        comments=bridge.comments,
        adopt=True,
    )
    return Network("bridged", entry, (bridge.iface,))


def _vlan(node: str, vlan: VlanSpec) -> Network:
    parent, tag = vlan.parent(), vlan.tag()
    entry = _given(
        name=network_name(node, vlan.iface),
        node=node,
        parent=parent,
        vlan_id=tag,
        iface=None if DOTTED_VLAN_RE.fullmatch(vlan.iface) else vlan.iface,
        cidr=vlan.cidr,
        gateway=vlan.gateway,
        mtu=vlan.mtu,
        comments=vlan.comments,
        adopt=True,
    )
    return Network("vlans", entry, (vlan.iface,))


# --- the report -------------------------------------------------------------------------------


def report(
    proposal: Proposal, items: Mapping[str, Mapping[str, Any]], lines: Sequence[SourceLine]
) -> None:
    """Fill ``proposal.findings`` and ``rules``: from the file's lines, or from the API's items."""
    proposal.findings.clear()
    proposal.rules.clear()
    if lines:
        _report_lines(proposal, items, lines)
    else:
        _report_items(proposal, items)


def _report_items(proposal: Proposal, items: Mapping[str, Mapping[str, Any]]) -> None:
    """Without the file: one finding per interface left, per option, per hook."""
    node = proposal.node
    for name in sorted(items):
        if name in proposal.left:
            proposal.findings.append(Finding(node, f"iface {name}", proposal.left[name]))
        for key in ("options", "options6"):
            for option in items[name].get(key) or []:
                word, _, value = str(option).partition(" ")
                _option(proposal, f"{name}: {option}", word, value, None, name)


def _report_lines(
    proposal: Proposal, items: Mapping[str, Mapping[str, Any]], lines: Sequence[SourceLine]
) -> None:
    node = proposal.node
    comments: list[SourceLine] = []
    for index, line in enumerate([*lines, SourceLine(0, "", "blank")]):
        if line.kind == "comment" and line.iface is None:
            comments.append(line)
            continue
        if comments:
            proposal.findings.append(_comment_finding(node, comments))
            comments = []
        if line.kind == "iface" and line.iface in proposal.left:
            proposal.findings.append(
                Finding(
                    node,
                    line.text.strip(),
                    proposal.left[line.iface],
                    line.number,
                    _stanza_end(lines, index),
                )
            )
        elif line.kind == "option":
            _option_line(proposal, items, line)
        elif line.kind == "top":
            word = line.text.split()[0]
            if word in TOP_WORDS:
                proposal.findings.append(
                    Finding(
                        node,
                        line.text.strip(),
                        "kept by Proxmox as it is; pvenet does not read what it sources",
                        line.number,
                    )
                )
            else:
                stray = (
                    " (a blank line ended the stanza above: Proxmox keeps this line outside it, "
                    "where it is)"
                )
                _option(proposal, line.text.strip(), word, line.value, line.number, None, stray)
    _pair_undo_lines(proposal)


def _stanza_end(lines: Sequence[SourceLine], start: int) -> int:
    """The number of the last line of the stanza whose ``iface`` line is ``lines[start]``."""
    end = start
    while (
        end + 1 < len(lines)
        and lines[end + 1].iface == lines[start].iface
        and lines[end + 1].kind in ("option", "comment")
    ):
        end += 1
    return lines[end].number


def _comment_finding(node: str, comments: list[SourceLine]) -> Finding:
    return Finding(
        node,
        comments[0].text.strip(),
        "a comment outside any stanza: Proxmox's writer drops it at the node's next network "
        "change; keep what it says in the stack file (or in an interface's comments)",
        comments[0].number,
        comments[-1].number,
    )


def _option_line(
    proposal: Proposal, items: Mapping[str, Mapping[str, Any]], line: SourceLine
) -> None:
    """A finding for an option line of a stanza, unless the stanza's network carries it."""
    name = str(line.iface)
    hook = read_hook(line.key, line.value)
    if hook is None and name in proposal.left:
        return  # part of a stanza left as it is: its iface line says so
    kind = items.get(name, {}).get("type")
    if hook is None and kind == "loopback":
        proposal.findings.append(
            Finding(
                proposal.node,
                line.text.strip(),
                "kept as it is: pvenet does not manage the loopback interface",
                line.number,
            )
        )
        return
    if hook is None and line.key in MODELLED_OPTIONS:
        if kind == "eth" and line.key == "mtu":
            proposal.findings.append(
                Finding(
                    proposal.node,
                    line.text.strip(),
                    f"{name}'s MTU: pvenet's components do not manage a NIC's own settings; "
                    "it stays as it is",
                    line.number,
                )
            )
        return
    _option(proposal, line.text.strip(), line.key, line.value, line.number, name)


def _option(
    proposal: Proposal,
    text: str,
    key: str,
    value: str,
    number: int | None,
    iface: str | None,
    where: str = "",
) -> None:
    """A finding for one option line: a host rule, a hook that is none, or an option."""
    hook = read_hook(key, value)
    problem = rule_problem(hook.rule) if hook and hook.rule and not hook.removes else None
    if hook is not None and problem:
        hook = Hook(hook.when, hook.command, None)
    if hook is None:
        what = (
            f"{iface} keeps it (Proxmox keeps options it does not know), but pvenet does not "
            "model it: an interface pvenet creates anew would not have it"
            if iface in proposal.managed
            else "kept by Proxmox as it is; pvenet does not model it"
        )
        proposal.findings.append(Finding(proposal.node, text, what + where, number))
        return
    proposal.findings.append(
        Finding(
            proposal.node,
            text,
            _hook_reason(hook, problem) + where,
            number,
            rule=hook.rule,
            removes=hook.removes,
        )
    )
    if hook.rule is not None and not hook.removes and hook.rule not in proposal.rules:
        proposal.rules.append(hook.rule)


def rule_problem(rule: HostRule) -> str | None:
    """Why pvenet's host rules refuse ``rule`` (their own validation), if they do."""
    _spec, problems = parse_rules(host_rules_of([rule]))
    return "; ".join(p.message for p in problems) or None


def host_rules_of(rules: Iterable[HostRule]) -> dict[str, Any]:
    """The rules in ``HostRulesSpec``'s shape: only the parts that have something."""
    spec: dict[str, Any] = {}
    for rule in rules:
        if rule.part == "ip_forward":
            spec.setdefault("ip_forward", {})[rule.value] = True
        else:
            spec.setdefault(rule.part, []).append(rule.value)
    return spec


def _hook_reason(hook: Hook, problem: str | None = None) -> str:
    if hook.rule is None:
        why = f" (as a host rule: {problem})" if problem else ""
        return (
            f"a '{hook.when}' command pvenet does not express{why}; keep it in a script of your "
            "own (or this file), pvenet leaves it"
        )
    if hook.removes:
        return (
            "takes a host rule away when the interface goes down; pvenet's host rules need no "
            "such line"
        )
    note = f" ({hook.rule.note})" if hook.rule.note else ""
    return f"a host rule: {rule_text(hook.rule)}{note}"


def rule_text(rule: HostRule) -> str:
    """A host rule as one line of YAML-like text: ``masquerade: {source: ..., interface: ...}``."""
    if rule.part == "ip_forward":
        return f"ip_forward.{rule.value}: true"
    if rule.part == "proxy_arp":
        return f"proxy_arp: [{rule.value}]"
    values = ", ".join(f"{k}: {v}" for k, v in rule.value.items())
    return f"{rule.part}: {{{values}}}"


def _pair_undo_lines(proposal: Proposal) -> None:
    """Say which line's rule each ``post-down`` twin takes away."""
    first: dict[str, Finding] = {}
    for index, finding in enumerate(proposal.findings):
        if finding.rule is None:
            continue
        key = finding.rule.key()
        twin = first.get(key)
        if finding.removes and twin is not None and twin.line is not None:
            reason = (
                f"takes line {twin.where()}'s rule away when the interface goes down; pvenet's "
                "host rules need no such line"
            )
            proposal.findings[index] = replace(finding, reason=reason)
        elif not finding.removes:
            first.setdefault(key, finding)
