"""What this machine can do, and what the host's own network looks like.

``gate`` decides whether the tier can run at all (root, ``ip netns add``);
``features`` tries each kernel feature the scenarios need inside a throwaway
namespace; ``host_snapshot`` records the host namespace's links, addresses,
routes, firewall and forwarding sysctls so a test can prove the tier left
them exactly as they were.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from tests.kernel.netns import run

KERNEL_DIR = Path(__file__).parent
INSTALL_DEPS = KERNEL_DIR / "install-deps.sh"

# Commands the tier runs, by install-deps.sh group.
BASE_TOOLS = ("ip", "bridge", "iptables", "iptables-save", "nft", "curl", "/usr/bin/python3")
QEMU_TOOLS = ("qemu-system-x86_64", "busybox")

# Kernel features, each with the command that proves it inside a namespace.
FEATURES: dict[str, list[list[str]]] = {
    "bond": [["link", "add", "pvkbond0", "type", "bond"]],
    "8021q": [
        ["link", "add", "pvkv0", "type", "veth", "peer", "name", "pvkv1"],
        ["link", "add", "link", "pvkv0", "name", "pvkv0.10", "type", "vlan", "id", "10"],
    ],
    "vlan_filtering": [["link", "add", "pvkbr0", "type", "bridge", "vlan_filtering", "1"]],
}


def missing_tools(tools: tuple[str, ...]) -> list[str]:
    """The tools of ``tools`` not found on PATH."""
    return [t for t in tools if not (shutil.which(t) or os.access(t, os.X_OK))]


def missing_qemu_tools() -> list[str]:
    """What the QEMU guest needs and is missing (busybox must be Debian's static build)."""
    missing = missing_tools(QEMU_TOOLS)
    status = run(["dpkg-query", "-W", "-f=${Status}", "busybox-static"], check=False).stdout
    if "ok installed" not in status and "busybox" not in missing:
        missing.append("busybox-static")
    return missing


def install_deps(*groups: str) -> str:
    """Run ``install-deps.sh groups``; its output (what it installed). Raises on failure."""
    done = subprocess.run(
        ["bash", str(INSTALL_DEPS), *groups],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        raise RuntimeError(f"install-deps.sh {' '.join(groups)} failed:\n{output}")
    return output


def netns_probe() -> str | None:
    """None when ``ip netns add``/``del`` work here, else why not."""
    if shutil.which("ip") is None:
        return "iproute2's ip is not installed"
    name = f"pvkgate{os.getpid()}"
    done = run(["ip", "netns", "add", name], check=False)
    if done.returncode != 0:
        return f"'ip netns add' failed: {done.stderr.strip()}"
    run(["ip", "netns", "del", name], check=False)
    return None


# Modules that must already be loaded before a probe may use them: loading bonding
# creates ``bond0`` in the host's namespace (max_bonds defaults to 1).
MUST_BE_LOADED = {"bond": "bonding"}


def features() -> dict[str, str | None]:
    """Each feature in ``FEATURES``: None when the kernel has it, else the kernel's error."""
    name = f"pvkprobe{os.getpid()}"
    run(["ip", "netns", "add", name])
    try:
        found: dict[str, str | None] = {}
        for feature, commands in FEATURES.items():
            found[feature] = None
            module = MUST_BE_LOADED.get(feature)
            if module and not Path("/sys/module", module).exists():
                found[feature] = (
                    f"module {module} not loaded (loading it would add bond0 to the host)"
                )
                continue
            for command in commands:
                done = run(["ip", "-n", name, *command], check=False)
                if done.returncode != 0:
                    found[feature] = f"'ip {' '.join(command)}': {done.stderr.strip()}"
                    break
        return found
    finally:
        run(["ip", "netns", "del", name], check=False)


def fs_type(path: Path) -> str:
    """The file system type of ``path`` (``stat -f``)."""
    return run(["stat", "-f", "-c", "%T", str(path)]).stdout.strip()


# Numbers that change with traffic or time, not with configuration.
_VOLATILE = (
    (re.compile(r"\[\d+:\d+\]"), "[-:-]"),  # iptables-save chain counters
    (re.compile(r"packets \d+ bytes \d+"), "packets - bytes -"),  # nft counters
    (re.compile(r"(valid|preferred)_lft \S+"), r"\1_lft -"),  # DHCP/SLAAC lifetimes
    (re.compile(r"expires \d+sec"), "expires -"),  # RA routes
    (re.compile(r"^# (Generated|Completed) .*$", re.MULTILINE), ""),  # iptables-save stamps
    (re.compile(r" state [A-Z]+ "), " "),  # operstate may flap on its own
)
_SYSCTLS = (
    "/proc/sys/net/ipv4/ip_forward",
    "/proc/sys/net/ipv4/conf/all/forwarding",
    "/proc/sys/net/ipv6/conf/all/forwarding",
    "/proc/sys/net/bridge/bridge-nf-call-iptables",
)
_CONFIG_DIRS = ("/etc/network", "/run/network", "/var/tmp/network")


def host_snapshot() -> dict[str, str]:
    """The host namespace's network state, normalised: must be equal before and after."""
    commands = {
        "ip link": ["ip", "-o", "link"],
        "ip addr": ["ip", "-o", "addr"],
        "ip route": ["ip", "route"],
        "ip -6 route": ["ip", "-6", "route"],
        "ip rule": ["ip", "rule"],
        "iptables-save": ["iptables-save"],
        "ip6tables-save": ["ip6tables-save"],
        "nft list ruleset": ["nft", "list", "ruleset"],
    }
    snapshot: dict[str, str] = {}
    for label, argv in commands.items():
        if shutil.which(argv[0]) is None:
            snapshot[label] = "(not installed)"
            continue
        done = run(argv, check=False)
        text = f"rc={done.returncode}\n{done.stdout}{done.stderr}"
        for pattern, replacement in _VOLATILE:
            text = pattern.sub(replacement, text)
        snapshot[label] = text
    for path in _SYSCTLS:
        file = Path(path)
        snapshot[path] = file.read_text().strip() if file.exists() else "(absent)"
    for directory in _CONFIG_DIRS:  # ifupdown2 only ever sees private copies of these
        snapshot[directory] = _listing(Path(directory))
    return snapshot


def _listing(directory: Path) -> str:
    """Every file below ``directory`` with its size and modification time."""
    if not directory.exists():
        return "(absent)"
    lines = []
    for path in sorted(directory.rglob("*")):
        stat = path.lstat()
        lines.append(f"{path} {stat.st_size} {stat.st_mtime_ns}")
    return "\n".join(lines)
