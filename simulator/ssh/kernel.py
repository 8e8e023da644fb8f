"""``sysctl`` (procps) and ``ip route`` (iproute2) on the node's simulated kernel."""

from __future__ import annotations

import ipaddress
import json

from simulator.ssh.context import Context, Result, fail
from simulator.ssh.host import Route

SYSCTL_FAILED = 1
"""procps sysctl's status for a key or file it cannot use: 1 in procps 4.0.2 (Debian 12, the
base of Proxmox VE 8), as tests/kernel/test_host_rules.py measures on a real node."""


def _proc_path(key: str) -> str:
    """Where ``key`` lives under /proc/sys (a ``/`` in a dotted key stands for a ``.``)."""
    return "/proc/sys/" + "/".join(part.replace("/", ".") for part in key.split("."))


def _parse_settings(text: str) -> list[tuple[str, str, bool]]:
    """(key, value, failure ignored) of each ``key = value`` line of a sysctl file (blank
    lines and ``#``/``;`` comments skipped; a leading ``-`` ignores a key that fails)."""
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        key, sep, value = line.partition("=")
        if sep:
            found.append((key.strip().lstrip("-"), value.strip(), key.startswith("-")))
    return found


def _apply(ctx: Context, text: str, quiet: bool) -> Result:
    """Set each key of a sysctl file; a key that fails fails the whole (unless ``-key``)."""
    result = Result()
    for key, value, ignored in _parse_settings(text):
        step = _write(ctx, key, value, quiet)
        result = result.also(Result(0, step.stdout) if ignored else step)
    return result


def _no_such_key(key: str) -> Result:
    """procps' failure for a key the kernel does not have."""
    return fail(SYSCTL_FAILED, f"sysctl: cannot stat {_proc_path(key)}: No such file or directory")


def _write(ctx: Context, key: str, value: str, quiet: bool) -> Result:
    if ctx.host.sysctl(key) is None:
        return _no_such_key(key)
    if value not in ("0", "1") and not value.lstrip("-").isdigit():
        return fail(SYSCTL_FAILED, f'sysctl: setting key "{key}": Invalid argument')
    ctx.host.state.sysctls[key] = value
    return Result(0, "" if quiet else f"{key} = {value}\n")


def sysctl(ctx: Context, argv: list[str]) -> Result:
    """``sysctl -n KEY``, ``sysctl [-q] -w KEY=VALUE``, ``sysctl [-q] -p FILE``, ``--system``."""
    args = argv[1:]
    flags: set[str] = set()
    operands: list[str] = []
    for arg in args:
        if arg == "--system":
            flags.add("system")
        elif arg.startswith("-") and len(arg) > 1:
            for flag in arg[1:]:
                if flag not in "nqwp":
                    return fail(SYSCTL_FAILED, f"sysctl: invalid option -- '{flag}'")
                flags.add(flag)
        else:
            operands.append(arg)
    quiet = "q" in flags
    if "system" in flags:
        return _system(ctx, quiet)
    if "p" in flags:
        result = Result()
        for path in operands or ["/etc/sysctl.conf"]:
            text = ctx.host.read(path)
            if text is None:
                return result + fail(
                    SYSCTL_FAILED, f'sysctl: cannot open "{path}": No such file or directory'
                )
            result = result.also(_apply(ctx, text, quiet))
        ctx.host.save()
        return result
    if not operands:
        return fail(SYSCTL_FAILED, "sysctl: no variables specified")
    result = Result()
    for operand in operands:
        key, sep, value = operand.partition("=")
        if sep:
            result = result.also(_write(ctx, key, value, quiet))
            continue
        current = ctx.host.sysctl(key)
        if current is None:
            result = result.also(_no_such_key(key))
        else:
            result = result.also(
                Result(0, current + "\n" if "n" in flags else f"{key} = {current}\n")
            )
    ctx.host.save()
    return result


def _system(ctx: Context, quiet: bool) -> Result:
    """``sysctl --system``: the files of /etc/sysctl.d in name order, then /etc/sysctl.conf."""
    directory = ctx.host.node.host_path("/etc/sysctl.d")
    names = sorted(p.name for p in directory.glob("*.conf")) if directory.is_dir() else []
    result = Result()
    for path in [f"/etc/sysctl.d/{name}" for name in names] + ["/etc/sysctl.conf"]:
        text = ctx.host.read(path)
        if text is None:
            continue
        if not quiet:
            result.stdout += f"* Applying {path} ...\n"
        result = result.also(_apply(ctx, text, quiet))
    ctx.host.save()
    return result


def _host_route(text: str) -> str | None:
    """``ADDR/32`` (or a bare address) as the kernel keeps it; None when it is no address."""
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        return None
    full = 32 if network.version == 4 else 128
    return str(network.network_address) if network.prefixlen == full else str(network)


def ip(ctx: Context, argv: list[str]) -> Result:
    """``ip route replace|del ADDR dev IF`` and ``ip [-j] route show ADDR``."""
    args = argv[1:]
    as_json = False
    if args[:1] == ["-j"]:
        as_json, args = True, args[1:]
    if args[:1] not in (["route"], ["r"], ["ro"]):
        word = args[0] if args else ""
        return fail(1, f'Object "{word}" is unknown, try "ip help".')
    verb, rest = (args[1], args[2:]) if len(args) > 1 else ("show", [])
    if verb == "show":
        return _show(ctx, rest, as_json)
    if verb not in ("replace", "del", "delete", "add"):
        return fail(255, f'Command "{verb}" is unknown, try "ip route help".')
    if len(rest) != 3 or rest[1] != "dev":
        return fail(255, "simulator's ip understands only: ip route replace|add|del ADDR dev IF")
    dst = _host_route(rest[0])
    if dst is None:
        return fail(1, f'Error: any valid prefix is expected rather than "{rest[0]}".')
    dev = rest[2]
    if dev not in ctx.host.links():
        return fail(1, f'Cannot find device "{dev}"')
    routes = ctx.host.state.routes
    same = [r for r in routes if r.dst == dst]
    if verb in ("del", "delete"):
        match = [r for r in same if r.dev == dev]
        if not match:
            return fail(2, "RTNETLINK answers: No such process")
        routes.remove(match[0])
    elif verb == "add" and same:
        return fail(2, "RTNETLINK answers: File exists")
    else:
        for route in same:
            routes.remove(route)
        routes.append(Route(dst, dev))
    ctx.host.save()
    return Result()


def _show(ctx: Context, rest: list[str], as_json: bool) -> Result:
    if len(rest) > 1:
        return fail(255, "simulator's ip understands only: ip [-j] route show [ADDR]")
    wanted = _host_route(rest[0]) if rest else None
    if rest and wanted is None:
        return fail(1, f'Error: any valid prefix is expected rather than "{rest[0]}".')
    routes = [r for r in ctx.host.state.routes if wanted is None or r.dst == wanted]
    if as_json:
        entries = [{"dst": r.dst, "dev": r.dev, "scope": "link", "flags": []} for r in routes]
        return Result(0, json.dumps(entries, separators=(",", ":")) + "\n")
    return Result(0, "".join(f"{r.dst} dev {r.dev} scope link \n" for r in routes))
