"""Debian's ifupdown2, unpacked (never installed), run inside a lab namespace.

``fetch`` downloads the package with ``apt-get download`` and unpacks it with
``dpkg -x`` into the tier's cache. ``Ifupdown2`` runs it inside a namespace with
a private ``/etc`` (an overlay whose upper layer is the test's state dir),
a private ``/etc/network`` (the files under test), a private ``/run`` with
``/run/network`` kept between calls, and ``state_dir`` in the test's state dir,
so ``ifreload``, ``ifquery`` and ``ifdown`` see each other's state and nothing
outside the test changes. ``addon_syntax_check=1``: unknown keywords and bad
values are reported. Every ``warning:`` or ``error:`` line on stderr is a
problem unless ``KNOWN_ISSUES`` explains it.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.kernel.netns import Netns, run

CACHE = Path(os.environ.get("PVENET_KERNEL_CACHE", "/var/tmp/pvenet-kernel-cache"))
"""Where the kernel tier keeps what it downloads (ifupdown2, Debian's kernel)."""
PACKAGE = "ifupdown2"
PYTHON = "/usr/bin/python3"  # Debian's build of ifupdown2 runs on Debian's python3
COMMANDS = ("ifup", "ifdown", "ifquery", "ifreload")


@dataclass(frozen=True)
class KnownIssue:
    """A stderr line of Debian's ifupdown2 that does not mean the config is wrong."""

    pattern: str
    reason: str
    upstream: str = "3.0.0"  # the ifupdown2 release this was seen with

    def matches(self, line: str, version: str) -> bool:
        """Whether ``line`` is this issue, printed by an ifupdown2 of ``version``."""
        return version.startswith(self.upstream) and re.search(self.pattern, line) is not None


# Lines allowed on stderr. Keep this short and explained: everything else fails the test.
KNOWN_ISSUES: tuple[KnownIssue, ...] = (
    KnownIssue(
        r"^warning: /sbin/brctl: missing - bridge operation may not work as expected",
        # bridge-utils is only a "Suggests" of Debian's ifupdown2. 3.0.0 sets every bridge
        # attribute the rendered files use (ports, stp off, fd 0, vlan filtering, vids) over
        # netlink; brctl is only used for multicast-querier options nothing renders. The
        # warning is printed once per run for any bridge.
        "bridge-utils not installed (Suggests); bridges are configured over netlink",
    ),
)

# What ifupdown2 prints for a problem (its logger's prefixes).
_PROBLEM = re.compile(r"^(warning|error):", re.IGNORECASE)

# Runs in the namespace, in a private mount namespace: private /etc, /etc/network and /run.
# PATH starts with a stub ``modprobe``: ifupdown2's bond addon runs ``modprobe -q bonding``
# on every call when bonding is not loaded, and loading it would add ``bond0`` to the
# host's namespace (bonding's max_bonds=1). Bond scenarios run natively only when the
# module is already loaded (see probes.FEATURES).
_WRAPPER = r"""
set -e
st=$1; shift
mkdir -p "$st/bin"
printf '#!/bin/sh\necho "pvenet: modprobe $* refused" >&2\nexit 1\n' > "$st/bin/modprobe"
chmod +x "$st/bin/modprobe"
export PATH="$st/bin:$PATH"
mount -t overlay pvenet-etc -o "lowerdir=/etc,upperdir=$st/etc-upper,workdir=$st/etc-work" /etc
mkdir -p /etc/network
mount --bind "$st/network" /etc/network
mount -t tmpfs pvenet-run /run
mkdir -p /run/network
mount --bind "$st/run" /run/network
exec "$@"
"""


@dataclass(frozen=True)
class Package:
    """An unpacked ifupdown2: its root and a bin dir with ifup/ifdown/ifquery/ifreload links."""

    root: Path
    version: str

    @property
    def modules(self) -> Path:
        """The directory its Python modules are imported from (``ifupdown``, ``addons``...)."""
        return self.root / "usr/share/ifupdown2"

    @property
    def bin(self) -> Path:
        """Symlinks named after the commands (argv[0] selects the operation)."""
        return self.root.parent / "bin"


@contextmanager
def cache_lock(cache: Path) -> Iterator[None]:
    """Hold the cache's lock: concurrent test runs must not unpack into it at once."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def fetch(cache: Path) -> Package:
    """Debian's ifupdown2 unpacked under ``cache/ifupdown2`` (downloaded once).

    Its modules are byte-compiled right away, so that the QEMU guest, which
    sees the cache read-only, does not compile them on every call.
    """
    home = cache / PACKAGE
    root = home / "root"
    stamp = home / "version"
    if not stamp.exists():
        home.mkdir(parents=True, exist_ok=True)
        deb = download_deb(PACKAGE, home)
        shutil.rmtree(root, ignore_errors=True)
        run(["dpkg-deb", "-x", str(deb), str(root)])
        run([PYTHON, "-m", "compileall", "-q", str(root / "usr/share/ifupdown2")], timeout=300)
        version = run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
        stamp.write_text(version + "\n")
    main = root / "usr/share/ifupdown2/__main__.py"
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    for command in COMMANDS:
        link = bin_dir / command
        if not link.is_symlink():
            link.symlink_to(main)
    return Package(root, stamp.read_text().strip())


def unpacked(cache: Path = CACHE) -> Package | None:
    """The ifupdown2 a kernel-tier run already unpacked into ``cache``, or None (no download)."""
    home = cache / PACKAGE
    stamp = home / "version"
    if not stamp.exists():
        return None
    return Package(home / "root", stamp.read_text().strip())


def download_deb(package: str, into: Path) -> Path:
    """``apt-get download package`` into ``into``; refreshes apt's lists once if needed."""
    argv = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", package]
    done = subprocess.run(argv, cwd=into, capture_output=True, text=True, check=False)
    if done.returncode != 0:  # a fresh machine may have no package lists yet
        run(["apt-get", "update", "-q"], timeout=300)
        done = subprocess.run(argv, cwd=into, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"apt-get download {package} failed: {done.stderr.strip()}")
    debs = sorted(into.glob(f"{package}_*.deb"), key=lambda p: p.stat().st_mtime)
    return debs[-1]


@dataclass
class Result:
    """One ifupdown2 call: its command line, exit code and output."""

    argv: list[str]
    rc: int
    stdout: str
    stderr: str
    version: str
    allowed: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for line in self.stderr.splitlines():
            if not _PROBLEM.match(line.strip()):
                continue
            known = any(k.matches(line.strip(), self.version) for k in KNOWN_ISSUES)
            (self.allowed if known else self.problems).append(line.strip())

    @property
    def clean(self) -> bool:
        """rc 0 and no ``warning:``/``error:`` line outside the known issues."""
        return self.rc == 0 and not self.problems

    def __str__(self) -> str:
        return (
            f"{' '.join(self.argv)} -> rc={self.rc}\n"
            f"problems: {self.problems}\nstderr:\n{self.stderr}\nstdout:\n{self.stdout}"
        )


class Ifupdown2:
    """ifupdown2 for one namespace, with its own /etc/network, /run/network and state."""

    def __init__(self, package: Package, ns: Netns, state: Path) -> None:
        self.package = package
        self.ns = ns
        self.state = state
        for sub in ("etc-upper", "etc-work", "run", "state", "network/interfaces.d"):
            (state / sub).mkdir(parents=True, exist_ok=True)
        conf_dir = state / "network/ifupdown2"
        (conf_dir / "policy.d").mkdir(parents=True, exist_ok=True)
        packaged = package.root / "etc/network/ifupdown2"
        shutil.copy(packaged / "addons.conf", conf_dir / "addons.conf")
        conf = (packaged / "ifupdown2.conf").read_text()
        conf = re.sub(r"(?m)^state_dir=.*$", f"state_dir={state / 'state'}/", conf)
        conf = re.sub(r"(?m)^addon_syntax_check=.*$", "addon_syntax_check=1", conf)
        (conf_dir / "ifupdown2.conf").write_text(conf)

    def path(self, node_path: str) -> Path:
        """Where the namespace's ``/etc/network/...`` file lives on the host."""
        relative = Path(node_path).relative_to("/etc/network")
        return self.state / "network" / relative

    def write_files(self, files: Mapping[str, str | None]) -> None:
        """Install a node's files (``/etc/network/interfaces``, ``interfaces.d/sdn``)."""
        for node_path, text in files.items():
            if node_path.endswith(".new"):
                continue  # pending changes are not what the node runs
            if not node_path.startswith("/etc/network/interfaces"):
                continue  # host rules' files: test_host_rules.py installs them over real SSH
            target = self.path(node_path)
            if text is None:
                target.unlink(missing_ok=True)
            else:
                target.write_text(text)

    def read(self, node_path: str) -> str:
        """The namespace's copy of a node file."""
        return self.path(node_path).read_text()

    def replace(self, node_path: str, old: str, new: str) -> None:
        """Edit an installed file in place (the negative tests break files this way)."""
        text = self.read(node_path)
        assert old in text, f"{old!r} not in {node_path}:\n{text}"
        self.path(node_path).write_text(text.replace(old, new))

    def run(self, command: str, *args: str, timeout: float = 300) -> Result:
        """``command args`` (ifup, ifdown, ifquery, ifreload) inside the namespace."""
        argv = [
            "ip", "netns", "exec", self.ns.name,
            "unshare", "--mount", "--propagation", "private",
            "/bin/sh", "-ec", _WRAPPER, "ifupdown2", str(self.state),
            PYTHON, str(self.package.bin / command), *args,
        ]  # fmt: skip
        done = run(argv, check=False, timeout=timeout)
        return Result(
            [command, *args], done.returncode, done.stdout, done.stderr, self.package.version
        )

    def reload(self) -> Result:
        """``ifreload -a``: what Proxmox runs to apply the files."""
        return self.run("ifreload", "-a")

    def query_check(self) -> Result:
        """``ifquery -c -a``: the running state against the files."""
        return self.run("ifquery", "-c", "-a")
