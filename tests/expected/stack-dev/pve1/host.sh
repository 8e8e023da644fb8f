#!/bin/sh
# Written by pvenet (host rules): do not edit, `pulumi up` writes it again.
# Per-interface settings and routes of pvenet's host rules; with an interface name,
# only that interface's (pvenet-rules.service at boot, /etc/network/if-up.d/pvenet).
only="$1"
