"""The Store: items, feed health, chats, subscriptions, keyword filters, delivery outbox.

One API on two backends: SQLite in the data dir (bot.store.sqlite, the embedded default) or a
shared PostgreSQL (bot.store.postgres), chosen by `[store] url`. The SQL here is written once, in
the subset both understand; named migrations (bot.store.migrations) are recorded in
`schema_migrations`. A failed write is rolled back whole, so a poll's new items and their outbox
rows are stored together or not at all. Chat and outbox methods live in mixins (bot.store.chats,
bot.store.outbox) that reach the database only through this class's `_read`, `_write` and `_tx`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.documents import merge_attachments
from bot.errors import StoreError
from bot.model import CacheHeaders, FeedHealth, Item
from bot.mojibake import is_worse_decoding
from bot.search import SCAN_LIMIT, Matcher
from bot.store.base import (
    ITEM_COLUMNS,
    Backend,
    Db,
    _attachments,
    _attachments_json,
    _iso,
    _iso_or_none,
    _item,
    _when,
    item_row,
)
from bot.store.chats import ChatsMixin
from bot.store.lock import InstanceLock, acquire_lock
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.outbox import CLAIMANT, OutboxMixin
from bot.store.postgres import Leadership, PostgresBackend
from bot.store.sqlite import MISSING_DB_HINT, SqliteBackend

__all__ = ["ITEM_COLUMNS", "MAX_EDIT_NOTICES_PER_POLL", "MIGRATIONS", "InstanceLock", "Leadership",
           "Migration", "Route", "SoleInstance", "Store", "acquire_lock", "item_row"]

Route = Callable[[Item], Iterable[tuple[int, str | None]]]
# More items edited in one poll than this looks like a site redesign, not news: stored silently.
MAX_EDIT_NOTICES_PER_POLL = 10
# How long the id of a pruned item is remembered: an item back on its page after this is new.
PRUNED_IDS_KEPT = timedelta(days=400)
MIGRATE_HINT = ("stop every newsbot on this database, run `newsbot migrate`, then start the new "
                "version")

NEWEST_FIRST = "coalesce(published_at, first_seen_at) DESC, first_seen_at DESC, rowid DESC"


def _health(row: Sequence[Any]) -> FeedHealth:
    return FeedHealth(feed_id=row[0], last_poll_at=_when(row[1]), last_success_at=_when(row[2]),
                      last_error=row[3], consecutive_failures=row[4], next_poll_at=_when(row[5]),
                      cache=CacheHeaders(etag=row[6], last_modified=row[7]), seeded=bool(row[8]),
                      last_full_fetch_at=_when(row[9]), alerted=bool(row[10]),
                      held_back_at=_when(row[11]), held_back_items=row[12])


def sqlite_path(url: str) -> str | None:
    """The file of a `sqlite:///path` URL (None for any other URL)."""
    return url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else None


class SoleInstance:
    """Leadership on SQLite: the data dir's lock already makes this process the only one."""

    lost_because = ""

    def try_acquire(self) -> bool:
        return True

    def holds(self) -> bool:
        return True

    def release(self) -> None:
        """Nothing to release: the instance lock goes with the process."""


class Store(OutboxMixin, ChatsMixin):
    """All of newsbot's state in one database, SQLite or PostgreSQL."""

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self.path = backend.name
        self._claimant = CLAIMANT

    @property
    def claimant(self) -> str:
        """Who this store's `pending` claims rows for: this process, unless a test stands in
        for another sender."""
        return self._claimant

    @claimant.setter
    def claimant(self, name: str) -> None:
        self._claimant = name

    # -- opening, migrations -------------------------------------------------------------

    @classmethod
    def connect(cls, url: str, *, password: str | None = None, upgrade: bool = True) -> Store:
        """Open the database a `[store] url` names: `sqlite:///path` or `postgresql://…`.

        `upgrade` False: an existing PostgreSQL database older than this newsbot is refused
        (other instances may still run the old version; `newsbot migrate` upgrades it); an
        empty one is still given the schema."""
        path = sqlite_path(url)
        if path is not None:
            return cls.open(path)
        if not url.startswith(("postgresql://", "postgres://")):
            raise StoreError(f"[store] url {url!r} is neither sqlite:/// nor postgresql://",
                             hint="write sqlite:///data/newsbot.db or "
                                  "postgresql://user@host:5432/newsbot")
        store = cls(PostgresBackend(url, password))
        try:
            store._check_version(must_exist=False)
            if not upgrade and 0 < store.schema_version() < MIGRATIONS[-1].version:
                raise StoreError(f"database {store.path} has schema version "
                                 f"{store.schema_version()}, older than this newsbot's "
                                 f"({MIGRATIONS[-1].version})", hint=MIGRATE_HINT)
            store._migrate()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, path: str | Path, *, must_exist: bool = False, check: bool = False) -> Store:
        """Open (creating and migrating if allowed) the SQLite database at `path` or ":memory:".

        `check`: first run `PRAGMA quick_check` on a read-only connection, so a damaged file is
        refused (DatabaseDamaged) before anything is written to it."""
        name = str(path)
        in_memory = name == ":memory:"
        if must_exist and not in_memory and not Path(name).is_file():
            raise StoreError(f"database {name} does not exist", hint=MISSING_DB_HINT)
        if check and not in_memory and Path(name).is_file() and Path(name).stat().st_size:
            with cls.open_readonly(name) as probe:
                probe.refuse_damage()
        backend = SqliteBackend.connect(name)
        store = cls(backend)
        try:
            with backend.opening():
                store._check_version(must_exist)  # before any write: WAL would touch an empty file
                backend.configure()
                store._migrate()
        except BaseException:
            backend.close()
            raise
        return store

    @classmethod
    def open_readonly(cls, path: str | Path) -> Store:
        """A SQLite connection that cannot write (no migration, no checkpoint on close): for
        checks and backups, also while the daemon runs."""
        name = str(path)
        if not Path(name).is_file():
            raise StoreError(f"database {name} does not exist", hint=MISSING_DB_HINT)
        return cls(SqliteBackend.connect_readonly(name))

    @property
    def dialect(self) -> str:
        return self._backend.dialect

    def _sqlite(self, what: str) -> SqliteBackend:
        if not isinstance(self._backend, SqliteBackend):
            raise StoreError(f"{what} works on a SQLite database only ({self.path} is not one)",
                             hint="use the PostgreSQL server's own tools (pg_dump, amcheck)")
        return self._backend

    @property
    def _conn(self) -> Any:
        """The SQLite connection itself (tests look at pragmas and plans through it)."""
        return self._sqlite("a raw connection").conn

    def refuse_damage(self) -> None:
        """Raise DatabaseDamaged unless `PRAGMA quick_check` finds the file sound."""
        self._sqlite("quick_check").refuse_damage()

    def backup(self, dest: Path) -> None:
        """Copy the SQLite database into the new file `dest` as one consistent snapshot."""
        self._sqlite("newsbot backup").backup(dest)

    def integrity_ok(self) -> bool:
        """True when `PRAGMA integrity_check` finds nothing wrong (PostgreSQL: always)."""
        if isinstance(self._backend, SqliteBackend):
            return self._backend.integrity_ok()
        return True

    def leadership(self) -> Leadership | SoleInstance:
        """Who polls and sends: on PostgreSQL an advisory lock on its own session; on SQLite
        this process (the data dir's lock keeps others out)."""
        if isinstance(self._backend, PostgresBackend):
            return self._backend.leadership()
        return SoleInstance()

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        return self._backend.schema_version()

    def migrations(self) -> list[tuple[int, str, datetime]]:
        """The applied migrations: (version, name, applied_at), oldest first."""
        rows = self._read("SELECT version, name, applied_at FROM schema_migrations "
                          "ORDER BY version")
        return [(row[0], row[1], datetime.fromisoformat(row[2])) for row in rows]

    def tables(self) -> dict[str, list[str]]:
        """Each table's columns in order, as the backend's catalog has them."""
        return self._backend.tables()

    def indexes(self) -> set[str]:
        """The names of the indexes the migrations created."""
        return self._backend.indexes()

    def _check_version(self, must_exist: bool) -> None:
        current, latest = self.schema_version(), MIGRATIONS[-1].version
        if current == 0 and must_exist:
            raise StoreError(f"database {self.path} is empty", hint=MISSING_DB_HINT)
        if current > latest:
            raise StoreError(f"database {self.path} has schema version {current}, newer than "
                             f"this newsbot knows ({latest})",
                             hint="upgrade newsbot, or restore a backup made by this version")

    def migrate(self) -> list[Migration]:
        """Apply the migrations not applied yet; returns them (`newsbot migrate`)."""
        return self._migrate()

    def _migrate(self) -> list[Migration]:
        applied = []
        for migration in MIGRATIONS:
            if migration.version <= self.schema_version():
                continue  # reopening an up-to-date database takes no write lock
            with self._tx() as db:
                self._backend.lock_schema(db)
                # Re-read inside the write lock: another process may have migrated meanwhile.
                if migration.version <= self.schema_version():
                    continue
                statements = (migration.statements if self.dialect == "sqlite"
                              else migration.postgres)
                for statement in statements:
                    db.execute(statement)
                db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                           (migration.version, migration.name, _iso(datetime.now(UTC))))
                applied.append(migration)
        return applied

    # -- plumbing ------------------------------------------------------------------------

    @contextmanager
    def _tx(self) -> Iterator[Db]:
        """One write transaction; any failure rolls it back whole."""
        with self._backend.tx() as db:
            yield db

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        return self._backend.read(sql, params)

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._tx() as db:
            return db.execute(sql, params).rowcount

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._backend.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- items ---------------------------------------------------------------------------

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
                if row is not None:
                    item = _without_worse_decoding(row, item)
                if row is None and (seen := _pruned_first_seen(db, key)) is not None:
                    # Pruned once and back on the page: stored again in its old place, and
                    # never announced a second time.
                    self._insert_item(db, dataclasses.replace(
                        item, feed_id=feed_id, first_seen_at=seen, updated_at=seen), stamp)
                elif row is None:
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

    def forget_feed(self, feed_id: str) -> dict[str, int]:
        """Delete everything stored for a feed (items, remembered ids, its outbox rows, sent or
        not, which go with their items anyway, subscriptions, its keyword filters, its poll
        health) in one transaction; the counts by table."""
        counts = {}
        with self._tx() as db:
            for table, where in (
                ("outbox", "feed_id = ?"),
                ("subscriptions", "feed_id = ?"),
                ("keyword_filters", "feed_id = ?"),
                ("items", "feed_id = ?"),
                ("pruned_items", "feed_id = ?"),
                ("feed_health", "feed_id = ?"),
            ):
                counts[table] = int(db.execute(f"DELETE FROM {table} WHERE {where}",
                                               (feed_id,)).rowcount)
        return counts

    # -- feed health ---------------------------------------------------------------------

    def health(self, feed_id: str) -> FeedHealth:
        """What is known about a feed's polling; a blank record if never polled."""
        rows = self._read("SELECT * FROM feed_health WHERE feed_id = ?", [feed_id])
        return _health(rows[0]) if rows else FeedHealth(feed_id)

    def save_health(self, health: FeedHealth) -> None:
        """Replace a feed's health record."""
        self._write("INSERT INTO feed_health VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (feed_id) DO UPDATE SET last_poll_at = excluded.last_poll_at, "
                    "last_success_at = excluded.last_success_at, last_error = "
                    "excluded.last_error, consecutive_failures = excluded.consecutive_failures, "
                    "next_poll_at = excluded.next_poll_at, etag = excluded.etag, "
                    "last_modified = excluded.last_modified, seeded = excluded.seeded, "
                    "last_full_fetch_at = excluded.last_full_fetch_at, "
                    "alerted = excluded.alerted, held_back_at = excluded.held_back_at, "
                    "held_back_items = excluded.held_back_items",
                    (health.feed_id, _iso_or_none(health.last_poll_at),
                     _iso_or_none(health.last_success_at), health.last_error,
                     health.consecutive_failures, _iso_or_none(health.next_poll_at),
                     health.cache.etag, health.cache.last_modified, int(health.seeded),
                     _iso_or_none(health.last_full_fetch_at), int(health.alerted),
                     _iso_or_none(health.held_back_at), health.held_back_items))

    def all_health(self) -> list[FeedHealth]:
        """Every feed's health record, by feed id."""
        return [_health(row) for row in self._read("SELECT * FROM feed_health ORDER BY feed_id")]


def _pruned_first_seen(db: Db, key: tuple[str, str]) -> datetime | None:
    """When a pruned item was first seen; the id is forgotten as the item is stored again."""
    row = db.execute("DELETE FROM pruned_items WHERE feed_id = ? AND item_id = ? "
                     "RETURNING first_seen_at", key).fetchall()
    return _when(row[0][0]) if row else None


def _edited(stored: Sequence[Any], item: Item) -> bool:
    # A listing without an image keeps the one stored (it may come from the article page);
    # likewise a section, and attachments (the listing may show fewer than the article did).
    title, summary, image, attachments, doc_number, doc_type, section = stored
    return ((title, summary) != (item.title, item.summary)
            or (item.image is not None and item.image != image)
            or (doc_number, doc_type) != (item.doc_number, item.doc_type)
            or (item.section is not None and item.section != section)
            or _kept_attachments(stored, item) != attachments)


def _without_worse_decoding(stored: Sequence[Any], item: Item) -> Item:
    """The item with its stored title (and the document number read from it) and summary kept
    where the new text is a worse decoding (U+FFFD, mojibake): one broken byte on the page is
    no edit, and must not replace good text in the feeds."""
    title, summary, _, _, doc_number, doc_type, _ = stored
    if is_worse_decoding(title, item.title):
        item = dataclasses.replace(item, title=title, doc_number=doc_number, doc_type=doc_type)
    if is_worse_decoding(summary, item.summary):
        item = dataclasses.replace(item, summary=summary)
    return item


def _kept_attachments(stored: Sequence[Any], item: Item) -> str:
    """The stored attachments with the listing's new ones added, as stored JSON."""
    return _attachments_json(merge_attachments(_attachments(stored[3]), item.attachments))
