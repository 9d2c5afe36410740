"""Rules on a feed's polling health (`FeedHealth`): values in, values out.

What a successful or a failed poll records (the delay until the next poll comes from
bot.backoff), when the admin is told and in which words, and when a page looks like a flood.
The pipeline does the I/O around these rules (reading and saving the health, sending the
alerts, logging).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from bot.model import FeedHealth, FetchResult

FLOOD_MIN_ITEMS = 5  # flood guard: more unseen items than max(this, FLOOD_SHARE of the page)...
FLOOD_SHARE = 0.5  # ...on a feed with history are held back (a redesign that changed every URL)
MAX_ERROR_CHARS = 300  # an unexpected error's text in health, alerts and reports


def is_flood(health: FeedHealth, unseen: int, on_page: int) -> bool:
    """Too many unseen items at once on a feed with history: store them, announce none."""
    return health.seeded and unseen > max(FLOOD_MIN_ITEMS, on_page * FLOOD_SHARE)


def describe(exc: BaseException) -> str:
    """`ValueError: text`, cut short: an exception's text may quote a whole page."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def succeeded(health: FeedHealth, now: datetime, page: FetchResult, delay: float) -> FeedHealth:
    """The health after a successful poll whose main page was `page`, next due in `delay` s."""
    return replace(
        health,
        last_poll_at=now,
        last_success_at=now,
        last_error=None,
        consecutive_failures=0,
        next_poll_at=now + timedelta(seconds=delay),
        cache=page.cache,
        seeded=True,
        last_full_fetch_at=health.last_full_fetch_at if page.not_modified else now,
        alerted=False,
    )


def recovery_alert(health: FeedHealth) -> str | None:
    """The admin's news that a streak they were alerted about is over (None: nothing to say)."""
    if not health.alerted:
        return None
    failures = health.consecutive_failures
    return f"✅ {health.feed_id}: polling works again (after {failures} failures)"


def alerts_now(
    health: FeedHealth, *, alert_after_failures: int, markup_changed: bool, at_once: bool
) -> bool:
    """Whether this failure alerts the admin: once per failure streak, at the N-th failure, or
    at once for a markup change (it will not fix itself) or a bug (`at_once`)."""
    failures = health.consecutive_failures + 1
    return not health.alerted and (failures >= alert_after_failures or markup_changed or at_once)


def failure_alert(feed_id: str, error: str) -> str:
    """The admin's alert for a failed poll, naming the feed once."""
    return f"⚠️ {error}" if error.startswith(f"{feed_id}:") else f"⚠️ {feed_id}: {error}"


def failed(
    health: FeedHealth, now: datetime, error: str, delay: float, *, alerted: bool
) -> FeedHealth:
    """The health after a failed poll, next due in `delay` s; `alerted`: the admin was told."""
    return replace(
        health,
        last_poll_at=now,
        last_error=error,
        consecutive_failures=health.consecutive_failures + 1,
        next_poll_at=now + timedelta(seconds=delay),
        alerted=health.alerted or alerted,
    )


def held_back(health: FeedHealth, now: datetime, new_items: int, *, flood: bool) -> FeedHealth:
    """The flood guard's mark after a poll that stored `new_items` (> 0) new items."""
    return replace(health, held_back_at=now if flood else None,
                   held_back_items=new_items if flood else 0)


def surprise_alert(
    feed_id: str, listing_url: str, health: FeedHealth, read: int, new_items: int, *, flood: bool
) -> str | None:
    """The admin's alert about a flood held back, or a page with nothing known left on it
    (`read` distinct items on the page, `new_items` of them new); None: nothing to say."""
    if not health.seeded or not new_items:
        return None
    if flood:
        return (f"⚠️ {feed_id}: {new_items} of {read} items on the page are new at once (a "
                "redesign that changed every link?): stored and published, none announced. "
                "Later polls announce normally.")
    if new_items == read:
        return (f"⚠️ {feed_id}: every item read from {listing_url} is new: articles published "
                "in between may have been missed (a [list] next_page lets newsbot read on)")
    return None
