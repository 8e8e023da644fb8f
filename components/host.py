"""Declaring host rules: one ``HostRules`` resource per node and deployment.

A node's host rules are one set on the node (``docs/host-rules.md``), so a
deployment declares at most one ``HostRules`` for each node: the root program
merges every network's rules for a node into one (:class:`NodeHostRules`,
``<node>-host``, its child ``<node>-host-rules``); a component declared on its
own in a program declares its own (``<name>-<node>-host``). :func:`declare`
refuses a second set for a node in one deployment, naming the component that
has it: two sets would each replace the other's table on every ``up``.

Nothing is declared for a network that needs no host rules, so a deployment
without port forwards, classic masquerade or classic routing needs no SSH.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi.runtime.settings import get_monitor

from components.arguments import raise_if
from components.errors import ArgumentProblem
from components.host_rules import HostPart, as_input, merge, networks_of
from provider.host.model import HostRulesSpec
from provider.host.resource import HostRules

HOST_RULES_TYPE = "pulumi-python:dynamic/pvenet:HostRules"
"""The type token of ``HostRules`` resources (what ``render`` shows without SSH)."""

_HOLDERS: weakref.WeakKeyDictionary[Any, dict[str, str]] = weakref.WeakKeyDictionary()
"""Per deployment (the engine connection a program registers with: one per run, and one
per ``set_mocks`` in tests): which node's host rules which component declares."""


def claim(node: str, kind: str, name: str) -> None:
    """Record that component ``kind`` ``name`` declares ``node``'s host rules; InvalidArguments
    if another one does."""
    monitor = get_monitor()
    if monitor is None:
        return
    owner = f"{kind} '{name}'"
    holders = _HOLDERS.setdefault(monitor, {})
    holder = holders.setdefault(node, owner)
    if holder != owner:
        raise_if(
            kind,
            name,
            [
                ArgumentProblem(
                    "",
                    f"the host rules of {node} are declared by {holder} already; a node has "
                    "one set of host rules: describe both networks in stack config "
                    "pvenet:networks, where the root program merges them",
                )
            ],
        )


class NodeHostRules(pulumi.ComponentResource):
    """One node's host rules, merged from every network of the deployment (``<name>-rules``)."""

    rules: HostRules
    rendered: pulumi.Output[dict[str, str]]
    """The files the rules put on the node (``provider.host.render.rendered``)."""

    def __init__(
        self,
        name: str,
        *,
        node: str,
        spec: HostRulesSpec,
        networks: Sequence[str] = (),
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        claim(node, "NodeHostRules", name)
        super().__init__("pvenet:index:NodeHostRules", name, None, opts)
        self.rules = HostRules(
            f"{name}-rules",
            node=node,
            rules=as_input(spec),
            networks=list(networks),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.rendered = self.rules.rendered
        self.register_outputs({"rendered": self.rendered})


def declare(
    component: pulumi.Resource,
    name: str,
    parts: Sequence[HostPart],
    depends_on: Sequence[pulumi.Resource],
) -> dict[str, HostRules]:
    """A component's own host rules: one child ``<name>-<node>-host`` per node it needs.

    ``parts`` were checked by the component (its ``rules``); the children wait
    for ``depends_on`` (a route needs its bridge, a forward its network).
    """
    specs, conflicts = merge(parts)
    networks = networks_of(parts)
    kind = type(component).__name__
    raise_if(kind, name, [ArgumentProblem(c.argument, c.message) for c in conflicts])
    declared = {}
    for node, spec in specs.items():
        claim(node, kind, name)
        declared[node] = HostRules(
            f"{name}-{node}-host",
            node=node,
            rules=as_input(spec),
            networks=networks[node],
            opts=pulumi.ResourceOptions(parent=component, depends_on=list(depends_on)),
        )
    return declared
