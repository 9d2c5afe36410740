"""Store methods for the delivery outbox: enqueueing, the due rows, and their outcomes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import cast

from bot.model import Delivery, DeliveryKind, Item
from bot.store.base import ITEM_COLUMNS, PENDING, Db, StoreBase, _iso, _item, _when


class OutboxMixin(StoreBase):
    """One outbox row per (chat, item) alert or edit notice, sent once or dead-lettered."""

    # -- enqueueing, inside Store.add_items' transaction ---------------------------------

    @staticmethod
    def _enqueue(db: Db, item: Item, targets: Iterable[tuple[int, str | None]],
                 stamp: str) -> None:
        # A chat forgotten since `subscribers_of` ran is skipped rather than failing the poll.
        # The row goes to the forum topic the chat follows the feed in (0: no topic).
        for chat_id, matched in targets:
            db.execute("INSERT OR IGNORE INTO outbox (chat_id, feed_id, item_id, matched, "
                       "created_at, not_before, thread_id) SELECT ?, ?, ?, ?, ?, ?, coalesce("
                       "(SELECT thread_id FROM subscriptions WHERE chat_id = ?1 AND feed_id = ?2)"
                       ", 0) WHERE EXISTS (SELECT 1 FROM chats WHERE chat_id = ?1)",
                       (chat_id, item.feed_id, item.item_id, matched, stamp, stamp))

    @staticmethod
    def _enqueue_edit(db: Db, feed_id: str, item_id: str, title: str, summary: str,
                      stamp: str) -> None:
        """An "updated" notice for each chat that was sent the item and wants edit notices.

        A chat with an edit notice still pending gets no second one: the pending one shows the
        text it saw and, when sent, the newest text. A chat whose original is still pending
        gets nothing: the original goes out with the new text."""
        db.execute(
            "INSERT OR IGNORE INTO outbox (chat_id, feed_id, item_id, created_at, not_before, "
            "kind, version, thread_id, previous_title, previous_summary) "
            "SELECT o.chat_id, o.feed_id, o.item_id, ?3, ?3, 'edit', ?3, s.thread_id, ?4, ?5 "
            "FROM outbox o JOIN chats c ON c.chat_id = o.chat_id AND c.active = 1 "
            "AND c.paused = 0 JOIN subscriptions s ON s.chat_id = o.chat_id AND "
            "s.feed_id = o.feed_id LEFT JOIN chat_settings cs ON cs.chat_id = o.chat_id "
            "WHERE o.feed_id = ?1 AND o.item_id = ?2 AND o.kind = 'item' AND "
            "o.sent_at IS NOT NULL AND coalesce(cs.edits, 1) = 1 AND NOT EXISTS (SELECT 1 "
            "FROM outbox p WHERE p.chat_id = o.chat_id AND p.feed_id = o.feed_id AND "
            "p.item_id = o.item_id AND p.kind = 'edit' AND p.sent_at IS NULL AND "
            "p.failed_at IS NULL)", (feed_id, item_id, stamp, title, summary))

    # -- delivery ------------------------------------------------------------------------

    def pending(self, now: datetime, limit: int = 100, *, after_id: int = 0) -> list[Delivery]:
        """Deliveries due for active, unpaused chats, oldest first, each with its full item.

        `after_id` pages on: rows held back (quiet hours) must not hide the rows behind them."""
        item_columns = ", ".join(f"i.{column}" for column in ITEM_COLUMNS)
        rows = self._read(
            f"SELECT o.delivery_id, o.chat_id, o.attempts, o.created_at, o.matched, o.kind, "
            f"o.thread_id, o.previous_title, o.previous_summary, {item_columns} FROM outbox o "
            f"JOIN chats c ON c.chat_id = o.chat_id AND c.active = 1 AND c.paused = 0 "
            f"JOIN items i ON i.feed_id = o.feed_id AND i.item_id = o.item_id "
            f"WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.not_before <= ? "
            f"AND o.delivery_id > ? ORDER BY o.delivery_id LIMIT ?", [_iso(now), after_id, limit])
        return [Delivery(delivery_id=row[0], chat_id=row[1], attempts=row[2],
                         created_at=_when(row[3]), matched=row[4],
                         kind=cast(DeliveryKind, row[5]), thread_id=row[6] or None,
                         previous_title=row[7], previous_summary=row[8], item=_item(row[9:]))
                for row in rows]

    def mark_sent(self, delivery_id: int, now: datetime) -> None:
        """Telegram accepted the message."""
        self._write("UPDATE outbox SET sent_at = ? WHERE delivery_id = ?",
                    (_iso(now), delivery_id))

    def mark_sent_many(self, delivery_ids: Iterable[int], now: datetime) -> None:
        """Telegram accepted one message standing for all these rows: mark them together."""
        stamp = _iso(now)
        with self._tx() as db:
            db.executemany("UPDATE outbox SET sent_at = ? WHERE delivery_id = ?",
                           [(stamp, delivery_id) for delivery_id in delivery_ids])

    def mark_failed(self, delivery_id: int, error: str, *, now: datetime | None = None) -> None:
        """Dead-letter a delivery: it is never retried."""
        self._write("UPDATE outbox SET failed_at = ?, last_error = ? WHERE delivery_id = ?",
                    (_iso(now or datetime.now(UTC)), error, delivery_id))

    def retry_later(self, delivery_id: int, not_before: datetime, error: str) -> None:
        """Count a failed attempt and hold the delivery until `not_before`."""
        self._write("UPDATE outbox SET attempts = attempts + 1, not_before = ?, last_error = ? "
                    "WHERE delivery_id = ?", (_iso(not_before), error, delivery_id))

    def defer_chat(self, chat_id: int, not_before: datetime) -> None:
        """Hold every pending delivery of a chat until at least `not_before`."""
        self._write(f"UPDATE outbox SET not_before = max(not_before, ?) WHERE chat_id = ? "
                    f"AND {PENDING}", (_iso(not_before), chat_id))

    def waiting(self, chat_id: int) -> int:
        """How many rows the chat has pending (kept during a pause, for /resume)."""
        row = self._read(f"SELECT count(*) FROM outbox WHERE chat_id = ? AND {PENDING}",
                         [chat_id])[0]
        return int(row[0])

    def skip_waiting(self, chat_id: int, now: datetime) -> int:
        """`/resume skip`: the chat's pending rows are marked sent unsent; how many."""
        return self._write(f"UPDATE outbox SET sent_at = ? WHERE chat_id = ? AND {PENDING}",
                           (_iso(now), chat_id))

    def outbox_counts(self) -> dict[str, int]:
        """How many deliveries are pending, sent and dead-lettered."""
        row = self._read(f"SELECT coalesce(sum({PENDING}), 0), coalesce(sum(sent_at IS NOT NULL)"
                         f", 0), coalesce(sum(failed_at IS NOT NULL AND sent_at IS NULL), 0) "
                         f"FROM outbox")[0]
        return {"pending": int(row[0]), "sent": int(row[1]), "failed": int(row[2])}
