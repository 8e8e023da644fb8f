"""The kernel tier: gating, dependencies, placement (native or QEMU), fixtures, summary.

Every test here is marked ``kernel``. The tier runs by default when its gate
passes: root, and ``ip netns add`` works (missing tools are installed first by
``install-deps.sh``). Otherwise each test is skipped with the gate's reason.
Opt out with ``PVENET_KERNEL=0`` or ``-m "not kernel"``.

Preparation happens once, right after collection and only when kernel tests
are selected: gate, tools, ifupdown2 download, kernel feature probes, a
snapshot of the host's network, and, when a selected test ``needs`` a kernel
feature this kernel lacks, the QEMU guest boots in the background, so it
overlaps everything else the session runs. Such a *delegated* test runs in the
guest (Debian's stock kernel); its outcome here is the guest's outcome. Inside
the guest (``PVENET_KERNEL_GUEST=1``) the same tests run natively and report
to a JSON file the host reads. Delegated tests and the host-unchanged check run
last, so the guest has as long as possible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.kernel import ifupdown2, probes, qemu, scenarios
from tests.kernel.netns import Lab
from tests.kernel.topology import (
    Guests,
    Host,
    Wan,
    guest_namespaces,
    host_namespace,
    wan_namespace,
)

CACHE = ifupdown2.CACHE
OPT_OUT = "PVENET_KERNEL"  # "0" skips the tier
KEEP = "PVENET_KERNEL_KEEP"  # "1" keeps the run's state dir (labs, ifupdown2 state, QEMU logs)
IN_GUEST = os.environ.get(qemu.GUEST_ENV) == "1"
ROOTDIR = Path(__file__).resolve().parents[2]
HOST_CHECK = "test_host_unchanged"


@dataclass
class Tier:
    """What the tier found and did in this session (for fixtures and the summary)."""

    prepared: bool = False
    started: float = 0.0
    skip: str | None = None  # why the whole tier is skipped
    error: str | None = None  # preparation failed on a machine that passed the gate
    features: dict[str, str | None] = field(default_factory=dict)
    package: ifupdown2.Package | None = None
    kernel: qemu.GuestKernel | None = None
    guest: qemu.GuestRun | None = None
    no_guest: str | None = None  # why delegated tests cannot run here (they skip)
    guest_error: str | None = None  # preparing the guest failed (delegated tests fail)
    host_before: dict[str, str] = field(default_factory=dict)
    state_base: Path | None = None
    labs: list[Lab] = field(default_factory=list)
    placement: dict[str, str] = field(default_factory=dict)  # nodeid -> native | qemu
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # nodeid -> outcome


TIER_KEY = pytest.StashKey[Tier]()
# The session's Tier, for pytest_runtest_logreport (which gets no config).
_TIER: list[Tier] = []
DELEGATED_KEY = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the tier's marker and its state."""
    config.addinivalue_line(
        "markers",
        "needs(*features): kernel features a kernel test needs (bond, 8021q, "
        "vlan_filtering); without them here it runs in a QEMU guest",
    )
    config.stash[TIER_KEY] = Tier()
    _TIER[:] = [config.stash[TIER_KEY]]


def _needs(item: pytest.Item) -> tuple[str, ...]:
    return tuple(f for mark in item.iter_markers("needs") for f in mark.args)


def _is_kernel(item: pytest.Item) -> bool:
    return item.get_closest_marker("kernel") is not None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests that may need the QEMU guest go last but one; the host-unchanged check last."""
    maybe_guest = [i for i in items if _is_kernel(i) and _needs(i)]
    last = [i for i in items if i.name == HOST_CHECK]
    for item in maybe_guest + last:
        items.remove(item)
    items.extend(maybe_guest + last)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Prepare the tier once, if kernel tests were selected (not for --collect-only)."""
    config = session.config
    if config.option.collectonly or not any(_is_kernel(i) for i in session.items):
        return
    tier = config.stash[TIER_KEY]
    tier.prepared = True
    tier.started = time.monotonic()
    try:
        tier.skip = _gate(config)
        if tier.skip is None:
            _prepare(config, tier, session.items)
    except pytest.skip.Exception as exc:
        tier.skip = str(exc.msg)
    except Exception:
        tier.error = traceback.format_exc()
    if tier.error:
        _say(config, f"kernel tier: preparation failed:\n{tier.error}")


def _say(config: pytest.Config, text: str) -> None:
    """A line on the terminal now, even while output is captured."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        print(text, file=sys.stderr)
        return
    with capture.global_and_fixture_disabled():
        reporter.ensure_newline()
        reporter.write_line(text)


def _gate(config: pytest.Config) -> str | None:
    """None when the tier can run here, else why not (installing missing tools first)."""
    if os.environ.get(OPT_OUT, "1") == "0":
        return f"{OPT_OUT}=0"
    if not sys.platform.startswith("linux"):
        return f"not Linux ({sys.platform})"
    if os.geteuid() != 0:
        return f"needs root for network namespaces (euid {os.geteuid()})"
    if probes.missing_tools(("ip",)) and not IN_GUEST:
        _install(config, "base")
    reason = probes.netns_probe()
    if reason:
        return reason
    missing = probes.missing_tools(probes.BASE_TOOLS)
    if missing and not IN_GUEST:
        _install(config, "base")
        missing = probes.missing_tools(probes.BASE_TOOLS)
    if missing:
        return f"tools missing: {', '.join(missing)}"
    return None


def _install(config: pytest.Config, *groups: str) -> None:
    """Run install-deps.sh for ``groups``, echoing what it installs."""
    if probes.missing_tools(("apt-get",)):
        raise pytest.skip.Exception(f"tools missing and no apt-get to install them ({groups})")
    _say(config, f"kernel tier: running {probes.INSTALL_DEPS.name} {' '.join(groups)}")
    for line in probes.install_deps(*groups).splitlines():
        if line.startswith("install-deps.sh:"):
            _say(config, f"kernel tier: {line}")


def _prepare(config: pytest.Config, tier: Tier, items: list[pytest.Item]) -> None:
    """ifupdown2, feature probes, state dir, host snapshot; boot the guest if needed."""
    with ifupdown2.cache_lock(CACHE):
        tier.package = ifupdown2.fetch(CACHE)
    tier.features = probes.features()
    tier.state_base = _state_base()
    if IN_GUEST:
        rendered = Path(os.environ.get(qemu.RESULTS_ENV, "/nonexistent")).with_name(
            qemu.SCENARIOS_FILE
        )
        if rendered.exists():  # rendered by the host: Pulumi under TCG would take long
            scenarios.load(rendered)
        return
    tier.host_before = probes.host_snapshot()
    delegated = [
        item.nodeid
        for item in items
        if _is_kernel(item) and any(tier.features.get(f) for f in _needs(item))
    ]
    if not delegated:
        return
    try:
        if probes.missing_qemu_tools():
            _install(config, "qemu")
        _say(config, f"kernel tier: preparing Debian's kernel for QEMU in {CACHE}")
        with ifupdown2.cache_lock(CACHE):
            tier.kernel = qemu.cache_kernel(CACHE)
    except pytest.skip.Exception as exc:  # tools missing and no apt-get: cannot run here
        tier.no_guest = f"no QEMU guest: {exc.msg}"
        return
    except (RuntimeError, OSError, subprocess.SubprocessError):  # e.g. download failed
        tier.guest_error = f"preparing the QEMU guest failed:\n{traceback.format_exc()}"
        return
    tier.guest = qemu.GuestRun(delegated, tier.state_base / "qemu")
    scenarios.save(tier.guest.share / qemu.SCENARIOS_FILE)  # the guest does not render
    tier.guest.start(tier.kernel, ROOTDIR, sys.executable)
    _say(
        config,
        f"kernel tier: QEMU guest (Debian {tier.kernel.version}, TCG) booting for "
        f"{len(delegated)} test(s): {', '.join(_scenario(n) for n in delegated)}",
    )


def _state_base() -> Path:
    """A directory for this run's lab state.

    Not on overlayfs (ifupdown2's private /etc is an overlay whose upper dir is
    here) and not below /run (its private /run hides that).
    """
    for parent in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        if Path(parent).resolve().is_relative_to("/run") or not Path(parent).is_dir():
            continue
        base = Path(tempfile.mkdtemp(prefix="pvenet-kernel-", dir=parent))
        if probes.fs_type(base) not in ("overlayfs", "overlay"):
            return base
        base.rmdir()
    raise RuntimeError("no directory for the labs' state outside overlayfs and /run")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Stop the guest if it still runs; remove the state dir unless a kernel test failed."""
    tier = session.config.stash.get(TIER_KEY, None)
    if tier is None or not tier.prepared:
        return
    if tier.guest is not None:
        tier.guest.stop()
    failed = any(r["outcome"] == "failed" for r in tier.results.values())
    if tier.state_base is None or IN_GUEST:
        return
    if failed or os.environ.get(KEEP) == "1":
        _say(session.config, f"kernel tier: state kept in {tier.state_base}")
    else:
        shutil.rmtree(tier.state_base, ignore_errors=True)


@pytest.fixture(scope="session")
def tier(request: pytest.FixtureRequest) -> Tier:
    """The tier's session state; skips (gate) or fails (preparation) every kernel test."""
    state = request.config.stash[TIER_KEY]
    if not state.prepared:
        pytest.skip("kernel tier not prepared (no kernel test was selected at collection)")
    if state.skip:
        pytest.skip(f"kernel tier skipped: {state.skip}")
    if state.error:
        pytest.fail(f"kernel tier preparation failed:\n{state.error}", pytrace=False)
    return state


@pytest.fixture(autouse=True)
def _placement(request: pytest.FixtureRequest, tier: Tier) -> None:
    """Run here, delegate to the QEMU guest, or skip: by the features the test needs."""
    item = request.node
    missing = [f for f in _needs(item) if tier.features.get(f)]
    if not missing:
        tier.placement[item.nodeid] = "qemu" if IN_GUEST else "native"
        return
    why = "; ".join(f"{f}: {tier.features[f]}" for f in missing)
    if IN_GUEST:
        pytest.fail(f"the guest kernel lacks {why}")
    if tier.guest_error:
        pytest.fail(f"kernel lacks {why}; {tier.guest_error}", pytrace=False)
    if tier.guest is None:
        pytest.skip(f"kernel lacks {why}; {tier.no_guest or 'no QEMU guest'}")
    tier.placement[item.nodeid] = "qemu"
    item.stash[DELEGATED_KEY] = True


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """A delegated test's outcome is the guest's outcome for the same test."""
    if not pyfuncitem.stash.get(DELEGATED_KEY, False):
        return None
    guest = pyfuncitem.config.stash[TIER_KEY].guest
    assert guest is not None
    guest.wait()
    result = guest.results.get(pyfuncitem.nodeid)
    if result is None:
        pytest.fail(
            f"no result from the QEMU guest for {pyfuncitem.nodeid}: {guest.error}\n"
            f"{guest.log_tail()}",
            pytrace=False,
        )
    if result["outcome"] == "skipped":
        pytest.skip(f"in the QEMU guest: {result['reason']}")
    if result["outcome"] != "passed":
        pytest.fail(f"in the QEMU guest:\n{result['longrepr']}", pytrace=False)
    return True


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Record kernel tests' outcomes (in the guest also into the results file for the host)."""
    if "kernel" not in report.keywords:
        return
    failed_teardown = report.when == "teardown" and report.failed
    setup_not_passed = report.when == "setup" and not report.passed
    if report.when != "call" and not setup_not_passed and not failed_teardown:
        return
    reason = ""
    if report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
    tier = _TIER[0] if _TIER else None
    if tier is None:
        return
    tier.results[report.nodeid] = {
        "outcome": "failed" if failed_teardown else report.outcome,
        "reason": reason,
        "longrepr": report.longreprtext,
        "duration": report.duration,
    }
    path = os.environ.get(qemu.RESULTS_ENV)
    if IN_GUEST and path:
        Path(path).write_text(json.dumps(tier.results, indent=1))


def _scenario(nodeid: str) -> str:
    return nodeid.rsplit("::", maxsplit=1)[-1].removeprefix("test_")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """One line: which scenarios ran natively, which in QEMU, which were skipped and why."""
    tier = config.stash.get(TIER_KEY, None)
    if tier is None or not tier.prepared or IN_GUEST:
        return
    if tier.skip:
        terminalreporter.write_line(f"kernel tier: skipped: {tier.skip}")
        return
    native, in_qemu, skipped = [], [], []
    for nodeid, result in tier.results.items():
        name = _scenario(nodeid)
        label = name if result["outcome"] == "passed" else f"{name} ({result['outcome'].upper()})"
        if result["outcome"] == "skipped":
            skipped.append(f"{name} ({result['reason']})")
        elif tier.placement.get(nodeid) == "qemu":
            in_qemu.append(label)
        else:
            native.append(label)
    guest = ""
    if tier.guest is not None and tier.kernel is not None:
        guest = f" [Debian {tier.kernel.version}, TCG, {tier.guest.seconds:.0f} s]"
    version = tier.package.version if tier.package else "?"
    terminalreporter.write_line(
        f"kernel tier ({time.monotonic() - tier.started:.0f} s, ifupdown2 {version}): "
        f"native: {', '.join(native) or 'none'} | "
        f"qemu{guest}: {', '.join(in_qemu) or 'none'} | "
        f"skipped: {', '.join(skipped) or 'none'}"
    )


# --- topology fixtures --------------------------------------------------------------------


@pytest.fixture
def lab(tier: Tier, request: pytest.FixtureRequest) -> Iterator[Lab]:
    """This test's namespaces and processes; all removed after the test."""
    assert tier.state_base is not None
    workdir = tier.state_base / f"{len(tier.labs):03d}-{request.node.name}"[:80]
    workdir.mkdir(parents=True)
    with Lab(workdir) as made:
        tier.labs.append(made)
        yield made


@pytest.fixture
def wan(lab: Lab) -> Iterator[Wan]:
    """The upstream router (192.0.2.1) with its echo server on :8080."""
    with wan_namespace(lab) as made:
        yield made


@pytest.fixture
def pve(lab: Lab, wan: Wan, tier: Tier) -> Iterator[Host]:
    """The Proxmox host, NICs eno1..eno4 cabled to the upstream, ifupdown2 ready."""
    assert tier.package is not None
    with host_namespace(lab, wan, tier.package) as made:
        yield made


@pytest.fixture
def guests(lab: Lab, pve: Host) -> Iterator[Guests]:
    """Make guests with ``guests.add(vmid, address, gateway)``; attach after apply."""
    with guest_namespaces(lab, pve) as made:
        yield made
