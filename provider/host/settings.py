"""How pvenet reaches a node over SSH: stack config ``pvenet:ssh``, or the environment.

``pvenet:ssh`` is an object (``pulumi config set --path pvenet:ssh.user root``):

- ``user``: the login (default ``root``); ``PVENET_SSH_USER``.
- ``privateKey``: the private key as text (a secret: ``--secret``); without it, the keys of
  the SSH agent (``SSH_AUTH_SOCK``). ``PVENET_SSH_KEY``: the key, or a key file's path.
- ``port``: default 22; ``PVENET_SSH_PORT``.
- ``hostKey``: the node's host key, ``ssh-ed25519 AAAA...``, or known_hosts lines (a list,
  or one per line); ``PVENET_SSH_HOST_KEY``.
- ``knownHosts``: a known_hosts file (default ``~/.ssh/known_hosts``);
  ``PVENET_SSH_KNOWN_HOSTS``.
- ``addresses``: per node, the address to connect to, ``host`` or ``host:port`` (default:
  the node's address in ``/cluster/status``, else the endpoint's host);
  ``PVENET_SSH_ADDRESSES`` (``pve1=10.0.0.1,pve2=127.0.0.1:2202``).
- ``confirmTimeout``: seconds before a node puts an unconfirmed change back (default 120);
  ``PVENET_SSH_CONFIRM_TIMEOUT``.

SSH is configured when ``pvenet:ssh`` or any ``PVENET_SSH_*`` variable is set; host
rules need it, and a node network change is then guarded by the confirm-or-revert timer
too. Host keys are always verified. Every mistake is refused here with what to set; no
message shows the key.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from provider.errors import ConnectionSettingsError
from provider.names import NODE_RE

DEFAULT_CONFIRM_TIMEOUT_S = 120.0
"""How long a node waits for pvenet's confirmation before it puts the change back: as
``netplan try``, long enough for a slow reconnect, short enough to wait for at a console."""
CONFIRM_TIMEOUT_RANGE_S = (1.0, 3600.0)
KEYS = ("user", "privateKey", "port", "hostKey", "knownHosts", "addresses", "confirmTimeout")
ENV = {
    "user": "PVENET_SSH_USER",
    "privateKey": "PVENET_SSH_KEY",
    "port": "PVENET_SSH_PORT",
    "hostKey": "PVENET_SSH_HOST_KEY",
    "knownHosts": "PVENET_SSH_KNOWN_HOSTS",
    "addresses": "PVENET_SSH_ADDRESSES",
    "confirmTimeout": "PVENET_SSH_CONFIRM_TIMEOUT",
}
PIN_HINT = "pulumi config set --path pvenet:ssh.hostKey"
_ADDRESS_RE = re.compile(r"[A-Za-z0-9._-]+(?::\d+)?|[0-9A-Fa-f:.]+|\[[0-9A-Fa-f:.]+\](?::\d+)?")
"""A host name or address, with an optional port: nothing a shell or ssh option reads."""


@dataclass(frozen=True)
class SshSettings:
    """How to reach nodes over SSH. ``repr`` never shows the key."""

    user: str = "root"
    private_key: str | None = field(default=None, repr=False)
    port: int = 22
    host_keys: tuple[str, ...] = ()
    known_hosts: str | None = None
    addresses: tuple[tuple[str, str], ...] = ()
    confirm_timeout: float = DEFAULT_CONFIRM_TIMEOUT_S

    def address(self, node: str) -> str | None:
        """The address set for ``node`` in ``addresses``, if one is."""
        return dict(self.addresses).get(node)

    def target(self, node: str, default_host: str) -> tuple[str, int]:
        """(host, port) to connect to for ``node``: its ``addresses`` entry (``host``,
        ``host:port``, ``[v6]:port``), else ``default_host`` on ``port``."""
        given = self.address(node)
        return split_address(given, self.port) if given else (default_host, self.port)


def split_address(text: str, port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``v6``, ``[v6]`` or ``[v6]:port`` as (host, port); ``port``
    when none is given. ValueError when the port is not one."""
    if text.startswith("["):
        host, _sep, rest = text[1:].partition("]")
        given = rest.removeprefix(":") if rest.startswith(":") else ""
        if rest and not rest.startswith(":"):
            raise ValueError(f"'{text}' is not [ADDRESS]:PORT")
    elif text.count(":") == 1:
        host, _sep, given = text.partition(":")
    else:
        host, given = text, ""
    if not given:
        return host, port
    if not given.isdigit() or not 1 <= int(given) <= 65535:
        raise ValueError(f"'{text}': {given!r} is not a port (1 to 65535)")
    return host, int(given)


def ssh_settings_from(
    config: Mapping[str, Any] | Callable[[str], Any], env: Mapping[str, str] | None = None
) -> SshSettings | None:
    """SSH settings from stack config (``ssh``, an object or its JSON) and the environment;
    None when neither sets any. ConnectionSettingsError names what is wrong."""
    env = os.environ if env is None else env
    get = config if callable(config) else config.get
    given = _object(get("ssh"))
    unknown = sorted(set(given) - set(KEYS))
    if unknown:
        raise ConnectionSettingsError(
            f"pvenet:ssh has no setting {', '.join(repr(k) for k in unknown)}; its settings are "
            + ", ".join(KEYS)
        )
    values = {key: given.get(key) for key in KEYS}
    for key, variable in ENV.items():
        if values[key] in (None, "") and env.get(variable):
            values[key] = _from_env(key, env[variable])
    if all(value in (None, "") for value in values.values()):
        return None
    return SshSettings(
        user=_user(values["user"]),
        private_key=_private_key(values["privateKey"]),
        port=_port(values["port"]),
        host_keys=_host_keys(values["hostKey"]),
        known_hosts=_known_hosts(values["knownHosts"]),
        addresses=_addresses(values["addresses"]),
        confirm_timeout=_confirm_timeout(values["confirmTimeout"]),
    )


def _object(value: Any) -> dict[str, Any]:
    """``pvenet:ssh`` as the engine sends it: an object, or its JSON text."""
    if value in (None, ""):
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ConnectionSettingsError(
                "pvenet:ssh must be an object: set its keys with "
                "`pulumi config set --path pvenet:ssh.user root` (and .privateKey, .hostKey, ...)"
            ) from None
    if not isinstance(value, Mapping):
        raise ConnectionSettingsError(
            "pvenet:ssh must be an object, such as {user: root, hostKey: 'ssh-ed25519 AAAA...'}"
        )
    return dict(value)


def _from_env(key: str, text: str) -> Any:
    if key == "privateKey" and "PRIVATE KEY" not in text:
        try:
            with open(os.path.expanduser(text), encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise ConnectionSettingsError(
                f"PVENET_SSH_KEY '{text}' is neither a private key nor a readable key file "
                f"({error.strerror})"
            ) from None
    if key == "addresses":
        pairs = [item.partition("=") for item in text.split(",") if item.strip()]
        if any(not sep for _node, sep, _address in pairs):
            raise ConnectionSettingsError(
                f"PVENET_SSH_ADDRESSES '{text}' must look like pve1=10.0.0.1,pve2=10.0.0.2"
            )
        return {node.strip(): address.strip() for node, _sep, address in pairs}
    return text


def _user(value: Any) -> str:
    if value in (None, ""):
        return "root"
    if not isinstance(value, str) or not value.replace("-", "").replace("_", "").isalnum():
        raise ConnectionSettingsError(f"pvenet:ssh.user {value!r} is not a login name")
    return value


def _private_key(value: Any) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or "PRIVATE KEY" not in value:
        raise ConnectionSettingsError(
            "pvenet:ssh.privateKey is not a private key (it is not shown here): set the key "
            "file's content, `pulumi config set --secret --path pvenet:ssh.privateKey "
            '"$(cat KEYFILE)"`, or leave it unset to use the SSH agent'
        )
    return value


def _port(value: Any) -> int:
    if value in (None, ""):
        return 22
    try:
        port = int(float(value))
    except (TypeError, ValueError):
        port = 0
    if isinstance(value, bool) or not 1 <= port <= 65535 or float(value) != port:
        raise ConnectionSettingsError(f"pvenet:ssh.port {value!r} is not a port (1 to 65535)")
    return port


def _host_keys(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    lines = value if isinstance(value, list) else str(value).splitlines()
    keys = tuple(str(line).strip() for line in lines if str(line).strip())
    for line in keys:
        words = line.split()
        if len(words) < 2 or not (_is_key_type(words[0]) or _is_key_type(words[1])):
            raise ConnectionSettingsError(
                f"pvenet:ssh.hostKey {line[:60]!r} is not a host key: give "
                "'ssh-ed25519 AAAA...' (`ssh-keyscan -t ed25519 NODE`) or a known_hosts line"
            )
    return keys


def _is_key_type(word: str) -> bool:
    return word.startswith(("ssh-", "ecdsa-sha2-", "sk-"))


def _known_hosts(value: Any) -> str | None:
    if value in (None, ""):
        return None
    path = os.path.expanduser(str(value))
    if not os.path.isfile(path):
        raise ConnectionSettingsError(
            f"pvenet:ssh.knownHosts '{value}' is not a file: point it at a known_hosts file, "
            f"or pin the node's key with `{PIN_HINT} 'ssh-ed25519 AAAA...'`"
        )
    return path


def _addresses(value: Any) -> tuple[tuple[str, str], ...]:
    if value in (None, ""):
        return ()
    if not isinstance(value, Mapping):
        raise ConnectionSettingsError(
            "pvenet:ssh.addresses must map node names to addresses, such as {pve1: 10.0.0.1}"
        )
    pairs = []
    for node, address in sorted(value.items()):
        if (
            not NODE_RE.fullmatch(str(node))
            or not isinstance(address, str)
            or not _ADDRESS_RE.fullmatch(address)
        ):
            raise ConnectionSettingsError(
                f"pvenet:ssh.addresses.{node}: {address!r} must be a node name mapped to the "
                "address or host name to connect to, with :PORT if not pvenet:ssh.port "
                "(10.0.0.1, pve1.example.net:2222, [fd00::1]:22)"
            )
        try:
            split_address(address, 22)
        except ValueError as error:
            raise ConnectionSettingsError(f"pvenet:ssh.addresses.{node}: {error}") from None
        pairs.append((str(node), address))
    return tuple(pairs)


def _confirm_timeout(value: Any) -> float:
    if value in (None, ""):
        return DEFAULT_CONFIRM_TIMEOUT_S
    low, high = CONFIRM_TIMEOUT_RANGE_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if isinstance(value, bool) or not low <= seconds <= high:
        raise ConnectionSettingsError(
            f"pvenet:ssh.confirmTimeout {value!r} must be a number of seconds from {low:g} to "
            f"{high:g}"
        )
    return seconds
