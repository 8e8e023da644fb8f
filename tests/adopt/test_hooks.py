"""Hook lines as host rules: the spellings people use, as data (pure).

Each case is an option line of an interfaces file and what pvenet makes of it: the part of
``HostRulesSpec`` and its value, a line that takes a rule away (``removes``), or no rule at
all (a command host rules cannot say, kept where it is and reported).
"""

from __future__ import annotations

from typing import Any

import pytest

from components.adopt.hooks import read_hook
from components.adopt.lines import scan
from components.adopt.networks import propose
from provider.node import dialect

MASQ = {"source": "10.0.0.0/24", "interface": "vmbr0"}
CASES: list[tuple[str, tuple[str, Any] | None, bool]] = [
    # masquerade and SNAT
    (
        "post-up iptables -t nat -A POSTROUTING -s '10.0.0.0/24' -o vmbr0 -j MASQUERADE",
        ("masquerade", MASQ),
        False,
    ),
    (
        "post-up /sbin/iptables -t nat -I POSTROUTING 1 -s 10.0.0.0/24 -o vmbr0 -j MASQUERADE",
        ("masquerade", MASQ),
        False,
    ),
    (
        "post-up iptables --table nat --append POSTROUTING --source 10.0.0.0/24 --out-interface"
        " vmbr0 --jump MASQUERADE",
        ("masquerade", MASQ),
        False,
    ),
    (
        "post-down iptables -t nat -D POSTROUTING -s 10.0.0.0/24 -o vmbr0 -j MASQUERADE",
        ("masquerade", MASQ),
        True,
    ),
    (
        "post-up iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -o vmbr0 -j SNAT --to-source"
        " 203.0.113.5",
        ("masquerade", MASQ),
        False,
    ),
    (
        "post-up ip6tables -t nat -A POSTROUTING -s fd00:1::/64 -o vmbr0 -j MASQUERADE",
        ("masquerade", {"source": "fd00:1::/64", "interface": "vmbr0"}),
        False,
    ),
    ("post-up iptables -t nat -A POSTROUTING -o vmbr0 -j MASQUERADE", None, False),
    (
        "post-up iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -o vmbr0 -p tcp -j MASQUERADE",
        None,
        False,
    ),
    # port forwards
    (
        "post-up iptables -t nat -A PREROUTING -i vmbr0 -p tcp --dport 80 -j DNAT --to"
        " 10.0.0.5:8080",
        (
            "forwards",
            {
                "protocol": "tcp",
                "port": 80,
                "to": "10.0.0.5",
                "to_port": 8080,
                "interface": "vmbr0",
            },
        ),
        False,
    ),
    (
        "post-up iptables -t nat -A PREROUTING -p udp -m udp --dport 51820 -j DNAT"
        " --to-destination 10.0.0.6",
        ("forwards", {"protocol": "udp", "port": 51820, "to": "10.0.0.6"}),
        False,
    ),
    (
        "post-up iptables -t nat -A PREROUTING -d 203.0.113.5/32 -p tcp --dport 8000:8010 -j"
        " DNAT --to-destination 10.0.0.7",
        (
            "forwards",
            {"protocol": "tcp", "port": "8000-8010", "to": "10.0.0.7", "address": "203.0.113.5"},
        ),
        False,
    ),
    (
        "post-up iptables -t nat -A PREROUTING -p tcp --dport 443 -j DNAT --to-destination"
        " 10.0.0.5:443",
        ("forwards", {"protocol": "tcp", "port": 443, "to": "10.0.0.5"}),
        False,
    ),
    (
        "post-up ip6tables -t nat -A PREROUTING -p tcp --dport 22 -j DNAT --to-destination"
        " [fd00:1::5]:2222",
        ("forwards", {"protocol": "tcp", "port": 22, "to": "fd00:1::5", "to_port": 2222}),
        False,
    ),
    ("post-up iptables -t nat -A PREROUTING -i vmbr0 -j DNAT --to 10.0.0.5", None, False),
    (
        "post-up iptables -t nat -A PREROUTING -p tcp -m multiport --dports 80,443 -j DNAT --to"
        " 10.0.0.5",
        None,
        False,
    ),
    (
        "post-up iptables -t nat -A PREROUTING -d 203.0.113.0/24 -p tcp --dport 80 -j DNAT --to"
        " 10.0.0.5",
        None,
        False,
    ),
    # forwarding, proxy_arp
    ("post-up echo 1 > /proc/sys/net/ipv4/ip_forward", ("ip_forward", "ipv4"), False),
    ("post-up   echo 1 >/proc/sys/net/ipv6/conf/all/forwarding", ("ip_forward", "ipv6"), False),
    ("post-down echo 0 > /proc/sys/net/ipv4/ip_forward", ("ip_forward", "ipv4"), True),
    ("post-up sysctl -w net.ipv4.ip_forward=1", ("ip_forward", "ipv4"), False),
    ("up /sbin/sysctl -qw net.ipv6.conf.default.forwarding=1", ("ip_forward", "ipv6"), False),
    ("post-up echo 1 > /proc/sys/net/ipv4/conf/eno1/proxy_arp", ("proxy_arp", "eno1"), False),
    ("post-up sysctl -w net.ipv4.conf.vmbr0.proxy_arp=1", ("proxy_arp", "vmbr0"), False),
    ("post-up sysctl -w net.ipv4.conf.all.proxy_arp=1", None, False),
    (
        "post-up echo 1 > /proc/sys/net/ipv4/ip_forward; echo 1 >"
        " /proc/sys/net/ipv4/conf/eno1/proxy_arp",
        None,
        False,
    ),
    # routes to one guest address
    (
        "up ip route add 203.0.113.9/32 dev vmbr0",
        ("routes", {"address": "203.0.113.9/32", "interface": "vmbr0"}),
        False,
    ),
    (
        "up ip route add 203.0.113.9 dev vmbr0",
        ("routes", {"address": "203.0.113.9/32", "interface": "vmbr0"}),
        False,
    ),
    (
        "up ip -6 route replace 2a01:4f8::9/128 dev vmbr1",
        ("routes", {"address": "2a01:4f8::9/128", "interface": "vmbr1"}),
        False,
    ),
    (
        "down ip route del 203.0.113.9/32 dev vmbr0",
        ("routes", {"address": "203.0.113.9/32", "interface": "vmbr0"}),
        True,
    ),
    ("up ip route add 203.0.113.8/29 dev vmbr0", None, False),
    ("up ip route add 203.0.113.9/32 via 203.0.113.1 dev vmbr0", None, False),
    # not host rules at all
    ("post-up iptables -t raw -I PREROUTING -i fwbr+ -j CT --zone 1", None, False),
    ("post-up iptables -A FORWARD -i vmbr1 -j ACCEPT", None, False),
    ("pre-up ip link add vxlan0 type vxlan id 10 dev eno1", None, False),
    ("post-up iptables -t nat -A POSTROUTING -s '10.0.0.0/24 -o vmbr0 -j MASQUERADE", None, False),
]


@pytest.mark.parametrize(("line", "rule", "removes"), CASES, ids=[c[0][:70] for c in CASES])
def test_a_hook_line_is_the_host_rule_it_expresses(
    line: str, rule: tuple[str, Any] | None, removes: bool
) -> None:
    key, _, value = line.partition(" ")
    hook = read_hook(key, value)
    assert hook is not None
    got = None if hook.rule is None else (hook.rule.part, hook.rule.value)
    assert got == rule
    assert hook.removes == removes


def test_options_that_are_not_hooks_are_none() -> None:
    assert read_hook("hwaddress", "aa:bb:cc:dd:ee:ff") is None
    assert read_hook("bridge-ports", "eno1") is None


def test_a_rule_going_the_wrong_way_is_no_rule() -> None:
    """``post-up ... -D`` takes a rule away while coming up: not something to keep."""
    hook = read_hook(
        "post-up", "iptables -t nat -D POSTROUTING -s 10.0.0.0/24 -o vmbr0 -j MASQUERADE"
    )
    assert hook is not None
    assert hook.rule is None


def test_a_rule_host_rules_refuse_is_reported_with_their_reason() -> None:
    """A masquerade source with host bits set: kept in the file, the report says why."""
    text = (
        "auto lo\niface lo inet loopback\n\niface eno1 inet manual\n\nauto vmbr0\n"
        "iface vmbr0 inet static\n\taddress 10.0.0.1/24\n\tbridge-ports none\n"
        "\tbridge-stp off\n\tbridge-fd 0\n"
        "\tpost-up iptables -t nat -A POSTROUTING -s 10.0.0.1/24 -o eno1 -j MASQUERADE\n"
    )
    proposal = propose("pve1", dialect.parse(text, ["eno1"]).ifaces, scan(text))
    assert proposal.rules == []
    (finding,) = [f for f in proposal.findings if f.line == 12]
    assert "does not express (as a host rule:" in finding.reason
    assert "host bits set" in finding.reason
