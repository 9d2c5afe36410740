"""bot.health's rules on values: what a success or a failure records, when and how the admin
is told. (The same rules at work in a whole poll: tests/test_pipeline.py; the backoff's:
tests/test_fetch.py.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.health import (
    alerts_now,
    describe,
    failed,
    failure_alert,
    held_back,
    recovery_alert,
    succeeded,
    surprise_alert,
)
from bot.model import CacheHeaders, FeedHealth, FetchResult

NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)


# --- what a poll records ---


def test_a_success_clears_the_streak_and_keeps_the_validators() -> None:
    streak = FeedHealth("hp", consecutive_failures=4, last_error="boom", alerted=True)
    page = FetchResult(url="https://x/", status=200, cache=CacheHeaders(etag='"e"'))
    after = succeeded(streak, NOW, page, 600)
    assert (after.consecutive_failures, after.last_error, after.alerted) == (0, None, False)
    assert after.next_poll_at == NOW + timedelta(seconds=600) and after.cache.etag == '"e"'
    assert after.seeded and after.last_full_fetch_at == NOW and after.last_success_at == NOW


def test_a_304_keeps_the_time_of_the_last_full_fetch() -> None:
    earlier = NOW - timedelta(hours=1)
    health = FeedHealth("hp", seeded=True, last_full_fetch_at=earlier)
    after = succeeded(health, NOW, FetchResult(url="https://x/", status=304), 60)
    assert after.last_full_fetch_at == earlier


def test_a_failure_counts_and_remembers_the_alert() -> None:
    after = failed(FeedHealth("hp", consecutive_failures=2), NOW, "hp: down", 1200, alerted=True)
    assert (after.consecutive_failures, after.last_error, after.alerted) == (3, "hp: down", True)
    assert after.next_poll_at == NOW + timedelta(seconds=1200) and after.last_poll_at == NOW
    assert failed(after, NOW, "hp: down", 1, alerted=False).alerted  # the streak's alert stays


def test_the_admin_is_alerted_once_per_streak() -> None:
    rules = {"alert_after_failures": 3, "markup_changed": False, "at_once": False}
    assert not alerts_now(FeedHealth("hp", consecutive_failures=1), **rules)
    assert alerts_now(FeedHealth("hp", consecutive_failures=2), **rules)  # the third failure
    assert not alerts_now(FeedHealth("hp", consecutive_failures=2, alerted=True), **rules)
    assert alerts_now(FeedHealth("hp"), **{**rules, "markup_changed": True})
    assert alerts_now(FeedHealth("hp"), **{**rules, "at_once": True})


def test_alert_texts_name_the_feed_once() -> None:
    assert failure_alert("hp", "hp: page gone") == "⚠️ hp: page gone"
    assert failure_alert("hp", "page gone") == "⚠️ hp: page gone"
    assert recovery_alert(FeedHealth("hp")) is None
    assert recovery_alert(FeedHealth("hp", consecutive_failures=5, alerted=True)) == (
        "✅ hp: polling works again (after 5 failures)")


def test_surprises_need_history_and_new_items() -> None:
    seeded = FeedHealth("hp", seeded=True)
    assert surprise_alert("hp", "https://x/", FeedHealth("hp"), 10, 10, flood=True) is None
    assert surprise_alert("hp", "https://x/", seeded, 10, 0, flood=False) is None
    assert surprise_alert("hp", "https://x/", seeded, 10, 3, flood=False) is None
    flood = surprise_alert("hp", "https://x/", seeded, 10, 9, flood=True)
    assert flood is not None and "9 of 10 items" in flood and "none announced" in flood
    gap = surprise_alert("hp", "https://x/", seeded, 4, 4, flood=False)
    assert gap is not None and "every item read from https://x/ is new" in gap


def test_the_flood_mark_is_set_and_cleared() -> None:
    marked = held_back(FeedHealth("hp"), NOW, 12, flood=True)
    assert (marked.held_back_at, marked.held_back_items) == (NOW, 12)
    cleared = held_back(marked, NOW, 2, flood=False)
    assert (cleared.held_back_at, cleared.held_back_items) == (None, 0)


def test_an_error_is_described_short() -> None:
    assert describe(ValueError("bad")) == "ValueError: bad"
    long = describe(RuntimeError("x" * 1000))
    assert len(long) == 300 and long.endswith("…")
