"""The Store: items, feed health, chats, subscriptions, keyword filters, delivery outbox.

One API on two backends: SQLite in the data dir (bot.store.sqlite, the embedded default) or a
shared PostgreSQL (bot.store.postgres), chosen by `[store] url`. The SQL here is written once, in
the subset both understand; named migrations (bot.store.migrations) are recorded in
`schema_migrations`. A failed write is rolled back whole, so a poll's new items and their outbox
rows are stored together or not at all. Item, chat and outbox methods live in mixins
(bot.store.items, bot.store.chats, bot.store.outbox) that reach the database only through this
class's `_read`, `_write` and `_tx`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from bot.errors import StoreError
from bot.model import CacheHeaders, FeedHealth
from bot.store.base import (
    ITEM_COLUMNS,
    Backend,
    Db,
    _iso,
    _iso_or_none,
    _when,
    item_row,
)
from bot.store.chats import ChatsMixin
from bot.store.items import ItemsMixin
from bot.store.lock import InstanceLock, acquire_lock
from bot.store.migrations import MIGRATIONS, Migration
from bot.store.outbox import CLAIMANT, OutboxMixin
from bot.store.postgres import Leadership, PostgresBackend
from bot.store.sqlite import MISSING_DB_HINT, SqliteBackend

__all__ = ["ITEM_COLUMNS", "MIGRATIONS", "InstanceLock", "Leadership", "Migration", "SoleInstance",
           "Store", "acquire_lock", "item_row"]

MIGRATE_HINT = ("stop every newsbot on this database, run `newsbot migrate`, then start the new "
                "version")


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


class Store(ItemsMixin, OutboxMixin, ChatsMixin):
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


