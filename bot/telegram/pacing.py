"""One pace for every message the bot sends: items, digests, command replies and redraws.

Telegram counts every message to a chat against the same limits (about one a second in a
private chat, twenty a minute in a group or channel, thirty a second overall), whoever sends it.
So the Deliverer and the command replies share one `Pacer`:
- sends start one at a time through a FIFO gate, `overall_per_second` on average, a late start
  caught up by a few quicker ones, and never a 31st while 30 are in flight or were answered
  within the last second, so none arrives as the 31st in a second (bot.telegram.pacer); at most
  `concurrency` requests in flight;
- within a chat messages go one at a time, in the order they asked, at least the chat's gap
  apart (counted from the previous send's answer, so a request slowed on its way cannot land
  just before the next one);
- a 429 holds the chat (`hold`), or every chat when it looks bot-wide (`pause`), for the time
  Telegram asked: a reply waits it out and is sent late, never dropped.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.model import ChatKind
from bot.telegram.pacer import SendPacer

T = TypeVar("T")


@dataclass(frozen=True)
class Pacing:
    """How fast and how much to send; the defaults stay under Telegram's documented limits."""

    # Telegram allows ~30/s; 29 leaves a message of margin (0 × 429 against the strict fake,
    # also inside `newsbot run` while 1,000 sources poll: benchmarks/bench_run.py).
    overall_per_second: float = 29
    private_gap: float = 1.0
    group_per_minute: int = 20
    max_per_chat_per_round: int = 10
    max_attempts: int = 8
    max_retry_after: float = 3600
    concurrency: int = 8  # requests in flight at once
    backoff_base: float = 30.0  # first retry after a transient error, doubled each attempt
    backoff_max: float = 3600.0
    outage_after: int = 3  # transient errors in a row that end a round
    idle_poll: float = 60.0  # run(): look at the outbox at least this often
    batch: int = 500  # rows read from the outbox at a time
    # For tests and benchmarks against a time-scaled fake Telegram: every gap, period and wait
    # above (and every retry_after Telegram sends) lasts this many times as long.
    time_scale: float = 1.0

    @property
    def group_gap(self) -> float:
        return self.seconds(60.0 / self.group_per_minute)

    @property
    def global_gap(self) -> float:
        """Least time between two sends to any chats."""
        return self.seconds(1.0 / self.overall_per_second)

    def chat_gap(self, kind: ChatKind) -> float:
        """Least time between two sends to one chat of this kind."""
        return self.seconds(self.private_gap) if kind == "private" else self.group_gap

    def seconds(self, value: float) -> float:
        """A duration in Telegram's time as real seconds."""
        return value * self.time_scale


DEFAULT_PACING = Pacing()


class RoundOver(Exception):
    """The caller gave up while its send waited for its turn (a pause or an outage began)."""


def _never() -> bool:
    return False


class Pacer:
    """The turns of every send to Telegram; one per bot, shared by delivery and replies."""

    def __init__(
        self,
        pacing: Pacing = DEFAULT_PACING,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.pacing = pacing
        self.clock = clock
        self._sleep = sleep
        self._slots = asyncio.Semaphore(pacing.concurrency)
        self._gate = asyncio.Lock()  # FIFO: sends start in the order they queued
        self._chats: dict[int, asyncio.Lock] = {}  # FIFO per chat: one send at a time, in order
        self._queued: Counter[int] = Counter()  # sends holding or waiting for a chat's lock
        self._last_send_at: dict[int, float] = {}
        self._held_until: dict[int, float] = {}
        self._starts = SendPacer.per_second(pacing.overall_per_second,
                                            time_scale=pacing.time_scale)
        self.paused_until = 0.0

    async def send(
        self,
        chat_id: int,
        kind: ChatKind,
        send: Coroutine[Any, Any, T],
        *,
        chat_gap: bool = True,
        stopped: Callable[[], bool] = _never,
    ) -> T:
        """Run `send` in its turn. `chat_gap=False` skips the chat's gap (an edit in a private
        chat); `stopped()` true while waiting raises RoundOver (and `send` never runs)."""
        lock = self._chats.setdefault(chat_id, asyncio.Lock())
        self._queued[chat_id] += 1
        try:
            async with lock:
                try:
                    await self._chat_turn(chat_id, kind if chat_gap else None)
                    async with self._slots:
                        await self._global_turn(stopped)
                        try:
                            return await send
                        finally:
                            self._starts.answered(self.clock())
                finally:
                    self._last_send_at[chat_id] = self.clock()
        finally:
            send.close()  # only does something when the wait was cancelled or refused
            self._queued[chat_id] -= 1
            if not self._queued[chat_id]:  # idle chats cost no memory
                del self._queued[chat_id], self._chats[chat_id]

    def hold(self, chat_id: int, seconds: float) -> None:
        """Telegram asked this chat to wait: its next sends wait `seconds` (real seconds)."""
        until = self.clock() + seconds
        self._held_until[chat_id] = max(self._held_until.get(chat_id, 0.0), until)

    def pause(self, seconds: float) -> None:
        """A bot-wide limit: every send waits `seconds` (real seconds)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    def paused(self) -> bool:
        return self.clock() < self.paused_until

    def moved(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: its new id keeps the old one's gap."""
        self._last_send_at[new_chat_id] = self.clock()

    async def _chat_turn(self, chat_id: int, kind: ChatKind | None) -> None:
        last = self._last_send_at.get(chat_id)
        due = self._held_until.get(chat_id, 0.0)
        if last is not None and kind is not None:
            due = max(due, last + self.pacing.chat_gap(kind))
        await self._sleep_until(due)
        if self._held_until.get(chat_id, math.inf) <= self.clock():
            del self._held_until[chat_id]

    async def _global_turn(self, stopped: Callable[[], bool]) -> None:
        """Wait until the send pacer lets the next message start, and out of any pause, one
        sender at a time.

        The pacer counts real starts and answers, not slots booked in advance: after the loop
        stalls (a slow database write, a busy CPU) booked slots would all be due at once and go
        out as a burst over Telegram's overall limit; it lets at most a few catch up."""
        async with self._gate:
            while True:
                while (wait := self._starts.delay(self.clock())) > 0:
                    await self._sleep(wait)
                if stopped():
                    raise RoundOver
                if not self.paused():
                    break
                await self._sleep_until(self.paused_until)
            self._starts.started(self.clock())

    async def _sleep_until(self, moment: float) -> None:
        delay = moment - self.clock()
        if delay > 0:
            await self._sleep(delay)
