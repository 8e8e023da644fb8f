"""Routed mode, both ways: a public block routed to the host through an SDN zone, and single
extra addresses through a plain bridge (the admin guide's classic routed setup).

- ``public``: the SDN Simple zone ``pubrt`` with the vnet ``pubnet``; the host takes
  203.0.113.17 (the gateway of 203.0.113.16/28) and forwards. Your provider must route the
  block to the host.
- ``extra``: the provider hands out single addresses on the uplink's network
  (192.168.10.50 and .51 here). vmbr0 keeps the node's address and answers ARP for them
  (proxy_arp); the bridge vmbr6, with no ports, carries the node's address as a /32 for the
  guests, and each guest address is routed to it (host rules on pve1, over SSH).
"""

import pulumi

from components import RoutedBridge, RoutedSubnet

public = RoutedSubnet("public", zone="pubrt", vnet="pubnet", cidr="203.0.113.17/28")

extra = RoutedBridge(
    "extra",
    node="pve1",
    bridge="vmbr6",
    uplink="vmbr0",
    cidr="192.168.10.2/32",
    addresses=["192.168.10.50", "192.168.10.51"],
    comments="guests with their own addresses",
)

for name, network in {"public": public, "extra": extra}.items():
    pulumi.export(
        name, {"attach": network.attach, "gateway": network.gateway, "cidr": network.cidr}
    )
