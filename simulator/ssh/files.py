"""``cat``, ``install`` and ``rm`` on a node's files, with coreutils' options and messages."""

from __future__ import annotations

import re

from simulator.ssh.context import Context, Result, fail

STDIN = "/dev/stdin"


def cat(ctx: Context, argv: list[str]) -> Result:
    """``cat PATH...``: each file in turn; a missing one is an error, the others still print."""
    paths = argv[1:]
    bad = [p for p in paths if p.startswith("-") and p != "-"]
    if bad:
        return fail(1, f"cat: invalid option -- '{bad[0].lstrip('-')[:1]}'")
    result = Result()
    for path in paths or ["-"]:
        if path in ("-", STDIN):
            result.stdout += ctx.stdin.decode("utf-8", "surrogateescape")
        elif ctx.host.is_dir(path):
            result = result.also(fail(1, f"cat: {path}: Is a directory"))
        else:
            text = ctx.host.read(path)
            missing = fail(1, f"cat: {path}: No such file or directory")
            result = result.also(missing if text is None else Result(0, text))
    return result


def install(ctx: Context, argv: list[str]) -> Result:
    """``install [-D] [-m MODE] SOURCE DEST``: copy (or stdin) to a file with that mode."""
    args = argv[1:]
    parents = False
    mode = 0o755
    operands: list[str] = []
    while args:
        arg = args.pop(0)
        if arg == "-D":
            parents = True
        elif arg == "-m":
            if not args:
                return fail(1, "install: option requires an argument -- 'm'")
            text = args.pop(0)
            if not re.fullmatch(r"[0-7]{1,4}", text):
                return fail(1, f"install: invalid mode '{text}'")
            mode = int(text, 8)
        elif arg.startswith("-") and arg != "-":
            return fail(1, f"install: invalid option -- '{arg.lstrip('-')[:1]}'")
        else:
            operands.append(arg)
    if len(operands) != 2:
        if len(operands) < 2:
            return fail(1, "install: missing destination file operand")
        return fail(1, "install: simulator supports one SOURCE and one DEST")
    source, dest = operands
    if source == STDIN:
        content = ctx.stdin.decode("utf-8", "surrogateescape")
    else:
        copied = ctx.host.read(source)
        if copied is None:
            return fail(1, f"install: cannot stat '{source}': No such file or directory")
        content = copied
    if ctx.host.is_dir(dest):
        return fail(1, f"install: cannot overwrite directory '{dest}' with non-directory")
    if not ctx.host.visible(dest) or (not parents and not ctx.host.parent_exists(dest)):
        return fail(1, f"install: cannot create regular file '{dest}': No such file or directory")
    ctx.host.write(dest, content, mode)
    return Result()


def rm(ctx: Context, argv: list[str]) -> Result:
    """``rm [-f] [-r] PATH...``."""
    force = recursive = False
    paths: list[str] = []
    for arg in argv[1:]:
        if arg.startswith("-") and len(arg) > 1 and not paths:
            for flag in arg[1:]:
                if flag == "f":
                    force = True
                elif flag in "rR":
                    recursive = True
                else:
                    return fail(1, f"rm: invalid option -- '{flag}'")
        else:
            paths.append(arg)
    if not paths:
        return Result() if force else fail(1, "rm: missing operand")
    result = Result()
    for path in paths:
        if ctx.host.normal(path) == "/":
            result = result.also(fail(1, "rm: it is dangerous to operate recursively on '/'"))
            continue
        reason = ctx.host.remove(path, recursive)
        if reason is None or (force and reason == "No such file or directory"):
            continue
        result = result.also(fail(1, f"rm: cannot remove '{path}': {reason}"))
    return result
