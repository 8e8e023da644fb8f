"""The node files each kernel scenario applies: pvenet's examples, rendered by the simulator.

Every node starts from ``BASE``: the installer's file with the topology's uplink
(``vmbr0`` on ``eno1`` with ``HOST_CIDR``, gateway ``UPSTREAM``; ``eno2..eno4``
spare). A scenario runs an example program (``examples/<name>``) with
``components.render.render``: Pulumi's mocks drive the real providers against an
in-process simulator, and the node's files after the apply are what the
scenario gets: ``/etc/network/interfaces`` and ``/etc/network/interfaces.d/sdn``.

Two scenarios are not an example: ``bridged`` (the installer's vmbr0, written
by the simulator's writer after an apply) and ``bond("active-backup")`` (made
with API calls; see ``_active_backup``).

Each scenario is rendered once per process. The QEMU guest does not render
(Pulumi under TCG is slow): the host saves every scenario with ``save`` before
it boots the guest, and the guest ``load``s them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from simulator.api import Request
from simulator.cluster import Cluster
from tests.kernel.topology import HOST_CIDR, NICS, UPSTREAM

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NODE = "pve1"
BASE = f"""\
auto lo
iface lo inet loopback

iface eno1 inet manual

auto vmbr0
iface vmbr0 inet static
	address {HOST_CIDR}
	gateway {UPSTREAM}
	bridge-ports eno1
	bridge-stp off
	bridge-fd 0

iface eno2 inet manual

iface eno3 inet manual

iface eno4 inet manual

source /etc/network/interfaces.d/*
"""

Files = dict[str, str | None]

# What the examples configure (the tests check these in the kernel).
# examples/nat: SDN Simple zone labnat, vnet labnet, 10.10.10.1/24 with SNAT.
NAT_VNET = "labnet"
NAT_SUBNET = "10.10.10.0/24"
NAT_GATEWAY = "10.10.10.1"
# examples/routed: SDN Simple zone pubrt, vnet pubnet, 203.0.113.17/28 (no SNAT).
ROUTED_VNET = "pubnet"
ROUTED_BLOCK = "203.0.113.16/28"
ROUTED_GATEWAY = "203.0.113.17"
# examples/bond: bond0 (802.3ad, layer3+4) of eno2+eno3 under vmbr1 with 10.1.0.2/24.
BOND_SLAVES = ("eno2", "eno3")
BOND_BRIDGE = "vmbr1"
BOND_HOST_CIDR = "10.1.0.2/24"
BOND_HASH_POLICY = "layer3+4"
# examples/bridged: VLAN-aware vmbr1 on eno2 with 192.168.20.2/24, VLANs 10 and 20.
VLAN_BRIDGE = "vmbr1"
VLAN_PORT = "eno2"
VLAN_HOST_CIDR = "192.168.20.2/24"
VLAN_VIDS = (10, 20)
VLAN_ID = 10


class Node:
    """One simulated node, called in process as a form-encoding client would."""

    def __init__(self, state: Path) -> None:
        self.cluster = Cluster(state, [NODE], list(NICS), BASE)

    def call(self, method: str, path: str, **params: Any) -> Any:
        """One API call (``path`` below ``/api2/json``); its data. Raises on an API error."""
        form = {key.replace("__", "-"): _form(value) for key, value in params.items()}
        return self.cluster.handle(Request(method, path, form)).data

    def network(self, method: str, suffix: str = "", **params: Any) -> Any:
        """A call below ``/nodes/pve1/network``."""
        return self.call(method, f"/nodes/{NODE}/network{suffix}", **params)

    def apply_network(self) -> None:
        """``PUT /nodes/pve1/network`` (ifreload on a real node); the task must succeed."""
        upid = self.network("PUT")
        status = self.call("GET", f"/nodes/{NODE}/tasks/{upid}/status")
        assert status["exitstatus"] == "OK", status

    def files(self) -> Files:
        """The node's network files."""
        return self.cluster.nodes[NODE].files()


def _form(value: Any) -> Any:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


@contextmanager
def _node() -> Iterator[Node]:
    """A fresh simulated node whose state lives in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="pvenet-kernel-sim-") as state:
        yield Node(Path(state))


def _example(name: str) -> Files:
    """``examples/<name>`` rendered against ``BASE``: the node's files after the apply."""
    # Imported here: the QEMU guest loads saved scenarios and need not import Pulumi.
    from components.project import load_project  # noqa: PLC0415 - see above
    from components.render import render  # noqa: PLC0415 - see above

    rendered = render(load_project(EXAMPLES / name), base=BASE, nics=NICS)
    return dict(rendered.files[NODE])


def _bridged() -> Files:
    """The installer's vmbr0 (eno1, the host address), rewritten by the simulator's writer."""
    with _node() as node:
        node.network(
            "PUT", "/vmbr0", type="bridge", bridge_ports="eno1", cidr=HOST_CIDR,
            gateway=UPSTREAM, autostart=True,
        )  # fmt: skip
        node.apply_network()
        return node.files()


def _active_backup() -> Files:
    """examples/bond's layout in mode active-backup (primary eno2), made with API calls.

    No example has an active-backup bond on its own bridge (examples/homelab's
    sits under a VLAN-aware bridge with much else), so this one is built the way
    ``BondedUplink(mode="active-backup", primary="eno2")`` would call the API.
    """
    with _node() as node:
        node.network(
            "POST", iface="bond0", type="bond", slaves=" ".join(BOND_SLAVES),
            bond_mode="active-backup", bond__primary=BOND_SLAVES[0], autostart=True,
        )  # fmt: skip
        node.network(
            "POST", iface=BOND_BRIDGE, type="bridge", bridge_ports="bond0",
            cidr=BOND_HOST_CIDR, autostart=True,
        )  # fmt: skip
        node.apply_network()
        return node.files()


_BUILDERS: dict[str, Callable[[], Files]] = {
    "bridged": _bridged,
    "nat": lambda: _example("nat"),
    "routed": lambda: _example("routed"),
    "bond-802.3ad": lambda: _example("bond"),
    "bond-active-backup": _active_backup,
    "vlan_aware": lambda: _example("bridged"),
}
_rendered: dict[str, Files] = {}


def _scenario(name: str) -> Files:
    """The scenario's files (rendered on first use); a copy the caller may change."""
    if name not in _rendered:
        _rendered[name] = _BUILDERS[name]()
    return dict(_rendered[name])


def save(path: Path) -> None:
    """Render every scenario and write them to ``path`` (JSON) for ``load``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({name: _scenario(name) for name in _BUILDERS}, indent=1))


def load(path: Path) -> None:
    """Use the scenarios ``save`` wrote instead of rendering them here."""
    _rendered.update(json.loads(path.read_text()))


def bridged() -> Files:
    """vmbr0 bridges eno1 and carries the host address: guests sit on the upstream segment."""
    return _scenario("bridged")


def nat() -> Files:
    """examples/nat: SDN Simple zone ``labnat``, vnet ``labnet``, 10.10.10.1/24 with SNAT."""
    return _scenario("nat")


def routed() -> Files:
    """examples/routed: SDN Simple zone ``pubrt``, vnet ``pubnet``, 203.0.113.17/28."""
    return _scenario("routed")


def bond(mode: str) -> Files:
    """bond0 of eno2+eno3 under vmbr1 (10.1.0.2/24): examples/bond for 802.3ad."""
    return _scenario(f"bond-{mode}")


def vlan_aware() -> Files:
    """examples/bridged: VLAN-aware vmbr1 on eno2 with 192.168.20.2/24, VLANs 10 and 20."""
    return _scenario("vlan_aware")
