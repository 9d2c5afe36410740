"""Store methods for items: storing a poll's items with their outbox rows, listing, searching,
counting and pruning them. Whether a new copy is an edit is bot.revisions' rule; which items match
a search is bot.search's (the store only hands it the candidate rows, newest first).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
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
NO_ATTACHMENTS = "[]"  # what `_attachments_json` makes of none
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
        """Store a poll's items in one transaction; return the new ones with their outbox rows.

        A handful of statements whatever the page's size: one read of the stored rows, one
        update of the unchanged ones' last_seen_at, one for the pruned ids, one insert of the
        new rows and one of their outbox rows, plus one per edited item (was ~2 per item)."""
        stamp, new = _iso(now), list[Item]()
        now = now.astimezone(UTC)
        edited: list[tuple[str, str, str]] = []  # (item_id, previous title, previous summary)
        inserts: list[Item] = []
        seen: list[str] = []  # stored, unchanged: only last_seen_at moves
        with self._tx() as db:
            rows = _stored_rows(db, feed_id, [item.item_id for item in items])
            pruned = _pruned_first_seen(db, feed_id, [i.item_id for i in items
                                                      if i.item_id not in rows])
            done = set[str]()
            for item in items:
                if item.item_id in done:  # twice on one page: read what the first copy left
                    self._store_rows(db, feed_id, inserts, seen, stamp)
                    rows.update(_stored_rows(db, feed_id, [item.item_id]))
                done.add(item.item_id)
                row = rows.get(item.item_id)
                stored, stored_attachments = (_stored(row), row[3]) if row else (None, "")
                if stored is not None:
                    item = revisions.without_worse_decoding(stored, item)
                if stored is None and (first_seen := pruned.pop(item.item_id, None)) is not None:
                    # Pruned once and back on the page: stored again in its old place, and
                    # never announced a second time.
                    inserts.append(dataclasses.replace(
                        item, feed_id=feed_id, first_seen_at=first_seen, updated_at=first_seen))
                elif stored is None:
                    added = dataclasses.replace(item, feed_id=feed_id, first_seen_at=now,
                                                updated_at=now)
                    inserts.append(added)
                    new.append(added)
                elif not self._refresh(db, (feed_id, item.item_id), stored,
                                       stored_attachments, item, stamp):
                    seen.append(item.item_id)
                elif (stored.title, stored.summary) != (item.title, item.summary):
                    edited.append((item.item_id, stored.title, stored.summary))
            self._store_rows(db, feed_id, inserts, seen, stamp)
            if route is not None:
                self._enqueue_many(db, [(item, route(item)) for item in new], stamp)
            if route is not None and len(edited) <= MAX_EDIT_NOTICES_PER_POLL:
                for item_id, title, summary in edited:
                    self._enqueue_edit(db, feed_id, item_id, title, summary, stamp)
        return new

    @staticmethod
    def _store_rows(db: Db, feed_id: str, inserts: list[Item], seen: list[str],
                    stamp: str) -> None:
        """Insert the new rows (in page order: rowid breaks date ties) and note the unchanged
        ones as seen; both lists are emptied."""
        if inserts:
            db.executemany(f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, last_seen_at) "
                           f"VALUES ({', '.join('?' * (len(ITEM_COLUMNS) + 1))})",
                           [item_row(item, stamp) for item in inserts])
        for chunk in _chunks(seen):
            db.execute(f"UPDATE items SET last_seen_at = ? WHERE feed_id = ? AND item_id IN "
                       f"({','.join('?' * len(chunk))})", [stamp, feed_id, *chunk])
        inserts.clear()
        seen.clear()

    @staticmethod
    def _refresh(db: Db, key: tuple[str, str], stored: StoredCopy, stored_attachments: str,
                 item: Item, stamp: str) -> bool:
        """Store a seen item again if it is an edit (True); False: unchanged, nothing written."""
        attachments = revisions.kept_attachments(stored, item)
        # Attachments stored in another JSON form than today's are rewritten too. (Most items
        # have none: "[]" without json.dumps, 19 times per poll of the gov.vn listing.)
        kept = NO_ATTACHMENTS if not attachments else _attachments_json(attachments)
        if kept == stored_attachments and not revisions.is_edit(stored, item):
            return False  # the caller notes it as seen, with the others
        db.execute("UPDATE items SET title = ?, summary = ?, image = coalesce(?, "
                   "image), attachments = ?, doc_number = ?, doc_type = ?, section = "
                   "coalesce(?, section), updated_at = ?, last_seen_at = ? WHERE "
                   "feed_id = ? AND item_id = ?",
                   (item.title, item.summary, item.image, kept,
                    item.doc_number, item.doc_type, item.section, stamp, stamp, *key))
        return True

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


def _chunks(ids: Sequence[str], size: int = 500) -> Iterator[Sequence[str]]:
    """`ids` in slices that stay under SQLite's bound-parameter limit."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]


def _stored_rows(db: Db, feed_id: str, item_ids: Sequence[str]) -> dict[str, Sequence[Any]]:
    """The stored copy's columns (see `_stored`) of each of `item_ids` that is stored."""
    found: dict[str, Sequence[Any]] = {}
    for chunk in _chunks(list(dict.fromkeys(item_ids))):
        found.update((row[0], row[1:]) for row in db.execute(
            f"SELECT item_id, title, summary, image, attachments, doc_number, doc_type, section "
            f"FROM items WHERE feed_id = ? AND item_id IN ({','.join('?' * len(chunk))})",
            [feed_id, *chunk]).fetchall())
    return found


def _pruned_first_seen(db: Db, feed_id: str, item_ids: Sequence[str]) -> dict[str, datetime]:
    """When each pruned one of `item_ids` was first seen; their ids are forgotten, as the items
    are stored again."""
    found: dict[str, datetime] = {}
    for chunk in _chunks(list(dict.fromkeys(item_ids))):
        rows = db.execute(f"DELETE FROM pruned_items WHERE feed_id = ? AND item_id IN "
                          f"({','.join('?' * len(chunk))}) RETURNING item_id, first_seen_at",
                          [feed_id, *chunk]).fetchall()
        found.update((row[0], when) for row in rows if (when := _when(row[1])) is not None)
    return found


def _stored(row: Sequence[Any]) -> StoredCopy:
    """The stored copy from `SELECT title, summary, image, attachments, doc_number, doc_type,
    section`."""
    title, summary, image, attachments, doc_number, doc_type, section = row
    kept = () if attachments == NO_ATTACHMENTS else _attachments(attachments)
    return StoredCopy(title, summary, image, kept, doc_number, doc_type, section)
