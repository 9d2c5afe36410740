"""Which outbox rows go out in a delivery round, and as what: pure planning for the Deliverer.

Values in, values out; `now` is a parameter, nothing is read or written here. Given a batch of
pending rows and what the store says about their chats:
- a row older than `max_age` is stale: marked sent without being sent;
- a paused chat's rows wait; after /resume those created before it (`missed_before`) go out as
  one digest;
- quiet hours and digests (bot.telegram.digest) decide, per row, "send", "hold" (stays pending)
  or "digest" (rows created before the plan's cutoff go out as one digest per chat and topic,
  split under Telegram's length limit). A row matching an urgent keyword is never held;
- at most `max_per_feed` rows per (chat, feed) go out one by one in a drain; the rest become
  one "… and N more" message. `counted` carries that count from one batch to the next.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from bot import filters
from bot.model import ChatKind, ChatSettings, Delivery
from bot.telegram import digest
from bot.telegram.feedinfo import FeedInfo, feed_or_id
from bot.telegram.notices import DigestEntry, DigestReason, digest_parts

NO_PLAN = digest.Plan(hold=False)  # a chat without quiet hours or digests
Way = Literal["send", "hold", "digest", "missed"]


@dataclass(frozen=True)
class ChatView:
    """What planning needs to know about a chat (from the store)."""

    chat_id: int
    kind: ChatKind
    language: str = "vi"
    paused: bool = False
    settings: ChatSettings | None = None

    @staticmethod
    def unknown(chat_id: int) -> ChatView:
        """A chat the store has no row for (positive ids are users)."""
        return ChatView(chat_id, "private" if chat_id > 0 else "group")


@dataclass(frozen=True)
class Job:
    """One message: an item or edit notice (one row), a fold or a digest (many rows)."""

    rows: tuple[Delivery, ...]
    fold: bool = False  # one "… and N more" message standing for all rows
    digest: str | None = None  # the digest message (HTML) standing for all rows

    @property
    def thread_id(self) -> int | None:
        return self.rows[0].thread_id


@dataclass(frozen=True)
class ChatRound:
    """A chat's messages this round, in sending order."""

    chat: ChatView
    jobs: tuple[Job, ...]


@dataclass(frozen=True)
class Round:
    """The plan for one batch of rows."""

    chats: tuple[ChatRound, ...]
    stale: tuple[int, ...] = ()  # delivery ids too old to send: marked sent unsent
    held: int = 0  # rows left pending by quiet hours or a digest
    counted: Counter[tuple[int, str]] = field(default_factory=Counter)  # see plan_round


def plan_round(
    rows: Sequence[Delivery],
    chats: Mapping[int, ChatView],
    feeds: Mapping[str, FeedInfo],
    now: datetime,
    *,
    max_per_feed: int,
    max_age: timedelta | None,
    counted: Mapping[tuple[int, str], int] | None = None,
) -> Round:
    """Group rows by chat (oldest first), skip stale ones, hold or digest under the chat's
    settings, fold what exceeds `max_per_feed` per (chat, feed). `counted`: rows per (chat,
    feed) already planned one by one in this drain; the Round's `counted` adds this batch."""
    per_feed: Counter[tuple[int, str]] = Counter(counted or {})
    jobs: dict[int, list[Job]] = defaultdict(list)
    folds: dict[tuple[int, str], list[Delivery]] = defaultdict(list)
    digests: dict[tuple[int, int | None, DigestReason], list[Delivery]] = defaultdict(list)
    plans = {chat_id: _plan_of(view, now) for chat_id, view in chats.items()}
    stale: list[int] = []
    held = 0
    order: dict[int, None] = {}  # chats in the order of their oldest row
    for row in rows:
        if is_stale(row, now, max_age):
            stale.append(row.delivery_id)
            continue
        order.setdefault(row.chat_id)
        view = chats.get(row.chat_id) or ChatView.unknown(row.chat_id)
        if view.paused:
            continue  # its rows wait for /resume (or go stale)
        plan = plans.get(row.chat_id, NO_PLAN)
        way, row = row_way(view, plan, row)
        if way == "hold":
            held += 1
        elif way == "missed":
            digests[(row.chat_id, row.thread_id, "paused")].append(row)
        elif way == "digest":
            digests[(row.chat_id, row.thread_id, plan.reason or "quiet")].append(row)
        else:
            key = (row.chat_id, row.item.feed_id)
            per_feed[key] += 1
            if per_feed[key] <= max_per_feed:
                jobs[row.chat_id].append(Job((row,)))
            else:
                folds[key].append(row)
    for (chat_id, _), folded in folds.items():
        jobs[chat_id].append(Job(tuple(folded), fold=True))
    for (chat_id, _, reason), batch in reversed(digests.items()):
        view = chats.get(chat_id) or ChatView.unknown(chat_id)
        jobs[chat_id][:0] = digest_jobs(view.language, reason, batch, feeds)  # oldest first
    planned = tuple(ChatRound(chats.get(c) or ChatView.unknown(c), tuple(jobs[c]))
                    for c in order if jobs.get(c))
    return Round(planned, tuple(stale), held, per_feed)


def row_way(view: ChatView, plan: digest.Plan, row: Delivery) -> tuple[Way, Delivery]:
    """"send", "hold", "digest" or "missed" (came during a pause) for a row under the chat's
    plan. An urgent row is sent at once, showing the urgent keyword that let it through."""
    missed = view.settings.missed_before if view.settings else None
    if missed is not None and row.created_at is not None and row.created_at < missed:
        return "missed", row
    if not plan.hold and plan.cutoff is None:
        return "send", row
    urgent = urgent_keyword(view.settings, row)
    if urgent is not None:
        return "send", dataclasses.replace(row, matched=urgent)
    created_at = row.created_at
    if plan.cutoff is not None and created_at is not None and created_at < plan.cutoff:
        return "digest", row
    return ("hold" if plan.hold else "send"), row


def urgent_keyword(settings: ChatSettings | None, row: Delivery) -> str | None:
    """The chat's first urgent keyword the row's item matches (items only, not edits)."""
    if row.kind != "item" or settings is None or not settings.urgent:
        return None
    return digest.urgent_keyword(settings.urgent, filters.item_text(row.item))


def digest_jobs(
    language: str,
    reason: DigestReason,
    rows: Sequence[Delivery],
    feeds: Mapping[str, FeedInfo],
) -> list[Job]:
    """One job per digest message; each message's rows are marked sent together."""
    by_id = {row.delivery_id: row for row in rows}
    entries = []
    for row in rows:
        feed = feed_or_id(feeds, row.item.feed_id)
        entries.append(DigestEntry(row.delivery_id, feed.title, row.item.title, row.item.url,
                                   row.item.date, feed.timezone, edited=row.kind == "edit"))
    parts = digest_parts(entries, reason, language)
    return [Job(tuple(by_id[key] for key in part.keys), digest=part.html) for part in parts]


def is_stale(row: Delivery, now: datetime, max_age: timedelta | None) -> bool:
    """Whether the row's item is older than `max_age` (None: nothing is too old)."""
    date = row.item.date
    return max_age is not None and date is not None and date < now - max_age


def _plan_of(view: ChatView, now: datetime) -> digest.Plan:
    return NO_PLAN if view.settings is None else digest.plan(view.settings, now)
