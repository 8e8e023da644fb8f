"""The kernel tests' topology: an upstream router, a Proxmox host and its guests.

::

    wan    192.0.2.1/24 on wan0, echo server :8080 ("wan saw client <peer>");
     |     a test may add legs: a bond or switch over wan1+wan2, VLANs, routes
     |     veth pairs  wan0..wan3  <->  eno1..eno4
    pve    the host: NICs eno1..eno4 as the simulator names them; everything
     |     else (bridges, bonds, addresses, rules) comes from the files applied
     |     veth  tap<vmid>i0  <->  eth0
    vm<N>  guests, attached like qemu-server does once the host config is up

Each piece is a context manager that removes what it created in ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.kernel.ifupdown2 import Ifupdown2, Package, Result
from tests.kernel.netns import Lab, Netns

# The uplink segment (eno1 <-> wan0): the one place for its addresses.
UPSTREAM = "192.0.2.1"
UPSTREAM_CIDR = f"{UPSTREAM}/24"
HOST = "192.0.2.10"
HOST_CIDR = f"{HOST}/24"
GUEST_CIDR = "192.0.2.20/24"  # a guest bridged onto the uplink segment
ECHO_PORT = 8080
GUEST_PORT = 80
NICS = ("eno1", "eno2", "eno3", "eno4")


@dataclass
class Wan:
    """The upstream router: its namespace, echo server log and the uplink ends."""

    lab: Lab
    ns: Netns
    log: Path
    links: list[str] = field(default_factory=list)
    uplink: str = ""

    @property
    def url(self) -> str:
        """The echo server as the host and the guests reach it."""
        return f"http://{UPSTREAM}:{ECHO_PORT}"

    def seen(self) -> list[str]:
        """Client addresses the echo server saw, in order."""
        return [line.split()[0] for line in self.log.read_text().splitlines() if line]

    def plain_uplink(self, link: str = "wan0") -> None:
        """The upstream address on one cable: the default, faces the host's eno1."""
        self.ns.ip("addr", "add", UPSTREAM_CIDR, "dev", link)
        self.uplink = link

    def leg(self, link: str, cidr: str) -> str:
        """The upstream's address ``cidr`` on ``link`` (another segment it serves)."""
        self.ns.ip("addr", "add", cidr, "dev", link)
        return link

    def lacp_bond(self, links: tuple[str, ...], cidr: str) -> str:
        """An 802.3ad (LACP, fast rate) bond ``wbond0`` over ``links`` carrying ``cidr``.

        Like a switch with an LACP port channel facing the host's bond.
        """
        self.ns.ip(
            "link", "add", "wbond0", "type", "bond",
            "mode", "802.3ad", "lacp_rate", "fast", "miimon", "100",
        )  # fmt: skip
        for link in links:
            self.ns.ip("link", "set", link, "down")
            self.ns.ip("link", "set", link, "master", "wbond0")
        self.ns.ip("link", "set", "wbond0", "up")
        return self.leg("wbond0", cidr)

    def switch(self, links: tuple[str, ...], cidr: str) -> str:
        """A plain switch (bridge) ``wsw0`` joins ``links``; ``cidr`` sits on it.

        Faces an active-backup bond: only the active slave's cable carries traffic.
        """
        self.ns.ip("link", "add", "wsw0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
        for link in links:
            self.ns.ip("link", "set", link, "master", "wsw0")
        self.ns.ip("link", "set", "wsw0", "up")
        return self.leg("wsw0", cidr)

    def vlan(self, link: str, vid: int, cidr: str) -> str:
        """An 802.1Q sub-interface on ``link``: the upstream's leg in VLAN ``vid``."""
        name = f"{link}.{vid}"
        self.ns.ip("link", "add", "link", link, "name", name, "type", "vlan", "id", str(vid))
        self.ns.ip("addr", "add", cidr, "dev", name)
        self.ns.ip("link", "set", name, "up")
        return name

    def route(self, prefix: str, via: str) -> None:
        """A static route on the upstream (an ISP routing a block to the host)."""
        self.ns.ip("route", "add", prefix, "via", via)


@dataclass
class Host:
    """The Proxmox host namespace and its ifupdown2."""

    lab: Lab
    ns: Netns
    ifupdown2: Ifupdown2

    def apply(self, files: Mapping[str, str | None]) -> Result:
        """Install the node's files and run ``ifreload -a`` (Proxmox's apply)."""
        self.ifupdown2.write_files(files)
        return self.ifupdown2.reload()

    def link(self, name: str) -> str:
        """``ip -d link show name``."""
        return self.ns.ip("-d", "link", "show", name)


@dataclass
class Guest:
    """A guest: its namespace, VM id, address and the host-side port ``tap<vmid>i0``."""

    host: Host
    ns: Netns
    vmid: int
    address: str
    log: Path | None

    @property
    def tap(self) -> str:
        """The port qemu-server would create on the host."""
        return f"tap{self.vmid}i0"

    @property
    def ip(self) -> str:
        """The guest's address without the prefix length."""
        return self.address.split("/")[0]

    @property
    def url(self) -> str:
        """The guest's echo server."""
        return f"http://{self.ip}:{GUEST_PORT}"

    def attach(self, bridge: str, tag: int | None = None) -> None:
        """Plug the guest's port into ``bridge`` as qemu-server does when the VM starts.

        With ``tag`` on a VLAN-aware bridge the port is an untagged access port of
        that VLAN (qemu-server: ``bridge vlan del vid 1``, ``add vid <tag> pvid untagged``).
        """
        host = self.host.ns
        host.ip("link", "set", self.tap, "master", bridge, "up")
        if tag is not None:
            host.bridge("vlan", "del", "dev", self.tap, "vid", "1")
            host.bridge("vlan", "add", "dev", self.tap, "vid", str(tag), "pvid", "untagged")


@contextmanager
def wan_namespace(lab: Lab) -> Iterator[Wan]:
    """The upstream router namespace with its echo server (no links until the host exists)."""
    ns = lab.netns("wan")
    try:
        log = lab.echo_server(ns, "wan", ECHO_PORT)
        yield Wan(lab, ns, log)
    finally:
        lab.remove_netns(ns)


@contextmanager
def host_namespace(lab: Lab, wan: Wan, package: Package) -> Iterator[Host]:
    """The Proxmox host, cabled to the upstream: ``eno<i>`` <-> ``wan<i-1>``.

    The host's NICs stay down and unconfigured: that is the files' job. The
    upstream's cable ends are up and the upstream address sits on ``wan0``.
    """
    ns = lab.netns("pve")
    try:
        for index, nic in enumerate(NICS):
            link = f"wan{index}"
            lab.veth(ns, nic, wan.ns, link)
            wan.ns.ip("link", "set", link, "up")
            wan.links.append(link)
        wan.plain_uplink("wan0")
        yield Host(lab, ns, Ifupdown2(package, ns, lab.workdir / f"{ns.name}.ifupdown2"))
    finally:
        lab.remove_netns(ns)


class Guests:
    """Creates guests on demand; removes them when closed."""

    def __init__(self, lab: Lab, host: Host) -> None:
        self.lab = lab
        self.host = host
        self.made: list[Guest] = []

    def add(
        self, vmid: int, address: str, gateway: str | None = None, *, server: bool = True
    ) -> Guest:
        """Guest ``vm<vmid>`` with ``address`` on eth0, a default route and an echo server."""
        ns = self.lab.netns(f"vm{vmid}")
        guest = Guest(self.host, ns, vmid, address, None)
        self.made.append(guest)
        self.lab.veth(self.host.ns, guest.tap, ns, "eth0")
        ns.ip("addr", "add", address, "dev", "eth0")
        ns.ip("link", "set", "eth0", "up")
        if gateway:
            ns.ip("route", "add", "default", "via", gateway)
        if server:
            guest.log = self.lab.echo_server(ns, f"vm{vmid}", GUEST_PORT)
        return guest

    def close(self) -> None:
        """Delete every guest namespace made here."""
        for guest in reversed(self.made):
            self.lab.remove_netns(guest.ns)
        self.made.clear()


@contextmanager
def guest_namespaces(lab: Lab, host: Host) -> Iterator[Guests]:
    """A ``Guests`` factory whose guests are removed in ``finally``."""
    guests = Guests(lab, host)
    try:
        yield guests
    finally:
        guests.close()
