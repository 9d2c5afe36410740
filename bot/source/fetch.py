"""Fetch pages politely and within bounds; the only module that imports httpx.

A fetch returns a FetchResult (2xx, or 304 for an unchanged page) or raises FetchError with one line
naming the URL and what went wrong. Every fetch is bounded: a total deadline (httpx timeouts are
per read, so a server dripping a byte at a time would otherwise hold a fetch for minutes), a cap on
the decoded body (a gzip bomb stops at max_bytes, memory stays small), at most max_redirects hops
(http and https only, never https -> http). Per host: one request at a time, min_host_gap between
fetches, robots.txt honoured and cached. Every connection, at every redirect hop, goes only to an
address bot.addresses allows (resolved, checked and connected in bot.source.connect): a public
page cannot make newsbot fetch from this machine or its network.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import importlib
import logging
import random
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import httpx

from bot import __version__
from bot.addresses import AddressRefused, Allowance, url_categories
from bot.errors import FetchError
from bot.model import CacheHeaders, FetchResult
from bot.source.connect import Resolver, guarded_pool, system_resolver

log = logging.getLogger(__name__)

DECODE_CHUNK = 64 * 1024  # most decoded bytes produced from one step of the decompressor
GZIP_WBITS = 16 + zlib.MAX_WBITS
GZIP_MAGIC = b"\x1f\x8b"
DRAIN_BYTES = 64 * 1024  # a non-2xx body up to this is read, so the connection is kept
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: crawlers read at least 500 KiB of robots.txt
ROBOTS_ERROR_TTL = 600.0  # an unreachable robots.txt is asked for again sooner than a good one
RETRY_AFTER_LIMIT = 24 * 3600.0  # a Retry-After beyond a day is taken as a day
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


@dataclass(frozen=True)
class _Answer:
    """One HTTP exchange; the body is read only for 2xx."""

    url: str
    status: int
    reason: str
    headers: httpx.Headers
    body: bytes = b""


@dataclass(frozen=True)
class _CachedRobots:
    rules: RobotFileParser | None  # None: everything allowed
    expires_at: float


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
        self._clock = clock
        self._transport = transport
        self._resolver = resolver
        Allowance.build(policy.allow_private, frozenset())  # a bad entry fails here, not later
        # Loading the CA bundle takes a while: once per fetcher, shared by its pools.
        self._ssl_context = httpx.create_ssl_context() if transport is None else None
        self._clients: dict[frozenset[str], httpx.AsyncClient] = {}
        self._host_locks: dict[str, asyncio.Lock] = {}
        self._host_done_at: dict[str, float] = {}
        self._robots: dict[str, _CachedRobots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

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
        return _result(answer, cache)

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
    ) -> _Answer:
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
                raise _refused(url, exc, hops[-2] if len(hops) > 1 else None) from None
            if answer.status not in REDIRECT_STATUSES:
                return answer
            target = _redirect_target(answer)
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
    ) -> _Answer:
        """One request in the host's slot; reads the body only for 2xx."""
        async with self._host_slot(url, visit):
            visit.start_deadline()
            try:
                async with visit.client.stream("GET", url, headers=headers) as response:
                    body = b""
                    if 200 <= response.status_code < 300:
                        body = await _read_body(response, url, max_bytes)
                    else:
                        await _drain(response)
                    log.debug("GET %s -> %d (%d bytes)", url, response.status_code, len(body))
                    return _Answer(
                        url, response.status_code, _reason(response), response.headers, body
                    )
            except httpx.HTTPError as exc:
                raise _network_error(url, exc, self.policy) from exc
            except httpx.InvalidURL as exc:
                raise FetchError(f"{url}: not a valid URL ({exc})", hint=_URL_HINT) from exc

    @asynccontextmanager
    async def _host_slot(self, url: str, visit: _Visit) -> AsyncIterator[None]:
        """Hold the host: one request at a time, min_host_gap after another fetch's request."""
        host = _host_key(url)
        lock = self._host_locks.setdefault(host, asyncio.Lock())
        async with lock:
            if host not in visit.hosts:  # robots.txt and redirect hops of this fetch go at once
                await self._wait_gap(host)
                visit.hosts.add(host)
            try:
                yield
            finally:
                self._host_done_at[host] = self._clock()

    async def _wait_gap(self, host: str) -> None:
        done_at = self._host_done_at.get(host)
        if done_at is None:
            return
        wait = self.policy.min_host_gap - (self._clock() - done_at)
        if wait > 0:
            await asyncio.sleep(wait)

    async def _check_robots(self, url: str, visit: _Visit) -> None:
        rules = await self._robots_for(url, visit)
        if rules is not None and not rules.can_fetch(self.policy.user_agent, url):
            raise FetchError(
                f"robots.txt of {_host_key(url)} disallows {url}",
                hint="set fetch.respect_robots = false to override",
            )

    async def _robots_for(self, url: str, visit: _Visit) -> RobotFileParser | None:
        """The host's robots.txt rules, fetched once per robots_ttl (single-flight per host)."""
        origin = _origin(url)
        async with self._robots_locks.setdefault(origin, asyncio.Lock()):
            cached = self._robots.get(origin)
            if cached is not None and cached.expires_at > self._clock():
                return cached.rules
            rules, ttl = await self._load_robots(origin, visit)
            self._robots[origin] = _CachedRobots(rules, self._clock() + ttl)
            return rules

    async def _load_robots(
        self, origin: str, visit: _Visit
    ) -> tuple[RobotFileParser | None, float]:
        ttl = self.policy.robots_ttl
        try:
            answer = await self._get_following(
                origin + "/robots.txt", None, visit, ROBOTS_MAX_BYTES, check_robots=False
            )
        except FetchError as exc:
            log.debug("robots.txt of %s unavailable, allowing all: %s", origin, exc)
            return None, min(ttl, ROBOTS_ERROR_TTL)
        if not 200 <= answer.status < 300:
            # RFC 9309: 4xx means there are no rules; a 5xx is treated like a network error.
            return None, ttl if answer.status < 500 else min(ttl, ROBOTS_ERROR_TTL)
        rules = RobotFileParser()
        rules.parse(answer.body.decode("utf-8", "replace").splitlines())
        return rules, ttl


_URL_HINT = "use a full http:// or https:// URL, like https://example.com/news"
_REFUSED_HINT = (
    "newsbot does not fetch from this machine or a private network for a site on the internet; "
    "if the site is on your network, add it to [fetch] allow_private in the config"
)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a pool that resolves, checks and connects by itself."""

    def __init__(
        self, allowance: Allowance, resolver: Resolver, ssl_context: ssl.SSLContext
    ) -> None:
        # trust_env=False: a proxy would resolve names out of our sight.
        super().__init__(verify=ssl_context, trust_env=False)
        # httpx takes no network backend, so its pool is replaced by one built with ours.
        self._pool = guarded_pool(allowance, resolver, ssl_context)


def _refused(url: str, exc: AddressRefused, redirected_from: str | None) -> FetchError:
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    return FetchError(f"{url}: not fetched: {exc}{via}", hint=_REFUSED_HINT)


def check_target(url: str, *, redirected_from: str | None = None) -> None:
    """Refuse what newsbot must not fetch: non-http(s) schemes, no host, https -> http hops."""
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise FetchError(f"{url}: not a valid URL ({exc})", hint=_URL_HINT) from None
    scheme = parts.scheme.lower()
    via = f" (redirected from {redirected_from})" if redirected_from else ""
    if scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http and https URLs can be fetched{via}", hint=_URL_HINT)
    if not parts.hostname:
        raise FetchError(f"{url}: the URL has no host{via}", hint=_URL_HINT)
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError as exc:
        raise FetchError(f"{url}: bad port ({exc}){via}", hint=_URL_HINT) from None
    if redirected_from and scheme == "http" and urlsplit(redirected_from).scheme.lower() == "https":
        raise FetchError(
            f"{redirected_from}: refused redirect from https to plain http ({url})",
            hint="put the http:// URL in the recipe if you trust it",
        )


def conditional_headers(cache: CacheHeaders | None) -> dict[str, str]:
    """If-None-Match / If-Modified-Since from the validators of the last 200."""
    headers: dict[str, str] = {}
    if cache is not None and cache.etag:
        headers["If-None-Match"] = cache.etag
    if cache is not None and cache.last_modified:
        headers["If-Modified-Since"] = cache.last_modified
    return headers


def _result(answer: _Answer, sent: CacheHeaders | None) -> FetchResult:
    """Turn the last answer into a result (2xx, 304) or the error to raise."""
    validators = CacheHeaders(
        etag=answer.headers.get("etag"), last_modified=answer.headers.get("last-modified")
    )
    max_age = parse_max_age(answer.headers.get("cache-control", ""))
    if answer.status == 304:
        # A 304 may omit validators; the ones sent are still the current ones.
        kept = sent or CacheHeaders()
        cache = CacheHeaders(
            etag=validators.etag or kept.etag,
            last_modified=validators.last_modified or kept.last_modified,
        )
        return FetchResult(url=answer.url, status=304, cache=cache, max_age=max_age)
    if 200 <= answer.status < 300:
        return FetchResult(
            url=answer.url,
            status=answer.status,
            body=answer.body,
            content_type=answer.headers.get("content-type"),
            cache=validators,
            max_age=max_age,
        )
    raise _status_error(answer)


_STATUS_HINTS = {
    401: "the page needs a login; newsbot reads public pages only",
    403: "the site refuses newsbot (blocked, or a login is needed); open the URL in a browser",
    404: "the page does not exist; check the URL in the recipe",
    410: "the page was removed for good; update or remove the recipe",
    429: "the site is rate-limiting newsbot; newsbot will wait and retry",
}


def _status_error(answer: _Answer) -> FetchError:
    status = answer.status
    if status in _STATUS_HINTS:
        hint = _STATUS_HINTS[status]
    elif status >= 500:
        hint = "the site is down or overloaded; newsbot will retry with backoff"
    elif status >= 400:
        hint = "the site rejected the request; check the URL in a browser"
    else:
        hint = "unexpected answer for a page; check the URL in a browser"
    retry_after = None
    value = answer.headers.get("retry-after")
    if status in (429, 503) and value:
        retry_after = parse_retry_after(value, _server_now(answer.headers))
    return FetchError(
        f"{answer.url}: HTTP {status} {answer.reason}".rstrip(),
        hint=hint,
        status=status,
        retry_after=retry_after,
    )


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


def _redirect_target(answer: _Answer) -> str:
    location: str | None = answer.headers.get("location")
    if not location:
        raise FetchError(
            f"{answer.url}: HTTP {answer.status} redirect without a Location header",
            hint="the site sent a broken redirect; check the URL in a browser",
        )
    return urljoin(answer.url, location.strip())


def _reason(response: httpx.Response) -> str:
    phrase: str = response.reason_phrase
    if phrase:
        return phrase
    try:
        return HTTPStatus(response.status_code).phrase
    except ValueError:
        return ""


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def _origin(url: str) -> str:
    return f"{urlsplit(url).scheme.lower()}://{_host_key(url)}"


def _server_now(headers: httpx.Headers) -> datetime:
    """The server's Date (Retry-After dates are relative to its clock), else ours."""
    value = headers.get("date")
    if value:
        try:
            at = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            pass
        else:
            return at if at.tzinfo else at.replace(tzinfo=UTC)
    return datetime.now(UTC)


# --- body: decoded by hand so that a small compressed body cannot become a huge one in memory ---


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        yield data


class _Inflate:
    """gzip or deflate, producing at most DECODE_CHUNK bytes per step."""

    def __init__(self, wbits: int) -> None:
        self._wbits = wbits
        self._z = zlib.decompressobj(wbits)
        self._started = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not self._started and data and self._wbits == zlib.MAX_WBITS and not _zlib_header(data):
            self._wbits = -zlib.MAX_WBITS  # "deflate" sent as raw deflate, as many servers do
            self._z = zlib.decompressobj(self._wbits)
        self._started = self._started or bool(data)
        while data:
            out = self._z.decompress(data, DECODE_CHUNK)
            if out:
                yield out
            if self._z.eof:
                data = self._z.unused_data
                if not data.startswith(GZIP_MAGIC) or self._wbits != GZIP_WBITS:
                    return  # trailing bytes after the stream are ignored, as browsers do
                self._z = zlib.decompressobj(self._wbits)  # another gzip member
            elif self._z.unconsumed_tail:
                data = self._z.unconsumed_tail
            elif len(out) == DECODE_CHUNK:
                data = b""
                while out := self._z.decompress(b"", DECODE_CHUNK):
                    yield out  # output still pending inside zlib
            else:
                return


class _Brotli:
    def __init__(self, module: Any) -> None:
        self._d = module.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        out: bytes = self._d.process(data)
        yield out


def _zlib_header(data: bytes) -> bool:
    return len(data) < 2 or (data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0)


def _decoder_for(encoding: str, url: str) -> _Decoder:
    name = encoding.strip().lower()
    if name in ("", "identity"):
        return _Identity()
    if name in ("gzip", "x-gzip"):
        return _Inflate(GZIP_WBITS)
    if name == "deflate":
        return _Inflate(zlib.MAX_WBITS)
    if name == "br":
        try:
            return _Brotli(importlib.import_module("brotli"))
        except ImportError:
            pass
    raise FetchError(
        f"{url}: the body uses Content-Encoding {encoding!r}, which newsbot cannot decode",
        hint="the site ignored Accept-Encoding: gzip, deflate; report it to the site",
    )


async def _read_body(response: httpx.Response, url: str, max_bytes: int) -> bytes:
    """The decoded body; FetchError once it passes max_bytes."""
    encoding = response.headers.get("content-encoding", "")
    decoder = _decoder_for(encoding, url)
    declared = response.headers.get("content-length", "")
    if isinstance(decoder, _Identity) and declared.isdigit() and int(declared) > max_bytes:
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


# --- scheduling hints: pure ---

_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_max_age(cache_control: str) -> float | None:
    """Seconds from `Cache-Control: max-age=N`, else None."""
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else None


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (seconds or an HTTP-date); None if unreadable."""
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        at = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return max(0.0, (at - now).total_seconds())


def next_delay(
    interval: float,
    failures: int,
    *,
    retry_after: float | None = None,
    max_age: float | None = None,
    cap: float = 6 * 3600,
    rng: random.Random | None = None,
) -> float:
    """Seconds until the next poll: the interval, doubled per failure with ±10 % jitter, capped.

    A server's max-age stretches a healthy interval; a later Retry-After always wins (up to a day).
    """
    if failures <= 0:
        delay = min(max(interval, max_age or 0.0), cap)
    else:
        ceiling = min(interval * 2.0 ** min(failures, 64), cap)
        delay = (rng or random).uniform(0.9 * ceiling, min(1.1 * ceiling, cap))
    if retry_after is not None:
        delay = max(delay, min(retry_after, RETRY_AFTER_LIMIT))
    return delay
