"""The files host rules put on a node, and reading them back (pure).

``docs/host-rules.md`` is the contract: which files, in which format, and the commands
that load them. This module writes each file from a ``HostRulesSpec`` and reads what a
node shows back (its files, ``nft list table inet pvenet``, ``sysctl -n``, ``ip -j route
show``) in the same terms, so the transaction can compare what runs with what pvenet
wrote.

The rules file holds the table exactly as ``nft list table inet pvenet`` prints it
(nftables 1.0.6, Debian 12): a table read back from the kernel compares equal, line by
line, to the one pvenet loaded, after :func:`table_lines` drops blank lines, handles and
counters.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from provider.host.model import (
    EMPTY,
    Forward,
    HostRulesSpec,
    Masquerade,
    Route,
)

PVENET_DIR: Final = "/etc/pvenet"
RULES: Final = "/etc/pvenet/rules.nft"
HOST_SCRIPT: Final = "/etc/pvenet/host.sh"
BEFORE: Final = "/etc/pvenet/before.conf"
SYSCTL: Final = "/etc/sysctl.d/90-pvenet.conf"
UNIT: Final = "/etc/systemd/system/pvenet-rules.service"
HOOK: Final = "/etc/network/if-up.d/pvenet"
STAGED_RULES: Final = "/etc/pvenet/new/rules.nft"
BACKUP_DIR: Final = "/etc/pvenet/backup"
REVERT_SCRIPT: Final = "/etc/pvenet/backup/revert.sh"
INTERFACES: Final = "/etc/network/interfaces"
SERVICE: Final = "pvenet-rules.service"
TABLE: Final = "inet pvenet"
REVERT_UNIT_PREFIX: Final = "pvenet-revert-"

IP_FORWARD: Final = {4: "net.ipv4.ip_forward", 6: "net.ipv6.conf.all.forwarding"}
"""The forwarding sysctl of each IP version."""

HEADER: Final = "# Written by pvenet (host rules): do not edit, `pulumi up` writes it again.\n"
FILE_MODE: Final = "0644"
SCRIPT_MODE: Final = "0755"


@dataclass(frozen=True)
class HostFile:
    """One file pvenet writes on a node: its path, mode and content."""

    path: str
    mode: str
    content: str


def proxy_arp_key(iface: str) -> str:
    """The sysctl of ``iface``'s proxy_arp (a VLAN's dot becomes ``/``, as sysctl reads it)."""
    return f"net.ipv4.conf.{iface.replace('.', '/')}.proxy_arp"


def wanted_sysctls(spec: HostRulesSpec) -> dict[str, str]:
    """Every sysctl the rules set, with the value they set."""
    wanted = {
        IP_FORWARD[version]: "1"
        for version, on in ((4, spec.ip_forward.ipv4), (6, spec.ip_forward.ipv6))
        if on
    }
    wanted.update({proxy_arp_key(iface): "1" for iface in spec.proxy_arp})
    return wanted


# -- the rules file ---------------------------------------------------------------------------


def _family(version: int) -> str:
    return "ip" if version == 4 else "ip6"


def _sources(sources: Sequence[str]) -> str:
    ordered = sorted(sources, key=ipaddress.ip_network)
    return ordered[0] if len(ordered) == 1 else "{ " + ", ".join(ordered) + " }"


def _destination(forward: Forward) -> str:
    if forward.address is None:
        return "fib daddr type local"
    return f"{_family(forward.version)} daddr {forward.address}"


def _dnat_target(forward: Forward) -> str:
    family = _family(forward.version)
    if forward.to_port is None or not forward.ports.single:
        return f"dnat {family} to {forward.to}"
    host = forward.to if forward.version == 4 else f"[{forward.to}]"
    return f"dnat {family} to {host}:{forward.guest_ports}"


def _comment(comment: str | None) -> str:
    return f' comment "{comment}"' if comment else ""


def _forward_rules(spec: HostRulesSpec, forward: Forward) -> tuple[list[str], list[str]]:
    """The prerouting and postrouting rules of one forward."""
    family = _family(forward.version)
    match = f"{_destination(forward)} {forward.protocol} dport {forward.ports}"
    iif = f'iifname "{forward.interface}" ' if forward.interface else ""
    dnat = f"{match} {_dnat_target(forward)}{_comment(forward.comment)}"
    pre = [iif + dnat]
    post = []
    if forward.hairpin:
        sources = _sources(spec.hairpin_sources(forward))
        if forward.interface:
            pre.append(f"{family} saddr {sources} {dnat}")
        post.append(
            f"{family} saddr {sources} {family} daddr {forward.to} {forward.protocol} dport "
            f"{forward.guest_ports} ct status dnat masquerade"
        )
    return pre, post


def table(spec: HostRulesSpec) -> str:
    """The table ``inet pvenet`` as ``nft list table inet pvenet`` prints it."""
    pre: list[str] = []
    post: list[str] = []
    for forward in spec.forwards:
        more_pre, more_post = _forward_rules(spec, forward)
        pre += more_pre
        post += more_post
    for rule in spec.masquerade:
        family = _family(rule.network.version)
        post.append(
            f'{family} saddr {rule.source} oifname "{rule.interface}" masquerade'
            + _comment(rule.comment)
        )
    chains = []
    for name, hook, priority, rules in (
        ("prerouting", "prerouting", "dstnat", pre),
        ("postrouting", "postrouting", "srcnat", post),
    ):
        if rules:
            body = "".join(f"\t\t{rule}\n" for rule in rules)
            chains.append(
                f"\tchain {name} {{\n\t\ttype nat hook {hook} priority {priority}; "
                f"policy accept;\n{body}\t}}\n"
            )
    return f"table {TABLE} {{\n" + "\n".join(chains) + "}\n"


def rules_file(table_text: str) -> str:
    """The rules file around a table: it replaces the loaded table in one transaction."""
    return (
        "#!/usr/sbin/nft -f\n"
        + HEADER
        + "# Loaded at boot by pvenet-rules.service; replaces the table in one transaction.\n"
        + f"table {TABLE}\ndelete table {TABLE}\n"
        + table_text
    )


# -- sysctls, per-interface settings, the unit and the hook ----------------------------------------


def sysctl_file(spec: HostRulesSpec) -> str | None:
    """``/etc/sysctl.d/90-pvenet.conf``: the forwarding pvenet turns on (None: none)."""
    lines = [
        f"{key} = 1"
        for version, key in IP_FORWARD.items()
        if (spec.ip_forward.ipv4 if version == 4 else spec.ip_forward.ipv6)
    ]
    return HEADER + "".join(line + "\n" for line in lines) if lines else None


def before_file(before: Mapping[str, str]) -> str | None:
    """``/etc/pvenet/before.conf``: each sysctl pvenet sets, at its value before pvenet set it."""
    if not before:
        return None
    return (
        HEADER
        + "# The value each sysctl had before pvenet first set it: what pvenet puts back when\n"
        + "# it no longer sets it.\n"
        + "".join(f"{key} = {before[key]}\n" for key in sorted(before))
    )


def write_command(path: str, mode: str) -> list[str]:
    """``install -D -m <mode> /dev/stdin <path>``: write a file from stdin."""
    return ["install", "-D", "-m", mode, "/dev/stdin", path]


def route_command(verb: str, route: Route) -> list[str]:
    """``ip route <verb> <addr>/<len> dev <iface>``."""
    return ["ip", "route", verb, route.address, "dev", route.interface]


def sysctl_command(key: str, value: str) -> list[str]:
    """``sysctl -qw <key>=<value>``."""
    return ["sysctl", "-qw", f"{key}={value}"]


def host_script(spec: HostRulesSpec) -> str:
    """``/etc/pvenet/host.sh``: per-interface settings and routes, one block per interface."""
    blocks = []
    for iface in spec.interfaces():
        commands = []
        if iface in spec.proxy_arp:
            commands.append(sysctl_command(proxy_arp_key(iface), "1"))
        commands += [route_command("replace", r) for r in spec.routes if r.interface == iface]
        body = "".join(f"\t{shlex.join(command)}\n" for command in commands)
        blocks.append(f'if [ -z "$only" ] || [ "$only" = {iface} ]; then\n{body}fi\n')
    return (
        "#!/bin/sh\n"
        + HEADER
        + "# Per-interface settings and routes of pvenet's host rules; with an interface name,\n"
        + "# only that interface's (pvenet-rules.service at boot, /etc/network/if-up.d/pvenet).\n"
        + 'only="$1"\n'
        + "".join(blocks)
    )


UNIT_FILE: Final = (
    HEADER
    + """[Unit]
Description=pvenet host rules (nftables table inet pvenet, per-interface settings, routes)
After=network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/sbin/nft -f /etc/pvenet/rules.nft
ExecStart=/etc/pvenet/host.sh
ExecStop=/usr/sbin/nft delete table inet pvenet

[Install]
WantedBy=multi-user.target
"""
)

HOOK_FILE: Final = (
    "#!/bin/sh\n"
    + HEADER
    + """# ifupdown2 runs this when it brings an interface up (at boot, `ifreload -a`, `ifup`):
# pvenet's per-interface settings and routes for that interface come back.
[ -x /etc/pvenet/host.sh ] || exit 0
exec /etc/pvenet/host.sh "$IFACE"
"""
)


def files(spec: HostRulesSpec, before: Mapping[str, str]) -> dict[str, HostFile | None]:
    """Every file host rules keep on a node, as ``spec`` wants it (None: absent).

    ``before`` is the value of each sysctl the rules set, before pvenet first set it.
    ``EMPTY`` rules (a deleted resource) want none of the files.
    """
    if spec == EMPTY:
        return dict.fromkeys(MANAGED_FILES)
    sysctls, saved = sysctl_file(spec), before_file(before)
    return {
        RULES: HostFile(RULES, FILE_MODE, rules_file(table(spec))),
        HOST_SCRIPT: HostFile(HOST_SCRIPT, SCRIPT_MODE, host_script(spec)),
        BEFORE: HostFile(BEFORE, FILE_MODE, saved) if saved else None,
        SYSCTL: HostFile(SYSCTL, FILE_MODE, sysctls) if sysctls else None,
        UNIT: HostFile(UNIT, FILE_MODE, UNIT_FILE),
        HOOK: HostFile(HOOK, SCRIPT_MODE, HOOK_FILE),
    }


MANAGED_FILES: Final = (RULES, HOST_SCRIPT, BEFORE, SYSCTL, UNIT, HOOK)
"""The files host rules keep on a node, in the order they are installed."""
RENDERED_FILES: Final = (RULES, HOST_SCRIPT, SYSCTL)
"""The files whose content depends on the rules: ``rendered`` shows them at preview."""


def rendered(spec: HostRulesSpec) -> dict[str, str]:
    """The rule-dependent files as ``pulumi preview --diff`` shows them (absent ones left out)."""
    wanted = files(spec, {})
    return {path: file.content for path in RENDERED_FILES if (file := wanted[path]) is not None}


# -- the revert script --------------------------------------------------------------------------


def backup_path(path: str) -> str:
    """Where the confirm-or-revert backup keeps the previous version of ``path``."""
    return BACKUP_DIR + path


@dataclass(frozen=True)
class RevertPlan:
    """What ``revert.sh`` puts back: what the node ran before one change."""

    unit: str
    """The transient timer's unit name (``pvenet-revert-<id>``)."""
    restore: tuple[tuple[str, str], ...] = ()
    """(path, mode) of files that existed: copied back from the backup."""
    remove: tuple[str, ...] = ()
    """Files the change creates: removed."""
    table: bool | None = None
    """True: load the restored rules file; False: delete the table; None: the table is
    not touched by the change."""
    sysctls: tuple[tuple[str, str], ...] = ()
    """(key, value) to set back."""
    routes_add: tuple[Route, ...] = ()
    routes_del: tuple[Route, ...] = ()
    disable_service: bool = False
    """The service did not exist before: disable it before its unit file goes."""
    enable_service: bool = False
    """The change disables the service: enable it again once its unit file is back."""
    interfaces: bool = False
    """A node network change: put ``/etc/network/interfaces`` back and ``ifreload -a``."""


Command = tuple[list[str], bytes | None]
"""One contract command: its words and its stdin (None: none)."""


def change_commands(
    *,
    disable: bool = False,
    files: Sequence[Command] = (),
    remove: Sequence[str] = (),
    daemon_reload: bool = False,
    enable: bool = False,
    table: bool | None = None,
    sysctls: Sequence[tuple[str, str]] = (),
    routes_del: Sequence[Route] = (),
    routes_add: Sequence[Route] = (),
    host_script: bool = False,
    ifreload: bool = False,
) -> list[Command]:
    """The commands of one change of host rules, in the one order every change keeps: the
    unit disabled before its file goes, files written and removed, units reloaded and the
    service enabled, the table loaded (True) or deleted (False), sysctls, routes, host.sh."""
    commands: list[Command] = []
    if disable:
        commands.append((["systemctl", "disable", SERVICE], None))
    commands += files
    if remove:
        commands.append((["rm", "-f", *remove], None))
    if daemon_reload:
        commands.append((["systemctl", "daemon-reload"], None))
    if enable:
        commands.append((["systemctl", "enable", SERVICE], None))
    if table is True:
        commands.append((["nft", "-f", RULES], None))
    elif table is False:
        commands.append((["nft", "delete", "table", *TABLE.split()], None))
    commands += [(sysctl_command(key, value), None) for key, value in sysctls]
    commands += [(route_command("del", route), None) for route in routes_del]
    commands += [(route_command("replace", route), None) for route in routes_add]
    if host_script:
        commands.append(([HOST_SCRIPT], None))
    if ifreload:
        commands.append((["ifreload", "-a"], None))
    return commands


def revert_script(plan: RevertPlan) -> str:
    """``/etc/pvenet/backup/revert.sh``: one command of the contract per line, no ``set -e``
    (it puts back all it can)."""
    restored = [path for path, _mode in plan.restore]
    commands = change_commands(
        disable=plan.disable_service,
        files=[
            (["install", "-D", "-m", mode, backup_path(path), path], None)
            for path, mode in plan.restore
        ],
        remove=plan.remove,
        daemon_reload=UNIT in plan.remove or UNIT in restored,
        enable=plan.enable_service,
        table=plan.table,
        sysctls=plan.sysctls,
        routes_del=plan.routes_del,
        routes_add=plan.routes_add,
        ifreload=plan.interfaces,
    )
    return (
        "#!/bin/sh\n"
        + HEADER
        + f"# unit: {plan.unit}\n"
        + "# Run by that timer unless pvenet confirms its change: puts back what ran before.\n"
        + "".join(shlex.join(argv) + "\n" for argv, _stdin in commands)
    )


_UNIT_RE = re.compile(r"^# unit: (pvenet-revert-[0-9a-z]+)$", re.MULTILINE)


def revert_unit(script: str) -> str | None:
    """The timer unit a revert script was written for (None: not one of pvenet's)."""
    match = _UNIT_RE.search(script)
    return match[1] if match else None


# -- reading back -----------------------------------------------------------------------------

_HANDLE_RE = re.compile(r"\s+# handle \d+$")
_COUNTER_RE = re.compile(r" counter packets \d+ bytes \d+")


def table_lines(text: str) -> list[str]:
    """The lines of the table ``inet pvenet`` in ``text`` (a rules file or ``nft list``
    output), stripped, without blank lines, handles and counters; [] when it has none."""
    lines: list[str] = []
    inside = False
    for raw in text.splitlines():
        line = _COUNTER_RE.sub("", _HANDLE_RE.sub("", raw)).strip()
        if line == f"table {TABLE} {{":
            inside = True
        if inside and line and not line.startswith("#"):
            lines.append(line)
    return lines


def rules_file_from_listing(listing: str) -> str:
    """The rules file that loads the table ``listing`` shows (what a node runs, as a file)."""
    lines = table_lines(listing)
    depth, out = 0, []
    for line in lines:
        if line.startswith("}"):
            depth -= 1
        out.append("\t" * depth + line)
        if line.endswith("{"):
            depth += 1
    text = "\n".join(out) + "\n" if out else f"table {TABLE} {{\n}}\n"
    return rules_file(text.replace("\t}\n\tchain", "\t}\n\n\tchain"))


def parse_sysctl_file(text: str) -> dict[str, str]:
    """``key = value`` lines of a sysctl file (comments and blank lines skipped)."""
    found = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if sep:
            found[key.strip()] = value.strip()
    return found


def parse_host_script(text: str) -> tuple[list[str], list[Route]]:
    """The proxy_arp interfaces and routes a ``host.sh`` sets."""
    proxy_arp, routes = [], []
    for raw in text.splitlines():
        words = raw.split()
        if words[:2] == ["sysctl", "-qw"] and len(words) == 3:
            key, _sep, value = words[2].partition("=")
            parts = key.split(".")
            if len(parts) == 5 and parts[:3] == ["net", "ipv4", "conf"] and value == "1":
                proxy_arp.append(parts[3].replace("/", "."))
        elif words[:3] == ["ip", "route", "replace"] and len(words) == 6 and words[4] == "dev":
            routes.append(Route(address=words[3], interface=words[5]))
    return sorted(proxy_arp), routes


def parse_routes(output: str, route: Route) -> bool:
    """Whether ``ip -j route show <addr>/<len>`` output holds the route through its interface."""
    try:
        entries = json.loads(output or "[]")
    except ValueError:
        return False
    host = str(route.host)
    return any(
        isinstance(entry, dict)
        and entry.get("dev") == route.interface
        and str(entry.get("dst", "")).partition("/")[0] == host
        for entry in entries
    )


_SET = r"(?:\{ [^}]+ \}|\S+)"
_DNAT_RE = re.compile(
    rf"(?:(?P<hairpin>ip6? saddr {_SET}) )?"
    r'(?:iifname "(?P<iif>[^"]+)" )?'
    r"(?:ip6? daddr (?P<address>\S+)|fib daddr type local) "
    r"(?P<protocol>tcp|udp) dport (?P<port>\d+(?:-\d+)?) "
    r"dnat (?P<family>ip6?) to (?P<target>\S+)"
    r'(?: comment "(?P<comment>[^"]*)")?'
)
_MASQUERADE_RE = re.compile(
    r'ip6? saddr (?P<source>\S+) oifname "(?P<iif>[^"]+)" masquerade'
    r'(?: comment "(?P<comment>[^"]*)")?'
)
_HAIRPIN_RE = re.compile(
    rf"ip6? saddr {_SET} ip6? daddr (?P<to>\S+) (?P<protocol>tcp|udp) "
    r"dport (?P<port>\d+(?:-\d+)?) ct status dnat masquerade"
)


def _target(family: str, target: str) -> tuple[str, str | None]:
    """``10.0.0.5:80``, ``[fd00::5]:80`` or a bare address as (address, port or None)."""
    if target.startswith("["):
        address, _sep, port = target[1:].partition("]:")
        return address, port or None
    if family == "ip6":
        return target, None
    address, _sep, port = target.partition(":")
    return address, port or None


@dataclass
class ParsedTable:
    """The rules a table holds in pvenet's shapes, and the lines in no such shape."""

    masquerade: list[Masquerade] = field(default_factory=list)
    forwards: list[Forward] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def parse_table(lines: Iterable[str]) -> ParsedTable:
    """Masquerade entries and forwards back from a table's lines (:func:`table_lines`)."""
    parsed = ParsedTable()
    hairpins: set[tuple[str, str, str]] = set()
    structure = ("table ", "chain ", "type nat hook ", "}")
    for line in lines:
        if line.startswith(structure):
            continue
        if dnat := _DNAT_RE.fullmatch(line):
            if dnat["hairpin"]:
                continue  # the hairpin twin of a forward's rule: the forward has it
            to, to_port = _target(dnat["family"], dnat["target"])
            parsed.forwards.append(
                Forward(
                    protocol=dnat["protocol"],  # type: ignore[arg-type]
                    port=dnat["port"],
                    to=to,
                    to_port=to_port,
                    address=dnat["address"],
                    interface=dnat["iif"],
                    hairpin=False,
                    comment=dnat["comment"],
                )
            )
        elif hairpin := _HAIRPIN_RE.fullmatch(line):
            hairpins.add((hairpin["to"], hairpin["protocol"], hairpin["port"]))
        elif masquerade := _MASQUERADE_RE.fullmatch(line):
            parsed.masquerade.append(
                Masquerade(
                    source=masquerade["source"],
                    interface=masquerade["iif"],
                    comment=masquerade["comment"],
                )
            )
        else:
            parsed.unknown.append(line)
    parsed.forwards = [
        forward.model_copy(
            update={"hairpin": (forward.to, forward.protocol, str(forward.guest_ports)) in hairpins}
        )
        for forward in parsed.forwards
    ]
    return parsed
