"""The simulator's nftables, without SSH: what a rules file may hold, how a table is
listed, what is refused and where, and that a refused file changes nothing.

Cases are data: a rule as written, and the rule as ``nft list`` prints it or the
error nft gives (message and the column it points at).
"""

from __future__ import annotations

import pytest

from simulator.ssh import nft

SOURCE = "/etc/pvenet/rules.nft"


def chain_file(rule: str, hook: str = "prerouting", kind: str = "nat") -> str:
    priority = {"prerouting": "dstnat", "postrouting": "srcnat"}.get(hook, "0")
    return (
        "table inet t {\n"
        "\tchain c {\n"
        f"\t\ttype {kind} hook {hook} priority {priority}; policy accept;\n"
        f"\t\t{rule}\n"
        "\t}\n"
        "}\n"
    )


def listed_rule(rule: str, hook: str = "prerouting", kind: str = "nat") -> str:
    ruleset = nft.load(chain_file(rule, hook, kind), SOURCE, {})
    return nft.listing(ruleset["inet t"]).splitlines()[3].strip()


@pytest.mark.parametrize(
    ("rule", "listed", "hook"),
    [
        (
            "ip daddr 192.168.10.2/32 tcp dport 8080 dnat ip to 10.0.0.5:80",
            "ip daddr 192.168.10.2 tcp dport 8080 dnat ip to 10.0.0.5:80",
            "prerouting",
        ),
        (
            'iifname "vmbr0" fib daddr type local udp dport 5000-5010 dnat ip to 10.0.0.6',
            'iifname "vmbr0" fib daddr type local udp dport 5000-5010 dnat ip to 10.0.0.6',
            "prerouting",
        ),
        (
            "tcp dport https dnat ip6 to [fd00::5]:8443",
            "tcp dport 443 dnat ip6 to [fd00::5]:8443",
            "prerouting",
        ),
        (
            "ip saddr { 192.168.1.0/24, 10.0.0.0/8 } ip daddr 10.0.0.5 ct status dnat masquerade",
            "ip saddr { 10.0.0.0/8, 192.168.1.0/24 } ip daddr 10.0.0.5 ct status dnat masquerade",
            "postrouting",
        ),
        (
            'ip6 saddr fd00:10:0:0::/64 oifname "vmbr0" counter masquerade comment "lab"',
            'ip6 saddr fd00:10::/64 oifname "vmbr0" counter packets 0 bytes 0 masquerade '
            'comment "lab"',
            "postrouting",
        ),
        (
            "ip saddr != 10.0.0.0/8 oifname vmbr0 snat ip to 192.168.10.2",
            'ip saddr != 10.0.0.0/8 oifname "vmbr0" snat ip to 192.168.10.2',
            "postrouting",
        ),
        ("iif vmbr0 tcp dport 22 accept", 'iif "vmbr0" tcp dport 22 accept', "prerouting"),
        ("tcp dport { 22 } accept", "tcp dport 22 accept", "prerouting"),
        ("tcp dport { 22,\n\t\t\t80 } accept", "tcp dport { 22, 80 } accept", "prerouting"),
    ],
)
def test_a_rule_is_listed_as_nft_lists_it(rule: str, listed: str, hook: str) -> None:
    assert listed_rule(rule, hook) == listed


def test_a_filter_chain_takes_matches_and_verdicts() -> None:
    rule = "ct state established,related accept"
    assert listed_rule(rule, "input", "filter") == rule
    assert listed_rule("ct state { established, related } accept", "input", "filter") == (
        "ct state { established, related } accept"
    )
    assert listed_rule("meta l4proto tcp tcp dport 22 drop", "input", "filter") == (
        "meta l4proto tcp tcp dport 22 drop"
    )


def test_priorities_are_listed_by_name_where_nft_names_them() -> None:
    text = (
        "table inet t {\n"
        "\tchain a { type nat hook prerouting priority -100; }\n"
        "\tchain b { type nat hook postrouting priority 100; }\n"
        "\tchain c { type filter hook forward priority filter + 10; policy drop; }\n"
        "}\n"
    )
    listed = nft.listing(nft.load(text, SOURCE, {})["inet t"])
    assert "\t\ttype nat hook prerouting priority dstnat; policy accept;\n" in listed
    assert "\t\ttype nat hook postrouting priority srcnat; policy accept;\n" in listed
    assert "\t\ttype filter hook forward priority 10; policy drop;\n" in listed


def test_an_empty_table_is_listed_with_braces_only() -> None:
    ruleset = nft.load("table inet pvenet\n", SOURCE, {})
    assert nft.listing(ruleset["inet pvenet"]) == "table inet pvenet {\n}\n"


@pytest.mark.parametrize(
    ("rule", "message", "culprit"),
    [
        ("tcp dport 80 dnatt ip to 10.0.0.5", "syntax error, unexpected string", "dnatt"),
        ("tcp dport 80 dnat ip to 10.0.0.5 accept", "Statement after terminal", "accept"),
        ("tcp dport 0-99999 accept", "Could not resolve service", "0-99999"),
        ("tcp dport 90-80 accept", "Range has zero or negative size", "90-80"),
        ("ip daddr fd00::1 accept", "Could not resolve hostname", "fd00::1"),
        ("ip6 daddr 10.0.0.1 accept", "Could not resolve hostname", "10.0.0.1"),
        ("tcp dport 80 dnat to 10.0.0.5", "specify `dnat ip' or 'dnat ip6'", "dnat"),
        ("tcp dport 80 dnat ip to 10.0.0.5:http:x", "Could not resolve hostname", None),
        ('iifname "averyveryverylongname" accept', "syntax error", None),
        ("ip saddr { 10.0.0.1 10.0.0.2 } accept", "syntax error, unexpected string", "10.0.0.2"),
        ('tcp dport 80 accept comment "' + "x" * 129 + '"', "Comment too long", None),
        ("jump nowhere", "Could not process rule: No such file or directory", "nowhere"),
    ],
)
def test_a_bad_rule_is_refused_where_it_is_wrong(
    rule: str, message: str, culprit: str | None
) -> None:
    text = chain_file(rule)
    with pytest.raises(nft.NftError) as caught:
        nft.load(text, SOURCE, {})
    first, line, carets = str(caught.value).split("\n")[:3]
    assert first.startswith(f"{SOURCE}:4:")
    assert message in first
    assert line == f"\t\t{rule}"
    if culprit is not None:
        start = len(carets) - len(carets.lstrip("\t "))
        assert line[start : start + len(culprit)] == culprit
        assert carets.strip() == "^" * len(culprit)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("table inet t {\n\tchain c {\n", "unexpected end of file"),
        ("table inet t {\n}\n}\n", "unexpected '}'"),
        ("tabel inet t\n", "syntax error, unexpected string"),
        ("table inet t {\n\tchain c {\n\t\ttype nat hook sideways priority 0;\n\t}\n}\n", "hook"),
        ("table inet t {\n\tchain c {\n\t\tpolicy maybe;\n\t}\n}\n", "accept or drop"),
        ('table inet t {\n\tchain c {\n\t\tcomment "open\n\t}\n}\n', "unterminated string"),
        ("delete table inet missing\n", "Could not process rule: No such file or directory"),
        (chain_file('oifname "vmbr0" masquerade', "prerouting"), "Operation not supported"),
        (chain_file("tcp dport 80 dnat ip to 10.0.0.5", "input", "filter"), "not supported"),
    ],
)
def test_a_bad_file_is_refused(text: str, message: str) -> None:
    with pytest.raises(nft.NftError) as caught:
        nft.load(text, SOURCE, {})
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"{SOURCE}:")


def test_a_file_is_one_transaction() -> None:
    loaded = nft.load("table inet pvenet\n" + chain_file("tcp dport 22 accept"), SOURCE, {})
    before = nft.to_json(loaded)
    text = (
        "table inet pvenet\ndelete table inet pvenet\n"
        + chain_file("tcp dport 80 dnat ip to 10.0.0.5")
        + "delete table inet gone\n"
    )
    with pytest.raises(nft.NftError):
        nft.load(text, SOURCE, loaded)
    assert nft.to_json(loaded) == before  # the ruleset given is untouched


def test_the_declare_delete_define_idiom_replaces_a_table_whether_or_not_it_is_loaded() -> None:
    text = "table inet t\ndelete table inet t\n" + chain_file("tcp dport 80 dnat ip to 10.0.0.5")
    once = nft.load(text, SOURCE, {})
    twice = nft.load(text, SOURCE, once)
    assert nft.listing(twice["inet t"]) == nft.listing(once["inet t"])
    assert nft.listing(once["inet t"]).count("dnat") == 1
    appended = nft.load(chain_file("tcp dport 80 dnat ip to 10.0.0.5"), SOURCE, once)
    assert nft.listing(appended["inet t"]).count("dnat") == 2  # without the delete: added


def test_the_ruleset_round_trips_through_the_node_state() -> None:
    ruleset = nft.load(chain_file("tcp dport 80 dnat ip to 10.0.0.5"), SOURCE, {})
    assert nft.listing(nft.from_json(nft.to_json(ruleset))["inet t"]) == nft.listing(
        ruleset["inet t"]
    )
