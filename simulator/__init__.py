"""A faithful, stateful Proxmox VE API simulator: the dev endpoint and the test double."""
