"""One change of a node's host rules over SSH, guarded by the confirm-or-revert timer.

``HostTransaction.apply(spec)`` follows ``docs/host-rules.md``:

1. holding the node's change lock (``provider.locks``), read what the node holds
   (:class:`provider.host.plan.NodeState`) and plan the change; a node that runs the rules
   already is left alone (a previous run's armed timer is confirmed, after the checks of 5);
2. stage the new rules file and ``nft -c -f`` it: refused, nothing is installed and no timer
   is armed, and the error shows nft's own words;
3. back up the confirmed files, write ``revert.sh`` and arm the timer (``systemd-run
   --on-active``); then stop a previous run's timer, whose way back the new script keeps;
4. install and remove files, enable or disable the unit, load the table, set sysctls, run
   ``host.sh``, and read the node back: it must run the rules;
5. reach the node again over a **new** SSH connection and the API (``GET /version``), and
   only then stop the timer.

Anything failing after the timer is armed leaves the node to put itself back: pvenet says
so, waits for the timer, and reports what the node runs then, as read back. A rerun after a
lost answer converges: writes are idempotent, and an armed timer left by a previous run is
recognised from its revert script.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from provider.errors import HostCallFailed, NodeError
from provider.host.model import EMPTY, HostRulesSpec
from provider.host.plan import (
    Change,
    FileSet,
    NodeState,
    plan_change,
    routes_to_read,
    sysctl_keys,
    verify,
    write_command,
)
from provider.host.render import (
    MANAGED_FILES,
    PVENET_DIR,
    REVERT_SCRIPT,
    REVERT_UNIT_PREFIX,
    RULES,
    SCRIPT_MODE,
    SERVICE,
    STAGED_RULES,
    TABLE,
    backup_path,
    parse_routes,
    revert_script,
    revert_unit,
)
from provider.host.ssh import Connection
from provider.locks import node_change

T = TypeVar("T")
REVERT_GRACE_S = 10.0
"""How long after the timer's deadline pvenet waits before it reads what the node reverted
to: the revert script reloads rules and sysctls in well under a second."""


@dataclass(frozen=True)
class Outcome:
    """What a change did: whether it changed anything, and the node as read back after."""

    changed: bool
    after: NodeState


def _unit_id() -> str:
    """A timer unit name no earlier change used (base 36 of the clock in milliseconds)."""
    number, digits = int(time.time() * 1000), ""
    while number:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return REVERT_UNIT_PREFIX + digits


def read_state(conn: Connection, spec: HostRulesSpec) -> NodeState:
    """What ``conn``'s node holds of host rules, with the sysctls and routes ``spec`` and the
    files on the node touch."""
    found = {path: _cat(conn, path) for path in MANAGED_FILES}
    listing = conn.run(["nft", "list", "table", *TABLE.split()])
    enabled = conn.run(["systemctl", "is-enabled", SERVICE]).ok
    script = _cat(conn, REVERT_SCRIPT)
    unit = revert_unit(script) if script else None
    armed = unit is not None and conn.run(["systemctl", "is-active", f"{unit}.timer"]).ok
    backup = {path: _cat(conn, backup_path(path)) for path in MANAGED_FILES} if armed else {}
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


def _cat(conn: Connection, path: str) -> str | None:
    """A file's content; None when it does not exist (``cat`` exits 1 with no output)."""
    result = conn.run(["cat", path])
    if result.ok:
        return result.stdout.decode("utf-8", "replace")
    if result.status == 1 and not result.stdout:
        return None
    raise HostCallFailed(
        f"cat {path}",
        f"{conn.node}: reading {path} failed with exit status {result.status}: {result.error}",
        status=result.status,
        stderr=result.error,
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
            unit = _unit_id()
            change = plan_change(spec, before, unit)
            if change.empty:
                if before.armed and before.revert:
                    self._confirm(
                        revert_unit(before.revert) or unit,
                        "a previous run's change",
                        before.confirmed(),
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
                    unit, f"installing the rules failed: {error}", before.confirmed()
                ) from None
            mismatches = verify(spec, after)
            if mismatches:
                shown = "; ".join(str(m) for m in mismatches)
                raise self._reverted(
                    unit, f"the node does not run the rules: {shown}", before.confirmed()
                )
        self._confirm(unit, "the change", before.confirmed())
        if spec == EMPTY:
            with self.connect() as conn:
                self._remove_directory(conn)
        return Outcome(True, after)

    # -- before the timer ----------------------------------------------------------------------

    def _before_any_change(self, what: str, step: Callable[[], T]) -> T:
        """A step before the timer is armed: a failure says the node runs what it ran."""
        try:
            return step()
        except HostCallFailed as error:
            raise NodeError(
                f"{self.node}: {what} failed ({error.message.removeprefix(self.node + ': ')}); "
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
        conn.check(
            [
                "systemd-run",
                f"--unit={change.revert.unit}",
                f"--on-active={self.confirm_timeout:g}",
                "/bin/sh",
                REVERT_SCRIPT,
            ]
        )
        previous = revert_unit(before.revert) if before.armed and before.revert else None
        if previous and previous != change.revert.unit:
            conn.check(["systemctl", "stop", f"{previous}.timer"])

    # -- after the timer -----------------------------------------------------------------------

    def _install(self, conn: Connection, change: Change) -> None:
        """The change itself, one contract command at a time."""
        for argv, stdin in change.commands():
            conn.check(argv, stdin)

    def _confirm(self, unit: str, what: str, confirmed: FileSet) -> None:
        """Reach the node over a new connection and the API, then stop the timer."""
        try:
            self.reach_api()
            with self.connect() as conn:
                conn.check(["systemctl", "stop", f"{unit}.timer"])
        except (HostCallFailed, NodeError) as error:
            detail = error.message if isinstance(error, HostCallFailed) else str(error)
            raise self._reverted(
                unit,
                f"{what} was made, but pvenet could not reach the node again to confirm it "
                f"({detail.removeprefix(self.node + ': ')})",
                confirmed,
            ) from None

    def _reverted(self, unit: str, reason: str, confirmed: FileSet) -> NodeError:
        """Wait for the timer to put the node back; the error saying what the node holds then,
        as read back (``confirmed``: the files the revert script restores)."""
        waited = self.confirm_timeout + REVERT_GRACE_S
        time.sleep(waited)
        try:
            with self.connect() as conn:
                armed = conn.run(["systemctl", "is-active", f"{unit}.timer"]).ok
                now = {path: _cat(conn, path) for path in MANAGED_FILES}
        except HostCallFailed as error:
            return NodeError(
                f"{self.node}: {reason}. The node was to put its previous host rules back "
                f"{self.confirm_timeout:g} s after the change (timer {unit}); {waited:g} s "
                f"later pvenet cannot reach it ({error.message.removeprefix(self.node + ': ')})"
                ", so it cannot tell what the node runs. Check the node's console, then run "
                "`pulumi up` again"
            )
        if armed:
            return NodeError(
                f"{self.node}: {reason}. The timer {unit} that puts the previous host rules "
                f"back is still armed {waited:g} s later; pvenet leaves it to run. Run "
                "`pulumi up` again after it"
            )
        if now == dict(confirmed):
            return NodeError(
                f"{self.node}: {reason}. The node put its previous host rules back (timer "
                f"{unit}, after {self.confirm_timeout:g} s): its files read back as before "
                "this change. Fix the cause and run `pulumi up` again"
            )
        differ = ", ".join(path for path in MANAGED_FILES if now.get(path) != confirmed.get(path))
        return NodeError(
            f"{self.node}: {reason}. The timer {unit} has run, but {differ} read back "
            "otherwise than before this change: run `pulumi refresh` to see what the node "
            "runs, then `pulumi up` again"
        )

    def _remove_directory(self, conn: Connection) -> None:
        """The last of a delete: pvenet's directory, with its backups and revert script."""
        conn.check(["rm", "-rf", PVENET_DIR])
