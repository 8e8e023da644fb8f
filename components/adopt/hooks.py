"""Hook commands of an interfaces file as pvenet's host rules (pure).

People put what Proxmox's API cannot write into ``post-up`` lines: the admin
guide's masquerade, port forwards, ``ip_forward``, ``proxy_arp`` and routes to
single guests. pvenet's host rules (``provider.host.model``) express exactly
those, in files of pvenet's own. :func:`read_hook` recognises the common
spellings of each (``iptables``/``ip6tables``, ``echo 1 > /proc/sys/...``,
``sysctl -w``, ``ip route add``) and says which host rule a line is, or that it
takes one away again (the ``post-down`` twin); anything else is not mapped, and
the report says so.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass
from typing import Any

HOOK_KEYS = ("pre-up", "up", "post-up", "down", "pre-down", "post-down")
"""The options ifupdown runs as commands; ``up`` and ``down`` are the same hooks."""
_GOING_DOWN = ("down", "pre-down", "post-down")

_ECHO_RE = re.compile(r"echo\s+([01])\s*>\s*(/proc/sys/\S+)", re.ASCII)
_SYSCTL_RE = re.compile(
    r"(?:/sbin/|/usr/sbin/)?sysctl\s+(?:-\w+\s+)*([\w./-]+)\s*=\s*([01])", re.ASCII
)
_IPTABLES = ("iptables", "ip6tables", "/sbin/iptables", "/usr/sbin/iptables", "/sbin/ip6tables")
_IP = ("ip", "/sbin/ip", "/usr/sbin/ip", "/bin/ip")


@dataclass(frozen=True)
class HostRule:
    """One host rule: the part of ``HostRulesSpec`` it goes in and its value there.

    ``part`` is ``masquerade``, ``forwards`` or ``routes`` (a dict), ``proxy_arp`` (an
    interface name) or ``ip_forward`` (``ipv4`` or ``ipv6``).
    """

    part: str
    value: Any
    note: str = ""
    """What changes on the way (``SNAT to 203.0.113.5`` becomes masquerade)."""

    def key(self) -> str:
        """A comparable form, to pair a rule with the line that takes it away."""
        value = sorted(self.value.items()) if isinstance(self.value, dict) else self.value
        return f"{self.part}:{value}"


@dataclass(frozen=True)
class Hook:
    """A hook option (``post-up CMD``): when it runs, the command, and the rule it is."""

    when: str
    command: str
    rule: HostRule | None
    """The host rule the command sets (or, ``removes``, takes away); None: not a host rule."""
    removes: bool = False


def read_hook(key: str, value: str) -> Hook | None:
    """The hook an option line is, or None when the option is not a hook."""
    if key not in HOOK_KEYS:
        return None
    command = value.strip()
    rule, removes = _rule(command)
    if rule is not None and removes != (key in _GOING_DOWN):
        rule = None  # a rule set while going down, or taken away while coming up: not a rule
    return Hook(key, command, rule, removes)


def _rule(command: str) -> tuple[HostRule | None, bool]:
    if echo := _ECHO_RE.fullmatch(command):
        return _proc_rule(echo[2].removeprefix("/proc/sys/").replace("/", ".")), echo[1] == "0"
    if sysctl := _SYSCTL_RE.fullmatch(command):
        return _proc_rule(sysctl[1].replace("/", ".")), sysctl[2] == "0"
    try:
        words = shlex.split(command)
    except ValueError:
        return None, False
    if words and words[0] in _IPTABLES:
        return _iptables_rule(words[1:])
    if len(words) > 2 and words[0] in _IP:
        return _route_rule(words[1:])
    return None, False


def _proc_rule(key: str) -> HostRule | None:
    """A sysctl key set by a hook: forwarding or one interface's proxy_arp."""
    if key == "net.ipv4.ip_forward":
        return HostRule("ip_forward", "ipv4")
    if key in ("net.ipv6.conf.all.forwarding", "net.ipv6.conf.default.forwarding"):
        return HostRule("ip_forward", "ipv6")
    parts = key.split(".")
    if (
        len(parts) == 5
        and parts[:3] == ["net", "ipv4", "conf"]
        and parts[4] == "proxy_arp"
        and parts[3] not in ("all", "default")
    ):
        return HostRule("proxy_arp", parts[3])
    return None


_FLAGS = {
    "-t": "table",
    "--table": "table",
    "-s": "source",
    "--source": "source",
    "-d": "destination",
    "--destination": "destination",
    "-o": "out",
    "--out-interface": "out",
    "-i": "in",
    "--in-interface": "in",
    "-p": "protocol",
    "--protocol": "protocol",
    "--dport": "dport",
    "--destination-port": "dport",
    "-j": "target",
    "--jump": "target",
    "--to-destination": "to",
    "--to": "to",
    "--to-source": "to_source",
    "-m": "match",
    "--match": "match",
    "--comment": "comment",
}
_CHAINS = {"-A": False, "--append": False, "-I": False, "--insert": False, "-D": True}


def _iptables_rule(words: list[str]) -> tuple[HostRule | None, bool]:
    """An ``iptables -t nat`` masquerade, SNAT or DNAT rule; None for any other."""
    seen: dict[str, str] = {}
    removes = False
    index = 0
    while index < len(words):
        word = words[index]
        if word in _CHAINS and index + 1 < len(words):
            removes = _CHAINS[word]
            seen["chain"] = words[index + 1]
            index += 2
            if index < len(words) and words[index].isdigit():
                index += 1  # -I CHAIN NUM
            continue
        name = _FLAGS.get(word)
        if name is None or index + 1 >= len(words) or (name in seen and name != "match"):
            return None, False
        if name == "match" and words[index + 1] not in ("tcp", "udp", "comment"):
            return None, False  # state, conntrack, multiport...: more than a host rule says
        seen[name] = words[index + 1]
        index += 2
    if seen.get("table") != "nat":
        return None, False
    if seen.get("chain") == "POSTROUTING":
        return _masquerade(seen), removes
    if seen.get("chain") == "PREROUTING":
        return _forward(seen), removes
    return None, False


def _masquerade(seen: dict[str, str]) -> HostRule | None:
    if not {"source", "out"} <= set(seen) or {"in", "destination", "protocol"} & set(seen):
        return None
    value = {"source": seen["source"], "interface": seen["out"]}
    if seen.get("target") == "MASQUERADE" and "to_source" not in seen:
        return HostRule("masquerade", value)
    if seen.get("target") == "SNAT" and "to_source" in seen:
        note = (
            f"SNAT to {seen['to_source']} becomes masquerade through {seen['out']} (the "
            "interface's own address): check that it is the address SNAT gave"
        )
        return HostRule("masquerade", value, note)
    return None


def _forward(seen: dict[str, str]) -> HostRule | None:
    if seen.get("target") != "DNAT" or not {"protocol", "dport", "to"} <= set(seen):
        return None
    if seen["protocol"] not in ("tcp", "udp") or "source" in seen or "out" in seen:
        return None
    to, to_port = _destination(seen["to"])
    if to is None:
        return None
    value: dict[str, Any] = {
        "protocol": seen["protocol"],
        "port": _port(seen["dport"].replace(":", "-")),
        "to": to,
    }
    if to_port is not None and str(to_port) != str(value["port"]):
        value["to_port"] = _port(to_port)
    if "in" in seen:
        value["interface"] = seen["in"]
    if "destination" in seen:
        address = _single(seen["destination"])
        if address is None:
            return None
        value["address"] = address
    return HostRule("forwards", value)


def _destination(text: str) -> tuple[str | None, str | None]:
    """``10.0.0.5:8080``, ``10.0.0.5``, ``[2001:db8::5]:80`` as (address, port)."""
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        return address, rest.removeprefix(":") or None
    if text.count(":") == 1:
        address, port = text.split(":")
        return address, port
    return text, None


def _single(text: str) -> str | None:
    """One address (``/32``/``/128`` or none); None for a network."""
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None
    if network.num_addresses != 1:
        return None
    return str(network.network_address)


def _port(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def _route_rule(words: list[str]) -> tuple[HostRule | None, bool]:
    """``ip [-4|-6] route add|replace|del ADDR dev IF``: a route to one guest address."""
    if words[0] in ("-4", "-6"):
        words = words[1:]
    if len(words) != 5 or words[0] not in ("route", "r", "ro") or words[3] != "dev":
        return None, False
    verb, target, iface = words[1], words[2], words[4]
    if verb not in ("add", "replace", "del", "delete"):
        return None, False
    address = _single(target)
    if address is None:
        return None, False
    bits = ipaddress.ip_address(address).max_prefixlen
    rule = HostRule("routes", {"address": f"{address}/{bits}", "interface": iface})
    return rule, verb in ("del", "delete")
