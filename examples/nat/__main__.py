"""NAT mode: private guests reach out through the host's own address (SNAT), with DHCP, and
one port forward in from outside.

An SDN Simple zone ``labnat`` with the vnet ``labnet``: the host is 10.10.10.1, DHCP hands
out 10.10.10.100 to 10.10.10.200, and traffic leaves with the host's address. Port 8080 of
pve1 reaches port 80 of the guest 10.10.10.5 (a host rule on pve1, written over SSH); with
hairpin, the lab's own guests reach it at pve1's address and port 8080 too.
"""

import pulumi

from components import NatGateway

lab = NatGateway(
    "lab",
    zone="labnat",
    vnet="labnet",
    cidr="10.10.10.1/24",
    dhcp_range=("10.10.10.100", "10.10.10.200"),
    dns_server="10.10.10.1",
    forwards=[
        {
            "node": "pve1",
            "protocol": "tcp",
            "port": 8080,
            "to": "10.10.10.5",
            "to_port": 80,
            "comment": "lab web server",
        }
    ],
    hairpin=True,
    uplink="vmbr0",
)

pulumi.export("attach", lab.attach)
pulumi.export("gateway", lab.gateway)
pulumi.export("cidr", lab.cidr)
