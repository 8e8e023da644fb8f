"""nft's grammar for a rules file, as the simulator reads it (pure).

Written from nft's documented grammar and its messages, not from pvenet's renderer, so a
wrong rule in the provider is refused here as the kernel's nft would refuse it. A file
may hold:

- ``table FAMILY NAME`` (declares it: created when absent), ``add table ...``,
  ``table FAMILY NAME { ... }`` (adds chains and rules to it), ``delete table ...``,
  ``flush table ...``, ``flush ruleset``;
- in a table: ``chain NAME { ... }`` with ``type filter|nat|route hook HOOK priority P;``
  and ``policy accept|drop;``;
- rules made of the usual matches (``ip``/``ip6`` ``saddr``/``daddr``/``protocol``, ``tcp``/
  ``udp`` ``sport``/``dport``, ``iifname``/``oifname``, ``iif``/``oif``, ``meta``, ``fib``,
  ``ct state``/``ct status``; values, ranges and ``{ a, b }`` sets, ``!=``) and statements
  (``counter``, ``log``, verdicts, ``jump``/``goto``, ``dnat``/``snat``/``masquerade``/
  ``redirect``, ``comment``); ``#`` comments.

Anything else is an error in nft's words: ``PATH:LINE:COL-COL: Error: syntax error,
unexpected ...`` followed by the line and carets under the culprit. :func:`parse` gives
the file's commands, each rule already in the form ``nft list`` prints it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
HOOKS = ("prerouting", "input", "forward", "output", "postrouting", "ingress")
CHAIN_TYPES = ("filter", "nat", "route")
# nft's named priorities (for the ip, ip6 and inet families) and their numbers.
PRIORITIES = {
    "raw": -300,
    "mangle": -150,
    "dstnat": -100,
    "filter": 0,
    "security": 50,
    "srcnat": 100,
}
SERVICES = {"ssh": 22, "smtp": 25, "domain": 53, "http": 80, "ntp": 123, "https": 443}
VERDICTS = ("accept", "drop", "return", "reject", "continue")
CT_STATES = ("new", "established", "related", "invalid", "untracked")
CT_STATUSES = ("expected", "seen-reply", "assured", "confirmed", "snat", "dnat", "dying")
FIB_TYPES = ("unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole")
PROTOCOLS = ("tcp", "udp", "icmp", "icmpv6", "sctp", "udplite", "gre", "esp", "ah")
FAMILY_MISMATCH = "Could not resolve hostname: Address family for hostname not supported"
"""nft's error for an address of the other IP version (``ip daddr fd00::1``)."""
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*\Z")
_KEYWORDS = frozenset(
    {"table", "chain", "delete", "flush", "add", "type", "hook", "priority", "policy", "ip"}
    | set(FAMILIES)
    | set(HOOKS)
    | set(CHAIN_TYPES)
    | set(VERDICTS)
    | set(PROTOCOLS)
    | {"saddr", "daddr", "sport", "dport", "dnat", "snat", "masquerade", "counter", "comment"}
)


class NftError(Exception):
    """What nft prints on stderr when it refuses a file or a command (exit status 1)."""


# -- tokens -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    """One token of a rules file and where it starts (1-based line and column)."""

    kind: str  # word, string, "{", "}", ";", ",", newline, eof
    text: str
    line: int
    col: int

    def describe(self) -> str:
        """The token as bison names it in nft's "unexpected ..." messages."""
        if self.kind == "word":
            return self.text if self.text in _KEYWORDS else "string"
        if self.kind == "string":
            return "quoted string"
        if self.kind in ("newline", "eof"):
            return {"newline": "newline", "eof": "end of file"}[self.kind]
        return f"'{self.kind}'"


def tokenize(text: str, source: str) -> list[Token]:
    """The tokens of ``text``; an unterminated string is a syntax error."""
    tokens: list[Token] = []
    for number, line in enumerate(text.split("\n"), start=1):
        col = 0
        while col < len(line):
            char = line[col]
            if char in " \t\r":
                col += 1
            elif char == "#":
                break
            elif char == '"':
                end = line.find('"', col + 1)
                if end < 0:
                    bad = Token("string", line[col:], number, col + 1)
                    raise NftError(located(source, text, bad, "unterminated string"))
                tokens.append(Token("string", line[col + 1 : end], number, col + 1))
                col = end + 1
            elif char in "{};,":
                tokens.append(Token(char, char, number, col + 1))
                col += 1
            else:
                end = col
                while end < len(line) and line[end] not in ' \t\r#"{};,':
                    end += 1
                tokens.append(Token("word", line[col:end], number, col + 1))
                col = end
        tokens.append(Token("newline", "", number, len(line) + 1))
    last = text.count("\n") + 1
    tokens.append(Token("eof", "", last, 1))
    return tokens


def located(source: str, text: str, token: Token, message: str) -> str:
    """nft's error: ``source:line:col-col: Error: message``, the line, carets under the token."""
    lines = text.split("\n")
    line = lines[token.line - 1] if token.line <= len(lines) else ""
    width = max(1, len(token.text) + (2 if token.kind == "string" else 0))
    end = token.col + width - 1
    lead = "".join(c if c == "\t" else " " for c in line[: token.col - 1])
    return (
        f"{source}:{token.line}:{token.col}-{end}: Error: {message}\n{line}\n{lead}{'^' * width}\n"
    )


# -- reading a file into commands ---------------------------------------------------------------


@dataclass
class Command:
    """One top-level command of a file: ``table`` (with the chains its body defines),
    ``delete``, ``flush`` (a table) or ``flush-ruleset``; ``token`` is where it starts."""

    verb: str  # table, delete, flush, flush-ruleset
    token: Token
    family: str = ""
    name: str = ""
    chains: list[ChainSpec] = field(default_factory=list)


@dataclass
class ChainSpec:
    """A ``chain`` block as written: base-chain settings if any, and its rules."""

    token: Token
    name: str
    kind: str | None = None
    hook: str | None = None
    priority: str | None = None
    policy: str | None = None
    rules: list[RuleSpec] = field(default_factory=list)


@dataclass
class RuleSpec:
    """A rule in nft's listed form, what the kernel checks about it (its NAT statement,
    the chains it jumps to), and where it starts for the error that points at it."""

    token: Token
    text: str
    nat: str | None  # dnat, snat, masquerade, redirect
    jumps: list[Token]


class _Parser:
    """A recursive-descent reader of one rules file."""

    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.source = source
        self.tokens = tokenize(text, source)
        self.at = 0
        self.table_family = "ip"
        """The family of the table being read (NAT statements depend on it)."""

    # token helpers

    @property
    def peek(self) -> Token:
        return self.tokens[self.at]

    def next(self) -> Token:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def fail(self, token: Token, expecting: str = "") -> NftError:
        message = f"syntax error, unexpected {token.describe()}"
        if expecting:
            message += f", expecting {expecting}"
        return NftError(located(self.source, self.text, token, message))

    def error(self, token: Token, message: str) -> NftError:
        return NftError(located(self.source, self.text, token, message))

    def word(self, expecting: str, choices: tuple[str, ...] | None = None) -> Token:
        token = self.next()
        if token.kind != "word" or (choices is not None and token.text not in choices):
            raise self.fail(token, expecting)
        return token

    def skip_blank(self) -> None:
        while self.peek.kind in ("newline", ";"):
            self.at += 1

    def end_of_statement(self) -> None:
        token = self.peek
        if token.kind in ("newline", ";"):
            self.at += 1
        elif token.kind not in ("eof", "}"):
            raise self.fail(token, "newline")

    # file level

    def commands(self) -> list[Command]:
        found: list[Command] = []
        while True:
            self.skip_blank()
            token = self.peek
            if token.kind == "eof":
                return found
            found.append(self.command())

    def command(self) -> Command:
        first = self.word("table, add, delete or flush", ("table", "add", "delete", "flush"))
        if first.text == "add":
            self.word("table", ("table",))
            command = Command("table", first, *self.table_id())
        elif first.text in ("delete", "flush"):
            what = self.word("table or ruleset", ("table", "ruleset"))
            if what.text == "ruleset":
                if first.text == "delete":
                    raise self.fail(what, "table")
                self.end_of_statement()
                return Command("flush-ruleset", first)
            command = Command(first.text, first, *self.table_id())
        else:
            command = Command("table", first, *self.table_id())
            if self.peek.kind == "{":
                self.next()
                command.chains = self.table_body()
        self.end_of_statement()
        return command

    def table_id(self) -> tuple[str, str]:
        family = self.word("table family or name")
        if family.text in FAMILIES:
            name = self.word("table name")
        else:
            family, name = Token("word", "ip", family.line, family.col), family
        if not _NAME_RE.match(name.text):
            raise self.fail(name, "table name")
        self.table_family = family.text
        return family.text, name.text

    def table_body(self) -> list[ChainSpec]:
        chains: list[ChainSpec] = []
        while True:
            self.skip_blank()
            token = self.next()
            if token.kind == "}":
                return chains
            if token.kind != "word" or token.text != "chain":
                raise self.fail(token, "chain or '}'")
            name = self.word("chain name")
            if not _NAME_RE.match(name.text):
                raise self.fail(name, "chain name")
            brace = self.next()
            if brace.kind != "{":
                raise self.fail(brace, "'{'")
            chains.append(self.chain_body(ChainSpec(token, name.text)))
            self.end_of_statement()

    def chain_body(self, chain: ChainSpec) -> ChainSpec:
        while True:
            self.skip_blank()
            token = self.peek
            if token.kind == "}":
                self.next()
                return chain
            if token.kind == "eof":
                raise self.fail(token, "'}'")
            if token.kind == "word" and token.text == "type":
                self.base_chain(chain)
            elif token.kind == "word" and token.text == "policy":
                self.next()
                chain.policy = self.word("accept or drop", ("accept", "drop")).text
            else:
                chain.rules.append(self.rule())
            self.end_of_statement()

    def base_chain(self, chain: ChainSpec) -> None:
        self.next()
        chain.kind = self.word("filter, nat or route", CHAIN_TYPES).text
        self.word("hook", ("hook",))
        chain.hook = self.word("hook name", HOOKS).text
        self.word("priority", ("priority",))
        chain.priority = self.priority(chain.hook)

    def priority(self, hook: str) -> str:
        token = self.word("priority value")
        value = token.text
        if value in PRIORITIES:
            number = PRIORITIES[value]
            if self.peek.kind == "word" and self.peek.text in ("+", "-"):
                sign = self.next().text
                offset = self.word("number")
                if not offset.text.isdigit():
                    raise self.fail(offset, "number")
                number += int(offset.text) * (1 if sign == "+" else -1)
        elif re.fullmatch(r"-?\d+", value):
            number = int(value)
        else:
            raise self.fail(token, "priority value")
        named = {v: k for k, v in PRIORITIES.items()}
        name = named.get(number)
        # nft shows dstnat/srcnat only where the hook fits them
        if name == "dstnat" and hook not in ("prerouting", "output"):
            name = None
        if name == "srcnat" and hook not in ("postrouting", "input"):
            name = None
        return name if name is not None else str(number)

    # rules

    def rule(self) -> RuleSpec:
        start = self.peek
        parts: list[str] = []
        nat: str | None = None
        jumps: list[Token] = []
        terminal: Token | None = None
        families: set[str] = set()
        while self.peek.kind not in ("newline", ";", "}", "eof"):
            token = self.next()
            if token.kind != "word":
                raise self.fail(token, "rule statement")
            keyword = token.text
            if terminal is not None and keyword != "comment":
                raise self.error(token, "Statement after terminal statement has no effect")
            handler = self._statements().get(keyword)
            if handler is None:
                raise self.fail(token)
            text, is_terminal = handler(token, families)
            parts.append(text)
            if keyword in ("dnat", "snat", "masquerade", "redirect"):
                nat = keyword
            if keyword in ("jump", "goto"):
                jumps.append(self.tokens[self.at - 1])
            if is_terminal:
                terminal = token
        if not parts:
            raise self.fail(self.peek, "rule statement")
        return RuleSpec(start, " ".join(parts), nat, jumps)

    def _statements(self) -> dict[str, Callable[[Token, set[str]], tuple[str, bool]]]:
        return {
            "ip": self.ip_match,
            "ip6": self.ip_match,
            "tcp": self.port_match,
            "udp": self.port_match,
            "iifname": self.name_match,
            "oifname": self.name_match,
            "iif": self.name_match,
            "oif": self.name_match,
            "meta": self.meta_match,
            "fib": self.fib_match,
            "ct": self.ct_match,
            "counter": self.counter,
            "log": self.log,
            "comment": self.comment,
            "accept": self.verdict,
            "drop": self.verdict,
            "return": self.verdict,
            "reject": self.verdict,
            "continue": self.verdict,
            "jump": self.jump,
            "goto": self.jump,
            "dnat": self.nat_target,
            "snat": self.nat_target,
            "masquerade": self.masquerade,
            "redirect": self.masquerade,
        }

    def operator(self) -> str:
        if self.peek.kind == "word" and self.peek.text in ("!=", "=="):
            return self.next().text
        return ""

    def values(self, check: Callable[[Token], str], sort: bool = False) -> str:
        """One value or a ``{ a, b }`` set of them (over several lines if need be), each
        read by ``check``; a set of one element is that element, as nft lists it."""
        if self.peek.kind != "{":
            return check(self.next())
        self.next()
        items: list[str] = []
        while True:
            token = self.next_in_set()
            if token.kind == "}" and items:
                break
            items.append(check(token))
            after = self.next_in_set()
            if after.kind == "}":
                break
            if after.kind != ",":
                raise self.fail(after, "',' or '}'")
        if sort:
            items.sort(key=lambda v: ipaddress.ip_network(v.split("-")[0], strict=False))
        return items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"

    def next_in_set(self) -> Token:
        """The next token inside ``{ }``, where line breaks mean nothing."""
        while self.peek.kind == "newline":
            self.at += 1
        return self.next()

    def ip_match(self, token: Token, families: set[str]) -> tuple[str, bool]:
        family = token.text
        field_ = self.word("saddr, daddr or protocol", ("saddr", "daddr", "protocol", "nexthdr"))
        operator = self.operator()
        if field_.text in ("protocol", "nexthdr"):
            value = self.values(lambda t: self.choice(t, PROTOCOLS, "protocol"))
        else:
            value = self.values(lambda t: self.address(t, family), sort=True)
        families.add(family)
        return _join(family, field_.text, operator, value), False

    def port_match(self, token: Token, families: set[str]) -> tuple[str, bool]:
        field_ = self.word("sport or dport", ("sport", "dport"))
        operator = self.operator()
        return _join(token.text, field_.text, operator, self.values(self.port_range)), False

    def name_match(self, token: Token, families: set[str]) -> tuple[str, bool]:
        operator = self.operator()

        def name(value: Token) -> str:
            if value.kind not in ("string", "word") or not value.text or len(value.text) > 15:
                raise self.fail(value, "interface name")
            return f'"{value.text}"'

        return _join(token.text, operator, self.values(name)), False

    def meta_match(self, token: Token, families: set[str]) -> tuple[str, bool]:
        key = self.word("meta key", ("l4proto", "nfproto", "iifname", "oifname", "mark"))
        operator = self.operator()
        if key.text == "l4proto":
            value = self.values(lambda t: self.choice(t, PROTOCOLS, "protocol"))
        elif key.text == "nfproto":
            value = self.values(lambda t: self.choice(t, ("ipv4", "ipv6"), "ipv4 or ipv6"))
        elif key.text == "mark":
            value = self.values(self.number)
        else:
            value = self.values(lambda t: f'"{t.text}"')
        return _join("meta", key.text, operator, value), False

    def fib_match(self, token: Token, families: set[str]) -> tuple[str, bool]:
        key = self.word("saddr or daddr", ("saddr", "daddr"))
        self.word("type", ("type",))
        operator = self.operator()
        value = self.values(lambda t: self.choice(t, FIB_TYPES, "address type"))
        return _join("fib", key.text, "type", operator, value), False

    def ct_match(self, token: Token, families: set[str]) -> tuple[str, bool]:
        key = self.word("state or status", ("state", "status"))
        operator = self.operator()
        known = CT_STATES if key.text == "state" else CT_STATUSES
        values = [self.values(lambda t: self.choice(t, known, key.text))]
        # a bitmask value may also be written as a comma-separated list
        while not values[0].startswith("{") and self.peek.kind == ",":
            self.next()
            values.append(self.choice(self.next(), known, key.text))
        return _join("ct", key.text, operator, ",".join(values)), False

    def counter(self, token: Token, families: set[str]) -> tuple[str, bool]:
        if self.peek.kind == "word" and self.peek.text == "packets":
            self.next()
            packets = self.number(self.next())
            self.word("bytes", ("bytes",))
            return f"counter packets {packets} bytes {self.number(self.next())}", False
        return "counter packets 0 bytes 0", False  # nft lists a new counter with its values

    def log(self, token: Token, families: set[str]) -> tuple[str, bool]:
        text = "log"
        if self.peek.kind == "word" and self.peek.text == "prefix":
            self.next()
            prefix = self.next()
            if prefix.kind != "string":
                raise self.fail(prefix, "quoted string")
            text += f' prefix "{prefix.text}"'
        return text, False

    def comment(self, token: Token, families: set[str]) -> tuple[str, bool]:
        value = self.next()
        if value.kind not in ("string", "word"):
            raise self.fail(value, "string")
        if len(value.text) > 128:
            raise self.error(value, "Comment too long, 128 characters maximum allowed")
        return f'comment "{value.text}"', False

    def verdict(self, token: Token, families: set[str]) -> tuple[str, bool]:
        return token.text, True

    def jump(self, token: Token, families: set[str]) -> tuple[str, bool]:
        target = self.word("chain name")
        return f"{token.text} {target.text}", True

    def nat_target(self, token: Token, families: set[str]) -> tuple[str, bool]:
        family = ""
        if self.peek.kind == "word" and self.peek.text in ("ip", "ip6"):
            family = self.next().text
        self.word("to", ("to",))
        target = self.next()
        if target.kind != "word":
            raise self.fail(target, "address")
        wanted = family or (next(iter(families)) if len(families) == 1 else "")
        self.nat_address(target, wanted or None)
        if not family and self.table_family == "inet" and not wanted:
            raise self.error(
                token,
                f"specify `{token.text} ip' or '{token.text} ip6' in inet table to disambiguate",
            )
        return _join(token.text, family, "to", target.text), True

    def masquerade(self, token: Token, families: set[str]) -> tuple[str, bool]:
        text = token.text
        if self.peek.kind == "word" and self.peek.text == "to":
            self.next()
            port = self.next()
            if not port.text.startswith(":"):
                raise self.fail(port, "':' port")
            self.port_range(Token(port.kind, port.text[1:], port.line, port.col + 1))
            text += f" to {port.text}"
        return text, True

    # values

    def choice(self, token: Token, known: tuple[str, ...], what: str) -> str:
        if token.kind != "word" or token.text not in known:
            raise self.fail(token, what)
        return token.text

    def number(self, token: Token) -> str:
        if token.kind != "word" or not token.text.isdigit():
            raise self.fail(token, "number")
        return str(int(token.text))

    def address(self, token: Token, family: str) -> str:
        if token.kind != "word":
            raise self.fail(token, "address")
        version = 4 if family == "ip" else 6
        low, dash, high = token.text.partition("-")
        try:
            if dash:
                first, last = ipaddress.ip_address(low), ipaddress.ip_address(high)
                if first.version != version or last.version != version or int(last) < int(first):
                    raise ValueError(token.text)
                return f"{first}-{last}"
            network = ipaddress.ip_network(token.text, strict=False)
        except ValueError:
            raise self.error(
                token, "Could not resolve hostname: Name or service not known"
            ) from None
        if network.version != version:
            raise self.error(token, FAMILY_MISMATCH)
        full = 32 if version == 4 else 128
        return str(network.network_address) if network.prefixlen == full else str(network)

    def port_range(self, token: Token) -> str:
        if token.kind != "word":
            raise self.fail(token, "port")
        low, dash, high = token.text.partition("-")
        ports = [self._port(token, low)] + ([self._port(token, high)] if dash else [])
        if dash and ports[1] < ports[0]:
            raise self.error(token, "Range has zero or negative size")
        return "-".join(str(p) for p in ports)

    def _port(self, token: Token, text: str) -> int:
        if text in SERVICES:
            return SERVICES[text]
        if text.isdigit() and int(text) <= 65535:
            return int(text)
        raise self.error(token, "Could not resolve service: Servname not supported for ai_socktype")

    def nat_address(self, token: Token, family: str | None) -> None:
        text = token.text
        port = ""
        if text.startswith("["):
            host, sep, port = text[1:].partition("]:")
            if not sep:
                raise self.fail(token, "address")
        elif text.count(":") == 1:
            host, _sep, port = text.partition(":")
        else:
            host = text
        if port:
            self.port_range(Token("word", port, token.line, token.col))
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise self.error(
                token, "Could not resolve hostname: Name or service not known"
            ) from None
        if family is not None and address.version != (4 if family == "ip" else 6):
            raise self.error(token, FAMILY_MISMATCH)


def _join(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def parse(text: str, source: str) -> list[Command]:
    """The commands of a rules file; NftError (nft's message) when it does not parse."""
    return _Parser(text, source).commands()
