"""Store methods for the delivery outbox: enqueueing, the due rows, and their outcomes."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

from bot.model import Delivery, DeliveryKind, Item
from bot.store.base import ITEM_COLUMNS, PENDING, Db, StoreBase, _iso, _item, _when

# Who claims rows: this process (two Store objects in one process are one sender).
CLAIMANT = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
# How long a claim keeps other senders off a row, should its sender die without marking it.
CLAIM_LEASE = timedelta(minutes=2)


def _lease_end(now: datetime) -> datetime:
    """now + CLAIM_LEASE, saturating at the end of time (a caller may ask "due by forever")."""
    try:
        return now + CLAIM_LEASE
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)


class OutboxMixin(StoreBase):
    """One outbox row per (chat, item) alert or edit notice, sent once or dead-lettered."""

    # -- enqueueing, inside Store.add_items' transaction ---------------------------------

    @staticmethod
    def _enqueue_many(db: Db, routed: Iterable[tuple[Item, Iterable[tuple[int, str | None]]]],
                      stamp: str) -> None:
        """One outbox row per (item, chat it is routed to), in order, in one statement."""
        # A chat forgotten since `subscribers_of` ran is skipped rather than failing the poll.
        # The row goes to the forum topic the chat follows the feed in (0: no topic).
        rows = [(chat_id, item.feed_id, item.item_id, matched, stamp, stamp)
                for item, targets in routed for chat_id, matched in targets]
        if rows:
            db.executemany("INSERT INTO outbox (chat_id, feed_id, item_id, matched, created_at, "
                           "not_before, thread_id) SELECT ?, ?, ?, ?, ?, ?, coalesce("
                           "(SELECT thread_id FROM subscriptions WHERE chat_id = ?1 AND "
                           "feed_id = ?2), 0) WHERE EXISTS (SELECT 1 FROM chats WHERE "
                           "chat_id = ?1) ON CONFLICT DO NOTHING", rows)

    @staticmethod
    def _enqueue_edit(db: Db, feed_id: str, item_id: str, title: str, summary: str,
                      stamp: str) -> None:
        """An "updated" notice for each chat that was sent the item and wants edit notices.

        A chat with an edit notice still pending gets no second one: the pending one shows the
        text it saw and, when sent, the newest text. A chat whose original is still pending
        gets nothing: the original goes out with the new text."""
        db.execute(
            "INSERT INTO outbox (chat_id, feed_id, item_id, created_at, not_before, "
            "kind, version, thread_id, previous_title, previous_summary) "
            "SELECT o.chat_id, o.feed_id, o.item_id, ?3, ?3, 'edit', ?3, s.thread_id, ?4, ?5 "
            "FROM outbox o JOIN chats c ON c.chat_id = o.chat_id AND c.active = 1 "
            "AND c.paused = 0 JOIN subscriptions s ON s.chat_id = o.chat_id AND "
            "s.feed_id = o.feed_id LEFT JOIN chat_settings cs ON cs.chat_id = o.chat_id "
            "WHERE o.feed_id = ?1 AND o.item_id = ?2 AND o.kind = 'item' AND "
            "o.sent_at IS NOT NULL AND coalesce(cs.edits, 1) = 1 AND NOT EXISTS (SELECT 1 "
            "FROM outbox p WHERE p.chat_id = o.chat_id AND p.feed_id = o.feed_id AND "
            "p.item_id = o.item_id AND p.kind = 'edit' AND p.sent_at IS NULL AND "
            "p.failed_at IS NULL) ON CONFLICT DO NOTHING", (feed_id, item_id, stamp, title,
                                                           summary))

    # -- delivery ------------------------------------------------------------------------

    def pending(self, now: datetime, limit: int = 100, *, after_id: int = 0) -> list[Delivery]:
        """Claim the deliveries due for active, unpaused chats, oldest first, each with its
        full item.

        The rows are claimed for this process until now + CLAIM_LEASE: another sender skips them
        (on PostgreSQL also while this claim is being written: FOR UPDATE SKIP LOCKED), so two
        senders never send one row. This process's own claims are due to it again.
        `after_id` pages on: rows held back (quiet hours) must not hide the rows behind them."""
        lock = " FOR UPDATE OF o SKIP LOCKED" if self.dialect == "postgresql" else ""
        with self._tx() as db:
            claimed = [row[0] for row in db.execute(
                f"UPDATE outbox SET claimed_by = ?1, claimed_until = ?2 WHERE delivery_id IN ("
                f"SELECT o.delivery_id FROM outbox o "
                f"JOIN chats c ON c.chat_id = o.chat_id AND c.active = 1 AND c.paused = 0 "
                f"JOIN items i ON i.feed_id = o.feed_id AND i.item_id = o.item_id "
                f"WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.not_before <= ?3 "
                f"AND o.delivery_id > ?4 AND (o.claimed_until IS NULL OR o.claimed_until <= ?3 "
                f"OR o.claimed_by = ?1) ORDER BY o.delivery_id LIMIT ?5{lock}) "
                f"RETURNING delivery_id",
                (self.claimant, _iso(_lease_end(now)), _iso(now), after_id, limit)).fetchall()]
            if not claimed:
                return []
            item_columns = ", ".join(f"i.{column}" for column in ITEM_COLUMNS)
            rows = db.execute(
                f"SELECT o.delivery_id, o.chat_id, o.attempts, o.created_at, o.matched, o.kind, "
                f"o.thread_id, o.previous_title, o.previous_summary, {item_columns} "
                f"FROM outbox o JOIN items i ON i.feed_id = o.feed_id AND i.item_id = o.item_id "
                f"WHERE o.delivery_id IN ({', '.join('?' * len(claimed))}) "
                f"ORDER BY o.delivery_id", claimed).fetchall()
        return [Delivery(delivery_id=row[0], chat_id=row[1], attempts=row[2],
                         created_at=_when(row[3]), matched=row[4],
                         kind=cast(DeliveryKind, row[5]), thread_id=row[6] or None,
                         previous_title=row[7], previous_summary=row[8], item=_item(row[9:]))
                for row in rows]

    def release_claims(self) -> int:
        """Free the rows other senders claimed: called by the one sender there is (the leader,
        or the process holding the data dir), whose lock proves those senders are gone."""
        return self._write("UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE "
                           "claimed_by IS NOT NULL AND claimed_by <> ?", (self.claimant,))

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
        self._write(f"UPDATE outbox SET not_before = ?1 WHERE chat_id = ?2 AND "
                    f"not_before < ?1 AND {PENDING}", (_iso(not_before), chat_id))

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
        row = self._read(f"SELECT count(*) FILTER (WHERE {PENDING}), count(*) FILTER "
                         f"(WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE failed_at IS "
                         f"NOT NULL AND sent_at IS NULL) FROM outbox")[0]
        return {"pending": int(row[0]), "sent": int(row[1]), "failed": int(row[2])}
