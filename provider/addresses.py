"""IP addresses as pvenet takes them: plain addresses, usable by a host (pure).

Python's ``ipaddress`` accepts more than Proxmox and ifupdown2 can use: an
IPv6 scope id (``fe80::1%eth0``) parses, and so do multicast, loopback and
unspecified addresses, or a subnet's own network and broadcast addresses
given as a host's. Each of those would be written to a node and fail there,
or work in a way nobody meant (a ``%`` in the file also turns on ifupdown2's
Mako templating, see ``provider.text``). Both models take every address
through this module, so every address input follows the same rules.
"""

from __future__ import annotations

import ipaddress
from typing import Final

from provider.text import shown

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface

PREFIX_MIN: Final = 8
"""Proxmox's shortest prefix for a node's ``cidr``/``cidr6`` (its schema: more than 7)."""

# Where Proxmox (Net::IP's kinds, as pve-common checks cidr6) takes IPv6 host addresses from:
# global unicast, unique local and link local; 2001:db8::/32 (documentation) is not global.
_IPV6_HOSTS: Final = (
    ipaddress.IPv6Network("2000::/3"),
    ipaddress.IPv6Network("fc00::/7"),
    ipaddress.IPv6Network("fe80::/10"),
)
_IPV6_DOCUMENTATION: Final = ipaddress.IPv6Network("2001:db8::/32")
_THIS_NETWORK: Final = ipaddress.IPv4Network("0.0.0.0/8")


def plain_address(value: str, version: int | None = None) -> IpAddress:
    """The address ``value`` names; ValueError unless it is one plain IPv4/IPv6 address.

    ``version`` 4 or 6 also requires that family. A scope id is refused, not
    dropped: the node would be given something else than what was written.
    """
    family = f"IPv{version} address" if version else "IP address"
    if "%" in value:
        raise ValueError(
            f"{shown(value)} has a scope id ('%{value.partition('%')[2]}'); give the plain "
            "address: Proxmox and ifupdown2 take none"
        )
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"{shown(value)} is not an {family}") from None
    if version is not None and address.version != version:
        raise ValueError(f"{shown(value)} is not an {family}")
    return address


def plain_interface(value: str, version: int) -> IpInterface:
    """``address/prefix`` for a node's ``cidr`` (4) or ``cidr6`` (6); ValueError otherwise."""
    example = "'192.168.10.2/24'" if version == 4 else "'fd00:10::2/64'"
    if "%" in value:
        plain_address(value.partition("/")[0], version)  # names the scope id
    try:
        interface = ipaddress.ip_interface(value)
    except ValueError:
        raise ValueError(
            f"{shown(value)} is not an address with a prefix length, such as {example}"
        ) from None
    if interface.version != version or "/" not in value:
        raise ValueError(f"{shown(value)} is not an IPv{version} address with a prefix length")
    if not PREFIX_MIN <= interface.network.prefixlen <= interface.max_prefixlen:
        raise ValueError(
            f"{shown(value)}: Proxmox accepts prefix lengths {PREFIX_MIN} to "
            f"{interface.max_prefixlen}"
        )
    return interface


def unusable(address: IpAddress) -> str | None:
    """Why no host can have or use ``address`` as a unicast address; None when one can."""
    if address.is_unspecified:
        return "is the unspecified address"
    if address.is_loopback:
        return "is a loopback address"
    if address.is_multicast:
        return "is a multicast address"
    if isinstance(address, ipaddress.IPv4Address):
        if address in _THIS_NETWORK:
            return "is in 0.0.0.0/8 ('this network'), which no host can use"
        if address.is_reserved:
            return "is in the reserved range 240.0.0.0/4 (or the broadcast 255.255.255.255)"
    return None


def proxmox_host_problem(address: IpAddress) -> str | None:
    """Why Proxmox refuses ``address`` as a node's own address; None when it takes it."""
    if isinstance(address, ipaddress.IPv4Address):
        return unusable(address)
    if address in _IPV6_DOCUMENTATION:
        return "is in 2001:db8::/32 (documentation), which Proxmox does not take as a host address"
    if not any(address in network for network in _IPV6_HOSTS):
        return (
            unusable(address)
            or "is not a global (2000::/3), unique-local (fc00::/7) or "
            "link-local (fe80::/10) address, which Proxmox requires of a host address"
        )
    return None


def reserved_in(address: IpAddress, network: IpNetwork) -> str | None:
    """Why ``address`` cannot be a host's in ``network`` (its network or broadcast address).

    An IPv4 /31 or /32 has neither (RFC 3021 point-to-point links); an IPv6
    /127 or /128 has no subnet-router anycast address (RFC 6164).
    """
    if address not in network:
        return None
    if isinstance(network, ipaddress.IPv4Network) and network.prefixlen <= 30:
        if address == network.network_address:
            return f"is the network address of {network}"
        if address == network.broadcast_address:
            return f"is the broadcast address of {network}"
    if (
        isinstance(network, ipaddress.IPv6Network)
        and network.prefixlen <= 126
        and address == network.network_address
    ):
        return f"is the subnet-router anycast address of {network} (its all-zero host part)"
    return None
