"""Fetch pages politely and within bounds; the only module that imports httpx.

A fetch returns a FetchResult (2xx, or 304 for an unchanged page) or raises FetchError with one line
naming the URL and what went wrong. Every fetch is bounded: a total deadline (httpx timeouts are
per read, so a server dripping a byte at a time would otherwise hold a fetch for minutes), a cap on
the decoded body (a gzip bomb stops at max_bytes, memory stays small), at most max_redirects hops
(http and https only, never https -> http). Per host (bot.source.polite): one request at a time,
min_host_gap between fetches, robots.txt honoured and cached. Every connection, at every redirect
hop, goes only to an address bot.addresses allows (resolved, checked and connected in
bot.source.connect): a public page cannot make newsbot fetch from this machine or its network.

Here: the httpx exchange. Without httpx beside it: which URLs may be fetched and what an answer
means (bot.source.answers), Content-Encoding (bot.source.inflate), when to poll next (bot.backoff).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType

import httpx

from bot import __version__
from bot.addresses import AddressRefused, Allowance, url_categories
from bot.errors import FetchError
from bot.model import CacheHeaders, FetchResult
from bot.source.answers import (
    URL_HINT,
    Answer,
    check_target,
    conditional_headers,
    redirect_target,
    refused,
    result,
)
from bot.source.connect import Resolver, guarded_pool, system_resolver
from bot.source.inflate import Identity, decoder_for
from bot.source.polite import ROBOTS_MAX_BYTES, HostSlots, RobotsCache, host_key

log = logging.getLogger(__name__)

DRAIN_BYTES = 64 * 1024  # a non-2xx body up to this is read, so the connection is kept
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
RETRY_HINT = "check that the page opens in a browser; newsbot will retry with backoff"


@dataclass(frozen=True)
class FetchPolicy:
    """Limits and manners of every fetch; times in seconds."""

    user_agent: str = f"newsbot/{__version__} (+https://github.com/newsbot)"
    connect_timeout: float = 10
    read_timeout: float = 20
    deadline: float = 30  # total per fetch, from its first request to the last body byte
    max_bytes: int = 5 * 1024 * 1024  # after decompression
    max_redirects: int = 5
    min_host_gap: float = 1.0  # between two fetches from one host
    respect_robots: bool = True
    robots_ttl: float = 6 * 3600
    allow_private: tuple[str, ...] = ()  # networks and host names besides the recipe's own


DEFAULT_POLICY = FetchPolicy()


@dataclass
class _Visit:
    """State of one fetch: hosts it already talked to, its deadline, and the client (whose
    connections go only where this fetch may go)."""

    timeout: asyncio.Timeout
    seconds: float
    client: httpx.AsyncClient
    hosts: set[str] = field(default_factory=set)

    def start_deadline(self) -> None:
        """Start the clock at the first request, so waiting for a busy host is not counted."""
        if self.timeout.when() is None:
            self.timeout.reschedule(asyncio.get_running_loop().time() + self.seconds)


class Fetcher:
    """Fetches pages with shared httpx clients (one per allowance); `aclose()` when done.

    `resolver` turns host names into addresses (the system's by default); a `transport` replaces
    the network altogether (tests), and with it the address checks.
    """

    def __init__(
        self,
        policy: FetchPolicy = DEFAULT_POLICY,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.policy = policy
        self._transport = transport
        self._resolver = resolver
        Allowance.build(policy.allow_private, frozenset())  # a bad entry fails here, not later
        # Loading the CA bundle takes a while: once per fetcher, shared by its pools.
        self._ssl_context = httpx.create_ssl_context() if transport is None else None
        self._clients: dict[frozenset[str], httpx.AsyncClient] = {}
        self._slots = HostSlots(policy.min_host_gap, clock)
        self._robots = RobotsCache(policy.robots_ttl, clock)

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        clients = list(self._clients.values())
        self._clients.clear()
        for client in clients:
            await client.aclose()

    async def fetch(
        self,
        url: str,
        cache: CacheHeaders | None = None,
        *,
        recipe_urls: Sequence[str] = (),
    ) -> FetchResult:
        """GET `url` (conditionally when `cache` has validators); raise FetchError on failure.

        `recipe_urls`: the URLs of the recipe this fetch is for (default: `url` itself). A
        non-public address is reached only in a category one of them is written in, or through
        policy.allow_private.
        """
        client = self._client_for(url_categories(recipe_urls or (url,)))
        visit = _Visit(asyncio.timeout(None), self.policy.deadline, client)
        try:
            async with visit.timeout:
                answer = await self._get_following(
                    url, cache, visit, self.policy.max_bytes, self.policy.respect_robots
                )
        except TimeoutError:
            if not visit.timeout.expired():
                raise
            raise FetchError(
                f"{url}: no complete response within {self.policy.deadline:g} s",
                hint="the site is too slow; newsbot will retry with backoff",
            ) from None
        return result(answer, cache)

    def _client_for(self, categories: frozenset[str]) -> httpx.AsyncClient:
        """The client for fetches allowed `categories`: connections are never shared with
        fetches allowed less."""
        key = frozenset() if self._transport is not None else categories
        client = self._clients.get(key)
        if client is None:
            transport = self._transport or _GuardedTransport(
                Allowance.build(self.policy.allow_private, categories),
                self._resolver,
                self._ssl_context or httpx.create_ssl_context(),
            )
            client = self._clients[key] = httpx.AsyncClient(
                transport=transport,
                follow_redirects=False,  # followed by hand: hop cap, scheme checks, robots per hop
                timeout=httpx.Timeout(
                    self.policy.read_timeout, connect=self.policy.connect_timeout
                ),
                headers={
                    "User-Agent": self.policy.user_agent,
                    "Accept": ACCEPT,
                    "Accept-Encoding": "gzip, deflate",  # decoded by hand to bound memory
                },
            )
        return client

    async def _get_following(
        self,
        url: str,
        cache: CacheHeaders | None,
        visit: _Visit,
        max_bytes: int,
        check_robots: bool,
    ) -> Answer:
        """GET `url`, following at most max_redirects redirects; the last answer is returned."""
        check_target(url)
        headers = conditional_headers(cache)
        hops = [url]
        while True:
            if check_robots:
                await self._check_robots(url, visit)
            try:
                answer = await self._exchange(url, headers, visit, max_bytes)
            except AddressRefused as exc:
                raise refused(url, exc, hops[-2] if len(hops) > 1 else None) from None
            if answer.status not in REDIRECT_STATUSES:
                return answer
            target = redirect_target(answer)
            check_target(target, redirected_from=url)
            if target in hops:
                raise FetchError(
                    f"{hops[0]}: redirect loop ({' -> '.join([*hops, target])})",
                    hint="the site redirects in a circle; check the URL in a browser",
                )
            if len(hops) > self.policy.max_redirects:
                raise FetchError(
                    f"{hops[0]}: more than {self.policy.max_redirects} redirects (last: {target})",
                    hint="put the final URL in the recipe",
                )
            hops.append(target)
            url = target

    async def _exchange(
        self, url: str, headers: dict[str, str], visit: _Visit, max_bytes: int
    ) -> Answer:
        """One request in the host's slot; reads the body only for 2xx."""
        async with self._slots.hold(url, visit.hosts):
            visit.start_deadline()
            try:
                async with visit.client.stream("GET", url, headers=headers) as response:
                    body = b""
                    if 200 <= response.status_code < 300:
                        body = await _read_body(response, url, max_bytes)
                    else:
                        await _drain(response)
                    log.debug("GET %s -> %d (%d bytes)", url, response.status_code, len(body))
                    return Answer(
                        url, response.status_code, _reason(response), response.headers, body
                    )
            except httpx.HTTPError as exc:
                raise _network_error(url, exc, self.policy) from exc
            except httpx.InvalidURL as exc:
                raise FetchError(f"{url}: not a valid URL ({exc})", hint=URL_HINT) from exc

    async def _check_robots(self, url: str, visit: _Visit) -> None:
        rules = await self._robots.rules_for(url, lambda at: self._load_robots(at, visit))
        if rules is not None and not rules.can_fetch(self.policy.user_agent, url):
            raise FetchError(
                f"robots.txt of {host_key(url)} disallows {url}",
                hint="set fetch.respect_robots = false to override",
            )

    async def _load_robots(self, origin: str, visit: _Visit) -> tuple[int, bytes] | None:
        try:
            answer = await self._get_following(
                origin + "/robots.txt", None, visit, ROBOTS_MAX_BYTES, check_robots=False
            )
        except FetchError as exc:
            log.debug("robots.txt of %s unavailable, allowing all: %s", origin, exc)
            return None
        return answer.status, answer.body


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool that resolves, checks and connects by itself."""

    def __init__(
        self, allowance: Allowance, resolver: Resolver, ssl_context: ssl.SSLContext
    ) -> None:
        # trust_env=False: a proxy would resolve names out of our sight.
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx takes no network backend, so its pool is replaced by one built with ours.
        self._pool = guarded_pool(allowance, resolver, ssl_context)


def _network_error(url: str, exc: httpx.HTTPError, policy: FetchPolicy) -> FetchError:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        reason = f"could not connect within {policy.connect_timeout:g} s"
    elif isinstance(exc, httpx.ReadTimeout):
        reason = f"no data for {policy.read_timeout:g} s"
    elif isinstance(exc, httpx.TimeoutException):
        reason = f"timed out ({detail})"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"could not connect ({detail})"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = f"the server broke off or sent an invalid response ({detail})"
    else:
        reason = f"network error ({type(exc).__name__}: {detail})"
    return FetchError(f"{url}: {reason}", hint=RETRY_HINT)


def _reason(response: httpx.Response) -> str:
    phrase: str = response.reason_phrase
    if phrase:
        return phrase
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return ""


async def _read_body(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    """The decoded body; FetchError once it passes max_bytes."""
    encoding = response.headers.get("content-encoding", "")
    decoder = decoder_for(encoding, url)
    declared = response.headers.get("content-length", "")
    if isinstance(decoder, Identity) and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(url, max_bytes)
    body = bytearray()
    try:
        async for raw in response.aiter_raw():
            for piece in decoder.feed(raw):
                body += piece
                if len(body) > max_bytes:
                    raise _too_large(url, max_bytes)
    except zlib.error as exc:
        raise FetchError(
            f"{url}: the body is not valid {encoding} data ({exc})", hint=RETRY_HINT
        ) from None
    return bytes(body)


async def _drain(response: httpx.Response) -> None:
    """Read a non-2xx answer to its end (a 304 has no body, an error page a short one), so its
    connection goes back to the pool: unread, it was closed, and every 304 poll opened a new one
    (a new TLS handshake on https). A long body is left, and its connection closed with it."""
    read = 0
    # The status is the answer, not the body (an in-memory test response is read already).
    with contextlib.suppress(httpx.HTTPError, httpx.StreamError):
        async for raw in response.aiter_raw():
            read += len(raw)
            if read > DRAIN_BYTES:
                return


def _too_large(url: str, max_bytes: int) -> FetchError:
    return FetchError(
        f"{url}: the page is larger than {max_bytes / 2**20:g} MB",
        hint="newsbot stops there to protect memory; is this the listing page you meant?",
    )


