"""A feed's state in words, where people look: the index page and the feed itself.

Pure: from the store's FeedHealth record (and when the feed's newest item arrived), which state
the feed is in and one short paragraph saying so in Vietnamese or English, with the times in the
feed's time zone and the last error as the admin reads it. /healthz says the same in JSON
(`feed_status`, `overall_status`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, Literal

from bot.model import FeedHealth

Language = Literal["vi", "en"]
# waiting: never polled yet; ok; held: the last new items were held back by the flood guard;
# retrying: failing since a success; never: every poll so far failed.
StateKind = Literal["waiting", "ok", "held", "retrying", "never"]
ERROR_CHARS = 300  # an error line is one line, but a hostile page could make it long

TEXTS: dict[Language, dict[StateKind | str, str]] = {
    "vi": {
        "waiting": "Chưa đọc trang nguồn lần nào; lần đọc đầu tiên: {next}.",
        "ok": "Hoạt động bình thường · tin mới gần nhất: {last_new} · đọc được lần cuối: "
              "{last_success}.",
        "held": "Tạm giữ thông báo (chống tràn): {held} tin mới xuất hiện cùng lúc ({held_at}) "
                "đã vào nguồn tin nhưng không được gửi qua Telegram; tin mới sau đó được gửi "
                "bình thường · đọc được lần cuối: {last_success}.",
        "retrying": "Đang thử lại: chưa đọc được từ sau {last_success} ({failures} lần lỗi liên "
                    "tiếp). Lỗi gần nhất: {error} Lần thử tới: {next}.",
        "never": "Chưa đọc được trang nguồn lần nào ({failures} lần thử). Lỗi gần nhất: {error} "
                 "Lần thử tới: {next}.",
        "none": "chưa có",
        "soon": "sắp tới",
        "feed_waiting": "Chưa có tin: newsbot chưa đọc trang nguồn lần nào (lần đọc đầu tiên: "
                        "{next}).",
        "feed_never": "Chưa có tin: newsbot chưa đọc được trang nguồn lần nào ({failures} lần "
                      "thử; lỗi gần nhất: {error} Lần thử tới: {next}).",
    },
    "en": {
        "waiting": "Not read yet; first read: {next}.",
        "ok": "OK · last new item: {last_new} · last successful read: {last_success}.",
        "held": "Alerts held back by the flood guard: {held} new items appeared at once "
                "({held_at}) and are in the feed, but were not sent to Telegram; later new items "
                "are sent as usual · last successful read: {last_success}.",
        "retrying": "Retrying: not read since {last_success} ({failures} failures in a row). "
                    "Last error: {error} Next try: {next}.",
        "never": "Never read successfully yet ({failures} tries). Last error: {error} "
                 "Next try: {next}.",
        "none": "none yet",
        "soon": "soon",
        "feed_waiting": "No items yet: newsbot has not read the source page yet (first read: "
                        "{next}).",
        "feed_never": "No items yet: newsbot has not managed to read the source page "
                      "({failures} tries; last error: {error} Next try: {next}).",
    },
}


@dataclass(frozen=True)
class FeedState:
    """Which state a feed is in, with what the words about it need."""

    kind: StateKind
    health: FeedHealth
    last_new_at: datetime | None = None  # when the newest item was first seen

    @property
    def failing(self) -> bool:
        return self.kind in ("retrying", "never")


def feed_state(health: FeedHealth, last_new_at: datetime | None = None) -> FeedState:
    """The state a health record shows: the last poll's outcome first, then what came before."""
    if health.consecutive_failures > 0:
        kind: StateKind = "retrying" if health.last_success_at else "never"
    elif health.last_success_at is None:
        kind = "waiting"
    elif health.held_back_at is not None:
        kind = "held"
    else:
        kind = "ok"
    return FeedState(kind, health, last_new_at)


def describe(state: FeedState, lang: Language, zone: tzinfo) -> str:
    """The state in one short paragraph (plain text: escape it for HTML)."""
    return TEXTS[lang][state.kind].format(**_fields(state.health, state.last_new_at, lang, zone))


def empty_feed_note(health: FeedHealth, lang: Language, zone: tzinfo) -> str | None:
    """What an empty feed says about itself before its first successful read; None after."""
    if health.last_success_at is not None:
        return None
    key = "feed_never" if health.consecutive_failures else "feed_waiting"
    return TEXTS[lang][key].format(**_fields(health, None, lang, zone))


def _fields(
    health: FeedHealth, last_new_at: datetime | None, lang: Language, zone: tzinfo
) -> dict[str, object]:
    text = TEXTS[lang]

    def when(moment: datetime | None, missing: str = "none") -> str:
        return moment.astimezone(zone).strftime("%d/%m/%Y %H:%M") if moment else text[missing]

    error = " ".join((health.last_error or "").split())
    if len(error) > ERROR_CHARS:
        error = error[: ERROR_CHARS - 1] + "…"
    if error and not error.endswith((".", "!", "?", ")")):
        error += "."
    return {
        "next": when(health.next_poll_at, "soon"),
        "last_new": when(last_new_at),
        "last_success": when(health.last_success_at),
        "failures": health.consecutive_failures,
        "error": error,
        "held": health.held_back_items,
        "held_at": when(health.held_back_at),
    }


def overall_status(feeds: Iterable[Mapping[str, Any]]) -> str:
    """/healthz's top line: "failing" (HTTP 503) when every feed is, "degraded" when any feed's
    last poll failed, else "ok"."""
    statuses = [feed["status"] for feed in feeds]
    if statuses and all(status == "failing" for status in statuses):
        return "failing"
    if any(status in ("retrying", "failing") for status in statuses):
        return "degraded"
    return "ok"


def feed_status(health: FeedHealth, alert_after_failures: int) -> dict[str, Any]:
    """One feed's entry in /healthz: `status` for monitors (failing: as many failures in a row
    as alert the admin), `state` as the index page words it."""
    if health.last_poll_at is None:
        status = "pending"
    elif health.consecutive_failures == 0:
        status = "ok"
    elif health.consecutive_failures < alert_after_failures:
        status = "retrying"
    else:
        status = "failing"
    return {
        "status": status,
        "last_poll_at": _iso(health.last_poll_at),
        "last_success_at": _iso(health.last_success_at),
        "last_error": health.last_error,
        "consecutive_failures": health.consecutive_failures,
        "next_poll_at": _iso(health.next_poll_at),
        "state": feed_state(health).kind,
        "never_succeeded": health.last_success_at is None,
        "held_back_at": _iso(health.held_back_at),
        "held_back_items": health.held_back_items,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
