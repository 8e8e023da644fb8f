"""The request log: every API call the server answered, as ``requests.jsonl`` in the state dir.

Tests and benchmarks count calls with it ("one apply per change", "no write
after a failed check"), so it records every request, including the ones that
failed authentication, hit a fault or named an unknown path. One JSON object a
line::

    {"method": "PUT", "path": "/nodes/pve1/network", "params": {}, "status": 200, "ms": 3.1}

``path`` is relative to ``/api2/json``; ``status`` is 0 for a connection the
server dropped without answering. Credentials never reach the file: parameters
whose names say they carry one (password, token, ticket, ...) and any value
equal to a known secret are replaced by ``REDACTED``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

REQUEST_LOG_FILE = "requests.jsonl"
REDACTED = "**redacted**"

# A parameter is a credential when a word of its name is one of these ...
_SECRET_WORDS = {"password", "passwd", "secret", "ticket", "token", "csrf", "otp", "key"}
# ... or its name contains one of these anywhere (CSRFPreventionToken, new-password).
_SECRET_PARTS = ("password", "secret", "ticket", "token", "csrf", "challenge")


def is_secret_name(name: str) -> bool:
    """Whether a parameter called ``name`` carries a credential."""
    lowered = name.lower()
    words = set(re.split(r"[-_.]", lowered))
    return bool(words & _SECRET_WORDS) or any(part in lowered for part in _SECRET_PARTS)


def redact(params: Mapping[str, Any], secrets: Iterable[str] = ()) -> dict[str, Any]:
    """A copy of ``params`` with credential parameters and secret-bearing values replaced."""
    known = [s for s in secrets if s]

    def clean(value: Any) -> Any:
        if isinstance(value, list):
            return [clean(item) for item in value]
        if isinstance(value, str) and any(secret in value for secret in known):
            return REDACTED
        return value

    return {
        name: REDACTED if is_secret_name(name) else clean(value) for name, value in params.items()
    }


@dataclass(frozen=True)
class LoggedRequest:
    """One line of the request log."""

    method: str
    path: str
    params: dict[str, Any]
    status: int
    ms: float


class RequestLog:
    """Append-only log of answered requests in ``path``, readable while the server runs."""

    def __init__(self, path: Path, secrets: Iterable[str] = ()) -> None:
        """Log to ``path``; values containing any of ``secrets`` are never written."""
        self.path = Path(path)
        self._secrets = tuple(secrets)
        self._lock = threading.Lock()

    def record(
        self, method: str, path: str, params: Mapping[str, Any], status: int, ms: float
    ) -> LoggedRequest:
        """Append one request (its parameters redacted) and return what was written."""
        entry = LoggedRequest(method, path, redact(params, self._secrets), status, round(ms, 1))
        line = json.dumps(asdict(entry), sort_keys=False) + "\n"
        with self._lock, self.path.open("a") as handle:
            handle.write(line)
        return entry

    def entries(self) -> list[LoggedRequest]:
        """Every logged request, oldest first (a line still being written is skipped)."""
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return []
        entries = []
        for line in lines:
            try:
                entries.append(LoggedRequest(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue
        return entries

    def select(
        self, method: str | None = None, path_glob: str | None = None, status: int | None = None
    ) -> list[LoggedRequest]:
        """The logged requests with this method, a path matching the glob and this status."""
        return [
            entry
            for entry in self.entries()
            if (method is None or entry.method == method.upper())
            and (path_glob is None or fnmatchcase(entry.path, path_glob))
            and (status is None or entry.status == status)
        ]

    def count(
        self, method: str | None = None, path_glob: str | None = None, status: int | None = None
    ) -> int:
        """How many logged requests match (see ``select``)."""
        return len(self.select(method, path_glob, status))

    def clear(self) -> None:
        """Forget every logged request."""
        with self._lock:
            self.path.write_text("")
