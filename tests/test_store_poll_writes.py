"""What a changed poll writes in `Store.add_items`: the same rows as before (new items, their
outbox rows, a pruned item back in its old place, last_seen_at of the unchanged ones) in a few
statements whatever the page's size (it was two per listed item)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest

from bot.model import Chat, Item
from bot.store.db import Store
from bot.store.sqlite import SqliteBackend

pytestmark = pytest.mark.backends
T0 = datetime(2024, 11, 28, 3, 0, tzinfo=UTC)


def item(n: int, **changes: object) -> Item:
    base = Item(feed_id="hp", item_id=f"id-{n}", url=f"https://example.vn/{n}",
                title=f"Tin số {n}", summary=f"Tóm tắt {n}")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def to_all(chats: list[int]):  # type: ignore[no-untyped-def]
    return lambda _item: [(chat_id, None) for chat_id in chats]


def test_a_changed_poll_stores_new_and_seen_items_and_queues_each_new_one(store: Store) -> None:
    for chat_id in (1, 2, 3):
        store.upsert_chat(Chat(chat_id))
        store.subscribe(chat_id, "hp")
    page = [item(n) for n in range(20)]
    store.add_items("hp", page, T0)
    store.prune_items("hp", unseen_since=T0 + timedelta(hours=1), keep=18,
                      now=T0 + timedelta(hours=2))
    later = T0 + timedelta(hours=3)
    back = [item(n) for n in range(1, 20)]  # id-0 and id-1 (oldest) pruned: id-1 back, not new
    new = store.add_items("hp", [item(20, title="Mới"), item(21), *back], later,
                          route=to_all([1, 2, 3]))
    assert [i.item_id for i in new] == ["id-20", "id-21"]
    assert store.item_count("hp") == 21
    queued = store.pending(later + timedelta(minutes=1), limit=100)
    assert sorted((d.chat_id, d.item.item_id) for d in queued) == sorted(
        (chat, f"id-{n}") for chat in (1, 2, 3) for n in (20, 21))
    firsts = {i.item_id: i.first_seen_at for i in store.items("hp", limit=50)}
    assert firsts["id-1"] == T0 and firsts["id-19"] == T0 and firsts["id-20"] == later
    # Every listed item was seen at `later`: none is unseen since then.
    assert store.prune_items("hp", unseen_since=later, keep=0, now=later) == 0


def test_a_poll_of_twenty_items_with_one_new_runs_a_few_statements() -> None:
    # Counted on SQLite only: its connection's trace hook is the one way to see every statement.
    with Store.open(":memory:") as store:
        _count_statements_of_a_poll(store)


def _count_statements_of_a_poll(store: Store) -> None:
    backend = store._backend
    assert isinstance(backend, SqliteBackend)
    store.upsert_chat(Chat(1))
    store.add_items("hp", [item(n) for n in range(20)], T0)
    statements: list[str] = []
    backend.conn.set_trace_callback(statements.append)
    store.add_items("hp", [item(20), *(item(n) for n in range(19))], T0 + timedelta(hours=1),
                    route=to_all([1]))
    backend.conn.set_trace_callback(None)
    # BEGIN, read, pruned ids, insert, last_seen_at, outbox, COMMIT (the old code ran 44)
    assert len(statements) <= 7, statements
