"""A sliding-window rate limit per key, in memory: the bot's guard against command floods."""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from datetime import datetime, timedelta
from typing import Literal

Verdict = Literal["ok", "warn", "drop"]


class RateLimiter:
    """At most `limit` events per key in any `window`; the first refusal is 'warn', later 'drop'."""

    def __init__(
        self, limit: int, window: timedelta = timedelta(minutes=1), *, max_keys: int = 10_000
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._times: dict[Hashable, deque[datetime]] = {}
        self._warned: set[Hashable] = set()

    def check(self, key: Hashable, now: datetime) -> Verdict:
        """Count one event for `key` unless it is over the limit."""
        if len(self._times) > self.max_keys:
            self.forget_idle(now)
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self._warned.discard(key)
            return "ok"
        if key in self._warned:
            return "drop"
        self._warned.add(key)
        return "warn"

    def retry_in(self, key: Hashable, now: datetime) -> timedelta:
        """How long until `key` may act again (zero when it may now)."""
        times = self._times.get(key)
        if not times or len(times) < self.limit:
            return timedelta(0)
        return max(times[0] + self.window - now, timedelta(0))

    def forget_idle(self, now: datetime) -> None:
        """Drop keys with no event in the window, so memory stays bounded."""
        for key in [k for k, ts in self._times.items() if not ts or ts[-1] <= now - self.window]:
            del self._times[key]
            self._warned.discard(key)
