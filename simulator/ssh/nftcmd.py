"""The ``nft`` command: check or load a rules file in one transaction, list, delete a table.

The grammar, the checks and the listing are ``simulator.ssh.nft``'s; this module is the
command line around them and the node's loaded ruleset.
"""

from __future__ import annotations

from simulator.ssh import nft
from simulator.ssh.context import Context, Result, fail


def _located_command(command: str, word: str, message: str) -> Result:
    """nft's error for a command line: the message, the command, carets under ``word``."""
    start = command.rfind(word)
    return fail(1, f"Error: {message}\n{command}\n{' ' * start}{'^' * len(word)}")


def nft_command(ctx: Context, argv: list[str]) -> Result:
    """``nft [-c] -f FILE``, ``nft list table|ruleset``, ``nft delete|flush table``."""
    args = argv[1:]
    check = False
    if args[:1] == ["-c"]:
        check, args = True, args[1:]
    if args[:1] == ["-f"]:
        if len(args) != 2:
            return fail(
                1,
                "nft: option requires an argument -- 'f'"
                if len(args) < 2
                else "Error: syntax error, unexpected string after the file",
            )
        return _load(ctx, args[1], check)
    if not args:
        return fail(1, "Error: syntax error, unexpected end of file")
    if args[0].startswith("-"):
        return fail(1, f"nft: invalid option -- '{args[0].lstrip('-')[:1]}'")
    command = " ".join(args)
    if args == ["list", "ruleset"]:
        tables = ctx.host.ruleset.values()
        return Result(0, "".join(nft.listing(table) for table in tables))
    if len(args) in (3, 4) and args[0] in ("list", "delete", "flush") and args[1] == "table":
        family, name = (args[2], args[3]) if len(args) == 4 else ("ip", args[2])
        ruleset = ctx.host.ruleset
        key = f"{family} {name}"
        if family not in nft.FAMILIES:
            return _located_command(command, family, "syntax error, unexpected string")
        if key not in ruleset:
            message = "No such file or directory"
            if args[0] != "list":
                message = "Could not process rule: " + message
            return _located_command(command, name, message)
        if args[0] == "list":
            return Result(0, nft.listing(ruleset[key]))
        try:
            ruleset = nft.load(command + "\n", "command", ruleset)
        except nft.NftError as error:  # pragma: no cover - the table exists, it cannot fail
            return fail(1, str(error))
        return _commit(ctx, ruleset, check)
    return _located_command(command, args[0], "syntax error, unexpected string")


def _load(ctx: Context, path: str, check: bool) -> Result:
    text = ctx.host.read(path)
    if text is None:
        # nft 1.0.6 names no location it could read and ends with two empty lines
        return fail(
            1,
            f'internal:0:0-0: Error: Could not open file "{path}": No such file or directory\n\n\n',
        )
    try:
        ruleset = nft.load(text, path, ctx.host.ruleset)
    except nft.NftError as error:
        return fail(1, str(error).rstrip("\n"))
    return _commit(ctx, ruleset, check)


def _commit(ctx: Context, ruleset: nft.Ruleset, check: bool) -> Result:
    """The transaction's end: the node loads ``ruleset`` (``-c``, ``check``: it only checked)."""
    if not check:
        ctx.host.ruleset = ruleset
        ctx.host.save()
    return Result()
