"""The node's ``/bin/sh`` as far as pvenet needs it: words, quotes, variables, ``if``.

A command line (one SSH exec) is words joined by ``;``, ``&&`` and ``||``: quotes are
honoured, and anything a shell would do more with (pipes, redirections, ``$``, globs,
backquotes) is refused with exit status 2 rather than guessed at. A script (``/bin/sh
FILE`` or an executable file) may also hold comments, ``NAME=VALUE`` and ``NAME="$1"``
assignments, ``"$NAME"`` expansions, ``if LIST; then`` ... ``[else`` ...] ``fi`` blocks,
``exit [N]``, ``exec CMD`` and the ``[``/``test`` builtin (``-z``, ``-n``, ``=``, ``!=``,
``-x``, ``-f``, ``-e``, ``-d``). A script with any other construct is refused as a whole
before any of it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from simulator.ssh.context import Context, Result, fail

SYNTAX_ERROR = 2  # dash's status for a script it cannot parse
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)", re.S)


class Unsupported(Exception):
    """A construct this shell does not run (the message says which)."""


@dataclass(frozen=True)
class Op:
    """An unquoted ``||``, ``&&`` or ``;``."""

    text: str


Token = str | Op


def lex(line: str, variables: Mapping[str, str] | None) -> list[Token]:
    """The words and list operators of one line, quotes removed and ``$NAME`` expanded.

    ``variables`` None: no expansion allowed (an SSH command line). Raises Unsupported.
    ``||``, ``&&`` and ``;`` come out as ``Op`` tokens.
    """
    tokens: list[Token] = []
    word: list[str] = []
    in_word = False
    i = 0

    def expand(at: int) -> tuple[str, int]:
        if variables is None:
            raise Unsupported('"$" (parameter expansion)')
        braced = line.startswith("${", at)
        start = at + (2 if braced else 1)
        match = _NAME.match(line, start)
        if match is None:
            raise Unsupported(f'"{line[at : at + 2]}"')
        end = match.end()
        if braced:
            if not line.startswith("}", end):
                raise Unsupported(f'"{line[at : end + 1]}"')
            end += 1
        return variables.get(match[0], ""), end

    while i < len(line):
        char = line[i]
        if char in " \t":
            if in_word:
                tokens.append("".join(word))
                word, in_word = [], False
            i += 1
        elif char == "#" and not in_word:
            break
        elif char == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise Unsupported("unterminated quoted string")
            word.append(line[i + 1 : end])
            in_word, i = True, end + 1
        elif char == '"':
            i += 1
            in_word = True
            while True:
                if i >= len(line):
                    raise Unsupported("unterminated quoted string")
                char = line[i]
                if char == '"':
                    i += 1
                    break
                if char == "$":
                    value, i = expand(i)
                    word.append(value)
                elif char == "`":
                    raise Unsupported('"`" (command substitution)')
                elif char == "\\" and i + 1 < len(line) and line[i + 1] in '"\\$`':
                    word.append(line[i + 1])
                    i += 2
                else:
                    word.append(char)
                    i += 1
        elif char == "\\":
            if i + 1 >= len(line):
                raise Unsupported("line continuation")
            word.append(line[i + 1])
            in_word, i = True, i + 2
        elif char == "$":
            value, i = expand(i)
            if " " in value or "\t" in value:
                raise Unsupported("an unquoted expansion that would split into words")
            word.append(value)
            in_word = True
        elif line.startswith(("||", "&&"), i) or char == ";":
            if in_word:
                tokens.append("".join(word))
                word, in_word = [], False
            text = ";" if char == ";" else line[i : i + 2]
            tokens.append(Op(text))
            i += len(text)
        elif char in "|&<>()`*?{}":
            raise Unsupported(f'"{char}"')
        else:
            word.append(char)
            in_word, i = True, i + 1
    if in_word:
        tokens.append("".join(word))
    return tokens


# -- scripts ----------------------------------------------------------------------------------


Runner = Callable[[Context, list[str]], Result]


@dataclass
class _Exit(Exception):
    result: Result


def run_script(ctx: Context, path: str, text: str, args: list[str], runner: Runner) -> Result:
    """Run a script's lines with ``$1``... set to ``args``; refused whole when it holds a
    construct this shell does not know."""
    lines = text.splitlines()
    problem = _check(lines)
    if problem is not None:
        number, message = problem
        return fail(SYNTAX_ERROR, f"{path}: {number}: Syntax error: {message}")
    variables: dict[str, str] = {**ctx.env, "0": path}
    variables.update({str(n): arg for n, arg in enumerate(args, start=1)})
    result = Result()
    # each open `if`: (this branch runs, some branch of it has run)
    frames: list[tuple[bool, bool]] = []
    try:
        for number, raw in enumerate(lines, start=1):
            running = all(frame[0] for frame in frames)
            try:
                words = lex(raw, variables if running else {})
            except Unsupported as problem:  # an expansion that would need word splitting
                return result + fail(SYNTAX_ERROR, f"{path}: {number}: {problem} unsupported")
            if not words:
                continue
            first = words[0]
            if first == "if":
                taken = running and _list(ctx, words[1:-2], variables, runner).status == 0
                frames.append((taken, taken))
            elif first == "else":
                done = frames[-1][1]
                frames[-1] = (not done, True)
            elif first == "fi":
                frames.pop()
            elif running:
                result = result + _list(ctx, words, variables, runner)
    except _Exit as stop:
        return result + stop.result
    return result


def run_list(ctx: Context, tokens: list[Token], runner: Runner) -> Result:
    """A command line of commands joined by ``||``, ``&&`` and ``;`` (``exit`` ends it)."""
    first, last = (tokens[0], tokens[-1]) if tokens else ("", "")
    if isinstance(first, Op):
        return fail(SYNTAX_ERROR, f'sh: 1: Syntax error: "{first.text}" unexpected')
    if isinstance(last, Op) and last.text != ";":
        return fail(SYNTAX_ERROR, "sh: 1: Syntax error: end of file unexpected")
    try:
        return _list(ctx, tokens, {}, runner)
    except _Exit as stop:
        return stop.result


def _check(lines: list[str]) -> tuple[int, str] | None:
    """(line, message) of the first line this shell cannot run, or None."""
    depth = 0
    for number, raw in enumerate(lines, start=1):
        try:
            words = lex(raw, {})
        except Unsupported as problem:
            return number, f"{problem} unsupported"
        if not words:
            continue
        first = words[0]
        if first == "if":
            if words[-2:] != [Op(";"), "then"] or len(words) < 4:
                return number, 'expected "if LIST; then" on one line'
            depth += 1
        elif first in ("else", "fi"):
            if depth == 0 or len(words) != 1:
                return number, f'"{first}" unexpected'
            depth -= first == "fi"
        elif first in ("then", "elif", "for", "while", "until", "case", "do", "done", "function"):
            return number, f'"{first}" unsupported'
        elif isinstance(first, Op) or (isinstance(words[-1], Op) and words[-1].text != ";"):
            return number, f'"{words[-1] if isinstance(first, str) else first.text}" unexpected'
    if depth:
        return len(lines), 'end of file unexpected (expecting "fi")'
    return None


def _list(ctx: Context, words: list[Token], variables: dict[str, str], run: Runner) -> Result:
    """``CMD [(||| &&| ;) CMD]...``: each command runs or not by the previous status."""
    result = Result()
    command: list[str] = []
    joiner = ";"
    for token in [*words, Op(";")]:
        if isinstance(token, str):
            command.append(token)
            continue
        if command:
            skip = (joiner == "||" and result.status == 0) or (
                joiner == "&&" and result.status != 0
            )
            if not skip:
                result = result + _simple(ctx, command, variables, run)
        command, joiner = [], token.text
    return result


def _simple(ctx: Context, words: list[str], variables: dict[str, str], run: Runner) -> Result:
    if len(words) == 1 and (assignment := _ASSIGNMENT.fullmatch(words[0])):
        variables[assignment[1]] = assignment[2]
        return Result()
    name = words[0]
    if name == "exit":
        status = int(words[1]) if len(words) > 1 and words[1].isdigit() else 0
        raise _Exit(Result(status))
    if name == "exec":
        raise _Exit(run(ctx, words[1:]) if len(words) > 1 else Result())
    if name == "true":
        return Result()
    if name == "false":
        return Result(1)
    if name in ("[", "test"):
        return _test(ctx, words)
    return run(ctx, words)


def _test(ctx: Context, words: list[str]) -> Result:
    """The ``[``/``test`` builtin (status 0 true, 1 false, 2 misuse)."""
    args = words[1:]
    if words[0] == "[":
        if args[-1:] != ["]"]:
            return fail(SYNTAX_ERROR, "sh: 1: [: missing ]")
        args = args[:-1]
    negate = args[:1] == ["!"]
    if negate:
        args = args[1:]
    host = ctx.host
    unary: dict[str, Callable[[str], bool]] = {
        "-z": lambda s: s == "",
        "-n": lambda s: s != "",
        "-x": host.executable,
        "-f": host.is_file,
        "-e": lambda p: host.is_file(p) or host.is_dir(p),
        "-d": host.is_dir,
    }
    if len(args) == 2 and args[0] in unary:
        truth = unary[args[0]](args[1])
    elif len(args) == 3 and args[1] in ("=", "!="):
        truth = (args[0] == args[2]) == (args[1] == "=")
    elif len(args) == 1:
        truth = args[0] != ""
    elif not args:
        truth = False
    else:
        return fail(SYNTAX_ERROR, f"sh: 1: {words[0]}: unexpected operator")
    return Result(0 if truth != negate else 1)
