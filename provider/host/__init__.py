"""Host rules: ``HostRules`` (forwards, masquerade, forwarding, proxy_arp, routes), over SSH.

Pure (no I/O): ``model`` (the desired rules, validated), ``render`` (the files on the node,
and reading them back), ``plan`` (what one change does, what the node puts back, drift).
At the edge: ``settings`` (``pvenet:ssh``), ``ssh`` (the SSH transport, the only module
besides ``provider.api`` that talks to the network), ``confirm`` (the confirm-or-revert
timer, for host rules and node network changes), ``transaction`` (one change: read, check,
back up, arm, install, verify, confirm), ``resource`` (the Pulumi dynamic resource).
``docs/host-rules.md`` is the contract with the node.
"""
