"""Parameter verification as PVE::JSONSchema performs it, with its exact messages.

Every API method in Proxmox declares its parameters; the server checks a request
against that declaration before the handler runs and answers 400
"Parameter verification failed." with one message per parameter. This module
holds the checks (types, formats, patterns, lengths, ranges, enums, ``requires``
and unknown parameters) in the order ``check_prop`` applies them, so a bad
request gets the same message it would get from a real node.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from simulator.errors import param_error

Params = dict[str, Any]


class FormatError(ValueError):
    """A value does not satisfy a registered format; the message is Proxmox's."""


def split_list(text: str) -> list[str]:
    """PVE::Tools::split_list: items separated by commas, semicolons or whitespace."""
    return [item for item in re.split(r"[,;\s]+", text.strip()) if item]


def _iface(value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_]{1,20}([:.]\d+)?", value, re.IGNORECASE):
        raise FormatError(f"invalid network interface name '{value}'")


def _vlan_id_or_range(value: str) -> None:
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", value)
    if not match:
        raise FormatError(f"invalid VLAN configuration '{value}'")
    for tag in (t for t in match.groups() if t):
        if not 2 <= int(tag) <= 4094:
            raise FormatError(f"invalid VLAN tag '{tag}'")
    start, end = match.groups()
    if end and int(start) >= int(end):
        raise FormatError(f"VLAN range must go from lower to higher tag '{value}'")


_IPV4_OCTET = r"(?:25[0-5]|(?:2[0-4]|1[0-9]|[1-9])?[0-9])"
_IPV4_RE = re.compile(rf"{_IPV4_OCTET}(?:\.{_IPV4_OCTET}){{3}}")


def is_ipv4(value: str) -> bool:
    """True for a dotted-quad IPv4 address as Proxmox's $IPV4RE accepts it."""
    return bool(_IPV4_RE.fullmatch(value))


def is_ipv6(value: str) -> bool:
    """True for an IPv6 address as Proxmox's $IPV6RE accepts it (no zone index)."""
    if "%" in value or ":" not in value:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def _ipv4(value: str) -> None:
    if not is_ipv4(value):
        raise FormatError("value does not look like a valid IPv4 address")


def _ipv6(value: str) -> None:
    if not is_ipv6(value):
        raise FormatError("value does not look like a valid IPv6 address")


def _ip(value: str) -> None:
    if not (is_ipv4(value) or is_ipv6(value)):
        raise FormatError("value does not look like a valid IP address")


IPV4_MASK_BITS = {str(ipaddress.IPv4Network(f"0.0.0.0/{bits}").netmask): bits for bits in range(33)}


def _ipv4mask(value: str) -> None:
    if value not in IPV4_MASK_BITS:
        raise FormatError("value does not look like a valid IP netmask")


def _cidr_prefix(value: str, check: Callable[[str], bool], low: int, high: int) -> bool:
    match = re.fullmatch(r"(.+)/(\d+)", value)
    return bool(match and check(match[1]) and low < int(match[2]) <= high)


def _cidrv4(value: str) -> None:
    if not _cidr_prefix(value, is_ipv4, 7, 32):
        raise FormatError("value does not look like a valid IPv4 CIDR network")


def _cidrv6(value: str) -> None:
    if not _cidr_prefix(value, is_ipv6, 7, 128):
        raise FormatError("value does not look like a valid IPv6 CIDR network")


def _cidr(value: str) -> None:
    if not (_cidr_prefix(value, is_ipv4, 7, 32) or _cidr_prefix(value, is_ipv6, 7, 128)):
        raise FormatError("value does not look like a valid CIDR network")


def _configid(value: str) -> None:
    if not re.fullmatch(r"[a-z][a-z0-9_-]+", value, re.IGNORECASE):
        raise FormatError(f"invalid configuration ID '{value}'")


def _node(value: str) -> None:
    if not re.fullmatch(r"[a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?", value):
        raise FormatError("value does not look like a valid node name")


def _dns_name(value: str) -> None:
    label = r"([a-zA-Z0-9]([a-zA-Z0-9\-]*[a-zA-Z0-9])?)"
    if not re.fullmatch(rf"({label}\.)*{label}", value):
        raise FormatError("value does not look like a valid DNS name")


FORMATS: dict[str, Callable[[str], None]] = {
    "pve-iface": _iface,
    "pve-vlan-id-or-range": _vlan_id_or_range,
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "ip": _ip,
    "ipv4mask": _ipv4mask,
    "CIDRv4": _cidrv4,
    "CIDRv6": _cidrv6,
    "CIDR": _cidr,
    "pve-configid": _configid,
    "pve-node": _node,
    "dns-name": _dns_name,
}


def check_format(fmt: str, value: str) -> None:
    """Raise FormatError unless ``value`` has format ``fmt`` (``-list`` suffixes allowed)."""
    if fmt.endswith("-list"):
        verify = FORMATS[fmt.removesuffix("-list")]
        for item in split_list(value):
            verify(item)
        return
    FORMATS[fmt](value)


@dataclass(frozen=True)
class Param:
    """One declared API parameter, in the terms of a Proxmox method schema."""

    type: str = "string"
    optional: bool = True
    format: str | None = None
    pattern: str | None = None
    enum: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None
    min_length: int | None = None
    max_length: int | None = None
    requires: str | None = None


Schema = Mapping[str, Param]

_NUMBER_RE = re.compile(r"[+-]?(\d+\.\d+|\d+\.|\.\d+|\d+)([eE][+-]?\d+)?")


def _type_error(param: Param, value: Any) -> str | None:
    if isinstance(value, list):
        if param.type == "array":
            return None
        return f"type check ('{param.type}') failed - got ARRAY"
    text = str(value)
    if param.type == "boolean" and text not in ("0", "1"):
        return f"type check ('boolean') failed - got '{text}'"
    if param.type == "integer" and not re.fullmatch(r"[+-]?\d+", text):
        return f"type check ('integer') failed - got '{text}'"
    if param.type == "number" and not _NUMBER_RE.fullmatch(text):
        return f"type check ('number') failed - got '{text}'"
    return None


def _value_error(param: Param, value: str) -> str | None:
    """The first failing check for one scalar value, in check_prop's order."""
    if param.format is not None:
        try:
            check_format(param.format, value)
        except FormatError as exc:
            return f"invalid format - {exc}\n"
    if param.pattern is not None and not re.fullmatch(param.pattern, value):
        return "value does not match the regex pattern"
    if param.max_length is not None and len(value) > param.max_length:
        return f"value may only be {param.max_length} characters long"
    if param.min_length is not None and len(value) < param.min_length:
        return f"value must be at least {param.min_length} characters long"
    if _NUMBER_RE.fullmatch(value):
        if param.maximum is not None and float(value) > param.maximum:
            return f"value must have a maximum value of {param.maximum}"
        if param.minimum is not None and float(value) < param.minimum:
            return f"value must have a minimum value of {param.minimum}"
    if param.enum is not None and value not in param.enum:
        return f"value '{value}' does not have a value in the enumeration '{', '.join(param.enum)}'"
    return None


def validate(params: Params, schema: Schema) -> Params:
    """Check ``params`` against ``schema`` and raise Proxmox's 400 listing every failure.

    Values are the strings a form-encoded request carries (lists for repeated
    keys); the returned dict is ``params`` unchanged, for chaining.
    """
    errors: dict[str, str] = {}
    for name, param in schema.items():
        value = params.get(name)
        if value is None:
            if not param.optional:
                errors[name] = "property is missing and it is not optional"
            continue
        problem = _type_error(param, value)
        if problem is None:
            values = value if isinstance(value, list) else [value]
            problem = next((p for v in values if (p := _value_error(param, str(v)))), None)
        if problem is not None:
            errors[name] = problem
    for name in params:
        param_decl = schema.get(name)
        if param_decl is None:
            errors[name] = (
                "property is not defined in schema and the schema does not allow "
                "additional properties"
            )
        elif param_decl.requires and params.get(param_decl.requires) is None:
            errors[param_decl.requires] = f"missing property required by '{name}'"
    if errors:
        raise param_error(errors)
    return params
