"""Which network addresses newsbot may fetch from: the rule against server-side request forgery.

A page on the internet must not make newsbot fetch from this machine or its network (a listing
that redirects to http://127.0.0.1/admin, an item linking to the cloud metadata address): the
answer would be stored and published. So every address a fetch connects to is classified here:
public (None), or the kind of non-public address it is. A non-public address is allowed only by
an `Allowance`: the categories of the recipe's own URLs (a recipe written as http://10.1.2.5/ is
an intranet portal, one on http://127.0.0.1:8080/ a test), or `[fetch] allow_private` entries
(networks like 10.1.2.0/24, or host names like intranet.example).

Only addresses written in a URL count for the recipe rule, never what a name resolves to: a
site's DNS could otherwise point its name at 127.0.0.1 and open this machine to its links.
Pure: strings and ipaddress values in, answers out.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

LOOPBACK = "loopback"
UNSPECIFIED = "unspecified"
LINK_LOCAL = "link-local"
MULTICAST = "multicast"
UNIQUE_LOCAL = "unique-local"
PRIVATE = "private"
RESERVED = "reserved"  # any other special-purpose address that is not on the public internet

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: a DNS64 network's view of IPv4
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_SITE_LOCAL = ipaddress.IPv6Network("fec0::/10")  # deprecated, still routed inside some networks
_PRIVATE_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")  # + CGNAT
)
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")
ALLOW_RULE = "an address or network (10.1.2.0/24, fd00::/8) or a host name (intranet.example)"


def parse_address(text: str) -> IPAddress | None:
    """The address a host string spells (`127.0.0.1`, `::1`, `[::1]`), else None (a name)."""
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def category(address: IPAddress) -> str | None:
    """None for a public address, else which kind of non-public address it is.

    IPv6 forms that carry an IPv4 address (::ffff:a.b.c.d, 6to4, NAT64) are judged by it:
    ::ffff:127.0.0.1 reaches this machine as surely as 127.0.0.1 does.
    """
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return category(embedded)
    if address.is_unspecified:
        return UNSPECIFIED
    if address.is_loopback:
        return LOOPBACK
    if address.is_link_local:
        return LINK_LOCAL
    if address.is_multicast:
        return MULTICAST
    if isinstance(address, ipaddress.IPv6Address):
        if address in _UNIQUE_LOCAL:
            return UNIQUE_LOCAL
        if address in _SITE_LOCAL:
            return PRIVATE
    elif any(address in net for net in _PRIVATE_V4):
        return PRIVATE
    return None if address.is_global else RESERVED


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def host_category(host: str) -> str | None:
    """The category of a host as written in a URL: an address literal, or `localhost`."""
    name = host.strip().lower().rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always this machine
        return LOOPBACK
    address = parse_address(name)
    return category(address) if address is not None else None


def url_categories(urls: Iterable[str]) -> frozenset[str]:
    """The non-public categories the URLs are written in (a recipe's own `url`)."""
    found = set()
    for url in urls:
        try:
            host = urlsplit(url).hostname
        except ValueError:
            continue
        kind = host_category(host) if host else None
        if kind is not None:
            found.add(kind)
    return frozenset(found)


def parse_allow_entry(entry: str) -> IPNetwork | str:
    """One `allow_private` entry: a network (an address is a network of one), or a host name."""
    text = entry.strip().lower()
    try:
        return ipaddress.ip_network(text.strip("[]"), strict=False)
    except ValueError:
        pass
    name = text.rstrip(".")
    if _HOST_NAME.match(name) and not name.replace(".", "").isdigit():
        return name
    raise ValueError(f"{entry!r} is not {ALLOW_RULE}")


@dataclass(frozen=True)
class Allowance:
    """The non-public addresses one fetch may reach."""

    categories: frozenset[str] = frozenset()  # from the recipe's own URLs
    networks: tuple[IPNetwork, ...] = ()  # allow_private networks
    hosts: frozenset[str] = frozenset()  # allow_private host names

    @classmethod
    def build(cls, allow_private: Iterable[str], categories: frozenset[str]) -> Allowance:
        networks, hosts = [], set()
        for entry in allow_private:
            parsed = parse_allow_entry(entry)
            if isinstance(parsed, str):
                hosts.add(parsed)
            else:
                networks.append(parsed)
        return cls(categories, tuple(networks), frozenset(hosts))

    def refusal(self, host: str, address: IPAddress) -> str | None:
        """Why `host`, resolved to `address`, may not be fetched; None when it may."""
        kind = category(address)
        if kind is None or kind in self.categories:
            return None
        if host.lower().rstrip(".") in self.hosts:
            return None
        if any(address.version == net.version and address in net for net in self.networks):
            return None
        return kind


class AddressRefused(Exception):
    """A fetch would connect to an address it may not reach."""

    def __init__(self, host: str, address: IPAddress, kind: str) -> None:
        shown = f"{host} ({address})" if parse_address(host) != address else str(address)
        super().__init__(f"{shown} is {_article(kind)} {kind} address")
        self.host = host
        self.address = address
        self.kind = kind


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"
