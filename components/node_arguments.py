"""How a node component's arguments become the interface dicts of its ``NodeInterfaces`` set.

A component describes its set as a ``Layout``: interfaces made of ``Setting``s,
each tying an interface key to the component argument its value comes from.
That tie is what lets a problem the model finds in an interface dict
(``interfaces[0].bond_primary``) be reported against the component's argument
(``primary``), for plain values at once and for ``Output``s once they resolve.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.arguments import is_plain, naming
from components.errors import ArgumentProblem
from provider.node.model import parse_interfaces
from provider.problems import Problem

# Interface settings whose rules also read other settings of the same interface. While one of
# those is an Output (unknown until it resolves), a problem with the setting cannot be trusted
# yet, so eager validation leaves it to the full validation that runs once values resolve.
_READS_ALSO: Mapping[str, tuple[str, ...]] = {
    "gateway": ("cidr",),
    "gateway6": ("cidr6",),
    "bridge_vids": ("bridge_vlan_aware",),
    "bridge_ports": ("iface",),
    "slaves": ("iface",),
    "bond_primary": ("bond_mode", "slaves"),
    "bond_xmit_hash_policy": ("bond_mode",),
    "vlan_id": ("iface", "vlan_raw_device"),
    "vlan_raw_device": ("iface",),
}
_PATH_RE = re.compile(r"interfaces\[(?P<index>\d+)\](?:\.(?P<key>[A-Za-z_0-9]+))?")
# Advice written for hand-written interface dicts ("leave vlan_id unset") does not apply to a
# component, which always sets those keys from its required arguments.
_DICT_ADVICE_RE = re.compile(r"; leave \w+ unset$")


@dataclass(frozen=True)
class Setting:
    """One key of an interface dict and the component argument its value comes from."""

    key: str
    argument: str
    value: Any


@dataclass(frozen=True)
class Interface:
    """One interface of a component's set: its type and where each setting comes from."""

    type: str
    settings: tuple[Setting, ...]

    def argument_of(self, key: str | None) -> str:
        """The component argument behind ``key`` (the interface's name argument otherwise)."""
        by_key = {s.key: s.argument for s in self.settings}
        return by_key.get(key or "", by_key["iface"])


Layout = list[Interface]


def interface_dicts(layout: Layout, *, only_plain: bool = False) -> list[dict[str, Any]]:
    """The interface dicts of a layout; settings that are ``None`` are left out (unmanaged)."""
    dicts = []
    for interface in layout:
        item: dict[str, Any] = {"type": interface.type}
        for setting in interface.settings:
            if setting.value is None or (only_plain and not is_plain(setting.value)):
                continue
            item[setting.key] = setting.value
        dicts.append(item)
    return dicts


def _component_problem(
    layout: Layout, dicts: Sequence[Mapping[str, Any]], problem: Problem
) -> ArgumentProblem:
    """A model problem in the component's vocabulary: argument names instead of dict keys."""
    match = _PATH_RE.match(problem.path)
    if match is None:
        return ArgumentProblem("", problem.message)
    interface = layout[int(match["index"])]
    argument = interface.argument_of(match["key"])
    message = problem.message
    name = dicts[int(match["index"])].get("iface")
    if isinstance(name, str) and message.startswith(f"{name}: cannot "):
        message = f"{name} {message.removeprefix(f'{name}: ')}"  # the interface is the subject
    elif isinstance(name, str) and message.startswith(f"{name}: "):
        message = message.removeprefix(f"{name}: ")
    message = _DICT_ADVICE_RE.sub("", message)
    renames: dict[str, set[str]] = {}
    for each in layout:
        for setting in each.settings:
            renames.setdefault(setting.key, set()).add(setting.argument)
    for key, arguments in renames.items():
        if len(arguments) == 1 and key not in arguments and key != "iface":
            message = re.sub(rf"\b{re.escape(key)}\b", next(iter(arguments)), message)
    message = _PATH_RE.sub(lambda m: layout[int(m["index"])].argument_of(None), message)
    return naming(argument, message)


def set_problems(layout: Layout, rules: list[Problem]) -> list[ArgumentProblem]:
    """What the model finds wrong with a component's set, in the component's words.

    With every value known, the whole set is checked; while some are Outputs,
    only the rules whose inputs are all known.
    """
    found = [naming(p.path, p.message) for p in rules]
    if all(is_plain(s.value) for interface in layout for s in interface.settings):
        dicts = interface_dicts(layout)
        _specs, problems = parse_interfaces(dicts)
        return found + [_component_problem(layout, dicts, p) for p in problems]
    known_dicts = interface_dicts(layout, only_plain=True)
    for index, (interface, item) in enumerate(zip(layout, known_dicts, strict=True)):
        unknown = {s.key for s in interface.settings if not is_plain(s.value)}
        # Each interface alone: rules across interfaces may read values that are unknown.
        specs, problems = parse_interfaces([item])
        # No spec: the problems are about single settings (type, format, range); a spec: the
        # problems come from rules that relate settings, which may read an unknown one.
        relating = bool(specs)
        for problem in problems:
            match = _PATH_RE.match(problem.path)
            key = match["key"] if match else None
            reads = {key, *(_READS_ALSO.get(key, ()) if relating else ())} if key else set()
            if reads & unknown:
                continue
            path = re.sub(r"^interfaces\[\d+\]", f"interfaces[{index}]", problem.path)
            moved = Problem(path, problem.message)
            found.append(_component_problem(layout, known_dicts, moved))
    return found


def after(child: pulumi.Resource, value: pulumi.Input[Any]) -> pulumi.Output[Any]:
    """``value`` as an output that depends on ``child`` (known whenever ``value`` is known)."""
    return pulumi.Output.all(child.urn, value).apply(lambda both: both[1])


def known(arguments: Mapping[str, Any], *names: str) -> bool:
    """Whether these arguments are all plain values (rules skip the ones that are not)."""
    return all(is_plain(arguments[n]) for n in names)


def address_settings(arguments: Mapping[str, Any], *, ipv6: bool = False) -> tuple[Setting, ...]:
    keys = ("cidr", "gateway", "cidr6", "gateway6") if ipv6 else ("cidr", "gateway")
    return tuple(Setting(k, k, arguments[k]) for k in keys)


def common_settings(arguments: Mapping[str, Any]) -> tuple[Setting, ...]:
    return (
        Setting("mtu", "mtu", arguments["mtu"]),
        Setting("comments", "comments", arguments["comments"]),
    )
