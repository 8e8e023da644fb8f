"""``SdnNetwork``: one SDN Simple zone, its vnet and the vnet's subnets as one Pulumi resource.

The routed and NAT modes of the Proxmox admin guide are built this way: the
vnet is a bridge with no physical port on every node of the zone, the
subnet's gateway is the host's address on it, and ``snat`` masquerades the
subnet behind the node's outgoing address. Each create, update and delete is
one ``SdnTransaction``: refusals first, then the writes under the SDN lock,
one apply, verification, roll back or restore on failure.

The provider holds no client and no secret: connection settings come from
stack config in ``configure``, and ``__getstate__`` keeps them out of any pickle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
from provider.engine import ConfiguredProvider, coerce_numbers, is_unknown, unexpected_inputs
from provider.errors import ApiCallFailed, NodeError
from provider.sdn.client import SdnClient, SdnObjects, describe_sdn
from provider.sdn.model import (
    FIELDS,
    DhcpRange,
    SdnSpec,
    SubnetSpec,
    canonical,
    naming_the_vnet,
    parse_sdn,
    require_sdn,
    sdn_to_inputs,
)
from provider.sdn.plan import SdnState, desired_state, verify
from provider.sdn.render import Uplinks, render_nodes
from provider.sdn.transaction import Objects, SdnOutcome, SdnTransaction, States, Unit

IDENTITY = ("zone", "vnet")
COMPUTED = ("rendered", "active_nodes")


class SdnProviderBase(ConfiguredProvider):
    """What the SDN providers share: the client, and checking one network at preview."""

    def _client(self) -> SdnClient:
        return SdnClient(self.settings)

    def _hold(self, owner: str, units: Iterable[Unit]) -> None:
        """Resource ``owner`` now runs ``units`` (``provider.handover``)."""
        handover.hold(self._place(), owner, [f"{zone}/{vnet}" for zone, vnet in units])

    def _release(self, owner: str) -> None:
        handover.release(self._place(), owner)

    def _left_to_others(self, owner: str, units: Iterable[Unit]) -> set[Unit]:
        """``units`` less those another resource took over in this deployment (a renamed or
        regrouped network): a delete leaves them to it."""
        by_name = {f"{zone}/{vnet}": (zone, vnet) for zone, vnet in units}
        others = handover.held_by_others(self._place(), owner, by_name)
        if others:
            owners = ", ".join(sorted(set(others.values())))
            pulumi.log.info(
                f"SDN: {', '.join(sorted(others))} stay in the cluster's SDN config: "
                f"{owners} took them over in this deployment"
            )
        return {unit for name, unit in by_name.items() if name not in others}

    def _place(self) -> handover.Place:
        return (self.settings.endpoint, "sdn")

    def _delete(self, owner: str, units: Iterable[Unit]) -> None:
        """Remove the networks ``units`` (subnets, vnet, zone each) with one apply, less those
        another resource took over in this deployment; then ``owner`` holds nothing."""
        left = self._left_to_others(owner, units)
        if left:

            def prepare(current: Objects, _cluster: list[str]) -> States:
                return {unit: deleted(unit, current[unit]) for unit in current}

            SdnTransaction(self._client(), left).converge(prepare)
        self._release(owner)

    def check_network(
        self, news: dict[str, Any], resource: str = "SdnNetwork"
    ) -> tuple[dict[str, Any], list[CheckFailure]]:
        """One network's inputs validated and normalised, with ``rendered`` (its stanza).

        For SNAT subnets the stanza names each node's uplink, which is read from the nodes
        (no writes); without a connection it shows the placeholders ``<uplink>`` /
        ``<uplink-address>``.
        """
        news = coerce_numbers(dict(news))
        unknown = {name for name in FIELDS if name in news and is_unknown(news[name])}
        raw = {name: news[name] for name in FIELDS if news.get(name) is not None}
        spec, problems = parse_sdn(raw, unknown)
        failures = unexpected_inputs(news, resource, FIELDS, COMPUTED)
        failures += [CheckFailure(p.path, p.message) for p in naming_the_vnet(raw, problems)]
        if failures or spec is None:
            return news, failures
        failures, uplinks = self._read_at_preview(spec)  # as given: nodes[i] is the user's i
        spec = canonical(spec)
        news.update(sdn_to_inputs(spec))
        news["rendered"] = render_nodes(spec, uplinks)
        return news, failures

    def _read_at_preview(
        self, spec: SdnSpec
    ) -> tuple[list[CheckFailure], dict[str, Uplinks] | None]:
        """Reads of the cluster at preview (no writes), skipped without a connection.

        The named ``nodes`` must be nodes of the cluster; for SNAT subnets,
        each node's uplink (the interface holding the default gateway) goes
        into the rendered SNAT rules.
        """
        snat = any(subnet.snat for subnet in spec.subnets)
        if not self.configured or (spec.nodes is None and not snat):
            return [], None
        try:
            client = self._client()
            cluster = client.nodes()
            failures = [
                CheckFailure(
                    f"nodes[{index}]",
                    f"'{node}' is not a node of this cluster ({', '.join(cluster)})",
                )
                for index, node in enumerate(spec.nodes or [])
                if node not in cluster
            ]
            if failures or not snat:
                return failures, None
            nodes = spec.nodes if spec.nodes is not None else cluster
            return [], {node: client.uplinks(node) for node in nodes}
        except ApiCallFailed as error:
            pulumi.log.warn(
                f"vnet {spec.vnet}: could not read the cluster at preview "
                f"({describe_sdn(error)}); `nodes` is not checked against it, and `rendered` "
                "shows placeholders for the SNAT rules' uplink"
            )
            return [], None


class SdnNetworkProvider(SdnProviderBase):
    """The engine-facing implementation of ``SdnNetwork``."""

    # -- check / diff ----------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the inputs, and add ``rendered`` (the vnet's stanza)."""
        return CheckResult(*self.check_network(news))

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """``zone`` and ``vnet`` replace; the other inputs change in place.

        ``rendered`` is not compared on its own: it follows from the inputs and
        the nodes' uplinks (which a preview without a connection cannot read),
        and Proxmox regenerates the SNAT rules from the live route on every
        node reload anyway.
        """
        replaces = [k for k in IDENTITY if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        changed = [k for k in FIELDS if is_unknown(news.get(k)) or olds.get(k) != news.get(k)]
        # A replacement that keeps one of the ids must remove the old objects first:
        # pve-network refuses a second zone or vnet with the same id.
        keeps_an_id = len(replaces) < len(IDENTITY) or any(
            is_unknown(news.get(k)) for k in IDENTITY
        )
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            delete_before_replace=bool(replaces) and keeps_an_id,
        )

    # -- create / update / delete / read ---------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the zone, vnet and subnets with one apply; refuses ids that are taken."""
        spec = spec_of(props)
        unit = (spec.zone, spec.vnet)

        def prepare(current: Objects, cluster: list[str]) -> States:
            return {unit: created(spec, current[unit], cluster)}

        outcome = SdnTransaction(self._client(), [unit]).converge(prepare)
        id_ = handover.new_id(f"{spec.zone}/{spec.vnet}")
        self._hold(id_, [unit])
        return CreateResult(id_, _outputs(props, outcome, unit))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Change only what differs, with one apply; missing objects are created again."""
        spec = spec_of(news)
        unit = (spec.zone, spec.vnet)

        def prepare(current: Objects, cluster: list[str]) -> States:
            return {unit: updated(spec, current[unit], cluster)}

        outcome = SdnTransaction(self._client(), [unit]).converge(prepare)
        self._hold(id_, [unit])
        return UpdateResult(_outputs(news, outcome, unit))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Remove the subnets, the vnet and the zone (in that order) with one apply; a network
        another resource took over in this deployment is left to it."""
        self._delete(id_, [(str(props["zone"]), str(props["vnet"]))])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The running zone, vnet and subnets; gone when neither the zone nor the vnet runs."""
        zone, vnet = str(props["zone"]), str(props["vnet"])
        client = self._client()
        try:
            running = client.objects(zone, vnet, running=True).state
            if running.zone is None and running.vnet is None:
                return ReadResult("", {})
            active = [node for node in client.nodes() if vnet in client.vnets_listed(node)]
            inputs, rendered = live_view(client, zone, vnet, running, active)
        except ApiCallFailed as error:
            raise NodeError(
                f"zone {zone} / vnet {vnet}: reading the running SDN config failed: "
                f"{describe_sdn(error)}"
            ) from None
        outs = {
            **{k: v for k, v in props.items() if k not in FIELDS},
            **inputs,
            "rendered": rendered,
            "active_nodes": active,
        }
        return ReadResult(id_, outs, inputs)


def spec_of(props: Mapping[str, Any]) -> SdnSpec:
    """The spec of checked inputs (check already refused anything invalid)."""
    raw = {name: props[name] for name in FIELDS if props.get(name) is not None}
    return canonical(require_sdn(coerce_numbers(raw)))


def created(spec: SdnSpec, current: SdnObjects, cluster: list[str]) -> SdnState:
    """The target of a create: the network as desired; ids another network holds refused.

    A network that already runs exactly as desired is this create's own, left by an
    answer that was lost: done.
    """
    desired = desired_state(spec)
    if not verify(spec.zone, spec.vnet, desired, current.state):
        return desired
    taken = [
        f"{kind} '{name}'"
        for kind, name, there in (
            ("zone", spec.zone, current.state.zone is not None),
            ("vnet", spec.vnet, current.state.vnet is not None),
        )
        if there
    ]
    if taken:
        raise NodeError(
            f"{' and '.join(taken)} already exist in the cluster's SDN config and are not "
            "this resource's; pick other ids, or remove them (GUI: Datacenter > SDN) "
            "and run again"
        )
    _refuse_unknown_nodes(spec, cluster)
    return desired


def updated(spec: SdnSpec, current: SdnObjects, cluster: list[str]) -> SdnState:
    """The target of an update; a zone or vnet changed outside pvenet is refused."""
    _refuse_foreign_zone(spec, current)
    _refuse_unknown_nodes(spec, cluster)
    return desired_state(spec)


def deleted(unit: Unit, current: SdnObjects) -> SdnState:
    """The target of a delete (nothing); a zone that holds other vnets is refused."""
    zone = unit[0]
    if current.zone_vnets:
        raise NodeError(
            f"zone {zone} also holds vnet(s) {', '.join(current.zone_vnets)}, which this "
            "resource did not create; move or remove them (GUI: Datacenter > SDN > "
            "VNets) before deleting the zone"
        )
    return SdnState()


def _refuse_unknown_nodes(spec: SdnSpec, cluster: list[str]) -> None:
    unknown = [node for node in spec.nodes or [] if node not in cluster]
    if unknown:
        raise NodeError(
            f"zone {spec.zone}: nodes {', '.join(unknown)} are not nodes of this cluster "
            f"({', '.join(cluster)}); fix `nodes` or leave it unset for every node"
        )


def _refuse_foreign_zone(spec: SdnSpec, current: SdnObjects) -> None:
    if current.zone_type not in (None, "simple"):
        raise NodeError(
            f"zone {spec.zone} is a '{current.zone_type}' zone now, not a Simple zone; it was "
            "replaced outside pvenet: remove it (GUI: Datacenter > SDN > Zones) and run again"
        )
    vnet = current.state.vnet
    if vnet is not None and vnet.zone != spec.zone:
        raise NodeError(
            f"vnet {spec.vnet} belongs to zone {vnet.zone} now, not {spec.zone}; it was moved "
            "outside pvenet: move it back (GUI: Datacenter > SDN > VNets) and run again"
        )


def _outputs(inputs: Mapping[str, Any], outcome: SdnOutcome, unit: Unit) -> dict[str, Any]:
    return {
        **{k: inputs.get(k) for k in (*FIELDS, "rendered")},
        "active_nodes": outcome.active_nodes[unit],
    }


def inputs_from_state(zone: str, vnet: str, state: SdnState) -> dict[str, Any]:
    """The inputs that describe ``state`` (what refresh records as the live config)."""
    subnets = [
        {
            "cidr": cidr,
            "gateway": subnet.gateway,
            "snat": subnet.snat,
            "dhcp_ranges": [{"start": s, "end": e} for s, e in subnet.dhcp_ranges],
            "dns_server": subnet.dns_server,
        }
        for cidr, subnet in state.subnets.items()
    ]
    live = live_spec({"zone": zone, "vnet": vnet, "subnets": subnets})
    nodes = state.zone.nodes if state.zone is not None else None
    return {
        "zone": zone,
        "vnet": vnet,
        "subnets": [s.model_dump(mode="json") for s in live.subnets],
        "nodes": list(nodes) if nodes is not None else None,
        "mtu": state.zone.mtu if state.zone is not None else None,
        "alias": state.vnet.alias if state.vnet is not None else None,
    }


def live_view(
    client: SdnClient, zone: str, vnet: str, running: SdnState, active: Iterable[str]
) -> tuple[dict[str, Any], str]:
    """What refresh records of a running network: the inputs that describe it, and its
    stanza (SNAT rules with the uplink of each node in ``active``, read from the node)."""
    inputs = inputs_from_state(zone, vnet, running)
    spec = live_spec(inputs)
    uplinks = None
    if any(subnet.snat for subnet in spec.subnets):
        uplinks = {node: client.uplinks(node) for node in active}
    return inputs, render_nodes(spec, uplinks)


def live_spec(inputs: Mapping[str, Any]) -> SdnSpec:
    """A spec of what runs, trusted as read (the cluster may hold what pvenet would refuse)."""
    subnets = [
        SubnetSpec.model_construct(
            **{
                **item,
                "dhcp_ranges": [DhcpRange.model_construct(**r) for r in item["dhcp_ranges"]],
            }
        )
        for item in inputs.get("subnets") or []
    ]
    spec = SdnSpec.model_construct(
        zone=inputs["zone"],
        vnet=inputs["vnet"],
        subnets=subnets,
        nodes=inputs.get("nodes"),
        mtu=inputs.get("mtu"),
        alias=inputs.get("alias"),
    )
    return canonical(spec)


class SdnNetwork(Resource, module="pvenet", name="SdnNetwork"):
    """One SDN Simple zone, one vnet in it and the vnet's subnets, changed with one apply.

    ``subnets`` is a list of dicts: ``cidr`` (the network, ``10.10.10.0/24``),
    ``gateway`` (the host's address on the vnet), ``snat`` (masquerade behind
    the node's outgoing address), ``dhcp_ranges`` (``[{"start": ..., "end":
    ...}]``; the zone then runs dnsmasq DHCP, which must be installed on the
    nodes) and ``dns_server`` (handed out by DHCP). ``nodes`` None = every
    node; ``mtu`` is the zone's; ``alias`` the vnet's description. Changing
    ``zone`` or ``vnet`` replaces the network.
    """

    zone: pulumi.Output[str]
    vnet: pulumi.Output[str]
    subnets: pulumi.Output[list[dict[str, Any]]]
    nodes: pulumi.Output[list[str] | None]
    mtu: pulumi.Output[int | None]
    alias: pulumi.Output[str | None]
    rendered: pulumi.Output[str]
    active_nodes: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        zone: pulumi.Input[str],
        vnet: pulumi.Input[str],
        subnets: pulumi.Input[list[pulumi.Input[Mapping[str, Any]]]],
        nodes: pulumi.Input[list[str]] | None = None,
        mtu: pulumi.Input[int] | None = None,
        alias: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            SdnNetworkProvider(),
            resource_name,
            {
                "zone": zone,
                "vnet": vnet,
                "subnets": subnets,
                "nodes": nodes,
                "mtu": mtu,
                "alias": alias,
                "rendered": None,
                "active_nodes": None,
            },
            opts,
        )
