"""Store methods for items: storing a poll's items with their outbox rows, listing, searching,
counting and pruning them. Whether a new copy is an edit is bot.revisions' rule; which items match
a search is bot.search's (the store only hands it the candidate rows, newest first).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import revisions
from bot.model import Item
from bot.revisions import StoredCopy
from bot.search import SCAN_LIMIT, Matcher
from bot.store.base import (
    ITEM_COLUMNS,
    Db,
    _attachments,
    _attachments_json,
    _iso,
    _item,
    _when,
    item_row,
)
from bot.store.outbox import OutboxMixin

Route = Callable[[Item], Iterable[tuple[int, str | None]]]
# More items edited in one poll than this looks like a site redesign, not news: stored silently.
MAX_EDIT_NOTICES_PER_POLL = 10
# How long the id of a pruned item is remembered: an item back on its page after this is new.
PRUNED_IDS_KEPT = timedelta(days=400)
NEWEST_FIRST = "coalesce(published_at, first_seen_at) DESC, first_seen_at DESC, rowid DESC"


class ItemsMixin(OutboxMixin):
    """A poll's items are stored with their outbox rows, in one transaction."""

    def known_ids(self, feed_id: str, item_ids: Iterable[str]) -> set[str]:
        """The subset of `item_ids` stored for `feed_id`, or stored once and pruned since."""
        wanted, known = list(dict.fromkeys(item_ids)), set[str]()
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(f"SELECT item_id FROM items WHERE feed_id = ? AND item_id IN "
                              f"({marks}) UNION SELECT item_id FROM pruned_items WHERE "
                              f"feed_id = ? AND item_id IN ({marks})",
                              [feed_id, *chunk, feed_id, *chunk])
            known.update(row[0] for row in rows)
        return known

    def add_items(self, feed_id: str, items: Sequence[Item], now: datetime, *,
                  route: Route | None = None) -> list[Item]:
        """Store a poll's items in one transaction; return the new ones with their outbox rows."""
        stamp, new = _iso(now), list[Item]()
        now = now.astimezone(UTC)
        edited: list[tuple[str, str, str]] = []  # (item_id, previous title, previous summary)
        with self._tx() as db:
            for item in items:
                key = (feed_id, item.item_id)
                row = db.execute("SELECT title, summary, image, attachments, doc_number, "
                                 "doc_type, section FROM items "
                                 "WHERE feed_id = ? AND item_id = ?", key).fetchone()
                stored = _stored(row) if row is not None else None
                if stored is not None:
                    item = revisions.without_worse_decoding(stored, item)
                if stored is None and (seen := _pruned_first_seen(db, key)) is not None:
                    # Pruned once and back on the page: stored again in its old place, and
                    # never announced a second time.
                    self._insert_item(db, dataclasses.replace(
                        item, feed_id=feed_id, first_seen_at=seen, updated_at=seen), stamp)
                elif stored is None:
                    added = dataclasses.replace(item, feed_id=feed_id, first_seen_at=now,
                                                updated_at=now)
                    self._insert_item(db, added, stamp)
                    new.append(added)
                    if route is not None:
                        self._enqueue(db, added, route(added), stamp)
                elif (self._refresh(db, key, stored, row[3], item, stamp)
                      and (stored.title, stored.summary) != (item.title, item.summary)):
                    edited.append((item.item_id, stored.title, stored.summary))
            if route is not None and len(edited) <= MAX_EDIT_NOTICES_PER_POLL:
                for item_id, title, summary in edited:
                    self._enqueue_edit(db, feed_id, item_id, title, summary, stamp)
        return new

    @staticmethod
    def _refresh(db: Db, key: tuple[str, str], stored: StoredCopy, stored_attachments: str,
                 item: Item, stamp: str) -> bool:
        """Store a seen item again if it is an edit (True), else note it was seen."""
        kept = _attachments_json(revisions.kept_attachments(stored, item))
        # Attachments stored in another JSON form than today's are rewritten too.
        if kept == stored_attachments and not revisions.is_edit(stored, item):
            db.execute("UPDATE items SET last_seen_at = ? WHERE feed_id = ? AND "
                       "item_id = ?", (stamp, *key))
            return False
        db.execute("UPDATE items SET title = ?, summary = ?, image = coalesce(?, "
                   "image), attachments = ?, doc_number = ?, doc_type = ?, section = "
                   "coalesce(?, section), updated_at = ?, last_seen_at = ? WHERE "
                   "feed_id = ? AND item_id = ?",
                   (item.title, item.summary, item.image, kept,
                    item.doc_number, item.doc_type, item.section, stamp, stamp, *key))
        return True

    @staticmethod
    def _insert_item(db: Db, item: Item, stamp: str) -> None:
        db.execute(f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, last_seen_at) "
                   f"VALUES ({', '.join('?' * (len(ITEM_COLUMNS) + 1))})",
                   item_row(item, stamp))

    def items(self, feed_id: str | None = None, *, limit: int = 50,
              section: str | None = None) -> list[Item]:
        """Newest first by the date readers see; `feed_id` None lists every feed; `section`
        keeps one section of the feed."""
        where, params = ("WHERE feed_id = ?", [feed_id]) if feed_id is not None else ("", [])
        if section is not None and feed_id is not None:
            where, params = "WHERE feed_id = ? AND section = ?", [feed_id, section]
        rows = self._read(f"SELECT {', '.join(ITEM_COLUMNS)} FROM items {where} "
                          f"ORDER BY {NEWEST_FIRST} LIMIT ?", [*params, limit])
        return [_item(row) for row in rows]

    def search(self, phrases: Sequence[str], feed_ids: Iterable[str] | None = None, *,
               limit: int = 5, offset: int = 0, scan: int = SCAN_LIMIT) -> list[Item]:
        """Items matching every phrase (accent-folded, whole words), newest first.

        SQLite cannot fold Vietnamese, so the newest `scan` items (of `feed_ids`, else all) are
        matched in Python, 500 at a time: bounded work, stopping once the page is full."""
        wanted = None if feed_ids is None else list(dict.fromkeys(feed_ids))
        if wanted == [] or limit <= 0 or not phrases:
            return []
        where, params = "", list[Any]()
        if wanted is not None:
            where = f"WHERE feed_id IN ({', '.join('?' * len(wanted))})"
            params = list(wanted)
        matcher, found = Matcher(phrases), list[int]()
        for start in range(0, scan, 500):
            rows = self._read(f"SELECT rowid, title, summary FROM items {where} "
                              f"ORDER BY {NEWEST_FIRST} LIMIT ? OFFSET ?",
                              [*params, min(500, scan - start), start])
            found += [row[0] for row in rows if matcher.matches(row[1], row[2])]
            if len(found) >= offset + limit or len(rows) < 500:
                break
        page = found[offset:offset + limit]
        rows = self._read(f"SELECT rowid, {', '.join(ITEM_COLUMNS)} FROM items WHERE rowid IN "
                          f"({', '.join('?' * len(page))})", page) if page else []
        by_rowid = {row[0]: _item(row[1:]) for row in rows}
        return [by_rowid[rowid] for rowid in page if rowid in by_rowid]

    def item_count(self, feed_id: str | None = None) -> int:
        """How many items are stored (for one feed or all)."""
        if feed_id is None:
            return int(self._read("SELECT count(*) FROM items")[0][0])
        return int(self._read("SELECT count(*) FROM items WHERE feed_id = ?", [feed_id])[0][0])

    def last_change_at(self, feed_id: str | None = None) -> datetime | None:
        """When an item was last added or edited (for one feed or all)."""
        if feed_id is not None:
            rows = self._read("SELECT max(updated_at) FROM items WHERE feed_id = ?", [feed_id])
        else:
            # Walk the distinct feed ids on the index: O(feeds * log items), not a table scan.
            rows = self._read(
                "WITH RECURSIVE feeds(f) AS (SELECT min(feed_id) FROM items UNION ALL "
                "SELECT (SELECT min(feed_id) FROM items WHERE feed_id > f) FROM feeds "
                "WHERE f IS NOT NULL) SELECT max((SELECT max(updated_at) FROM items "
                "WHERE feed_id = f)) FROM feeds")
        return _when(rows[0][0])

    def prune_items(self, feed_id: str, *, unseen_since: datetime, keep: int,
                    now: datetime) -> int:
        """Delete items unseen since `unseen_since`, except the `keep` newest and any pending.

        Their ids are kept (so a pruned item that comes back is not new) until
        PRUNED_IDS_KEPT after pruning."""
        doomed = (f"feed_id = ?1 AND last_seen_at < ?2 AND rowid NOT IN "
                  f"(SELECT rowid FROM items WHERE feed_id = ?1 ORDER BY {NEWEST_FIRST} "
                  f"LIMIT ?3) AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.feed_id = "
                  f"items.feed_id AND o.item_id = items.item_id AND o.sent_at IS NULL "
                  f"AND o.failed_at IS NULL)")
        params = (feed_id, _iso(unseen_since), keep, _iso(now))
        with self._tx() as db:
            db.execute(f"INSERT INTO pruned_items SELECT feed_id, item_id, first_seen_at, ?4 "
                       f"FROM items WHERE {doomed} ON CONFLICT (feed_id, item_id) DO UPDATE "
                       f"SET first_seen_at = excluded.first_seen_at, "
                       f"pruned_at = excluded.pruned_at", params)
            pruned = db.execute(f"DELETE FROM items WHERE {doomed}", params[:3]).rowcount
            db.execute("DELETE FROM pruned_items WHERE feed_id = ? AND pruned_at < ?",
                       (feed_id, _iso(now - PRUNED_IDS_KEPT)))
        return int(pruned)


def _pruned_first_seen(db: Db, key: tuple[str, str]) -> datetime | None:
    """When a pruned item was first seen; the id is forgotten as the item is stored again."""
    row = db.execute("DELETE FROM pruned_items WHERE feed_id = ? AND item_id = ? "
                     "RETURNING first_seen_at", key).fetchall()
    return _when(row[0][0]) if row else None


def _stored(row: Sequence[Any]) -> StoredCopy:
    """The stored copy from `SELECT title, summary, image, attachments, doc_number, doc_type,
    section`."""
    title, summary, image, attachments, doc_number, doc_type, section = row
    return StoredCopy(title, summary, image, _attachments(attachments), doc_number, doc_type,
                      section)
