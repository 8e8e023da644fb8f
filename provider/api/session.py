"""One HTTPS session to the Proxmox API for one operation, with one retry table for every call.

Every request pvenet sends goes through :class:`ApiSession`: token auth, TLS verified
against ``caCert`` (or not, with ``insecure``), one keep-alive connection, the request
timeout of the settings, Proxmox's form encoding (1/0 booleans, repeated keys for lists).
How a failed call is retried depends only on what kind of call it is (:class:`Call`):

========== ============================================================ ===================
kind       retried when                                                 examples
========== ============================================================ ===================
READ       no answer (timeout, dropped connection), a gateway or proxy   GET anything
           answer (502, 503, 504, 595, 596) or a bare 500 that names no
           reason (Proxmox's own failures name one and repeat it)
IDEMPOTENT as READ: sending it twice does no harm                        revert, rollback
WRITE      only a lock timeout (nothing was written then); no answer     POST/PUT/DELETE of
           is raised as such (``answered=False``): it may have landed     one interface
ONCE       never: the caller decides what a lost answer means            apply (reload)
========== ============================================================ ===================

Retries back off (0.25 s, doubling) and stop after :data:`ATTEMPTS` tries. Every failure is
raised as ``provider.errors.ApiCallFailed`` with the server's reason on one line, or why no
answer came (a timeout, a lost connection, a certificate that does not verify, with what to
set).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Mapping
from typing import Any

import requests

from provider.api.settings import Settings
from provider.errors import ApiCallFailed

ATTEMPTS = 4
BACKOFF_S = 0.25
GATEWAY_STATUS = frozenset({502, 503, 504, 595, 596})
"""Proxy and gateway failures, and pveproxy's answers for a node it could not reach."""
BARE_500 = ("", "Internal Server Error")
"""A 500 whose reason is one of these says nothing of its own: a crashed worker, a proxy."""
LOCK_TIMEOUTS = (
    "can't lock file '/etc/network/.pve-interfaces.lock' - got timeout",
    "got lock request timeout",  # the cluster filesystem's lock (SDN config)
)


class Call(enum.Enum):
    """What a call is, which decides when it is sent again (see the module's table)."""

    READ = "read"
    IDEMPOTENT = "idempotent"
    WRITE = "write"
    ONCE = "once"


def form(params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Parameters in Proxmox's form encoding: 1/0 booleans, lists as repeated keys."""
    encoded: dict[str, Any] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        encoded[key] = (1 if value else 0) if isinstance(value, bool) else value
    return encoded


class ApiSession:
    """One keep-alive HTTPS session to one cluster's API; see the module for its rules."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._base = f"https://{settings.host}:{settings.port}/api2/json"
        self._http = requests.Session()
        self._http.headers["Authorization"] = f"PVEAPIToken={settings.token}"

    def close(self) -> None:
        """Close the connection."""
        self._http.close()

    def call(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, kind: Call
    ) -> Any:
        """The ``data`` of the answer to one call, sent again as ``kind`` allows."""
        return self.body(method, path, params, kind=kind).get("data")

    def body(
        self, method: str, path: str, params: Mapping[str, Any] | None = None, *, kind: Call
    ) -> dict[str, Any]:
        """The whole JSON body of the answer (``data`` and what sits beside it)."""
        attempt = 0
        while True:
            try:
                return self._send(method, path, params)
            except ApiCallFailed as failure:
                attempt += 1
                if attempt >= ATTEMPTS or not _worth_again(failure, kind):
                    raise
            time.sleep(BACKOFF_S * 2 ** (attempt - 1))

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
        call = f"{method} {path}"
        encoded = form(params)
        query = method in ("GET", "DELETE")
        try:
            response = self._http.request(
                method,
                self._base + path,
                params=encoded if query else None,
                data=None if query else encoded,
                # per request: a session-wide setting loses to REQUESTS_CA_BUNDLE in the environment
                verify=self.settings.verify,
                timeout=self.settings.timeout,
            )
        except requests.exceptions.SSLError:
            raise ApiCallFailed(
                call,
                f"the certificate of {self.settings.endpoint} does not verify"
                + (
                    f" against pvenet:caCert ({self.settings.ca_cert})"
                    if self.settings.ca_cert
                    else " against the system's CAs"
                )
                + ": set pvenet:caCert to the cluster's CA (/etc/pve/pve-root-ca.pem on any "
                "node), or pvenet:insecure true to skip verification",
            ) from None
        except requests.exceptions.Timeout:
            raise ApiCallFailed(
                call,
                f"no answer from {self.settings.endpoint} within {self.settings.timeout:g} s "
                f"({call})",
                answered=False,
            ) from None
        except requests.exceptions.ConnectionError as error:
            raise ApiCallFailed(
                call,
                f"the connection to {self.settings.endpoint} failed ({call}): {_reason(error)}",
                answered=False,
            ) from None
        body = _json_body(response)
        if response.status_code >= 400:
            message = str(body.get("message") or response.reason or "").strip()
            if "hostname lookup '" in message:
                message += " (the cluster has no node of that name: check the node names)"
            errors = body.get("errors")
            raise ApiCallFailed(
                call,
                " / ".join(line.strip() for line in message.splitlines() if line.strip()),
                status=response.status_code,
                errors={str(k): str(v).strip() for k, v in errors.items()}
                if isinstance(errors, dict)
                else None,
            )
        return body


def passing(failure: ApiCallFailed) -> bool:
    """Whether a failure may pass if the call is made again: no answer, a gateway's or
    proxy's answer, or a bare 500 (Proxmox's own refusals name their reason and repeat it)."""
    if not failure.answered:
        return True
    return failure.status in GATEWAY_STATUS or (
        failure.status == 500 and failure.message in BARE_500
    )


def _worth_again(failure: ApiCallFailed, kind: Call) -> bool:
    """Whether the retry table sends this call again after ``failure``."""
    if kind is Call.ONCE:
        return False
    if kind is Call.WRITE:
        return any(text in failure.message for text in LOCK_TIMEOUTS)
    return passing(failure)


def _json_body(response: requests.Response) -> dict[str, Any]:
    """The JSON object of an answer, or {} when its body is not one (an error page, nothing)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _reason(error: requests.exceptions.ConnectionError) -> str:
    """The innermost reason of a connection failure, on one line, without object addresses."""
    inner: object = error.args[0] if error.args else error
    inner = getattr(inner, "reason", inner)  # urllib3's MaxRetryError wraps the real reason
    if isinstance(inner, BaseException) and inner.args and isinstance(inner.args[-1], Exception):
        inner = inner.args[-1]  # ProtocolError('Connection aborted.', RemoteDisconnected(...))
    text = str(inner)
    if "object at 0x" in text and ">: " in text:
        text = text.split(">: ", 1)[1]
    return " ".join(text.split()) or "connection lost"
