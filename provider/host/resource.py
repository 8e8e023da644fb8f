"""``HostRules``: one node's host rules (forwards, masquerade, forwarding, proxy_arp, routes),
as one Pulumi dynamic resource written over SSH.

``check`` validates everything at preview without SSH: the model's rules, and, reading the
node's interfaces over the API (read-only), a forward to a guest in no network of the node
and a forward that would take the port pvenet reaches the node by. ``rendered`` holds the
rules file, ``host.sh`` and the sysctl file, so ``pulumi preview --diff`` shows them.
``create``/``update``/``delete`` are one ``HostTransaction`` each (confirm-or-revert);
``read`` shows what the node runs, so ``pulumi refresh`` shows rules changed by hand.

A node has one set of host rules: the resource's id is ``<node>/host-rules#<unique>``. The provider
holds no client and no secret (``ConfiguredProvider``); the SSH settings come from
``pvenet:ssh`` or ``PVENET_SSH_*`` in ``configure``. Outside the engine (the kernel tier),
:meth:`HostRulesProvider.from_environment` gives a provider configured from the environment.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    Config,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    UpdateResult,
)

from provider import handover
from provider.addresses import IpNetwork
from provider.api.session import Call
from provider.engine import (
    ConfiguredProvider,
    coerce_numbers,
    is_unknown,
    node_input_failures,
    unexpected_inputs,
)
from provider.errors import ApiCallFailed, ConnectionSettingsError, NodeError
from provider.host.confirm import Reach
from provider.host.model import (
    EMPTY,
    HostRulesSpec,
    lockout_problems,
    parse_rules,
    reminders,
    spec_to_dict,
)
from provider.host.plan import observed_rules, verify
from provider.host.render import rendered
from provider.host.settings import SshSettings
from provider.host.transaction import HostTransaction
from provider.names import NODE_RE
from provider.node.client import Client
from provider.problems import Problem

INPUT_KEYS = ("node", "rules", "networks")
OUTPUT_KEYS = ("rendered", "drift")
NO_SSH = (
    "host rules are written over SSH, and no SSH is configured: set "
    "`pulumi config set --path pvenet:ssh.hostKey 'ssh-ed25519 AAAA...'` (and .user, "
    ".privateKey or an SSH agent), or the PVENET_SSH_* variables"
)


RULES_SET = "host-rules"
"""What a HostRules resource holds of its node (``provider.handover``): all of pvenet's rules."""


class HostRulesProvider(ConfiguredProvider):
    """The engine-facing implementation of ``HostRules``."""

    @classmethod
    def from_environment(cls) -> HostRulesProvider:
        """A provider configured from the environment only (``PROXMOX_VE_*``, ``PVENET_SSH_*``):
        what the engine would configure with no stack config."""
        provider = cls()
        provider.configure(ConfigureRequest(Config({}, "pvenet")))
        return provider

    def _ssh_settings(self) -> SshSettings:
        """The SSH settings, or why there are none (an actionable error)."""
        ssh = self.ssh
        if ssh is None:
            raise ConnectionSettingsError(NO_SSH)
        return ssh

    # -- check / diff ------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the rules, add ``rendered``; no SSH."""
        news = coerce_numbers(dict(news))
        failures = unexpected_inputs(news, "HostRules", INPUT_KEYS, OUTPUT_KEYS)
        failures += node_input_failures(news)
        node = news.get("node")
        raw = news.get("rules")
        if is_unknown(raw):
            return CheckResult(news, failures)
        if not isinstance(raw, Mapping):
            failures.append(CheckFailure("rules", f"must be an object of host rules, not {raw!r}"))
            return CheckResult(news, failures)
        spec, problems = parse_rules(raw)
        where = f"{node}: " if isinstance(node, str) and NODE_RE.fullmatch(node) else ""
        failures += [CheckFailure(f"rules.{p.path}", where + p.message) for p in problems]
        if spec is None or failures:
            return CheckResult(news, failures)
        news["rules"] = spec_to_dict(spec)
        news["rendered"] = rendered(spec)
        for reminder in reminders(spec):
            pulumi.log.warn(f"{where}{reminder}")
        declared = _declared_networks(news.get("networks"))
        if isinstance(declared, str):
            failures.append(CheckFailure("networks", declared))
        elif not is_unknown(node):
            failures += [
                CheckFailure(f"rules.{p.path}", f"{node}: {p.message}")
                for p in self._check_on_node(str(node), spec, declared)
            ]
        return CheckResult(news, failures)

    def _check_on_node(
        self, node: str, spec: HostRulesSpec, declared: Sequence[IpNetwork] = ()
    ) -> list[Problem]:
        """Preview checks that read the node over the API (no writes, no SSH); skipped when
        the node cannot be read. ``declared``: the networks the same deployment gives the
        node (not there yet at the first preview)."""
        if not self.configured:
            return []
        try:
            client = Client(self.settings, node)
            networks = node_networks(client)
            management = self._management(client, node)
        except (ApiCallFailed, NodeError) as error:
            pulumi.log.warn(f"{node}: could not read the node to check at preview: {error}")
            return []
        ssh_port = self._ssh.target(node, "")[1] if self._ssh is not None else 22
        ports = {self.settings.port: "the API", ssh_port: "SSH"}
        found = lockout_problems(spec, ports, management)
        mine = [*(ipaddress.ip_network(m.source) for m in spec.masquerade), *declared]
        for index, forward in enumerate(spec.forwards):
            if not any(forward.guest in net for net in [*networks, *mine]):
                held = ", ".join(str(n) for n in networks) or "none"
                found.append(
                    Problem(
                        f"forwards[{index}].to",
                        f"{forward.to} is in no network of the node (its networks: {held}; "
                        "masquerade sources: "
                        + (", ".join(m.source for m in spec.masquerade) or "none")
                        + "); forward to a guest on one of the node's bridges",
                    )
                )
        return found

    def _management(self, client: Client, node: str) -> set[str]:
        """The addresses pvenet reaches the node by: the endpoint's, the node's cluster
        address, and the SSH address."""
        hosts = {self.settings.host}
        if self._ssh is not None and self._ssh.address(node):
            hosts.add(self._ssh.target(node, "")[0])
        found: set[str] = set()
        for host in hosts:
            try:
                found.update(str(info[4][0]) for info in socket.getaddrinfo(host, None))
            except OSError:
                continue
        if ip := client.cluster_node_ip():
            found.add(ip)
        return found

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """``node`` replaces; the rules change in place."""
        replaces = (
            ["node"] if is_unknown(news.get("node")) or olds.get("node") != news.get("node") else []
        )
        changed = [
            key
            for key in ("node", "rules", "rendered")
            if key in news and (is_unknown(news[key]) or olds.get(key) != news[key])
        ]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    # -- create / update / delete / read --------------------------------------------------------

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Install the rules on the node (confirm-or-revert)."""
        node = str(props["node"])
        self._transaction(node).apply(_spec(node, props))
        id_ = handover.new_id(f"{node}/host-rules")
        handover.hold(self._place(node), id_, [RULES_SET])
        return CreateResult(id_, self._outputs(props))

    def update(self, id_: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Move the node to the new rules (confirm-or-revert)."""
        node = str(news["node"])
        self._transaction(node).apply(_spec(node, news))
        handover.hold(self._place(node), id_, [RULES_SET])
        return UpdateResult(self._outputs(news))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Remove everything pvenet put on the node for host rules, and nothing else; unless
        another HostRules of the node (a renamed one) took them over in this deployment."""
        node = str(props["node"])
        others = handover.held_by_others(self._place(node), id_, [RULES_SET])
        if others:
            pulumi.log.info(
                f"{node}: the host rules stay on the node: {others[RULES_SET]} took them over "
                "in this deployment"
            )
        else:
            self._transaction(node).apply(EMPTY)
        handover.release(self._place(node), id_)

    def _place(self, node: str) -> handover.Place:
        """Where the rules are: the node, as the API and SSH reach it (one cluster's node
        reached over another SSH address is another place)."""
        ssh = self.ssh
        at = (ssh.address(node) or "") if ssh is not None else ""
        return (self.settings.endpoint, f"{node} host rules {at}".rstrip())

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The rules the node runs (``pulumi refresh`` shows rules changed by hand)."""
        node = str(props["node"])
        desired = _spec(node, props)
        state = self._transaction(node).read(desired)
        observed, unknown = observed_rules(state, desired)
        drift = [str(m) for m in verify(desired, state)] + [
            f"table inet pvenet holds a rule pvenet does not write: {line}" for line in unknown
        ]
        outs = {
            **props,
            "rules": spec_to_dict(observed),
            "rendered": rendered(observed),
            "drift": drift,
        }
        return ReadResult(id_, outs, {k: outs.get(k) for k in INPUT_KEYS})

    # -- helpers ---------------------------------------------------------------------------------

    def _outputs(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "node": inputs["node"],
            "rules": inputs["rules"],
            "networks": inputs.get("networks"),
            "rendered": inputs.get("rendered") or rendered(_spec(str(inputs["node"]), inputs)),
            "drift": [],
        }

    def _transaction(self, node: str) -> HostTransaction:
        """The change of ``node``'s host rules, with connections from the settings."""
        settings, ssh = self.settings, self._ssh_settings()
        reach = Reach(settings, ssh, node)
        return HostTransaction(
            node, settings.endpoint, reach.connect, reach.api, ssh.confirm_timeout
        )


def node_networks(client: Client) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Every network the node has an address in: its interfaces' and its SDN subnets'."""
    networks = []
    body = client.session.body(
        "GET", f"/nodes/{client.node}/network", {"type": "include_sdn"}, kind=Call.READ
    )
    vnets = []
    for item in body.get("data") or []:
        if item.get("type") == "vnet":
            vnets.append(str(item.get("iface")))
        for key in ("cidr", "cidr6"):
            if item.get(key):
                networks.append(ipaddress.ip_interface(str(item[key])).network)
    for vnet in vnets:
        for subnet in (
            client.session.call("GET", f"/cluster/sdn/vnets/{vnet}/subnets", kind=Call.READ) or []
        ):
            if subnet.get("cidr"):
                networks.append(ipaddress.ip_network(str(subnet["cidr"]), strict=False))
    return networks


def _declared_networks(value: Any) -> list[IpNetwork] | str:
    """The ``networks`` input as networks, or why it is not a list of them (unknown: [])."""
    if value is None or is_unknown(value):
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"must be a list of networks such as '10.10.10.0/24', not {value!r}"
    try:
        return [ipaddress.ip_network(v, strict=False) for v in value]
    except ValueError as error:
        return f"{error}: give networks such as '10.10.10.0/24'"


def _spec(node: str, props: Mapping[str, Any]) -> HostRulesSpec:
    spec, problems = parse_rules(props.get("rules") or {})
    if spec is None:
        raise NodeError(f"{node}: " + "; ".join(str(p) for p in problems))
    return spec


class HostRules(Resource, module="pvenet", name="HostRules"):
    """One node's host rules, written over SSH into pvenet's own files (docs/host-rules.md).

    ``rules`` holds ``forwards`` (``protocol``, ``port``, ``to``, ``to_port``, ``address``,
    ``interface``, ``hairpin``, ``comment``), ``masquerade`` (``source``, ``interface``,
    ``comment``), ``ip_forward`` (``ipv4``, ``ipv6``), ``proxy_arp`` (interface names) and
    ``routes`` (``address``, ``interface``). A node has one ``HostRules``. ``networks``
    lists the guest networks the same deployment creates on the node (an SDN subnet, a
    bridge's): the preview counts them as the node's before they exist.
    """

    node: pulumi.Output[str]
    rules: pulumi.Output[dict[str, Any]]
    rendered: pulumi.Output[dict[str, str]]
    drift: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        node: pulumi.Input[str],
        rules: pulumi.Input[Mapping[str, Any]],
        networks: pulumi.Input[list[str]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(
            HostRulesProvider(),
            resource_name,
            {"node": node, "rules": rules, "networks": networks, "rendered": None, "drift": None},
            opts,
        )
