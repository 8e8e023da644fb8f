"""SDN networks: ``SdnNetwork`` (a Simple zone, its vnet and subnets), layer by layer.

Pure (no I/O): ``model`` (the desired network, validated), ``plan`` (the writes, and
verification), ``render`` (the stanza pve-network writes), ``wire`` (the API's names and
formats). At the edge: ``client`` (the ``/cluster/sdn`` calls), ``transaction`` (one change:
lock, write, apply, verify, restore), ``resource`` (the Pulumi dynamic resource).
"""
