"""`newsbot export --to URL`: copy a whole store into an empty one, SQLite <-> PostgreSQL.

Every table is copied row for row, in one transaction on the target (all or nothing), parents
before children (items before the outbox that refers to them). Items go in their insertion order,
so the target's own row ids keep the order newest-first listings break ties with; outbox rows
keep their delivery ids (the order sends go out in), and PostgreSQL's id counter is moved past
them. Both stores have this newsbot's schema: the target is migrated when opened, the source was.
"""

from __future__ import annotations

from bot.errors import StoreError
from bot.store.db import Store

# Parents first; each with the column that orders its rows.
TABLES = (("items", "rowid"), ("pruned_items", "feed_id, item_id"), ("feed_health", "feed_id"),
          ("chats", "chat_id"), ("subscriptions", "chat_id, feed_id"),
          ("keyword_filters", "chat_id, feed_id"), ("chat_settings", "chat_id"),
          ("outbox", "delivery_id"))
PAGE = 2000  # rows read and written at a time


def copy_store(source: Store, target: Store) -> dict[str, int]:
    """Copy every row of `source` into the empty `target`; returns rows copied per table."""
    if source.schema_version() != target.schema_version():
        raise StoreError(f"{source.path} has schema version {source.schema_version()}, "
                         f"{target.path} {target.schema_version()}",
                         hint="run `newsbot migrate` on the older one first")
    _refuse_unless_empty(target)
    source_columns, target_columns = source.tables(), target.tables()
    copied: dict[str, int] = {}
    with target._tx() as db:
        for table, order in TABLES:
            columns = [c for c in source_columns[table] if c in target_columns[table]
                       and c != "rowid"]
            names = ", ".join(columns)
            insert = f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})"
            copied[table] = 0
            while rows := source._read(f"SELECT {names} FROM {table} ORDER BY {order} "
                                       f"LIMIT ? OFFSET ?", (PAGE, copied[table])):
                db.executemany(insert, [tuple(row) for row in rows])
                copied[table] += len(rows)
        if target.dialect == "postgresql":
            db.execute("SELECT setval(pg_get_serial_sequence('outbox', 'delivery_id'), "
                       "coalesce(max(delivery_id), 0) + 1, false) FROM outbox")
    return copied


def _refuse_unless_empty(target: Store) -> None:
    held = [table for table, _ in TABLES if target._read(f"SELECT 1 FROM {table} LIMIT 1")]
    if held:
        raise StoreError(f"{target.path} is not empty ({', '.join(held)} hold rows)",
                         hint="export into a new, empty database; newsbot never merges two")
