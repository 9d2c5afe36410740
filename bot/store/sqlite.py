"""The SQLite backend of the Store: the only module that imports sqlite3.

One connection in autocommit mode with explicit `BEGIN IMMEDIATE` transactions, WAL journal. Every
sqlite3 error becomes a StoreError with a hint; a failed write is rolled back whole. The
connection is shared with the web thread: a read mid-transaction would see uncommitted rows, so
reads take the lock too (they are short); the lock is re-entrant, so code inside a transaction
(a poll's routing) reads through the same connection and sees its own writes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.errors import DatabaseDamaged, StoreError
from bot.store.base import Db

MISSING_DB_HINT = "restore it from a backup, or run with --init to start a new one"
DAMAGED_DB_HINT = ("restore it from a backup, or run with --init to move it aside and start a "
                   "new one; newsbot will not write to it")
EXPECTED_PRAGMAS = {"synchronous": 1, "busy_timeout": 5000, "foreign_keys": 1}


def _hint(reason: str) -> str:
    if "full" in reason:
        return "free disk space on the volume holding the database; newsbot retries later"
    if "locked" in reason or "busy" in reason:
        return "another process holds the database; is a second newsbot or a backup running?"
    if "readonly" in reason or "read-only" in reason:
        return "make the database file and its directory writable by newsbot"
    return "check the database with `PRAGMA integrity_check`, or restore it from a backup"


def _damaged(name: str, reason: str) -> DatabaseDamaged:
    return DatabaseDamaged(f"{name} is not a usable SQLite database: {reason}",
                           hint=DAMAGED_DB_HINT)


def _write_error(exc: sqlite3.Error) -> StoreError:
    reason = str(exc)
    return StoreError(f"database write failed: {reason}", hint=_hint(reason))


def _open_error(name: str, exc: sqlite3.Error) -> StoreError:
    return StoreError(f"cannot open database {name}: {exc}", hint=_hint(str(exc)))


class SqliteBackend:
    """A database file (or ":memory:") behind one shared connection."""

    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.name = path
        self._lock = threading.RLock()

    @classmethod
    def connect(cls, path: str) -> SqliteBackend:
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _open_error(path, exc) from exc
        return cls(conn, path)

    @classmethod
    def connect_readonly(cls, path: str) -> SqliteBackend:
        """A connection that cannot write (no migration, no checkpoint on close)."""
        try:
            conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True,
                                   isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            raise _open_error(path, exc) from exc
        return cls(conn, path)

    @contextmanager
    def opening(self) -> Iterator[None]:
        """Errors while checking, configuring and migrating a fresh connection: a locked or
        unreadable file is a StoreError, a file that is no database is DatabaseDamaged."""
        try:
            yield
        except sqlite3.OperationalError as exc:  # locked, read-only, I/O: not the file's fault
            raise _open_error(self.name, exc) from exc
        except sqlite3.DatabaseError as exc:
            raise _damaged(self.name, str(exc)) from exc

    def configure(self) -> None:
        """WAL, NORMAL sync, foreign keys, busy timeout; refused if SQLite ignores them."""
        db = self.conn
        db.execute("PRAGMA busy_timeout = 5000")
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        if mode != ("memory" if self.name == ":memory:" else "wal"):
            raise StoreError(f"cannot switch {self.name} to WAL (journal_mode is {mode})",
                             hint="keep the database on a local filesystem, not a network share")
        for pragma, expected in EXPECTED_PRAGMAS.items():
            actual = db.execute(f"PRAGMA {pragma}").fetchone()[0]
            if actual != expected:
                raise StoreError(f"PRAGMA {pragma} is {actual}, expected {expected}",
                                 hint="this SQLite build ignores the setting; upgrade SQLite")

    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database); raw sqlite3 errors."""
        with self._lock:
            exists = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                       "AND name = 'schema_migrations'").fetchone()
            if exists is None:
                return 0
            return int(self.conn.execute(
                "SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()[0])

    def lock_schema(self, db: Db) -> None:
        """Nothing to do: `BEGIN IMMEDIATE` already keeps other writers out."""

    def tables(self) -> dict[str, list[str]]:
        """Each table's columns in order (for the test that keeps the backends in step)."""
        names = [row[0] for row in self.read("SELECT name FROM sqlite_master WHERE type = "
                                             "'table' AND name NOT LIKE 'sqlite_%'")]
        return {name: [row[1] for row in self.read(f"PRAGMA table_info({name})")]
                for name in names}

    def indexes(self) -> set[str]:
        rows = self.read("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        return {row[0] for row in rows}

    # -- reading and writing -------------------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[Db]:
        """One write transaction; any failure rolls it back whole."""
        with self._lock:
            try:
                self.conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise _write_error(exc) from exc
            try:
                yield self.conn
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise _write_error(exc) from exc
            except BaseException:
                self._rollback()
                raise

    def _rollback(self) -> None:
        # SQLite rolls back by itself on some errors (SQLITE_FULL among them).
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self.conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"database read failed: {exc}", hint=_hint(str(exc))) from exc

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    # -- checks and copies ---------------------------------------------------------------

    def refuse_damage(self) -> None:
        """Raise DatabaseDamaged unless `PRAGMA quick_check` finds the file sound."""
        try:
            rows = self.conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.OperationalError as exc:  # locked, I/O: not the file's fault
            raise StoreError(f"cannot check database {self.name}: {exc}",
                             hint=_hint(str(exc))) from exc
        except sqlite3.DatabaseError as exc:  # not a database, malformed beyond reading
            raise _damaged(self.name, str(exc)) from exc
        problems = [line for row in rows for line in str(row[0]).splitlines()
                    if line not in ("ok", "*** in database main ***")]
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise DatabaseDamaged(f"{self.name} is damaged: PRAGMA quick_check says "
                                  f"{problems[0]}{more}", hint=DAMAGED_DB_HINT)

    def integrity_ok(self) -> bool:
        """True when `PRAGMA integrity_check` finds nothing wrong."""
        return [tuple(row) for row in self.read("PRAGMA integrity_check")] == [("ok",)]

    def backup(self, dest: Path) -> None:
        """Copy the database into the new file `dest` as one consistent snapshot.

        The online backup API copies every page in one step inside one read transaction: with
        WAL, writers go on meanwhile and the copy is the database as of the step's start."""
        try:
            target = sqlite3.connect(dest, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot create {dest}: {exc}", hint=_hint(str(exc))) from exc
        try:
            with self._lock:
                self.conn.backup(target)
            target.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        except sqlite3.Error as exc:
            raise StoreError(f"backup to {dest} failed: {exc}", hint=_hint(str(exc))) from exc
        finally:
            target.close()
