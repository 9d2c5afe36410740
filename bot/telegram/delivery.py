"""Draining the outbox to Telegram: paced, oldest first, never losing a message.

The outbox (store) is the single source of truth. A row is marked sent only after the Sender
returned, so a crash between the two resends it: delivery is at least once.

Pacing (bot.telegram.pacing) keeps Telegram's overall limit: overall_per_second on average, a
late start caught up by a few quicker ones, never a 31st send while 30 are in flight or were
answered within the last second; at least `private_gap` apart in one private chat and
60/group_per_minute apart in one group or channel.
Chats are served concurrently (at most `concurrency` requests in flight); within a chat messages
go one at a time, in order.

What each Sender error does:
    RecipientGone      the chat is deactivated; its rows stay for if it comes back
    ChatMoved          the store moves the chat, the message is resent to the new id
    RateLimited        the chat's rows wait retry_after (capped); a limit that looks bot-wide
                       (on a private chat, or a second chat in one round) pauses every send
    MessageRejected    resent once as plain text, then dead-lettered with the error
    TransientDelivery  retried later with exponential backoff, dead-lettered after max_attempts;
                       a streak of them (an outage) ends the round
    TopicGone          the forum topic was deleted: the chat's feeds move to the chat itself
                       and the message is resent there
After an outage nothing floods: at most max_per_chat_per_round items per (chat, feed) are sent
in one round; the rest become one "… and N more" message. Items older than max_age are skipped.

Which rows go now, fold into "… and N more", wait or go out as a digest is planned by the pure
bot.telegram.rounds, at send time, from the chat's settings (quiet hours and digests,
bot.telegram.digest), each row's creation time and `now`: a held row simply stays pending.
When the window ends (or at the digest time) the rows it held go out as one digest per chat and
topic (split under 4096 characters); each digest message's rows are marked sent together,
after Telegram accepted it. A crash in between resends that digest once; no row is ever lost.
Rows matching one of the chat's urgent keywords are never held. Edit notices (kind "edit")
are sent like items.

Attachments are best-effort extras: once an item's message is accepted and its row marked sent,
up to MAX_DOCUMENTS of its files follow as documents (Telegram fetches each URL itself, up to
20 MB). A file Telegram refuses (a bad URL, too big) is logged and skipped, since the message
links it; nothing about a file is retried and the item message is never resent for it. A crash
between the message and its files skips the files that were not sent yet.

Beside it: the Sender and Outbox it works with (bot.telegram.outbox), the message a job is sent as
(bot.telegram.jobtext), the pure planning of a round (bot.telegram.rounds).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.errors import (
    ChatMoved,
    DeliveryError,
    MessageRejected,
    RateLimited,
    RecipientGone,
    TopicGone,
    TransientDelivery,
)
from bot.failpoints import failpoint
from bot.model import ChatKind, ChatSettings, Delivery
from bot.telegram import rounds
from bot.telegram.feedinfo import FeedInfo
from bot.telegram.jobtext import render_job
from bot.telegram.messages import (
    format_document_caption,
    safe_href,
    to_plain_text,
)
from bot.telegram.outbox import DeliveryStats, Outbox, Sender
from bot.telegram.pacing import DEFAULT_PACING, Pacer, Pacing, RoundOver
from bot.telegram.rounds import ChatView, Job

__all__ = ["Deliverer", "Pacing"]

logger = logging.getLogger(__name__)
MAX_DOCUMENTS = 3  # files sent after one item's message; the message links every one


@dataclass
class _ChatState:
    """A chat while its jobs are sent: a group that moves gets a new id, topics may vanish."""

    chat_id: int
    kind: ChatKind
    language: str
    jobs: list[Job] = field(default_factory=list)
    gone_threads: set[int] = field(default_factory=set)
    settings: ChatSettings | None = None  # its /format and link-preview choice


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Deliverer:
    """Sends what the outbox holds, paced, and records every outcome in the store."""

    def __init__(
        self,
        store: Outbox,
        sender: Sender,
        feeds: Mapping[str, FeedInfo],
        pacing: Pacing = DEFAULT_PACING,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        pacer: Pacer | None = None,
        now: Callable[[], datetime] = _utc_now,
        max_age: timedelta | None = timedelta(days=3),
        photos: bool = True,
        previews: bool = False,
        send_documents: bool = True,
        may_send: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self._may_send = may_send  # asked before each batch: is this still the one sender?
        self._sender = sender
        self._feeds = feeds
        self._pacing = pacing
        # Shared with the command replies when given (bot.telegram.pacing): one pace per chat.
        self._pacer = pacer or Pacer(pacing, clock=clock, sleep=sleep)
        self._clock = self._pacer.clock
        self._now = now
        self._max_age = max_age
        self._photos = photos
        self._previews = previews
        self._send_documents = send_documents
        self._due_at: float | None = None
        self._halted = False
        self._transient_streak = 0
        self._rate_limited_chats: set[int] = set()
        self._counted: Counter[tuple[int, str]] = Counter()  # rows sent one by one per (chat, feed)

    # ------------------------------------------------------------------ rounds

    async def drain(self) -> DeliveryStats:
        """Send what is pending now, paced; returns what happened."""
        stats = DeliveryStats()
        self._halted = False
        self._due_at = None
        self._rate_limited_chats.clear()
        self._counted = Counter()
        after_id = 0  # each row is looked at once per drain; held rows don't hide later ones
        while not self._stopped() and self._may_send():
            rows = self._store.pending(self._now(), self._pacing.batch, after_id=after_id)
            if not rows:
                break
            after_id = rows[-1].delivery_id
            chats = self._plan(rows, stats)
            async with asyncio.TaskGroup() as group:
                for state in chats:
                    group.create_task(self._serve_chat(state, stats))
        return stats

    async def run(self, wake: asyncio.Event) -> None:
        """Drain, then wait for `wake`, the next retry time or idle_poll; until cancelled."""
        while True:
            wake.clear()
            try:
                stats = await self.drain()
                if dataclasses.replace(stats, held=0) != DeliveryStats():
                    logger.info("delivery round: %s", stats)
            except Exception:
                retry_in = self._pacing.seconds(self._pacing.idle_poll)
                logger.exception("delivery round failed; retrying in %s s", retry_in)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._seconds_to_next_round())

    def _seconds_to_next_round(self) -> float:
        now = self._clock()
        wait = self._pacing.seconds(self._pacing.idle_poll)
        if self._pacer.paused_until > now:
            wait = self._pacer.paused_until - now
        elif self._due_at is not None:
            wait = min(wait, self._due_at - now)
        return max(wait, 0.05)

    def _stopped(self) -> bool:
        return self._halted or self._pacer.paused()

    # ------------------------------------------------------------------ planning

    def _plan(self, rows: Sequence[Delivery], stats: DeliveryStats) -> list[_ChatState]:
        """Look up the rows' chats, let bot.telegram.rounds plan, record what it skipped."""
        now = self._now()
        views = {chat_id: self._view(chat_id) for chat_id in dict.fromkeys(r.chat_id for r in rows)}
        planned = rounds.plan_round(rows, views, self._feeds, now,
                                    max_per_feed=self._pacing.max_per_chat_per_round,
                                    max_age=self._max_age, counted=self._counted)
        self._counted = planned.counted
        if planned.stale:
            self._store.mark_sent_many(planned.stale, now)
        stats.skipped += len(planned.stale)
        stats.held += planned.held
        return [_ChatState(c.chat.chat_id, c.chat.kind, c.chat.language, list(c.jobs),
                           settings=c.chat.settings) for c in planned.chats]

    def _view(self, chat_id: int) -> ChatView:
        chat = self._store.chat(chat_id)
        if chat is None:
            return ChatView.unknown(chat_id)
        return ChatView(chat_id, chat.kind, chat.language, chat.paused,
                        settings=self._store.chat_settings(chat_id))

    # ------------------------------------------------------------------ one chat

    async def _serve_chat(self, state: _ChatState, stats: DeliveryStats) -> None:
        for job in state.jobs:
            if self._stopped() or not await self._run_job(state, job, stats):
                return

    async def _run_job(self, state: _ChatState, job: Job, stats: DeliveryStats) -> bool:
        """Send one job and record the outcome; False: leave this chat's other rows for later."""
        for _ in range(2):  # a second go only after the group moved to a new id
            try:
                thread_id = await self._send_job(state, job, stats)
            except ChatMoved as moved:
                self._store.move_chat(state.chat_id, moved.new_chat_id)
                logger.info("chat %s moved to %s", state.chat_id, moved.new_chat_id)
                self._pacer.moved(state.chat_id, moved.new_chat_id)
                state.chat_id = moved.new_chat_id
                stats.moved += 1
                continue
            except DeliveryError as exc:
                return self._on_error(state, job, exc, stats)
            except RoundOver:
                return False
            self._transient_streak = 0
            failpoint("after_send_before_mark")
            self._store.mark_sent_many([row.delivery_id for row in job.rows], self._now())
            stats.sent += 1
            stats.folded += len(job.rows) if job.fold or job.digest else 0
            stats.digests += 1 if job.digest else 0
            return await self._send_attachments(state, job, thread_id, stats)
        return False

    async def _send_job(self, state: _ChatState, job: Job, stats: DeliveryStats) -> int | None:
        """Send to the row's forum topic; if the topic is gone, to the chat itself. Returns the
        topic the message went to."""
        thread_id = job.thread_id
        if thread_id is not None and thread_id not in state.gone_threads:
            try:
                await self._send_to(state, job, stats, thread_id)
                return thread_id
            except TopicGone as exc:
                logger.warning("topic %s of chat %s is gone (%s); sending to the chat",
                               thread_id, state.chat_id, exc)
                self._store.forget_thread(state.chat_id, thread_id)
                state.gone_threads.add(thread_id)
        await self._send_to(state, job, stats, None)
        return None

    async def _send_attachments(
        self, state: _ChatState, job: Job, thread_id: int | None, stats: DeliveryStats
    ) -> bool:
        """After an item's message was accepted (and marked sent): its first files as documents,
        best effort. False: leave this chat's other rows for later (rate limit, chat gone)."""
        row = job.rows[0]
        send = getattr(self._sender, "send_document", None)  # Senders from before documents
        if not self._send_documents or send is None or job.fold or job.digest is not None:
            return True
        if row.kind != "item":
            return True
        files = [(href, a) for a in row.item.attachments if (href := safe_href(a.url))]
        topic: dict[str, Any] = {} if thread_id is None else {"thread_id": thread_id}
        for href, attachment in files[:MAX_DOCUMENTS]:
            caption = format_document_caption(row.item, attachment)
            try:
                await self._paced(state, send(state.chat_id, href, caption, **topic))
            except RoundOver:
                return False
            except DeliveryError as exc:
                stats.documents_failed += 1
                logger.warning("file %s of delivery %s not sent to chat %s (%s); the message "
                               "links it", href, row.delivery_id, state.chat_id, exc)
                if isinstance(exc, MessageRejected) and not isinstance(exc, TopicGone):
                    continue  # this file: a bad URL, too big
                if isinstance(exc, (TransientDelivery, ChatMoved, TopicGone)):
                    return True  # the rest of this item's files are skipped, never retried
                # Gone, rate limited, bad token: handled as for a message (the row stays sent).
                return self._on_error(state, job, exc, stats)
            stats.documents += 1
        return True

    async def _send_to(
        self, state: _ChatState, job: Job, stats: DeliveryStats, thread_id: int | None
    ) -> None:
        """Send, falling back from photo to text to plain text when Telegram rejects the markup."""
        html_text, photo, caption = render_job(
            job, self._feeds, state.language, state.settings, photos=self._photos
        )
        chat_id = state.chat_id
        # Only a topic message names its thread (Senders written before topics keep working).
        topic: dict[str, Any] = {} if thread_id is None else {"thread_id": thread_id}
        if photo is not None:
            try:
                await self._paced(
                    state, self._sender.send_photo(chat_id, photo, caption, **topic)
                )
                return
            except TopicGone:
                raise
            except MessageRejected as exc:
                logger.warning("photo rejected in chat %s (%s); sending text", chat_id, exc)
        try:
            await self._paced(
                state,
                self._sender.send_text(chat_id, html_text, preview=self._preview(state), **topic),
            )
            return
        except TopicGone:
            raise
        except MessageRejected as exc:
            logger.error(
                "Telegram rejected HTML for delivery %s (%s); resending as plain text",
                job.rows[0].delivery_id,
                exc,
            )
            stats.plain_fallbacks += 1
        await self._paced(
            state, self._sender.send_plain(chat_id, to_plain_text(html_text), **topic)
        )

    def _preview(self, state: _ChatState) -> bool:
        """The chat's link-preview choice, else the bot's default."""
        chosen = state.settings.preview if state.settings else None
        return self._previews if chosen is None else chosen

    # ------------------------------------------------------------------ pacing

    async def _paced(self, state: _ChatState, send: Coroutine[Any, Any, None]) -> None:
        """Run `send` in the chat's turn (bot.telegram.pacing); RoundOver when a pause or an
        outage began while it waited."""
        await self._pacer.send(state.chat_id, state.kind, send, stopped=self._stopped)

    # ------------------------------------------------------------------ errors

    def _on_error(
        self, state: _ChatState, job: Job, exc: DeliveryError, stats: DeliveryStats
    ) -> bool:
        chat_id = state.chat_id
        if isinstance(exc, RecipientGone):
            logger.info("chat %s is gone (%s); deactivating it", chat_id, exc)
            self._store.set_chat(chat_id, active=False)
            stats.deactivated += 1
            return False
        if isinstance(exc, RateLimited):
            self._rate_limited(state, exc.retry_after, stats)
            return False
        if isinstance(exc, MessageRejected):
            for row in job.rows:
                logger.error(
                    "delivery %s to chat %s failed for good: %s", row.delivery_id, chat_id, exc
                )
                self._store.mark_failed(row.delivery_id, str(exc))
            stats.failed += len(job.rows)
            return True
        if isinstance(exc, TransientDelivery):
            return self._transient(state, job, exc, stats)
        logger.error("delivery stopped: %s", exc)
        self._halted = True
        return False

    def _rate_limited(self, state: _ChatState, retry_after: float, stats: DeliveryStats) -> None:
        wait = self._pacing.seconds(min(max(retry_after, 0.0), self._pacing.max_retry_after))
        self._store.defer_chat(state.chat_id, self._now() + timedelta(seconds=wait))
        self._note_due(wait)
        stats.deferred += 1
        self._rate_limited_chats.add(state.chat_id)
        self._pacer.hold(state.chat_id, wait)  # replies to the chat wait too
        if state.kind == "private" or len(self._rate_limited_chats) > 1:
            logger.warning("Telegram flood control: pausing all sends for %.1f s", wait)
            self._pacer.pause(wait)
        else:
            logger.warning("Telegram flood control on chat %s: waiting %.1f s", state.chat_id, wait)

    def _transient(
        self, state: _ChatState, job: Job, exc: DeliveryError, stats: DeliveryStats
    ) -> bool:
        self._transient_streak += 1
        if self._transient_streak >= self._pacing.outage_after:
            logger.warning("Telegram unreachable (%s); ending this round", exc)
            self._halted = True
        keep_order = False
        for row in job.rows:
            attempts = row.attempts + 1
            if attempts >= self._pacing.max_attempts:
                logger.error(
                    "delivery %s failed after %d attempts: %s", row.delivery_id, attempts, exc
                )
                self._store.mark_failed(row.delivery_id, str(exc))
                stats.failed += 1
                continue
            delay = self._pacing.seconds(
                min(self._pacing.backoff_base * 2 ** (attempts - 1), self._pacing.backoff_max)
            )
            not_before = self._now() + timedelta(seconds=delay)
            self._store.retry_later(row.delivery_id, not_before, str(exc))
            # The chat's later rows wait too, so they do not overtake this one.
            self._store.defer_chat(state.chat_id, not_before)
            self._note_due(delay)
            stats.retried += 1
            keep_order = True
        return not keep_order

    def _note_due(self, seconds: float) -> None:
        due = self._clock() + seconds
        self._due_at = due if self._due_at is None else min(self._due_at, due)
