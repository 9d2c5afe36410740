"""What outbox tests need around a Deliverer: a settable wall clock, an instant monotonic clock,
and a Sender that records each message (with its forum topic) and can fail or "crash" on cue."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bot.errors import DeliveryError
from bot.model import Recipe
from bot.store.db import Store
from bot.telegram.delivery import Deliverer, Pacing
from bot.telegram.feedinfo import feed_infos


class Wall:
    """`now` for the Deliverer and the Store: moves only when the test says so."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Tick:
    """A monotonic clock whose sleeps return at once (pacing waits cost no real time)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


class Crash(BaseException):
    """The process dies right after Telegram accepted a message (before it is marked sent)."""


@dataclass
class Sent:
    method: str
    chat_id: int
    text: str
    thread_id: int | None


@dataclass
class Recorder:
    """A Sender. `fail[(method, n)]` raises on the n-th call of that method (1-based);
    `crash_after` raises Crash once that many messages were accepted."""

    sent: list[Sent] = field(default_factory=list)
    fail: dict[tuple[str, int], DeliveryError] = field(default_factory=dict)
    fail_thread: dict[int, DeliveryError] = field(default_factory=dict)
    crash_after: int | None = None
    calls: dict[str, int] = field(default_factory=dict)

    async def _record(self, method: str, chat_id: int, text: str, thread_id: int | None) -> None:
        await asyncio.sleep(0)
        self.calls[method] = self.calls.get(method, 0) + 1
        error = self.fail.pop((method, self.calls[method]), None)
        if error is None and thread_id is not None:
            error = self.fail_thread.get(thread_id)
        if error is not None:
            raise error
        self.sent.append(Sent(method, chat_id, text, thread_id))
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            self.crash_after = None
            raise Crash

    async def send_text(
        self, chat_id: int, html: str, *, preview: bool, thread_id: int | None = None
    ) -> None:
        await self._record("text", chat_id, html, thread_id)

    async def send_photo(
        self, chat_id: int, photo_url: str, caption_html: str, *, thread_id: int | None = None
    ) -> None:
        await self._record("photo", chat_id, caption_html, thread_id)

    async def send_plain(self, chat_id: int, text: str, *, thread_id: int | None = None) -> None:
        await self._record("plain", chat_id, text, thread_id)

    async def send_document(
        self, chat_id: int, url: str, caption_html: str, *, thread_id: int | None = None
    ) -> None:
        await self._record("document", chat_id, f"{url}|{caption_html}", thread_id)

    def texts_to(self, chat_id: int) -> list[str]:
        return [s.text for s in self.sent if s.chat_id == chat_id]


def make_deliverer(
    store: Store,
    sender: Recorder,
    wall: Wall,
    feeds: Mapping[str, Recipe],
    **pacing: float,
) -> Deliverer:
    """A Deliverer over the real Store whose time is `wall` (pacing waits are instant)."""
    tick = Tick()
    return Deliverer(
        store,
        sender,
        feed_infos(feeds),
        Pacing(**pacing),  # type: ignore[arg-type]
        clock=tick,
        sleep=tick.sleep,
        now=wall,
        photos=False,
    )
