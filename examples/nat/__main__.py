"""NAT mode: private guests reach out through the host's own address (SNAT), with DHCP.

An SDN Simple zone ``labnat`` with the vnet ``labnet``: the host is 10.10.10.1, DHCP hands
out 10.10.10.100 to 10.10.10.200, and traffic leaves with the host's address.
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
)

pulumi.export("attach", lab.attach)
pulumi.export("gateway", lab.gateway)
pulumi.export("cidr", lab.cidr)
