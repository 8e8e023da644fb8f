"""The checks the kernel scenarios assert, shared by the tests that expect them to fail.

Each ``check_*`` raises ``AssertionError`` with what it saw. A negative test
breaks a rendered file on purpose and asserts that the very same check fails.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping

from tests.kernel.netns import Netns
from tests.kernel.topology import ECHO_PORT, GUEST_PORT, HOST, UPSTREAM, Guest, Host, Wan

# How long a traffic check keeps retrying before it gives up (first packets need ARP).
PATIENCE_S = 5.0


def applied(pve: Host, files: Mapping[str, str | None], *, query: bool = True) -> None:
    """Apply the files with ``ifreload -a``; it and ``ifquery -c -a`` must be clean.

    ``query=False`` skips ``ifquery -c -a`` (about 20 s under TCG emulation) for
    tests that assert the kernel's state themselves.
    """
    result = pve.apply(files)
    assert result.clean, f"ifreload -a reported problems:\n{result}"
    if not query:
        return
    query_result = pve.ifupdown2.query_check()
    assert query_result.clean, f"ifquery -c -a: running state differs:\n{query_result}"


def reaches(src: Netns, url: str, peer: str, patience: float = PATIENCE_S) -> None:
    """``src`` gets an answer from ``url`` whose server saw the client address ``peer``."""
    result = src.wait_http(url, seconds=patience)
    assert result.ok, f"{src.name} -> {url}: no answer ({result})"
    assert f"saw client {peer}\n" in result.body, f"{src.name} -> {url}: {result}"


def blocked(src: Netns, url: str) -> None:
    """``src`` gets no answer from ``url``."""
    result = src.blocked(url)
    assert not result.ok, f"{src.name} -> {url} answered: {result}"


def check_bridged(
    wan: Wan,
    pve: Host,
    vm: Guest,
    patience: float = PATIENCE_S,
    *,
    upstream: str = UPSTREAM,
    host: str = HOST,
) -> None:
    """Host and guest reach the upstream with their own addresses, and it reaches the guest.

    ``upstream`` and ``host`` are both ends' addresses on the bridged segment
    (the uplink segment by default).
    """
    url = f"http://{upstream}:{ECHO_PORT}"
    reaches(pve.ns, f"{url}/host", host, patience)
    reaches(vm.ns, f"{url}/guest", vm.ip, patience)
    reaches(wan.ns, f"{vm.url}/from-wan", upstream, patience)


def check_nat(wan: Wan, pve: Host, vm: Guest, patience: float = PATIENCE_S) -> None:
    """The guest reaches the upstream, which sees the host's address; nothing reaches the guest."""
    reaches(vm.ns, f"{wan.url}/nat", HOST, patience)
    assert wan.seen()[-1] == HOST, f"upstream log: {wan.seen()}"
    blocked(wan.ns, f"{vm.url}/direct")  # private block: the upstream has no route to it
    blocked(wan.ns, f"http://{HOST}:{GUEST_PORT}/via-host")  # no port forward on the host


def check_routed(wan: Wan, pve: Host, vm: Guest, patience: float = PATIENCE_S) -> None:
    """The guest reaches the upstream with its own address; the upstream reaches the guest."""
    reaches(vm.ns, f"{wan.url}/routed", vm.ip, patience)
    reaches(wan.ns, f"{vm.url}/from-wan", UPSTREAM, patience)


def wait_for(what: str, probe: Callable[[], str], ok: Callable[[str], bool], seconds: float) -> str:
    """Poll ``probe`` until ``ok`` holds for its output; the last output."""
    deadline = time.monotonic() + seconds
    while True:
        text = probe()
        if ok(text):
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {seconds:.0f} s; last state:\n{text}")
        time.sleep(0.25)


def bridge_vlans(ns: Netns) -> dict[str, list[dict[str, object]]]:
    """``bridge -j -c vlan show``: each port's VLAN entries (``vlan``, ``vlanEnd``, ``flags``)."""
    data = json.loads(ns.bridge("-j", "-c", "vlan", "show") or "[]")
    return {entry["ifname"]: list(entry.get("vlans", [])) for entry in data}


def vlan_ids(entries: list[dict[str, object]]) -> set[int]:
    """All VLAN ids the entries cover (ranges expanded)."""
    ids: set[int] = set()
    for entry in entries:
        start = int(str(entry["vlan"]))
        end = int(str(entry.get("vlanEnd", start)))
        ids.update(range(start, end + 1))
    return ids


def pvid(entries: list[dict[str, object]]) -> int | None:
    """The port's PVID (untagged ingress VLAN), if any."""
    for entry in entries:
        if "PVID" in list(entry.get("flags", []) or []):  # type: ignore[call-overload]
            return int(str(entry["vlan"]))
    return None
