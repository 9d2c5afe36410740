"""What delivery works with: the Sender it sends through, the part of the store it drains (the
outbox, and the chat registry membership changes use), and what one drain did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.model import Chat, ChatSettings, Delivery


class Sender(Protocol):
    """Sends one message; raises the bot.errors DeliveryError subclasses."""

    async def send_text(
        self, chat_id: int, html: str, *, preview: bool, thread_id: int | None = None
    ) -> None: ...

    async def send_photo(
        self, chat_id: int, photo_url: str, caption_html: str, *, thread_id: int | None = None
    ) -> None: ...

    async def send_plain(self, chat_id: int, text: str, *, thread_id: int | None = None) -> None:
        ...

    async def send_document(
        self, chat_id: int, url: str, caption_html: str, *, thread_id: int | None = None
    ) -> None:
        """Send the file at `url` (Telegram fetches it). Optional: Senders without it send none."""
        ...


class ChatRegistry(Protocol):
    """The part of the Store that membership changes (blocked users, migrated groups) use."""

    def set_chat(
        self,
        chat_id: int,
        *,
        active: bool | None = None,
        paused: bool | None = None,
        language: str | None = None,
    ) -> None: ...

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None: ...


class Outbox(ChatRegistry, Protocol):
    """The part of bot.store.db.Store that delivery uses."""

    def pending(self, now: datetime, limit: int = 100, *, after_id: int = 0) -> list[Delivery]:
        ...

    def mark_sent(self, delivery_id: int, now: datetime) -> None: ...

    def mark_sent_many(self, delivery_ids: Iterable[int], now: datetime) -> None: ...

    def chat_settings(self, chat_id: int) -> ChatSettings: ...

    def forget_thread(self, chat_id: int, thread_id: int) -> None: ...

    def mark_failed(self, delivery_id: int, error: str) -> None: ...

    def retry_later(self, delivery_id: int, not_before: datetime, error: str) -> None: ...

    def defer_chat(self, chat_id: int, not_before: datetime) -> None: ...

    def chat(self, chat_id: int) -> Chat | None: ...



@dataclass
class DeliveryStats:
    """What one drain did."""

    sent: int = 0  # messages Telegram accepted (items and fold messages)
    folded: int = 0  # rows covered by a fold message
    skipped: int = 0  # rows older than max_age, marked sent unsent
    failed: int = 0  # dead-lettered
    retried: int = 0  # put back after a transient error
    deferred: int = 0  # chats told to wait by a rate limit
    deactivated: int = 0
    moved: int = 0
    plain_fallbacks: int = 0
    digests: int = 0  # digest messages sent (their rows count in `folded`)
    held: int = 0  # rows left pending for quiet hours or a digest
    documents: int = 0  # attachments sent as files after their item's message
    documents_failed: int = 0  # attachments Telegram refused or could not fetch (not retried)
