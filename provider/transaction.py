"""One change to a node's interfaces as one transaction: plan, stage, apply once, verify.

``converge`` is the only way pvenet changes a node's network:

1. under the node's lock, read the node; refuse if someone else's changes are
   staged (they would be applied along with ours);
2. plan the writes (``provider.plan``) and stage them in ``interfaces.new``;
   if any write fails, revert the staged file: the node is unchanged;
3. apply once (``PUT /nodes/{node}/network``) and wait for the task;
4. read back and verify; if the apply or the verification failed, restage
   the previous config and apply again, then report what happened.

It never returns success for a change that is not live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NoReturn

from provider.client import (
    CALL_ERRORS,
    Client,
    NodeView,
    canonical,
    describe,
    link_from_api,
    node_lock,
    spec_from_api,
    to_params,
)
from provider.errors import ForeignPendingChanges, NodeError
from provider.model import Spec
from provider.plan import Link, PlanError, Step, plan
from provider.verify import verify

UNMANAGED_WHEN_NONE = ("mtu", "comments")


@dataclass(frozen=True)
class Snapshot:
    """The node's interfaces: the planner's view of all of them and the specs of those modelled."""

    links: dict[str, Link]
    specs: dict[str, Spec]


def snapshot(view: NodeView) -> Snapshot:
    """A node view in the planner's terms."""
    links = {name: link_from_api(name, item) for name, item in view.items.items()}
    specs = {}
    for name, item in view.items.items():
        spec = spec_from_api(name, item)
        if spec is not None:
            specs[name] = spec
    return Snapshot(links, specs)


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


class Transaction:
    """Converges one node's interfaces to targets, or leaves it as it was."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.node = client.node

    def read(self) -> Snapshot:
        """The node's current interfaces, refusing if foreign changes are staged."""
        view = self.client.view()
        if view.changes:
            raise ForeignPendingChanges(foreign_changes_message(self.node, view.changes))
        return snapshot(view)

    def converge(self, prepare: Callable[[Snapshot], Mapping[str, Spec | None]]) -> Outcome:
        """Make the node's interfaces equal the targets ``prepare`` returns, with one apply.

        ``prepare`` sees the node as read under the node's lock and returns the
        exact targets (None = absent; see ``resolve`` for user input); it may
        raise to refuse the change before any write.
        """
        with node_lock(self.client.settings.endpoint, self.node):
            before = self.read()
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
            self._stage(steps)
            failure = self._apply()
            after = snapshot(self.client.view())
            mismatches = verify(resolved, after.specs) if failure is None else []
            if failure is None and not mismatches:
                return Outcome(steps, after)
            reason = failure or "the node does not show the change: " + "; ".join(
                str(m) for m in mismatches
            )
            raise self._roll_back(before, resolved, reason)

    def _stage(self, steps: list[Step]) -> None:
        done = 0
        try:
            for step in steps:
                self._write(step)
                done += 1
        except CALL_ERRORS as error:
            self._revert_or_explain(
                f"staging step {done + 1} of {len(steps)} ({steps[done]}) failed: {describe(error)}"
            )

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

    def _revert_or_explain(self, what: str) -> NoReturn:
        try:
            self.client.revert()
        except CALL_ERRORS as error:
            raise NodeError(
                f"{self.node}: {what}; reverting the staged changes failed too "
                f"({describe(error)}): interfaces.new may hold part of the change; "
                "revert it on the node (GUI: System > Network > Revert) before running again"
            ) from None
        raise NodeError(
            f"{self.node}: {what}; the staged changes were reverted, the node is unchanged"
        )

    def _apply(self) -> str | None:
        """Apply the staged file once; the task's failure, or None when it succeeded."""
        for attempt in range(2):
            try:
                upid = self.client.apply()
            except CALL_ERRORS as error:
                if self.client.view().changes:
                    if attempt == 0:
                        continue  # the request never ran: the changes are still staged
                    self._revert_or_explain(f"applying failed twice: {describe(error)}")
                return None  # the reload ran, but its answer was lost; verification decides
            result = self.client.wait(upid)
            if result.ok:
                return None
            lines = [line for line in result.log if line and not line.startswith("TASK ")]
            return f"the apply task failed: {result.exitstatus}" + (
                f" ({'; '.join(lines)})" if lines else ""
            )
        return None

    def _roll_back(
        self, before: Snapshot, resolved: Mapping[str, Spec | None], reason: str
    ) -> NodeError:
        """Restage and apply the previous config; the error that tells what happened."""
        previous: dict[str, Spec | None] = {name: before.specs.get(name) for name in resolved}
        try:
            now = snapshot(self.client.view())
            steps = plan(now.links, now.specs, previous)
            for step in steps:
                self._write(step)
            failure = self._apply() if steps else None
        except (*CALL_ERRORS, PlanError) as error:
            return NodeError(
                f"{self.node}: {reason}. Restoring the previous configuration failed too "
                f"({describe(error)}); the node runs the new, failed configuration: check "
                "`ifreload -a` on the node"
            )
        if failure is not None:
            return NodeError(
                f"{self.node}: {reason}. Restoring the previous configuration failed too "
                f"({failure})"
            )
        return NodeError(
            f"{self.node}: {reason}. pvenet restored the previous configuration and applied it; "
            "the node is as before"
        )
