"""Onboarding a running node: the stack that describes what it has, and what it cannot say.

``python -m components.adopt`` reads a node (through the API, or offline from a copy of
its ``/etc/network/interfaces``) and writes the ``pvenet:networks`` of a stack whose
first ``up`` changes nothing on the node: every bridge, bond and VLAN it takes over is
``adopt``-ed exactly as the node runs it. What pvenet cannot express (``inet dhcp``,
Open vSwitch, unknown types, options it does not model) is reported line by line and
left on the node as it is; hook lines that host rules can express (masquerade, port
forwards, ``ip_forward``, ``proxy_arp``, routes) are mapped to them, with the steps to
move them out of the file.

- ``components.adopt.lines``: where each line of the file belongs (pure);
- ``components.adopt.hooks``: hook commands as host rules (pure);
- ``components.adopt.networks``: a node's interfaces as the stack's networks (pure);
- ``components.adopt.sdn``: the cluster's SDN Simple zones as routed and NAT networks (pure);
- ``components.adopt.proof``: each proposed network checked the way ``up`` will run it;
- ``components.adopt.document``: the stack config and the report, as text;
- ``components.adopt.__main__``: the command line (reads nodes or files, writes a stack).
"""
