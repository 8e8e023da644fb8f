"""Where and how to reach the Proxmox API: endpoint, token, TLS, request timeout.

Stack config (``pvenet:endpoint``, ``pvenet:apiToken``, ``pvenet:insecure``,
``pvenet:caCert``, ``pvenet:timeout``) wins over the environment
(``PROXMOX_VE_ENDPOINT``, ``PROXMOX_VE_API_TOKEN``, ``PROXMOX_VE_INSECURE``,
``PROXMOX_VE_CA_CERT``, ``PROXMOX_VE_TIMEOUT``). TLS is verified unless
``insecure`` is set. Every mistake is refused here, before any request, with
what to set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from provider.errors import ConnectionSettingsError

DEFAULT_TIMEOUT_S = 30.0
"""How long one request may wait for an answer: a reload of a big config answers in seconds."""
TIMEOUT_RANGE_S = (0.1, 600.0)


@dataclass(frozen=True)
class Settings:
    """Where and how to reach the Proxmox API. ``repr`` never shows the token."""

    endpoint: str
    token: str
    insecure: bool = False
    ca_cert: str | None = None
    timeout: float = DEFAULT_TIMEOUT_S

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
    split_token(str(token))
    if ca_cert and not insecure and not os.path.isfile(str(ca_cert)):
        raise ConnectionSettingsError(
            f"pvenet:caCert '{ca_cert}' is not a file: copy the cluster's CA "
            "(/etc/pve/pve-root-ca.pem on any node) there, or point pvenet:caCert at it"
        )
    return Settings(
        str(endpoint).rstrip("/"),
        str(token),
        insecure,
        str(ca_cert) if ca_cert else None,
        _timeout(get("timeout") or env.get("PROXMOX_VE_TIMEOUT")),
    )


def _timeout(value: Any) -> float:
    if value in (None, ""):
        return DEFAULT_TIMEOUT_S
    low, high = TIMEOUT_RANGE_S
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if not low <= seconds <= high:
        raise ConnectionSettingsError(
            f"pvenet:timeout '{value}' must be a number of seconds from {low:g} to {high:g}"
        )
    return seconds


def split_token(token: str) -> tuple[str, str, str]:
    """``USER@REALM!ID=SECRET`` as (user, id, secret); ConnectionSettingsError otherwise."""
    user_and_id, sep, secret = token.partition("=")
    user, bang, token_id = user_and_id.partition("!")
    if not (sep and bang and "@" in user and token_id and secret):
        raise ConnectionSettingsError(
            "the API token must look like USER@REALM!TOKENID=SECRET (the secret is not shown here)"
        )
    return user, token_id, secret
