"""Authentication as pveproxy performs it: API tokens, tickets, CSRF tokens and the login call.

pveproxy accepts three kinds of credentials on ``/api2/json``, looked up in
this order (PVE::APIServer::AnyEvent ``authenticate_and_handle_request``):

1. a ticket in the ``PVEAuthCookie`` cookie;
2. a ticket in the ``Authorization`` header as ``PVEAuthCookie=<ticket>``;
3. an API token in the ``Authorization`` header as
   ``PVEAPIToken=USER@REALM!TOKENID=SECRET``.

Only ``GET /access/domains`` and ``GET|POST /access/ticket`` work without
them. A request with a ticket must also carry a matching
``CSRFPreventionToken`` header unless it is a GET; token requests never need
one. Every failure is a 401 whose reason phrase is the Perl ``die`` message,
which is what proxmoxer shows ("No ticket", "invalid token value!",
"permission denied - invalid PVE ticket",
"Permission denied - invalid csrf token"); the login call answers a bad
user or password with "authentication failure" and nothing more, so that
user names cannot be probed.

The users, the API token, the password and the signing keys live in
``<state>/auth.json`` (mode 0600). Secrets are kept in clear there because
the simulator must hand them to its user again on every start; that file is
the only place they are written.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import secrets
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from simulator.api import Reply, Request, Router
from simulator.errors import ApiError, unauthorized
from simulator.schema import Param, validate

AUTH_FILE = "auth.json"
COOKIE_NAME = "PVEAuthCookie"
TOKEN_PREFIX = "PVEAPIToken"
CSRF_HEADER = "CSRFPreventionToken"

PASSWORD_USER = "root@pam"
DEFAULT_TOKEN_USER = "root@pam"
DEFAULT_TOKEN_NAME = "pvenet"

# PVE::AccessControl: a ticket (and a CSRF token) is good for two hours ...
TICKET_LIFETIME_S = 2 * 60 * 60
# ... and may come from a clock up to five minutes ahead ($auth_graceperiod).
CLOCK_SKEW_S = 5 * 60

# pveproxy's messages, verbatim (PVE::AccessControl, PVE::Ticket, PVE::HTTPServer).
NO_TICKET = "No ticket\n"
INVALID_TICKET = "permission denied - invalid PVE ticket\n"
INVALID_CSRF = "Permission denied - invalid csrf token\n"
INVALID_TOKEN_VALUE = "invalid token value!\n"
NO_TOKENID = "no tokenid specified\n"
LOGIN_FAILED = "authentication failure\n"

# PVE::Auth::Plugin's user and realm patterns; a token id reuses the realm pattern.
_USER_RE = r"[^\s:/]+"
_REALM_RE = r"[A-Za-z][A-Za-z.\-_]+"
_TOKENID_RE = re.compile(rf"(({_USER_RE})@({_REALM_RE}))!({_REALM_RE})")
_USERID_RE = re.compile(rf"{_USER_RE}@{_REALM_RE}")
_TICKET_RE = re.compile(r"(PVE:\S+)::([^:\s]+)")
_TICKET_PLAIN_RE = re.compile(r"PVE:(?:(\S+):)?([A-Z0-9]{8})")
_CSRF_RE = re.compile(r"([A-Z0-9]{8}):(\S+)")

# No authentication needed for these (PVE::HTTPServer::auth_handler).
_PUBLIC = {("GET", "/access/domains"), ("GET", "/access/ticket"), ("POST", "/access/ticket")}

_LOGIN_SCHEMA = {
    "username": Param(optional=False, max_length=64),
    "password": Param(optional=False),
    "realm": Param(max_length=32),
    "otp": Param(),
    "path": Param(max_length=64),
    "privs": Param(),
    "new-format": Param(type="boolean"),
    "tfa-challenge": Param(),
}

_PRIVS = {
    "vms": ["VM.Allocate", "VM.Audit", "VM.Config.Network", "VM.Console", "VM.PowerMgmt"],
    "storage": ["Datastore.Allocate", "Datastore.AllocateSpace", "Datastore.Audit"],
    "access": ["Group.Allocate", "Permissions.Modify", "User.Modify"],
    "nodes": ["Permissions.Modify", "Sys.Audit", "Sys.Console", "Sys.Modify", "Sys.PowerMgmt"],
    "dc": ["SDN.Allocate", "SDN.Audit", "SDN.Use", "Sys.Audit", "Sys.Modify"],
    "sdn": ["Permissions.Modify", "SDN.Allocate", "SDN.Audit", "SDN.Use"],
    "mapping": ["Mapping.Audit", "Mapping.Modify", "Mapping.Use"],
}


@dataclass(frozen=True)
class ApiToken:
    """An API token: ``USER@REALM!NAME`` and its secret value."""

    user: str
    name: str
    secret: str

    @property
    def tokenid(self) -> str:
        """``USER@REALM!NAME``, the id Proxmox runs the token's requests as."""
        return f"{self.user}!{self.name}"

    @property
    def full(self) -> str:
        """``USER@REALM!NAME=SECRET``, the form clients are configured with."""
        return f"{self.tokenid}={self.secret}"

    @classmethod
    def parse(cls, text: str) -> ApiToken:
        """Read ``USER@REALM!NAME=SECRET``; ValueError says what part is wrong."""
        tokenid, sep, secret = text.rpartition("=")
        if not sep or not secret:
            raise ValueError("an API token looks like USER@REALM!NAME=SECRET (no '=SECRET' found)")
        match = _TOKENID_RE.fullmatch(tokenid)
        if not match:
            raise ValueError(f"'{tokenid}' is not a token id of the form USER@REALM!NAME")
        return cls(user=match[1], name=match[4], secret=secret)


@dataclass(frozen=True)
class Credentials:
    """The three request headers pveproxy authenticates with (None when absent)."""

    authorization: str | None = None
    cookie: str | None = None
    csrf_token: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Credentials:
        """Pick the credentials out of request headers (use a case-insensitive mapping)."""
        return cls(
            authorization=headers.get("Authorization"),
            cookie=headers.get("Cookie"),
            csrf_token=headers.get(CSRF_HEADER),
        )


def extract_auth_value(header: str | None, key: str) -> str | None:
    """The value after ``key=`` (or ``key ``) in a Cookie or Authorization header, unescaped."""
    if not header:
        return None
    match = re.search(rf"(?:^|\s){re.escape(key)}(?:=| )([^;]*)", header)
    if not match or not match[1]:
        return None
    return unquote(match[1])


def _hextime(now: float) -> str:
    return f"{int(now):08X}"


def _fresh(hextime: str, now: float) -> bool:
    """Whether a token stamped ``hextime`` is inside PVE's (-grace, lifetime) age window."""
    try:
        age = int(now) - int(hextime, 16)
    except ValueError:
        return False
    return -CLOCK_SKEW_S < age < TICKET_LIFETIME_S


def _sign(key: str, text: str) -> str:
    digest = hmac.new(bytes.fromhex(key), text.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode().rstrip("=")


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` atomically with a file only its owner can read."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)


class Auth:
    """Users, the API token and ticket signing of one simulator, persisted in ``auth.json``."""

    def __init__(self, path: Path, token: str | None = None, password: str | None = None) -> None:
        """Load ``path`` (or create it with a random token and password).

        ``token`` (``USER@REALM!NAME=SECRET``) replaces the stored API token
        and ``password`` the password of ``root@pam``; both are saved, so a
        later start without them keeps them. ValueError for a malformed token.
        """
        self.path = Path(path)
        data = json.loads(self.path.read_text()) if self.path.exists() else {}
        if token is not None:
            self._token = ApiToken.parse(token)
        elif "token" in data:
            self._token = ApiToken(**data["token"])
        else:
            self._token = ApiToken(DEFAULT_TOKEN_USER, DEFAULT_TOKEN_NAME, str(uuid.uuid4()))
        self._password: str = password or data.get("password") or secrets.token_urlsafe(18)
        self._ticket_key: str = data.get("ticket_key") or secrets.token_hex(32)
        self._csrf_key: str = data.get("csrf_key") or secrets.token_hex(32)
        saved = {
            "token": {
                "user": self._token.user,
                "name": self._token.name,
                "secret": self._token.secret,
            },
            "password": self._password,
            "ticket_key": self._ticket_key,
            "csrf_key": self._csrf_key,
        }
        if saved != data:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write_private(self.path, json.dumps(saved, indent=2) + "\n")

    @property
    def token(self) -> ApiToken:
        """The API token clients may use."""
        return self._token

    @property
    def password(self) -> str:
        """The password of ``root@pam`` for ticket login."""
        return self._password

    @property
    def users(self) -> set[str]:
        """The users that exist: ``root@pam`` and the token's user."""
        return {PASSWORD_USER, self._token.user}

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in logs: the token secret and the password."""
        return (self._token.secret, self._password)

    # -- tickets and CSRF tokens -------------------------------------------------------------

    def issue_ticket(self, user: str, now: float | None = None) -> str:
        """A ticket for ``user``: ``PVE:USER:HEXTIME::SIGNATURE``, good for two hours."""
        plain = f"PVE:{user}:{_hextime(time.time() if now is None else now)}"
        return f"{plain}::{_sign(self._ticket_key, plain)}"

    def issue_csrf_token(self, user: str, now: float | None = None) -> str:
        """The CSRF prevention token for ``user``: ``HEXTIME:SIGNATURE``."""
        stamp = _hextime(time.time() if now is None else now)
        return f"{stamp}:{_sign(self._csrf_key, f'{stamp}:{user}')}"

    def ticket_user(self, ticket: str) -> str | None:
        """The user of a valid, unexpired ticket; None for anything else."""
        match = _TICKET_RE.fullmatch(ticket)
        if not match:
            return None
        plain, signature = match.groups()
        if not hmac.compare_digest(signature, _sign(self._ticket_key, plain)):
            return None
        fields = _TICKET_PLAIN_RE.fullmatch(plain)
        if not fields or not fields[1] or not _fresh(fields[2], time.time()):
            return None
        user = fields[1]
        return user if _USERID_RE.fullmatch(user) else None

    def _check_csrf(self, user: str, token: str | None) -> None:
        match = _CSRF_RE.fullmatch(token or "")
        if match:
            stamp, signature = match.groups()
            expected = _sign(self._csrf_key, f"{stamp}:{user}")
            if hmac.compare_digest(signature, expected) and _fresh(stamp, time.time()):
                return
        raise unauthorized(INVALID_CSRF)

    def _token_user(self, api_token: str) -> str:
        """PVE::AccessControl::verify_token: the token id, or its exact failure message."""
        tokenid, sep, value = api_token.rpartition("=")
        if not sep:
            raise unauthorized(NO_TOKENID)
        match = _TOKENID_RE.fullmatch(tokenid)
        if not match:
            raise unauthorized(
                f"'{tokenid}' is not a valid token ID - not able to split into user and token "
                "parts\n"
            )
        user, name = match[1], match[4]
        if user not in self.users:
            raise unauthorized(f"no such user ('{user}')\n")
        if (user, name) != (self._token.user, self._token.name):
            raise unauthorized(f"no such token '{name}' for user '{user}'\n")
        if not hmac.compare_digest(value.encode(), self._token.secret.encode()):
            raise unauthorized(INVALID_TOKEN_VALUE)
        return tokenid

    # -- request authentication ----------------------------------------------------------------

    @staticmethod
    def is_public(method: str, path: str) -> bool:
        """Whether ``method path`` (relative to ``/api2/json``) works without credentials."""
        return (method, path.rstrip("/") or "/") in _PUBLIC

    def authenticate(self, method: str, path: str, credentials: Credentials) -> str | None:
        """The user a request runs as, or the 401 pveproxy answers; None for a public call.

        Token requests run as the token id (``root@pam!pvenet``), as on
        Proxmox (it shows in task UPIDs); ticket requests as the ticket's user.
        """
        if self.is_public(method, path):
            return None
        ticket = extract_auth_value(credentials.cookie, COOKIE_NAME) or extract_auth_value(
            credentials.authorization, COOKIE_NAME
        )
        if not ticket:
            api_token = extract_auth_value(credentials.authorization, TOKEN_PREFIX)
            if api_token:
                return self._token_user(api_token)
            raise unauthorized(NO_TICKET)
        user = self.ticket_user(ticket)
        if user is None:
            raise unauthorized(INVALID_TICKET)
        if user not in self.users:
            raise unauthorized(f"no such user ('{user}')\n")
        if method != "GET":
            self._check_csrf(user, credentials.csrf_token)
        return user

    # -- the /access endpoints -------------------------------------------------------------------

    def _login(self, params: Mapping[str, Any]) -> str:
        """The user a login succeeds as; raises the one 401 login failures share."""
        username = str(params["username"])
        realm = params.get("realm")
        if realm and "@" not in username:
            username = f"{username}@{realm}"
        password = str(params["password"])
        # A still valid ticket of the same user renews it (proxmoxer relies on this).
        if self.ticket_user(password) == username:
            return username
        if username == PASSWORD_USER and hmac.compare_digest(
            password.encode(), self._password.encode()
        ):
            return username
        raise ApiError(401, LOGIN_FAILED)

    def create_ticket(self, request: Request, clustername: str | None = None) -> Reply:
        """``POST /access/ticket``: check a password (or ticket) and hand out a new ticket."""
        validate(request.params, _LOGIN_SCHEMA)
        user = self._login(request.params)
        data: dict[str, Any] = {
            "username": user,
            "ticket": self.issue_ticket(user),
            "CSRFPreventionToken": self.issue_csrf_token(user),
            "cap": {group: dict.fromkeys(privs, 1) for group, privs in _PRIVS.items()},
        }
        if clustername:
            data["clustername"] = clustername
        return Reply(data)

    def register(self, router: Router, clustername: str | None = None) -> None:
        """Add the ``/access`` login endpoints to ``router``.

        ``clustername`` is reported by the login call, as Proxmox does for a
        node that is part of a cluster.
        """
        router.add("GET", "/access/ticket", lambda request: Reply(None))
        router.add(
            "POST", "/access/ticket", lambda request: self.create_ticket(request, clustername)
        )
        router.add("GET", "/access/domains", lambda request: Reply(_DOMAINS))


_DOMAINS = [
    {"realm": "pam", "type": "pam", "comment": "Linux PAM standard authentication"},
    {"realm": "pve", "type": "pve", "comment": "Proxmox VE authentication server"},
]
