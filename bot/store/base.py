"""What the Store mixins share: the helpers they call on Store, time text, item rows.

The database drivers live in bot/store/sqlite.py and bot/store/postgres.py; here a backend is seen
through the small `Backend` protocol, and a connection inside a transaction through `Db`.
Datetimes are stored as fixed-width ISO-8601 UTC text (so text order is time order).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.model import Attachment, Item

ITEM_COLUMNS = ("feed_id", "item_id", "url", "title", "summary", "published_at", "image",
                "author", "content", "first_seen_at", "updated_at", "attachments", "doc_number",
                "doc_type", "section")
PENDING = "sent_at IS NULL AND failed_at IS NULL"


class Rows(Protocol):
    """The part of a cursor the store uses."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """The connection inside a write transaction."""

    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Rows: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Rows: ...


class Backend(Protocol):
    """A database the Store runs on (bot.store.sqlite, bot.store.postgres)."""

    dialect: str  # "sqlite" or "postgresql"
    name: str  # for messages: a path, or a URL without its password

    def read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def tx(self) -> AbstractContextManager[Db]: ...

    def schema_version(self) -> int: ...

    def lock_schema(self, db: Db) -> None: ...

    def tables(self) -> dict[str, list[str]]: ...

    def indexes(self) -> set[str]: ...

    def close(self) -> None: ...


class StoreBase(Protocol):
    """The helpers bot.store.db.Store provides to its mixins."""

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[Any]: ...

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int: ...

    def _tx(self) -> AbstractContextManager[Db]: ...

    @property
    def dialect(self) -> str: ...

    @property
    def claimant(self) -> str: ...


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


def item_row(item: Item, stamp: str) -> tuple[str | None, ...]:
    """The values of ITEM_COLUMNS + last_seen_at for an item stored at `stamp` (its own first
    seen and updated times when it has them, e.g. a pruned item back on its page): the one place
    that knows the order (the store's insert and benchmarks' bulk loads use it)."""
    return (item.feed_id, item.item_id, item.url, item.title, item.summary,
            _iso_or_none(item.published_at), item.image, item.author, item.content,
            _iso_or_none(item.first_seen_at) or stamp, _iso_or_none(item.updated_at) or stamp,
            _attachments_json(item.attachments), item.doc_number, item.doc_type, item.section,
            stamp)
