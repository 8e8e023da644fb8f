"""Kernel tier: the simulator's files applied by Debian's ifupdown2 in network namespaces."""
