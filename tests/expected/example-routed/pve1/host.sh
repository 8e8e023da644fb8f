#!/bin/sh
# Written by pvenet (host rules): do not edit, `pulumi up` writes it again.
# Per-interface settings and routes of pvenet's host rules; with an interface name,
# only that interface's (pvenet-rules.service at boot, /etc/network/if-up.d/pvenet).
only="$1"
if [ -z "$only" ] || [ "$only" = vmbr0 ]; then
	sysctl -qw net.ipv4.conf.vmbr0.proxy_arp=1
fi
if [ -z "$only" ] || [ "$only" = vmbr6 ]; then
	ip route replace 192.168.10.50/32 dev vmbr6
	ip route replace 192.168.10.51/32 dev vmbr6
fi
