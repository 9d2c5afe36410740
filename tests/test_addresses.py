"""bot.addresses: the classifier behind the SSRF guard, checked over the whole address space
against the standard library's own categories (ipaddress), and the allowance rules."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.addresses import (
    LINK_LOCAL,
    LOOPBACK,
    MULTICAST,
    PRIVATE,
    RESERVED,
    UNIQUE_LOCAL,
    UNSPECIFIED,
    Allowance,
    category,
    host_category,
    parse_allow_entry,
    url_categories,
)

# Special-purpose blocks (IANA registries) whose edges a uniform draw would hardly ever hit.
SPECIAL_V4 = ["0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
              "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
              "255.255.255.255/32"]
SPECIAL_V6 = ["::/128", "::1/128", "::/96", "100::/64", "2001::/23", "2001:db8::/32",
              "2001:10::/28", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8", "2000::/3"]


def around(networks: list[str], bits: int) -> st.SearchStrategy[int]:
    """Integers inside one of the networks, or just outside its edges."""
    def pick(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> st.SearchStrategy[int]:
        low, high = int(net.network_address), int(net.broadcast_address)
        edges = st.sampled_from([low - 1, low, high, high + 1])
        return st.one_of(st.integers(low, high), edges).map(lambda n: n % 2**bits)

    return st.sampled_from([ipaddress.ip_network(n) for n in networks]).flatmap(pick)


V4 = st.one_of(st.integers(0, 2**32 - 1), around(SPECIAL_V4, 32)).map(ipaddress.IPv4Address)
V6 = st.one_of(st.integers(0, 2**128 - 1), around(SPECIAL_V6, 128)).map(ipaddress.IPv6Address)
EMBEDDING = (
    ipaddress.IPv6Network("::ffff:0:0/96"),  # IPv4-mapped
    ipaddress.IPv6Network("2002::/16"),  # 6to4
    ipaddress.IPv6Network("64:ff9b::/96"),  # NAT64
)

# Networks the guard must refuse, with the category it names: a random address inside each.
KNOWN = [
    ("127.0.0.0/8", LOOPBACK), ("::1/128", LOOPBACK),
    ("0.0.0.0/32", UNSPECIFIED), ("::/128", UNSPECIFIED),
    ("169.254.0.0/16", LINK_LOCAL), ("fe80::/10", LINK_LOCAL),
    ("224.0.0.0/4", MULTICAST), ("ff00::/8", MULTICAST),
    ("fc00::/7", UNIQUE_LOCAL),
    ("10.0.0.0/8", PRIVATE), ("172.16.0.0/12", PRIVATE), ("192.168.0.0/16", PRIVATE),
    ("100.64.0.0/10", PRIVATE), ("fec0::/10", PRIVATE),
    ("240.0.0.0/4", RESERVED), ("192.0.2.0/24", RESERVED), ("198.18.0.0/15", RESERVED),
    ("2001:db8::/32", RESERVED),
]  # fmt: skip


def public_per_stdlib(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """What ipaddress calls global, minus multicast (global in its eyes, never a web site)."""
    if isinstance(address, ipaddress.IPv6Address) and address in ipaddress.ip_network("fec0::/10"):
        return False
    return address.is_global and not address.is_multicast


@given(V4)
def test_an_ipv4_address_is_public_exactly_when_the_stdlib_says_global(
    address: ipaddress.IPv4Address,
) -> None:
    kind = category(address)
    assert (kind is None) == public_per_stdlib(address), (address, kind)
    for predicate, expected in (("is_loopback", LOOPBACK), ("is_link_local", LINK_LOCAL),
                                ("is_multicast", MULTICAST), ("is_unspecified", UNSPECIFIED)):
        if getattr(address, predicate):
            assert kind == expected, (address, kind)


@given(V6)
def test_an_ipv6_address_is_public_exactly_when_the_stdlib_says_global(
    address: ipaddress.IPv6Address,
) -> None:
    if any(address in net for net in EMBEDDING):
        return  # judged by the IPv4 address inside (next test)
    kind = category(address)
    assert (kind is None) == public_per_stdlib(address), (address, kind)
    if address.is_loopback:
        assert kind == LOOPBACK
    if address.is_link_local:
        assert kind == LINK_LOCAL
    if address.is_multicast:
        assert kind == MULTICAST


@given(V4, st.sampled_from(EMBEDDING), st.integers(0, 2**80 - 1))
def test_an_ipv6_form_carrying_an_ipv4_address_is_judged_by_it(
    inner: ipaddress.IPv4Address, net: ipaddress.IPv6Network, noise: int
) -> None:
    if net.prefixlen == 16:  # 6to4: 2002:AABB:CCDD::/48, the rest is the site's
        outer = ipaddress.IPv6Address(int(net.network_address) | int(inner) << 80 | noise)
    else:
        outer = ipaddress.IPv6Address(int(net.network_address) | int(inner))
    assert category(outer) == category(inner), (outer, inner)


@given(st.sampled_from(KNOWN), st.integers(0, 2**128 - 1))
def test_every_address_of_a_known_network_gets_its_category(
    known: tuple[str, str], offset: int
) -> None:
    text, expected = known
    net = ipaddress.ip_network(text)
    address = net.network_address + offset % net.num_addresses
    assert category(address) == expected, address


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "203.113.131.1", "2606:4700::1111", "2402:800::1",
                "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass(address: str) -> None:
    assert category(ipaddress.ip_address(address)) is None


def test_a_recipe_is_in_a_range_only_by_the_address_written_in_its_url() -> None:
    assert url_categories(["http://127.0.0.1:8080/list"]) == {LOOPBACK}
    assert url_categories(["http://[::1]/", "http://10.1.2.5/tin"]) == {LOOPBACK, PRIVATE}
    assert url_categories(["http://localhost:8080/", "http://app.localhost/"]) == {LOOPBACK}
    # A name is never resolved for this rule: its DNS would decide what it may reach.
    assert url_categories(["https://haiphong.gov.vn/", "http://intranet.example/"]) == set()
    assert url_categories(["http://[bad/"]) == set()
    assert host_category("LOCALHOST.") == LOOPBACK


def test_allow_private_entries() -> None:
    assert parse_allow_entry("10.1.2.0/24") == ipaddress.ip_network("10.1.2.0/24")
    assert parse_allow_entry("10.1.2.7") == ipaddress.ip_network("10.1.2.7/32")
    assert parse_allow_entry("fd00::/8") == ipaddress.ip_network("fd00::/8")
    assert parse_allow_entry("[fd00::1]") == ipaddress.ip_network("fd00::1/128")
    assert parse_allow_entry("Intranet.Example.") == "intranet.example"
    for bad in ("", "intranet example", "-bad.example", "10.1.2.0/33", "1.2.3.4.5", "a" * 64):
        with pytest.raises(ValueError, match="is not an address or network"):
            parse_allow_entry(bad)


def test_an_allowance_lifts_only_what_it_names() -> None:
    loopback = ipaddress.ip_address("127.0.0.1")
    private = ipaddress.ip_address("10.1.2.9")
    assert Allowance().refusal("x.example", loopback) == LOOPBACK
    assert Allowance(frozenset({LOOPBACK})).refusal("x.example", loopback) is None
    assert Allowance(frozenset({LOOPBACK})).refusal("x.example", private) == PRIVATE
    by_net = Allowance.build(["10.1.2.0/24"], frozenset())
    assert by_net.refusal("any.example", private) is None
    assert by_net.refusal("any.example", ipaddress.ip_address("10.1.3.1")) == PRIVATE
    by_name = Allowance.build(["intranet.example"], frozenset())
    assert by_name.refusal("Intranet.Example", private) is None
    assert by_name.refusal("other.example", private) == PRIVATE
    assert Allowance().refusal("x.example", ipaddress.ip_address("8.8.8.8")) is None
