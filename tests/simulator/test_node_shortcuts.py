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

import copy
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.errors import ApiError
from simulator.node import write
from simulator.node.config import NetworkConfig, Stanza
from simulator.node.read import read_interfaces
from simulator.node.write import render_interfaces

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


@st.composite
def _edit(draw: st.DrawFn, ifaces: dict[str, Stanza]) -> None:
    """Change ``ifaces`` as an API handler does: replace stanzas, never change one in place."""
    names = sorted(ifaces)
    what = draw(st.sampled_from(("set", "move", "delete", "add", "enslave", "same")))
    name = draw(st.sampled_from(names)) if names else "vmbr9"
    if what == "set" and names:
        ifaces[name] = {**ifaces[name], draw(st.sampled_from(KEYS)): draw(st.sampled_from(VALUES))}
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


def _from_scratch(config: NetworkConfig) -> str:
    """The file printed from a copy, nothing remembered."""
    with mock.patch.dict(write._BY_NAME, clear=True):
        return render_interfaces(copy.deepcopy(config))


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
