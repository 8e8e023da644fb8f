"""``systemctl`` and ``systemd-run``: units on disk, enabled units, transient timers, boot.

A timer armed with ``systemd-run --unit=U --on-active=N CMD...`` is real: the SSH face
fires it after N seconds of wall time (``Context.timers``) and :func:`fire` then runs
CMD on the node, as systemd would run ``U.service``.
"""

from __future__ import annotations

import re
import shlex

from simulator.ssh.context import Context, Result, fail
from simulator.ssh.host import Timer

UNIT_DIRS = ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
SYSTEMCTL_NOT_LOADED = 5  # systemctl's status for a unit that is not loaded
SYSTEMCTL_INACTIVE = 3  # is-active of a unit that is not running
_UNIT_RE = re.compile(r"[A-Za-z0-9:_.\\@-]+")


def _unit_name(name: str) -> str:
    """``name`` with ``.service`` added when it has no unit type."""
    return name if re.search(r"\.(service|timer|target|socket|mount)$", name) else name + ".service"


def unit_file(ctx: Context, unit: str) -> tuple[str, str] | None:
    """(path, text) of ``unit``'s unit file, or None."""
    for directory in UNIT_DIRS:
        text = ctx.host.read(f"{directory}/{unit}")
        if text is not None:
            return f"{directory}/{unit}", text
    return None


def exec_lines(text: str, key: str) -> list[tuple[bool, list[str]]]:
    """The ``ExecStart=``/``ExecStop=`` command lines of a unit (``-``: failure ignored)."""
    found = []
    for raw in text.splitlines():
        name, sep, value = raw.strip().partition("=")
        if sep and name.strip() == key and value.strip():
            command = value.strip()
            ignore = command.startswith("-")
            found.append((ignore, shlex.split(command.lstrip("-@:+!"))))
    return found


def run_exec(ctx: Context, unit: str, key: str) -> Result:
    """Run a unit's ``key`` lines in order, stopping at the first failure not ignored."""
    found = unit_file(ctx, unit)
    result = Result()
    if found is None:
        return result
    for ignore, argv in exec_lines(found[1], key):
        step = ctx.run(ctx.child({}), argv)
        result = result + step
        if step.status != 0 and not ignore:
            return result
        result.status = 0
    return result


def systemctl(ctx: Context, argv: list[str]) -> Result:
    """``systemctl daemon-reload|enable|disable|is-enabled|start|stop|is-active [--now]
    UNIT...``."""
    options = [a for a in argv[1:] if a.startswith("-")]
    unknown = [o for o in options if o not in ("--now", "-q", "--quiet", "--no-pager")]
    if unknown:
        return fail(1, f"systemctl: unrecognized option '{unknown[0]}'")
    args = [a for a in argv[1:] if not a.startswith("-")]
    now = "--now" in options
    quiet = "-q" in options or "--quiet" in options
    if not args:
        return fail(1, "Too few arguments.")
    verb, units = args[0], [_unit_name(u) for u in args[1:]]
    bad = [u for u in units if not _UNIT_RE.fullmatch(u)]
    if bad:
        return fail(1, f'Invalid unit name "{bad[0]}".')
    state = ctx.host.state
    if verb == "daemon-reload":
        state.loaded_units = sorted(
            path.rsplit("/", 1)[1]
            for directory in UNIT_DIRS
            if ctx.host.is_dir(directory)
            for path in _unit_files(ctx, directory)
        )
        ctx.host.save()
        return Result()
    if not units:
        return fail(1, "Too few arguments.")
    result = Result()
    for unit in units:
        if verb == "is-active":
            active = unit in state.active_units or unit in state.timers
            if not quiet:
                result.stdout += ("active" if active else "inactive") + "\n"
            if not active:
                result.status = SYSTEMCTL_INACTIVE
        elif verb == "is-enabled":
            result = result.also(_is_enabled(ctx, unit, quiet))
        elif verb in ("enable", "disable"):
            result = result.also(_enable(ctx, unit, verb == "enable"))
            if now and result.status == 0:
                result = result.also(_start_stop(ctx, unit, verb == "enable"))
        elif verb in ("start", "stop", "restart"):
            if verb == "restart":
                result = result.also(_start_stop(ctx, unit, False))
            result = result.also(_start_stop(ctx, unit, verb != "stop"))
        else:
            return fail(1, f"Unknown command verb {verb}.")
    ctx.host.save()
    return result


def _unit_files(ctx: Context, directory: str) -> list[str]:
    host = ctx.host.node.host_path(directory)
    return [f"{directory}/{p.name}" for p in sorted(host.iterdir()) if p.is_file()]


def _is_enabled(ctx: Context, unit: str, quiet: bool) -> Result:
    """``is-enabled``: ``enabled`` (0) or ``disabled`` (1); a unit without a file fails."""
    if unit_file(ctx, unit) is None:
        return fail(1, f"Failed to get unit file state for {unit}: No such file or directory")
    enabled = unit in ctx.host.state.enabled_units
    shown = "" if quiet else ("enabled\n" if enabled else "disabled\n")
    return Result(0 if enabled else 1, shown)


def _enable(ctx: Context, unit: str, enable: bool) -> Result:
    state = ctx.host.state
    found = unit_file(ctx, unit)
    if found is None:
        what = "enable" if enable else "disable"
        return fail(1, f"Failed to {what} unit: Unit file {unit} does not exist.")
    wants = f"/etc/systemd/system/multi-user.target.wants/{unit}"
    if enable and unit not in state.enabled_units:
        state.enabled_units.append(unit)
        return Result(0, "", f"Created symlink {wants} \u2192 {found[0]}.\n")
    if not enable and unit in state.enabled_units:
        state.enabled_units.remove(unit)
        return Result(0, "", f'Removed "{wants}".\n')
    return Result()


def _start_stop(ctx: Context, unit: str, start: bool) -> Result:
    state = ctx.host.state
    if unit.endswith(".timer"):
        if start:
            return fail(SYSTEMCTL_NOT_LOADED, f"Failed to start {unit}: Unit {unit} not found.")
        if unit not in state.timers:
            return fail(SYSTEMCTL_NOT_LOADED, f"Failed to stop {unit}: Unit {unit} not loaded.")
        del state.timers[unit]
        ctx.timers.disarm(ctx.host.name, unit)
        return Result()  # saved by ``systemctl`` with the other units' changes
    if unit_file(ctx, unit) is None:
        verb = "start" if start else "stop"
        return fail(SYSTEMCTL_NOT_LOADED, f"Failed to {verb} {unit}: Unit {unit} not loaded.")
    running = unit in state.active_units
    if start == running:
        return Result()
    result = run_exec(ctx, unit, "ExecStart" if start else "ExecStop")
    if start and result.status == 0:
        state.active_units.append(unit)
    elif not start:
        state.active_units.remove(unit)
    if result.status != 0:
        return Result(
            1,
            result.stdout,
            result.stderr + f"Job for {unit} failed because the control process exited "
            "with error code.\n",
        )
    return result


def systemd_run(ctx: Context, argv: list[str]) -> Result:
    """``systemd-run --unit=U --on-active=SECONDS CMD...``: a transient timer and service."""
    unit = ""
    seconds: float | None = None
    args = argv[1:]
    while args and args[0].startswith("-"):
        option = args.pop(0)
        name, _sep, value = option.partition("=")
        if name in ("--unit", "-u"):
            unit = value
        elif name == "--on-active":
            match = re.fullmatch(r"(\d+(?:\.\d+)?)s?", value)
            if not match:
                return fail(1, f"Failed to parse timer value: {value}")
            seconds = float(match[1])
        else:
            return fail(1, f"systemd-run: unrecognized option '{option}'")
    if not args:
        return fail(1, "Command line to execute required.")
    if seconds is None or not unit:
        return fail(1, "simulator's systemd-run needs --unit=U and --on-active=SECONDS")
    timer = f"{unit}.timer"
    if timer in ctx.host.state.timers:
        return fail(
            1,
            f"Failed to start transient timer unit: Unit {timer} was already loaded or has a "
            "fragment file.",
        )
    ctx.host.state.timers[timer] = Timer(ctx.now() + seconds, args)
    ctx.host.save()
    ctx.timers.arm(ctx.host.name, timer, seconds)
    return Result(
        0, "", f"Running timer as unit: {timer}\nWill run service as unit: {unit}.service\n"
    )


def fire(ctx: Context, timer: str) -> Result | None:
    """The timer ``timer`` elapsed: forget it and run its command (None: it was disarmed)."""
    armed = ctx.host.state.timers.pop(timer, None)
    if armed is None:
        return None
    ctx.host.save()
    return ctx.run(ctx.child({}), armed.argv)
