"""Routed mode: a public block routed to the host; guests keep their real addresses.

An SDN Simple zone ``pubrt`` with the vnet ``pubnet``: the host takes 203.0.113.17 (the
gateway of 203.0.113.16/28) and forwards. Your provider must route the block to the host.
"""

import pulumi

from components import RoutedSubnet

public = RoutedSubnet("public", zone="pubrt", vnet="pubnet", cidr="203.0.113.17/28")

pulumi.export("attach", public.attach)
pulumi.export("gateway", public.gateway)
pulumi.export("cidr", public.cidr)
