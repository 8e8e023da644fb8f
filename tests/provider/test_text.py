"""Text written into a node's network files: refused where ifupdown2 would read something else.

The property tests render what the models accept (an interface comment into
``/etc/network/interfaces`` with Proxmox's writer, a vnet alias into
``interfaces.d/sdn`` with pve-network's) and read the file back as ifupdown2
does: with the small reader of its line rules always, and with Debian's
ifupdown2 parser (and Mako) where a kernel-tier run has unpacked it. What is
read must be what pvenet meant: the comment only as comment lines, the alias
only as the ``alias`` option, every other line and stanza as without them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from provider.node.model import COMMENT_MAX, parse_interfaces
from provider.node.resource import render_set
from provider.sdn.model import parse_sdn
from provider.sdn.render import render_vnet
from provider.text import SHOWN_MAX, shown, text_problem
from tests.kernel.ifupdown2 import unpacked
from tests.provider.ifupdown2_reader import Reader, Reading, debian_reader, read_lines

# --- the rule, value by value -----------------------------------------------------------------

COMMENT, ALIAS, LINE_START = "#", "\talias ", ""  # what the writer puts before the value
REFUSED: dict[str, tuple[str, str, str]] = {
    # name: (value, prefix, piece of the reason); comments may span lines, other text may not
    "carriage-return": ("x\rpost-up touch /tmp/pwned", COMMENT, "a carriage return (U+000D)"),
    "crlf": ("x\r\npost-up id", COMMENT, "carriage return"),
    "line-feed-in-one-line-text": ("a\nip-forward off", ALIAS, "a line break (U+000A)"),
    "nul": ("a\x00b", COMMENT, "a NUL character (U+0000)"),
    "tab": ("a\tb", COMMENT, "a tab (U+0009)"),
    "vertical-tab": ("a\x0bb", COMMENT, "a control character (U+000B)"),
    "escape": ("\x1b[31mred", ALIAS, "a control character (U+001B)"),
    "del": ("a\x7f", COMMENT, "a DEL character (U+007F)"),
    "next-line": ("a\x85b", COMMENT, "a next-line character (U+0085)"),
    "c1": ("a\x9bb", ALIAS, "a control character (U+009B)"),
    "line-separator": ("a\u2028b", COMMENT, "a line separator (U+2028)"),
    "paragraph-separator": ("a\u2029b", COMMENT, "a paragraph separator (U+2029)"),
    "surrogate": ("a\ud800", COMMENT, "no UTF-8 encoding"),
    "backslash-at-the-end": ("comment\\", COMMENT, "ifupdown2 joins lines at every backslash"),
    "backslash-inside": ("C:\\temp", ALIAS, "backslash at character 3"),
    "mako-expression": ("${__import__('os').system('id')}", COMMENT, "evaluates it as a Python"),
    "mako-block": ("<% import os %>", COMMENT, "runs it as a Python block"),
    "mako-block-end": ("done %>", ALIAS, "ends a Python block"),
    "mako-closing-tag": ("</%def>", COMMENT, "closing template tag"),
    "mako-call-tag": ("<&x&>", ALIAS, "drops its '<'"),
    "mako-comment-line": ("# heading", COMMENT, "'## heading', which starts with '##'"),
    "mako-comment-line-of-many": ("ok\n#x", COMMENT, "its line 2 would be written as '##x'"),
    "mako-control-line": ("% for i in range(3):", LINE_START, "starts with '%'"),
    "leading-space-in-one-line-text": (" lab", ALIAS, "starts or ends with whitespace"),
    "trailing-space-in-one-line-text": ("lab ", ALIAS, "starts or ends with whitespace"),
    "too-long": ("y" * 100_000, COMMENT, "is 100000 characters long; at most 4096"),
}

ACCEPTED: dict[str, tuple[str, str]] = {
    "plain": ("VM trunk", ALIAS),
    "several-lines": ("first\n  second\n\nfourth", COMMENT),
    "percent-inside": ("50% of the uplink", COMMENT),
    "percent-after-the-prefix": ("% of the uplink", COMMENT),
    "dollar-and-braces": ("costs $5 {approx}", COMMENT),
    "hash-inside": ("see #42", ALIAS),
    "non-ascii": ("Büro \u2013 東京 ✓", COMMENT),
    "at-the-limit": ("y" * COMMENT_MAX, COMMENT),
}


def _problem(value: str, prefix: str) -> str | None:
    return text_problem(
        value, field="comments", prefix=prefix, max_length=COMMENT_MAX, multiline=prefix == "#"
    )


@pytest.mark.parametrize(("value", "prefix", "reason"), REFUSED.values(), ids=list(REFUSED))
def test_refused_text_names_the_field_the_value_and_why(
    value: str, prefix: str, reason: str
) -> None:
    """Each refusal says which field, shows the value (cut when long) and why."""
    problem = _problem(value, prefix)
    assert problem is not None
    assert reason in problem
    assert "comments" in problem
    assert shown(value) in problem or shown(prefix + value) in problem


@pytest.mark.parametrize(("value", "prefix"), ACCEPTED.values(), ids=list(ACCEPTED))
def test_ordinary_text_is_accepted(value: str, prefix: str) -> None:
    assert _problem(value, prefix) is None


def test_a_long_value_is_shown_cut_with_its_length() -> None:
    assert shown("y" * 100_000) == repr("y" * SHOWN_MAX) + "... (100000 characters)"


# --- the property: what is accepted reads back as meant -----------------------------------------

_HOSTILE = list("\r\n\\\t\x00\x0b\x0c\x1c\x1e\x7f\x85\xa0\u2028\u2029\ud800 %$#{}<>&/*'\"")
_KNOWN_BAD = [
    "x\rpost-up touch /tmp/pwned",
    "x\\",
    "\\",
    "a\\\nb",
    "${1+1}",
    "<%doc>",
    "</%doc>",
    "<&x&>",
    "# title",
    "%",
    "ok\n%% x",
    "$IFACE",
]
TEXTS = st.one_of(
    st.text(st.one_of(st.sampled_from(_HOSTILE), st.characters()), max_size=24),
    st.sampled_from(_KNOWN_BAD),
    st.lists(st.sampled_from([*_KNOWN_BAD, "a", " b", "#c", "%d", ""]), max_size=4).map("\n".join),
)
# A line with '%' makes ifupdown2 render the whole file with Mako (when python3-mako is
# installed): each value is read back from a file with such a line and from one without.
TEMPLATES = {
    "mako": "# 100% of this file goes through Mako when python3-mako is installed\n",
    "no-mako": "",
}
NEXT_BRIDGE = {"iface": "vmbr9", "type": "bridge", "cidr": "10.9.0.2/24", "gateway": "10.9.0.1"}


def _readers() -> list[Any]:
    package = unpacked()
    debian = (
        pytest.param(debian_reader(package), id=f"debian-ifupdown2-{package.version}")
        if package is not None
        else pytest.param(
            None,
            id="debian-ifupdown2",
            marks=pytest.mark.skip(
                reason="Debian's ifupdown2 is not unpacked (a kernel-tier run downloads it into "
                "PVENET_KERNEL_CACHE); the small reader of its line rules runs instead"
            ),
        )
    )
    return [pytest.param(read_lines, id="ifupdown2-line-rules"), debian]


def _with_each_reader(test: Callable[..., None]) -> Callable[..., None]:
    """A property test (``@given``) run with each reader, on files with and without Mako."""
    test = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])(
        test
    )
    test = pytest.mark.parametrize("reader", _readers())(test)
    return pytest.mark.parametrize("template", TEMPLATES.values(), ids=list(TEMPLATES))(test)


def _read(reader: Reader, template: str, stanzas: str) -> Reading:
    return reader(template + stanzas + "\nsource /etc/network/interfaces.d/*\n")


@_with_each_reader
@given(comment=TEXTS)
@example(comment="x\rpost-up touch /tmp/pwned")
@example(comment="ends in a backslash\\")
@example(comment="first\n second\n\n")
def test_an_accepted_comment_reads_back_as_comment_lines_and_nothing_else(
    reader: Reader, template: str, comment: str
) -> None:
    """A comment becomes ``#`` lines of its stanza; the stanzas and their options are those of
    the same set without it. A comment the model refuses is refused at ``comments``."""
    bridge = {"iface": "vmbr5", "type": "bridge", "cidr": "10.5.0.2/24", "mtu": 1500}
    specs, problems = parse_interfaces([{**bridge, "comments": comment}, NEXT_BRIDGE])
    if problems:
        assert [p.path for p in problems] == ["interfaces[0].comments"], problems
        return
    plain, _ = parse_interfaces([bridge, NEXT_BRIDGE])
    meant = _read(reader, template, render_set(plain))
    if reader is read_lines and specs[0].comments is not None:
        meant["vmbr5"].comments = specs[0].comments.split("\n")
    assert _read(reader, template, render_set(specs)) == meant


@_with_each_reader
@given(alias=TEXTS)
@example(alias="lab\\")
@example(alias="\xa0lab")
@example(alias="lab (NAT) 1")
def test_an_accepted_alias_reads_back_as_the_alias_option_and_nothing_else(
    reader: Reader, template: str, alias: str
) -> None:
    """The alias is the ``alias`` option of the vnet's stanza, word for word; ``ip-forward on``
    and everything else is read as without it. An alias the model refuses is refused at
    ``alias``."""
    network = {
        "zone": "labz",
        "vnet": "labnet",
        "subnets": [{"cidr": "10.1.0.0/24", "gateway": "10.1.0.1"}],
    }
    spec, problems = parse_sdn({**network, "alias": alias})
    if problems:
        assert [p.path for p in problems] == ["alias"], problems
        return
    assert spec is not None
    plain, _ = parse_sdn(network)
    assert plain is not None
    meant = _read(reader, template, render_vnet(plain))
    if alias:  # pve-network writes no alias line for an empty alias
        meant["labnet"].options["alias"] = [alias]
    assert _read(reader, template, render_vnet(spec)) == meant


def test_the_readers_see_the_known_injections() -> None:
    """The reader is not blind: unchecked, each known case changes what ifupdown2 reads."""
    text = (
        "auto vmbr5\niface vmbr5 inet manual\n\tbridge-ports none\n#x\rpost-up touch /tmp/pwned\n"
        "#ends\\\nauto vmbr9\niface vmbr9 inet manual\n\talias a\\\n\tip-forward on\n"
    )
    reading = read_lines(text)
    assert reading["vmbr5"].options["post-up"] == ["touch /tmp/pwned"]
    assert reading["vmbr9"].auto is False
    assert reading["vmbr9"].options["alias"] == ["a ip-forward on"]
    with pytest.raises(AssertionError, match="Mako would render"):
        read_lines("iface vmbr5\n#${1}\n#100%\n")
