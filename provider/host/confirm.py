"""The confirm-or-revert timer on a node, for host rules and node network changes.

Like ``netplan try``: before a change that could cut pvenet off, the node gets a script that
puts back what it ran and a transient timer (``systemd-run --on-active``) that runs it; only
after pvenet reached the node again, over a **new** SSH connection and the API, does it stop
the timer. If it cannot, the node puts itself back; pvenet waits that long and says what it
reads back.

``InterfacesGuard`` is the hook the node network transaction (``provider.node.transaction``)
calls around its apply when SSH is configured: ``/etc/network/interfaces`` backed up,
``revert-interfaces.sh`` restores it and runs ``ifreload -a`` (``docs/host-rules.md``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from provider.api.session import ApiSession, Call
from provider.api.settings import Settings
from provider.errors import ApiCallFailed, HostCallFailed, NodeError, unprefixed
from provider.host.render import (
    BACKUP_DIR,
    FILE_MODE,
    INTERFACES,
    REVERT_UNIT_PREFIX,
    RevertPlan,
    backup_path,
    revert_script,
    write_command,
)
from provider.host.settings import SshSettings
from provider.host.ssh import Connection, connect
from provider.node.client import Client

REVERT_GRACE_S = 2.0
"""How long after the timer's deadline pvenet waits, at least, before it reads what the node
reverted to (plus a tenth of the timeout): the revert scripts reload rules, sysctls or the
network in seconds."""
REVERT_INTERFACES: str = BACKUP_DIR + "/revert-interfaces.sh"

Connect = Callable[[], Connection]


class Reach:
    """How pvenet reaches one node: new SSH connections, and the API's ``GET /version``."""

    def __init__(self, settings: Settings, ssh: SshSettings, node: str) -> None:
        self.settings = settings
        self.ssh = ssh
        self.node = node
        self._host: str | None = None

    def connect(self) -> Connection:
        """A new verified SSH connection: to the node's ``addresses`` entry, else to its
        address in ``/cluster/status`` (asked once), else to the endpoint's host."""
        if self._host is None:
            self._host = self.settings.host
            if not self.ssh.address(self.node):
                self._host = Client(self.settings, self.node).cluster_node_ip() or self._host
        return connect(self.ssh, self.node, self._host)

    def api(self) -> None:
        """``GET /version`` over a new session; NodeError when the API does not answer."""
        session = ApiSession(self.settings)
        try:
            session.call("GET", "/version", kind=Call.READ)
        except ApiCallFailed as error:
            raise NodeError(f"{self.node}: the API does not answer ({error.describe()})") from None
        finally:
            session.close()


def unit_id() -> str:
    """A timer unit name no earlier change used (base 36 of the clock in milliseconds)."""
    number, digits = int(time.time() * 1000), ""
    while number:
        number, digit = divmod(number, 36)
        digits = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + digits
    return REVERT_UNIT_PREFIX + digits


def arm(conn: Connection, unit: str, seconds: float, script: str) -> None:
    """Arm the timer ``unit`` that runs ``script`` after ``seconds``."""
    conn.check(["systemd-run", f"--unit={unit}", f"--on-active={seconds:g}", "/bin/sh", script])


def cat(conn: Connection, path: str) -> str | None:
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


def confirm(
    node: str,
    unit: str,
    connect: Connect,
    reach_api: Callable[[], None],
    seconds: float,
    what: str,
    expected: Mapping[str, str | None],
    wanted: Mapping[str, str | None] | None = None,
) -> None:
    """Reach the node over the API and a new SSH connection, then stop the timer; when it
    cannot, NodeError after waiting for the node to put itself back (``expected``: the
    files the revert script restores).

    A stop whose answer was lost may have run: when a new connection then finds the timer
    gone and the files as the change wrote them (``wanted``), the change is confirmed.
    """
    try:
        reach_api()
        with connect() as conn:
            conn.check(["systemctl", "stop", f"{unit}.timer"])
    except (HostCallFailed, NodeError) as error:
        if wanted is not None and _stopped_anyway(connect, unit, wanted):
            return
        detail = error.message if isinstance(error, HostCallFailed) else str(error)
        raise wait_for_revert(
            node,
            unit,
            seconds,
            connect,
            expected,
            f"{what} was made, but pvenet could not reach the node again to confirm it "
            f"({unprefixed(detail, node)})",
        ) from None


def _stopped_anyway(connect: Connect, unit: str, wanted: Mapping[str, str | None]) -> bool:
    """Whether the timer is gone and the node holds the change's files (long before the timer
    could have fired: the stop ran)."""
    try:
        with connect() as conn:
            if conn.run(["systemctl", "is-active", f"{unit}.timer"]).ok:
                return False
            return {path: cat(conn, path) for path in wanted} == dict(wanted)
    except HostCallFailed:
        return False


def wait_for_revert(
    node: str,
    unit: str,
    seconds: float,
    connect: Connect,
    expected: Mapping[str, str | None],
    reason: str,
) -> NodeError:
    """Wait for the timer to put the node back; the error saying what the node holds then,
    as read back (``expected``: each file the revert script restores, None: removes)."""
    waited = seconds + REVERT_GRACE_S + seconds / 10
    time.sleep(waited)
    try:
        with connect() as conn:
            armed = conn.run(["systemctl", "is-active", f"{unit}.timer"]).ok
            now = {path: cat(conn, path) for path in expected}
    except HostCallFailed as error:
        return NodeError(
            f"{node}: {reason}. The node was to put back what it ran {seconds:g} s after "
            f"the change (timer {unit}); {waited:g} s later pvenet cannot reach it "
            f"({unprefixed(error.message, node)}), so it cannot tell what the node "
            "runs. Check the node's console, then run `pulumi up` again"
        )
    if armed:
        return NodeError(
            f"{node}: {reason}. The timer {unit} that puts back what the node ran is still "
            f"armed {waited:g} s later; pvenet leaves it to run. Run `pulumi up` again after it"
        )
    differ = [path for path in expected if now.get(path) != expected[path]]
    if not differ:
        return NodeError(
            f"{node}: {reason}. The node put back what it ran (timer {unit}, after "
            f"{seconds:g} s): {', '.join(expected)} read back as before this change. Fix "
            "the cause and run `pulumi up` again"
        )
    return NodeError(
        f"{node}: {reason}. The timer {unit} has run, but {', '.join(differ)} read back "
        "otherwise than before this change: run `pulumi refresh` to see what the node runs, "
        "then `pulumi up` again"
    )


class InterfacesGuard:
    """Confirm-or-revert around one node network apply (``/etc/network/interfaces``)."""

    def __init__(
        self, node: str, connect: Connect, reach_api: Callable[[], None], seconds: float
    ) -> None:
        self.node = node
        self.connect = connect
        self.reach_api = reach_api
        self.seconds = seconds
        self.unit: str | None = None
        self.before: str | None = None

    def arm(self) -> None:
        """Back up ``/etc/network/interfaces``, write the revert script, arm the timer.
        NodeError (nothing applied yet) when the node cannot be reached over SSH."""
        unit = unit_id()
        try:
            with self.connect() as conn:
                before = cat(conn, INTERFACES)
                if before is None:
                    raise NodeError(f"{self.node}: {INTERFACES} does not exist on the node")
                conn.check(write_command(backup_path(INTERFACES), FILE_MODE), before.encode())
                plan = RevertPlan(unit=unit, restore=((INTERFACES, FILE_MODE),), interfaces=True)
                conn.check(write_command(REVERT_INTERFACES, "0755"), revert_script(plan).encode())
                arm(conn, unit, self.seconds, REVERT_INTERFACES)
        except HostCallFailed as error:
            raise NodeError(
                f"{self.node}: arming the confirm-or-revert timer over SSH failed "
                f"({unprefixed(error.message, self.node)}); nothing was applied"
            ) from None
        self.unit, self.before = unit, before

    def confirm(self) -> None:
        """After the apply: reach the node again, then stop the timer (NodeError after the
        node put its network back when it cannot be reached)."""
        if self.unit is None:
            return
        confirm(
            self.node,
            self.unit,
            self.connect,
            self.reach_api,
            self.seconds,
            "the network change",
            {INTERFACES: self.before},
        )
