"""A stack's topology as a Mermaid flowchart: what ``render --diagram`` prints (no I/O).

People would rather look than read. :func:`diagram` draws what a stack's
``pvenet:networks`` describes, the same way on every run (so it can be committed
and reviewed in a pull request; GitHub renders Mermaid in Markdown):

- one box per node, holding its NICs (stadium shapes), bonds (hexagons, with
  their mode), bridges (rectangles, with the host's address) and host VLANs;
  an edge for each port, slave and VLAN parent;
- one box for the cluster's SDN, one box per zone (routed or NAT) holding its
  vnet with its subnet, DHCP range and the nodes it is on;
- the upstream network: a bridge with the default gateway reaches it; a NAT
  vnet leaves through the node's address (SNAT), a routed block is routed in;
- host rules (``pvenet:hostRules``, by node): masquerade from a network out
  through an interface, port forwards from upstream to a guest, routes to single
  guest addresses, ``proxy_arp``.

Names in Mermaid ids are reduced to letters, digits and ``_``; labels are quoted
with ``"`` written as ``#quot;``, so no name can break the diagram's syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from components.stack import host_rules_by_node
from components.stack_schema import (
    CONFIG_KEY,
    HOST_RULES_KEY,
    Networks,
    parse_host_rules,
    parse_networks,
)
from provider.host.model import HostRulesSpec, spec_to_dict

UPSTREAM = "upstream"
Edge = tuple[str, str, str, str | None]
"""An edge to draw after the boxes: source id, target id, arrow, label."""
_ID_RE = re.compile(r"[^A-Za-z0-9_]")


def node_id(*parts: str) -> str:
    """A Mermaid id from names: ``pve1``, ``vmbr0.20`` -> ``pve1__vmbr0_20``."""
    return "__".join(_ID_RE.sub("_", part) for part in parts)


def label(*lines: str | None) -> str:
    """A quoted Mermaid label, one line per given text (``<br/>`` between)."""
    text = "<br/>".join(line for line in lines if line)
    return '"' + text.replace('"', "#quot;") + '"'


class _Chart:
    """The lines of the flowchart, each node declared once."""

    def __init__(self) -> None:
        self.lines = ["flowchart LR"]
        self.declared: set[str] = set()
        self.indent = "  "

    def shape(self, ident: str, text: str, opening: str, closing: str) -> None:
        if ident not in self.declared:
            self.declared.add(ident)
            self.lines.append(f"{self.indent}{ident}{opening}{text}{closing}")

    def edge(self, source: str, target: str, arrow: str = "---", text: str | None = None) -> None:
        middle = f"{arrow}|{label(text)}|" if text else arrow
        self.lines.append(f"{self.indent}{source} {middle} {target}")

    def group(self, ident: str, text: str) -> None:
        self.lines.append(f"{self.indent}subgraph {ident}[{text}]")
        self.indent += "  "

    def end(self) -> None:
        self.indent = self.indent[:-2]
        self.lines.append(f"{self.indent}end")


def stack_diagram(config: Mapping[str, Any]) -> str:
    """The flowchart of a stack file's ``config``: its ``pvenet:networks`` and host rules.

    StackConfigError (with the key path) when ``pvenet:networks`` is not valid.
    """
    networks = parse_networks(config.get(CONFIG_KEY))
    return diagram(networks, parse_host_rules(config.get(HOST_RULES_KEY)))


def diagram(networks: Networks, extra_rules: Mapping[str, HostRulesSpec] | None = None) -> str:
    """The Mermaid flowchart of these networks, with each node's host rules as the root
    program merges them (the networks' own and ``extra_rules``, ``pvenet:hostRules``)."""
    chart = _Chart()
    entries = list(networks.entries())
    specs, _guests = host_rules_by_node(entries, extra_rules or {})
    host_rules = {node: spec_to_dict(spec) for node, spec in specs.items()}
    nodes = sorted({str(n) for _m, _w, e in entries if (n := getattr(e, "node", None))})
    nodes += sorted(set(host_rules) - set(nodes))
    edges: list[Edge] = []
    for node in nodes:
        chart.group(node_id("node", node), label(f"node {node}"))
        for mode, _where, entry in entries:
            if getattr(entry, "node", None) == node:
                edges += _node_network(chart, node, mode, entry)
        edges += _host_rule_nodes(chart, node, host_rules.get(node, {}))
        chart.end()
    sdn = [(mode, entry) for mode, _w, entry in entries if mode in ("routed", "nat")]
    if sdn:
        chart.group("sdn", label("SDN (cluster-wide)"))
        for mode, entry in sdn:
            edges += _sdn_network(chart, mode, entry, nodes)
        chart.end()
    if any(UPSTREAM in (source, target) for source, target, _a, _t in edges):
        chart.shape(UPSTREAM, label("upstream network"), "((", "))")
    for source, target, arrow, text in edges:
        chart.edge(source, target, arrow, text)
    return "\n".join(chart.lines) + "\n"


def _nic(chart: _Chart, node: str, name: str) -> str:
    """A port: a NIC unless the stack creates an interface of that name on the node."""
    ident = node_id(node, name)
    chart.shape(ident, label(name), "([", "])")
    return ident


def _interface(chart: _Chart, node: str, name: str) -> str:
    """An interface host rules name: drawn as the stack declares it, else as one the node
    already has (the installer's vmbr0)."""
    ident = node_id(node, name)
    return ident if ident in chart.declared else _nic(chart, node, name)


def _address(entry: Any, *keys: str) -> list[str | None]:
    return [getattr(entry, key, None) for key in keys]


def _bridge(chart: _Chart, node: str, name: str, entry: Any) -> str:
    ident = node_id(node, name)
    aware = "VLAN-aware" if getattr(entry, "vlan_aware", False) else None
    vids = getattr(entry, "vids", None)
    chart.shape(
        ident,
        label(
            name,
            entry.name,
            *_address(entry, "cidr", "cidr6"),
            f"{aware} {' '.join(str(v) for v in vids)}" if aware and vids else aware,
        ),
        "[",
        "]",
    )
    return ident


def _node_network(chart: _Chart, node: str, mode: str, entry: Any) -> list[Edge]:
    """Declare the interfaces of one node network; the edges to draw after the boxes."""
    edges: list[Edge] = []
    if mode == "bridged":
        top = _bridge(chart, node, entry.bridge, entry)
        ports = list(entry.ports)
    elif mode in ("masquerade", "routed_bridge"):  # the classic modes: a bridge with no ports
        top, ports = _bridge(chart, node, entry.bridge, entry), []
    elif mode == "bonded":
        bond = node_id(node, entry.bond)
        bond_lines = [entry.bond, entry.mode, entry.hash_policy]
        if entry.bridge is None:
            bond_lines += [entry.name, entry.cidr]
        chart.shape(bond, label(*bond_lines), "{{", "}}")
        edges += [(_nic(chart, node, slave), bond, "---", None) for slave in entry.slaves]
        if entry.bridge is None:
            top, ports = bond, []
        else:
            top, ports = _bridge(chart, node, entry.bridge, entry), []
            edges.append((bond, top, "---", None))
    else:  # vlans
        name = entry.iface or f"{entry.parent}.{entry.vlan_id}"
        top = node_id(node, name)
        chart.shape(top, label(name, f"VLAN {entry.vlan_id}", entry.name, entry.cidr), "[/", "/]")
        edges.append((node_id(node, entry.parent), top, "---", f"tag {entry.vlan_id}"))
        ports = []
    for port in ports:
        ident = node_id(node, port)
        if ident not in chart.declared and "." not in port:
            _nic(chart, node, port)
        edges.append((ident, top, "---", None))
    gateways = [g for g in _address(entry, "gateway", "gateway6") if g]
    if gateways:
        via = " / ".join(gateways)
        edges.append((top, UPSTREAM, "---", f"default gw {via}"))
    return edges


def _sdn_network(chart: _Chart, mode: str, entry: Any, nodes: Iterable[str]) -> list[Edge]:
    kind = "routed" if mode == "routed" else "NAT"
    chart.group(node_id("zone", entry.zone), label(f"zone {entry.zone} ({kind})"))
    vnet = node_id("vnet", entry.vnet)
    dhcp = getattr(entry, "dhcp_range", None)
    on = entry.nodes or list(nodes)
    chart.shape(
        vnet,
        label(
            f"vnet {entry.vnet}",
            entry.name,
            f"gateway {entry.cidr}",
            f"DHCP {dhcp.start} - {dhcp.end}" if dhcp else None,
            f"on {', '.join(on)}" if on else "on every node",
        ),
        "[",
        "]",
    )
    chart.end()
    if mode == "nat":
        return [(vnet, UPSTREAM, "-.->", "SNAT through the node's address")]
    return [(UPSTREAM, vnet, "==>", f"routed to the node: {entry.cidr}")]


def _host_rule_nodes(chart: _Chart, node: str, rules: Mapping[str, Any]) -> list[Edge]:
    """Host rules of one node: masquerade, port forwards, routes and proxy_arp."""
    edges: list[Edge] = []
    for rule in rules.get("masquerade") or []:
        source = node_id(node, "net", str(rule["source"]))
        chart.shape(source, label(str(rule["source"])), "[(", ")]")
        out = _interface(chart, node, str(rule["interface"]))
        edges.append((source, out, "-.->", f"masquerade out of {rule['interface']}"))
    for rule in rules.get("forwards") or []:
        guest = node_id(node, "guest", str(rule["to"]))
        chart.shape(guest, label(f"guest {rule['to']}"), "(", ")")
        to_port = rule.get("to_port") or rule["port"]
        via = f" on {rule['interface']}" if rule.get("interface") else ""
        at = f" at {rule['address']}" if rule.get("address") else ""
        text = f"{rule['protocol']} {rule['port']}{at}{via} → {to_port}"
        edges.append((UPSTREAM, guest, "-->", text))
    for rule in rules.get("routes") or []:
        guest = node_id(node, "guest", str(rule["address"]).partition("/")[0])
        chart.shape(guest, label(f"guest {rule['address']}"), "(", ")")
        edges.append((_interface(chart, node, str(rule["interface"])), guest, "-->", "route"))
    for iface in rules.get("proxy_arp") or []:
        edges.append((UPSTREAM, _interface(chart, node, str(iface)), "-.-", "proxy_arp"))
    forward = rules.get("ip_forward") or {}
    if any(forward.values()):
        versions = ", ".join(v for v in ("ipv4", "ipv6") if forward.get(v))
        chart.shape(node_id(node, "forwarding"), label(f"forwarding {versions}"), ">", "]")
    return edges
