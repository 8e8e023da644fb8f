"""The SDN objects of one network, the writes between two states of them, and verification (pure).

``SdnState`` is what matters of one zone, its vnet and the vnet's subnets,
whether desired (``desired_state``), read from the pending config, or read
from the running config. ``plan`` orders the writes that turn one state into
another so that pve-network accepts every one of them:

- the zone before the vnet that names it, the vnet before its subnets;
- subnets deleted last, so a failed write leaves as little as possible to
  roll back (a subnet delete also drops it from the PVE IPAM, which a
  pending-config rollback does not restore);
- when the zone's IPAM changes, its subnets are deleted first and created
  again afterwards (pve-network refuses an IPAM change while subnets exist);
- removal in dependency order: subnets, vnet, zone.

``verify`` compares a state read back after an apply with the desired one
and names every difference by a dotted path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from provider.problems import Mismatch as Mismatch  # noqa: PLC0414 (re-exported: what verify returns)
from provider.problems import differences
from provider.sdn.model import SdnSpec, SubnetSpec, canonical

IPAM = "pve"  # the built-in IPAM: the GUI's default for a new zone, and what DHCP allocates from
DHCP = "dnsmasq"  # the only DHCP backend pve-network has


@dataclass(frozen=True)
class ZoneState:
    """A Simple zone's settings; ``nodes`` None = every node."""

    nodes: tuple[str, ...] | None = None
    mtu: int | None = None
    ipam: str | None = None
    dhcp: str | None = None


@dataclass(frozen=True)
class VnetState:
    """A vnet's settings."""

    zone: str
    alias: str | None = None


@dataclass(frozen=True)
class SubnetState:
    """A subnet's settings; ``dhcp_ranges`` as (start, end) pairs in order."""

    gateway: str | None = None
    snat: bool = False
    dhcp_ranges: tuple[tuple[str, str], ...] = ()
    dns_server: str | None = None


@dataclass(frozen=True)
class SdnState:
    """One zone, one vnet and the vnet's subnets by CIDR; None = absent."""

    zone: ZoneState | None = None
    vnet: VnetState | None = None
    subnets: Mapping[str, SubnetState] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        """Whether none of the objects exists."""
        return self.zone is None and self.vnet is None and not self.subnets


Kind = Literal["zone", "vnet", "subnet"]
Action = Literal["create", "update", "delete"]
ObjectState = ZoneState | VnetState | SubnetState


@dataclass(frozen=True)
class SdnStep:
    """One write: ``key`` is the zone id, the vnet id or the subnet's CIDR."""

    action: Action
    kind: Kind
    key: str
    target: ObjectState | None = None
    before: ObjectState | None = None

    def __str__(self) -> str:
        return f"{self.action} {self.kind} {self.key}"


def step_done(step: SdnStep, state: SdnState) -> bool:
    """Whether ``state`` (the pending config) already shows what ``step`` writes."""
    if step.kind == "zone":
        return state.zone == step.target
    if step.kind == "vnet":
        return state.vnet == step.target
    return state.subnets.get(step.key) == step.target


def subnet_state(subnet: SubnetSpec) -> SubnetState:
    """What pve-network stores for one desired subnet."""
    return SubnetState(
        gateway=subnet.gateway,
        snat=subnet.snat,
        dhcp_ranges=tuple((r.start, r.end) for r in subnet.dhcp_ranges),
        dns_server=subnet.dns_server,
    )


def desired_state(spec: SdnSpec) -> SdnState:
    """The objects a spec asks for.

    The zone always uses the built-in IPAM ``pve`` (the GUI's default), and
    runs dnsmasq DHCP (``dhcp=dnsmasq``) when any subnet has a DHCP range:
    pve-network hands out addresses only in such a zone, from its IPAM.
    """
    spec = canonical(spec)
    zone = ZoneState(
        nodes=tuple(spec.nodes) if spec.nodes is not None else None,
        mtu=spec.mtu,
        ipam=IPAM,
        dhcp=DHCP if spec.dhcp else None,
    )
    vnet = VnetState(zone=spec.zone, alias=spec.alias)
    subnets = {subnet.cidr: subnet_state(subnet) for subnet in spec.subnets}
    return SdnState(zone, vnet, subnets)


def plan(zone: str, vnet: str, current: SdnState, desired: SdnState) -> list[SdnStep]:
    """The writes that turn ``current`` into ``desired``, in an order the server accepts."""
    if desired.empty:
        return _removal(zone, vnet, current)
    steps: list[SdnStep] = []
    recreate = (
        current.zone is not None
        and desired.zone is not None
        and current.zone.ipam != desired.zone.ipam
        and bool(current.subnets)
    )
    if recreate:
        steps += [
            SdnStep("delete", "subnet", c, None, s) for c, s in sorted(current.subnets.items())
        ]
        current = SdnState(current.zone, current.vnet, {})
    steps += _object_step("zone", zone, current.zone, desired.zone)
    steps += _object_step("vnet", vnet, current.vnet, desired.vnet)
    for cidr in sorted(desired.subnets):
        steps += _object_step("subnet", cidr, current.subnets.get(cidr), desired.subnets[cidr])
    for cidr in sorted(set(current.subnets) - set(desired.subnets)):
        steps.append(SdnStep("delete", "subnet", cidr, None, current.subnets[cidr]))
    return steps


def _object_step(
    kind: Kind, key: str, current: ObjectState | None, desired: ObjectState | None
) -> list[SdnStep]:
    if desired is None:
        return [] if current is None else [SdnStep("delete", kind, key, None, current)]
    if current is None:
        return [SdnStep("create", kind, key, desired, None)]
    if current != desired:
        return [SdnStep("update", kind, key, desired, current)]
    return []


def _removal(zone: str, vnet: str, current: SdnState) -> list[SdnStep]:
    steps = [SdnStep("delete", "subnet", c, None, s) for c, s in sorted(current.subnets.items())]
    if current.vnet is not None:
        steps.append(SdnStep("delete", "vnet", vnet, None, current.vnet))
    if current.zone is not None:
        steps.append(SdnStep("delete", "zone", zone, None, current.zone))
    return steps


def _fields(value: ObjectState | None) -> dict[str, object] | None:
    return None if value is None else dict(value.__dict__)


def verify(zone: str, vnet: str, desired: SdnState, observed: SdnState) -> list[Mismatch]:
    """Differences between ``desired`` and ``observed``, as ``zone <id>.mtu``-style paths."""
    found = differences(f"zone {zone}", _fields(desired.zone), _fields(observed.zone))
    found += differences(f"vnet {vnet}", _fields(desired.vnet), _fields(observed.vnet))
    for cidr in sorted(set(desired.subnets) | set(observed.subnets)):
        wanted, running = desired.subnets.get(cidr), observed.subnets.get(cidr)
        found += differences(f"subnet {cidr}", _fields(wanted), _fields(running))
    return found
