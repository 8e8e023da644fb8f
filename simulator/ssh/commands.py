"""The command dispatcher: what runs when a node is asked to run a command line.

One SSH exec, a line of a script, a unit's ``ExecStart=``, a timer's command and the
if-up.d hook all come through :func:`run`: a known tool by name or by its path in a
``bin`` directory, ``/bin/sh FILE [ARGS]``, an executable script on the node, or
``sh: 1: NAME: not found`` (status 127). Also here: ``ifreload -a`` (the node's own
reload, then the if-up.d hooks), and :func:`boot`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable

from simulator.node import api as node_api
from simulator.ssh import files, kernel, nftcmd, systemd
from simulator.ssh.context import Context, Result, fail
from simulator.ssh.sh import SYNTAX_ERROR, Unsupported, lex, run_list, run_script

BIN_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin")
IF_UP_DIR = "/etc/network/if-up.d"
NOT_FOUND = 127
NOT_EXECUTABLE = 126
ROOT = "root@pam"


def ifreload(ctx: Context, argv: list[str], staged: bool = False) -> Result:
    """``ifreload -a``: the node's reload, as ``PUT /nodes/{node}/network`` does it but
    leaving a staged ``interfaces.new`` alone (``staged``: move it into place first, as
    at boot), with its :func:`after_reload` (the cluster's reload hook)."""
    if argv[1:] != ["-a"]:
        return fail(1, "simulator's ifreload understands only: ifreload -a")
    ctx.host.save()
    log, error = node_api.reload_node(ctx.cluster, ctx.host.node, ROOT, None, staged=staged)
    ctx.host.reload()  # the cluster's reload hooks (after_reload) changed the host state
    return Result(
        0 if error is None else 1, "", "".join(line + "\n" for line in log if "error" in line)
    )


def after_reload(ctx: Context) -> Result:
    """What follows a successful reload on the node, however it was asked for (``ifreload
    -a`` over SSH, ``PUT /nodes/{node}/network``, an SDN apply): the kernel forgets routes
    and settings of links that went, then the if-up.d hooks run per interface."""
    ctx.host.drop_gone_links()
    ctx.host.save()
    return if_up_hooks(ctx)


def if_up_hooks(ctx: Context) -> Result:
    """Run every executable hook of ``/etc/network/if-up.d`` for each interface that is up.

    A hook's failure is ifupdown2's warning, not the reload's: the status stays 0.
    """
    directory = ctx.host.node.host_path(IF_UP_DIR)
    hooks = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    result = Result()
    for iface in sorted(ctx.host.node.active | {"lo"}):
        env = {"IFACE": iface, "MODE": "start", "PHASE": "post-up"}
        for name in hooks:
            path = f"{IF_UP_DIR}/{name}"
            if ctx.host.executable(path):
                step = run(ctx.child(env), [path])
                result.stderr += step.stderr
    return result


def _sh(ctx: Context, argv: list[str]) -> Result:
    """``sh FILE [ARGS]``."""
    if len(argv) < 2 or argv[1].startswith("-"):
        return fail(SYNTAX_ERROR, "sh: only `sh FILE [ARGS]` is supported by the simulator")
    text = ctx.host.read(argv[1])
    if text is None:
        return fail(SYNTAX_ERROR, f"sh: 0: cannot open {argv[1]}: No such file")
    return run_script(ctx, argv[1], text, argv[2:], run)


TOOLS: dict[str, Callable[[Context, list[str]], Result]] = {
    "cat": files.cat,
    "install": files.install,
    "rm": files.rm,
    "nft": nftcmd.nft_command,
    "sysctl": kernel.sysctl,
    "ip": kernel.ip,
    "systemctl": systemd.systemctl,
    "systemd-run": systemd.systemd_run,
    "ifreload": ifreload,
    "sh": _sh,
    "dash": _sh,
}


def run(ctx: Context, argv: list[str]) -> Result:
    """Run one command (already split into words) on the node."""
    if not argv:
        return Result()
    name = argv[0]
    if "/" not in name:
        tool = TOOLS.get(name)
        return tool(ctx, argv) if tool else fail(NOT_FOUND, f"sh: 1: {name}: not found")
    directory, base = posixpath.split(posixpath.normpath(name))
    if directory in BIN_DIRS and base in TOOLS:
        return TOOLS[base](ctx, argv)
    text = ctx.host.read(name)
    if text is None:
        return fail(NOT_FOUND, f"sh: 1: {name}: not found")
    if not ctx.host.executable(name):
        return fail(NOT_EXECUTABLE, f"sh: 1: {name}: Permission denied")
    first = text.split("\n", 1)[0]
    if first.startswith("#!") and first[2:].strip().split()[:1] not in (["/bin/sh"], ["/bin/dash"]):
        return fail(SYNTAX_ERROR, f"{name}: only /bin/sh scripts run on the simulated node")
    return run_script(ctx, name, text, argv[1:], run)


def run_line(ctx: Context, line: str) -> Result:
    """One SSH exec's command line: words, quotes and ``;``/``&&``/``||`` lists; anything
    more (pipes, redirections, ``$``, globs) is the shell's refusal (status 2)."""
    try:
        tokens = lex(line, None)
    except Unsupported as problem:
        return fail(SYNTAX_ERROR, f"sh: 1: Syntax error: {problem} unsupported by the simulator")
    return run_list(ctx, tokens, run)


def reads_stdin(line: str) -> bool:
    """Whether the command line reads its standard input (the exec must wait for it)."""
    try:
        words = [w for w in lex(line, None) if isinstance(w, str)]
    except Unsupported:
        return False
    if not words:
        return False
    base = posixpath.basename(words[0])
    if base == "install":
        return files.STDIN in words[1:]
    if base == "cat":
        return not words[1:] or any(w in ("-", files.STDIN) for w in words[1:])
    return False


def boot(ctx: Context) -> Result:
    """The node starts again: runtime state gone, sysctl.d applied, the network brought up
    from its files (``interfaces.new`` moved into place, as pvenetcommit does) with the
    if-up.d hooks, then the ExecStart lines of the enabled units."""
    host = ctx.host
    host.power_cycle()
    host.save()
    result = kernel.sysctl(ctx, ["sysctl", "-q", "--system"])
    result = result.also(ifreload(ctx, ["ifreload", "-a"], staged=True))
    for unit in list(host.state.enabled_units):
        result = result.also(systemd.systemctl(ctx, ["systemctl", "start", unit]))
    return result
