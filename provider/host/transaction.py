"""One change of a node's host rules over SSH, guarded by the confirm-or-revert timer.

``HostTransaction.apply(spec)`` follows ``docs/host-rules.md``:

1. holding the node's change lock (``provider.locks``), read what the node holds
   (:class:`provider.host.plan.NodeState`), refuse rules for interfaces it lacks, and plan
   the change; a node that runs the rules already is left alone (a previous run's armed
   timer is confirmed, as in 5);
2. stage the new rules file and ``nft -c -f`` it: refused, nothing is installed and no timer
   is armed, and the error shows nft's own words;
3. back up the confirmed files, write ``revert.sh`` and arm the timer (``systemd-run
   --on-active``); then stop a previous run's timer, whose way back the new script keeps;
4. install and remove files, enable or disable the unit, load the table, set sysctls, run
   ``host.sh``, and read the node back: it must run the rules;
5. reach the node again over a **new** SSH connection and the API (``GET /version``), and
   only then stop the timer, still holding the lock (a delete then removes ``/etc/pvenet``).

Anything failing after the timer is armed leaves the node to put itself back: pvenet says
so, waits for the timer, and reports what the node runs then, as read back. A rerun after a
lost answer converges: writes are idempotent, and an armed timer left by a previous run is
recognised from its revert script.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from provider.errors import HostCallFailed, NodeError, unprefixed
from provider.host.confirm import arm, cat, confirm, unit_id, wait_for_revert
from provider.host.model import EMPTY, HostRulesSpec
from provider.host.plan import (
    Change,
    NodeState,
    missing_interfaces,
    plan_change,
    routes_to_read,
    sysctl_keys,
    verify,
)
from provider.host.render import (
    MANAGED_FILES,
    PVENET_DIR,
    REVERT_SCRIPT,
    RULES,
    SCRIPT_MODE,
    SERVICE,
    STAGED_RULES,
    TABLE,
    backup_path,
    parse_routes,
    revert_script,
    revert_unit,
    write_command,
)
from provider.host.ssh import Connection
from provider.locks import node_change

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome:
    """What a change did: whether it changed anything, and the node as read back after."""

    changed: bool
    after: NodeState


def read_state(conn: Connection, spec: HostRulesSpec) -> NodeState:
    """What ``conn``'s node holds of host rules, with the sysctls and routes ``spec`` and the
    files on the node touch."""
    found = {path: cat(conn, path) for path in MANAGED_FILES}
    listing = conn.run(["nft", "list", "table", *TABLE.split()])
    enabled = conn.run(["systemctl", "is-enabled", SERVICE]).ok
    script = cat(conn, REVERT_SCRIPT)
    unit = revert_unit(script) if script else None
    armed = unit is not None and conn.run(["systemctl", "is-active", f"{unit}.timer"]).ok
    backup = {path: cat(conn, backup_path(path)) for path in MANAGED_FILES} if armed else {}
    sysctls = {}
    for key in sysctl_keys(spec, found, backup):
        result = conn.run(["sysctl", "-n", key])
        if result.ok:
            sysctls[key] = result.text.strip()
    routes = {}
    for route in routes_to_read(spec, found, backup):
        result = conn.run(["ip", "-j", "route", "show", route.address])
        routes[route] = result.ok and parse_routes(result.text, route)
    return NodeState(
        files=found,
        table=listing.text if listing.ok else None,
        sysctls=sysctls,
        routes=routes,
        enabled=enabled,
        armed=armed,
        backup=backup,
        revert=script if armed else None,
    )


class HostTransaction:
    """Changes one node's host rules, or leaves the node running what it ran."""

    def __init__(
        self,
        node: str,
        endpoint: str,
        connect: Callable[[], Connection],
        reach_api: Callable[[], None],
        confirm_timeout: float,
    ) -> None:
        self.node = node
        self.endpoint = endpoint
        self.connect = connect
        self.reach_api = reach_api
        self.confirm_timeout = confirm_timeout

    def read(self, spec: HostRulesSpec) -> NodeState:
        """What the node holds now (one connection, reads only)."""
        with self.connect() as conn:
            return read_state(conn, spec)

    def apply(self, spec: HostRulesSpec) -> Outcome:
        """Make the node run ``spec`` (``EMPTY``: remove everything pvenet put there)."""
        with node_change(self.endpoint, self.node), self.connect() as conn:
            before = self._before_any_change("reading the node", lambda: read_state(conn, spec))
            if missing := missing_interfaces(spec, before):
                raise NodeError(
                    f"{self.node}: the node has no interface {', '.join(missing)}, which "
                    "proxy_arp or routes name; create it first (a NodeInterfaces set or a "
                    "component the rules depend on) or fix the name. No rule was installed"
                )
            unit = unit_id()
            change = plan_change(spec, before, unit)
            if change.empty:
                if before.armed and before.revert:
                    self._confirm(
                        revert_unit(before.revert) or unit,
                        "a previous run's change",
                        before,
                        before.files,
                    )
                if spec == EMPTY:
                    self._remove_directory(conn)
                return Outcome(False, before)
            self._before_any_change("checking the rules", lambda: self._check(conn, spec, change))
            self._before_any_change("arming the timer", lambda: self._arm(conn, change, before))
            try:
                self._install(conn, change)
                after = read_state(conn, spec)
            except HostCallFailed as error:
                raise self._reverted(
                    unit,
                    f"installing the rules failed ({unprefixed(error.message, self.node)})",
                    before,
                ) from None
            mismatches = verify(spec, after)
            if mismatches:
                shown = "; ".join(str(m) for m in mismatches)
                raise self._reverted(unit, f"the node does not run the rules: {shown}", before)
            self._confirm(unit, "the change", before, after.files)
            if spec == EMPTY:
                self._remove_directory(conn)
        return Outcome(True, after)

    # -- before the timer ----------------------------------------------------------------------

    def _before_any_change(self, what: str, step: Callable[[], T]) -> T:
        """A step before the timer is armed: a failure says the node runs what it ran."""
        try:
            return step()
        except HostCallFailed as error:
            raise NodeError(
                f"{self.node}: {what} failed ({unprefixed(error.message, self.node)}); "
                "no rule was installed, the node runs what it ran before"
            ) from None

    def _check(self, conn: Connection, spec: HostRulesSpec, change: Change) -> None:
        """Stage the rules file and have nft check it; NodeError with nft's words if refused."""
        staged = next((f for f in change.writes if f.path == RULES), None)
        if staged is None or spec == EMPTY:
            return
        conn.check(write_command(STAGED_RULES, staged.mode), staged.content.encode())
        result = conn.run(["nft", "-c", "-f", STAGED_RULES])
        if not result.ok:
            raise NodeError(
                f"{self.node}: nft refuses the rules ({result.error or 'no reason given'}); "
                "no rule was installed and no timer armed, the node runs what it ran before"
            )

    def _arm(self, conn: Connection, change: Change, before: NodeState) -> None:
        """Back up the confirmed files, write the revert script, arm its timer; then stop a
        previous run's timer (the new script keeps its way back)."""
        for file in change.backups:
            conn.check(write_command(backup_path(file.path), file.mode), file.content.encode())
        conn.check(write_command(REVERT_SCRIPT, SCRIPT_MODE), revert_script(change.revert).encode())
        arm(conn, change.revert.unit, self.confirm_timeout, REVERT_SCRIPT)
        previous = revert_unit(before.revert) if before.armed and before.revert else None
        if previous and previous != change.revert.unit:
            conn.check(["systemctl", "stop", f"{previous}.timer"])

    # -- after the timer -----------------------------------------------------------------------

    def _install(self, conn: Connection, change: Change) -> None:
        """The change itself, one contract command at a time."""
        for argv, stdin in change.commands():
            conn.check(argv, stdin)

    def _confirm(
        self, unit: str, what: str, before: NodeState, wanted: Mapping[str, str | None]
    ) -> None:
        """Reach the node again over a new connection and the API, then stop the timer
        (``wanted``: the files the change leaves)."""
        confirm(
            self.node,
            unit,
            self.connect,
            self.reach_api,
            self.confirm_timeout,
            what,
            _expected(before),
            {path: wanted.get(path) for path in MANAGED_FILES},
        )

    def _reverted(self, unit: str, reason: str, before: NodeState) -> NodeError:
        """The node left to put itself back: the error saying what it holds then."""
        return wait_for_revert(
            self.node, unit, self.confirm_timeout, self.connect, _expected(before), reason
        )

    def _remove_directory(self, conn: Connection) -> None:
        """The last of a delete: pvenet's directory, with its backups and revert script."""
        conn.check(["rm", "-rf", PVENET_DIR])


def _expected(before: NodeState) -> dict[str, str | None]:
    """The files the revert script puts back, as the node held them when last confirmed."""
    confirmed = before.confirmed()
    return {path: confirmed.get(path) for path in MANAGED_FILES}
