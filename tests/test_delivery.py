"""Outbox draining against the real Store (SQLite in memory) and a recording Sender, fake clock."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from fakes.delivery_kit import Recorder, Wall, make_deliverer

from bot.errors import (
    ChatMoved,
    DeliveryError,
    MessageRejected,
    RateLimited,
    RecipientGone,
    TopicGone,
    TransientDelivery,
)
from bot.model import Attachment, Chat, ChatKind, Item, Recipe
from bot.store.db import Store
from bot.telegram.delivery import Deliverer, Pacing
from bot.telegram.feedinfo import feed_infos
from bot.telegram.outbox import DeliveryStats
from bot.telegram.pacer import BURST

BASE = datetime(2024, 11, 28, 7, 0, tzinfo=UTC)
FEEDS = {
    feed_id: Recipe(feed_id, f"Feed {feed_id}", (f"https://{feed_id}.gov.vn/tin",))
    for feed_id in ("hp", "hn", "dn")
}
BOT_FEEDS = feed_infos(FEEDS)


class Clock:
    """Virtual monotonic time: sleepers wake in time order, the clock jumps to the next one."""

    def __init__(self) -> None:
        self.t = 1000.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._driver: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.t + seconds, next(self._seq), wake))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        await wake

    async def _drive(self) -> None:
        while self._sleepers:
            for _ in range(20):  # let every runnable task reach its next sleep
                await asyncio.sleep(0)
            wake_at, _, wake = heapq.heappop(self._sleepers)
            self.t = max(self.t, wake_at)
            wake.set_result(None)

    def now(self) -> datetime:
        return BASE + timedelta(seconds=self.t - 1000.0)


@dataclass
class Attempt:
    t: float
    method: str
    chat_id: int
    text: str
    ok: bool
    pending_then: int  # outbox rows still pending when the sender was called


@dataclass
class RecordingSender:
    clock: Clock
    store: Store
    attempts: list[Attempt] = field(default_factory=list)
    script: dict[tuple[str, int], list[DeliveryError]] = field(default_factory=dict)
    forever: dict[tuple[str, int], DeliveryError] = field(default_factory=dict)
    latency: float = 0.0  # how long each call takes, in clock seconds
    in_flight: int = 0
    max_in_flight: int = 0

    def fail(self, method: str, chat_id: int, *errors: DeliveryError) -> None:
        self.script.setdefault((method, chat_id), []).extend(errors)

    def fail_always(self, method: str, chat_id: int, error: DeliveryError) -> None:
        self.forever[(method, chat_id)] = error

    @property
    def sent(self) -> list[Attempt]:
        return [a for a in self.attempts if a.ok]

    def texts_to(self, chat_id: int) -> list[str]:
        return [a.text for a in self.sent if a.chat_id == chat_id]

    async def _call(self, method: str, chat_id: int, text: str) -> None:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        await (self.clock.sleep(self.latency) if self.latency else asyncio.sleep(0))
        self.in_flight -= 1
        error = self.forever.get((method, chat_id))
        queued = self.script.get((method, chat_id))
        if error is None and queued:
            error = queued.pop(0)
        pending = self.store.outbox_counts()["pending"]
        self.attempts.append(Attempt(self.clock(), method, chat_id, text, error is None, pending))
        if error is not None:
            raise error

    async def send_text(self, chat_id: int, html: str, *, preview: bool) -> None:
        await self._call("text", chat_id, html)

    async def send_photo(self, chat_id: int, photo_url: str, caption_html: str) -> None:
        await self._call("photo", chat_id, f"{photo_url}|{caption_html}")

    async def send_plain(self, chat_id: int, text: str) -> None:
        await self._call("plain", chat_id, text)

    async def send_document(self, chat_id: int, url: str, caption_html: str) -> None:
        await self._call("document", chat_id, f"{url}|{caption_html}")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender(clock: Clock, store: Store) -> RecordingSender:
    return RecordingSender(clock, store)


def deliverer(store: Store, sender: RecordingSender, clock: Clock, **pacing: float) -> Deliverer:
    return Deliverer(
        store,
        sender,
        BOT_FEEDS,
        Pacing(**pacing),  # type: ignore[arg-type]
        clock=clock,
        sleep=clock.sleep,
        now=clock.now,
    )


_counter = iter(range(1, 1_000_000))


def enqueue(
    store: Store,
    clock: Clock,
    chats: Sequence[int],
    count: int,
    *,
    feed_id: str = "hp",
    kind: ChatKind = "private",
    **fields: object,
) -> list[str]:
    """Store `count` new items of a feed and route each to every chat; returns their titles."""
    for chat_id in chats:
        if store.chat(chat_id) is None:
            store.upsert_chat(Chat(chat_id, kind=kind))
    items = []
    for _ in range(count):
        n = next(_counter)
        items.append(
            Item(
                **{
                    "title": f"Tin {n}",
                    **fields,
                    "feed_id": feed_id,  # type: ignore[arg-type]
                    "item_id": f"{feed_id}-{n}",
                    "url": f"https://{feed_id}.gov.vn/{n}",
                }
            )
        )
    store.add_items(feed_id, items, clock.now(), route=lambda item: [(c, None) for c in chats])
    return [item.title for item in items]


def titles(texts: Sequence[str]) -> list[str]:
    return [text.split("</b>")[0].removeprefix("<b>") for text in texts]


# ---------------------------------------------------------------- order and marking


async def test_sends_oldest_first_and_marks_only_after_send(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    sent_titles = enqueue(store, clock, [1], 3)
    stats = await deliverer(store, sender, clock).drain()
    assert titles(sender.texts_to(1)) == sent_titles
    assert [a.pending_then for a in sender.attempts] == [3, 2, 1]
    assert store.outbox_counts() == {"pending": 0, "sent": 3, "failed": 0}
    assert stats.sent == 3
    assert "Feed hp" in sender.sent[0].text and 'href="https://hp.gov.vn/' in sender.sent[0].text


async def test_a_second_drain_sends_nothing_again(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1, 2], 2)
    deliver = deliverer(store, sender, clock)
    await deliver.drain()
    assert (await deliver.drain()).sent == 0
    assert len(sender.sent) == 4


# ---------------------------------------------------------------- pacing


async def test_private_chats_get_one_message_a_second_and_no_global_burst(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1, 2, 3], 5)
    await deliverer(store, sender, clock).drain()
    assert len(sender.sent) == 15
    for chat_id in (1, 2, 3):
        times = [a.t for a in sender.sent if a.chat_id == chat_id]
        assert all(b - a >= 1.0 for a, b in itertools.pairwise(times))
    everything = [a.t for a in sender.sent]
    # At most the pacer's catch-up burst at one moment, at most 30 in any second.
    assert max(sum(1 for u in everything if t <= u < t + 1e-6) for t in everything) <= BURST
    assert max(sum(1 for u in everything if t <= u < t + 1.0) for t in everything) <= 30
    # Concurrent chats: 15 messages in about 5 s, not 15 s.
    assert everything[-1] - everything[0] < 5


async def test_groups_get_at_most_twenty_a_minute_spaced_evenly(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    for feed_id in FEEDS:
        enqueue(store, clock, [-100], 9, feed_id=feed_id, kind="supergroup")
    await deliverer(store, sender, clock).drain()
    times = [a.t for a in sender.sent]
    assert len(times) == 27
    assert all(b - a >= 3.0 for a, b in itertools.pairwise(times))
    assert max(sum(1 for u in times if t <= u < t + 60) for t in times) <= 20


async def test_pacing_carries_over_between_drains(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    deliver = deliverer(store, sender, clock)
    enqueue(store, clock, [1], 1)
    await deliver.drain()
    enqueue(store, clock, [1], 1)
    await deliver.drain()
    first, second = sender.sent
    assert second.t - first.t >= 1.0


async def test_concurrency_is_bounded(store: Store, sender: RecordingSender, clock: Clock) -> None:
    enqueue(store, clock, list(range(1, 21)), 1)
    sender.latency = 0.5
    await deliverer(store, sender, clock, concurrency=3).drain()
    assert len(sender.sent) == 20
    assert sender.max_in_flight == 3


# ---------------------------------------------------------------- folding and skipping


async def test_after_an_outage_a_chat_gets_ten_items_and_one_fold_message(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    sent_titles = enqueue(store, clock, [1], 15)
    stats = await deliverer(store, sender, clock).drain()
    texts = sender.texts_to(1)
    assert titles(texts[:10]) == sent_titles[:10]
    assert texts[10] == (
        '… và 5 tin khác từ Feed hp\n<a href="https://hp.gov.vn/tin">Xem tất cả</a>'
    )
    assert len(texts) == 11
    assert store.outbox_counts() == {"pending": 0, "sent": 15, "failed": 0}
    assert (stats.sent, stats.folded) == (11, 5)


async def test_fold_is_per_chat_and_feed_in_the_chat_language(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    store.upsert_chat(Chat(1, language="en"))
    enqueue(store, clock, [1], 12, feed_id="hp")
    enqueue(store, clock, [1], 3, feed_id="hn")
    await deliverer(store, sender, clock, max_per_chat_per_round=10).drain()
    texts = sender.texts_to(1)
    assert len(texts) == 10 + 3 + 1
    assert texts[-1].startswith("… and 2 more from Feed hp")


async def test_stale_items_are_marked_without_sending(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 2, published_at=BASE - timedelta(days=10))
    fresh = enqueue(store, clock, [1], 1, published_at=BASE - timedelta(hours=1))
    stats = await deliverer(store, sender, clock).drain()
    assert titles(sender.texts_to(1)) == fresh
    assert (stats.skipped, stats.sent) == (2, 1)
    assert store.outbox_counts()["pending"] == 0


async def test_paused_chats_wait(store: Store, sender: RecordingSender, clock: Clock) -> None:
    enqueue(store, clock, [1, 2], 1)
    store.set_chat(1, paused=True)
    await deliverer(store, sender, clock).drain()
    assert [a.chat_id for a in sender.sent] == [2]
    assert store.outbox_counts()["pending"] == 1


# ---------------------------------------------------------------- error paths


async def test_gone_recipient_is_deactivated_and_keeps_its_rows(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1, 2], 3)
    sender.fail("text", 1, RecipientGone("Forbidden: bot was blocked by the user"))
    stats = await deliverer(store, sender, clock).drain()
    chat = store.chat(1)
    assert chat is not None and not chat.active
    assert len(sender.texts_to(2)) == 3
    assert [a.chat_id for a in sender.attempts].count(1) == 1  # no more tries after the 403
    assert store.outbox_counts() == {"pending": 3, "sent": 3, "failed": 0}
    assert stats.deactivated == 1


async def test_moved_group_gets_the_message_at_its_new_id(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    sent_titles = enqueue(store, clock, [-5], 2, kind="group")
    sender.fail("text", -5, ChatMoved("upgraded", new_chat_id=-1005))
    stats = await deliverer(store, sender, clock).drain()
    assert titles(sender.texts_to(-1005)) == sent_titles
    assert store.chat(-5) is None and store.chat(-1005) is not None
    assert store.outbox_counts() == {"pending": 0, "sent": 2, "failed": 0}
    assert stats.moved == 1


async def test_group_rate_limit_defers_only_that_group(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [-7], 2, kind="group")
    enqueue(store, clock, [1], 2)
    sender.fail("text", -7, RateLimited("flood", retry_after=30))
    deliver = deliverer(store, sender, clock)
    stats = await deliver.drain()
    assert stats.deferred == 1
    assert len(sender.texts_to(1)) == 2 and sender.texts_to(-7) == []
    pending = store.pending(clock.now() + timedelta(seconds=31))
    assert [d.chat_id for d in pending] == [-7, -7]
    assert store.pending(clock.now() + timedelta(seconds=5)) == []
    clock.t += 31
    await deliver.drain()
    assert len(sender.texts_to(-7)) == 2


async def test_private_rate_limit_pauses_every_send(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 1)
    enqueue(store, clock, [2, 3], 3)
    sender.fail("text", 1, RateLimited("flood", retry_after=10))
    deliver = deliverer(store, sender, clock, concurrency=1)
    await deliver.drain()
    limited_at = sender.attempts[0].t
    assert len(sender.attempts) == 1  # nothing else went out inside the window
    assert (await deliver.drain()).sent == 0
    clock.t += 10
    await deliver.drain()
    assert all(a.t >= limited_at + 10 for a in sender.attempts[1:])
    assert len(sender.sent) == 7
    assert store.outbox_counts()["pending"] == 0


async def test_huge_retry_after_is_capped(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [-9], 1, kind="group")
    sender.fail("text", -9, RateLimited("flood", retry_after=10072))
    await deliverer(store, sender, clock, max_retry_after=600).drain()
    assert store.pending(clock.now() + timedelta(seconds=599)) == []
    assert len(store.pending(clock.now() + timedelta(seconds=601))) == 1


async def test_rejected_html_is_resent_once_as_plain_text(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 1, title="a & b")
    sender.fail("text", 1, MessageRejected("Can't parse entities"))
    stats = await deliverer(store, sender, clock).drain()
    assert [(a.method, a.ok) for a in sender.attempts] == [("text", False), ("plain", True)]
    assert sender.sent[0].text.startswith("a & b\n")
    assert "<" not in sender.sent[0].text
    assert stats.plain_fallbacks == 1 and store.outbox_counts()["sent"] == 1


async def test_rejected_twice_is_dead_lettered_without_looping(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 2)
    sender.fail("text", 1, MessageRejected("Message is too long"))
    sender.fail("plain", 1, MessageRejected("Message is too long"))
    deliver = deliverer(store, sender, clock)
    stats = await deliver.drain()
    await deliver.drain()
    assert [(a.method, a.ok) for a in sender.attempts] == [
        ("text", False),
        ("plain", False),
        ("text", True),
    ]
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "failed": 1}
    assert stats.failed == 1


async def test_transient_errors_back_off_then_dead_letter(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 2)
    sender.fail_always("text", 1, TransientDelivery("timed out"))
    deliver = deliverer(store, sender, clock, max_attempts=4, backoff_base=30, outage_after=99)
    for _ in range(10):
        await deliver.drain()
        clock.t += 10_000
    texts = [a for a in sender.attempts if a.chat_id == 1]
    # The first row is tried max_attempts times; the second waits behind it, in order.
    assert len(texts) == 4 + 4
    assert store.outbox_counts() == {"pending": 0, "sent": 0, "failed": 2}


async def test_transient_backoff_doubles_and_keeps_order(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    first, second = enqueue(store, clock, [1], 2)
    sender.fail("text", 1, TransientDelivery("502"), TransientDelivery("502"))
    deliver = deliverer(store, sender, clock, backoff_base=30)
    start = clock.now()
    await deliver.drain()
    assert store.pending(start + timedelta(seconds=29)) == []
    assert len(store.pending(start + timedelta(seconds=31))) == 2  # the chat waits as a whole
    clock.t += 31
    await deliver.drain()
    assert store.pending(clock.now() + timedelta(seconds=59)) == []
    clock.t += 61
    await deliver.drain()
    assert titles(sender.texts_to(1)) == [first, second]
    assert store.outbox_counts()["sent"] == 2


async def test_an_outage_ends_the_round_early(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, list(range(1, 11)), 1)
    for chat_id in range(1, 11):
        sender.fail_always("text", chat_id, TransientDelivery("connection refused"))
    stats = await deliverer(store, sender, clock, concurrency=1, outage_after=3).drain()
    assert len(sender.attempts) == 3
    assert stats.retried == 3
    assert len(store.pending(clock.now())) == 7  # untouched, sent as soon as Telegram is back


async def test_photo_items_fall_back_to_text(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 1, image="https://hp.gov.vn/a.jpg")
    enqueue(store, clock, [2], 1, image="https://hp.gov.vn/b.jpg")
    sender.fail("photo", 2, MessageRejected("Wrong file identifier/http url specified"))
    await deliverer(store, sender, clock).drain()
    photo = next(a for a in sender.sent if a.chat_id == 1)
    assert photo.method == "photo" and photo.text.startswith("https://hp.gov.vn/a.jpg|<b>")
    assert [(a.method, a.ok) for a in sender.attempts if a.chat_id == 2] == [
        ("photo", False),
        ("text", True),
    ]


async def test_an_unexpected_error_stops_the_round_and_keeps_rows(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1, 2], 1)
    sender.fail("text", 1, DeliveryError("Telegram rejected the bot token"))
    await deliverer(store, sender, clock, concurrency=1).drain()
    assert store.outbox_counts() == {"pending": 2, "sent": 0, "failed": 0}


# ---------------------------------------------------------------- the loop


async def test_run_drains_when_woken(store: Store, clock: Clock) -> None:
    sender = RecordingSender(clock, store)
    deliver = Deliverer(
        store, sender, BOT_FEEDS, Pacing(private_gap=0.01, overall_per_second=1000), now=clock.now
    )
    wake = asyncio.Event()
    task = asyncio.create_task(deliver.run(wake))
    try:
        await asyncio.sleep(0.05)
        assert sender.attempts == []
        enqueue(store, clock, [1], 2)
        wake.set()
        for _ in range(100):
            if len(sender.sent) == 2:
                break
            await asyncio.sleep(0.01)
        assert len(sender.sent) == 2
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_run_retries_at_the_backoff_time_without_a_wake(store: Store, clock: Clock) -> None:
    sender = RecordingSender(clock, store)
    store.upsert_chat(Chat(1))
    store.add_items(
        "hp",
        [Item("hp", "r1", "https://hp.gov.vn/r1", "Tin r1")],
        datetime.now(UTC),
        route=lambda item: [(1, None)],
    )
    sender.fail("text", 1, TransientDelivery("timed out"))
    pacing = Pacing(private_gap=0.01, overall_per_second=1000, backoff_base=0.1, idle_poll=60)
    started = time.monotonic()
    task = asyncio.create_task(Deliverer(store, sender, BOT_FEEDS, pacing).run(asyncio.Event()))
    try:
        for _ in range(200):
            if sender.sent:
                break
            await asyncio.sleep(0.01)
        assert [a.ok for a in sender.attempts] == [False, True]
        assert time.monotonic() - started >= 0.1  # not before the backoff
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


# ---------------------------------------------------------------- attachments as documents

FILES = tuple(
    Attachment(f"https://hp.gov.vn/files/{n}.pdf", f"Tệp {n}", "pdf") for n in range(4)
)


async def test_attachments_follow_the_message_as_documents(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    files = (Attachment("javascript:alert(1)", "x", "pdf"), *FILES)
    enqueue(store, clock, [1], 1, attachments=files, doc_type="Quyết định",
            doc_number="5/QĐ-UBND")
    stats = await deliverer(store, sender, clock).drain()
    message, *documents = sender.sent
    assert message.method == "text" and message.text.count("📎") == 4
    assert [(d.method, d.text) for d in documents] == [
        ("document", f"https://hp.gov.vn/files/{n}.pdf|📄 <b>Quyết định số 5/QĐ-UBND</b>\n"
                     f"Tệp {n} (PDF)")
        for n in range(3)  # at most three, http(s) only
    ]
    assert [a.pending_then for a in sender.attempts] == [1, 0, 0, 0]  # marked before the files
    times = [a.t for a in sender.attempts]
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(times))  # paced
    assert (stats.sent, stats.documents, stats.documents_failed) == (1, 3, 0)
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "failed": 0}


async def test_a_refused_file_is_skipped_and_never_retried(
    store: Store, sender: RecordingSender, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    enqueue(store, clock, [1], 2, attachments=FILES[:2])
    sender.fail("document", 1, MessageRejected("Bad Request: failed to get HTTP URL content"))
    stats = await deliverer(store, sender, clock).drain()
    assert [(a.method, a.ok) for a in sender.attempts] == [
        ("text", True), ("document", False), ("document", True),
        ("text", True), ("document", True), ("document", True),
    ]
    assert (stats.sent, stats.documents, stats.documents_failed, stats.failed) == (2, 3, 1, 0)
    assert store.outbox_counts() == {"pending": 0, "sent": 2, "failed": 0}
    assert "failed to get HTTP URL content" in caplog.text
    assert await deliverer(store, sender, clock).drain() == DeliveryStats()
    assert len(sender.attempts) == 6


async def test_an_unreachable_telegram_skips_the_rest_of_the_files(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 1, attachments=FILES)
    sender.fail("document", 1, TransientDelivery("Timed out"))
    stats = await deliverer(store, sender, clock).drain()
    assert [(a.method, a.ok) for a in sender.attempts] == [("text", True), ("document", False)]
    assert (stats.sent, stats.retried, stats.documents_failed) == (1, 0, 1)
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "failed": 0}


async def test_a_rate_limit_on_a_file_defers_the_chat_not_the_item(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 2, attachments=FILES[:1])
    sender.fail("document", 1, RateLimited("Too Many Requests: retry after 30", retry_after=30))
    stats = await deliverer(store, sender, clock).drain()
    assert [(a.method, a.ok) for a in sender.attempts] == [("text", True), ("document", False)]
    assert stats.deferred == 1
    assert store.outbox_counts() == {"pending": 1, "sent": 1, "failed": 0}
    clock.t += 31
    await deliverer(store, sender, clock).drain()
    assert [a.method for a in sender.sent] == ["text", "text", "document"]  # no item twice
    assert len(set(titles(sender.texts_to(1)[:2]))) == 2


async def test_a_chat_gone_between_message_and_file_is_deactivated(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 2, attachments=FILES[:1])
    sender.fail("document", 1, RecipientGone("Forbidden: bot was blocked by the user"))
    stats = await deliverer(store, sender, clock).drain()
    chat = store.chat(1)
    assert chat is not None and not chat.active and stats.deactivated == 1
    assert store.outbox_counts() == {"pending": 1, "sent": 1, "failed": 0}


class TextOnlySender:
    """A Sender from before documents: no send_document."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def send_text(self, chat_id: int, html: str, *, preview: bool) -> None:
        self.texts.append(html)

    async def send_photo(self, chat_id: int, photo_url: str, caption_html: str) -> None:
        self.texts.append(caption_html)

    async def send_plain(self, chat_id: int, text: str) -> None:
        self.texts.append(text)


async def test_documents_off_or_unsupported_send_only_the_message(
    store: Store, sender: RecordingSender, clock: Clock
) -> None:
    enqueue(store, clock, [1], 1, attachments=FILES)
    off = Deliverer(store, sender, BOT_FEEDS, Pacing(), clock=clock, sleep=clock.sleep,
                    now=clock.now, send_documents=False)
    assert (await off.drain()).sent == 1
    assert [a.method for a in sender.attempts] == ["text"]
    assert "📎" in sender.attempts[0].text  # the message still links the files
    enqueue(store, clock, [1], 1, attachments=FILES)
    old = TextOnlySender()
    legacy = Deliverer(store, old, BOT_FEEDS, Pacing(), clock=clock, sleep=clock.sleep,  # type: ignore[arg-type]
                       now=clock.now)
    assert (await legacy.drain()).sent == 1 and len(old.texts) == 1


async def test_files_go_to_the_topic_the_message_went_to() -> None:
    store = Store.open(":memory:")
    try:
        wall = Wall(BASE)
        store.upsert_chat(Chat(-100, kind="supergroup"))
        for feed_id, topic in (("hp", 7), ("hn", 8)):
            store.subscribe(-100, feed_id, thread_id=topic)
            item = Item(feed_id, "1", f"https://{feed_id}.gov.vn/1", "Tin", attachments=FILES[:1])
            store.add_items(feed_id, [item], BASE, route=lambda item: [(-100, None)])
        sender = Recorder(fail_thread={8: TopicGone("Bad Request: message thread not found")})
        await make_deliverer(store, sender, wall, FEEDS, group_per_minute=6000).drain()
        assert [(s.method, s.thread_id) for s in sender.sent] == [
            ("text", 7), ("document", 7), ("text", None), ("document", None)]
    finally:
        store.close()
