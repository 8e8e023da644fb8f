"""The Pulumi CLI that pvenet runs: found, installed, or built from Go modules; run offline.

::

    python -m components.pulumi_cli      # find or build the CLI; print its path and version

:func:`find_cli` looks, in this order, for

1. ``pulumi`` on ``PATH``;
2. the one already built or installed under ``.state/pulumi-cli/`` (:data:`CLI_ROOT`);
3. a fresh install there by Pulumi's official installer (``PulumiCommand.install``);
4. where the installer cannot be reached and ``go`` is on ``PATH``, a build of the version
   pinned in ``tools/pulumi-cli/go.mod`` from the Go module proxy (``tools/pulumi-cli/build.sh``),
   announced on one line since the first one takes minutes.

A CLI older than the Pulumi Python SDK in this virtualenv is passed over: the SDK may use engine
features the CLI lacks. :func:`cli_environment` is what every CLI run needs on top of the
caller's environment: no update checks, no plugin downloads, and the dynamic-provider plugin
(``pulumi-resource-pulumi-python``) running this virtualenv's Python, where pvenet's providers
are installed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import urllib.error
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TextIO

from pulumi import automation as auto
from pulumi._version import version as SDK_VERSION  # noqa: N812 (the SDK's own name)

from components.project import PROJECT_ROOT
from provider.errors import PvenetError

CLI_ROOT = PROJECT_ROOT / ".state" / "pulumi-cli"
"""Where pvenet installs or builds the CLI (``bin/pulumi``) when there is none on PATH."""
GO_MODULE = PROJECT_ROOT / "tools" / "pulumi-cli"
"""The Go module whose ``go.mod`` pins the CLI's version."""
GO_BUILD = GO_MODULE / "build.sh"
"""Builds the pinned CLI from Go modules into the folder it is given."""
INSTALL_COMMAND = "curl -fsSL https://get.pulumi.com | sh"
FIRST_BUILD_MINUTES = "5 to 10"
"""What the first Go build took on a 2-core machine with empty caches (about 6 minutes)."""
DOWNLOAD_TIMEOUT_S = 60.0
"""urllib waits forever by default; the installer's download gets this long per socket step."""
CLI_ERRORS = (OSError, subprocess.SubprocessError, auto.InvalidVersionError)

OFFLINE_ENVIRONMENT: Mapping[str, str] = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
}
"""Keeps the CLI from reaching out: no update check, no plugin downloads (pvenet needs none)."""


class CliUnavailable(PvenetError, RuntimeError):
    """No usable Pulumi CLI could be found, installed or built; the message is one line."""


def cli_environment(cli: auto.PulumiCommand) -> dict[str, str]:
    """What a run of ``cli`` needs beyond the caller's environment (offline, quiet, plugin).

    The CLI's own directory goes first on ``PATH``, so the dynamic-provider plugin installed
    beside it is found as its bundled plugin; ``PULUMI_RUNTIME_VIRTUALENV`` makes that plugin
    (ours, or the official one) run this virtualenv's Python.
    """
    cli_dir = os.path.dirname(shutil.which(cli.command) or cli.command)
    return {
        **OFFLINE_ENVIRONMENT,
        "PATH": os.pathsep.join(p for p in (cli_dir, os.environ.get("PATH", "")) if p),
        "PULUMI_RUNTIME_VIRTUALENV": sys.prefix,
    }


@contextlib.contextmanager
def _download_timeout(seconds: float) -> Iterator[None]:
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _reason(error: BaseException) -> str:
    """Why an install or build failed, in a few words on one line."""
    if isinstance(error, urllib.error.URLError):
        return f"cannot download the installer: {error.reason}"
    if isinstance(error, subprocess.CalledProcessError):
        return f"exited with status {error.returncode}"
    return " ".join(str(error).split()) or "unknown error"


def _usable(root: Path | None) -> auto.PulumiCommand | None:
    """The CLI at ``root/bin/pulumi`` (or on PATH for None) if it runs and is new enough."""
    with contextlib.suppress(*CLI_ERRORS):
        return auto.PulumiCommand(root=str(root) if root else None, version=SDK_VERSION)
    return None


def pinned_version() -> str:
    """The CLI version ``tools/pulumi-cli/go.mod`` pins (``v3.274.1``)."""
    for line in (GO_MODULE / "go.mod").read_text().splitlines():
        words = line.split()
        if "github.com/pulumi/pulumi/pkg/v3" in words:
            return words[words.index("github.com/pulumi/pulumi/pkg/v3") + 1]
    raise CliUnavailable(f"{GO_MODULE / 'go.mod'} pins no github.com/pulumi/pulumi/pkg/v3")


def build_cli(root: Path, log: TextIO) -> auto.PulumiCommand:
    """Build the pinned CLI from Go modules into ``root/bin``; CliUnavailable if that fails.

    The build's own output (Go's progress and errors) goes to ``log`` as it comes; the Go
    caches make a rebuild fast.
    """
    log.write(
        f"pvenet: building the Pulumi CLI {pinned_version()} from Go modules into {root}/bin "
        f"(the first build takes {FIRST_BUILD_MINUTES} minutes; later ones take seconds)\n"
    )
    log.flush()
    try:
        with subprocess.Popen(
            [str(GO_BUILD), str(root / "bin")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **OFFLINE_ENVIRONMENT},
        ) as build:
            assert build.stderr is not None
            for line in build.stderr:  # Go's progress and errors, as they come
                log.write(line)
            status = build.wait()
    except OSError as error:
        raise CliUnavailable(f"the Go build of the Pulumi CLI failed ({_reason(error)})") from None
    if status != 0:
        raise CliUnavailable(f"the Go build of the Pulumi CLI failed (exited with status {status})")
    cli = _usable(root)
    if cli is None:
        raise CliUnavailable(f"the Go build left no usable Pulumi CLI in {root}/bin")
    return cli


def existing_cli(root: Path | None = None) -> auto.PulumiCommand | None:
    """A usable CLI that needs no install or build: on PATH, else under ``root``; or None.

    ``root`` is :data:`CLI_ROOT` when None.
    """
    if shutil.which("pulumi") and (cli := _usable(None)):
        return cli
    return _usable(root or CLI_ROOT)


def find_cli(root: Path | None = None, log: TextIO = sys.stderr) -> auto.PulumiCommand:
    """The CLI to use: on PATH, else under ``root``, else installed, else built with Go.

    ``root`` is :data:`CLI_ROOT` when None. CliUnavailable, on one line with what to do,
    when none of the four works (no network, no Go).
    """
    root = root or CLI_ROOT
    if cli := existing_cli(root):
        return cli
    try:
        with _download_timeout(DOWNLOAD_TIMEOUT_S):
            return auto.PulumiCommand.install(root=str(root))
    except CLI_ERRORS as error:
        install_failure = _reason(error)
    if shutil.which("go") is None:
        raise CliUnavailable(
            f"the Pulumi CLI is not installed and could not be installed into {root} "
            f"(the installer: {install_failure}), and there is no Go to build it with; "
            f"install it with: {INSTALL_COMMAND}"
        )
    return build_cli(root, log)


def main(out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Find or build the CLI; print its path and version. Status 1 when there is none."""
    try:
        cli = find_cli(log=err)
    except CliUnavailable as error:
        err.write(f"pulumi_cli: {error}\n")
        return 1
    out.write(f"{shutil.which(cli.command) or cli.command} v{cli.version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
