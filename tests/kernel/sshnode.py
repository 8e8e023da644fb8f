"""The node's SSH face on a real kernel: Debian's OpenSSH server in the host namespace.

pvenet writes host rules over SSH (``docs/host-rules.md``). Here a real ``sshd``
(Debian's ``openssh-server``, downloaded and unpacked like ifupdown2, never installed)
runs in the ``pve`` namespace inside a private mount namespace:

- ``/etc`` is an overlay whose upper layer is in the test's state dir, so every write
  to ``/etc/pvenet``, ``/etc/sysctl.d``, ``/etc/systemd/system`` lands there and never
  in this machine's ``/etc``; ``/etc/network`` and ``/run/network`` are the ifupdown2
  state of the ``pve`` namespace (``Host.ifupdown2``), so ``ifreload -a`` over SSH and
  the test's own ``Host.apply`` see the same files and state. ``/run`` and ``/root`` are
  private tmpfs (this machine's root shell startup files stay out of every SSH exec), and
  the overlay's ``/etc/passwd`` gains the ``sshd`` privilege separation user.
- ``/usr/local/sbin``, first on root's PATH in an SSH session, holds the shims: systemd
  does not run in a namespace, so ``systemctl`` and ``systemd-run`` are the scripts in
  ``tests/kernel/shims``; ``ifreload``/``ifup``/``ifdown``/``ifquery`` run the unpacked
  ifupdown2; ``modprobe`` refuses (as ifupdown2's wrapper does).
- ``/proc/sys`` is read-only except ``/proc/sys/net`` (per namespace): nothing run
  over SSH can change a sysctl of this machine.

nft, sysctl, ip, install and sh are the machine's own. The test process reaches
sshd through a ``Relay`` from loopback that connects from the upstream router's
namespace to the node's public address, as a remote admin would.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import paramiko

from simulator.ssh.keys import ensure_keys, ssh_environment
from tests.kernel.ifupdown2 import COMMANDS, PYTHON, Package, cache_lock, download_deb
from tests.kernel.netns import LabError, run
from tests.kernel.relay import Relay
from tests.kernel.topology import HOST, Host, Wan

PACKAGES = ("openssh-server", "libwrap0")  # libwrap0: sshd links it; not on every machine
SHIMS = Path(__file__).with_name("shims")
LISTENING = "Server listening on 0.0.0.0 port 22."

# Runs in the pve namespace, in a private mount namespace; then execs sshd.
_WRAPPER = r"""
st=$1; net=$2; shift 2
mount -t overlay pvenet-node-etc -o "lowerdir=/etc,upperdir=$st/etc-upper,workdir=$st/etc-work" /etc
mkdir -p /etc/network
mount --bind "$net/network" /etc/network
mount -t tmpfs pvenet-node-run /run
mount -t tmpfs pvenet-node-root /root
mkdir -p /run/network /run/sshd /run/pvenet-shim
mount --bind "$net/run" /run/network
mount --bind "$st/shim-state" /run/pvenet-shim
mount --bind "$st/bin" /usr/local/sbin
mount --bind /proc/sys /proc/sys
mount --bind /proc/sys/net /proc/sys/net
mount -o remount,bind,ro /proc/sys
grep -q '^sshd:' /etc/passwd ||
    echo 'sshd:x:65534:65534:privsep:/run/sshd:/usr/sbin/nologin' >> /etc/passwd
exec "$@"
"""

_SSHD_CONFIG = """\
ListenAddress 0.0.0.0:22
HostKey {state}/ssh_host_ed25519_key
PidFile {state}/sshd.pid
AuthorizedKeysFile {state}/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PrintMotd no
MaxStartups 50
LogLevel INFO
"""


@dataclass(frozen=True)
class Openssh:
    """Debian's openssh-server (and libwrap0) unpacked under ``root``."""

    root: Path
    version: str

    @property
    def sshd(self) -> Path:
        """The daemon (run by its absolute path: it re-executes itself per connection)."""
        return self.root / "usr/sbin/sshd"

    @property
    def libs(self) -> Path:
        """Where libwrap.so.0 is."""
        return self.root / "usr/lib/x86_64-linux-gnu"


def fetch_openssh(cache: Path) -> Openssh:
    """Debian's openssh-server unpacked under ``cache/openssh`` (downloaded once)."""
    with cache_lock(cache):
        home = cache / "openssh"
        root = home / "root"
        stamp = home / "version"
        if not stamp.exists():
            home.mkdir(parents=True, exist_ok=True)
            shutil.rmtree(root, ignore_errors=True)
            for package in PACKAGES:
                deb = download_deb(package, home)
                run(["dpkg-deb", "-x", str(deb), str(root)])
                if package == PACKAGES[0]:
                    version = run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
            stamp.write_text(version + "\n")
        return Openssh(root, stamp.read_text().strip())


@dataclass(frozen=True)
class Done:
    """One command run over SSH: its exit status and output."""

    command: str
    rc: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"{self.command} -> rc={self.rc}\nstdout: {self.stdout}\nstderr: {self.stderr}"


class SshNode:
    """sshd in the ``pve`` namespace, the relay to it, and an SSH client for the test."""

    def __init__(
        self, host: Host, wan: Wan, openssh: Openssh, package: Package, name: str = "pve1"
    ) -> None:
        self.name = name
        self.host = host
        self.wan = wan
        self.openssh = openssh
        self.package = package
        self.state = host.lab.workdir / "node"
        self.relay: Relay | None = None
        self._keys = ensure_keys(self.state, [name])  # as the simulator's SSH face keeps them
        self._client: paramiko.SSHClient | None = None
        self._sshd: subprocess.Popen[str] | None = None

    # -- start and stop ----------------------------------------------------------------

    def __enter__(self) -> SshNode:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def start(self) -> None:
        """Keys, config and shims; sshd in the namespace; the relay from loopback."""
        for sub in ("etc-upper", "etc-work", "shim-state", "bin"):
            (self.state / sub).mkdir(parents=True, exist_ok=True)
        host_key = self._keys.hosts[self.name]
        key_file = self.state / "ssh_host_ed25519_key"
        key_file.write_bytes(host_key.export_private_key("openssh"))
        key_file.chmod(0o600)
        (self.state / "authorized_keys").write_bytes(self._keys.client.export_public_key("openssh"))
        (self.state / "sshd_config").write_text(_SSHD_CONFIG.format(state=self.state))
        self._shims()
        lab, ns = self.host.lab, self.host.ns
        self._sshd = lab.spawn(
            ns,
            [
                "unshare", "--mount", "--propagation", "private",
                "/bin/sh", "-ec", _WRAPPER, "pvenet-node", str(self.state),
                str(self.host.ifupdown2.state),
                "env", f"LD_LIBRARY_PATH={self.openssh.libs}",
                str(self.openssh.sshd), "-D", "-f", str(self.state / "sshd_config"),
                "-E", str(self.log),
            ],
        )  # fmt: skip
        self._wait_listening(self._sshd)
        self.relay = Relay(self.wan.ns.name, (HOST, 22))
        self._keys.publish({self.name: ("127.0.0.1", self.relay.port)})

    def environment(self) -> dict[str, str]:
        """PVENET_SSH_USER, _KEY, _KNOWN_HOSTS and _ADDRESSES for this node's sshd."""
        return ssh_environment(self.state)

    @property
    def log(self) -> Path:
        """sshd's log (``-E``)."""
        return self.state / "sshd.log"

    def _shims(self) -> None:
        """/usr/local/sbin of the node: systemctl, systemd-run, ifupdown2's commands, modprobe."""
        bin_dir = self.state / "bin"
        for shim in SHIMS.iterdir():
            shutil.copy(shim, bin_dir / shim.name)
        for command in COMMANDS:
            (bin_dir / command).write_text(
                f'#!/bin/sh\nexec {PYTHON} {self.package.bin / command} "$@"\n'
            )
        (bin_dir / "modprobe").write_text(
            '#!/bin/sh\necho "pvenet kernel tier: modprobe $* refused" >&2\nexit 1\n'
        )
        for path in bin_dir.iterdir():
            path.chmod(0o755)

    def _wait_listening(self, sshd: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and sshd.poll() is None:
            if self.log.exists() and LISTENING in self.log.read_text():
                return
            time.sleep(0.05)
        said = ""
        if sshd.poll() is not None and sshd.stdout is not None:
            said = sshd.stdout.read()
        log = self.log.read_text() if self.log.exists() else "(no log)"
        raise LabError(f"sshd did not start in {self.host.ns.name}:\n{said}\n{log}")

    def close(self) -> None:
        """Disarm the shim's timers (ours), close the client and relay, stop sshd."""
        for pidfile in (self.state / "shim-state").glob("*.pid"):
            with contextlib.suppress(ValueError, OSError):
                os.killpg(int(pidfile.read_text()), signal.SIGTERM)
            pidfile.unlink(missing_ok=True)
        if self._client is not None:
            self._client.close()
            self._client = None
        if self.relay is not None:
            self.relay.close()
            self.relay = None
        if self._sshd is not None:
            self.host.lab.stop(self._sshd)
            self._sshd = None
        self._wait_sessions_gone()

    def _wait_sessions_gone(self) -> None:
        """sshd's per-connection processes end shortly after their connection closes."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if not run(["ip", "netns", "pids", self.host.ns.name], check=False).stdout.split():
                return
            time.sleep(0.05)

    # -- the client ----------------------------------------------------------------------

    def connect(self, timeout: float = 5) -> paramiko.SSHClient:
        """A new SSH connection to the node, as root with the test's key; host key pinned."""
        assert self.relay is not None
        client = paramiko.SSHClient()
        client.load_host_keys(str(self._keys.known_hosts_file))
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        client.connect(
            "127.0.0.1",
            port=self.relay.port,
            username="root",
            key_filename=str(self._keys.client_file),
            look_for_keys=False,
            allow_agent=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
        return client

    def run(
        self,
        command: str | Sequence[str],
        *,
        stdin: str | None = None,
        check: bool = True,
    ) -> Done:
        """One SSH exec on the kept connection (a word list is quoted for the remote shell);
        ``stdin`` fed and closed. LabError unless it exits 0, when ``check``."""
        text = command if isinstance(command, str) else shlex.join(command)
        if self._client is None:
            self._client = self.connect()
        channel = self._client.get_transport().open_session(timeout=10)  # type: ignore[union-attr]
        channel.settimeout(120)
        channel.exec_command(text)
        if stdin is not None:
            channel.sendall(stdin.encode())
        channel.shutdown_write()
        out = channel.makefile("rb").read().decode()
        err = channel.makefile_stderr("rb").read().decode()
        done = Done(text, channel.recv_exit_status(), out, err)
        channel.close()
        if check and done.rc != 0:
            raise LabError(f"over SSH on the node: {done}")
        return done

    def reconnect(self) -> None:
        """Drop the kept connection (the next ``run`` opens a new one)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def read(self, path: str) -> str | None:
        """A file on the node (None when it does not exist)."""
        done = self.run(["cat", path], check=False)
        return done.stdout if done.rc == 0 else None

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists on the node."""
        return self.run(["test", "-e", path], check=False).rc == 0

    def ruleset(self) -> str:
        """``nft list ruleset`` in the node's namespace."""
        return self.host.ns.exec("nft", "list", "ruleset").stdout

    def sysctl(self, key: str) -> str:
        """One sysctl of the node's namespace."""
        return self.host.ns.exec("sysctl", "-n", key).stdout.strip()
