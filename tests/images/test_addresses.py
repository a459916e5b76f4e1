"""Which addresses a URL may reach: public unicast, plus the operator's allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from imagecaption.images import AddressPolicy, is_public_address

BLOCKED = [
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "192.0.0.1",
    "198.18.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:10.0.0.1",
    "::127.0.0.1",
    "2002:7f00:1::",
    "2002:a00:1::",
    "64:ff9b::a00:1",
    "2001:db8::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::"]


@pytest.mark.parametrize("address", BLOCKED)
def test_non_public_addresses_are_blocked(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    assert not AddressPolicy().permits(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_permitted(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))
    assert AddressPolicy().permits(ipaddress.ip_address(address))


def test_allow_list_opens_exactly_what_it_names() -> None:
    policy = AddressPolicy(["127.0.0.1/32", "10.0.0.0/8", "fd00::1"])
    for allowed in ("127.0.0.1", "::ffff:127.0.0.1", "10.200.0.1", "fd00::1"):
        assert policy.permits(ipaddress.ip_address(allowed)), allowed
    for blocked in ("127.0.0.2", "::1", "192.168.0.1", "fd00::2"):
        assert not policy.permits(ipaddress.ip_address(blocked)), blocked


def test_invalid_allow_list_entry_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="allow-list"):
        AddressPolicy(["localhost"])
