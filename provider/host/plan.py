"""What one change of host rules does on a node, and whether the node runs the rules (pure).

The transaction (``provider.host.transaction``) reads the node (:class:`NodeState`: pvenet's
files, the loaded table, the sysctls and routes the rules touch, a leftover revert script and
whether its timer is still armed), asks :func:`plan_change` what to do, runs it as the
commands of ``docs/host-rules.md``, and reads the node back for :func:`verify`.

The revert script puts back the *last confirmed* state: the files as they are now, or, when
a previous run's timer is still armed (its answer was lost before it confirmed), the files
that run's backup holds. So a rerun after a lost answer keeps the node's way back to what it
ran before pvenet's unconfirmed change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from provider.host.model import EMPTY, HostRulesSpec, Route
from provider.host.render import (
    BEFORE,
    FILE_MODE,
    HOOK,
    HOST_SCRIPT,
    IP_FORWARD,
    MANAGED_FILES,
    RULES,
    SCRIPT_MODE,
    SYSCTL,
    TABLE,
    UNIT,
    Command,
    HostFile,
    RevertPlan,
    change_commands,
    files,
    parse_host_script,
    parse_sysctl_file,
    parse_table,
    proxy_arp_key,
    table,
    table_lines,
    wanted_sysctls,
    write_command,
)
from provider.problems import Mismatch

FileSet = Mapping[str, str | None]
"""Each managed file's content (None: absent)."""


@dataclass(frozen=True)
class NodeState:
    """What a node holds of pvenet's host rules, as read over SSH."""

    files: dict[str, str | None]
    """Each of ``MANAGED_FILES``: its content, None when absent."""
    table: str | None = None
    """``nft list table inet pvenet`` (None: no such table)."""
    sysctls: dict[str, str] = field(default_factory=dict)
    """The value of each sysctl read (those :func:`sysctl_keys` names)."""
    routes: dict[Route, bool] = field(default_factory=dict)
    """Whether each route read (those :func:`routes_to_read` names) is in the kernel."""
    enabled: bool = False
    """``pvenet-rules.service`` is enabled (it runs at boot)."""
    armed: bool = False
    """A previous run's timer is still armed: its change was never confirmed."""
    backup: dict[str, str | None] = field(default_factory=dict)
    """The backed-up files of that run (read only when ``armed``)."""
    revert: str | None = None
    """That run's revert script (read only when ``armed``)."""

    def confirmed(self) -> FileSet:
        """The files of the last state pvenet confirmed: what the revert script puts back."""
        return self.backup if self.armed else self.files


def rules_in(found: FileSet) -> HostRulesSpec:
    """The per-interface settings and sysctls a set of files sets (what revert must undo)."""
    proxy_arp, routes = parse_host_script(found.get(HOST_SCRIPT) or "")
    sysctls = parse_sysctl_file(found.get(SYSCTL) or "")
    return HostRulesSpec.model_validate(
        {
            "ip_forward": {
                "ipv4": sysctls.get(IP_FORWARD[4]) == "1",
                "ipv6": sysctls.get(IP_FORWARD[6]) == "1",
            },
            "proxy_arp": proxy_arp,
            "routes": [route.model_dump() for route in routes],
        }
    )


def sysctl_keys(spec: HostRulesSpec, found: FileSet, backup: FileSet) -> list[str]:
    """Every sysctl a change to ``spec`` touches or must put back, and the ``proxy_arp`` of
    each interface it names (which tells whether the node has it)."""
    keys = set(wanted_sysctls(spec)) | {proxy_arp_key(i) for i in spec.interfaces()}
    for files_ in (found, backup):
        keys |= set(wanted_sysctls(rules_in(files_)))
        keys |= set(parse_sysctl_file(files_.get(BEFORE) or ""))
    return sorted(keys)


def routes_to_read(spec: HostRulesSpec, found: FileSet, backup: FileSet) -> list[Route]:
    """Every route a change to ``spec`` adds, keeps or removes."""
    routes = {*spec.routes, *rules_in(found).routes, *rules_in(backup).routes}
    return sorted(routes, key=lambda r: (r.host.version, r.host, r.interface))


def missing_interfaces(spec: HostRulesSpec, state: NodeState) -> list[str]:
    """The interfaces ``spec`` sets ``proxy_arp`` or routes on that the node does not have
    (their ``proxy_arp`` sysctl could not be read)."""
    return [i for i in spec.interfaces() if proxy_arp_key(i) not in state.sysctls]


def before_values(spec: HostRulesSpec, state: NodeState) -> dict[str, str]:
    """The value each sysctl pvenet sets had before pvenet first set it.

    Kept from ``before.conf`` (the confirmed one); a sysctl pvenet sets for the first time
    is taken as the node runs it now, unless an unconfirmed run set it, whose revert script
    holds the value before.
    """
    saved = parse_sysctl_file(state.confirmed().get(BEFORE) or "")
    reverted = _revert_sysctls(state.revert) if state.armed else {}
    found = {}
    for key in wanted_sysctls(spec):
        value = saved.get(key) or reverted.get(key) or state.sysctls.get(key)
        if value is not None:
            found[key] = value
    return found


def _revert_sysctls(script: str | None) -> dict[str, str]:
    """``sysctl -qw key=value`` lines of a revert script."""
    found = {}
    for line in (script or "").splitlines():
        words = line.split()
        if words[:2] == ["sysctl", "-qw"] and len(words) == 3 and "=" in words[2]:
            key, _sep, value = words[2].partition("=")
            found[key] = value
    return found


@dataclass(frozen=True)
class Change:
    """One change of host rules on a node, in the order the transaction runs it."""

    writes: tuple[HostFile, ...]
    """Files to install (the rules file first: it is checked before anything is installed)."""
    removes: tuple[str, ...]
    """Files to remove."""
    load: bool | None
    """True: ``nft -f`` the rules file; False: delete the table; None: the table is right."""
    sysctls: tuple[tuple[str, str], ...]
    """(key, value) set directly: forwarding turned on, or put back to its value before."""
    routes_del: tuple[Route, ...]
    """Routes the rules no longer want."""
    run_host_script: bool
    daemon_reload: bool
    enable: bool
    """``systemctl enable`` the service (it is wanted)."""
    disable: bool
    """``systemctl disable`` the service, before its unit file goes."""
    revert: RevertPlan
    """What the node puts back when pvenet does not confirm."""
    backups: tuple[HostFile, ...]
    """The confirmed files, copied under ``/etc/pvenet/backup`` for the revert script."""

    def commands(self) -> list[Command]:
        """The change as contract commands, in order (files with their content as stdin)."""
        return change_commands(
            disable=self.disable,
            files=[(write_command(f.path, f.mode), f.content.encode()) for f in self.writes],
            remove=self.removes,
            daemon_reload=self.daemon_reload,
            enable=self.enable,
            table=self.load,
            sysctls=self.sysctls,
            routes_del=self.routes_del,
            host_script=self.run_host_script,
        )

    @property
    def empty(self) -> bool:
        """Whether the node runs the rules already."""
        return not (
            self.writes
            or self.removes
            or self.load is not None
            or self.sysctls
            or self.routes_del
            or self.run_host_script
            or self.enable
            or self.disable
        )


def plan_change(spec: HostRulesSpec, state: NodeState, unit: str) -> Change:
    """What makes the node run ``spec`` (``EMPTY``: remove everything), from ``state``;
    ``unit`` names the confirm-or-revert timer of this change."""
    before = before_values(spec, state)
    wanted = files(spec, before)
    writes = tuple(
        file
        for path in MANAGED_FILES
        if (file := wanted[path]) is not None and state.files.get(path) != file.content
    )
    removes = tuple(
        path for path in MANAGED_FILES if wanted[path] is None and state.files.get(path) is not None
    )
    wanted_table = None if spec == EMPTY else table_lines(table(spec))
    loaded = table_lines(state.table) if state.table is not None else None
    load = None
    if wanted_table is not None and wanted_table != loaded:
        load = True
    elif wanted_table is None and loaded is not None:
        load = False
    set_now = wanted_sysctls(spec)
    old = rules_in(state.files)
    sysctls = [(key, "1") for key, value in set_now.items() if state.sysctls.get(key) != value]
    for key in sorted(set(wanted_sysctls(old)) - set(set_now)):
        back = parse_sysctl_file(state.files.get(BEFORE) or "").get(key)
        if back is not None and state.sysctls.get(key) != back:
            sysctls.append((key, back))
    routes_del = tuple(
        route for route in old.routes if route not in spec.routes and state.routes.get(route)
    )
    missing_routes = any(not state.routes.get(route) for route in spec.routes)
    proxy_off = any(state.sysctls.get(proxy_arp_key(i)) != "1" for i in spec.proxy_arp)
    unit_changes = any(f.path == UNIT for f in writes) or UNIT in removes
    disable = spec == EMPTY and state.files.get(UNIT) is not None
    return Change(
        writes=writes,
        removes=removes,
        load=load,
        sysctls=tuple(sorted(sysctls)),
        routes_del=routes_del,
        run_host_script=spec.interfaces() != [] and (missing_routes or proxy_off),
        daemon_reload=unit_changes or (spec != EMPTY and not state.enabled),
        enable=spec != EMPTY and not state.enabled,
        disable=disable,
        revert=revert_plan(spec, state, unit, before),
        backups=tuple(
            HostFile(path, _mode(path), content)
            for path, content in state.confirmed().items()
            if content is not None and path in MANAGED_FILES
        ),
    )


def _mode(path: str) -> str:
    """The mode pvenet installs a managed file with (scripts are executable)."""
    return SCRIPT_MODE if path in (HOST_SCRIPT, HOOK) else FILE_MODE


def revert_plan(
    spec: HostRulesSpec, state: NodeState, unit: str, before: Mapping[str, str]
) -> RevertPlan:
    """What the node puts back if pvenet does not confirm: the last confirmed state."""
    confirmed = state.confirmed()
    then = rules_in(confirmed)
    values = {**_revert_sysctls(state.revert if state.armed else None), **before}
    sysctls = {key: values[key] for key in wanted_sysctls(spec) if key in values}
    sysctls.update(wanted_sysctls(then))
    return RevertPlan(
        unit=unit,
        restore=tuple(
            (path, _mode(path)) for path in MANAGED_FILES if confirmed.get(path) is not None
        ),
        remove=tuple(path for path in MANAGED_FILES if confirmed.get(path) is None),
        table=confirmed.get(RULES) is not None,
        sysctls=tuple(sorted(sysctls.items())),
        routes_add=tuple(then.routes),
        routes_del=tuple(route for route in spec.routes if route not in then.routes),
        disable_service=confirmed.get(UNIT) is None and spec != EMPTY,
        enable_service=confirmed.get(UNIT) is not None and spec == EMPTY,
    )


# -- what runs -----------------------------------------------------------------------------


def observed_rules(state: NodeState, desired: HostRulesSpec) -> tuple[HostRulesSpec, list[str]]:
    """The rules the node runs, in the terms of ``desired`` (what ``pulumi refresh`` shows),
    and the loaded rules pvenet does not recognise as its own shapes.

    Forwards and masquerade come from the loaded table; forwarding, proxy_arp and routes
    from the kernel, for those ``desired`` manages (a False ``ip_forward`` leaves the
    node's setting alone, so it reads back False whatever the node runs).
    """
    parsed = parse_table(table_lines(state.table or ""))
    on = {key for key, value in state.sysctls.items() if value == "1"}
    spec = HostRulesSpec.model_validate(
        {
            "forwards": [f.model_dump() for f in parsed.forwards],
            "masquerade": [m.model_dump() for m in parsed.masquerade],
            "ip_forward": {
                "ipv4": desired.ip_forward.ipv4 and IP_FORWARD[4] in on,
                "ipv6": desired.ip_forward.ipv6 and IP_FORWARD[6] in on,
            },
            "proxy_arp": [i for i in desired.proxy_arp if proxy_arp_key(i) in on],
            "routes": [r.model_dump() for r in desired.routes if state.routes.get(r)],
        }
    )
    return spec, parsed.unknown


def verify(desired: HostRulesSpec, state: NodeState) -> list[Mismatch]:
    """How the node differs from running ``desired``: the table (line by line), each
    sysctl, each route and each file pvenet keeps."""
    found: list[Mismatch] = []
    want = None if desired == EMPTY else table_lines(table(desired))
    have = table_lines(state.table) if state.table is not None else None
    if want != have:
        found.append(
            Mismatch(
                f"table {TABLE}",
                "absent" if want is None else "\n".join(want),
                "absent" if have is None else "\n".join(have),
            )
        )
    for key, value in wanted_sysctls(desired).items():
        if state.sysctls.get(key) != value:
            found.append(Mismatch(key, value, state.sysctls.get(key)))
    for route in desired.routes:
        if not state.routes.get(route):
            found.append(
                Mismatch(f"route {route.address} dev {route.interface}", "present", "absent")
            )
    wanted = files(desired, before_values(desired, state))
    for path in MANAGED_FILES:
        file = wanted[path]
        content = None if file is None else file.content
        if state.files.get(path) != content:
            found.append(
                Mismatch(
                    path,
                    "absent" if content is None else "as pvenet writes it",
                    "absent" if state.files.get(path) is None else "other content",
                )
            )
    return found
