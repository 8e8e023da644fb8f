"""The engine-facing path: ``python -m pulumi.dynamic`` over gRPC, as ``pulumi up`` drives it.

Each test starts the real dynamic-provider plugin in the project directory,
configures it with the stack config of a simulator running over HTTPS (TLS
verified against its CA), and sends the requests the engine sends, with the
provider pickled exactly as the SDK pickles it. Nothing is mocked: what is
asserted is what an operator sees in ``pulumi preview``/``up``/``refresh``/
``destroy``, in the node's ``/etc/network/interfaces`` and in the API calls the
node received (the simulator's request log).

Interfaces live on eno2..eno4: eno1 carries the management bridge vmbr0
(192.168.10.2), which the lockout guard protects.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dill
import grpc
import pytest
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime import rpc
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2 as pb

from simulator.node import INTERFACES, INTERFACES_NEW
from simulator.testing import SimulatorHandle
from tests.provider.conftest import configured, stack_config
from tests.provider.grpc_harness import (
    PROVIDER_KEY,
    ProviderProcess,
    provider_process,
    serialized_provider,
)

NETWORK = "/nodes/pve1/network"

JUMBO_LAB: list[dict[str, Any]] = [
    {"iface": "eno2", "type": "eth", "mtu": 9000.0},
    {
        "iface": "vmbr1",
        "type": "bridge",
        "bridge_ports": ["eno2"],
        "cidr": "10.0.1.1/24",
        "mtu": 9000.0,
        "comments": "lab",
    },
    {
        "iface": "bond0",
        "type": "bond",
        "slaves": ["eno4", "eno3"],
        "bond_mode": "active-backup",
        "bond_primary": "eno3",
    },
    {"iface": "vmbr2", "type": "bridge", "bridge_ports": ["bond0"], "bridge_vlan_aware": True},
    {"iface": "vmbr2.50", "type": "vlan", "cidr": "10.0.50.1/24"},
]
"""A jumbo-frame bridge on eno2, a VLAN-aware bridge on an active-backup bond, a VLAN on it."""

TWO_BRIDGES: list[dict[str, Any]] = [
    {"iface": "vmbr1", "type": "bridge", "bridge_ports": ["eno2"], "cidr": "10.0.1.1/24"},
    {"iface": "vmbr2", "type": "bridge", "cidr": "10.0.2.1/24", "comments": "nat"},
]


# -- fixtures and helpers -------------------------------------------------------------------------


@pytest.fixture
def plugin(tmp_path: Path) -> Iterator[ProviderProcess]:
    """The dynamic-provider plugin, started as the engine starts it, not yet configured."""
    with provider_process(tmp_path / "provider") as process:
        yield process


@pytest.fixture
def engine(plugin: ProviderProcess, simulator: SimulatorHandle) -> ProviderProcess:
    """The plugin configured with the stack config of the test's simulator."""
    answer = plugin.configure(stack_config(simulator))
    assert answer.acceptSecrets is False  # so the engine sends plain values from now on
    return plugin


def program(interfaces: Any, node: Any = "pve1", **extra: Any) -> dict[str, Any]:
    """The inputs a program's ``NodeInterfaces(...)`` sends, ``__provider`` included.

    (The SDK drops the ``None`` placeholders of computed outputs before sending.)
    """
    return {
        PROVIDER_KEY: serialized_provider(),
        "node": node,
        "interfaces": interfaces,
        "adopt": False,
        "allow_management_change": False,
        **extra,
    }


def checked(
    engine: ProviderProcess, news: dict[str, Any], olds: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Check's inputs, failing the test on any check failure."""
    outcome = engine.check(news, olds)
    assert outcome.failures == []
    return outcome.inputs


def up(engine: ProviderProcess, news: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``pulumi up`` of a new resource: Check, then Create. The id, outputs and inputs."""
    inputs = checked(engine, news)
    id_, outputs = engine.create(inputs)
    return id_, outputs, inputs


def applies(sim: SimulatorHandle) -> int:
    """How many network reloads (``PUT /nodes/pve1/network``) the node was asked for."""
    return sim.requests.count(method="PUT", path_glob=NETWORK)


def writes(sim: SimulatorHandle) -> list[tuple[str, str]]:
    """Every staged write and apply the node received: (method, path)."""
    return [
        (e.method, e.path)
        for e in sim.requests.entries()
        if e.method != "GET" and e.path.startswith(NETWORK)
    ]


def staged_writes(sim: SimulatorHandle) -> list[tuple[str, str]]:
    """The interface writes staged on the node (applies excluded): (method, interface)."""
    return [
        (e.method, str(e.params["iface"]) if e.method == "POST" else e.path.rsplit("/", 1)[1])
        for e in sim.requests.entries()
        if (e.method == "POST" and e.path == NETWORK)
        or (e.method in ("PUT", "DELETE") and e.path.startswith(NETWORK + "/"))
    ]


def staged_file(sim: SimulatorHandle) -> str | None:
    """The node's staged ``interfaces.new`` (None when nothing is pending)."""
    return sim.files("pve1")[INTERFACES_NEW]


def live_file(sim: SimulatorHandle) -> str:
    """The node's running ``/etc/network/interfaces``."""
    text = sim.files("pve1")[INTERFACES]
    assert text is not None
    return text


def stanzas(text: str) -> list[str]:
    """The blank-line separated blocks of a rendered interfaces text."""
    return [block.strip("\n") for block in re.split(r"\n\s*\n", text) if block.strip()]


def by_name(interfaces: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """A set's interfaces by name."""
    return {str(item["iface"]): item for item in interfaces}


def node_listing(sim: SimulatorHandle) -> dict[str, dict[str, Any]]:
    """What the API lists for each interface, without its position in the file or link state."""
    listed = sim.proxmox().nodes("pve1").network.get()
    return {
        item["iface"]: {k: v for k, v in item.items() if k not in ("priority", "active")}
        for item in listed
    }


# -- check ----------------------------------------------------------------------------------------


def test_check_turns_engine_floats_into_ints_and_renders_the_file_change(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """``pulumi preview --diff`` shows ``mtu 9000`` (not 9000.0) and the stanzas Proxmox will write.

    Numbers reach the provider as floats; check coerces them, normalises lists
    whose order carries no meaning, fills defaults, and only reads the node.
    """
    simulator.requests.clear()
    inputs = checked(engine, program(JUMBO_LAB))

    rendered = inputs["rendered"]
    assert "\tmtu 9000\n" in rendered
    assert "9000.0" not in rendered
    assert "auto vmbr1\niface vmbr1 inet static\n\taddress 10.0.1.1/24\n" in rendered
    assert "\tbond-slaves eno3 eno4\n" in rendered
    assert "\tbond-primary eno3\n" in rendered
    assert "\tbridge-vlan-aware yes\n\tbridge-vids 2-4094\n" in rendered
    interfaces = by_name(inputs["interfaces"])
    assert interfaces["bond0"]["slaves"] == ["eno3", "eno4"]
    assert interfaces["vmbr1"]["mtu"] == 9000
    assert interfaces["vmbr1"]["autostart"] is True
    assert inputs["adopt"] is False
    assert inputs["allow_management_change"] is False
    assert inputs[PROVIDER_KEY] == serialized_provider()
    assert writes(simulator) == []


def test_check_failures_name_the_property_and_say_what_is_wrong(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """A bad set fails at preview, per property (``interfaces[1].bond_primary``), not as a crash."""
    simulator.requests.clear()
    outcome = engine.check(
        program(
            [
                {"iface": "vmbr1", "type": "bridge", "bridge_ports": ["eno2"], "mtu": 100.0},
                {
                    "iface": "bond0",
                    "type": "bond",
                    "slaves": ["eno3", "eno4"],
                    "bond_mode": "802.3ad",
                    "bond_primary": "eno3",
                },
            ]
        )
    )

    failures = dict(outcome.failures)
    assert set(failures) == {"interfaces[0].mtu", "interfaces[1].bond_primary"}
    assert "1280" in failures["interfaces[0].mtu"]
    assert failures["interfaces[1].bond_primary"] == (
        "pve1: bond0: bond_primary only applies to bond_mode 'active-backup' (mode is '802.3ad')"
    )
    assert writes(simulator) == []


def test_touching_the_management_bridge_fails_at_preview(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """Moving vmbr0 (the node's address) to another NIC is refused at preview, nothing written."""
    simulator.requests.clear()
    vmbr0 = {
        "iface": "vmbr0",
        "type": "bridge",
        "bridge_ports": ["eno2"],
        "cidr": "192.168.10.2/24",
        "gateway": "192.168.10.1",
    }
    outcome = engine.check(program([vmbr0], adopt=True))

    reasons = " ".join(reason for _path, reason in outcome.failures)
    assert {path for path, _reason in outcome.failures} == {"interfaces"}
    assert "vmbr0 carries the management path" in reasons
    assert "allow_management_change=True" in reasons
    assert writes(simulator) == []
    assert "bridge-ports eno1" in live_file(simulator)


# -- preview with unknown values ------------------------------------------------------------------


def test_preview_with_unknown_values_checks_and_diffs_without_failing(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """``pulumi preview`` of a set whose values come from other resources works, writing nothing.

    Unknown values arrive as ``rpc.UNKNOWN``: an unknown comment of one
    interface, or the whole list. Check passes them through; Diff reports an
    in-place change (an unknown node may move the set: a replacement).
    """
    news = program(TWO_BRIDGES)
    inputs = checked(engine, news)
    id_, outputs = engine.create(inputs)
    simulator.requests.clear()

    unknown_comment = [dict(TWO_BRIDGES[0]), {**TWO_BRIDGES[1], "comments": rpc.UNKNOWN}]
    for preview in (program(unknown_comment), program(rpc.UNKNOWN)):
        new_set = engine.check(preview)  # a create preview: no olds
        assert new_set.failures == []
        changed = engine.check(preview, olds=inputs)  # an update preview
        assert changed.failures == []
        diff = engine.diff(id_, outputs, changed.inputs, old_inputs=inputs)
        assert diff.changes == pb.DiffResponse.DIFF_SOME
        assert list(diff.replaces) == []

    checked_comment = engine.check(program(unknown_comment), olds=inputs).inputs
    assert isinstance(by_name(checked_comment["interfaces"])["vmbr2"]["comments"], Unknown)
    moved = engine.check(program(TWO_BRIDGES, node=rpc.UNKNOWN), olds=inputs)
    assert moved.failures == []
    assert "node" in engine.diff(id_, outputs, moved.inputs).replaces
    assert writes(simulator) == []


# -- diff -----------------------------------------------------------------------------------------


def test_diff_is_in_place_for_settings_and_a_replacement_for_another_node(
    engine: ProviderProcess,
) -> None:
    """An unchanged program shows no change; a new address updates in place; a new node replaces."""
    id_, outputs, inputs = up(engine, program(TWO_BRIDGES))

    same = checked(engine, program(TWO_BRIDGES), olds=inputs)
    unchanged = engine.diff(id_, outputs, same, old_inputs=inputs)
    assert unchanged.changes == pb.DiffResponse.DIFF_NONE

    readdressed = [{**TWO_BRIDGES[0], "cidr": "10.0.1.254/24"}, TWO_BRIDGES[1]]
    news = checked(engine, program(readdressed), olds=inputs)
    in_place = engine.diff(id_, outputs, news, old_inputs=inputs)
    assert in_place.changes == pb.DiffResponse.DIFF_SOME
    assert list(in_place.replaces) == []

    # Check's inputs for another node differ only in ``node`` (and Check would try to read
    # that node: this simulator has none called pve2).
    elsewhere = {**same, "node": "pve2"}
    replaced = engine.diff(id_, outputs, elsewhere, old_inputs=inputs)
    assert replaced.changes == pb.DiffResponse.DIFF_SOME
    assert list(replaced.replaces) == ["node"]


# -- create / read / update / delete --------------------------------------------------------------


def test_create_applies_the_whole_set_once_and_the_node_file_has_its_stanzas(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """``pulumi up`` of a new set: one reload, and the file holds exactly what preview rendered."""
    simulator.requests.clear()
    id_, outputs, inputs = up(engine, program(JUMBO_LAB))

    assert applies(simulator) == 1
    assert staged_file(simulator) is None
    text = live_file(simulator)
    for block in stanzas(inputs["rendered"]):
        assert block + "\n" in text
    assert id_.startswith("pve1/bond0+eno2+vmbr1+vmbr2+vmbr2.50#")
    assert outputs["interfaces"] == inputs["interfaces"]
    assert outputs["live"]["vmbr1"]["cidr"] == "10.0.1.1/24"
    assert outputs["live"]["eno2"]["mtu"] == 9000
    assert outputs[PROVIDER_KEY] == inputs[PROVIDER_KEY]


def test_refresh_shows_an_out_of_band_change_and_the_next_up_repairs_it(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """Someone re-addresses vmbr1 in the GUI: refresh shows it, and ``pulumi up`` puts it back."""
    id_, outputs, inputs = up(engine, program(TWO_BRIDGES))
    network = simulator.proxmox().nodes("pve1").network
    network("vmbr1").put(type="bridge", bridge_ports="eno2", cidr="10.0.1.9/24")
    network.put()

    refreshed = engine.read(id_, outputs, inputs)
    assert refreshed.id == id_
    assert by_name(refreshed.outputs["interfaces"])["vmbr1"]["cidr"] == "10.0.1.9/24"
    assert refreshed.inputs is not None
    assert by_name(refreshed.inputs["interfaces"])["vmbr1"]["cidr"] == "10.0.1.9/24"

    simulator.requests.clear()
    news = checked(engine, program(TWO_BRIDGES), olds=refreshed.inputs)
    diff = engine.diff(id_, refreshed.outputs, news, old_inputs=refreshed.inputs)
    assert diff.changes == pb.DiffResponse.DIFF_SOME
    repaired = engine.update(id_, refreshed.outputs, news, old_inputs=refreshed.inputs)
    assert applies(simulator) == 1
    assert "\taddress 10.0.1.1/24\n" in live_file(simulator)
    assert "10.0.1.9" not in live_file(simulator)
    assert repaired["live"]["vmbr1"]["cidr"] == "10.0.1.1/24"


def test_refresh_drops_an_interface_deleted_out_of_band(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """An interface deleted on the node disappears from the set's state on refresh."""
    id_, outputs, inputs = up(engine, program(TWO_BRIDGES))
    network = simulator.proxmox().nodes("pve1").network
    network("vmbr2").delete()
    network.put()

    refreshed = engine.read(id_, outputs, inputs)
    assert refreshed.id == id_
    assert [i["iface"] for i in refreshed.outputs["interfaces"]] == ["vmbr1"]
    assert refreshed.inputs is not None
    assert [i["iface"] for i in refreshed.inputs["interfaces"]] == ["vmbr1"]


def test_update_changes_the_set_with_one_apply_and_stages_only_what_changed(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """Re-addressing one bridge, dropping one and adding one is one reload; the rest is untouched.

    The engine's update: Check(old inputs, program), Diff and Update with the
    previous outputs.
    """
    first = [*TWO_BRIDGES, {"iface": "vmbr3", "type": "bridge", "bridge_ports": ["eno3"]}]
    id_, outputs, inputs = up(engine, program(first))
    simulator.requests.clear()

    second = [
        {**TWO_BRIDGES[0], "cidr": "10.0.1.254/24"},
        TWO_BRIDGES[1],
        {"iface": "vmbr4", "type": "bridge", "bridge_ports": ["eno4"], "mtu": 1500.0},
    ]
    news = checked(engine, program(second), olds=inputs)
    assert engine.diff(id_, outputs, news, old_inputs=inputs).changes == pb.DiffResponse.DIFF_SOME
    updated = engine.update(id_, outputs, news, old_inputs=inputs)

    assert applies(simulator) == 1
    assert sorted(staged_writes(simulator)) == [
        ("DELETE", "vmbr3"),
        ("POST", "vmbr4"),
        ("PUT", "vmbr1"),
    ]
    text = live_file(simulator)
    assert "\taddress 10.0.1.254/24\n" in text
    assert "vmbr3" not in text
    assert "auto vmbr4\niface vmbr4 inet manual\n\tbridge-ports eno4\n" in text
    assert "\taddress 10.0.2.1/24\n" in text
    assert [i["iface"] for i in updated["interfaces"]] == ["vmbr1", "vmbr2", "vmbr4"]
    assert set(updated["live"]) == {"vmbr1", "vmbr2", "vmbr4"}


def test_delete_removes_the_created_interfaces_and_puts_the_nics_back(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """``pulumi destroy`` removes the set with one reload and puts the adopted eno2 back.

    eno3 and eno4 keep the ``auto`` line Proxmox's writer gave them as bond
    slaves (as a GUI delete of the bond leaves them); nothing else changes.
    """
    before = node_listing(simulator)
    id_, outputs, _inputs = up(engine, program(JUMBO_LAB))
    simulator.requests.clear()

    engine.delete(id_, outputs)

    assert applies(simulator) == 1
    assert staged_file(simulator) is None
    text = live_file(simulator)
    for name in ("vmbr1", "vmbr2", "bond0", "vmbr2.50", "mtu 9000"):
        assert name not in text
    assert "\niface eno2 inet manual\n\n" in text
    assert "auto eno2" not in text
    after = node_listing(simulator)
    assert set(after) == set(before)
    for name in ("eno1", "eno2", "vmbr0"):
        assert after[name] == before[name]


# -- errors the operator sees ---------------------------------------------------------------------


def test_someone_elses_staged_change_blocks_create_with_the_diff(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """A pending GUI edit makes ``pulumi up`` fail, showing that edit, and stages nothing."""
    simulator.proxmox().nodes("pve1").network.post(iface="vmbr9", type="bridge")
    foreign = staged_file(simulator)
    before = live_file(simulator)
    inputs = checked(engine, program(TWO_BRIDGES))
    simulator.requests.clear()

    with pytest.raises(grpc.RpcError) as raised:
        engine.create(inputs)

    error: Any = raised.value
    assert error.code() == grpc.StatusCode.UNKNOWN
    details = error.details()
    assert "pve1: the node has staged network changes that pvenet did not make" in details
    assert "+iface vmbr9 inet manual" in details
    assert writes(simulator) == []
    assert staged_file(simulator) == foreign
    assert live_file(simulator) == before


def test_without_connection_settings_preview_validates_and_up_says_what_to_set(
    plugin: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """With no ``pvenet:*`` config, check validates offline; create names the missing setting."""
    plugin.configure({})
    inputs = checked(plugin, program(TWO_BRIDGES))

    with pytest.raises(grpc.RpcError) as raised:
        plugin.create(inputs)

    error: Any = raised.value
    assert "pulumi config set pvenet:endpoint" in error.details()
    assert simulator.requests.entries() == []


# -- secrets --------------------------------------------------------------------------------------


def test_the_api_token_appears_nowhere_in_state_outputs_logs_or_the_request_log(
    engine: ProviderProcess, simulator: SimulatorHandle
) -> None:
    """The token from ``pulumi config set --secret`` never reaches state, outputs or any log.

    Checked: the ``__provider`` stored in state (and its decoded pickle), every
    response of Check, Diff, Create, Read and Update, an error's details, the
    plugin's stdout and stderr, and the node's request log on disk.
    """
    secrets = [simulator.token, simulator.token_value]
    id_, outputs, inputs = up(engine, program(TWO_BRIDGES))
    refreshed = engine.read(id_, outputs, inputs)
    assert refreshed.inputs is not None
    news = checked(engine, program([TWO_BRIDGES[0]]), olds=refreshed.inputs)
    engine.diff(id_, refreshed.outputs, news, old_inputs=refreshed.inputs)
    outputs = engine.update(id_, refreshed.outputs, news, old_inputs=refreshed.inputs)
    engine.check(program(TWO_BRIDGES, node="pve2"))  # the guard cannot read pve2: a warning
    taken = checked(engine, program([{**TWO_BRIDGES[0], "comments": "another set's"}]))
    with pytest.raises(grpc.RpcError) as raised:  # vmbr1 is taken: refused, with a traceback
        engine.create(taken, name="other")
    engine.delete(id_, outputs)
    error: Any = raised.value

    provider = serialized_provider()
    seen = {
        "__provider": provider.encode(),
        "__provider, decoded": base64.b64decode(provider),
        "error details": error.details().encode(),
        "plugin stdout/stderr": engine.output().encode(),
        "requests.jsonl": (simulator.state_dir / "requests.jsonl").read_bytes(),
    }
    for index, response in enumerate(engine.responses):
        kind = type(response).__name__
        seen[f"response {index} ({kind})"] = response.SerializeToString()
        seen[f"response {index} ({kind}), text"] = str(response).encode()
    assert len(engine.responses) >= 9
    assert applies(simulator) == 3  # create, update, delete all ran
    assert "vmbr1 already exist" in error.details()
    assert "could not read the node to check at preview" in engine.output()  # stderr is captured
    leaks = [where for where, data in seen.items() for s in secrets if s.encode() in data]
    assert leaks == []


def test_a_provider_pickled_after_configure_carries_no_secret(simulator: SimulatorHandle) -> None:
    """State written after the provider was configured holds the same secret-free provider."""
    provider = configured(simulator)
    pickled = dill.dumps(provider, recurse=True)
    as_state, contains_secrets = _serialize(True, serialize_provider, provider)

    for secret in (simulator.token, simulator.token_value):
        assert secret.encode() not in pickled
        assert secret.encode() not in base64.b64decode(as_state)
    assert contains_secrets is False
    assert as_state == serialized_provider()


def test_providers_pickled_under_their_old_module_still_load() -> None:
    """State written before the layers became folders names the providers by their old
    module; those names still give the same classes."""
    from provider import resources, sdn_resource  # noqa: PLC0415 - the old names themselves
    from provider.node.resource import NodeInterfacesProvider  # noqa: PLC0415
    from provider.sdn.resource import SdnNetworkProvider  # noqa: PLC0415

    for old_module, name, cls in (
        (b"provider.resources", b"NodeInterfacesProvider", NodeInterfacesProvider),
        (b"provider.sdn_resource", b"SdnNetworkProvider", SdnNetworkProvider),
    ):
        # GLOBAL module name, NEWOBJ with no arguments, BUILD with an empty state: how a
        # provider pickled by reference starts
        old = b"c" + old_module + b"\n" + name + b"\n)\x81}b."
        assert type(dill.loads(old)) is cls
    assert resources.NodeInterfacesProvider is NodeInterfacesProvider
    assert sdn_resource.SdnNetworkProvider is SdnNetworkProvider
