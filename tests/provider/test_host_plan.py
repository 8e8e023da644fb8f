"""The host rules planner (pure): what a change does, what the node puts back, and drift.

A node that runs the rules already needs no change (a property, over generated rules); a
change from nothing writes every file and its revert script removes them; a rerun after a
lost answer keeps the way back to the last confirmed state.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from provider.host.model import EMPTY, HostRulesSpec, Route
from provider.host.plan import NodeState, observed_rules, plan_change, verify
from provider.host.render import (
    BEFORE,
    HOST_SCRIPT,
    MANAGED_FILES,
    RULES,
    SYSCTL,
    UNIT,
    files,
    revert_script,
    table,
    wanted_sysctls,
)

UNIT_NAME = "pvenet-revert-abc123"
NAT = {
    "masquerade": [{"source": "10.10.10.0/24", "interface": "vmbr0"}],
    "forwards": [{"protocol": "tcp", "port": 8080, "to": "10.10.10.5", "to_port": 80}],
    "ip_forward": {"ipv4": True},
}


KERNEL = {
    "net.ipv4.ip_forward": "0",
    "net.ipv6.conf.all.forwarding": "0",
    **{f"net.ipv4.conf.{i}.proxy_arp": "0" for i in ("vmbr0", "vmbr1", "vmbr0/20")},
}
"""The sysctls of the node the tests plan for, as a kernel has them before pvenet."""


def nothing() -> NodeState:
    """A node pvenet never touched (forwarding off)."""
    return NodeState(
        files=dict.fromkeys(MANAGED_FILES),
        sysctls=dict(KERNEL),
    )


def running(spec: HostRulesSpec, before: dict[str, str] | None = None) -> NodeState:
    """A node that runs ``spec`` as pvenet leaves it after a confirmed change."""
    before = before or dict.fromkeys(wanted_sysctls(spec), "0")
    wanted = files(spec, before)
    return NodeState(
        files={path: None if f is None else f.content for path, f in wanted.items()},
        table=None if spec == EMPTY else table(spec),
        sysctls={**KERNEL, **wanted_sysctls(spec)},
        routes=dict.fromkeys(spec.routes, True),
        enabled=spec != EMPTY,
    )


def spec(raw: dict[str, Any]) -> HostRulesSpec:
    return HostRulesSpec.model_validate(raw)


def test_from_nothing_every_file_is_written_and_the_revert_removes_them() -> None:
    change = plan_change(spec(NAT), nothing(), UNIT_NAME)
    written = [f.path for f in change.writes]
    assert written[0] == RULES
    assert set(written) == {RULES, HOST_SCRIPT, BEFORE, SYSCTL, UNIT, *MANAGED_FILES[-1:]}
    assert change.load is True
    assert change.sysctls == (("net.ipv4.ip_forward", "1"),)
    assert change.enable
    assert change.backups == ()
    script = revert_script(change.revert)
    assert f"# unit: {UNIT_NAME}\n" in script
    assert "systemctl disable pvenet-rules.service\n" in script
    assert "rm -f /etc/pvenet/rules.nft" in script
    assert "nft delete table inet pvenet\n" in script
    assert "sysctl -qw net.ipv4.ip_forward=0\n" in script


def test_before_conf_keeps_the_value_before_pvenet() -> None:
    change = plan_change(spec(NAT), nothing(), UNIT_NAME)
    before = next(f for f in change.writes if f.path == BEFORE)
    assert "net.ipv4.ip_forward = 0\n" in before.content


def test_delete_removes_every_file_and_puts_forwarding_back() -> None:
    state = running(spec(NAT))
    change = plan_change(EMPTY, state, UNIT_NAME)
    assert change.writes == ()
    assert set(change.removes) == set(MANAGED_FILES)
    assert change.load is False
    assert change.disable
    assert change.sysctls == (("net.ipv4.ip_forward", "0"),)
    script = revert_script(change.revert)
    assert "install -D -m 0644 /etc/pvenet/backup/etc/pvenet/rules.nft /etc/pvenet/rules.nft" in (
        script
    )
    assert "nft -f /etc/pvenet/rules.nft\n" in script
    assert "systemctl enable pvenet-rules.service\n" in script
    assert "sysctl -qw net.ipv4.ip_forward=1\n" in script
    assert {f.path for f in change.backups} == {p for p, c in state.files.items() if c}


def test_a_route_dropped_is_deleted_and_comes_back_on_revert() -> None:
    old = spec({"routes": [{"address": "203.0.113.10", "interface": "vmbr0"}], "proxy_arp": []})
    change = plan_change(spec({"proxy_arp": ["vmbr0"]}), running(old), UNIT_NAME)
    assert change.routes_del == (Route(address="203.0.113.10/32", interface="vmbr0"),)
    assert change.run_host_script
    assert "ip route replace 203.0.113.10/32 dev vmbr0\n" in revert_script(change.revert)


def test_an_unconfirmed_previous_run_keeps_its_way_back() -> None:
    """Files of an unconfirmed change are live, its timer armed: the new revert script puts
    back what the backup holds (the last confirmed state), not the unconfirmed files."""
    confirmed = running(spec(NAT))
    unconfirmed = running(spec({**NAT, "forwards": []}))
    state = NodeState(
        files=unconfirmed.files,
        table=unconfirmed.table,
        sysctls=unconfirmed.sysctls,
        enabled=True,
        armed=True,
        backup=confirmed.files,
        revert="# unit: pvenet-revert-old\nsysctl -qw net.ipv4.ip_forward=0\n",
    )
    change = plan_change(spec({**NAT, "forwards": []}), state, UNIT_NAME)
    assert change.empty
    other = plan_change(EMPTY, state, UNIT_NAME)
    assert {f.path: f.content for f in other.backups} == {
        p: c for p, c in confirmed.files.items() if c is not None
    }
    assert "sysctl -qw net.ipv4.ip_forward=1\n" in revert_script(other.revert)


def test_drift_shows_a_forward_changed_by_hand_and_forwarding_off() -> None:
    desired = spec(NAT)
    state = running(desired)
    edited = (state.table or "").replace("dport 8080", "dport 8081")
    drifted = NodeState(
        files=state.files, table=edited, sysctls={"net.ipv4.ip_forward": "0"}, enabled=True
    )
    observed, unknown = observed_rules(drifted, desired)
    assert unknown == []
    assert observed.forwards[0].port == 8081
    assert not observed.ip_forward.ipv4
    found = {m.path for m in verify(desired, drifted)}
    assert found == {"table inet pvenet", "net.ipv4.ip_forward"}


RULE_SETS = st.fixed_dictionaries(
    {
        "masquerade": st.lists(
            st.sampled_from(
                [
                    {"source": "10.10.10.0/24", "interface": "vmbr0"},
                    {"source": "fd00:10::/64", "interface": "vmbr0", "comment": "lab v6"},
                    {"source": "192.168.50.0/24", "interface": "vmbr1"},
                ]
            ),
            unique_by=lambda m: m["source"],
        ),
        "forwards": st.lists(
            st.builds(
                lambda port, host, to_port, iface: {
                    "protocol": "tcp",
                    "port": port,
                    "to": f"10.10.10.{host}",
                    "to_port": to_port,
                    "interface": iface,
                },
                st.integers(1024, 65535),
                st.integers(2, 254),
                st.none() | st.integers(1, 65535),
                st.none() | st.just("vmbr0"),
            ),
            max_size=3,
            unique_by=lambda f: f["port"],
        ),
        "ip_forward": st.fixed_dictionaries({"ipv4": st.booleans(), "ipv6": st.booleans()}),
        "proxy_arp": st.lists(st.sampled_from(["vmbr0", "vmbr1", "vmbr0.20"]), unique=True),
        "routes": st.lists(
            st.builds(
                lambda host, iface: {"address": f"203.0.113.{host}", "interface": iface},
                st.integers(1, 254),
                st.sampled_from(["vmbr0", "vmbr1"]),
            ),
            max_size=3,
            unique_by=lambda r: r["address"],
        ),
    }
)


@settings(max_examples=60, deadline=None)
@given(RULE_SETS)
def test_a_node_that_runs_the_rules_needs_no_change(raw: dict[str, Any]) -> None:
    desired = spec(raw)
    state = running(desired)
    assert plan_change(desired, state, UNIT_NAME).empty
    assert verify(desired, state) == []
    observed, unknown = observed_rules(state, desired)
    assert unknown == []
    assert observed == desired


@settings(max_examples=40, deadline=None)
@given(RULE_SETS, RULE_SETS)
def test_every_change_can_be_put_back(old_raw: dict[str, Any], new_raw: dict[str, Any]) -> None:
    """The revert script restores every file the confirmed state had and removes the rest."""
    old, new = spec(old_raw), spec(new_raw)
    change = plan_change(new, running(old), UNIT_NAME)
    plan = change.revert
    restored = {path for path, _mode in plan.restore}
    assert restored | set(plan.remove) == set(MANAGED_FILES)
    assert restored == {p for p, c in running(old).files.items() if c is not None}
    for key in wanted_sysctls(new):
        assert key in dict(plan.sysctls)
