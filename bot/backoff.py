"""When to poll a source next: the server's hints (Cache-Control max-age, Retry-After) and the
backoff after failures. Pure: no clock of its own, no I/O.
"""

from __future__ import annotations

import email.utils
import random
import re
from datetime import UTC, datetime

RETRY_AFTER_LIMIT = 24 * 3600.0  # a Retry-After beyond a day is taken as a day
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
