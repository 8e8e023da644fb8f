"""The simulator's shortcuts give the answers of the whole computation they stand for.

A node of a thousand interfaces is read, checked and printed again for every
API write; the simulator remembers what it worked out for the interfaces a
write does not change (``simulator.node.write`` keeps each interface's text
by the stanza printed). Here configs are read from random files and changed
the way the API handlers change them (a changed interface is a new stanza, an
interface after a new one is read again one place further down, values of
another Perl type that print differently), and each answer with what was
remembered must equal the answer worked out from scratch on a copy.
"""

from __future__ import annotations

import contextlib
import copy
import shutil
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api import Request
from simulator.cluster import Cluster
from simulator.errors import ApiError
from simulator.node import api as node_api
from simulator.node import checks, reread, write
from simulator.node import config as config_module
from simulator.node import read as read_module
from simulator.node.checks import check_config
from simulator.node.config import NetworkConfig, Stanza
from simulator.node.read import read_interfaces
from simulator.node.reread import read_again
from simulator.node.write import render_interfaces
from tests.simulator.conftest import INSTALLER

NICS = ("eno1", "eno2", "eno3")

NAMES = st.sampled_from(
    [
        "eno1",
        "eno2",
        "eno3",
        "bond0",
        "bond1",
        "vmbr0",
        "vmbr1",
        "eno1.5",
        "bond0.7",
        "vlan9",
        "vmbr0:1",
        "dummy1",
        "mybond",
        "vx1",
    ]
)
LINES = st.sampled_from(
    (
        "address 10.0.0.1/24",
        "address fd00::1/64",
        "gateway 10.0.0.254",
        "bridge-ports eno2",
        "bridge-ports none",
        "bridge-fd 0",
        "bridge-vlan-aware yes",
        "bond-slaves eno2 eno3",
        "bond-mode 802.3ad",
        "vlan-raw-device eno1",
        "mtu 9000",
        "vxlan-id 7",
        "link-type dummy",
        "post-up true",
        "ovs_type OVSBridge",
        "ovs_type OVSIntPort",
        "ovs_bridge vmbr1",
        "ovs_ports vmbr0:1",
        "# a comment",
    )
)


@st.composite
def _file(draw: st.DrawFn) -> str:
    """An interfaces file of stanzas over a few names (some twice), kept lines between."""
    parts = []
    for name in draw(st.lists(NAMES, min_size=1, max_size=10)):
        auto = f"auto {name}\n" if draw(st.booleans()) else ""
        family = draw(st.sampled_from(("", " inet static", " inet manual", " inet6 static")))
        body = "".join(f"\t{line}\n" for line in draw(st.lists(LINES, max_size=4)))
        parts.append(f"{auto}iface {name}{family}\n{body}")
        if draw(st.integers(0, 5)) == 0:
            parts.append("source /etc/network/interfaces.d/*\n")
    return "\n".join(parts)


VALUES: list[Any] = ["0", 0, False, 1, True, "", None, "on", "9000", ["x"], "eno1 eno2", "eno3"]
KEYS = ("bridge_fd", "autostart", "mtu", "comments", "bridge_vlan_aware", "slaves", "type")
CHECKED = {
    "mtu": st.sampled_from(("1500", "9000", "", None, 0)),
    "bridge_ports": st.sampled_from(("eno1", "eno2", "eno3", "bond0", "eno1.5", "", "eno2 eno3")),
    "slaves": st.sampled_from(("eno2", "eno3", "eno2 eno3", "eno1", "")),
    "vlan-raw-device": st.sampled_from(("eno1", "bond0", "vmbr0", "")),
    "type": st.sampled_from(("eth", "bond", "bridge", "vlan", "unknown")),
    "method": st.sampled_from(("static", "manual")),
    "address": st.sampled_from(("10.0.0.1", "0.0.0.0", None)),
}


@st.composite
def _edit(draw: st.DrawFn, ifaces: dict[str, Stanza]) -> None:
    """Change ``ifaces`` as an API handler does: replace stanzas, never change one in place."""
    names = sorted(ifaces)
    what = draw(st.sampled_from(("set", "check", "move", "delete", "add", "enslave", "same")))
    name = draw(st.sampled_from(names)) if names else "vmbr9"
    if what == "set" and names:
        ifaces[name] = {**ifaces[name], draw(st.sampled_from(KEYS)): draw(st.sampled_from(VALUES))}
    elif what == "check" and names:  # what the writer's checks read
        key = draw(st.sampled_from(sorted(CHECKED)))
        ifaces[name] = {**ifaces[name], key: draw(CHECKED[key])}
    elif what == "move" and names:
        for moved in names[names.index(name) :]:
            priority = ifaces[moved].get("priority") or 0
            ifaces[moved] = {**ifaces[moved], "priority": priority + 1}
    elif what == "delete" and names:
        del ifaces[name]
    elif what == "enslave":  # the slaves of a bond start at boot: their text changes
        bond = draw(st.sampled_from(("bond0", "bond1")))
        slaves = " ".join(draw(st.lists(NAMES, max_size=3)))
        ifaces[bond] = {**ifaces.get(bond, {"type": "bond"}), "slaves": slaves}
    elif what == "add":
        ifaces[draw(NAMES)] = {"type": "bridge", "families": ["inet"], "method": "manual"}


def _refusal(config: NetworkConfig) -> str | None:
    """The writer checks' refusal of a config, or None where it passes."""
    try:
        check_config(config)
    except ApiError as error:
        return f"{error.status} {error.message}"
    return None


def _from_scratch(config: NetworkConfig) -> str:
    """The file printed from a copy, nothing remembered."""
    with mock.patch.dict(write._BY_NAME, clear=True):
        return render_interfaces(copy.deepcopy(config))


@st.composite
def _valid_file(draw: st.DrawFn) -> str:
    """A file the writer's checks pass more often than not: a bond of NICs, VLANs on it and
    on a NIC, bridges on distinct ports, MTUs here and there."""
    mtu = st.sampled_from(("", "\tmtu 1500\n", "\tmtu 9000\n"))
    stanzas = [
        f"auto bond0\niface bond0 inet manual\n\tbond-slaves eno2 eno3\n{draw(mtu)}",
        f"iface eno1 inet manual\n{draw(mtu)}",
    ]
    ports = ["eno1", "bond0", *(f"{parent}.{n}" for parent in ("eno1", "bond0") for n in (5, 6))]
    for port in ports[2:]:
        stanzas.append(f"iface {port} inet manual\n{draw(mtu)}")
    for index, port in enumerate(draw(st.lists(st.sampled_from(ports), unique=True))):
        stanzas.append(
            f"auto vmbr{index}\niface vmbr{index} inet static\n\taddress 10.0.{index}.1/24\n"
            f"\tbridge-ports {port}\n{draw(mtu)}"
        )
    return "\n".join(draw(st.permutations(stanzas)))


def _printed_both_ways(config: NetworkConfig) -> str | None:
    """The file printed with what is remembered, after checking it is the file printed from
    scratch; None where the writer refuses the config (refused both ways, alike)."""
    try:
        printed = render_interfaces(config)
    except ApiError as error:
        refused = error
    else:
        assert printed == _from_scratch(config)
        return printed
    with pytest.raises(ApiError) as again:
        _from_scratch(config)
    assert (again.value.status, again.value.message) == (refused.status, refused.message)
    return None


@settings(max_examples=300, deadline=None)
@given(_valid_file() | _file(), st.data())
def test_the_checks_judge_a_config_as_checking_it_anew(text: str, data: st.DataObject) -> None:
    """Each write of a sequence is refused, or not, as checking its config from scratch does:
    the checks look again only at what changed since the last config that passed."""
    config = read_interfaces(text, NICS)
    for _ in range(data.draw(st.integers(1, 8))):
        config = NetworkConfig(dict(config.ifaces), list(config.options))
        data.draw(_edit(config.ifaces))
        refusal = _refusal(config)
        with mock.patch.object(checks, "_LAST", []):
            assert refusal == _refusal(copy.deepcopy(config))
        if refusal is None and data.draw(st.booleans()):
            config = read_interfaces(render_interfaces(config), NICS)


@settings(max_examples=300, deadline=None)
@given(_file(), st.data())
def test_the_file_printed_from_what_is_remembered_is_the_file_printed_anew(
    text: str, data: st.DataObject
) -> None:
    """Each write of a sequence prints what printing its config from scratch prints, whether
    it starts from the file the last one printed or from the config it printed."""
    config = read_interfaces(text, NICS)
    for _ in range(data.draw(st.integers(1, 6))):
        config = NetworkConfig(dict(config.ifaces), list(config.options))
        data.draw(_edit(config.ifaces))
        printed = _printed_both_ways(config)
        if printed is not None and data.draw(st.booleans()):
            config = read_interfaces(printed, NICS)


# --- reading a file again where it differs (simulator.node.reread) ---------------------------


@st.composite
def _paragraphs(draw: st.DrawFn) -> list[str]:
    """Paragraphs of a file: stanzas (some of one interface, some ``auto`` alone), kept lines,
    comments, and ``auto`` lines naming two interfaces."""
    paragraphs = []
    for _ in range(draw(st.integers(0, 12))):
        name, other = draw(NAMES), draw(NAMES)
        kind = draw(st.sampled_from(("stanza", "stanza", "stanza", "auto", "kept", "note", "two")))
        if kind == "stanza":
            auto = f"auto {name}\n" if draw(st.booleans()) else ""
            family = draw(st.sampled_from(("", " inet static", " inet manual", " inet6 static")))
            lines = draw(st.lists(LINES | st.just("vlan-raw-device vmbr1"), max_size=3))
            paragraphs.append(f"{auto}iface {name}{family}" + "".join(f"\n\t{x}" for x in lines))
        elif kind == "auto":
            paragraphs.append(f"auto {name}")
        elif kind == "kept":
            paragraphs.append(draw(st.sampled_from(("source /etc/x", f"allow-vmbr1 {name}"))))
        elif kind == "note":
            paragraphs.append("# a note")
        else:
            paragraphs.append(f"auto {name} {other}")
    return paragraphs


def _as_read(config: NetworkConfig) -> str:
    """All a config holds, in order, each value with its type."""
    return repr((list(config.ifaces.items()), config.options))


@settings(max_examples=500, deadline=None)
@given(_paragraphs(), st.data())
def test_a_file_read_where_it_differs_is_the_file_read_whole(
    paragraphs: list[str], data: st.DataObject
) -> None:
    """Paragraphs replaced, added or taken out here and there: the file read again from what
    reading the file before left is the file read whole, order and types included."""
    nics = data.draw(st.sampled_from((NICS, ("eno1",), ())))
    active = data.draw(st.sampled_from(((), ("eno1", "vmbr0"), ("bond0",))))
    with mock.patch.object(reread, "_TRACES", []):
        for _ in range(data.draw(st.integers(1, 4))):
            text = "\n\n".join(paragraphs)
            assert _as_read(read_again(text, nics, active)) == _as_read(
                read_interfaces(text, nics, active)
            )
            for _ in range(data.draw(st.integers(1, 3))):
                at = data.draw(st.integers(0, len(paragraphs)))
                removed = data.draw(st.integers(0, 2))
                paragraphs[at : at + removed] = data.draw(_paragraphs().map(lambda p: p[:2]))


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 300).flatmap(lambda n: st.lists(st.sampled_from("ab"), min_size=n, max_size=n)),
    st.data(),
)
def test_where_two_files_differ_is_found_as_one_by_one(old: list[str], data: st.DataObject) -> None:
    """The paragraphs two files share at their start and end (a file and the same with a
    run replaced), found a chunk at a time."""
    cut = sorted(data.draw(st.lists(st.integers(0, len(old)), min_size=2, max_size=2)))
    new = [*old[: cut[0]], *data.draw(st.lists(st.sampled_from("abc"), max_size=5)), *old[cut[1] :]]
    limit = min(len(old), len(new))
    start = next((i for i in range(limit) if old[i] != new[i]), limit)
    end = next((i for i in range(limit - start) if old[-1 - i] != new[-1 - i]), limit - start)
    assert reread._common_ends(old, new) == (start, end)


def _vlan(name: str, parent: str = "") -> str:
    return f"iface {name} inet manual" + (f"\n\tvlan-raw-device {parent}" if parent else "")


MANUAL = "iface vmbr0 inet manual"
AGAIN = {
    "a parent taken out: its VLAN now looks at a missing one": (
        ["iface bond0 inet manual\n\tbond-slaves eno1", _vlan("bond0.7"), MANUAL],
        ["iface vmbr9 inet manual", _vlan("bond0.7"), MANUAL],
    ),
    "a new VLAN whose parent comes after it in name order (not completed yet)": (
        [_vlan("vlan9", "eno1")],
        [_vlan("vlan9", "eno1"), _vlan("bond0.7", "vlan9")],
    ),
    "a new VLAN adds a missing parent before another one": (
        [_vlan("bond0.7"), _vlan("bond0.6", "bond1")],
        [_vlan("bond0.7"), _vlan("bond0.6", "bond1"), _vlan("bond0.5")],
    ),
    "the only VLAN of a missing parent taken out": (
        [_vlan("bond0.7"), MANUAL],
        [MANUAL],
    ),
    "a stanza placed by its second paragraph, then one between them": (
        [MANUAL],
        ["auto vmbr1", "iface vmbr1 inet manual", MANUAL],
        ["auto vmbr1", "iface vmbr2 inet manual", "iface vmbr1 inet manual", MANUAL],
    ),
    "one of two paragraphs of an interface changed": (
        ["iface vmbr1 inet manual", MANUAL, "iface vmbr1 inet6 manual"],
        ["iface vmbr1 inet manual", MANUAL, "iface vmbr1 inet6 static\n\taddress fd00::1/64"],
    ),
    "kept lines after a new stanza move down": (
        [MANUAL, "source /etc/x"],
        ["iface vmbr2 inet manual", MANUAL, "source /etc/x"],
    ),
}


@pytest.mark.parametrize("files", AGAIN.values(), ids=list(AGAIN))
def test_a_file_read_again_is_the_file_read_whole(files: tuple[list[str], ...]) -> None:
    """Where reading only what differs would not give what reading the whole file gives."""
    with mock.patch.object(reread, "_TRACES", []):
        for paragraphs in files:
            text = "\n\n".join(paragraphs)
            assert _as_read(read_again(text, ("eno1",), ())) == _as_read(
                read_interfaces(text, ("eno1",), ())
            )


@settings(max_examples=200, deadline=None)
@given(_valid_file() | _file(), st.data())
def test_a_file_the_writer_printed_anew_is_read_again_as_whole(
    text: str, data: st.DataObject
) -> None:
    """Writes as the API makes them, each file printed from the last one read with a change:
    read again where it differs, it reads as read whole."""
    with mock.patch.object(reread, "_TRACES", []):
        config = read_again(text, NICS, ())
        for _ in range(data.draw(st.integers(1, 6))):
            config = NetworkConfig(dict(config.ifaces), list(config.options))
            data.draw(_edit(config.ifaces))
            try:
                printed = render_interfaces(config)
            except ApiError:
                continue
            config = read_again(printed, NICS, ())
            assert _as_read(config) == _as_read(read_interfaces(printed, NICS, ()))


# --- the API, with what the simulator remembers and without it --------------------------------

BASE = (
    INSTALLER.replace("source /etc/network/interfaces.d/*\n", "")
    + "auto bond0\niface bond0 inet manual\n\tbond-slaves eno2 eno3\n\tbond-miimon 100\n"
    "\tbond-mode 802.3ad\n\n"
    + "".join(
        f"auto bond0.{n}\niface bond0.{n} inet manual\n\n"
        f"auto vmbr{n}\niface vmbr{n} inet static\n\taddress 10.0.{n}.1/24\n"
        f"\tbridge-ports bond0.{n}\n\tbridge-stp off\n\tbridge-fd 0\n\n"
        for n in range(1, 6)
    )
    + "source /etc/network/interfaces.d/*\n"
)
IFACES = st.sampled_from(["vmbr1", "vmbr3", "vmbr7", "bond0", "bond0.2", "eno1", "eno1.9", "vlan5"])
SETTINGS = st.sampled_from(
    [
        {"comments": "changed"},
        {"mtu": "9000"},
        {"mtu": "1400"},
        {"bridge_ports": "bond0.4"},
        {"bridge_ports": "eno1.9"},
        {"cidr": "10.9.0.1/24"},
        {"autostart": "1"},
        {"bridge_vlan_aware": "1"},
        {"delete": "comments,mtu"},
        {"slaves": "eno2"},
        {"vlan-raw-device": "bond0"},
    ]
)
TYPES = {"vmb": "bridge", "bon": "bond", "eno": "eth", "vla": "vlan"}


def _type(iface: str) -> str:
    return "vlan" if "." in iface else TYPES[iface[:3]]


@st.composite
def _request(draw: st.DrawFn) -> Request:
    """A request a client may send to pve1's network API."""
    iface = draw(IFACES)
    path = f"/nodes/pve1/network/{iface}"
    what = draw(
        st.sampled_from(("PUT", "PUT", "PUT", "POST", "DELETE", "GET", "list", "revert", "apply"))
    )
    if what == "PUT":
        return Request("PUT", path, {"type": _type(iface), **draw(SETTINGS)})
    if what == "POST":
        return Request("POST", "/nodes/pve1/network", {"iface": iface, "type": _type(iface)})
    if what == "list":
        return Request("GET", "/nodes/pve1/network", {})
    if what == "revert":
        return Request("DELETE", "/nodes/pve1/network", {})
    if what == "apply":
        return Request("PUT", "/nodes/pve1/network", {})
    return Request(what, path, {})


def _answer(cluster: Cluster, request: Request) -> tuple[object, ...]:
    """What the client reads (status, data, message) and the node's files after it (an
    apply's task id aside: it names the time)."""
    try:
        reply = cluster.handle(request)
        applied = request.path == "/nodes/pve1/network" and request.method == "PUT"
        answer: tuple[object, ...] = (200, None if applied else reply.data, reply.extra)
    except ApiError as error:
        answer = (error.status, error.message, error.errors)
    return (*answer, cluster.nodes["pve1"].files())


def _forgetting() -> contextlib.ExitStack:
    """Everything the simulator remembers between requests, forgotten (and given back on exit)."""
    stack = contextlib.ExitStack()
    for target, name, empty in (
        (reread, "_TRACES", []),
        (checks, "_LAST", []),
        (write, "_BY_NAME", {}),
        (write, "_PRINTED", {}),
        (config_module, "_MOVED", [{}, {}]),
        (read_module, "_COMPLETED", {}),
        (read_module, "_PARAGRAPHS", {}),
        (node_api, "_read", node_api._read.__wrapped__),
    ):
        stack.enter_context(mock.patch.object(target, name, empty))
    return stack


@settings(max_examples=80, deadline=None)
@given(st.lists(_request(), min_size=1, max_size=12))
def test_every_answer_and_file_is_the_one_a_simulator_started_afresh_gives(
    requests: list[Request],
) -> None:
    """A sequence of requests on a node, each answered by the simulator as it runs (what it
    remembers of the requests before) and by one started afresh on a copy of its state:
    the same status, data, message and files."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        running = Cluster(state, ["pve1"], list(NICS), BASE)
        for index, request in enumerate(requests):
            copy_of_state = Path(tmp) / f"copy{index}"
            shutil.copytree(state, copy_of_state)
            with _forgetting():
                afresh = _answer(Cluster(copy_of_state), request)
            assert _answer(running, request) == afresh, request
