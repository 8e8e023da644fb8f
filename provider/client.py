"""The one module that talks to Proxmox: sessions, retries, raw reads, task waits.

Connection settings come from stack config (``pvenet:endpoint``,
``pvenet:apiToken``, ``pvenet:insecure``, ``pvenet:caCert``) or the
environment (``PROXMOX_VE_ENDPOINT``, ``PROXMOX_VE_API_TOKEN``,
``PROXMOX_VE_INSECURE``). TLS is verified unless ``insecure`` is set. A
``Client`` is built per operation and never stored on a provider, so nothing
secret ends up in Pulumi state.

Only this module knows Proxmox's wire format: hyphenated names
(``bond-primary``), space-separated lists, 1/0 booleans, ``delete=`` lists.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from proxmoxer import ProxmoxAPI
from proxmoxer.core import ResourceException

from provider.errors import ConnectionSettingsError, NodeError
from provider.model import (
    DOTTED_VLAN_RE,
    NUMBERED_VLAN_RE,
    BondSpec,
    BridgeSpec,
    EthSpec,
    Spec,
    VlanSpec,
)
from provider.plan import Link

T = TypeVar("T")

CALL_ERRORS = (ResourceException, requests.exceptions.RequestException)
"""What an API call raises when the node refuses it or cannot be reached."""

TASK_TIMEOUT_S = 120.0  # a reload of a big config takes seconds; Proxmox's own GUI waits this long
TASK_POLL_S = 0.2
READ_ATTEMPTS = 4
LOCK_ATTEMPTS = 4
RETRY_BACKOFF_S = 0.25
HTTP_TIMEOUT_S = 30.0
# Answers worth asking again: proxy and gateway failures, and pveproxy's 595/596 for a node
# it could not reach. A plain 500 is Proxmox's `die` and says the same the next time.
TRANSIENT_STATUS = frozenset({502, 503, 504, 595, 596})
LOCK_TIMEOUT_MESSAGE = "can't lock file '/etc/network/.pve-interfaces.lock' - got timeout"

_node_locks: dict[str, threading.Lock] = {}
_node_locks_guard = threading.Lock()


def node_lock(endpoint: str, node: str) -> threading.Lock:
    """The lock that serialises applies to one node within this provider process."""
    with _node_locks_guard:
        return _node_locks.setdefault(f"{endpoint}/{node}", threading.Lock())


@dataclass(frozen=True)
class Settings:
    """Where and how to reach the Proxmox API. ``repr`` never shows the token."""

    endpoint: str
    token: str
    insecure: bool = False
    ca_cert: str | None = None

    def __repr__(self) -> str:
        return f"Settings(endpoint={self.endpoint!r}, token=<hidden>, insecure={self.insecure})"

    @property
    def host(self) -> str:
        """The endpoint's host name or address."""
        return urlsplit(self.endpoint).hostname or ""

    @property
    def port(self) -> int:
        """The endpoint's port (8006 when not given)."""
        return urlsplit(self.endpoint).port or 8006

    @property
    def verify(self) -> bool | str:
        """What requests should verify the server certificate against."""
        if self.insecure:
            return False
        return self.ca_cert or True


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def settings_from(
    config: Mapping[str, Any] | Callable[[str], Any], env: Mapping[str, str] | None = None
) -> Settings:
    """Settings from stack config (a mapping or a ``get`` function) with environment fallbacks."""
    env = os.environ if env is None else env
    get = config if callable(config) else config.get
    endpoint = get("endpoint") or env.get("PROXMOX_VE_ENDPOINT")
    token = get("apiToken") or env.get("PROXMOX_VE_API_TOKEN")
    insecure_value = get("insecure")
    insecure = (
        _truthy(str(insecure_value))
        if insecure_value is not None
        else _truthy(env.get("PROXMOX_VE_INSECURE"))
    )
    ca_cert = get("caCert") or env.get("PROXMOX_VE_CA_CERT")
    if not endpoint:
        raise ConnectionSettingsError(
            "no Proxmox endpoint: run `pulumi config set pvenet:endpoint https://HOST:8006` "
            "or set PROXMOX_VE_ENDPOINT"
        )
    parts = urlsplit(str(endpoint))
    if parts.scheme != "https" or not parts.hostname:
        raise ConnectionSettingsError(
            f"pvenet:endpoint '{endpoint}' must be an https URL such as https://pve1.example.net:8006"
        )
    if not token:
        raise ConnectionSettingsError(
            "no API token: run `pulumi config set --secret pvenet:apiToken 'USER@REALM!ID=SECRET'` "
            "or set PROXMOX_VE_API_TOKEN"
        )
    _split_token(str(token))
    return Settings(
        str(endpoint).rstrip("/"), str(token), insecure, str(ca_cert) if ca_cert else None
    )


def _split_token(token: str) -> tuple[str, str, str]:
    user_and_id, sep, secret = token.partition("=")
    user, bang, token_id = user_and_id.partition("!")
    if not (sep and bang and "@" in user and token_id and secret):
        raise ConnectionSettingsError(
            "the API token must look like USER@REALM!TOKENID=SECRET (the secret is not shown here)"
        )
    return user, token_id, secret


@dataclass(frozen=True)
class NodeView:
    """A node's interfaces as the API lists them, and the pending-changes diff if any."""

    items: dict[str, dict[str, Any]]
    changes: str | None


@dataclass(frozen=True)
class TaskResult:
    """A finished worker task: its exit status and log."""

    upid: str
    exitstatus: str
    log: list[str]

    @property
    def ok(self) -> bool:
        """Whether the task ended with OK."""
        return self.exitstatus == "OK"


def describe(error: Exception) -> str:
    """A one-line account of a failed API call, with Proxmox's per-parameter errors."""
    if isinstance(error, ResourceException):
        text = f"HTTP {error.status_code}: {error.content}"
        if error.errors:
            text += (
                " ("
                + "; ".join(f"{k}: {str(v).strip()}" for k, v in sorted(error.errors.items()))
                + ")"
            )
        return text
    if isinstance(error, requests.exceptions.RequestException):
        return f"connection failed: {type(error).__name__}"
    return str(error)


def _is_lock_timeout(error: Exception) -> bool:
    return isinstance(error, ResourceException) and LOCK_TIMEOUT_MESSAGE in str(error.content)


class Client:
    """API calls for one node's network, with the retries each kind of call can bear."""

    def __init__(self, settings: Settings, node: str) -> None:
        self.settings = settings
        self.node = node
        user, token_id, secret = _split_token(settings.token)
        self._api = ProxmoxAPI(
            f"{settings.host}:{settings.port}",
            user=user,
            token_name=token_id,
            token_value=secret,
            verify_ssl=settings.verify,
            timeout=HTTP_TIMEOUT_S,
        )
        self._auth_header = f"PVEAPIToken={settings.token}"
        self._base = f"https://{settings.host}:{settings.port}/api2/json"

    # -- plumbing --------------------------------------------------------------------------

    def _read(self, call: Callable[[], T]) -> T:
        """An idempotent read: retried on dropped connections and transient answers."""
        for attempt in range(READ_ATTEMPTS):
            try:
                return call()
            except requests.exceptions.ConnectionError:
                if attempt == READ_ATTEMPTS - 1:
                    raise
            except ResourceException as error:
                if error.status_code not in TRANSIENT_STATUS or attempt == READ_ATTEMPTS - 1:
                    raise
            time.sleep(RETRY_BACKOFF_S * (attempt + 1))
        raise AssertionError("unreachable")

    def _write(self, call: Callable[[], T]) -> T:
        """A staged write: retried only when the interfaces lock timed out (nothing was written)."""
        for attempt in range(LOCK_ATTEMPTS):
            try:
                return call()
            except ResourceException as error:
                if not _is_lock_timeout(error) or attempt == LOCK_ATTEMPTS - 1:
                    raise
            time.sleep(RETRY_BACKOFF_S * (attempt + 1))
        raise AssertionError("unreachable")

    @property
    def _network(self) -> Any:
        return self._api.nodes(self.node).network

    # -- reads -----------------------------------------------------------------------------

    def view(self) -> NodeView:
        """All interfaces (pending config when changes are staged) and the raw ``changes`` diff.

        proxmoxer returns only ``data``; ``changes`` sits beside it, so this is a raw request.
        """

        def fetch() -> NodeView:
            response = requests.get(
                f"{self._base}/nodes/{self.node}/network",
                headers={"Authorization": self._auth_header},
                verify=self.settings.verify,
                timeout=HTTP_TIMEOUT_S,
            )
            if response.status_code >= 400:
                body = json_or_empty(response)
                raise ResourceException(
                    response.status_code, response.reason, response.reason, body.get("errors")
                )
            body = response.json()
            items = {item["iface"]: item for item in body.get("data") or []}
            return NodeView(items, body.get("changes"))

        return self._read(fetch)

    def cluster_node_ip(self) -> str | None:
        """The node's address as the cluster knows it (``/cluster/status``), if listed."""
        try:
            status = self._read(self._api.cluster.status.get)
        except ResourceException:
            return None
        for entry in status or []:
            if entry.get("type") == "node" and entry.get("name") == self.node:
                return str(entry["ip"]) if entry.get("ip") else None
        return None

    # -- writes ----------------------------------------------------------------------------

    def create(self, iface: str, params: Mapping[str, Any]) -> None:
        """POST one interface to the staged config."""
        self._write(lambda: self._network.post(iface=iface, **params))

    def update(self, iface: str, params: Mapping[str, Any]) -> None:
        """PUT one interface in the staged config."""
        self._write(lambda: self._network(iface).put(**params))

    def delete(self, iface: str) -> None:
        """DELETE one interface from the staged config."""
        self._write(lambda: self._network(iface).delete())

    def revert(self) -> None:
        """Discard every staged change (DELETE /nodes/{node}/network)."""
        self._read(self._network.delete)

    def apply(self) -> str:
        """Start the reload of the staged config; returns the task's UPID."""
        return str(self._network.put())

    def wait(self, upid: str, timeout: float = TASK_TIMEOUT_S) -> TaskResult:
        """Poll a task until it stops; its exit status and log."""
        tasks = self._api.nodes(self.node).tasks(upid)
        deadline = time.monotonic() + timeout
        while True:
            status = self._read(tasks.status.get)
            if status.get("status") == "stopped":
                log = self._read(lambda: tasks.log.get(limit=1000))
                return TaskResult(
                    upid, str(status.get("exitstatus")), [line.get("t", "") for line in log]
                )
            if time.monotonic() > deadline:
                raise NodeError(f"{self.node}: task {upid} still running after {timeout:.0f} s")
            time.sleep(TASK_POLL_S)


def json_or_empty(response: requests.Response) -> dict[str, Any]:
    """The JSON object of an answer, or {} when its body is not one (an error page, nothing)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


# --- wire format ---------------------------------------------------------------------------

_COMMON_KEYS = ("cidr", "gateway", "cidr6", "gateway6", "mtu", "comments")
DYNAMIC_METHODS = ("dhcp", "auto")
"""``method``/``method6`` values by which the node gets its address itself (DHCP, SLAAC)."""


def _split(value: Any) -> list[str]:
    return sorted(str(value or "").replace(",", " ").replace(";", " ").split())


def spec_from_api(name: str, item: Mapping[str, Any]) -> Spec | None:
    """The spec of an interface as the API shows it, or None for types pvenet does not model."""
    common: dict[str, Any] = {
        "iface": name,
        "cidr": item.get("cidr"),
        "gateway": item.get("gateway") or None,
        "cidr6": item.get("cidr6"),
        "gateway6": item.get("gateway6") or None,
        "mtu": int(item["mtu"]) if item.get("mtu") else None,
        "autostart": bool(int(item.get("autostart") or 0)),
        "comments": str(item["comments"]).removesuffix("\n") if item.get("comments") else None,
    }
    kind = item.get("type")
    if kind == "bridge":
        aware = bool(item.get("bridge_vlan_aware"))
        return BridgeSpec.model_construct(
            **common,
            type="bridge",
            bridge_ports=_split(item.get("bridge_ports")),
            bridge_vlan_aware=aware,
            bridge_vids=str(item.get("bridge_vids") or "2-4094").split() if aware else None,
        )
    if kind == "bond":
        return BondSpec.model_construct(
            **common,
            type="bond",
            slaves=_split(item.get("slaves")),
            bond_mode=item.get("bond_mode") or "balance-rr",
            bond_primary=item.get("bond-primary") or None,
            bond_xmit_hash_policy=item.get("bond_xmit_hash_policy") or None,
        )
    if kind == "vlan":
        return VlanSpec.model_construct(
            **common,
            type="vlan",
            **_vlan_fields(name, item.get("vlan-raw-device"), item.get("vlan-id")),
        )
    if kind == "eth":
        return EthSpec.model_construct(**common, type="eth")
    return None


def _vlan_fields(name: str, raw_device: Any, vlan_id: Any) -> dict[str, Any]:
    """VLAN fields in canonical form: nothing the name already says."""
    if DOTTED_VLAN_RE.fullmatch(name):
        return {"vlan_raw_device": None, "vlan_id": None}
    if NUMBERED_VLAN_RE.fullmatch(name):
        return {"vlan_raw_device": raw_device or None, "vlan_id": None}
    return {"vlan_raw_device": raw_device or None, "vlan_id": int(vlan_id) if vlan_id else None}


def canonical(spec: Spec) -> Spec:
    """A desired spec in the form the API reads back (VLAN ids from names, default VIDs)."""
    if isinstance(spec, VlanSpec):
        return spec.model_copy(update=_vlan_fields(spec.iface, spec.vlan_raw_device, spec.vlan_id))
    if isinstance(spec, BridgeSpec) and spec.bridge_vlan_aware and spec.bridge_vids is None:
        return spec.model_copy(update={"bridge_vids": ["2-4094"]})
    return spec


def link_from_api(name: str, item: Mapping[str, Any]) -> Link:
    """The planner's view of any interface the API lists."""
    kind = str(item.get("type") or "unknown")
    ports = _split(
        item.get("bridge_ports")
        if kind == "bridge"
        else item.get("slaves")
        if kind == "bond"
        else ""
    )
    parent = item.get("vlan-raw-device") if kind == "vlan" else None
    dotted = DOTTED_VLAN_RE.fullmatch(name)
    return Link(
        name=name,
        kind=kind,
        ports=frozenset(ports),
        parent=dotted["parent"] if dotted and kind == "vlan" else parent,
        mtu=int(item["mtu"]) if str(item.get("mtu") or "").isdigit() else None,
        gateway=bool(item.get("gateway")),
        gateway6=bool(item.get("gateway6")),
        addressed=(item.get("method") == "static" and bool(item.get("address")))
        or (item.get("method6") == "static" and bool(item.get("address6"))),
        primary=item.get("bond-primary") if kind == "bond" else None,
        dynamic=", ".join(
            f"{family} {item[key]}"
            for family, key in (("inet", "method"), ("inet6", "method6"))
            if item.get(key) in DYNAMIC_METHODS
        )
        or None,
    )


def stanza_of(spec: Spec) -> dict[str, Any]:
    """The interface as Proxmox stores it after POSTing ``spec`` (for rendering at preview)."""
    stanza: dict[str, Any] = {k: v for k, v in to_params(spec, None).items() if k != "delete"}
    for suffix in ("", "6"):
        if cidr := stanza.pop("cidr" + suffix, None):
            stanza["address" + suffix], stanza["netmask" + suffix] = str(cidr).rsplit("/", 1)
    families = [f for f, s in (("inet", ""), ("inet6", "6")) if stanza.get("address" + s)]
    stanza["families"] = families or ["inet"]
    stanza["method"] = "static" if stanza.get("address") else "manual"
    stanza["method6"] = "static" if stanza.get("address6") else "manual"
    return stanza


def _wire_settings(spec: Spec) -> dict[str, Any]:
    """Every setting of ``spec`` under its wire name; None where the spec has none."""
    values: dict[str, Any] = {key: getattr(spec, key) for key in _COMMON_KEYS}
    if isinstance(spec, BridgeSpec):
        values["bridge_ports"] = " ".join(spec.bridge_ports) or None
        values["bridge_vlan_aware"] = 1 if spec.bridge_vlan_aware else None
        values["bridge_vids"] = " ".join(spec.bridge_vids) if spec.bridge_vids else None
    if isinstance(spec, BondSpec):
        values["slaves"] = " ".join(spec.slaves) or None
        values["bond_mode"] = spec.bond_mode
        values["bond-primary"] = spec.bond_primary
        values["bond_xmit_hash_policy"] = spec.bond_xmit_hash_policy
    if isinstance(spec, VlanSpec) and not DOTTED_VLAN_RE.fullmatch(spec.iface):
        values["vlan-raw-device"] = spec.vlan_raw_device
        if not NUMBERED_VLAN_RE.fullmatch(spec.iface):
            values["vlan-id"] = spec.vlan_id
    return values


def to_params(spec: Spec, before: Spec | None) -> dict[str, Any]:
    """Form parameters that make the staged interface equal ``spec``.

    PUT recomputes the address family and method from the request alone, so
    every write carries the full L3 state; settings ``before`` had and ``spec``
    lacks are removed with ``delete=``.
    """
    params: dict[str, Any] = {"type": spec.type, "autostart": 1 if spec.autostart else 0}
    wanted = _wire_settings(spec)
    had = _wire_settings(before) if before is not None else {}
    params.update({key: value for key, value in wanted.items() if value is not None})
    removed = sorted(
        key for key, value in had.items() if value is not None and wanted.get(key) is None
    )
    if removed:
        params["delete"] = ",".join(removed)
    return params
