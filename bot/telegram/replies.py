"""Sending a command's answer: paced like every other message, split to fit, never dropped.

A `Reply` (bot.telegram.commands) goes to the chat through the shared `Pacer`
(bot.telegram.pacing), so replies and items to one chat share Telegram's per-chat limits.
- Text over Telegram's 4096 UTF-16 units is split between lines; the buttons go under the last
  part. A redraw in place (`edit`) is one message.
- A 429 holds the chat for the time Telegram asked, then the same part is sent again: a reply
  that must wait is sent late, not dropped (after MAX_ATTEMPTS it is logged as lost).
- HTML Telegram refuses is sent once more as plain text; a keyboard it refuses is dropped and
  the text sent without it (logged: that is a bug to fix).
No Telegram library here: `Transport` (bot.telegram.ptb) does the calls and raises the
bot.errors DeliveryErrors.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from functools import partial
from typing import Protocol

from bot.errors import DeliveryError, MessageRejected, RateLimited, TransientDelivery
from bot.model import ChatKind
from bot.telegram.commands.base import Button, Reply
from bot.telegram.messages import clip, split_message, to_plain_text
from bot.telegram.pacing import Pacer

logger = logging.getLogger(__name__)

Buttons = tuple[tuple[Button, ...], ...]
MAX_ATTEMPTS = 8  # sends of one part: waits for 429s and network errors included
TRANSIENT_WAIT = 2.0  # seconds (Telegram's time) before resending after a network error
MARKUP_MARKERS = ("reply markup", "button")  # 400s about the keyboard, not the text
ALERT_LIMIT = 200  # answerCallbackQuery text


class Transport(Protocol):
    """The Bot API calls a reply needs; each raises the bot.errors DeliveryError subclasses."""

    async def send(self, chat_id: int, text: str, *, html: bool, buttons: Buttons,
                   thread_id: int | None) -> None: ...

    async def edit(self, chat_id: int, message_id: int, text: str, *, buttons: Buttons) -> None:
        """Replace a message's text and keyboard; "not modified" is no error."""
        ...

    async def send_file(self, chat_id: int, name: str, data: bytes, caption: str, *,
                        thread_id: int | None) -> None: ...


class Replier:
    """Sends Replies through the shared Pacer."""

    def __init__(self, transport: Transport, pacer: Pacer) -> None:
        self._transport = transport
        self._pacer = pacer

    async def send(self, chat_id: int, kind: ChatKind, reply: Reply, *,
                   thread_id: int | None = None, message_id: int | None = None) -> None:
        """The reply as new messages, or in place of `message_id` when it is a redraw."""
        if reply.edit and message_id is not None:
            text = split_message(reply.text)[0]  # commands fit a redraw in one message
            await self._paced(chat_id, kind, lambda: self._transport.edit(
                chat_id, message_id, text, buttons=reply.buttons), chat_gap=kind != "private")
            return
        parts = split_message(reply.text)
        for number, part in enumerate(parts, start=1):
            buttons = reply.buttons if number == len(parts) else ()
            await self._send_part(chat_id, kind, part, buttons, thread_id)
        if reply.document is not None:
            name, data = reply.document
            await self._paced(chat_id, kind, lambda: self._transport.send_file(
                chat_id, name, data, "", thread_id=thread_id))

    async def _send_part(self, chat_id: int, kind: ChatKind, text: str, buttons: Buttons,
                         thread_id: int | None) -> None:
        html = True
        for _ in range(2):  # the second go: plain text, or without the refused keyboard
            try:
                await self._paced(chat_id, kind, partial(
                    self._transport.send, chat_id, text if html else to_plain_text(text),
                    html=html, buttons=buttons, thread_id=thread_id))
                return
            except MessageRejected as exc:
                if any(marker in str(exc).lower() for marker in MARKUP_MARKERS) and buttons:
                    logger.error("keyboard refused in chat %s (%s); sending the text alone",
                                 chat_id, exc)
                    buttons = ()
                elif html:
                    logger.error("reply refused in chat %s (%s); resending as plain text",
                                 chat_id, exc)
                    html = False
                else:
                    raise

    async def _paced(self, chat_id: int, kind: ChatKind,
                     call: Callable[[], Awaitable[None]], *, chat_gap: bool = True) -> None:
        """One call in the chat's turn; a 429 holds the chat and the call goes again in its
        next turn, a network error is retried a little later."""
        pacing = self._pacer.pacing
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                await self._pacer.send(chat_id, kind, _awaited(call), chat_gap=chat_gap)
                return
            except RateLimited as exc:
                wait = pacing.seconds(min(max(exc.retry_after, 0.0), pacing.max_retry_after))
                logger.warning("reply to chat %s waits %.1f s (Telegram flood control)",
                               chat_id, wait)
                self._pacer.hold(chat_id, wait)
            except TransientDelivery as exc:
                logger.warning("reply to chat %s failed (%s); trying again", chat_id, exc)
                self._pacer.hold(chat_id, pacing.seconds(TRANSIENT_WAIT))
            if attempt == MAX_ATTEMPTS:
                raise DeliveryError(f"reply to chat {chat_id} not sent after {attempt} tries")


async def _awaited(call: Callable[[], Awaitable[None]]) -> None:
    await call()


def alert_text(reply: Reply) -> str:
    """A reply as the short plain text of a callback answer (an alert only the presser sees)."""
    return clip(to_plain_text(reply.text), ALERT_LIMIT)


class ChatOrder:
    """Handles updates of one chat one at a time, in the order they came, while other chats go
    on (PTB runs updates concurrently). Costs no memory for idle chats."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, asyncio.Lock] = {}
        self._users: Counter[Hashable] = Counter()

    @asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._locks[key]
