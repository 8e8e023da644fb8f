"""What travels over the wire: request parameters in, JSON bodies out, as pveproxy does it.

Parameters reach a handler the way a form carries them: every value a string,
a key repeated in the form a list of strings (SDN ``dhcp-range``). Bodies are
shaped as pve-http-server's JSON formatter (``Formatter/Standard.pm``) shapes
them: ``{"data": ...}`` on success, with the reply's extra attributes
(``changes``, ``total``) beside ``data`` when they are set; on failure
``{"data": null, "message": ...}`` plus ``errors`` for per-parameter errors.
The server and ``replay`` share these functions so both answer alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from simulator.api import Reply
from simulator.errors import ApiError

FormValue = str | list[str]

API_BASE = "/api2/json"


def relative_path(path: str) -> str | None:
    """``path`` relative to ``/api2/json`` (``/`` for the base itself); None outside it."""
    if path == API_BASE:
        return "/"
    if path.startswith(API_BASE + "/"):
        return path[len(API_BASE) :]
    return None


def form_params(pairs: Iterable[tuple[str, str]]) -> dict[str, FormValue]:
    """Decoded form or query pairs as parameters; a repeated key becomes a list, in order."""
    params: dict[str, FormValue] = {}
    for key, value in pairs:
        old = params.get(key)
        if old is None:
            params[key] = value
        elif isinstance(old, list):
            old.append(value)
        else:
            params[key] = [old, value]
    return params


def form_value(value: Any) -> FormValue:
    """A JSON value as a form would carry it: booleans as "1"/"0", numbers as their digits.

    ValueError for an object (``{}``) or a null inside a list, which no form can carry.
    """
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        items = [form_value(item) for item in value]
        if any(isinstance(item, list) for item in items):
            raise ValueError("nested lists cannot be sent as form parameters")
        return [item for item in items if isinstance(item, str)]
    raise ValueError(f"a {type(value).__name__} cannot be sent as a form parameter")


def json_params(obj: Any) -> dict[str, FormValue]:
    """A JSON object's members as form parameters; members that are null are left out."""
    if not isinstance(obj, Mapping):
        raise ValueError("the parameters must be a JSON object")
    return {str(key): form_value(value) for key, value in obj.items() if value is not None}


def success_body(reply: Reply) -> dict[str, Any]:
    """``{"data": ...}`` plus the reply's extra attributes that are set (Standard.pm keeps
    ``total`` and ``changes`` only when true)."""
    body: dict[str, Any] = {"data": reply.data}
    body.update((key, value) for key, value in reply.extra.items() if value)
    return body


def error_body(error: ApiError) -> dict[str, Any]:
    """``{"data": null, "message": ...}`` plus ``errors`` when parameters failed."""
    body: dict[str, Any] = {"data": None, "message": error.message}
    if error.errors:
        body["errors"] = dict(error.errors)
    return body
