"""Bridged mode: a second Linux bridge, vmbr1 on the spare NIC eno2; guests sit on that LAN.

The host takes 192.168.20.2 on the bridge (no gateway: vmbr0 keeps the default route).
The bridge is VLAN-aware, so a guest can be put in VLAN 10 or 20 with a tag on its NIC.
"""

import pulumi

from components import BridgedNetwork

lan = BridgedNetwork(
    "lan",
    node="pve1",
    bridge="vmbr1",
    ports=["eno2"],
    cidr="192.168.20.2/24",
    vlan_aware=True,
    vids=[10, 20],
    comments="second LAN",
)

pulumi.export("attach", lan.attach)
pulumi.export("gateway", lan.gateway)
pulumi.export("cidr", lan.cidr)
