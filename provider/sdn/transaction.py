"""One change to SDN networks as one transaction: refuse, lock, write, apply once, verify.

A transaction covers one or more networks (a zone and its vnet each, with the vnet's
subnets): every network of a stack can change with one ``PUT /cluster/sdn``, one reload of
each node.

``SdnTransaction.converge`` is the only way pvenet changes the SDN config. It
gives the guarantees ``provider.node.transaction`` gives for a node's interfaces:

1. One SDN change at a time per cluster from this machine, holding every
   node's change lock too (``provider.locks``: an SDN apply reloads every
   node, so it must not run while pvenet stages a node change).
2. Refuse before any write when applying would apply more than this change:
   pending SDN changes that are not ours, or a node with staged
   ``/etc/network/interfaces.new`` changes (the SDN apply reloads every node,
   which commits them). ``prepare`` may refuse too (an id already taken).
3. Take the SDN lock when the server offers it (PVE 9), send its token with
   every write, apply with ``release-lock=1``. If a write fails, roll the
   pending config back (``POST /cluster/sdn/rollback``): the cluster is as
   before.
4. Apply once (``PUT /cluster/sdn``), wait for the ``reloadnetworkall`` task,
   read the running config back and check that each node lists the vnet
   where it should run (and not elsewhere).
5. If the apply or the verification failed, the new config is already
   running: write the previous objects back and apply again, then report
   what happened. It never returns success for a change that is not live.

Lost answers: a write that got no answer may land later, so before pending changes are
rolled back pvenet waits as long again as a request may take, and rolls back again what
lands late; a lock request that got no answer may have locked the config for pvenet
(``SdnClient.lock`` takes it back); an apply that got no answer has run if nothing is
pending any more; a task or read-back that cannot be read is reported as such.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from provider.api.session import passing
from provider.errors import ApiCallFailed, ForeignPendingChanges, NodeError, cannot_tell
from provider.locks import node_change, sdn_change
from provider.sdn.client import SdnClient, SdnObjects, describe_sdn
from provider.sdn.plan import Mismatch, SdnState, SdnStep, plan, step_done, verify

T = TypeVar("T")

INVALID_PENDING = "configuration has pending changes"  # POST /cluster/sdn/lock's refusal
APPLY_ATTEMPTS = 2  # a PUT whose connection dropped before the server ran it is sent once more
CLEANUP_ROUNDS = 3

Unit = tuple[str, str]
"""One network: its zone id and its vnet id."""
Objects = dict[Unit, SdnObjects]
States = dict[Unit, SdnState]
Write = tuple[Unit, SdnStep]


def unit_name(unit: Unit) -> str:
    """``zone Z / vnet V``: how messages name one network."""
    return f"zone {unit[0]} / vnet {unit[1]}"


@dataclass(frozen=True)
class SdnOutcome:
    """What a converge did: the writes (empty when nothing changed) and where the vnets run."""

    steps: list[Write]
    running: States
    active_nodes: dict[Unit, list[str]]


class _Lock:
    """The SDN lock token this transaction holds, if any (None: not held or not offered)."""

    def __init__(self) -> None:
        self.token: str | None = None
        self.held = False


def ordered(per_unit: Mapping[Unit, list[SdnStep]]) -> list[Write]:
    """All networks' writes: every delete first (one network may free an id or a subnet
    another takes), then the rest, each network's in its own order."""
    writes = [(unit, step) for unit in sorted(per_unit) for step in per_unit[unit]]
    return [w for w in writes if w[1].action == "delete"] + [
        w for w in writes if w[1].action != "delete"
    ]


class SdnTransaction:
    """Converges SDN networks (zone, vnet, subnets each) to targets, or leaves them as they were."""

    def __init__(self, client: SdnClient, units: Iterable[Unit]) -> None:
        self.client = client
        self.units = sorted(set(units))
        self.name = "; ".join(unit_name(u) for u in self.units)
        self._applied_at: int | None = None  # start time of this transaction's apply task

    # -- the transaction -------------------------------------------------------------------------

    def converge(self, prepare: Callable[[Objects, list[str]], States]) -> SdnOutcome:
        """Make the networks equal the states ``prepare`` returns, with at most one apply.

        ``prepare`` sees each network's objects as read (with nothing pending) and the
        cluster's node names, and returns each network's target (``SdnState()`` = remove
        it); it may raise to refuse the change before any write.
        """
        endpoint = self.client.settings.endpoint
        with sdn_change(endpoint):
            cluster = self._before_writes("reading the cluster's nodes", self.client.nodes)
            with node_change(endpoint, *cluster):

                def read() -> tuple[Objects, States]:
                    self._refuse_staged_node_changes(cluster)
                    self._refuse_foreign_sdn_changes()
                    before = {unit: self.client.objects(*unit) for unit in self.units}
                    return before, prepare(before, cluster)

                objects, target = self._before_writes("reading the SDN config", read)
                before = {unit: found.state for unit, found in objects.items()}
                steps = ordered(
                    {unit: plan(*unit, before[unit], target[unit]) for unit in self.units}
                )
                if not steps:
                    mismatches = self._verify_applied(target, cluster)
                    if mismatches:
                        raise NodeError(
                            f"{self.name}: the pending config is as desired but the cluster "
                            "does not run it: " + "; ".join(str(m) for m in mismatches)
                        )
                    return self._outcome([], target, cluster)
                lock = self._before_writes("taking the SDN lock", self._lock)
                try:
                    self._write(steps, lock, before)
                    self._check_pending(lock, before)
                    failure = self._apply(lock, before)
                finally:
                    self._release_if_held(lock)
                mismatches = [] if failure else self._verify_applied(target, cluster)
                if failure is None and not mismatches:
                    return self._outcome(steps, target, cluster)
                reason = failure or "the cluster does not run the change: " + "; ".join(
                    str(m) for m in mismatches
                )
                raise self._restore(before, cluster, f"{self.name}: {reason}")

    def _before_writes(self, what: str, call: Callable[[], T]) -> T:
        """Run a step that precedes every write; a failed API call says nothing was changed."""
        try:
            return call()
        except ApiCallFailed as error:
            if INVALID_PENDING in describe_sdn(error):
                raise ForeignPendingChanges(
                    f"{self.name}: the SDN config got pending changes from another client just "
                    "now; review them in the GUI (Datacenter > SDN) and run again"
                ) from None
            raise NodeError(
                f"{self.name}: {what} failed: {describe_sdn(error)}; nothing was changed"
            ) from None

    def _verify_applied(self, target: States, cluster: list[str]) -> list[Mismatch]:
        """``_verify`` after an apply; a failed read cannot tell, and says so."""
        try:
            return self._verify(target, cluster)
        except ApiCallFailed as error:
            raise self._cannot_tell(
                f"reading the cluster back failed ({describe_sdn(error)})"
            ) from None

    def _cannot_tell(self, what: str) -> NodeError:
        return cannot_tell(self.name, what, "cluster")

    def _outcome(self, steps: list[Write], target: States, cluster: list[str]) -> SdnOutcome:
        active = {unit: sorted(_expected_nodes(target[unit], cluster)) for unit in self.units}
        return SdnOutcome(steps, target, active)

    # -- refusals --------------------------------------------------------------------------------

    def _refuse_staged_node_changes(self, cluster: list[str]) -> None:
        for node in cluster:
            changes = self.client.node_view(node).changes
            if changes:
                raise ForeignPendingChanges(
                    f"{node}: the node has staged network changes (interfaces.new) that are not "
                    f"part of {self.name}; an SDN apply reloads every node's network and would "
                    "apply them too. Review them, then apply or revert them on the node (GUI: "
                    f"{node} > System > Network > Apply Configuration / Revert) and run again:\n"
                    + changes
                )

    def _refuse_foreign_sdn_changes(self) -> None:
        pending = self.client.pending_changes()
        if pending:
            raise ForeignPendingChanges(
                f"{self.name}: the cluster's SDN config has pending changes that pvenet did not "
                f"make: {', '.join(pending)}. Applying now would apply them too. Review them in "
                "the GUI (Datacenter > SDN), apply or roll them back, and run again"
            )

    # -- lock, writes, apply ---------------------------------------------------------------------

    def _lock(self) -> _Lock:
        lock = _Lock()
        lock.token = self.client.lock()
        lock.held = lock.token is not None
        return lock

    def _release_if_held(self, lock: _Lock) -> None:
        """Best effort after an unexpected error: give the lock back with the pending config."""
        if not lock.held or lock.token is None:
            return
        try:
            self.client.rollback(lock.token)
        except ApiCallFailed:
            return
        lock.held = False

    def _write(self, steps: list[Write], lock: _Lock, before: States) -> None:
        done = 0
        try:
            for unit, step in steps:
                self._write_one(unit, step, lock)
                done += 1
        except ApiCallFailed as error:
            raise self._roll_back_pending(
                lock,
                before,
                f"{unit_name(steps[done][0])}: SDN write {done + 1} of {len(steps)} "
                f"({steps[done][1]}) failed: "
                f"{describe_sdn(error)}",
                unanswered=not error.answered,
            ) from None

    def _write_one(self, unit: Unit, step: SdnStep, lock: _Lock) -> None:
        """One write; after a failure that may have been passing (no answer, a gateway's or a
        bare 500) it is sent once more, unless the pending config shows it was done.

        Rolling back is the last resort here: Proxmox rolls the SDN config back but not its
        IPAM, so a subnet deleted and then rolled back cannot be deleted again.
        """
        try:
            self.client.write(*unit, step, lock.token)
        except ApiCallFailed as error:
            if not passing(error):
                raise
            if not error.answered:
                time.sleep(self.client.settings.timeout)  # let it land if it is still coming
            if step_done(step, self.client.objects(*unit).state):
                return
            self.client.write(*unit, step, lock.token)

    def _check_pending(self, lock: _Lock, before: States) -> None:
        """Apply only our change: another client's pending objects (possible where the server
        has no lock) are not applied along with it."""
        ours = {
            prefix
            for zone, vnet in self.units
            for prefix in (f"zone {zone} ", f"vnet {vnet} ", f"subnet {zone}-")
        }
        try:
            pending = self.client.pending_changes()
        except ApiCallFailed as error:
            raise self._roll_back_pending(
                lock,
                before,
                f"{self.name}: reading the pending SDN config failed: {describe_sdn(error)}",
            ) from None
        foreign = [item for item in pending if not any(item.startswith(o) for o in ours)]
        if foreign:
            raise self._roll_back_pending(
                lock,
                before,
                f"{self.name}: while pvenet wrote its change, another client made pending SDN "
                f"changes ({', '.join(foreign)}); applying now would apply them too",
            )

    def _apply(self, lock: _Lock, before: States) -> str | None:
        """Apply once and wait; the failure, or None when the task ended OK."""
        for attempt in range(APPLY_ATTEMPTS):
            try:
                upid = self.client.apply(lock.token)
            except ApiCallFailed as error:
                try:
                    still_pending = self.client.pending_changes()
                except ApiCallFailed as read_error:
                    raise self._cannot_tell(
                        f"applying got no answer ({describe_sdn(error)}) and the SDN config "
                        f"cannot be read ({describe_sdn(read_error)})"
                    ) from None
                if still_pending:  # the commit did not run
                    if attempt < APPLY_ATTEMPTS - 1:
                        continue
                    raise self._roll_back_pending(
                        lock,
                        before,
                        f"{self.name}: applying the SDN config failed: {describe_sdn(error)}",
                    ) from None
                lock.held = False  # committed (and released) but the answer was lost
                return None
            lock.held = False
            self._applied_at = upid_starttime(upid)
            try:
                result = self.client.wait(upid)
            except (ApiCallFailed, NodeError) as error:
                detail = describe_sdn(error) if isinstance(error, ApiCallFailed) else str(error)
                raise self._cannot_tell(
                    f"the SDN apply task {upid} cannot be followed ({detail})"
                ) from None
            return result.failure("the SDN apply task")
        return None

    def _roll_back_pending(
        self, lock: _Lock, before: States, what: str, unanswered: bool = False
    ) -> NodeError:
        """Undo written but unapplied changes; the error that says what happened.

        After a write that got no answer, wait for it to land first, and roll back again
        what lands late: nothing of this change may stay pending.
        """
        try:
            if unanswered:
                time.sleep(self.client.settings.timeout)
            left: list[str] = []
            for _round in range(CLEANUP_ROUNDS):
                self._undo_pending(lock, before)
                left = self.client.pending_changes()
                if not left:
                    break
                time.sleep(self.client.settings.timeout)
        except ApiCallFailed as error:
            return NodeError(
                f"{what}; rolling back the pending SDN changes failed too "
                f"({describe_sdn(error)}). The SDN config has pending changes"
                + (f" and is locked (token {lock.token})" if lock.held else "")
                + ": roll them back in the GUI (Datacenter > SDN) or with `pvesh create "
                "/cluster/sdn/rollback"
                + (f" --lock-token {lock.token} --release-lock 1" if lock.held else "")
                + "` before running again"
            )
        if left:
            return NodeError(
                f"{what}; pvenet rolled back its changes but the SDN config still has pending "
                f"changes: {', '.join(left)}; review them in the GUI (Datacenter > SDN)"
            )
        return NodeError(
            f"{what}; pvenet rolled back the pending SDN changes, nothing was applied: the SDN "
            "config is as before"
        )

    def _undo_pending(self, lock: _Lock, before: States) -> None:
        """Roll the pending config back (releasing the lock), or without a lock (before PVE
        9) write the previous objects back."""
        if lock.token is not None:
            self.client.rollback(lock.token if lock.held else None)
            lock.held = False
            return
        for unit, step in self._back_to(before):
            self.client.write(*unit, step, None)

    def _back_to(self, before: States) -> list[Write]:
        """The writes that take the pending config of every network back to ``before``."""
        return ordered(
            {
                unit: plan(*unit, self.client.objects(*unit).state, before[unit])
                for unit in self.units
            }
        )

    # -- verification and restore ----------------------------------------------------------------

    def _verify(self, target: States, cluster: list[str]) -> list[Mismatch]:
        """Differences between the targets and what runs: the running config and each node."""
        found: list[Mismatch] = []
        for unit in self.units:
            running = self.client.objects(*unit, running=True).state
            found.extend(verify(*unit, target[unit], running))
        for node in cluster:
            if self._applied_at is not None:
                found.extend(self._reload_mismatches(node, self._applied_at))
            listed = self.client.vnets_listed(node)
            for zone, vnet in self.units:
                expected = node in _expected_nodes(target[(zone, vnet)], cluster)
                if (vnet in listed) != expected:
                    found.append(
                        Mismatch(
                            f"node {node}.vnets.{vnet}",
                            "listed" if expected else "absent",
                            "listed" if vnet in listed else "absent",
                        )
                    )
        return found

    def _reload_mismatches(self, node: str, since: int) -> list[Mismatch]:
        """The node's reload after our apply, unless it ended OK."""
        reloads = self.client.reloads_since(node, since)
        status = str(reloads[0].get("status", "running")) if reloads else "no reload task"
        return [] if status == "OK" else [Mismatch(f"node {node}.reload", "OK", status)]

    def _restore(self, before: States, cluster: list[str], reason: str) -> NodeError:
        """Write the previous objects back and apply them again; the error to raise."""
        lock = _Lock()
        try:
            steps = self._back_to(before)
            failure = None
            if steps:
                lock = self._lock()
                try:
                    for unit, step in steps:
                        self.client.write(*unit, step, lock.token)
                    upid = self.client.apply(lock.token)
                    lock.held = False
                    self._applied_at = upid_starttime(upid)
                finally:
                    self._release_if_held(lock)
                result = self.client.wait(upid)
                failure = None if result.ok else f"the apply task failed: {result.exitstatus}"
            mismatches = [] if failure else self._verify(before, cluster)
        except (ApiCallFailed, NodeError) as error:
            detail = describe_sdn(error) if isinstance(error, ApiCallFailed) else str(error)
            return NodeError(
                f"{reason}. Restoring the previous SDN configuration failed too ({detail}); "
                "the cluster runs the new, failed SDN configuration: check Datacenter > SDN "
                "and the nodes' network (`ifreload -a`)"
            )
        if failure or mismatches:
            what = failure or "; ".join(str(m) for m in mismatches)
            return NodeError(
                f"{reason}. pvenet wrote the previous SDN configuration back and applied it, "
                f"but that did not take either ({what}): check Datacenter > SDN and the nodes' "
                "network (`ifreload -a`)"
            )
        return NodeError(
            f"{reason}. pvenet restored the previous SDN configuration and applied it; the "
            "cluster is as before"
        )


def upid_starttime(upid: str) -> int | None:
    """The start time (epoch seconds) a UPID carries, or None for something else."""
    fields = upid.split(":")
    try:
        return int(fields[4], 16) if len(fields) > 5 and fields[0] == "UPID" else None
    except ValueError:
        return None


def _expected_nodes(target: SdnState, cluster: list[str]) -> set[str]:
    """The nodes a vnet of this target runs on: the zone's nodes, or all; none when absent."""
    if target.vnet is None or target.zone is None:
        return set()
    if target.zone.nodes is None:
        return set(cluster)
    return set(target.zone.nodes) & set(cluster)
