"""``SdnNetworks``: several SDN networks as one Pulumi resource, changed with one apply.

An SDN apply (``PUT /cluster/sdn``) reloads the network of every node. A stack with a
routed and a NAT network as two ``SdnNetwork`` resources applies twice; as one
``SdnNetworks`` it applies once: its create, update and delete are one ``SdnTransaction``
over all its networks (zone, vnet and subnets each), with the same refusals, lock,
verification and restore. A network added to the list is created, one removed is deleted,
one whose zone or vnet id changed is deleted and created, all in that one apply.

Each network takes the inputs of ``SdnNetwork`` (``provider.sdn.resource``) and is checked
the same way; a zone id or vnet id may appear in one network only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from provider import handover
from provider.engine import coerce_numbers, is_unknown, unexpected_inputs
from provider.errors import ApiCallFailed, NodeError
from provider.sdn.client import describe_sdn
from provider.sdn.model import SdnSpec
from provider.sdn.resource import (
    SdnProviderBase,
    created,
    deleted,
    live_view,
    spec_of,
    updated,
)
from provider.sdn.transaction import Objects, SdnOutcome, SdnTransaction, States, Unit

INPUTS = ("networks",)
COMPUTED = ("rendered", "active_nodes")
IDS = ("zone", "vnet")


def unit_of(network: Mapping[str, Any]) -> Unit:
    """A checked network's zone and vnet."""
    return str(network["zone"]), str(network["vnet"])


def _specs(networks: Any) -> dict[Unit, SdnSpec]:
    specs = [spec_of(network) for network in networks or []]
    return {(spec.zone, spec.vnet): spec for spec in specs}


class SdnNetworksProvider(SdnProviderBase):
    """The engine-facing implementation of ``SdnNetworks``."""

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Check each network as ``SdnNetwork`` does, under ``networks[i]``, and that no zone
        or vnet id is taken twice; ``rendered`` is every network's stanza, by vnet."""
        news = coerce_numbers(dict(news))
        failures = unexpected_inputs(news, "SdnNetworks", INPUTS, COMPUTED)
        raw = news.get("networks")
        if is_unknown(raw):
            return CheckResult(news, failures)
        if not isinstance(raw, list) or not all(isinstance(n, dict) for n in raw):
            reason = "must be a list of SDN networks, each with zone, vnet and subnets"
            return CheckResult(news, [*failures, CheckFailure("networks", reason)])
        checked: list[dict[str, Any]] = []
        first: dict[tuple[str, Any], int] = {}
        for index, network in enumerate(raw):
            item, problems = self.check_network(network, "an SdnNetworks network")
            failures += [
                CheckFailure(f"networks[{index}].{f.property}", f.reason) for f in problems
            ]
            for key in IDS:
                value = item.get(key)
                if is_unknown(value) or value is None:
                    continue
                if (key, value) in first:
                    failures.append(
                        CheckFailure(
                            f"networks[{index}].{key}",
                            f"{key} '{value}' is also networks[{first[key, value]}]'s; "
                            "each zone and vnet belongs to one network",
                        )
                    )
                first.setdefault((key, value), index)
            checked.append(item)
        if failures or any(is_unknown(item.get(key)) for item in checked for key in IDS):
            return CheckResult(news, failures)
        checked.sort(key=unit_of)
        news["networks"] = [{k: v for k, v in item.items() if k != "rendered"} for item in checked]
        news["rendered"] = "".join(str(item.get("rendered") or "") for item in checked)
        return CheckResult(news, [])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Everything changes in place: ids that change are a delete and a create in the one
        apply of the update."""
        changed = is_unknown(news.get("networks")) or olds.get("networks") != news.get("networks")
        return DiffResult(changes=changed, replaces=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create every network with one apply; ids already taken are refused first."""
        specs = _specs(props.get("networks"))

        def prepare(current: Objects, cluster: list[str]) -> States:
            return {unit: created(spec, current[unit], cluster) for unit, spec in specs.items()}

        outcome = SdnTransaction(self._client(), specs).converge(prepare)
        id_ = handover.new_id("sdn:" + "+".join(f"{zone}/{vnet}" for zone, vnet in sorted(specs)))
        self._hold(id_, specs)
        return CreateResult(id_, _outputs(props, outcome))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Create, change and delete networks so the list is as desired, with one apply; a
        dropped network another resource took over in this deployment is left to it."""
        specs = _specs(news.get("networks"))
        dropped = {unit_of(network) for network in olds.get("networks") or []} - set(specs)
        previous = {unit for unit in map(unit_of, olds.get("networks") or []) if unit in specs}
        previous |= self._left_to_others(id_, dropped)

        def prepare(current: Objects, cluster: list[str]) -> States:
            targets: States = {}
            for unit in current:
                if unit not in specs:
                    targets[unit] = deleted(unit, current[unit])
                elif unit in previous:
                    targets[unit] = updated(specs[unit], current[unit], cluster)
                else:
                    targets[unit] = created(specs[unit], current[unit], cluster)
            return targets

        outcome = SdnTransaction(self._client(), {*specs, *previous}).converge(prepare)
        self._hold(id_, specs)
        return UpdateResult(_outputs(news, outcome))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Remove every network (subnets, vnet, zone each) with one apply; one another resource
        took over in this deployment is left to it."""
        self._delete(id_, map(unit_of, props.get("networks") or []))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The running networks of the list; one that no longer runs drops out of it."""
        client = self._client()
        networks: list[dict[str, Any]] = []
        rendered: list[str] = []
        active: dict[str, list[str]] = {}
        try:
            nodes = client.nodes()
            listed = {node: client.vnets_listed(node) for node in nodes}
            for zone, vnet in sorted(unit_of(n) for n in props.get("networks") or []):
                running = client.objects(zone, vnet, running=True).state
                if running.zone is None and running.vnet is None:
                    continue
                active[vnet] = [node for node in nodes if vnet in listed[node]]
                inputs, stanza = live_view(client, zone, vnet, running, active[vnet])
                networks.append(inputs)
                rendered.append(stanza)
        except ApiCallFailed as error:
            raise NodeError(
                f"SDN networks: reading the running SDN config failed: {describe_sdn(error)}"
            ) from None
        if not networks:
            return ReadResult("", {})
        outs = {"networks": networks, "rendered": "".join(rendered), "active_nodes": active}
        return ReadResult(id_, outs, {"networks": networks})


def _outputs(inputs: Mapping[str, Any], outcome: SdnOutcome) -> dict[str, Any]:
    return {
        "networks": inputs.get("networks"),
        "rendered": inputs.get("rendered"),
        "active_nodes": {vnet: nodes for (_zone, vnet), nodes in outcome.active_nodes.items()},
    }


class SdnNetworks(Resource, module="pvenet", name="SdnNetworks"):
    """Several SDN networks (a Simple zone, its vnet and subnets each), changed with one apply.

    ``networks`` is a list of dicts with the inputs of ``SdnNetwork``: ``zone``, ``vnet``,
    ``subnets``, and optionally ``nodes``, ``mtu``, ``alias``. Outputs: ``rendered`` (every
    vnet's stanza) and ``active_nodes`` (the nodes each vnet runs on, by vnet).
    """

    networks: pulumi.Output[list[dict[str, Any]]]
    rendered: pulumi.Output[str]
    active_nodes: pulumi.Output[dict[str, list[str]]]

    def __init__(
        self,
        resource_name: str,
        *,
        networks: pulumi.Input[list[pulumi.Input[Mapping[str, Any]]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            SdnNetworksProvider(),
            resource_name,
            {"networks": networks, "rendered": None, "active_nodes": None},
            opts,
        )


__all__ = ["SdnNetworks", "SdnNetworksProvider"]
