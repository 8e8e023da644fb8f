"""Bond mode: eno2 and eno3 as one 802.3ad (LACP) link, with the bridge vmbr1 on top.

LACP needs the switch: its ports for eno2 and eno3 must form one LACP group. Without that,
use ``mode="active-backup"``, which needs nothing from the switch.
"""

import pulumi

from components import BondedUplink

uplink = BondedUplink(
    "uplink",
    node="pve1",
    bond="bond0",
    slaves=["eno2", "eno3"],
    mode="802.3ad",
    hash_policy="layer3+4",
    bridge="vmbr1",
    cidr="10.1.0.2/24",
)

pulumi.export("attach", uplink.attach)
pulumi.export("gateway", uplink.gateway)
pulumi.export("cidr", uplink.cidr)
