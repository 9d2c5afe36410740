"""The PostgreSQL backend of the Store, and the leadership lock: the only module that imports
psycopg (and psycopg_pool), installed with the optional extra `newsbot[postgres]`.

The Store's SQL is written once, in the subset both backends share, with SQLite's `?` and `?N`
placeholders; `translate` turns them into psycopg's named ones (and doubles literal `%`).
Connections come from a small pool (the web thread reads while a poll writes); a transaction
keeps its connection for the thread that opened it, so code inside it (a poll's routing) reads
its own writes, as on SQLite. Errors become a StoreError whose text never holds the password.

Leadership: one `newsbot run` per database polls, sends and runs the bot; it holds a session
advisory lock on a connection of its own (not from the pool), so the lock goes when that
process dies or its session drops, and a standby's next try takes it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from bot.errors import StoreError
from bot.store.base import Db, Rows

MISSING: str | None = None
try:
    import psycopg
    import psycopg_pool
except ImportError as exc:  # the optional extra is not installed
    MISSING = str(exc)

PASSWORD_ENV = "NEWSBOT_STORE_PASSWORD"
INSTALL_HINT = "install the PostgreSQL extra: pip install 'newsbot[postgres]'"
# Session advisory lock key of the leader ("newsbot" in ASCII); one leader per database.
LEADER_KEY = 0x6E657773626F74
# Transaction advisory lock key that serialises migrations of two instances starting at once.
MIGRATE_KEY = LEADER_KEY + 1
POOL_SIZE = 8
CONNECT_TIMEOUT = 10  # seconds
# A dead peer (pulled cable, frozen VM) shows as a dropped session within ~15 s, not hours.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2,
              "keepalives_count": 3}
_TOKEN = re.compile(r"'[^']*'|\?(\d*)|%")


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """SQLite placeholders -> psycopg's: `?` is one more than the highest number so far, `?N` is
    parameter N (SQLite's rule); each becomes `%(pN)s`. Literal `%` are doubled."""
    highest = 0

    def swap(match: re.Match[str]) -> str:
        nonlocal highest
        token = match.group(0)
        if token.startswith("'"):
            return token.replace("%", "%%")
        if token == "%":
            return "%%"
        number = int(match.group(1)) if match.group(1) else highest + 1
        highest = max(highest, number)
        return f"%(p{number})s"

    return _TOKEN.sub(swap, sql)


def _named(params: Sequence[Any]) -> dict[str, Any]:
    # Flags are 0/1 integers on both backends (SQLite has no boolean): a Python bool is stored
    # as the integer it is, as sqlite3 does.
    return {f"p{n}": int(value) if isinstance(value, bool) else value
            for n, value in enumerate(params, 1)}


def safe_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{host}").geturl()


class _Cursor:
    """What the Store reads off an executed statement (psycopg's cursor, named plainly)."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall()) if self._cursor.description else []


class _Transaction:
    """The connection inside a transaction, taking the Store's SQLite-style SQL."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Rows:
        return _Cursor(self._conn.execute(translate(sql), _named(parameters)))

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Rows:
        cursor = self._conn.cursor()
        cursor.executemany(translate(sql), [_named(p) for p in parameters])
        return _Cursor(cursor)


class PostgresBackend:
    """A PostgreSQL database behind a small connection pool."""

    dialect = "postgresql"

    def __init__(self, url: str, password: str | None = None) -> None:
        if MISSING is not None:
            raise StoreError(f"[store] url is a PostgreSQL URL, but psycopg is missing "
                             f"({MISSING})", hint=INSTALL_HINT)
        self.url = url
        self.name = safe_url(url)
        self._password = password or unquote(urlsplit(url).password or "") or None
        self._local = threading.local()  # .conn: this thread's open transaction
        self._conninfo = self._info(url)
        self._probe()  # a clear error now (refused, bad password) rather than a pool timeout
        self._pool = psycopg_pool.ConnectionPool(
            self._conninfo, min_size=1, max_size=POOL_SIZE, open=False, name="newsbot",
            kwargs={"autocommit": True}, check=psycopg_pool.ConnectionPool.check_connection,
            timeout=CONNECT_TIMEOUT)
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT)
        except psycopg_pool.PoolTimeout as exc:
            self._pool.close()
            raise StoreError(f"cannot connect to {self.name}: no connection within "
                             f"{CONNECT_TIMEOUT} s", hint=self._hint(str(exc))) from None

    def _info(self, url: str) -> str:
        options: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT, **KEEPALIVES,
                                   "application_name": "newsbot"}
        if self._password is not None:
            options["password"] = self._password
        try:
            return str(psycopg.conninfo.make_conninfo(url, **options))
        except psycopg.ProgrammingError as exc:
            raise StoreError(f"[store] url {self.name} is not a PostgreSQL URL: "
                             f"{self._clean(str(exc))}",
                             hint="write postgresql://user@host:port/database") from None

    def _probe(self) -> None:
        try:
            psycopg.connect(self._conninfo).close()
        except psycopg.Error as exc:
            reason = self._clean(str(exc))
            raise StoreError(f"cannot connect to {self.name}: {reason}",
                             hint=self._hint(reason)) from None

    def _clean(self, text: str) -> str:
        """`text` without the password (psycopg may echo a connection string)."""
        text = " ".join(text.split())
        return text.replace(self._password, "***") if self._password else text

    def _hint(self, reason: str) -> str:
        if "password" in reason:
            return f"set {PASSWORD_ENV} (or put the password in [store] url)"
        if "does not exist" in reason:
            return "create it first (createdb -O USER DATABASE), or fix [store] url"
        if "refused" in reason or "timeout" in reason or "could not" in reason:
            return "is PostgreSQL running and reachable at the URL's host and port?"
        return "check the PostgreSQL server's log; newsbot retries later"

    def _error(self, what: str, exc: Exception) -> StoreError:
        reason = self._clean(str(exc))
        return StoreError(f"database {what} failed: {reason}", hint=self._hint(reason))

    # -- reading and writing -------------------------------------------------------------

    @contextmanager
    def tx(self) -> Iterator[Db]:
        """One transaction; any failure rolls it back whole. Nested: joins the open one."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield _Transaction(current)
            return
        try:
            with self._pool.connection() as conn, conn.transaction():
                self._local.conn = conn
                try:
                    yield _Transaction(conn)
                finally:
                    self._local.conn = None
        except psycopg.Error as exc:
            raise self._error("write", exc) from exc
        except psycopg_pool.PoolTimeout as exc:
            raise self._error("write", exc) from exc

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        current = getattr(self._local, "conn", None)
        try:
            if current is not None:
                return _Transaction(current).execute(sql, params).fetchall()
            with self._pool.connection() as conn:
                return _Transaction(conn).execute(sql, params).fetchall()
        except psycopg.Error as exc:
            raise self._error("read", exc) from exc
        except psycopg_pool.PoolTimeout as exc:
            raise self._error("read", exc) from exc

    def schema_version(self) -> int:
        if not self.read("SELECT to_regclass('schema_migrations')")[0][0]:
            return 0
        return int(self.read("SELECT coalesce(max(version), 0) FROM schema_migrations")[0][0])

    def lock_schema(self, db: Db) -> None:
        """Two instances starting at once migrate one after the other."""
        db.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATE_KEY,))

    def tables(self) -> dict[str, list[str]]:
        rows = self.read("SELECT table_name, column_name FROM information_schema.columns WHERE "
                         "table_schema = current_schema() ORDER BY table_name, ordinal_position")
        tables: dict[str, list[str]] = {}
        for table, column in rows:
            tables.setdefault(table, []).append(column)
        return tables

    def indexes(self) -> set[str]:
        """Indexes made by CREATE INDEX (not those behind primary keys and constraints)."""
        rows = self.read("SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = "
                         "current_schema() AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                         "WHERE c.conname = i.indexname)")
        return {row[0] for row in rows}

    def leadership(self) -> Leadership:
        return Leadership(self._conninfo, self._clean)

    def close(self) -> None:
        self._pool.close()


class Leadership:
    """The leader's session advisory lock, on a connection of its own."""

    def __init__(self, conninfo: str, clean: Any) -> None:
        self._conninfo = conninfo
        self._clean = clean
        self._conn: Any = None
        self.lost_because = ""  # why `holds()` last said no, for the log

    def try_acquire(self) -> bool:
        """Take the lock if nobody holds it; False (never an error) while another does or
        the database is unreachable."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self._conninfo, autocommit=True)
            row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (LEADER_KEY,)).fetchone()
            return bool(row and row[0])
        except psycopg.Error as exc:
            self.lost_because = self._clean(str(exc))
            self._drop()
            return False

    def holds(self) -> bool:
        """Whether this session still holds the lock (asks the server: a dropped session or a
        terminated backend says no)."""
        if self._conn is None:
            return False
        try:
            row = self._conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                "pid = pg_backend_pid() AND objsubid = 1 AND "
                "(classid::bigint << 32 | objid::bigint) = %s", (LEADER_KEY,)).fetchone()
        except psycopg.Error as exc:
            self.lost_because = self._clean(str(exc))
            self._drop()
            return False
        if not (row and row[0]):
            self.lost_because = "the advisory lock is no longer held"
            return False
        return True

    def release(self) -> None:
        """Give the lock up now (closing alone frees it only once the server sees the close)."""
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            with suppress(psycopg.Error):
                self._conn.close()
            self._conn = None
