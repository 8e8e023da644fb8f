"""Every example program end to end, and ``render`` of the homelab example."""
