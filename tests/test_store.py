"""bot.store.db on real SQLite: `:memory:` for logic; files for WAL, locks, corruption, disk
full."""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from bot.errors import InstanceLocked, StoreError
from bot.model import Attachment, CacheHeaders, Chat, FeedHealth, Item, KeywordFilter
from bot.store.db import MIGRATIONS, Store, acquire_lock

pytestmark = pytest.mark.backends

T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
ROOT = Path(__file__).resolve().parent.parent


def item(n: int, feed_id: str = "hp", **changes: object) -> Item:
    base = Item(feed_id=feed_id, item_id=f"id-{n}", url=f"https://example.vn/{n}",
                title=f"Tin số {n}", summary=f"Tóm tắt {n}")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def ids(items: Iterable[Item]) -> list[str]:
    return [i.item_id for i in items]


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# -- opening, migrations, pragmas ---------------------------------------------------------


def test_migrates_an_empty_database_and_reopen_is_a_no_op(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    with Store.open(path) as db:
        first = db.migrations()
        assert [(v, name) for v, name, _ in first] == [(m.version, m.name) for m in MIGRATIONS]
        assert first[0][1] == "initial schema"
        assert first[0][2].tzinfo is not None
    with Store.open(path, must_exist=True) as db:
        assert db.migrations() == first
        assert db.schema_version() == MIGRATIONS[-1].version


def test_newer_schema_than_the_code_knows_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    Store.open(path).close()
    with raw(path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01')")
    with pytest.raises(StoreError, match="schema version 999") as caught:
        Store.open(path)
    assert "upgrade newsbot" in caught.value.hint


def test_pragmas_are_set_on_a_file_database(tmp_path: Path) -> None:
    with Store.open(tmp_path / "newsbot.db") as db:
        conn = db._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 5000
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.integrity_ok()


def test_missing_database_with_must_exist_names_path_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "gone.db"
    with pytest.raises(StoreError) as caught:
        Store.open(path, must_exist=True)
    assert str(path) in caught.value.message
    assert "restore it from a backup, or run with --init" in caught.value.hint
    assert not path.exists()


def test_empty_file_with_must_exist_is_not_silently_initialised(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(StoreError, match="is empty"):
        Store.open(path, must_exist=True)
    assert path.stat().st_size == 0


def test_corrupt_file_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    garbage = b"this is not sqlite at all \x00\xff" * 200
    path.write_bytes(garbage)
    for must_exist in (False, True):
        with pytest.raises(StoreError, match="not a usable SQLite database") as caught:
            Store.open(path, must_exist=must_exist)
        assert "backup" in caught.value.hint
    assert path.read_bytes() == garbage


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open database"):
        Store.open(tmp_path / "no-such-dir" / "newsbot.db")


# -- items ----------------------------------------------------------------------------------


def test_add_items_returns_exactly_the_new_ones_in_input_order(store: Store) -> None:
    new = store.add_items("hp", [item(2), item(1)], T0)
    assert ids(new) == ["id-2", "id-1"]
    assert all(i.first_seen_at == T0 and i.updated_at == T0 for i in new)
    later = T0 + timedelta(minutes=5)
    assert ids(store.add_items("hp", [item(3), item(2), item(1)], later)) == ["id-3"]
    assert store.add_items("hp", [item(1), item(2), item(3)], later) == []
    assert store.item_count("hp") == 3
    assert store.known_ids("hp", ["id-1", "id-9", "id-3"]) == {"id-1", "id-3"}
    assert store.known_ids("other", ["id-1"]) == set()


def test_same_id_twice_in_one_poll_is_new_once(store: Store) -> None:
    assert ids(store.add_items("hp", [item(1), item(1, title="dup")], T0)) == ["id-1"]


def test_item_ids_are_per_feed(store: Store) -> None:
    store.add_items("hp", [item(1)], T0)
    assert ids(store.add_items("other", [item(1, feed_id="other")], T0)) == ["id-1"]


def test_round_trip_keeps_every_field_and_returns_aware_utc(store: Store) -> None:
    ict = timezone(timedelta(hours=7))
    full = item(1, published_at=datetime(2024, 11, 28, 8, 30, tzinfo=ict),
                image="https://example.vn/a.jpg", author="Hải An", content="<p>Nội dung</p>")
    store.add_items("hp", [full], T0.astimezone(ict))
    [stored] = store.items("hp")
    assert stored == dataclasses.replace(full, first_seen_at=T0, updated_at=T0)
    assert stored.published_at is not None and stored.published_at.tzinfo == UTC
    assert stored.published_at == datetime(2024, 11, 28, 1, 30, tzinfo=UTC)


def test_naive_datetimes_are_rejected(store: Store) -> None:
    with pytest.raises(ValueError, match="naive"):
        store.add_items("hp", [item(1)], datetime(2024, 1, 1))


def test_edited_title_updates_without_counting_as_new(store: Store) -> None:
    published = datetime(2024, 11, 1, tzinfo=UTC)
    store.add_items("hp", [item(1, published_at=published, image="a.jpg")], T0)
    later = T0 + timedelta(hours=1)
    edited = item(1, title="Tin số 1 (cập nhật)", published_at=T0, image=None)
    assert store.add_items("hp", [edited], later) == []
    [stored] = store.items("hp")
    assert stored.title == "Tin số 1 (cập nhật)"
    assert stored.updated_at == later and stored.first_seen_at == T0
    assert stored.published_at == published  # a known item's date never moves
    assert stored.image == "a.jpg"  # a listing without an image keeps the stored one
    assert store.last_change_at("hp") == later


def test_unchanged_item_keeps_updated_at(store: Store) -> None:
    store.add_items("hp", [item(1)], T0)
    store.add_items("hp", [item(1)], T0 + timedelta(hours=1))
    assert store.items("hp")[0].updated_at == T0
    assert store.last_change_at("hp") == T0


def test_item_that_drops_off_and_comes_back_is_not_new(store: Store) -> None:
    store.add_items("hp", [item(1), item(2)], T0)
    store.add_items("hp", [item(2)], T0 + timedelta(hours=1))
    assert store.add_items("hp", [item(1), item(2)], T0 + timedelta(hours=2)) == []


def test_items_newest_first_by_reader_date_then_first_seen_then_insertion(store: Store) -> None:
    old = datetime(2024, 1, 1, tzinfo=UTC)
    store.add_items("hp", [item(1, published_at=old), item(2), item(3)], T0)
    store.add_items("hp", [item(4, published_at=T0 + timedelta(days=1))], T0)
    store.add_items("hp", [item(5)], T0 + timedelta(hours=1))
    store.add_items("other", [item(6, feed_id="other", published_at=T0 + timedelta(days=2))], T0)
    assert ids(store.items("hp")) == ["id-4", "id-5", "id-3", "id-2", "id-1"]
    assert ids(store.items("hp", limit=2)) == ["id-4", "id-5"]
    assert ids(store.items()) == ["id-6", "id-4", "id-5", "id-3", "id-2", "id-1"]
    assert store.item_count() == 6 and store.item_count("other") == 1


def test_last_change_at_across_feeds(store: Store) -> None:
    assert store.last_change_at() is None and store.last_change_at("hp") is None
    store.add_items("hp", [item(1)], T0)
    store.add_items("zz", [item(1, feed_id="zz")], T0 + timedelta(hours=2))
    store.add_items("mm", [item(1, feed_id="mm")], T0 + timedelta(hours=1))
    assert store.last_change_at() == T0 + timedelta(hours=2)
    assert store.last_change_at("mm") == T0 + timedelta(hours=1)


def test_prune_spares_the_newest_the_still_listed_and_the_pending(store: Store) -> None:
    store.upsert_chat(Chat(7))
    store.add_items("hp", [item(n) for n in range(1, 6)], T0)
    store.add_items("hp", [item(6)], T0 + timedelta(minutes=1), route=lambda i: [(7, None)])
    later = T0 + timedelta(days=30)
    store.add_items("hp", [item(1)], later)  # still on the page
    pruned = store.prune_items("hp", unseen_since=later - timedelta(days=1), keep=2,
                               now=later)
    # kept: 6 (newest, pending), 5 (newest), 1 (still listed); pruned: 2, 3, 4
    assert pruned == 3
    assert sorted(ids(store.items("hp"))) == ["id-1", "id-5", "id-6"]
    assert store.add_items("hp", [item(1)], later) == []
    assert [d.item.item_id for d in store.pending(later)] == ["id-6"]


def test_prune_takes_sent_history_with_the_item(store: Store) -> None:
    store.upsert_chat(Chat(7))
    store.add_items("hp", [item(1), item(2)], T0, route=lambda i: [(7, None)])
    for delivery in store.pending(T0):
        store.mark_sent(delivery.delivery_id, T0)
    assert store.prune_items("hp", unseen_since=T0 + timedelta(days=1), keep=1,
                              now=T0 + timedelta(days=2)) == 1
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "failed": 0}
    assert store.integrity_ok()


# -- route / outbox written with the items ----------------------------------------------------


def test_route_writes_outbox_rows_for_new_items_only(store: Store) -> None:
    for chat_id in (1, 2):
        store.upsert_chat(Chat(chat_id))
    routed: list[str] = []

    def route(new: Item) -> list[tuple[int, str | None]]:
        routed.append(new.item_id)
        assert new.first_seen_at == T0
        return [(1, "hải an"), (2, None), (1, "again"), (404, None)]  # dup and unknown chat

    store.add_items("hp", [item(1)], T0 - timedelta(hours=1))
    store.add_items("hp", [item(1), item(2)], T0, route=route)
    assert routed == ["id-2"]
    due = store.pending(T0)
    assert [(d.chat_id, d.item.item_id, d.matched) for d in due] == [
        (1, "id-2", "hải an"), (2, "id-2", None)]
    assert due[0].item == store.items("hp")[0]
    assert due[0].created_at == T0 and due[0].attempts == 0


def test_route_may_read_the_store_inside_the_transaction(store: Store) -> None:
    store.subscribe(1, "hp")
    store.set_keyword_filter(1, KeywordFilter(("bão",)))

    def route(new: Item) -> list[tuple[int, str | None]]:
        assert store.known_ids("hp", [new.item_id]) == {new.item_id}  # sees its own insert
        return [(s.chat_id, s.filter.include[0]) for s in store.subscribers_of("hp")]

    store.add_items("hp", [item(1)], T0, route=route)
    assert [(d.chat_id, d.matched) for d in store.pending(T0)] == [(1, "bão")]


def test_route_failure_rolls_back_the_items_too(store: Store) -> None:
    store.upsert_chat(Chat(1))
    store.add_items("hp", [item(1)], T0)

    def route(new: Item) -> list[tuple[int, str | None]]:
        if new.item_id == "id-3":
            raise RuntimeError("filter crashed")
        return [(1, None)]

    with pytest.raises(RuntimeError, match="filter crashed"):
        store.add_items("hp", [item(2), item(3), item(1, title="edited")], T0, route=route)
    assert ids(store.items("hp")) == ["id-1"] and store.items("hp")[0].title == "Tin số 1"
    assert store.outbox_counts() == {"pending": 0, "sent": 0, "failed": 0}
    # The next poll sees the same items as new: nothing lost, nothing half-announced.
    assert ids(store.add_items("hp", [item(2), item(3)], T0, route=lambda i: [(1, None)])) == [
        "id-2", "id-3"]
    assert store.outbox_counts()["pending"] == 2


def test_disk_full_rolls_back_whole_poll_and_succeeds_once_space_returns(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    db = Store.open(path)
    db.upsert_chat(Chat(1))
    db.add_items("hp", [item(n) for n in range(10)], T0)
    pages = db._conn.execute("PRAGMA page_count").fetchone()[0]
    db._conn.execute(f"PRAGMA max_page_count = {pages}")
    big = [item(n, content="x" * 20_000) for n in range(5, 40)]  # 5..9 known, 30 new
    full = "database write failed: database or disk is full"
    with pytest.raises(StoreError, match=full) as caught:
        db.add_items("hp", big, T0 + timedelta(hours=1), route=lambda i: [(1, None)])
    assert "disk space" in caught.value.hint
    assert db.item_count("hp") == 10 and db.outbox_counts()["pending"] == 0
    assert db.integrity_ok()
    db.close()
    with Store.open(path, must_exist=True) as reopened:  # what survives a restart
        assert reopened.item_count("hp") == 10 and reopened.integrity_ok()
        reopened._conn.execute("PRAGMA max_page_count = 1073741823")
        new = reopened.add_items("hp", big, T0 + timedelta(hours=2), route=lambda i: [(1, None)])
        assert ids(new) == [f"id-{n}" for n in range(10, 40)]
        assert reopened.outbox_counts()["pending"] == 30


@pytest.mark.sqlite_only
def test_hot_queries_use_indexes_not_scans(store: Store) -> None:
    def plan(sql: str, *params: object) -> str:
        return " | ".join(row[3] for row in store._conn.execute(f"EXPLAIN QUERY PLAN {sql}",
                                                                params))

    lookup = plan("SELECT title, summary, image FROM items WHERE feed_id = ? AND item_id = ?",
                  "hp", "x")
    assert "SEARCH items USING INDEX sqlite_autoindex_items_1" in lookup
    for feed in ("WHERE feed_id = 'hp'", ""):
        listing = plan(f"SELECT * FROM items {feed} ORDER BY coalesce(published_at, "
                       "first_seen_at) DESC, first_seen_at DESC, rowid DESC LIMIT 50")
        assert "TEMP B-TREE" not in listing and "items_newest" in listing
    due = plan("SELECT o.delivery_id FROM outbox o JOIN chats c ON c.chat_id = o.chat_id "
               "JOIN items i ON i.feed_id = o.feed_id AND i.item_id = o.item_id WHERE "
               "o.sent_at IS NULL AND o.failed_at IS NULL AND o.not_before <= ? "
               "ORDER BY o.delivery_id LIMIT 5", "x")
    assert "outbox_pending" in due and "TEMP B-TREE" not in due


# -- feed health ------------------------------------------------------------------------------


def test_health_defaults_and_round_trips(store: Store) -> None:
    assert store.health("hp") == FeedHealth("hp")
    saved = FeedHealth("hp", last_poll_at=T0, last_success_at=T0 - timedelta(hours=1),
                       last_error="HTTP 503", consecutive_failures=2,
                       next_poll_at=T0 + timedelta(minutes=20),
                       cache=CacheHeaders(etag='W/"abc"', last_modified="Thu, 28 Nov 2024"),
                       seeded=True)
    store.save_health(saved)
    store.save_health(FeedHealth("aa"))
    assert store.health("hp") == saved
    store.save_health(dataclasses.replace(saved, consecutive_failures=0, last_error=None))
    assert store.health("hp").consecutive_failures == 0
    assert [h.feed_id for h in store.all_health()] == ["aa", "hp"]


# -- chats, subscriptions, filters -----------------------------------------------------------


def test_upsert_chat_refreshes_kind_and_title_but_keeps_settings(store: Store) -> None:
    store.upsert_chat(Chat(5, kind="group", title="Old", language="en"))
    store.set_chat(5, paused=True, active=False)
    store.upsert_chat(Chat(5, kind="supergroup", title="New"))
    assert store.chat(5) == Chat(5, kind="supergroup", language="en", active=False, paused=True,
                                 title="New")
    assert store.chat(6) is None
    store.upsert_chat(Chat(6))
    assert [c.chat_id for c in store.chats()] == [6]
    assert [c.chat_id for c in store.chats(active_only=False)] == [5, 6]
    store.set_chat(5, active=True, language="vi")
    assert store.chat(5) == Chat(5, kind="supergroup", paused=True, title="New")


def test_subscriptions(store: Store) -> None:
    assert store.subscribe(1, "hp") is True  # creates a default chat row
    assert store.subscribe(1, "hp") is False
    assert store.subscribe(1, "another")
    assert store.chat(1) == Chat(1)
    assert store.subscriptions_of(1) == ["another", "hp"]
    assert store.unsubscribe(1, "another") is True
    assert store.unsubscribe(1, "another") is False
    assert store.subscriptions_of(1) == ["hp"]


def test_subscribers_of_skips_inactive_keeps_paused_and_merges_filters(store: Store) -> None:
    for chat_id in (1, 2, 3, 4):
        store.subscribe(chat_id, "hp")
    store.subscribe(5, "other")
    store.set_chat(2, active=False)
    store.set_chat(3, paused=True)
    store.set_keyword_filter(1, KeywordFilter(("hải phòng",), ("quảng cáo",)))
    store.set_keyword_filter(1, KeywordFilter(("bão", "hải phòng")), feed_id="hp")
    store.set_keyword_filter(1, KeywordFilter(("ignored",)), feed_id="other")
    subs = store.subscribers_of("hp")
    assert [s.chat_id for s in subs] == [1, 3, 4]  # a paused chat's rows wait for /resume
    assert subs[0].filter == KeywordFilter(("hải phòng", "bão"), ("quảng cáo",))
    assert subs[2].filter == KeywordFilter()


def test_keyword_filter_scopes_and_removal(store: Store) -> None:
    wide = KeywordFilter(("hai an", "Đà Nẵng"), ("thể thao",))
    store.set_keyword_filter(1, wide)
    store.set_keyword_filter(1, KeywordFilter(("bão",)), feed_id="hp")
    assert store.keyword_filter(1) == wide
    assert store.keyword_filter(1, "hp") == KeywordFilter(("bão",))
    assert store.keyword_filter(1, "other") == KeywordFilter()
    store.set_keyword_filter(1, KeywordFilter())
    assert store.keyword_filter(1) == KeywordFilter()
    assert store.keyword_filter(1, "hp") == KeywordFilter(("bão",))


def test_forget_chat_removes_everything_but_sent_history(store: Store) -> None:
    store.subscribe(1, "hp")
    store.set_keyword_filter(1, KeywordFilter(("x",)))
    store.add_items("hp", [item(1), item(2)], T0, route=lambda i: [(1, None)])
    store.mark_sent(store.pending(T0)[0].delivery_id, T0)
    store.forget_chat(1)
    assert store.chat(1) is None and store.subscriptions_of(1) == []
    assert store.keyword_filter(1) == KeywordFilter()
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "failed": 0}


def test_move_chat_to_a_new_id(store: Store) -> None:
    store.upsert_chat(Chat(-1, kind="group", title="Nhóm", language="en"))
    store.subscribe(-1, "hp")
    store.set_keyword_filter(-1, KeywordFilter(("bão",)), feed_id="hp")
    store.add_items("hp", [item(1)], T0, route=lambda i: [(-1, None)])
    store.move_chat(-1, -100)
    assert store.chat(-1) is None
    assert store.chat(-100) == Chat(-100, kind="group", title="Nhóm", language="en")
    assert store.subscriptions_of(-100) == ["hp"]
    assert store.keyword_filter(-100, "hp") == KeywordFilter(("bão",))
    assert [(d.chat_id, d.item.item_id) for d in store.pending(T0)] == [(-100, "id-1")]


def test_move_chat_merges_into_an_existing_id(store: Store) -> None:
    store.upsert_chat(Chat(-100, kind="supergroup"))
    for chat_id, feed in ((-1, "hp"), (-1, "other"), (-100, "hp")):
        store.subscribe(chat_id, feed)
    store.set_keyword_filter(-1, KeywordFilter(("old",)))
    store.set_keyword_filter(-100, KeywordFilter(("new",)))
    store.add_items("hp", [item(1)], T0, route=lambda i: [(-1, None), (-100, None)])
    store.add_items("hp", [item(2)], T0, route=lambda i: [(-1, None)])
    store.move_chat(-1, -100)
    assert store.chat(-1) is None and store.chat(-100) == Chat(-100, kind="supergroup")
    assert store.subscriptions_of(-100) == ["hp", "other"]
    assert store.keyword_filter(-100) == KeywordFilter(("new",))
    due = [(d.chat_id, d.item.item_id) for d in store.pending(T0)]
    assert due == [(-100, "id-1"), (-100, "id-2")]  # one copy of id-1, not two
    assert store.integrity_ok()


# -- outbox -----------------------------------------------------------------------------------


def test_pending_lifecycle(store: Store) -> None:
    for chat_id in (1, 2, 3):
        store.upsert_chat(Chat(chat_id))
    store.set_chat(3, active=False)
    store.add_items("hp", [item(1), item(2)], T0, route=lambda i: [(1, None), (2, None),
                                                                     (3, None)])
    due = store.pending(T0)
    assert [(d.chat_id, d.item.item_id) for d in due] == [
        (1, "id-1"), (2, "id-1"), (1, "id-2"), (2, "id-2")]
    assert store.pending(T0 - timedelta(seconds=1)) == []
    assert len(store.pending(T0, limit=3)) == 3
    store.mark_sent(due[0].delivery_id, T0)
    store.mark_failed(due[1].delivery_id, "message is too long", now=T0)
    store.retry_later(due[2].delivery_id, T0 + timedelta(minutes=5), "timeout")
    assert [d.delivery_id for d in store.pending(T0)] == [due[3].delivery_id]
    retried = store.pending(T0 + timedelta(minutes=5))
    assert [(d.delivery_id, d.attempts) for d in retried] == [
        (due[2].delivery_id, 1), (due[3].delivery_id, 0)]
    assert store.outbox_counts() == {"pending": 4, "sent": 1, "failed": 1}


def test_defer_chat_holds_only_that_chat_and_never_advances_a_later_hold(store: Store) -> None:
    for chat_id in (1, 2):
        store.upsert_chat(Chat(chat_id))
    store.add_items("hp", [item(1), item(2)], T0, route=lambda i: [(1, None), (2, None)])
    first = store.pending(T0)[0]
    store.retry_later(first.delivery_id, T0 + timedelta(hours=1), "429")
    store.defer_chat(1, T0 + timedelta(seconds=30))
    assert [d.chat_id for d in store.pending(T0 + timedelta(seconds=29))] == [2, 2]
    after = store.pending(T0 + timedelta(seconds=30))
    assert [(d.chat_id, d.item.item_id) for d in after] == [(2, "id-1"), (1, "id-2"), (2, "id-2")]
    assert len(store.pending(T0 + timedelta(hours=1))) == 4


def test_reads_from_another_thread_during_writes(tmp_path: Path) -> None:
    db = Store.open(tmp_path / "newsbot.db")
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        try:
            while not done.is_set():
                # Each poll adds two items in one transaction: never see half of one.
                assert len(db.items("hp", limit=1000)) % 2 == 0
                assert db.item_count("hp") % 2 == 0
        except BaseException as exc:  # surfaced by the main thread
            errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for batch in range(50):
            db.add_items("hp", [item(batch * 2), item(batch * 2 + 1)], T0)
    finally:
        done.set()
        thread.join()
        db.close()
    assert errors == []


def test_a_second_store_on_the_same_file_sees_committed_rows(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    with Store.open(path) as writer, Store.open(path, must_exist=True) as reader:
        writer.add_items("hp", [item(1)], T0)
        assert ids(reader.items("hp")) == ["id-1"]


# -- instance lock ---------------------------------------------------------------------------


def test_lock_is_exclusive_within_the_process(tmp_path: Path) -> None:
    lock = acquire_lock(tmp_path)
    assert (tmp_path / "newsbot.lock").read_text().strip() == str(os.getpid())
    with pytest.raises(InstanceLocked) as caught:
        acquire_lock(tmp_path)
    assert str(caught.value.message) == (
        f"another newsbot is running on {tmp_path} (pid {os.getpid()})")
    assert caught.value.hint
    lock.release()
    lock.release()  # idempotent
    with acquire_lock(tmp_path) as again:
        assert again.path == tmp_path / "newsbot.lock"
    acquire_lock(tmp_path).release()  # the context manager released it


HOLD_LOCK = """
import sys, time
from pathlib import Path
from bot.errors import InstanceLocked
from bot.store.db import acquire_lock
try:
    lock = acquire_lock(Path(sys.argv[1]))
except InstanceLocked as exc:
    print(exc); sys.exit(3)
print("locked", flush=True)
sys.stdin.readline()
"""


def test_lock_across_processes(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], env=env,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(InstanceLocked, match=f"pid {holder.pid}"):
            acquire_lock(tmp_path)
    finally:
        holder.communicate("\n", timeout=10)
    # The holder exited: the lock is free again, and a second process is refused while we hold it.
    with acquire_lock(tmp_path):
        refused = subprocess.run([sys.executable, "-c", HOLD_LOCK, str(tmp_path)], env=env,
                                 capture_output=True, text=True, timeout=10, check=False)
    assert refused.returncode == 3
    assert f"another newsbot is running on {tmp_path} (pid {os.getpid()})" in refused.stdout


# -- documents and sections (migration 6) ------------------------------------------------------

PDF = Attachment("https://cdn.haiphong.gov.vn/gov-hpg/1/tintuc/2024/11/412.pdf", "412", "pdf")
DOCX = Attachment("https://haiphong.gov.vn/upload/phu-luc.docx", "Phụ lục", "docx")


def document(n: int, **changes: object) -> Item:
    fields: dict[str, object] = {
        "title": f"Quyết định số {n}/QĐ-UBND", "doc_number": f"{n}/QĐ-UBND",
        "doc_type": "Quyết định", "section": "thong-bao", "attachments": (PDF,)}
    return item(n, **{**fields, **changes})


@pytest.mark.sqlite_only
def test_migration_6_adds_the_document_and_section_columns(store: Store) -> None:
    [name] = [name for version, name, _ in store.migrations() if version == 6]
    columns = {row[1] for row in store._conn.execute("PRAGMA table_info(items)")}

    assert name == "items.attachments_documents_sections"
    assert {"attachments", "doc_number", "doc_type", "section"} <= columns


def test_documents_and_sections_round_trip(store: Store) -> None:
    stored = document(7, attachments=(PDF, DOCX))
    store.add_items("hp", [stored, item(8)], T0)

    got = {i.item_id: i for i in store.items("hp")}

    assert got["id-7"].attachments == (PDF, DOCX)
    assert (got["id-7"].doc_number, got["id-7"].doc_type, got["id-7"].section) == (
        "7/QĐ-UBND", "Quyết định", "thong-bao")
    assert got["id-8"].attachments == () and got["id-8"].section is None
    pending_copy = dataclasses.replace(got["id-7"], first_seen_at=None, updated_at=None)
    assert pending_copy == stored


def test_section_listing_keeps_one_section_newest_first(store: Store) -> None:
    store.add_items("hp", [document(1, published_at=T0), document(2, published_at=T0 + HOUR),
                           item(3, section="tin-tuc", published_at=T0 + 2 * HOUR)], T0)
    store.add_items("other", [document(4)], T0)

    assert ids(store.items("hp", section="thong-bao")) == ["id-2", "id-1"]
    assert ids(store.items("hp", section="tin-tuc")) == ["id-3"]
    assert store.items("hp", section="chi-dao") == []
    if store.dialect != "sqlite":
        return  # PostgreSQL's plans: tests/test_store_backends.py
    plan = " | ".join(row[3] for row in store._conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM items WHERE feed_id = 'hp' AND section = 's' "
        "ORDER BY coalesce(published_at, first_seen_at) DESC, first_seen_at DESC, rowid DESC "
        "LIMIT 50"))
    assert "items_section" in plan and "TEMP B-TREE" not in plan


def test_attachments_only_grow_and_listing_gaps_keep_the_stored_section(store: Store) -> None:
    store.add_items("hp", [document(1, attachments=(PDF, DOCX))], T0)  # enriched from the article
    later = T0 + HOUR

    store.add_items("hp", [document(1, attachments=(PDF,), section=None)], later)  # listing
    kept = store.items("hp")[0]

    assert kept.attachments == (PDF, DOCX) and kept.section == "thong-bao"
    assert kept.updated_at == T0  # nothing changed: no republish

    extra = Attachment("https://haiphong.gov.vn/upload/bang.xlsx", "Bảng", "xlsx")
    store.add_items("hp", [document(1, attachments=(extra,))], later)
    grown = store.items("hp")[0]
    assert grown.attachments == (PDF, DOCX, extra) and grown.updated_at == later


def test_a_title_edit_updates_the_document_fields_and_a_move_the_section(store: Store) -> None:
    store.add_items("hp", [document(1)], T0)
    later = T0 + HOUR

    store.add_items("hp", [document(1, title="Quyết định số 1/QĐ-UBND (đính chính)",
                                    doc_number=None, doc_type="Thông báo", section="chi-dao")],
                    later)
    edited = store.items("hp")[0]

    assert (edited.doc_number, edited.doc_type, edited.section) == (None, "Thông báo", "chi-dao")
    assert edited.updated_at == later and edited.first_seen_at == T0


def test_rows_from_before_migration_6_read_back_empty(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    Store.open(path).close()
    with raw(path) as conn:  # a row as version 5 wrote it, and a hand-mangled one
        conn.execute("INSERT INTO items (feed_id, item_id, url, title, first_seen_at, "
                     "updated_at, last_seen_at) VALUES ('hp', 'old', 'https://x.vn/1', 'Cũ', "
                     "'2024-11-28T05:00:00.000000+00:00', '2024-11-28T05:00:00.000000+00:00', "
                     "'2024-11-28T05:00:00.000000+00:00')")
        conn.execute("INSERT INTO items (feed_id, item_id, url, title, first_seen_at, "
                     "updated_at, last_seen_at, attachments) SELECT 'hp', 'bad', url, title, "
                     "first_seen_at, updated_at, last_seen_at, '{\"not\": \"a list\"' FROM items")
    with Store.open(path) as db:
        got = {i.item_id: i for i in db.items("hp")}
    assert got["old"].attachments == () and got["old"].section is None
    assert got["bad"].attachments == ()
