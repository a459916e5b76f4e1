"""Which IP addresses a remote image URL may reach.

A captioning server that fetches URLs for anyone is an open proxy into its own network unless every
address it connects to is checked (vLLM's CVE-2025-6242 was exactly this). The rule is: public
unicast addresses only, plus whatever the operator explicitly allows.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address

IPAddress = IPv4Address | IPv6Address


def normalise_address(address: IPAddress) -> IPAddress:
    """Treat an IPv4-mapped IPv6 address (::ffff:a.b.c.d) as the IPv4 address it connects to."""
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public_address(address: IPAddress) -> bool:
    """True only for globally routable unicast addresses.

    `is_global` alone is not enough: Python counts multicast, parts of the reserved IPv6 space and
    6to4 addresses (which tunnel to an embedded IPv4 address) as global.
    """
    address = normalise_address(address)
    if (
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    ):
        return False
    if isinstance(address, IPv6Address):
        if address.is_site_local:
            return False
        if address.sixtofour is not None:
            return is_public_address(address.sixtofour)
    return True


class AddressPolicy:
    """Public addresses, plus the operator's allow-list of networks (CIDR) or single addresses."""

    def __init__(self, allow_list: Iterable[str] = ()) -> None:
        try:
            self._allowed = tuple(ipaddress.ip_network(entry, strict=False) for entry in allow_list)
        except ValueError as exc:
            raise ValueError(f"Invalid entry in the URL allow-list: {exc}") from exc

    def permits(self, address: IPAddress) -> bool:
        address = normalise_address(address)
        if any(address in network for network in self._allowed):
            return True
        return is_public_address(address)
