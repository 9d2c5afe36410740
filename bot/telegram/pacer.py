"""When the next message may start: Telegram's overall limit as a pure, clock-fed rule.

Telegram allows about 30 messages a second overall. A pacer that waits a fixed gap after the
previous start loses every moment the event loop was late (a poll parsing a page, a database
write): measured inside `newsbot run` while 1,000 sources polled, 25/s became 13/s. This one
keeps a schedule instead: a token bucket fills at `rate`, so a late start may be followed by up
to `burst` quicker ones (never closer than half the usual gap) that catch up.

Telegram counts arrivals, and between a start and its arrival a busy loop or network can hold a
request back until several arrive together: with a window over start times and 50 ms of margin,
the strict fake still saw 31 in a second. So the hard rule counts answers: a message starts only
while fewer than `window_limit` sends are in flight or were answered within the last `window`
seconds. A send's arrival lies between its start and its answer, hence any 31 consecutive
arrivals span at least `window`, whatever the jitter.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

BURST = 3  # starts that may catch up after the loop was late...
CATCH_UP_GAP = 0.5  # ...each at least this share of the usual gap after the previous one
TELEGRAM_PER_SECOND = 30


@dataclass
class SendPacer:
    """`rate` starts a second on average; fewer than `window_limit` sends in flight or answered
    within any `window` seconds when one starts."""

    rate: float
    window_limit: int = TELEGRAM_PER_SECOND
    window: float = 1.0
    burst: int = BURST
    _tokens: float = field(default=1.0, init=False)
    _filled_at: float = field(default=-math.inf, init=False)
    _last_start: float = field(default=-math.inf, init=False)
    _in_flight: int = field(default=0, init=False)
    _answers: list[float] = field(default_factory=list, init=False)  # sorted

    @classmethod
    def per_second(cls, rate: float, *, time_scale: float = 1.0) -> SendPacer:
        """`rate` messages a second on average, never more than Telegram's 30 in a second;
        `time_scale` stretches every second (time-scaled tests and benchmarks)."""
        return cls(rate=rate / time_scale, window=time_scale)

    def delay(self, now: float) -> float:
        """Seconds to wait before a start at `now` keeps both rules (0: go now)."""
        self._fill(now)
        del self._answers[: bisect.bisect_right(self._answers, now - self.window)]
        wait = 0.0 if self._tokens >= 1 - 1e-9 else (1 - self._tokens) / self.rate
        wait = max(wait, self._last_start + CATCH_UP_GAP / self.rate - now)
        busy = self._in_flight + len(self._answers)
        if busy >= self.window_limit:
            expiring = busy - self.window_limit  # the answers that must leave the window first
            if expiring >= len(self._answers):  # all in flight: wait for one to be answered
                return max(wait, self.window / self.window_limit)
            wait = max(wait, self._answers[expiring] + self.window - now)
        return max(wait, 0.0)

    def started(self, now: float) -> None:
        """A message starts at `now`; `answered` must follow, also when it fails."""
        self._fill(now)
        self._tokens -= 1
        self._last_start = now
        self._in_flight += 1

    def answered(self, now: float) -> None:
        """A started message got its answer (or failed) at `now`."""
        self._in_flight = max(0, self._in_flight - 1)
        bisect.insort(self._answers, now)

    def _fill(self, now: float) -> None:
        if self._filled_at == -math.inf:
            self._tokens = 1.0
        else:
            grown = self._tokens + (now - self._filled_at) * self.rate
            self._tokens = min(float(self.burst), grown)
        self._filled_at = now
