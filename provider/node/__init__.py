"""A node's interfaces: ``NodeInterfaces`` and what it is made of, layer by layer.

Pure (no I/O): ``model`` (the desired interfaces, validated), ``dialect`` (Proxmox's
``/etc/network/interfaces`` reader and writer), ``plan`` (the order of staged writes),
``verify`` (desired against observed), ``guard`` (the lockout and DHCP guards), ``wire``
(the API's names and formats). At the edge: ``client`` (the node's network calls),
``transaction`` (one change: stage, check, apply, verify, roll back), ``resource`` (the
Pulumi dynamic resource and its provider).
"""
