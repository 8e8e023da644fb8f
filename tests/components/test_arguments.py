"""Each component's argument model is its one declaration: signature, docs, checks, stack config.

The model (``components.arguments``) names every keyword argument with its
type, default and meaning; these tests hold the places that read it to it:
the constructor's signature, the class docstring, the shape check the
constructor runs, and the stack schema's entry for the component's mode.
"""

from __future__ import annotations

import inspect
from typing import Any

import pulumi
import pytest

from components import BondedUplink, BridgedNetwork, NatGateway, RoutedSubnet, VlanNetwork
from components.arguments import Component
from components.errors import InvalidArguments
from components.stack import COMPONENTS
from components.stack_schema import ENTRY_MODELS, parse_networks
from tests.components.mocks import RecordingMocks, unknown_output

ALL: list[type[Component]] = [BridgedNetwork, BondedUplink, VlanNetwork, RoutedSubnet, NatGateway]


@pytest.mark.parametrize("component", ALL, ids=lambda c: c.__name__)
def test_the_docstring_lists_every_argument_with_its_default_and_meaning(
    component: type[Component],
) -> None:
    """Generated from the model, so an argument cannot be left out or documented wrong."""
    doc = " ".join((component.__doc__ or "").split())
    for key, field in component.Args.model_fields.items():
        default = "required" if field.is_required() else f"default ``{field.get_default()!r}``"
        assert field.description, f"{component.__name__}.{key} has no description"
        description = " ".join(field.description.split())
        assert f"- ``{key}`` ({default}): {description}" in doc


@pytest.mark.parametrize("component", ALL, ids=lambda c: c.__name__)
def test_the_signature_is_name_then_the_models_fields_then_opts(
    component: type[Component],
) -> None:
    """``inspect.signature`` (and so ``help()`` and editors that ask) shows the model."""
    parameters = inspect.signature(component).parameters
    fields = component.Args.model_fields
    assert list(parameters) == ["name", *fields, "opts"]
    for key, field in fields.items():
        wanted = inspect.Parameter.empty if field.is_required() else field.get_default()
        assert parameters[key].default == wanted, key
        assert parameters[key].kind is inspect.Parameter.KEYWORD_ONLY


@pytest.mark.parametrize("mode", list(ENTRY_MODELS))
def test_a_stack_entry_is_a_name_and_its_components_argument_model(mode: str) -> None:
    """A field added to a model is a key of ``pvenet:networks`` with nothing else to change."""
    entry, component = ENTRY_MODELS[mode], COMPONENTS[mode]
    assert isinstance(component, type)
    assert issubclass(component, Component)
    assert issubclass(entry, component.Args)
    assert list(entry.model_fields) == ["name", *component.Args.model_fields]


def test_an_argument_the_component_does_not_take_or_one_left_out_is_a_type_error() -> None:
    """As Python says it for any call; the stack schema reports these before components run."""
    with pytest.raises(TypeError, match=r"^BridgedNetwork\(\) got an unexpected keyword .*'nod'"):
        BridgedNetwork.validate("x", nod="pve1", bridge="vmbr2")
    with pytest.raises(TypeError, match=r"^NatGateway\(\) missing a required keyword .*'vnet'"):
        NatGateway.validate("x", zone="labnat")


BAD_SHAPES: list[tuple[str, type[Component], dict[str, Any], list[tuple[str, str]]]] = [
    (
        "node-name",
        BridgedNetwork,
        {"node": "pve 1", "bridge": "vmbr2"},
        [("node", "'pve 1' is not a Proxmox node name (letters, digits and '-')")],
    ),
    (
        "flag-as-text",
        BridgedNetwork,
        {"node": "pve1", "bridge": "vmbr2", "adopt": "yes"},
        [("adopt", "Input should be a valid boolean (got 'yes')")],
    ),
    (
        "required-as-none",
        VlanNetwork,
        {"node": "pve1", "parent": None, "vlan_id": 20},
        [("parent", "Input should be a valid string (got None)")],
    ),
    (
        "a-bad-vlan-id-alone",  # not also a bad default name 'vmbr0.True' blamed on parent
        VlanNetwork,
        {"node": "pve1", "parent": "vmbr0", "vlan_id": True},
        [("vlan_id", "True is not a whole number")],
    ),
    (
        "dhcp-range-ends",
        NatGateway,
        {"zone": "labnat", "vnet": "labnet", "dhcp_range": ["x", 5]},
        [
            ("dhcp_range.start", "'x' is not an IP address"),
            ("dhcp_range.end", "Input should be a valid string (got 5)"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("component", "arguments", "problems"),
    [case[1:] for case in BAD_SHAPES],
    ids=[case[0] for case in BAD_SHAPES],
)
def test_a_value_that_does_not_fit_its_field_is_refused_naming_the_argument(
    component: type[Component], arguments: dict[str, Any], problems: list[tuple[str, str]]
) -> None:
    """The model's check: every argument that does not fit, each alone (no follow-on problems)."""
    with pytest.raises(InvalidArguments) as raised:
        component.validate("x", **arguments)
    assert [(p.argument, p.reason()) for p in raised.value.problems] == problems


def test_a_dhcp_range_from_a_stack_entry_or_outputs_reaches_the_subnet() -> None:
    """One model: the pair a stack file gives is what the component takes, as the stack passes
    it on; a pair of Outputs is checked and used once it resolves."""
    mocks = RecordingMocks().install()
    networks = parse_networks(
        {
            "nat": [
                {
                    "name": "lab",
                    "zone": "labnat",
                    "vnet": "labnet",
                    "dhcp_range": ["10.10.10.100", "10.10.10.200"],
                }
            ]
        }
    )
    [(_mode, _where, entry)] = networks.entries()

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        NatGateway(entry.name, **entry.arguments())
        late = NatGateway(
            "late",
            zone="latenat",
            vnet="latenet",
            dhcp_range=(pulumi.Output.from_input("10.10.10.100"), "10.10.10.200"),
        )
        return late.cidr

    program()
    wanted = [{"start": "10.10.10.100", "end": "10.10.10.200"}]
    for name in ("lab-sdn", "late-sdn"):
        assert mocks.named(name).inputs["subnets"][0]["dhcp_ranges"] == wanted


def test_an_unknown_argument_is_not_checked_before_it_resolves() -> None:
    """At preview an unknown node name or flag waits; the known arguments are still checked."""
    mocks = RecordingMocks(preview=True).install()

    @pulumi.runtime.test
    def program() -> None:
        BridgedNetwork("ok", node=unknown_output(), bridge="vmbr2", adopt=unknown_output())
        with pytest.raises(InvalidArguments, match=r"^BridgedNetwork 'x': vlan_aware: Input"):
            BridgedNetwork("x", node=unknown_output(), bridge="vmbr2", vlan_aware="yes")

    program()
    assert [a.name for a in mocks.seen] == ["ok", "ok-interfaces"]
