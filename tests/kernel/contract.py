"""docs/host-rules.md's commands, run over real SSH with the files of provider/host/render.py.

The kernel tier's own client of the contract: each step is one command of the
contract's table, in the order its "Confirm-or-revert" section gives, so that a
real node (sshd, nft, sysctl, ip, ifupdown2 and the systemd shims) proves the
commands and files do what the page says. It decides nothing the renderer does
not: files, the revert script and the sysctl values all come from
``provider.host.render``.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from provider.host.model import HostRulesSpec
from provider.host.render import (
    BEFORE,
    FILE_MODE,
    HOOK,
    HOST_SCRIPT,
    MANAGED_FILES,
    PVENET_DIR,
    REVERT_SCRIPT,
    REVERT_UNIT_PREFIX,
    RULES,
    SCRIPT_MODE,
    SERVICE,
    STAGED_RULES,
    SYSCTL,
    TABLE,
    UNIT,
    RevertPlan,
    backup_path,
    files,
    parse_host_script,
    parse_sysctl_file,
    proxy_arp_key,
    revert_script,
    wanted_sysctls,
)
from tests.kernel.netns import LabError
from tests.kernel.sshnode import SshNode

MODES = {HOST_SCRIPT: SCRIPT_MODE, HOOK: SCRIPT_MODE}
"""Each managed file's mode (the rest are FILE_MODE)."""


@dataclass(frozen=True)
class Applied:
    """How one apply ended: confirmed, or put back by the node's timer."""

    unit: str
    confirmed: bool
    reason: str = ""


class ContractClient:
    """Applies and deletes one node's host rules with the contract's commands only."""

    def __init__(self, node: SshNode, confirm_timeout: float = 120) -> None:
        self.node = node
        self.confirm_timeout = confirm_timeout

    def current(self) -> dict[str, str | None]:
        """Every managed file as the node holds it (``cat``; None when absent)."""
        return {path: self.node.read(path) for path in MANAGED_FILES}

    def install(self, path: str, content: str, mode: str) -> None:
        """``install -D -m <mode> /dev/stdin <path>``."""
        self.node.run(["install", "-D", "-m", mode, "/dev/stdin", path], stdin=content)

    def apply(self, spec: HostRulesSpec) -> Applied:
        """Back up, arm the timer, stage and check, install and load, confirm over a new
        connection (docs/host-rules.md, "Confirm-or-revert")."""
        run = self.node.run
        current = self.current()
        before = parse_sysctl_file(current[BEFORE] or "")
        old_proxy_arp, old_routes = parse_host_script(current[HOST_SCRIPT] or "")
        for key in wanted_sysctls(spec):
            if key not in before:
                before[key] = run(["sysctl", "-n", key]).stdout.strip()
        wanted = files(spec, before)
        touched = set(wanted_sysctls(spec)) | {proxy_arp_key(i) for i in old_proxy_arp}
        now = {key: run(["sysctl", "-n", key]).stdout.strip() for key in sorted(touched)}
        unit = REVERT_UNIT_PREFIX + secrets.token_hex(4)

        # 1. back up what the node holds, write the revert script, arm the timer
        for path, text in current.items():
            if text is not None:
                self.install(backup_path(path), text, MODES.get(path, FILE_MODE))
        plan = RevertPlan(
            unit=unit,
            restore=tuple((p, MODES.get(p, FILE_MODE)) for p, t in current.items() if t),
            remove=tuple(p for p, f in wanted.items() if f is not None and current[p] is None),
            table=current[RULES] is not None,
            sysctls=tuple(now.items()),
            routes_add=tuple(old_routes),
            routes_del=tuple(r for r in spec.routes if r not in old_routes),
            disable_service=current[UNIT] is None,
        )
        self.install(REVERT_SCRIPT, revert_script(plan), SCRIPT_MODE)
        run(
            [
                "systemd-run", f"--unit={unit}", f"--on-active={self.confirm_timeout:g}",
                "/bin/sh", REVERT_SCRIPT,
            ]
        )  # fmt: skip

        # 2. stage and check the rules; install and load everything
        rules = wanted[RULES]
        assert rules is not None
        self.install(STAGED_RULES, rules.content, FILE_MODE)
        checked = run(["nft", "-c", "-f", STAGED_RULES], check=False)
        run(["rm", "-f", STAGED_RULES])
        if checked.rc != 0:
            run(["systemctl", "stop", f"{unit}.timer"])
            raise LabError(f"nft refused the rules: {checked.stderr}")
        for path, file in wanted.items():
            if file is not None:
                self.install(path, file.content, file.mode)
            elif current[path] is not None:
                run(["rm", "-f", path])
        run(["nft", "-f", RULES])
        if wanted[SYSCTL] is not None:
            run(["sysctl", "-p", SYSCTL])
        for iface in sorted(set(old_proxy_arp) - set(spec.proxy_arp)):
            key = proxy_arp_key(iface)
            run(["sysctl", "-qw", f"{key}={before.get(key, '0')}"])
        for route in old_routes:
            if route not in spec.routes:
                run(["ip", "route", "del", route.address, "dev", route.interface], check=False)
        run([HOST_SCRIPT])
        run(["systemctl", "daemon-reload"])
        run(["systemctl", "enable", SERVICE])

        # 3. reach the node again over a new connection; only then disarm the timer
        return self.confirm(unit)

    def confirm(self, unit: str) -> Applied:
        """A new SSH connection disarms the timer; without one, wait for the node's revert."""
        try:
            fresh = self.node.connect(timeout=3)
        except Exception as error:  # refused, reset, timed out: the path is cut
            deadline = time.monotonic() + self.confirm_timeout + 10
            while time.monotonic() < deadline:
                time.sleep(0.5)
                try:
                    self.node.connect(timeout=2).close()
                except Exception:
                    continue
                break
            self.node.reconnect()
            armed = self.node.run(["systemctl", "is-active", f"{unit}.timer"], check=False)
            if armed.rc == 0:
                raise LabError(f"{unit}.timer still armed after the path came back") from error
            return Applied(unit, False, f"no new connection ({error or type(error).__name__})")
        try:
            self.node.run(["systemctl", "stop", f"{unit}.timer"], client=fresh)
        finally:
            fresh.close()
        return Applied(unit, True)

    def delete(self) -> None:
        """Unload, put the sysctls back, remove every file (the contract's removal)."""
        run = self.node.run
        current = self.current()
        _proxy_arp, routes = parse_host_script(current[HOST_SCRIPT] or "")
        if current[UNIT] is not None:
            run(["systemctl", "disable", SERVICE])
        if run(["nft", "list", "table", *TABLE.split()], check=False).rc == 0:
            run(["nft", "delete", "table", *TABLE.split()])
        if current[BEFORE] is not None:
            run(["sysctl", "-p", BEFORE])
        for route in routes:
            run(["ip", "route", "del", route.address, "dev", route.interface], check=False)
        run(["rm", "-rf", PVENET_DIR])
        run(["rm", "-f", SYSCTL, UNIT, HOOK])
        run(["systemctl", "daemon-reload"])
