"""pvenet's component resources, in the words of the Proxmox admin guide.

- :class:`BridgedNetwork`: a bridge with physical ports; guests sit on the LAN (the default).
- :class:`BondedUplink`: a bond (802.3ad/LACP, active-backup, ...), optionally with a bridge.
- :class:`VlanNetwork`: a host VLAN interface on a bridge or bond.
- :class:`RoutedSubnet`: a public block routed to guests through an SDN zone (no SNAT).
- :class:`NatGateway`: a private guest network leaving through the host's address (SNAT),
  with port forwards into it.
- :class:`MasqueradeBridge`: the same NAT on a plain bridge, without SDN (host rules).
- :class:`RoutedBridge`: guests' extra addresses routed through the host, ``proxy_arp`` on
  the uplink (host rules).

Each owns one atomic set (node interfaces, or an SDN zone with its vnet) that
changes with one apply, plus the host rules it needs on a node (over SSH, see
``docs/host-rules.md``), and outputs ``attach``, ``gateway`` and ``cidr`` under
the same names.
"""

from components.classic import MasqueradeBridge, RoutedBridge
from components.node import BondedUplink, BridgedNetwork, VlanNetwork
from components.sdn import NatGateway, RoutedSubnet

__all__ = [
    "BondedUplink",
    "BridgedNetwork",
    "MasqueradeBridge",
    "NatGateway",
    "RoutedBridge",
    "RoutedSubnet",
    "VlanNetwork",
]
