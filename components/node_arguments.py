"""How a node component's arguments become the interface dicts of its ``NodeInterfaces`` set.

A component describes its set as a ``Layout``: interfaces made of ``Setting``s,
each tying an interface key to the component argument its value comes from.
That tie is what lets a problem the model finds in an interface dict
(``interfaces[0].bond_primary``) be reported against the component's argument
(``primary``), for plain values at once and for ``Output``s once they resolve.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from components.errors import ArgumentProblem, InvalidArguments
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
    convert: Callable[[Any], Any] | None = None


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
Rules = Callable[[Mapping[str, Any]], list[Problem]]


def is_plain(value: Any) -> bool:
    """Whether a value is known now: no ``Output`` or awaitable anywhere inside it."""
    if isinstance(value, pulumi.Output) or inspect.isawaitable(value):
        return False
    if isinstance(value, list | tuple):
        return all(is_plain(item) for item in value)
    if isinstance(value, Mapping):
        return all(is_plain(item) for item in value.values())
    return True


def as_list(value: Any) -> Any:
    """A tuple or other sequence as a list; a string stays a string, so validation rejects it."""
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return list(value)
    return value


def vid_strings(value: Any) -> Any:
    """VLAN ids and ranges as the strings the model takes (``10`` -> ``"10"``)."""
    value = as_list(value)
    if not isinstance(value, list):
        return value
    return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]


def _dicts(layout: Layout, *, only_plain: bool = False) -> list[dict[str, Any]]:
    """The interface dicts of a layout; settings that are ``None`` are left out (unmanaged)."""
    dicts = []
    for interface in layout:
        item: dict[str, Any] = {"type": interface.type}
        for setting in interface.settings:
            if setting.value is None or (only_plain and not is_plain(setting.value)):
                continue
            convert = setting.convert or (lambda v: v)
            item[setting.key] = convert(setting.value)
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
    return _naming(argument, message)


def _naming(argument: str, message: str) -> ArgumentProblem:
    """``message`` about ``argument``, led by the argument's name unless it starts with it."""
    if re.match(rf"{re.escape(argument)}\b", message):
        return ArgumentProblem(argument, message)
    return ArgumentProblem(argument, f"{argument}: {message}")


def _raise_if(kind: str, name: str, problems: list[ArgumentProblem]) -> None:
    """Raise one InvalidArguments naming the component and listing every problem, if any."""
    unique: dict[str, ArgumentProblem] = {}
    for problem in problems:
        unique.setdefault(problem.message, problem)  # the same sentence once
    if unique:
        raise InvalidArguments(
            f"{kind} '{name}': " + "; ".join(unique),
            component=kind,
            name=name,
            problems=list(unique.values()),
        )


def _validated(kind: str, name: str, layout: Layout, rules: list[Problem]) -> list[dict[str, Any]]:
    """The interface dicts of a layout whose values are all known, or InvalidArguments."""
    dicts = _dicts(layout)
    _specs, problems = parse_interfaces(dicts)
    found = [_naming(p.path, p.message) for p in rules]
    found += [_component_problem(layout, dicts, p) for p in problems]
    _raise_if(kind, name, found)
    return dicts


def _validate_known_part(kind: str, name: str, layout: Layout, rules: list[Problem]) -> None:
    """Eager validation while some values are Outputs: only the rules whose inputs are known."""
    found = [_naming(p.path, p.message) for p in rules]
    known_dicts = _dicts(layout, only_plain=True)
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
    _raise_if(kind, name, found)


def interfaces_input(
    kind: str,
    name: str,
    arguments: Mapping[str, Any],
    layout_of: Callable[[Mapping[str, Any]], Layout],
    rules_of: Rules,
) -> pulumi.Input[list[pulumi.Input[Mapping[str, Any]]]]:
    """Validate a component's arguments and build the ``interfaces`` input of its set.

    All plain: validated now (InvalidArguments before anything is registered) and returned as a
    list. Some ``Output``s: what is known is validated now; the rest is validated in full when
    the values resolve, inside the Output that becomes the set's ``interfaces`` input.
    """
    if is_plain(list(arguments.values())):
        return list(_validated(kind, name, layout_of(arguments), rules_of(arguments)))
    _validate_known_part(kind, name, layout_of(arguments), rules_of(arguments))

    def resolved(values: dict[str, Any]) -> list[pulumi.Input[Mapping[str, Any]]]:
        return list(_validated(kind, name, layout_of(values), rules_of(values)))

    return pulumi.Output.all(**arguments).apply(resolved)


def after(child: pulumi.Resource, value: pulumi.Input[Any]) -> pulumi.Output[Any]:
    """``value`` as an output that depends on ``child`` (known whenever ``value`` is known)."""
    return pulumi.Output.all(child.urn, value).apply(lambda both: both[1])


def known(arguments: Mapping[str, Any], *names: str) -> bool:
    """Whether these arguments are all plain values (rules skip the ones that are not)."""
    return all(is_plain(arguments[n]) for n in names)


def no_rules(_arguments: Mapping[str, Any]) -> list[Problem]:
    return []


def address_settings(arguments: Mapping[str, Any], *, ipv6: bool = False) -> tuple[Setting, ...]:
    keys = ("cidr", "gateway", "cidr6", "gateway6") if ipv6 else ("cidr", "gateway")
    return tuple(Setting(k, k, arguments[k]) for k in keys)


def common_settings(arguments: Mapping[str, Any]) -> tuple[Setting, ...]:
    return (
        Setting("mtu", "mtu", arguments["mtu"]),
        Setting("comments", "comments", arguments["comments"]),
    )
