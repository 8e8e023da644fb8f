"""``NodeInterfaces``: a set of interfaces on one node, as one Pulumi dynamic resource.

The engine calls the provider's ``check`` (validate, normalise, render the
stanzas for ``pulumi preview --diff``), ``diff``, ``create``, ``update``,
``delete`` and ``read``. Each change is one ``Transaction``: one staged plan,
one apply, verified, rolled back on failure.

The provider holds no client and no secret: connection settings come from
stack config in ``configure`` (inside the provider process, after the
provider was unpickled), and ``__getstate__`` keeps them out of any pickle.
"""

from __future__ import annotations

import ipaddress
import socket
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
from provider.engine import ConfiguredProvider, node_input_failures, unexpected_inputs
from provider.engine import coerce_numbers as _coerce_numbers
from provider.engine import is_unknown as _is_unknown
from provider.errors import ApiCallFailed, NodeError
from provider.host.confirm import InterfacesGuard, Reach
from provider.names import NODE_RE
from provider.node import dialect
from provider.node.client import Client
from provider.node.guard import dynamic_address_changes, management_changes
from provider.node.model import EthSpec, Spec, load_spec, parse_interfaces, spec_to_dict
from provider.node.plan import PlanError, plan
from provider.node.transaction import (
    UNMANAGED_WHEN_NONE,
    Snapshot,
    Transaction,
    resolve,
    snapshot,
)
from provider.node.verify import verify
from provider.node.wire import spec_from_api, stanza_of

FLAGS = ("adopt", "allow_management_change", "allow_dhcp_to_static")
INPUT_KEYS = ("node", "interfaces", *FLAGS)
OUTPUT_KEYS = ("rendered", "live", "adopted")


def render_set(specs: list[Spec]) -> str:
    """The stanzas Proxmox will write for these interfaces, in the writer's order."""
    config = dialect.NetworkConfig({spec.iface: stanza_of(spec) for spec in specs})
    return dialect.render(config).removeprefix(dialect.HEADER)


def set_targets(specs: list[Spec]) -> dict[str, Spec | None]:
    """Targets of a converge that makes these interfaces exist as specified."""
    return {spec.iface: spec for spec in specs}


class NodeInterfacesProvider(ConfiguredProvider):
    """The engine-facing implementation of ``NodeInterfaces``."""

    def _client(self, node: str) -> Client:
        return Client(self.settings, node)

    def _transaction(self, client: Client) -> Transaction:
        """The node's change, guarded by confirm-or-revert when SSH is configured."""
        ssh = self.ssh
        if ssh is None:
            return Transaction(client)
        reach = Reach(self.settings, ssh, client.node)
        return Transaction(
            client, InterfacesGuard(client.node, reach.connect, reach.api, ssh.confirm_timeout)
        )

    # -- check / diff ------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the inputs; add ``rendered``; run the checks on the node."""
        news = _coerce_numbers(dict(news))
        failures = unexpected_inputs(news, "NodeInterfaces", INPUT_KEYS, OUTPUT_KEYS)
        failures += node_input_failures(news)
        node = news.get("node")
        for flag in FLAGS:
            value = news.setdefault(flag, False)
            if _is_unknown(value) or isinstance(value, bool):
                continue
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                news[flag] = sorted(set(value))
                continue
            failures.append(
                CheckFailure(
                    flag,
                    f"must be true or false, or the list of interfaces it covers, not {value!r}",
                )
            )
        raw = news.get("interfaces", [])
        if _is_unknown(raw):
            return CheckResult(news, failures)
        specs, problems = parse_interfaces(raw)
        where = f"{node}: " if isinstance(node, str) and NODE_RE.fullmatch(node) else ""
        failures.extend(CheckFailure(p.path, where + p.message) for p in problems)
        names = {spec.iface for spec in specs}
        for flag in FLAGS:
            strays = (
                [n for n in news[flag] if n not in names] if isinstance(news[flag], list) else []
            )
            if strays and not problems:
                failures.append(
                    CheckFailure(
                        flag,
                        f"{where}{', '.join(strays)} not in the set's interfaces "
                        f"({', '.join(sorted(names))}); {flag} covers interfaces of the set",
                    )
                )
        if failures:
            return CheckResult(news, failures)
        canonical_specs = [resolve({s.iface: s}, {})[s.iface] for s in specs]
        news["interfaces"] = [spec_to_dict(s) for s in canonical_specs if s is not None]
        news["rendered"] = render_set([s for s in canonical_specs if s is not None])
        if not _is_unknown(node):
            failures.extend(self._check_on_node(str(node), specs, _targets(specs, _olds), news))
        return CheckResult(news, failures)

    def _check_on_node(
        self,
        node: str,
        specs: list[Spec],
        targets: dict[str, Spec | None],
        flags: Mapping[str, Any],
    ) -> list[CheckFailure]:
        """Preview checks that need the node (one read, no writes); skipped if unreachable.

        Failures: settings for a NIC the node does not have (no resource can create
        one), and what a guard refuses without its flag (the lockout guard, the DHCP
        guard). A target that does not fit the node as it is now (a port another
        interface holds, a parent missing, an MTU above a NIC's) is only a warning
        here: another resource of the same program may make it fit before this one
        runs; if it still does not fit then, the change is refused before any write.
        """
        if not self.configured:
            return []
        try:
            client = self._client(node)
            view = client.view()
            current = snapshot(view)
            refused = _refusals(client, current, targets, flags)
        except (ApiCallFailed, NodeError) as error:
            pulumi.log.warn(f"{node}: could not read the node to check at preview: {error}")
            return []
        for problem in _fit_problems(node, current, resolve(targets, current.specs)):
            pulumi.log.warn(f"{problem} (unless another resource of this program changes it)")
        where = {spec.iface: f"interfaces[{index}].iface" for index, spec in enumerate(specs)}
        found = _absent_nics(node, specs, view.items) + refused
        return [CheckFailure(where.get(name or "", "interfaces"), reason) for name, reason in found]

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """``node`` replaces; every other input changes in place.

        A flag the previous outputs lack (state written before the flag existed) was false.
        """
        replaces = (
            ["node"]
            if _is_unknown(news.get("node")) or olds.get("node") != news.get("node")
            else []
        )
        before = {**dict.fromkeys(FLAGS, False), **olds}
        changed = [
            k
            for k in (*INPUT_KEYS, "rendered")
            if k in news and (_is_unknown(news[k]) or before.get(k) != news[k])
        ]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=False)

    # -- create / update / delete / read --------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create the set on the node with one apply; existing interfaces need ``adopt``."""
        names = "+".join(sorted(str(i["iface"]) for i in props.get("interfaces") or []))
        id_ = handover.new_id(f"{props['node']}/{names}")
        return CreateResult(id_, self._converge_set(id_, {}, props))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Move the set to its new description with one apply; dropped interfaces are removed
        (but for one another set took over in this deployment: see ``provider.handover``)."""
        return UpdateResult(self._converge_set(id_, olds, news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Remove the set: created interfaces are deleted, adopted ones put back as they were;
        interfaces another set took over in this deployment are left to it.

        Adopted ones include the NICs the set's bonds enslaved: Proxmox marks bond
        slaves ``auto``, and destroying the bond alone would leave them so.
        """
        node = str(props["node"])
        adopted = props.get("adopted") or {}
        targets: dict[str, Spec | None] = {
            str(i["iface"]): None for i in props.get("interfaces") or []
        }
        targets.update({name: load_spec(original) for name, original in adopted.items()})
        targets = self._left_to_others(node, id_, targets)
        client = self._client(node)

        def prepare(current: Snapshot) -> dict[str, Spec | None]:
            _refuse(client, current, targets, props)
            return targets

        self._transaction(client).converge(prepare)
        handover.release(self._place(node), id_)

    def _place(self, node: str) -> handover.Place:
        return (self.settings.endpoint, node)

    def _left_to_others(
        self, node: str, id_: str, targets: dict[str, Spec | None]
    ) -> dict[str, Spec | None]:
        """``targets`` less the removals and restores of interfaces another set took over in
        this deployment (a renamed or regrouped set): those stay as their new owner runs them."""
        others = handover.held_by_others(self._place(node), id_, targets)
        if others:
            owners = ", ".join(sorted(set(others.values())))
            pulumi.log.info(
                f"{node}: {', '.join(sorted(others))} stay on the node: set {owners} took them "
                "over in this deployment"
            )
        return {name: target for name, target in targets.items() if name not in others}

    def _converge_set(
        self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Create or update set ``id_``: converge the node to ``news``, adopting where allowed;
        the set then holds its interfaces (``provider.handover``)."""
        node = str(news["node"])
        specs = _specs(news)
        client = self._client(node)
        previous = {str(item["iface"]) for item in olds.get("interfaces") or []}
        adopted = dict(olds.get("adopted") or {})
        names = {spec.iface for spec in specs}
        enslaved = {port for spec in specs if spec.type == "bond" for port in spec.ports()}

        def prepare(current: Snapshot) -> dict[str, Spec | None]:
            joining = [s for s in specs if s.iface not in previous]
            existing = [s.iface for s in joining if s.iface in current.links and s.type != "eth"]
            live = resolve({s.iface: s for s in joining}, current.specs)
            # Without adopt, an interface that already runs exactly as wanted is this set's
            # own, left by a create whose answer was lost: done, not someone else's.
            taken = [name for name in existing if verify({name: live[name]}, current.specs)]
            own = sorted(set(existing) - set(taken))
            if own and not any(covers(news, "adopt", name) for name in own):
                pulumi.log.info(
                    f"{node}: {', '.join(own)} already run exactly as this set wants them: taken "
                    "as the set's own (left by a create whose answer was lost); they are deleted "
                    "with the set. Set adopt=True to have them put back as they are instead"
                )
            taken = [name for name in taken if not covers(news, "adopt", name)]
            if taken:
                raise NodeError(
                    f"{node}: {', '.join(sorted(taken))} already exist on the node; set "
                    "adopt=True to manage them (they are put back as they are now when the set "
                    "is deleted), or pick other names"
                )
            for spec in joining:
                if spec.iface in current.specs and (
                    (spec.iface in existing and covers(news, "adopt", spec.iface))
                    or spec.type == "eth"
                ):
                    adopted[spec.iface] = spec_to_dict(current.specs[spec.iface])
            for nic in sorted(enslaved - names - set(adopted)):
                if isinstance(current.specs.get(nic), EthSpec):
                    # the writer marks every bond slave `auto`: remember the NIC as it was
                    adopted[nic] = spec_to_dict(current.specs[nic])
            targets = resolve(_targets(specs, olds), current.specs)
            for name in sorted(set(adopted) - names - enslaved):
                targets[name] = load_spec(adopted.pop(name))
            leaving = {name: t for name, t in targets.items() if name not in names}
            kept = self._left_to_others(node, id_, leaving)
            targets = {n: t for n, t in targets.items() if n in names or n in kept}
            _refuse(client, current, targets, news)
            return targets

        outcome = self._transaction(client).converge(prepare)
        handover.hold(self._place(node), id_, names | enslaved)
        return self._outputs(news, outcome.after.specs, adopted)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The live config of the set's interfaces; one deleted out of band disappears."""
        node = str(props["node"])
        client = self._client(node)
        try:
            view = client.view()
        except ApiCallFailed as error:
            raise NodeError(f"{node}: reading the node failed ({error.describe()})") from None
        live: list[dict[str, Any]] = []
        for item in props.get("interfaces") or []:
            name = str(item["iface"])
            if name not in view.items:
                continue
            spec = spec_from_api(name, view.items[name])
            if spec is None:
                continue
            observed = spec_to_dict(spec)
            for key in UNMANAGED_WHEN_NONE:
                if item.get(key) is None:
                    observed[key] = None
            live.append(observed)
        outs = {**props, "interfaces": live}
        inputs = {k: outs[k] for k in INPUT_KEYS if k in outs}
        return ReadResult(id_, outs, inputs)

    # -- helpers ---------------------------------------------------------------------------------

    def _outputs(
        self, inputs: Mapping[str, Any], live: Mapping[str, Spec], adopted: Mapping[str, Any]
    ) -> dict[str, Any]:
        names = [str(item["iface"]) for item in inputs.get("interfaces") or []]
        return {
            **{k: inputs[k] for k in (*INPUT_KEYS, "rendered") if k in inputs},
            "live": {name: spec_to_dict(live[name]) for name in names if name in live},
            "adopted": dict(adopted),
        }


def _specs(props: Mapping[str, Any]) -> list[Spec]:
    specs, problems = parse_interfaces(props.get("interfaces") or [])
    if problems:
        raise NodeError("; ".join(str(p) for p in problems))
    return specs


def _fit_problems(node: str, current: Snapshot, targets: dict[str, Spec | None]) -> list[str]:
    """Why the targets cannot be reached on this node, if they cannot."""
    try:
        plan(current.links, current.specs, targets)
    except PlanError as error:
        return [f"{node}: {error}"]
    return []


def _guard(client: Client, snap: Snapshot, targets: dict[str, Spec | None]) -> list[str]:
    """Management-path changes these targets would make on the node.

    A change that touches no interface on the path of any address the node holds cannot
    touch the management path, whichever address that is: then the cluster is not asked
    for the node's address (one request less for most changes).
    """
    held = {
        str(ipaddress.ip_interface(cidr).ip)
        for spec in snap.specs.values()
        for cidr in (spec.cidr, spec.cidr6)
        if cidr
    }
    resolved = resolve(targets, snap.specs)
    if not management_changes(client.node, held, snap.specs, snap.links, resolved):
        return []
    addresses = _management_addresses(client)
    problems = management_changes(
        client.node, addresses, snap.specs, snap.links, resolve(targets, snap.specs)
    )
    if problems:
        problems.append("set allow_management_change=True if you have console access to the node")
    return problems


def _refusals(
    client: Client, current: Snapshot, targets: dict[str, Spec | None], flags: Mapping[str, Any]
) -> list[tuple[str | None, str]]:
    """What the guards refuse whose flag is not set: (the interface, if one, and why)."""
    found: list[tuple[str | None, str]] = []
    guarded = _uncovered(targets, flags, "allow_management_change")
    if guarded:
        found += [(None, problem) for problem in _guard(client, current, guarded)]
    guarded = _uncovered(targets, flags, "allow_dhcp_to_static")
    if guarded:
        resolved = resolve(guarded, current.specs)
        found += list(dynamic_address_changes(client.node, current.links, resolved).items())
    return found


def covers(flags: Mapping[str, Any], flag: str, iface: str) -> bool:
    """Whether ``flag`` is set for ``iface``: true for the whole set, or a list naming it."""
    value = flags.get(flag)
    return iface in value if isinstance(value, list) else bool(value)


def _uncovered(
    targets: dict[str, Spec | None], flags: Mapping[str, Any], flag: str
) -> dict[str, Spec | None]:
    """The targets ``flag`` does not cover (what its guard still checks)."""
    return {name: target for name, target in targets.items() if not covers(flags, flag, name)}


def _refuse(
    client: Client, current: Snapshot, targets: dict[str, Spec | None], inputs: Mapping[str, Any]
) -> None:
    """Raise before any write if a guard refuses the change and its flag is not set."""
    if refused := _refusals(client, current, targets, inputs):
        raise NodeError("; ".join(reason for _name, reason in refused))


def _absent_nics(
    node: str, specs: list[Spec], items: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str | None, str]]:
    """(name, why) for each NIC the set has settings for that the node does not have.

    Unlike other misfits this is an error at preview: no resource can create a NIC.
    """
    nics = sorted(
        n for n, item in items.items() if item.get("type") == "eth" and item.get("exists")
    )
    found: list[tuple[str | None, str]] = []
    for spec in specs:
        item = items.get(spec.iface)
        if not isinstance(spec, EthSpec) or spec.iface in nics:
            continue
        what = f"is a {item.get('type')}" if item and item.get("type") != "eth" else "is not a NIC"
        found.append(
            (
                spec.iface,
                f"{node}: {spec.iface} {what} on this node, and no resource can create a NIC; "
                f"type eth is for the node's NICs ({', '.join(nics) or 'none'}): fix iface",
            )
        )
    return found


def _targets(specs: list[Spec], olds: Mapping[str, Any]) -> dict[str, Spec | None]:
    """The set's targets plus the removal of interfaces the previous set had."""
    targets: dict[str, Spec | None] = set_targets(specs)
    for item in olds.get("interfaces") or []:
        targets.setdefault(str(item["iface"]), None)
    return targets


def _management_addresses(client: Client) -> set[str]:
    """The addresses pvenet reaches the node by: the endpoint's and the node's cluster address."""
    addresses: set[str] = set()
    host = client.settings.host
    try:
        for info in socket.getaddrinfo(host, None):
            addresses.add(str(info[4][0]))
    except OSError:
        pass
    if ip := client.cluster_node_ip():
        addresses.add(ip)
    return addresses


class NodeInterfaces(Resource, module="pvenet", name="NodeInterfaces"):
    """A set of bridges, bonds and VLAN interfaces on one node, changed with one apply.

    ``interfaces`` is a list of dicts with ``iface``, ``type`` (bridge, bond,
    vlan, eth) and the settings of that type. ``adopt=True`` lets the set take
    over interfaces that already exist (they are restored on delete);
    ``allow_management_change=True`` lets it rewire the interface that carries
    the node's management address (its ports, addresses, gateways, MTU, bond
    mode, VLAN id or parent); ``allow_dhcp_to_static=True`` lets it write an
    interface the node addresses by DHCP (``inet dhcp``) or SLAAC (``inet6
    auto``), which Proxmox's API can only make ``manual`` or ``static``. Each flag is
    true for the whole set, or the list of the set's interfaces it covers (a set that
    gathers several networks keeps each network's flags to its own interfaces).
    """

    node: pulumi.Output[str]
    interfaces: pulumi.Output[list[dict[str, Any]]]
    rendered: pulumi.Output[str]
    live: pulumi.Output[dict[str, Any]]

    def __init__(
        self,
        resource_name: str,
        *,
        node: pulumi.Input[str],
        interfaces: pulumi.Input[list[pulumi.Input[Mapping[str, Any]]]],
        adopt: pulumi.Input[bool | list[str]] = False,
        allow_management_change: pulumi.Input[bool | list[str]] = False,
        allow_dhcp_to_static: pulumi.Input[bool | list[str]] = False,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            NodeInterfacesProvider(),
            resource_name,
            {
                "node": node,
                "interfaces": interfaces,
                "adopt": adopt,
                "allow_management_change": allow_management_change,
                "allow_dhcp_to_static": allow_dhcp_to_static,
                "rendered": None,
                "live": None,
                "adopted": None,
            },
            opts,
        )
