"""A home lab node with every mode: a bond for the guests' uplink, a storage VLAN, a DMZ
bridge, a routed public block and a NAT lab network with DHCP.

vmbr0 (the installer's bridge on eno1, the node's management address) is left alone.
"""

import pulumi

from components import BondedUplink, BridgedNetwork, NatGateway, RoutedSubnet, VlanNetwork

NODE = "pve1"

# eno2 + eno3: failover without switch support, under a VLAN-aware bridge for guests.
uplink = BondedUplink(
    "uplink",
    node=NODE,
    bond="bond0",
    slaves=["eno2", "eno3"],
    mode="active-backup",
    primary="eno2",
    bridge="vmbr1",
    vlan_aware=True,
    vids=[10, 20, "100-199"],
)

# The host's own address in VLAN 20 on that bridge (created after it, deleted before it).
storage = VlanNetwork(
    "storage", node=uplink.node, parent=uplink.attach, vlan_id=20, cidr="10.20.0.2/24"
)

# eno4: a separate LAN for the DMZ; the host has no address there. Declared after the VLAN:
# the node applies one set at a time, and created in this order on every run its file keeps
# the order `render` shows.
dmz = BridgedNetwork(
    "dmz",
    node=NODE,
    bridge="vmbr2",
    ports=["eno4"],
    comments="DMZ switch",
    opts=pulumi.ResourceOptions(depends_on=[storage]),
)

# A public /28 the provider routes to the host; guests use its addresses directly.
public = RoutedSubnet("public", zone="pubrt", vnet="pubnet", cidr="203.0.113.17/28")

# Private lab guests get addresses by DHCP and reach out through the host's address.
lab = NatGateway(
    "lab",
    zone="labnat",
    vnet="labnet",
    cidr="10.10.10.1/24",
    dhcp_range=("10.10.10.100", "10.10.10.200"),
    dns_server="10.10.10.1",
)

for name, network in {
    "uplink": uplink,
    "storage": storage,
    "dmz": dmz,
    "public": public,
    "lab": lab,
}.items():
    pulumi.export(
        name, {"attach": network.attach, "gateway": network.gateway, "cidr": network.cidr}
    )
