"""SQLite persistence: items, feed health, chats, subscriptions, keyword filters, delivery outbox.

The only module that imports sqlite3. One connection in autocommit mode with explicit
`BEGIN IMMEDIATE` transactions, WAL journal, and named migrations recorded in `schema_migrations`.
Every sqlite3 error becomes a StoreError with a hint; a failed write is rolled back whole, so a
poll's new items and their outbox rows are stored together or not at all.
Datetimes are stored as fixed-width ISO-8601 UTC text (so text order is time order).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, cast

from bot.documents import merge_attachments
from bot.errors import InstanceLocked, StoreError
from bot.model import (
    Attachment,
    CacheHeaders,
    Chat,
    ChatKind,
    ChatSettings,
    Delivery,
    DeliveryKind,
    DigestMode,
    FeedHealth,
    Item,
    KeywordFilter,
    Subscription,
)
from bot.search import SCAN_LIMIT, Matcher

Route = Callable[[Item], Iterable[tuple[int, str | None]]]
MISSING_DB_HINT = "run `newsbot poll` once to create it, or restore the file"
# More items edited in one poll than this looks like a site redesign, not news: stored silently.
MAX_EDIT_NOTICES_PER_POLL = 10


class Migration(NamedTuple):
    """One schema step; its statements run in one transaction."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (
        """CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)""",
        """CREATE TABLE items (
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '', published_at TEXT, image TEXT, author TEXT,
            content TEXT, first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL, PRIMARY KEY (feed_id, item_id))""",
        # items() lists newest first per feed and across feeds; rowid is implied at the end.
        """CREATE INDEX items_newest ON items
            (feed_id, coalesce(published_at, first_seen_at), first_seen_at)""",
        """CREATE INDEX items_newest_all ON items
            (coalesce(published_at, first_seen_at), first_seen_at)""",
        "CREATE INDEX items_updated ON items (feed_id, updated_at)",
        """CREATE TABLE feed_health (
            feed_id TEXT PRIMARY KEY, last_poll_at TEXT, last_success_at TEXT, last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0, next_poll_at TEXT, etag TEXT,
            last_modified TEXT, seeded INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'private',
            language TEXT NOT NULL DEFAULT 'vi', active INTEGER NOT NULL DEFAULT 1,
            paused INTEGER NOT NULL DEFAULT 0, title TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL REFERENCES chats ON DELETE CASCADE, feed_id TEXT NOT NULL,
            PRIMARY KEY (chat_id, feed_id))""",
        "CREATE INDEX subscriptions_by_feed ON subscriptions (feed_id)",
        # feed_id '' is the chat-wide filter (NULL would not be unique in the primary key).
        """CREATE TABLE keyword_filters (
            chat_id INTEGER NOT NULL REFERENCES chats ON DELETE CASCADE, feed_id TEXT NOT NULL,
            include TEXT NOT NULL, exclude TEXT NOT NULL, PRIMARY KEY (chat_id, feed_id))""",
        # No foreign key to chats: sent/failed rows outlive a forgotten chat as history.
        """CREATE TABLE outbox (
            delivery_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL,
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, matched TEXT, created_at TEXT NOT NULL,
            not_before TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            sent_at TEXT, failed_at TEXT, UNIQUE (chat_id, feed_id, item_id),
            FOREIGN KEY (feed_id, item_id) REFERENCES items ON DELETE CASCADE)""",
        "CREATE INDEX outbox_item ON outbox (feed_id, item_id)",
        """CREATE INDEX outbox_pending ON outbox (delivery_id)
            WHERE sent_at IS NULL AND failed_at IS NULL""",
    )),
    # The periodic unconditional GET for servers that answer 304 forever needs its last time.
    Migration(2, "feed_health.last_full_fetch_at", (
        "ALTER TABLE feed_health ADD COLUMN last_full_fetch_at TEXT",
    )),
    # One alert per failure streak, and one on recovery, needs to know an alert went out.
    Migration(3, "feed_health.alerted", (
        "ALTER TABLE feed_health ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0",
    )),
    # Edit notices are outbox rows too (kind 'edit', one per item version), and rows carry the
    # forum topic they go to. A table constraint cannot be altered, so the outbox is rebuilt.
    Migration(4, "outbox.kind/version/thread_id, subscriptions.thread_id", (
        """CREATE TABLE outbox_v4 (
            delivery_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL,
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, matched TEXT, created_at TEXT NOT NULL,
            not_before TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            sent_at TEXT, failed_at TEXT, kind TEXT NOT NULL DEFAULT 'item',
            version TEXT NOT NULL DEFAULT '', thread_id INTEGER NOT NULL DEFAULT 0,
            previous_title TEXT, previous_summary TEXT,
            UNIQUE (chat_id, feed_id, item_id, kind, version),
            FOREIGN KEY (feed_id, item_id) REFERENCES items ON DELETE CASCADE)""",
        """INSERT INTO outbox_v4 (delivery_id, chat_id, feed_id, item_id, matched, created_at,
            not_before, attempts, last_error, sent_at, failed_at) SELECT delivery_id, chat_id,
            feed_id, item_id, matched, created_at, not_before, attempts, last_error, sent_at,
            failed_at FROM outbox""",
        # Keep counting delivery ids from where the old table was (ids are never reused).
        "DELETE FROM sqlite_sequence WHERE name = 'outbox_v4'",
        "INSERT INTO sqlite_sequence SELECT 'outbox_v4', seq FROM sqlite_sequence "
        "WHERE name = 'outbox'",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v4 RENAME TO outbox",
        "CREATE INDEX outbox_item ON outbox (feed_id, item_id)",
        """CREATE INDEX outbox_pending ON outbox (delivery_id)
            WHERE sent_at IS NULL AND failed_at IS NULL""",
        # 0: the chat itself (no topic). One topic per (chat, feed).
        "ALTER TABLE subscriptions ADD COLUMN thread_id INTEGER NOT NULL DEFAULT 0",
    )),
    # Quiet hours, digests, urgent keywords, edit notices; a chat without a row has the defaults.
    Migration(5, "chat_settings", (
        """CREATE TABLE chat_settings (
            chat_id INTEGER PRIMARY KEY REFERENCES chats ON DELETE CASCADE,
            timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh', quiet_start INTEGER,
            quiet_end INTEGER, urgent TEXT NOT NULL DEFAULT '[]',
            digest TEXT NOT NULL DEFAULT 'off', digest_at INTEGER NOT NULL DEFAULT 420,
            edits INTEGER NOT NULL DEFAULT 1)""",
    )),
    # Official documents' files and numbers, and the recipe section an item was listed in.
    Migration(6, "items.attachments_documents_sections", (
        "ALTER TABLE items ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'",  # JSON list
        "ALTER TABLE items ADD COLUMN doc_number TEXT",
        "ALTER TABLE items ADD COLUMN doc_type TEXT",
        "ALTER TABLE items ADD COLUMN section TEXT",
        """CREATE INDEX items_section ON items
            (feed_id, section, coalesce(published_at, first_seen_at), first_seen_at)""",
    )),
)

ITEM_COLUMNS = ("feed_id", "item_id", "url", "title", "summary", "published_at", "image",
                "author", "content", "first_seen_at", "updated_at", "attachments", "doc_number",
                "doc_type", "section")
NEWEST_FIRST = "coalesce(published_at, first_seen_at) DESC, first_seen_at DESC, rowid DESC"
PENDING = "sent_at IS NULL AND failed_at IS NULL"
EXPECTED_PRAGMAS = {"synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1}


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: newsbot stores aware UTC times only")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else _iso(moment)


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text).astimezone(UTC)


def _item(row: Sequence[Any]) -> Item:
    return Item(feed_id=row[0], item_id=row[1], url=row[2], title=row[3], summary=row[4],
                published_at=_when(row[5]), image=row[6], author=row[7], content=row[8],
                first_seen_at=_when(row[9]), updated_at=_when(row[10]),
                attachments=_attachments(row[11]), doc_number=row[12], doc_type=row[13],
                section=row[14])


def _attachments(text: str | None) -> tuple[Attachment, ...]:
    try:
        rows = json.loads(text or "[]")
        return tuple(Attachment(str(r["url"]), str(r["name"]), str(r["kind"])) for r in rows)
    except (ValueError, TypeError, KeyError):  # a hand-edited row: the item stays readable
        return ()


def _attachments_json(attachments: Iterable[Attachment]) -> str:
    return json.dumps([dataclasses.asdict(a) for a in attachments], ensure_ascii=False)


def _chat(row: Sequence[Any]) -> Chat:
    return Chat(chat_id=row[0], kind=cast(ChatKind, row[1]), language=row[2],
                active=bool(row[3]), paused=bool(row[4]), title=row[5])


def _health(row: Sequence[Any]) -> FeedHealth:
    return FeedHealth(feed_id=row[0], last_poll_at=_when(row[1]), last_success_at=_when(row[2]),
                      last_error=row[3], consecutive_failures=row[4], next_poll_at=_when(row[5]),
                      cache=CacheHeaders(etag=row[6], last_modified=row[7]), seeded=bool(row[8]),
                      last_full_fetch_at=_when(row[9]), alerted=bool(row[10]))


def _filter(include: str | None, exclude: str | None) -> KeywordFilter:
    return KeywordFilter(tuple(json.loads(include or "[]")), tuple(json.loads(exclude or "[]")))


def _merge(wide: KeywordFilter, per_feed: KeywordFilter) -> KeywordFilter:
    return KeywordFilter(tuple(dict.fromkeys(wide.include + per_feed.include)),
                         tuple(dict.fromkeys(wide.exclude + per_feed.exclude)))


def _hint(reason: str) -> str:
    if "full" in reason:
        return "free disk space on the volume holding the database; newsbot retries later"
    if "locked" in reason or "busy" in reason:
        return "another process holds the database; is a second newsbot or a backup running?"
    if "readonly" in reason or "read-only" in reason:
        return "make the database file and its directory writable by newsbot"
    return "check the database with `PRAGMA integrity_check`, or restore it from a backup"


def _write_error(exc: sqlite3.Error) -> StoreError:
    reason = str(exc)
    return StoreError(f"database write failed: {reason}", hint=_hint(reason))


class Store:
    """All of newsbot's state in one SQLite database."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self._conn = conn
        self.path = path
        # One connection shared with the web thread: a read mid-transaction would see
        # uncommitted rows, so reads take the lock too (they are short).
        self._lock = threading.RLock()

    # -- opening, migrations -------------------------------------------------------------

    @classmethod
    def open(cls, path: str | Path, *, must_exist: bool = False) -> Store:
        """Open (creating and migrating if allowed) the database at `path` or ":memory:"."""
        name = str(path)
        in_memory = name == ":memory:"
        if must_exist and not in_memory and not Path(name).is_file():
            raise StoreError(f"database {name} does not exist", hint=MISSING_DB_HINT)
        try:
            conn = sqlite3.connect(name, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open database {name}: {exc}", hint=_hint(str(exc))) from exc
        store = cls(conn, name)
        try:
            store._check_version(must_exist)  # before any write: WAL would touch an empty file
            store._configure(in_memory)
            store._migrate()
        except sqlite3.OperationalError as exc:  # locked, read-only, I/O: not the file's fault
            conn.close()
            raise StoreError(f"cannot open database {name}: {exc}", hint=_hint(str(exc))) from exc
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{name} is not a usable SQLite database: {exc}",
                             hint="restore it from a backup or move it away; newsbot will "
                                  "not overwrite it") from exc
        except BaseException:
            conn.close()
            raise
        return store

    def _configure(self, in_memory: bool) -> None:
        db = self._conn
        db.execute("PRAGMA busy_timeout = 5000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        if mode != ("memory" if in_memory else "wal"):
            raise StoreError(f"cannot switch {self.path} to WAL (journal_mode is {mode})",
                             hint="keep the database on a local filesystem, not a network share")
        for pragma, expected in EXPECTED_PRAGMAS.items():
            actual = db.execute(f"PRAGMA {pragma}").fetchone()[0]
            if actual != expected:
                raise StoreError(f"PRAGMA {pragma} is {actual}, expected {expected}",
                                 hint="this SQLite build ignores the setting; upgrade SQLite")

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        with self._lock:
            exists = self._conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                        "AND name = 'schema_migrations'").fetchone()
            if exists is None:
                return 0
            return int(self._conn.execute(
                "SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])

    def migrations(self) -> list[tuple[int, str, datetime]]:
        """The applied migrations: (version, name, applied_at), oldest first."""
        rows = self._read("SELECT version, name, applied_at FROM schema_migrations "
                          "ORDER BY version")
        return [(row[0], row[1], datetime.fromisoformat(row[2])) for row in rows]

    def _check_version(self, must_exist: bool) -> None:
        current, latest = self.schema_version(), MIGRATIONS[-1].version
        if current == 0 and must_exist:
            raise StoreError(f"database {self.path} is empty", hint=MISSING_DB_HINT)
        if current > latest:
            raise StoreError(f"database {self.path} has schema version {current}, newer than "
                             f"this newsbot knows ({latest})",
                             hint="upgrade newsbot, or restore a backup made by this version")

    def _migrate(self) -> None:
        for migration in MIGRATIONS:
            if migration.version <= self.schema_version():
                continue  # reopening an up-to-date database takes no write lock
            with self._tx() as db:
                # Re-read inside the write lock: another process may have migrated meanwhile.
                if migration.version <= self.schema_version():
                    continue
                for statement in migration.statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                           (migration.version, migration.name, _iso(datetime.now(UTC))))

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; any failure rolls it back whole."""
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _write_error(exc) from exc
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _write_error(exc) from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (SQLITE_FULL among them).
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"database read failed: {exc}", hint=_hint(str(exc))) from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._tx() as db:
            return db.execute(sql, params).rowcount

    def close(self) -> None:
        """Close the connection (idempotent)."""
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def integrity_ok(self) -> bool:
        """True when `PRAGMA integrity_check` finds nothing wrong."""
        return [tuple(row) for row in self._read("PRAGMA integrity_check")] == [("ok",)]

    # -- items ---------------------------------------------------------------------------

    def known_ids(self, feed_id: str, item_ids: Iterable[str]) -> set[str]:
        """The subset of `item_ids` already stored for `feed_id`."""
        wanted, known = list(dict.fromkeys(item_ids)), set[str]()
        for start in range(0, len(wanted), 500):  # stay under SQLite's bound-parameter limit
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._read(f"SELECT item_id FROM items WHERE feed_id = ? AND item_id IN "
                              f"({marks})", [feed_id, *chunk])
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
                if row is None:
                    added = dataclasses.replace(item, feed_id=feed_id, first_seen_at=now,
                                                updated_at=now)
                    self._insert_item(db, added, stamp)
                    new.append(added)
                    if route is not None:
                        self._enqueue(db, added, route(added), stamp)
                elif _edited(row, item):
                    db.execute("UPDATE items SET title = ?, summary = ?, image = coalesce(?, "
                               "image), attachments = ?, doc_number = ?, doc_type = ?, section = "
                               "coalesce(?, section), updated_at = ?, last_seen_at = ? WHERE "
                               "feed_id = ? AND item_id = ?",
                               (item.title, item.summary, item.image, _kept_attachments(row, item),
                                item.doc_number, item.doc_type, item.section, stamp, stamp, *key))
                    if (row[0], row[1]) != (item.title, item.summary):
                        edited.append((item.item_id, row[0], row[1]))
                else:
                    db.execute("UPDATE items SET last_seen_at = ? WHERE feed_id = ? AND "
                               "item_id = ?", (stamp, *key))
            if route is not None and len(edited) <= MAX_EDIT_NOTICES_PER_POLL:
                for item_id, title, summary in edited:
                    self._enqueue_edit(db, feed_id, item_id, title, summary, stamp)
        return new

    @staticmethod
    def _insert_item(db: sqlite3.Connection, item: Item, stamp: str) -> None:
        db.execute(f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, last_seen_at) "
                   f"VALUES ({', '.join('?' * (len(ITEM_COLUMNS) + 1))})",
                   (item.feed_id, item.item_id, item.url, item.title, item.summary,
                    _iso_or_none(item.published_at), item.image, item.author, item.content,
                    stamp, stamp, _attachments_json(item.attachments), item.doc_number,
                    item.doc_type, item.section, stamp))

    @staticmethod
    def _enqueue(db: sqlite3.Connection, item: Item, targets: Iterable[tuple[int, str | None]],
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
    def _enqueue_edit(db: sqlite3.Connection, feed_id: str, item_id: str, title: str,
                      summary: str, stamp: str) -> None:
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

    def prune_items(self, feed_id: str, *, unseen_since: datetime, keep: int) -> int:
        """Delete items unseen since `unseen_since`, except the `keep` newest and any pending."""
        return self._write(
            f"DELETE FROM items WHERE feed_id = ?1 AND last_seen_at < ?2 AND rowid NOT IN "
            f"(SELECT rowid FROM items WHERE feed_id = ?1 ORDER BY {NEWEST_FIRST} LIMIT ?3) "
            f"AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.feed_id = items.feed_id "
            f"AND o.item_id = items.item_id AND o.sent_at IS NULL AND o.failed_at IS NULL)",
            (feed_id, _iso(unseen_since), keep))

    # -- feed health ---------------------------------------------------------------------

    def health(self, feed_id: str) -> FeedHealth:
        """What is known about a feed's polling; a blank record if never polled."""
        rows = self._read("SELECT * FROM feed_health WHERE feed_id = ?", [feed_id])
        return _health(rows[0]) if rows else FeedHealth(feed_id)

    def save_health(self, health: FeedHealth) -> None:
        """Replace a feed's health record."""
        self._write("INSERT OR REPLACE INTO feed_health VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (health.feed_id, _iso_or_none(health.last_poll_at),
                     _iso_or_none(health.last_success_at), health.last_error,
                     health.consecutive_failures, _iso_or_none(health.next_poll_at),
                     health.cache.etag, health.cache.last_modified, int(health.seeded),
                     _iso_or_none(health.last_full_fetch_at), int(health.alerted)))

    def all_health(self) -> list[FeedHealth]:
        """Every feed's health record, by feed id."""
        return [_health(row) for row in self._read("SELECT * FROM feed_health ORDER BY feed_id")]

    # -- chats ---------------------------------------------------------------------------

    def upsert_chat(self, chat: Chat) -> None:
        """Insert a chat, or refresh kind/title of a known one (its settings are kept)."""
        self._write("INSERT INTO chats VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO "
                    "UPDATE SET kind = excluded.kind, title = excluded.title",
                    (chat.chat_id, chat.kind, chat.language, int(chat.active), int(chat.paused),
                     chat.title))

    def chat(self, chat_id: int) -> Chat | None:
        """One chat, or None."""
        rows = self._read("SELECT * FROM chats WHERE chat_id = ?", [chat_id])
        return _chat(rows[0]) if rows else None

    def set_chat(self, chat_id: int, *, active: bool | None = None, paused: bool | None = None,
                 language: str | None = None) -> None:
        """Change the given settings of a known chat."""
        changes = {"active": active, "paused": paused, "language": language}
        given = {column: value for column, value in changes.items() if value is not None}
        if given:
            assignments = ", ".join(f"{column} = ?" for column in given)
            self._write(f"UPDATE chats SET {assignments} WHERE chat_id = ?",
                        [*given.values(), chat_id])

    def forget_chat(self, chat_id: int) -> None:
        """Delete a chat with its subscriptions, filters and unsent deliveries."""
        with self._tx() as db:
            db.execute(f"DELETE FROM outbox WHERE chat_id = ? AND {PENDING}", (chat_id,))
            db.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,))

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: move everything to the new id, merging if it exists."""
        if old_chat_id == new_chat_id:
            return
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO chats SELECT ?, kind, language, active, paused, "
                       "title FROM chats WHERE chat_id = ?", (new_chat_id, old_chat_id))
            for table in ("subscriptions", "keyword_filters", "outbox", "chat_settings"):
                # The new id's own rows win; the old id's duplicates go.
                db.execute(f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?",
                           (new_chat_id, old_chat_id))
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (old_chat_id,))
            db.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))

    def chats(self, *, active_only: bool = True) -> list[Chat]:
        """Chats by id; only active ones unless told otherwise."""
        where = "WHERE active = 1" if active_only else ""
        return [_chat(row) for row in self._read(f"SELECT * FROM chats {where} ORDER BY chat_id")]

    # -- subscriptions and keyword filters ------------------------------------------------

    def subscribe(self, chat_id: int, feed_id: str, *, thread_id: int = 0) -> bool:
        """Follow a feed (creating a default chat row if needed); True if it was not followed.

        `thread_id` is the forum topic its items go to (0: none); following a feed again from
        another topic moves it there."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO chats (chat_id) VALUES (?)", (chat_id,))
            added = db.execute("INSERT OR IGNORE INTO subscriptions (chat_id, feed_id, "
                               "thread_id) VALUES (?, ?, ?)",
                               (chat_id, feed_id, thread_id)).rowcount == 1
            if not added:
                db.execute("UPDATE subscriptions SET thread_id = ? WHERE chat_id = ? AND "
                           "feed_id = ?", (thread_id, chat_id, feed_id))
            return added

    def subscription_threads(self, chat_id: int) -> dict[str, int]:
        """The feeds a chat follows and the forum topic each goes to (0: none)."""
        rows = self._read("SELECT feed_id, thread_id FROM subscriptions WHERE chat_id = ? "
                          "ORDER BY feed_id", [chat_id])
        return {row[0]: int(row[1]) for row in rows}

    def forget_thread(self, chat_id: int, thread_id: int) -> None:
        """A forum topic is gone: its feeds and their unsent rows go to the chat itself."""
        with self._tx() as db:
            db.execute("UPDATE subscriptions SET thread_id = 0 WHERE chat_id = ? AND "
                       "thread_id = ?", (chat_id, thread_id))
            db.execute(f"UPDATE outbox SET thread_id = 0 WHERE chat_id = ? AND thread_id = ? "
                       f"AND {PENDING}", (chat_id, thread_id))

    def unsubscribe(self, chat_id: int, feed_id: str) -> bool:
        """Stop following a feed; True if it was followed."""
        return self._write("DELETE FROM subscriptions WHERE chat_id = ? AND feed_id = ?",
                           (chat_id, feed_id)) == 1

    def subscriptions_of(self, chat_id: int) -> list[str]:
        """The feed ids a chat follows, sorted."""
        rows = self._read("SELECT feed_id FROM subscriptions WHERE chat_id = ? ORDER BY feed_id",
                          [chat_id])
        return [row[0] for row in rows]

    def subscribers_of(self, feed_id: str) -> list[Subscription]:
        """Active, unpaused chats following a feed, each with its chat-wide + per-feed filter."""
        rows = self._read(
            "SELECT s.chat_id, w.include, w.exclude, f.include, f.exclude FROM subscriptions s "
            "JOIN chats c ON c.chat_id = s.chat_id AND c.active = 1 AND c.paused = 0 "
            "LEFT JOIN keyword_filters w ON w.chat_id = s.chat_id AND w.feed_id = '' "
            "LEFT JOIN keyword_filters f ON f.chat_id = s.chat_id AND f.feed_id = s.feed_id "
            "WHERE s.feed_id = ? ORDER BY s.chat_id", [feed_id])
        return [Subscription(row[0], feed_id, _merge(_filter(row[1], row[2]),
                                                     _filter(row[3], row[4]))) for row in rows]

    def keyword_filter(self, chat_id: int, feed_id: str | None = None) -> KeywordFilter:
        """The filter stored for exactly this scope (chat-wide when `feed_id` is None)."""
        rows = self._read("SELECT include, exclude FROM keyword_filters WHERE chat_id = ? AND "
                          "feed_id = ?", [chat_id, feed_id or ""])
        return _filter(rows[0][0], rows[0][1]) if rows else KeywordFilter()

    def set_keyword_filter(self, chat_id: int, kf: KeywordFilter,
                           feed_id: str | None = None) -> None:
        """Replace the filter of one scope; an empty filter removes it."""
        with self._tx() as db:
            db.execute("DELETE FROM keyword_filters WHERE chat_id = ? AND feed_id = ?",
                       (chat_id, feed_id or ""))
            if kf.include or kf.exclude:
                db.execute("INSERT OR IGNORE INTO chats (chat_id) VALUES (?)", (chat_id,))
                db.execute("INSERT INTO keyword_filters VALUES (?, ?, ?, ?)",
                           (chat_id, feed_id or "", json.dumps(list(kf.include)),
                            json.dumps(list(kf.exclude))))

    # -- chat settings -------------------------------------------------------------------

    def chat_settings(self, chat_id: int) -> ChatSettings:
        """Quiet hours, digest, urgent keywords and edit notices of a chat (defaults if unset)."""
        rows = self._read("SELECT timezone, quiet_start, quiet_end, urgent, digest, digest_at, "
                          "edits FROM chat_settings WHERE chat_id = ?", [chat_id])
        if not rows:
            return ChatSettings(chat_id)
        row = rows[0]
        return ChatSettings(chat_id, timezone=row[0], quiet_start=row[1], quiet_end=row[2],
                            urgent=tuple(json.loads(row[3])), digest=cast(DigestMode, row[4]),
                            digest_at=row[5], edits=bool(row[6]))

    def set_chat_settings(self, settings: ChatSettings) -> None:
        """Replace a chat's settings (creating a default chat row if needed)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO chats (chat_id) VALUES (?)", (settings.chat_id,))
            db.execute("INSERT OR REPLACE INTO chat_settings VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (settings.chat_id, settings.timezone, settings.quiet_start,
                        settings.quiet_end, json.dumps(list(settings.urgent), ensure_ascii=False),
                        settings.digest, settings.digest_at, int(settings.edits)))

    # -- outbox --------------------------------------------------------------------------

    def pending(self, now: datetime, limit: int = 100, *, after_id: int = 0) -> list[Delivery]:
        """Deliveries due for active chats, oldest first, each with its full item.

        `after_id` pages on: rows held back (quiet hours) must not hide the rows behind them."""
        item_columns = ", ".join(f"i.{column}" for column in ITEM_COLUMNS)
        rows = self._read(
            f"SELECT o.delivery_id, o.chat_id, o.attempts, o.created_at, o.matched, o.kind, "
            f"o.thread_id, o.previous_title, o.previous_summary, {item_columns} FROM outbox o "
            f"JOIN chats c ON c.chat_id = o.chat_id AND c.active = 1 "
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

    def outbox_counts(self) -> dict[str, int]:
        """How many deliveries are pending, sent and dead-lettered."""
        row = self._read(f"SELECT coalesce(sum({PENDING}), 0), coalesce(sum(sent_at IS NOT NULL)"
                         f", 0), coalesce(sum(failed_at IS NOT NULL AND sent_at IS NULL), 0) "
                         f"FROM outbox")[0]
        return {"pending": int(row[0]), "sent": int(row[1]), "failed": int(row[2])}


def _edited(stored: Sequence[Any], item: Item) -> bool:
    # A listing without an image keeps the one stored (it may come from the article page);
    # likewise a section, and attachments (the listing may show fewer than the article did).
    title, summary, image, attachments, doc_number, doc_type, section = stored
    return ((title, summary) != (item.title, item.summary)
            or (item.image is not None and item.image != image)
            or (doc_number, doc_type) != (item.doc_number, item.doc_type)
            or (item.section is not None and item.section != section)
            or _kept_attachments(stored, item) != attachments)


def _kept_attachments(stored: Sequence[Any], item: Item) -> str:
    """The stored attachments with the listing's new ones added, as stored JSON."""
    return _attachments_json(merge_attachments(_attachments(stored[3]), item.attachments))


class InstanceLock:
    """An exclusive flock on `data_dir/newsbot.lock`, held until release() or process exit."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> InstanceLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def acquire_lock(data_dir: Path) -> InstanceLock:
    """Claim `data_dir` for this process, or raise InstanceLocked naming the holder's pid."""
    path = Path(data_dir) / "newsbot.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StoreError(f"cannot create lock file {path}: {exc.strerror}",
                         hint="check that the data directory exists and is writable") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
        os.close(fd)
        raise InstanceLocked(f"another newsbot is running on {data_dir} (pid {holder})",
                             hint="stop it first, or give this one another data_dir") from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return InstanceLock(path, fd)
