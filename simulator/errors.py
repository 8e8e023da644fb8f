"""Errors the simulated API raises, shaped as pveproxy reports them.

Proxmox has two kinds of failures on these paths: parameter verification
(HTTP 400, the message "Parameter verification failed." and a per-parameter
``errors`` object) and plain ``die`` from handler or writer code (HTTP 500
with the die message). The HTTP reason phrase is the first line of the
message, which is what proxmoxer shows to its users.
"""

from __future__ import annotations

PARAM_FAILED = "Parameter verification failed.\n"


class ApiError(Exception):
    """A request failed the way Proxmox fails it: status, message and per-parameter errors."""

    def __init__(self, status: int, message: str, errors: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors

    @property
    def reason(self) -> str:
        """The HTTP reason phrase: the message's first line, as pveproxy sends it."""
        first = self.message.split("\n", 1)[0]
        return first or "Internal Server Error"


def param_error(errors: dict[str, str]) -> ApiError:
    """A 400 "Parameter verification failed." with the given parameter errors."""
    return ApiError(400, PARAM_FAILED, dict(errors))


def die(message: str, perl_location: str | None = None) -> ApiError:
    """A 500 from Perl's ``die``.

    Perl appends " at FILE line N." to a die message that lacks a trailing
    newline; ``perl_location`` carries that "FILE line N" for the few Proxmox
    messages written that way, so the text matches the real server's.
    """
    if perl_location is not None:
        message = f"{message} at {perl_location}.\n"
    elif not message.endswith("\n"):
        message += "\n"
    return ApiError(500, message)


def unauthorized(message: str) -> ApiError:
    """A 401 from pveproxy's authentication handler."""
    return ApiError(401, message)


def not_implemented(method: str, path: str) -> ApiError:
    """pveproxy's answer for a path or method it has no handler for."""
    return ApiError(501, f"Method '{method} {path}' not implemented")
