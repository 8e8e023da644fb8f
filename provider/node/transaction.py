"""One change to a node's interfaces as one transaction: plan, stage, check, apply once, verify.

``converge`` is the only way pvenet changes a node's network:

1. holding the node's change lock (``provider.locks``), read the node; refuse if someone
   else's changes are staged (they would be applied along with ours);
2. plan the writes (``provider.node.plan``) and stage them in ``interfaces.new``; if a write
   fails, discard the staged file and read the node back: only a node read back
   unchanged is reported unchanged;
3. read the staged diff back and apply only if it is exactly ours; otherwise take our
   writes back and refuse with what someone else staged;
4. apply once (``PUT /nodes/{node}/network``) and wait for the task;
5. read back and verify; if the apply or the verification failed, stage every interface
   the change touched (bond slaves' ``auto`` included) exactly as it was, apply again,
   and report what the node runs, as read back.

Lost answers are normal on a network that is being reconfigured. A write that got no
answer may land later: before its staged file is discarded pvenet waits as long again as
a request may take, and discards again what lands late. An apply that got no answer has
run if nothing is staged any more. A task or read-back that cannot be read leaves pvenet
unable to tell, and it says so: the next run reads the node and takes a live state that
equals its target as done. It never returns success for a change that is not live.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from provider.errors import (
    ApiCallFailed,
    ForeignPendingChanges,
    NodeError,
    cannot_tell,
    unprefixed,
)
from provider.host.confirm import InterfacesGuard
from provider.locks import node_change
from provider.node.client import Client, NodeView, describe
from provider.node.model import BondSpec, Spec
from provider.node.plan import Link, PlanError, Step, plan, violations
from provider.node.verify import verify
from provider.node.wire import canonical, link_from_api, spec_from_api, to_params

UNMANAGED_WHEN_NONE = ("mtu", "comments")
VOLATILE_KEYS = ("priority", "active", "exists")
"""What the API lists beside an interface's config: its place in the file and kernel state."""
CLEANUP_ROUNDS = 3


@dataclass(frozen=True)
class Snapshot:
    """The node's interfaces: the planner's view of all of them and the specs of those modelled."""

    links: dict[str, Link]
    specs: dict[str, Spec]
    items: dict[str, dict[str, Any]]

    def config(self) -> dict[str, dict[str, Any]]:
        """Each interface's settings as the API lists them, without place or kernel state."""
        return {
            name: {k: v for k, v in item.items() if k not in VOLATILE_KEYS}
            for name, item in self.items.items()
        }


def snapshot(view: NodeView) -> Snapshot:
    """A node view in the planner's terms."""
    links = {name: link_from_api(name, item) for name, item in view.items.items()}
    specs = {}
    for name, item in view.items.items():
        spec = spec_from_api(name, item)
        if spec is not None:
            specs[name] = spec
    return Snapshot(links, specs, dict(view.items))


def resolve(
    targets: Mapping[str, Spec | None], current: Mapping[str, Spec]
) -> dict[str, Spec | None]:
    """Targets in the form the node reads back, with unmanaged (None) settings kept as they are."""
    resolved: dict[str, Spec | None] = {}
    for name, target in targets.items():
        existing = current.get(name)
        if target is None or existing is None:
            resolved[name] = None if target is None else canonical(target)
            continue
        wanted = canonical(target)
        keep = {k: getattr(existing, k) for k in UNMANAGED_WHEN_NONE if getattr(wanted, k) is None}
        resolved[name] = wanted.model_copy(update=keep)
    return resolved


def touched_by(before: Snapshot, targets: Mapping[str, Spec | None]) -> list[str]:
    """Every interface a change to ``targets`` can alter: the targets, and the NICs their
    bonds enslave now or enslaved before (Proxmox marks bond slaves ``auto``)."""
    names = set(targets)
    for name in list(names):
        for spec in (targets.get(name), before.specs.get(name)):
            if isinstance(spec, BondSpec):
                names.update(spec.slaves)
    return sorted(names)


def differing(before: Snapshot, now: Snapshot) -> list[str]:
    """The interfaces whose settings differ between two reads of the node."""
    old, new = before.config(), now.config()
    return sorted(name for name in set(old) | set(new) if old.get(name) != new.get(name))


@dataclass(frozen=True)
class Outcome:
    """What a converge did: the staged steps (empty when nothing changed) and the node after."""

    steps: list[Step]
    after: Snapshot


def foreign_changes_message(node: str, changes: str) -> str:
    """The refusal shown when someone else's changes are staged on the node."""
    return (
        f"{node}: the node has staged network changes that pvenet did not make; applying now "
        "would apply them too. Review them, then apply or revert them on the node "
        "(GUI: System > Network > Apply Configuration / Revert) and run again:\n" + changes
    )


def _listed(names: Iterable[str]) -> str:
    return ", ".join(names) or "nothing"


class Transaction:
    """Converges one node's interfaces to targets, or leaves it as it was."""

    def __init__(self, client: Client, guard: InterfacesGuard | None = None) -> None:
        self.client = client
        self.node = client.node
        self.guard = guard
        """Confirm-or-revert around the apply, when SSH is configured (None: no SSH)."""

    def read(self) -> Snapshot:
        """The node's current interfaces, refusing if foreign changes are staged."""
        view = self.client.view()
        if view.changes:
            raise ForeignPendingChanges(foreign_changes_message(self.node, view.changes))
        return snapshot(view)

    def converge(self, prepare: Callable[[Snapshot], Mapping[str, Spec | None]]) -> Outcome:
        """Make the node's interfaces equal the targets ``prepare`` returns, with one apply.

        ``prepare`` sees the node as read under the node's change lock and returns the
        exact targets (None = absent; see ``resolve`` for user input); it may raise to
        refuse the change before any write.
        """
        with node_change(self.client.settings.endpoint, self.node):
            before = self._read_or_explain("reading the node", self.read)
            resolved = {
                name: None if target is None else canonical(target)
                for name, target in prepare(before).items()
            }
            try:
                steps = plan(before.links, before.specs, resolved)
            except PlanError as error:
                raise NodeError(f"{self.node}: {error}") from None
            if not steps:
                return Outcome([], before)
            touched = touched_by(before, resolved)
            self._stage(steps, before)
            self._check_staged(before, resolved, touched)
            self._arm(before)
            try:
                failure = self._apply(before)
                after = self._read_back("verifying the change")
            except NodeError as error:
                raise self._settled(error) from None
            mismatches = verify(resolved, after.specs) if failure is None else []
            if failure is None and not mismatches:
                self._confirm()
                return Outcome(steps, after)
            reason = failure or "the node does not show the change: " + "; ".join(
                str(m) for m in mismatches
            )
            raise self._settled(self._roll_back(before, touched, reason))

    # -- confirm-or-revert (with SSH) ----------------------------------------------------------

    def _arm(self, before: Snapshot) -> None:
        """Arm the node's timer that puts its network back unless pvenet confirms; when it
        cannot be armed, discard the staged change (nothing applied)."""
        if self.guard is None:
            return
        try:
            self.guard.arm()
        except NodeError as error:
            raise self._discard(before, unprefixed(str(error), self.node), False) from None

    def _confirm(self) -> None:
        """Reach the node again and disarm the timer (NodeError after it put the network back)."""
        if self.guard is not None:
            self.guard.confirm()

    def _settled(self, error: NodeError) -> NodeError:
        """A failed change: the timer stopped if pvenet reaches the node, else what the node
        put back; ``error`` with that said."""
        if self.guard is None:
            return error
        try:
            self.guard.confirm()
        except NodeError as reverted:
            return NodeError(f"{error} Then: {unprefixed(str(reverted), self.node)}")
        return error

    # -- reads -------------------------------------------------------------------------------

    def _read_or_explain(self, what: str, read: Callable[[], Snapshot]) -> Snapshot:
        """A read before any write: a failure says nothing was changed."""
        try:
            return read()
        except ApiCallFailed as error:
            raise NodeError(
                f"{self.node}: {what} failed ({error.describe()}); nothing was changed"
            ) from None

    def _read_back(self, what: str) -> Snapshot:
        """The node after an apply; when it cannot be read, say that nobody can tell yet."""
        try:
            return snapshot(self.client.view())
        except ApiCallFailed as error:
            raise self._cannot_tell(
                f"{what}: reading the node back failed ({error.describe()})"
            ) from None

    def _cannot_tell(self, what: str) -> NodeError:
        return cannot_tell(self.node, what, "node")

    # -- staging -------------------------------------------------------------------------------

    def _stage(self, steps: list[Step], before: Snapshot) -> None:
        for done, step in enumerate(steps):
            try:
                self._write(step)
            except ApiCallFailed as error:
                raise self._discard(
                    before,
                    f"staging step {done + 1} of {len(steps)} ({step}) failed: {error.describe()}",
                    unanswered=not error.answered,
                ) from None

    def _write(self, step: Step) -> None:
        if step.action == "delete":
            self.client.delete(step.iface)
            return
        assert step.spec is not None
        params = to_params(step.spec, step.before)
        if step.action == "create":
            params.pop("delete", None)
            self.client.create(step.iface, params)
        else:
            self.client.update(step.iface, params)

    def _settle(self) -> None:
        """Give a request that got no answer the time to land before discarding it."""
        time.sleep(self.client.settings.timeout)

    def _discard_staged(self, unanswered: bool) -> Snapshot:
        """Revert the staged file until nothing is staged (a late write may land after a
        revert); the node as read back. ApiCallFailed when the node cannot be reached."""
        if unanswered:
            self._settle()
        for _round in range(CLEANUP_ROUNDS):
            self.client.revert()
            view = self.client.view()
            if not view.changes:
                return snapshot(view)
            self._settle()
        raise NodeError(
            f"{self.node}: staged changes came back {CLEANUP_ROUNDS} times after pvenet "
            "reverted them; another client is staging changes on this node. Review them "
            "(GUI: System > Network) and run again"
        )

    def _discard(self, before: Snapshot, what: str, unanswered: bool) -> NodeError:
        """Discard our staged writes; the error that says what the node holds now."""
        try:
            now = self._discard_staged(unanswered)
        except NodeError as error:
            return NodeError(f"{self.node}: {what}; {unprefixed(str(error), self.node)}")
        except ApiCallFailed as error:
            return NodeError(
                f"{self.node}: {what}; discarding the staged changes failed too "
                f"({error.describe()}): interfaces.new may hold part of the change. Revert it "
                "on the node (GUI: System > Network > Revert) before running again"
            )
        changed = differing(before, now)
        if changed:
            return NodeError(
                f"{self.node}: {what}; pvenet discarded the staged changes, nothing was "
                f"applied, but the node now runs other settings for {_listed(changed)} than "
                "when pvenet read it (someone else changed them meanwhile)"
            )
        return NodeError(
            f"{self.node}: {what}; the staged changes were reverted, the node is unchanged"
        )

    def _check_staged(
        self, before: Snapshot, resolved: Mapping[str, Spec | None], touched: list[str]
    ) -> None:
        """Apply only exactly our change: anything else staged is taken back and refused."""
        try:
            view = self.client.view()
        except ApiCallFailed as error:
            raise self._discard(
                before, f"reading the staged changes failed ({error.describe()})", False
            ) from None
        staged = snapshot(view)
        foreign = [name for name in differing(before, staged) if name not in touched]
        astray = [name for name, target in resolved.items() if verify({name: target}, staged.specs)]
        if not foreign and not astray:
            return
        others = _listed(sorted({*foreign, *astray}))
        undone = self._take_back(before, staged, touched)
        raise ForeignPendingChanges(
            f"{self.node}: while pvenet staged its change, someone else staged changes to "
            f"{others}; applying now would apply them too. pvenet {undone} and applied "
            "nothing. Review the staged changes (GUI: System > Network), apply or revert "
            "them, and run again:\n" + (view.changes or "")
        )

    def _take_back(self, before: Snapshot, staged: Snapshot, touched: list[str]) -> str:
        """Stage our interfaces as they were before, leaving the others' staged changes."""
        previous = {name: before.specs.get(name) for name in touched}
        try:
            for step in plan(staged.links, staged.specs, previous):
                self._write(step)
        except (ApiCallFailed, PlanError) as error:
            detail = describe(error)
            return (
                f"could not take its own staged changes back ({detail}): the staged file "
                f"holds part of pvenet's change to {_listed(touched)}"
            )
        return f"took its own staged changes to {_listed(touched)} back"

    # -- apply -------------------------------------------------------------------------------

    def _apply(self, before: Snapshot) -> str | None:
        """Apply the staged file once; the task's failure, or None when it succeeded."""
        for attempt in range(2):
            try:
                upid = self.client.apply()
            except ApiCallFailed as error:
                try:
                    staged = self.client.view().changes
                except ApiCallFailed as read_error:
                    raise self._cannot_tell(
                        f"applying got no answer ({error.describe()}) and the node cannot be "
                        f"read ({read_error.describe()})"
                    ) from None
                if not staged:
                    return None  # the reload ran, its answer was lost: verification decides
                if attempt == 0:
                    continue  # the request never ran: the change is still staged
                raise self._discard(
                    before, f"applying failed twice: {error.describe()}", False
                ) from None
            try:
                result = self.client.wait(upid)
            except (ApiCallFailed, NodeError) as error:
                detail = describe(error)
                raise self._cannot_tell(
                    f"the reload task {upid} cannot be followed ({detail})"
                ) from None
            return result.failure("the apply task")
        return None

    # -- rollback ----------------------------------------------------------------------------

    def _roll_back(self, before: Snapshot, touched: list[str], reason: str) -> NodeError:
        """Stage and apply every touched interface as it was; the error that tells what the
        node runs now, as read back."""
        previous: dict[str, Spec | None] = {name: before.specs.get(name) for name in touched}
        try:
            now = snapshot(self.client.view())
            steps = plan(now.links, now.specs, previous, tolerated=violations(before.links))
            for step in steps:
                self._write(step)
            failure = self._apply(before) if steps else None
            after = snapshot(self.client.view())
        except (ApiCallFailed, PlanError) as error:
            detail = describe(error)
            return self._rollback_failed(reason, detail)
        except NodeError as error:
            return NodeError(
                f"{self.node}: {reason}. Restoring the previous configuration: {error}"
            )
        if failure is not None:
            return self._rollback_failed(reason, failure)
        mismatches = verify(previous, after.specs)
        changed = differing(before, after)
        if mismatches or changed:
            return NodeError(
                f"{self.node}: {reason}. pvenet restored the previous configuration and applied "
                f"it, but the node differs from before in {_listed(changed)}"
                + (": " + "; ".join(str(m) for m in mismatches) if mismatches else "")
            )
        return NodeError(
            f"{self.node}: {reason}. pvenet restored the previous configuration and applied it; "
            "the node is as before"
        )

    def _rollback_failed(self, reason: str, detail: str) -> NodeError:
        """A rollback that failed part way: nothing of it stays staged; say what runs."""
        try:
            self._discard_staged(unanswered=True)
            state = "the staged rollback was discarded, and the node runs the new, failed change"
        except (ApiCallFailed, NodeError):
            state = (
                "interfaces.new may hold part of the rollback: revert it on the node (GUI: "
                "System > Network > Revert); the node runs the new, failed change"
            )
        return NodeError(
            f"{self.node}: {reason}. Restoring the previous configuration failed too "
            f"({detail}); {state}. Check `ifreload -a` on the node, then run `pulumi up` again"
        )
