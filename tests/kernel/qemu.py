"""Run kernel scenarios inside a QEMU guest that boots Debian's stock kernel.

The machine's own kernel may lack modules a scenario needs (bonding, 8021q,
bridge VLAN filtering). The guest boots Debian's ``linux-image-amd64`` (the
package is downloaded and unpacked into the cache, never installed) with a
small busybox initramfs that mounts the host's ``/`` **read-only** over
virtio-9p with a tmpfs overlay on top, so the guest sees this very checkout,
venv, tools and ifupdown2 cache while every write it makes is discarded at
power-off. The guest has no network card. Its PID 1 loads the modules and runs
pytest for just the delegated tests, with ``PVENET_KERNEL_GUEST=1`` (the tier
then runs them natively in the guest); their outcomes come back as JSON on a
second, writable 9p share: a fresh directory of this run.

TCG emulation (nested KVM hangs on the CI machines): roughly 10-25x slower
than native, so the guest runs as few tests as possible.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.kernel.ifupdown2 import download_deb
from tests.kernel.netns import run

GUEST_ENV = "PVENET_KERNEL_GUEST"  # set in the guest: run delegated tests natively there
RESULTS_ENV = "PVENET_KERNEL_RESULTS"  # the guest's JSON results file
SCENARIOS_FILE = "scenarios.json"  # next to the results: the files the host rendered
ACCEL_ENV = "PVENET_KERNEL_QEMU_ACCEL"  # tcg (default) or kvm
BOOT_MODULES = ("virtio_pci", "9pnet_virtio", "9p", "overlay")
# Loaded by the guest's PID 1 before pytest starts (the rest autoload via modprobe).
GUEST_MODULES = (
    "bridge", "br_netfilter", "veth", "bonding", "8021q", "nf_tables", "nft_compat",
    "nft_chain_nat", "nf_nat", "nf_conntrack", "xt_nat", "xt_MASQUERADE", "xt_CT",
    "xt_tcpudp", "xt_conntrack", "xt_addrtype",
)  # fmt: skip
GUEST_TIMEOUT_S = 480
_ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|c)")  # the firmware's terminal codes

_INITRAMFS_INIT = """#!/bin/busybox sh
# pvenet kernel tier: mount the host's / read-only (9p) under a tmpfs overlay, switch_root.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in {modules}; do modprobe $m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /lower
mount -t tmpfs -o size=1g rw /rw; mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot
umount /proc /sys /dev
exec switch_root /newroot /bin/bash "$PVENET_GUEST_INIT"
"""

_GUEST_INIT = """\
# PID 1 of the guest (after switch_root): load modules, run pytest, power off.
B=/bin/busybox
$B mount -t proc proc /proc; $B mount -t sysfs sysfs /sys; $B mount -t devtmpfs dev /dev
$B mount -t tmpfs tmpfs /run
mkdir -p /dev/shm && $B mount -t tmpfs tmpfs /dev/shm
mkdir -p /run/pvenet-results
$B mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 results /run/pvenet-results
mkdir -p /lib/modules && ln -sfn {modules_dir} /lib/modules/{version}
ln -sf /bin/busybox /usr/sbin/modprobe    # kernel module autoload (guest overlay only)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
for m in {guest_modules}; do $B modprobe $m || echo "modprobe $m failed"; done
# TMPDIR on tmpfs: the labs' ifupdown2 state must not be on the overlay root; and /tmp
# itself stays visible, in case the checkout lives there.
export TMPDIR=/dev/shm {guest_env}=1 {results_env}=/run/pvenet-results/results.json
export PYTHONDONTWRITEBYTECODE=1 PVENET_KERNEL_TRACE=/run/pvenet-results/commands.log
echo "pvenet guest: kernel $(uname -r)"
cd {rootdir}
{python} -m pytest -p no:cacheprovider -p no:hypothesispytest --confcutdir=tests/kernel \\
    -q -rA --durations=0 {nodeids} \\
    > /run/pvenet-results/pytest.log 2>&1
echo "PVENET-GUEST-EXIT=$?"
sync
echo o > /proc/sysrq-trigger
sleep 10
"""


@dataclass(frozen=True)
class GuestKernel:
    """Debian's kernel, unpacked: its image, module tree and initramfs."""

    version: str
    vmlinuz: Path
    modules: Path
    initrd: Path


def _kernel_package() -> str | None:
    """The versioned package ``linux-image-amd64`` currently depends on, if apt knows it."""
    meta = run(["apt-cache", "depends", "linux-image-amd64"], check=False).stdout
    found = re.search(r"Depends: (linux-image-\d\S*)", meta)
    return found.group(1) if found else None


def cache_kernel(cache: Path) -> GuestKernel:
    """Debian's current ``linux-image-amd64`` kernel, unpacked under ``cache/kernel`` once.

    A newer Debian kernel replaces the cached one; without package lists the
    cached one is used (or apt's lists are refreshed once).
    """
    home = cache / "kernel"
    package = _kernel_package()
    cached = sorted(p.parent.name for p in home.glob("*/.ok"))
    if package is None and cached:
        package = cached[-1]
    if package is None:  # a fresh machine may have no package lists yet
        run(["apt-get", "update", "-q"], timeout=300)
        package = _kernel_package()
    if package is None:
        raise RuntimeError("apt-cache does not know linux-image-amd64")
    root = home / package
    if not (root / ".ok").exists():
        home.mkdir(parents=True, exist_ok=True)
        deb = download_deb(package, home)
        shutil.rmtree(root, ignore_errors=True)
        run(["dpkg-deb", "-x", str(deb), str(root)], timeout=300)
        deb.unlink()  # 70 MB; the unpacked tree is what is reused
        (version,) = [p.name for p in (root / "lib/modules").iterdir()]
        run(["busybox", "depmod", "-b", str(root), version], timeout=300)
        (root / ".ok").write_text(version + "\n")
        for old in home.iterdir():  # an older kernel (and its initramfs) is not needed
            if old.is_dir() and old != root:
                shutil.rmtree(old)
        for old in cache.glob("initrd-*.gz"):
            old.unlink()
    version = (root / ".ok").read_text().strip()
    modules = root / "lib/modules" / version
    initrd = _initramfs(cache, modules, version)
    return GuestKernel(version, root / "boot" / f"vmlinuz-{version}", modules, initrd)


def _initramfs(cache: Path, modules: Path, version: str) -> Path:
    """A busybox initramfs that can mount 9p and overlayfs (rebuilt when its init changes)."""
    busybox = Path(shutil.which("busybox") or "/bin/busybox")
    init = _INITRAMFS_INIT.format(modules=" ".join(BOOT_MODULES))
    key = hashlib.sha256(f"{version}\n{init}\n{busybox.stat().st_size}".encode()).hexdigest()[:12]
    initrd = cache / f"initrd-{version}-{key}.gz"
    if initrd.exists():
        return initrd
    tree = cache / f"initramfs-{key}"
    shutil.rmtree(tree, ignore_errors=True)
    for sub in ("bin", "proc", "sys", "dev", "lower", "rw", "newroot"):
        (tree / sub).mkdir(parents=True)
    shutil.copy(busybox, tree / "bin/busybox")
    target = tree / "lib/modules" / version
    target.mkdir(parents=True)
    for name in ("modules.dep", "modules.alias", "modules.symbols", "modules.builtin"):
        if (modules / name).exists():
            shutil.copy(modules / name, target / name)
    deps = _module_deps(modules)
    for module in BOOT_MODULES:
        for relative in deps.get(module, []):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(modules / relative, target / relative)
    (tree / "init").write_text(init)
    (tree / "init").chmod(0o755)
    names = "\n".join(sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))) + "\n"
    archive = subprocess.run(
        ["busybox", "cpio", "-o", "-H", "newc"],
        cwd=tree,
        input=names.encode(),
        capture_output=True,
        check=True,
    ).stdout
    tmp = initrd.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(archive, compresslevel=1))
    tmp.rename(initrd)
    shutil.rmtree(tree)
    for old in cache.glob("initrd-*.gz"):
        if old != initrd:
            old.unlink()
    return initrd


def _module_deps(modules: Path) -> dict[str, list[str]]:
    """module name -> its .ko path and the paths it depends on (from modules.dep)."""
    deps: dict[str, list[str]] = {}
    for line in (modules / "modules.dep").read_text().splitlines():
        path, _, needs = line.partition(":")
        name = Path(path).name.split(".ko")[0].replace("-", "_")
        deps[name] = [path, *needs.split()]
    return deps


@dataclass
class GuestRun:
    """One boot of the guest running a set of tests; results once it has powered off."""

    nodeids: list[str]
    workdir: Path
    process: subprocess.Popen[bytes] | None = None
    started: float = 0.0
    finished: float = 0.0
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: str = ""

    @property
    def console(self) -> Path:
        """The guest's serial console."""
        return self.workdir / "console.log"

    @property
    def seconds(self) -> float:
        """Wall time from boot to power-off."""
        return (self.finished or time.monotonic()) - self.started

    @property
    def share(self) -> Path:
        """The writable share: the guest sees it as its results file's directory."""
        return self.workdir / "share"

    def start(self, kernel: GuestKernel, rootdir: Path, python: str) -> None:
        """Boot the guest in the background."""
        share = self.share
        share.mkdir(parents=True, exist_ok=True)
        guest_init = self.workdir / "guest-init.sh"
        guest_init.write_text(
            _GUEST_INIT.format(
                modules_dir=kernel.modules,
                version=kernel.version,
                guest_modules=" ".join(GUEST_MODULES),
                guest_env=GUEST_ENV,
                results_env=RESULTS_ENV,
                rootdir=rootdir,
                python=python,
                nodeids=" ".join(f"'{n}'" for n in self.nodeids),
            )
        )
        accel = ["-accel", "tcg,thread=multi", "-cpu", "max"]
        if os.environ.get(ACCEL_ENV) == "kvm":
            accel = ["-enable-kvm", "-cpu", "host"]
        argv = [
            "qemu-system-x86_64", *accel, "-smp", str(min(os.cpu_count() or 1, 4)),
            "-m", "2048", "-nographic", "-no-reboot", "-nic", "none",
            "-kernel", str(kernel.vmlinuz), "-initrd", str(kernel.initrd),
            "-append", f"console=ttyS0 quiet panic=-1 PVENET_GUEST_INIT={guest_init}",
            "-virtfs",
            "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
            "-virtfs", f"local,path={share},mount_tag=results,security_model=none,multidevs=remap",
        ]  # fmt: skip
        self.started = time.monotonic()
        with self.console.open("wb") as console:
            self.process = subprocess.Popen(
                argv, stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def wait(self, timeout: float = GUEST_TIMEOUT_S) -> None:
        """Wait for power-off (killing QEMU, by its PID, after ``timeout``); read results."""
        if self.process is None or self.finished:
            return
        remaining = max(1.0, timeout - (time.monotonic() - self.started))
        try:
            self.process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)
            self.error = f"QEMU guest still running after {timeout:.0f} s: killed"
        self.finished = time.monotonic()
        results = self.workdir / "share/results.json"
        if results.exists():
            self.results = json.loads(results.read_text())
        elif not self.error:
            self.error = f"the guest wrote no results (QEMU rc={self.process.returncode})"

    def stop(self) -> None:
        """Kill QEMU (by PID) if it is still running."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.finished = self.finished or time.monotonic()

    def log_tail(self, lines: int = 60) -> str:
        """The end of the guest's pytest output and console, for failure messages."""
        parts = []
        for path in (self.workdir / "share/pytest.log", self.console):
            if path.exists():
                text = _ANSI.sub("", path.read_text(errors="replace")).splitlines()
                parts.append(f"--- {path} (last {lines} lines)\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)
