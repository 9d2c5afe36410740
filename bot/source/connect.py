"""Connections for the fetcher that go only where bot.addresses allows: the only httpcore importer.

httpcore's own backend resolves a host name and connects in one step, so a check made before
the request could be undone by a second DNS answer (DNS rebinding: public when checked, 127.0.0.1
when connected). Here one step resolves (through a replaceable resolver: tests make a "public"
name resolve to 127.0.0.1), checks every address, and connects to a checked address itself.
A pool serves one Allowance: a kept-alive connection is reused only by fetches allowed the same.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import httpcore

from bot.addresses import AddressRefused, Allowance, IPAddress, parse_address

# host name -> its addresses, in the order to try them (socket.gaierror when it has none)
Resolver = Callable[[str], Awaitable[Sequence[str]]]

# httpx's defaults (httpx.Limits): the pool behaves as the plain transport did.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE = 20
KEEPALIVE_EXPIRY = 5.0


async def system_resolver(host: str) -> list[str]:
    """The host's addresses from the system resolver (getaddrinfo, off the event loop)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolve, refuse what the allowance does not allow (AddressRefused), connect to the rest."""

    def __init__(self, allowance: Allowance, resolver: Resolver) -> None:
        self._allowance = allowance
        self._resolver = resolver
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._addresses(host, timeout)
        for address in addresses:  # one refused address refuses the name: no lottery
            kind = self._allowance.refusal(host, address)
            if kind is not None:
                raise AddressRefused(host, address, kind)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # _addresses never returns an empty list
        raise failure

    async def _addresses(self, host: str, timeout: float | None) -> list[IPAddress]:
        literal = parse_address(host)
        if literal is not None:
            return [literal]
        try:
            async with asyncio.timeout(timeout):
                answers = await self._resolver(host)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout:g} s") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc.strerror or exc}") from None
        addresses = [a for a in (parse_address(answer) for answer in answers) if a is not None]
        if not addresses:
            raise httpcore.ConnectError(f"cannot resolve {host}: no address")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("newsbot fetches over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def guarded_pool(
    allowance: Allowance, resolver: Resolver, ssl_context: ssl.SSLContext
) -> httpcore.AsyncConnectionPool:
    """A connection pool whose every new connection passes `allowance`."""
    return httpcore.AsyncConnectionPool(
        ssl_context=ssl_context,
        max_connections=MAX_CONNECTIONS,
        max_keepalive_connections=MAX_KEEPALIVE,
        keepalive_expiry=KEEPALIVE_EXPIRY,
        network_backend=GuardedBackend(allowance, resolver),
    )
