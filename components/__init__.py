"""pvenet's component resources, in the words of the Proxmox admin guide.

- :class:`BridgedNetwork`: a bridge with physical ports; guests sit on the LAN (the default).
- :class:`BondedUplink`: a bond (802.3ad/LACP, active-backup, ...), optionally with a bridge.
- :class:`VlanNetwork`: a host VLAN interface on a bridge or bond.
- :class:`RoutedSubnet`: a public block routed to guests through an SDN zone (no SNAT).
- :class:`NatGateway`: a private guest network leaving through the host's address (SNAT).

Each owns one atomic set (node interfaces, or an SDN zone with its vnet) that
changes with one apply, and outputs ``attach``, ``gateway`` and ``cidr`` under
the same names.
"""

from components.node import BondedUplink, BridgedNetwork, VlanNetwork
from components.sdn import NatGateway, RoutedSubnet

__all__ = ["BondedUplink", "BridgedNetwork", "NatGateway", "RoutedSubnet", "VlanNetwork"]
