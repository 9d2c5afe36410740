"""Manners toward a site: one request at a time per host, a gap between two fetches from one
host, and robots.txt rules cached per origin.

No HTTP here: the fetcher holds a host's slot around each request, and the robots cache loads
robots.txt through the fetcher (a `RobotsLoader`), so those requests follow the same rules.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit
from urllib.robotparser import RobotFileParser

ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309: crawlers read at least 500 KiB of robots.txt
ROBOTS_ERROR_TTL = 600.0  # an unreachable robots.txt is asked for again sooner than a good one

# origin -> (status, body) of its robots.txt, or None when it could not be fetched
RobotsLoader = Callable[[str], Awaitable[tuple[int, bytes] | None]]


def host_key(url: str) -> str:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def origin(url: str) -> str:
    return f"{urlsplit(url).scheme.lower()}://{host_key(url)}"


class HostSlots:
    """One request at a time per host, and `min_gap` seconds after another fetch's request."""

    def __init__(self, min_gap: float, clock: Callable[[], float]) -> None:
        self._min_gap = min_gap
        self._clock = clock
        self._locks: dict[str, asyncio.Lock] = {}
        self._done_at: dict[str, float] = {}

    @asynccontextmanager
    async def hold(self, url: str, visited: set[str]) -> AsyncIterator[None]:
        """Hold the host of `url`; `visited`: the hosts this fetch already talked to."""
        host = host_key(url)
        lock = self._locks.setdefault(host, asyncio.Lock())
        async with lock:
            if host not in visited:  # robots.txt and redirect hops of this fetch go at once
                await self._wait_gap(host)
                visited.add(host)
            try:
                yield
            finally:
                self._done_at[host] = self._clock()

    async def _wait_gap(self, host: str) -> None:
        done_at = self._done_at.get(host)
        if done_at is None:
            return
        wait = self._min_gap - (self._clock() - done_at)
        if wait > 0:
            await asyncio.sleep(wait)


@dataclass(frozen=True)
class _CachedRobots:
    rules: RobotFileParser | None  # None: everything allowed
    expires_at: float


class RobotsCache:
    """Each origin's robots.txt rules, loaded once per `ttl` (single-flight per origin)."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._clock = clock
        self._cached: dict[str, _CachedRobots] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def rules_for(self, url: str, load: RobotsLoader) -> RobotFileParser | None:
        """The rules for `url`'s origin (None: everything allowed)."""
        at = origin(url)
        async with self._locks.setdefault(at, asyncio.Lock()):
            cached = self._cached.get(at)
            if cached is not None and cached.expires_at > self._clock():
                return cached.rules
            rules, ttl = _rules(await load(at), self._ttl)
            self._cached[at] = _CachedRobots(rules, self._clock() + ttl)
            return rules


def _rules(answer: tuple[int, bytes] | None, ttl: float) -> tuple[RobotFileParser | None, float]:
    """The rules in a robots.txt answer and how long they hold."""
    if answer is None:
        return None, min(ttl, ROBOTS_ERROR_TTL)
    status, body = answer
    if not 200 <= status < 300:
        # RFC 9309: 4xx means there are no rules; a 5xx is treated like a network error.
        return None, ttl if status < 500 else min(ttl, ROBOTS_ERROR_TTL)
    rules = RobotFileParser()
    rules.parse(body.decode("utf-8", "replace").splitlines())
    return rules, ttl
