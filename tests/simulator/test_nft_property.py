"""What ``nft list table`` prints is a rules file that loads the same table again.

The provider reads a node's table back with ``nft list table inet pvenet`` and may write
it out as a rules file (to back it up, to compare it): for any table the simulator
accepts, its listing must load and list identically, and the declare-delete-define
idiom must replace it without adding a rule.
"""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.ssh import nft

SOURCE = "/etc/pvenet/rules.nft"

names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)
v4 = st.builds(
    lambda address, length: str(ipaddress.ip_network(f"{address}/{length}", strict=False)),
    st.ip_addresses(v=4),
    st.integers(8, 32),
)
ports = st.one_of(
    st.integers(1, 65535).map(str),
    st.tuples(st.integers(1, 30000), st.integers(0, 30000)).map(lambda p: f"{p[0]}-{p[0] + p[1]}"),
)
address_sets = st.lists(v4, min_size=1, max_size=3, unique=True).map(
    lambda items: items[0] if len(items) == 1 else "{ " + ", ".join(items) + " }"
)
matches = st.lists(
    st.one_of(
        st.builds(lambda f, a: f"ip {f} {a}", st.sampled_from(["saddr", "daddr"]), address_sets),
        st.builds(lambda p, n: f"{p} dport {n}", st.sampled_from(["tcp", "udp"]), ports),
        st.builds(lambda k, n: f'{k} "{n}"', st.sampled_from(["iifname", "oifname"]), names),
        st.just("fib daddr type local"),
        st.just("ct status dnat"),
        st.just("counter"),
    ),
    max_size=4,
)
comments = st.one_of(st.none(), st.from_regex(r"[a-z][a-z0-9 ]{0,20}", fullmatch=True))
nat_targets = st.builds(
    lambda address, port: f"dnat ip to {address}" + (f":{port}" if port else ""),
    st.ip_addresses(v=4),
    st.one_of(st.none(), st.integers(1, 65535)),
)


@st.composite
def tables(draw: st.DrawFn) -> str:
    """A table with a NAT prerouting chain, a NAT postrouting chain and a filter chain."""
    chains = []
    for name, head, terminals in (
        ("pre", "type nat hook prerouting priority dstnat;", nat_targets),
        ("post", "type nat hook postrouting priority 100;", st.just("masquerade")),
        ("fwd", "type filter hook forward priority 0; policy drop;", st.just("accept")),
    ):
        rules = []
        for _ in range(draw(st.integers(0, 3))):
            parts = [*draw(matches), draw(terminals)]
            comment = draw(comments)
            rules.append(" ".join(parts) + (f' comment "{comment}"' if comment else ""))
        body = "".join(f"\t\t{rule}\n" for rule in rules)
        chains.append(f"\tchain {name} {{\n\t\t{head}\n{body}\t}}\n")
    return "table inet pvenet {\n" + "\n".join(chains) + "}\n"


@settings(max_examples=150, deadline=None)
@given(tables())
def test_a_listing_loads_and_lists_the_same(text: str) -> None:
    listed = nft.listing(nft.load(text, SOURCE, {})["inet pvenet"])
    again = nft.listing(nft.load(listed, SOURCE, {})["inet pvenet"])
    assert again == listed
    replace = "table inet pvenet\ndelete table inet pvenet\n" + listed
    loaded = nft.load(listed, SOURCE, {})
    assert nft.listing(nft.load(replace, SOURCE, loaded)["inet pvenet"]) == listed
