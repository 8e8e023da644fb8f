"""The simulator's nftables ruleset: load a rules file as one transaction, list a table (pure).

:func:`load` runs the commands ``simulator.ssh.nftsyntax`` reads from a file against a
copy of the loaded ruleset and returns the copy, or raises :class:`NftError` with nft's
message: a file that does not parse, deleting a table that is not there, NAT in a chain
that cannot hold it, a jump to a missing chain. The ruleset it was given is never
changed, so a refused file leaves the kernel as it was. :func:`listing` prints a table as
``nft list table`` does (nftables 1.0.6).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from simulator.ssh.nftsyntax import (
    FAMILIES,
    Command,
    NftError,
    RuleSpec,
    Token,
    located,
    parse,
)

__all__ = ["FAMILIES", "Chain", "NftError", "Ruleset", "Table", "listing", "load"]

# -- the ruleset --------------------------------------------------------------------------------


@dataclass
class Chain:
    """A chain: base chains have a type, hook, priority and policy; rules as nft lists them."""

    name: str
    kind: str | None = None
    hook: str | None = None
    priority: str | None = None
    policy: str | None = None
    rules: list[str] = field(default_factory=list)


@dataclass
class Table:
    """A table and its chains, in the order they were added."""

    family: str
    name: str
    chains: dict[str, Chain] = field(default_factory=dict)


Ruleset = dict[str, Table]
"""Tables by ``"FAMILY NAME"``."""


def listing(table: Table) -> str:
    """The table as ``nft list table FAMILY NAME`` prints it (nftables 1.0.6)."""
    chains = []
    for chain in table.chains.values():
        lines = [f"\tchain {chain.name} {{\n"]
        if chain.kind is not None:
            lines.append(
                f"\t\ttype {chain.kind} hook {chain.hook} priority {chain.priority}; "
                f"policy {chain.policy or 'accept'};\n"
            )
        lines += [f"\t\t{rule}\n" for rule in chain.rules]
        lines.append("\t}\n")
        chains.append("".join(lines))
    return f"table {table.family} {table.name} {{\n" + "\n".join(chains) + "}\n"


def to_json(ruleset: Ruleset) -> list[dict[str, object]]:
    """The ruleset as plain data, for the node's persisted state."""
    return [
        {
            "family": table.family,
            "name": table.name,
            "chains": [vars(chain) for chain in table.chains.values()],
        }
        for table in ruleset.values()
    ]


def from_json(data: list[dict[str, object]]) -> Ruleset:
    """The ruleset :func:`to_json` wrote."""
    ruleset: Ruleset = {}
    for entry in data:
        table = Table(str(entry["family"]), str(entry["name"]))
        chains = entry["chains"]
        assert isinstance(chains, list)
        for spec in chains:
            chain = Chain(**spec)
            table.chains[chain.name] = chain
        ruleset[f"{table.family} {table.name}"] = table
    return ruleset


# -- running a file -----------------------------------------------------------------------------


def load(text: str, source: str, ruleset: Ruleset) -> Ruleset:
    """The ruleset after running the file ``text`` as one transaction (``ruleset`` untouched).

    NftError with nft's message when the file does not parse or a command fails
    (deleting a table that does not exist, NAT in a chain that cannot hold it, a jump
    to a missing chain): then nothing of the file applies.
    """
    commands = parse(text, source)
    result = copy.deepcopy(ruleset)
    for command in commands:
        _run(command, result, text, source)
    return result


def _processing(text: str, source: str, token: Token, message: str) -> NftError:
    return NftError(located(source, text, token, f"Could not process rule: {message}"))


def _run(command: Command, ruleset: Ruleset, text: str, source: str) -> None:
    key = f"{command.family} {command.name}"
    if command.verb == "flush-ruleset":
        ruleset.clear()
        return
    if command.verb in ("delete", "flush"):
        if key not in ruleset:
            raise _processing(text, source, command.token, "No such file or directory")
        if command.verb == "delete":
            del ruleset[key]
        else:
            for chain in ruleset[key].chains.values():
                chain.rules.clear()
        return
    table = ruleset.setdefault(key, Table(command.family, command.name))
    for spec in command.chains:
        existing = table.chains.get(spec.name)
        base = (spec.kind, spec.hook)
        if (
            existing is not None
            and spec.kind is not None
            and base != (existing.kind, existing.hook)
        ):
            raise _processing(text, source, spec.token, "Device or resource busy")
        chain = existing or Chain(spec.name, spec.kind, spec.hook, spec.priority, spec.policy)
        table.chains[spec.name] = chain
        if spec.policy is not None:
            chain.policy = spec.policy
        if chain.kind is not None and chain.policy is None:
            chain.policy = "accept"
        for rule in spec.rules:
            _check_nat(rule, chain, text, source)
            chain.rules.append(rule.text)
    for spec in command.chains:
        for rule in spec.rules:
            for jump in rule.jumps:
                if jump.text not in table.chains:
                    raise _processing(text, source, jump, "No such file or directory")


def _check_nat(rule: RuleSpec, chain: Chain, text: str, source: str) -> None:
    """NAT only in nat chains on hooks that can do it (the kernel's EOPNOTSUPP)."""
    if rule.nat is None:
        return
    hooks = (
        ("prerouting", "output") if rule.nat in ("dnat", "redirect") else ("postrouting", "input")
    )
    if chain.kind != "nat" or chain.hook not in hooks:
        raise _processing(text, source, rule.token, "Operation not supported")
