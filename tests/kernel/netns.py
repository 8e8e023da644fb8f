"""Network namespaces and processes one kernel test creates, and nothing else.

A ``Lab`` hands out namespaces under a name prefix unique to the test run and
test (``pvk<pid>-<n>-``), refuses a name that already exists, and records every
namespace and process it made. ``Lab.close`` stops those processes by PID and
deletes those namespaces; it never looks at anything it did not create. All
links are created directly inside lab namespaces (``ip link add ... netns A
type veth peer ... netns B``), so nothing ever appears in the host's namespace.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import select
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ECHO_SERVER = Path(__file__).with_name("echo_server.py")

# curl as the guests and the upstream use it: never a proxy, short timeouts.
CURL = ("curl", "-sS", "--noproxy", "*", "--connect-timeout", "3", "-m", "6")
# For checks that expect no answer: how long "no answer" has to last.
BLOCKED_TIMEOUT_S = 2

# A file to log every command with its duration to (the QEMU guest sets it).
TRACE = os.environ.get("PVENET_KERNEL_TRACE", "")

_counter = itertools.count(1)


class LabError(RuntimeError):
    """A lab command failed; the message carries the command and its output."""


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` and capture its output; raise ``LabError`` on failure when ``check``."""
    started = time.monotonic()
    done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False)
    if TRACE:
        with open(TRACE, "a", encoding="utf-8") as trace:
            took = time.monotonic() - started
            trace.write(f"{took:7.2f}s rc={done.returncode} {shlex.join(argv)[:200]}\n")
    if check and done.returncode != 0:
        raise LabError(
            f"{' '.join(argv)} -> rc={done.returncode}\n"
            f"stdout: {done.stdout.strip()}\nstderr: {done.stderr.strip()}"
        )
    return done


@dataclass(frozen=True)
class HttpResult:
    """One HTTP GET from inside a namespace: curl's exit code, body and error text."""

    rc: int
    body: str
    error: str

    @property
    def ok(self) -> bool:
        """Whether an answer came back."""
        return self.rc == 0

    def __str__(self) -> str:
        return self.body.strip() if self.ok else f"curl rc={self.rc}: {self.error.strip()}"


class Netns:
    """One network namespace of a lab."""

    def __init__(self, lab: Lab, name: str) -> None:
        self.lab = lab
        self.name = name

    def __repr__(self) -> str:
        return f"Netns({self.name!r})"

    def ip(self, *args: str, check: bool = True) -> str:
        """``ip -n <ns> args``; its stdout."""
        return run(["ip", "-n", self.name, *args], check=check).stdout

    def bridge(self, *args: str, check: bool = True) -> str:
        """``bridge -n <ns> args``; its stdout."""
        return run(["bridge", "-n", self.name, *args], check=check).stdout

    def exec(
        self, *argv: str, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace (``ip netns exec``)."""
        return run(["ip", "netns", "exec", self.name, *argv], check=check, timeout=timeout)

    def read(self, path: str) -> str:
        """A file as a process inside the namespace sees it (``/proc/net``, ``/proc/sys/net``)."""
        return self.exec("cat", path).stdout

    def http_get(self, url: str, *, max_time: float | None = None) -> HttpResult:
        """GET ``url`` from inside the namespace."""
        argv = list(CURL)
        if max_time is not None:
            argv[-4:] = ["--connect-timeout", str(max_time), "-m", str(max_time)]
        done = self.exec(*argv, url, check=False, timeout=30)
        return HttpResult(done.returncode, done.stdout, done.stderr)

    def wait_http(self, url: str, *, seconds: float = 20) -> HttpResult:
        """GET ``url`` until it answers or ``seconds`` pass (links and LACP take a moment)."""
        deadline = time.monotonic() + seconds
        while True:
            result = self.http_get(url)
            if result.ok or time.monotonic() > deadline:
                return result
            time.sleep(0.3)

    def blocked(self, url: str) -> HttpResult:
        """GET ``url`` with the short 'must not answer' timeout."""
        return self.http_get(url, max_time=BLOCKED_TIMEOUT_S)


class Lab:
    """The namespaces and processes of one test; ``close`` removes exactly those."""

    def __init__(self, workdir: Path, tag: str = "") -> None:
        self.workdir = workdir
        self.prefix = f"pvk{os.getpid()}-{next(_counter)}{tag}-"
        self.namespaces: list[Netns] = []
        self.processes: dict[subprocess.Popen[str], Netns] = {}
        self.strays: list[str] = []  # processes found in a namespace at its removal

    def __enter__(self) -> Lab:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def netns(self, logical: str) -> Netns:
        """Create the namespace ``<prefix><logical>``; fails if that name exists."""
        name = self.prefix + logical
        run(["ip", "netns", "add", name])  # "File exists" when taken: never reuse a name
        ns = Netns(self, name)
        self.namespaces.append(ns)
        ns.ip("link", "set", "lo", "up")
        return ns

    def veth(self, a: Netns, a_name: str, b: Netns, b_name: str) -> None:
        """A veth pair with one end in each namespace (never in the host's)."""
        run(
            [
                "ip", "link", "add", a_name, "netns", a.name,
                "type", "veth", "peer", "name", b_name, "netns", b.name,
            ]
        )  # fmt: skip

    def remove_netns(self, ns: Netns) -> None:
        """Stop whatever still runs in ``ns`` (all started by this lab) and delete it."""
        if ns not in self.namespaces:
            return
        for proc in [p for p, where in self.processes.items() if where is ns]:
            self.stop(proc)
        # A live process would keep the namespace alive. Anything still here was started
        # inside this lab's namespace (e.g. a daemon a post-up line forked): ours to stop,
        # and recorded, because the scenarios start none.
        pids = run(["ip", "netns", "pids", ns.name], check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                self.strays.append(f"{ns.name}: pid {pid} {cmdline.decode(errors='replace')}")
                os.kill(int(pid), 15)
        run(["ip", "netns", "del", ns.name])
        self.namespaces.remove(ns)

    def spawn(self, ns: Netns, argv: Sequence[str], *, ready: str = "") -> subprocess.Popen[str]:
        """Start ``argv`` inside ``ns`` (``ip netns exec`` execs it: the PID is the process's).

        With ``ready``, wait until the process prints that line on stdout.
        """
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
        )
        self.processes[proc] = ns
        if ready:
            _wait_for_line(proc, ready, argv)
        return proc

    def stop(self, proc: subprocess.Popen[str]) -> None:
        """Terminate one of this lab's processes by its PID and reap it."""
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()
        self.processes.pop(proc, None)

    def echo_server(self, ns: Netns, name: str, port: int) -> Path:
        """Start the HTTP echo server in ``ns`` on ``port``; the path of its request log."""
        log = self.workdir / f"{ns.name}.{port}.log"
        log.touch()
        self.spawn(
            ns,
            [sys.executable, "-S", str(ECHO_SERVER), "0.0.0.0", str(port), name, str(log)],
            ready="ready",
        )
        return log

    def close(self) -> None:
        """Stop this lab's processes, then delete its namespaces (in reverse order)."""
        errors: list[str] = []
        for proc in list(self.processes):
            try:
                self.stop(proc)
            except Exception as exc:  # keep going: the namespaces must still go
                errors.append(f"stop pid {proc.pid}: {exc}")
        for ns in reversed(list(self.namespaces)):
            try:
                self.remove_netns(ns)
            except Exception as exc:
                errors.append(f"delete {ns.name}: {exc}")
        if errors:
            raise LabError("lab teardown: " + "; ".join(errors))


def _wait_for_line(proc: subprocess.Popen[str], line: str, argv: Sequence[str]) -> None:
    """Block until ``proc`` prints ``line`` (servers print it once they listen)."""
    assert proc.stdout is not None
    deadline = time.monotonic() + 60  # Python starts slowly under TCG emulation
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], 0.5)
        if readable:
            text = proc.stdout.readline()
            if text.strip() == line:
                return
            if not text:
                break
        elif proc.poll() is not None:
            break
    raise LabError(f"{' '.join(argv)} did not report {line!r} (rc={proc.poll()})")


def existing_namespaces() -> set[str]:
    """Names of all network namespaces (to check that a run leaves none behind)."""
    out = run(["ip", "netns", "list"], check=False).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}
