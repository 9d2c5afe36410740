"""The Store on PostgreSQL beside SQLite: migrations kept in step, the password path, claims with
FOR UPDATE SKIP LOCKED, the leadership lock, plans. The shared behaviour (every `store` test of
test_store, test_edits, test_search) runs on both backends through the `backends` marker."""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fakes.postgres import PASSWORD, PostgresServer

from bot.errors import StoreError
from bot.model import Chat, Item
from bot.store.db import MIGRATIONS, Store
from bot.store.postgres import translate

T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)


def item(n: int) -> Item:
    return Item(feed_id="hp", item_id=f"id-{n}", url=f"https://example.vn/{n}",
                title=f"Tin số {n}", summary=f"Tóm tắt {n}")


def test_the_migrations_are_the_same_steps_on_both_backends() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    for migration in MIGRATIONS:
        assert migration.statements and migration.postgres, migration.name


def test_both_backends_end_with_the_same_tables_columns_and_indexes(pg_url: str) -> None:
    with Store.open(":memory:") as lite, Store.connect(pg_url) as pg:
        assert lite.schema_version() == pg.schema_version() == MIGRATIONS[-1].version
        assert [m[:2] for m in lite.migrations()] == [m[:2] for m in pg.migrations()]
        pg_tables = pg.tables()
        pg_tables["items"].remove("rowid")  # SQLite's is implicit
        assert pg_tables == lite.tables()
        assert pg.indexes() == lite.indexes()


def test_placeholders_follow_sqlites_numbering_and_percent_is_literal() -> None:
    assert translate("SELECT ?, ?, ?1 WHERE a = ?2 AND b LIKE '%?%' AND c = ?") == (
        "SELECT %(p1)s, %(p2)s, %(p1)s WHERE a = %(p2)s AND b LIKE '%%?%%' AND c = %(p3)s")
    assert translate("SELECT ?3, ? FROM t") == "SELECT %(p3)s, %(p4)s FROM t"


def test_a_pending_claim_is_sent_once_even_by_two_senders(postgres: PostgresServer,
                                                          pg_url: str) -> None:
    """Two senders on one database drain a 600-row outbox at once: every row is claimed by
    exactly one of them."""
    with Store.connect(pg_url) as setup:
        for chat_id in range(1, 7):
            setup.upsert_chat(Chat(chat_id))
        setup.add_items("hp", [item(n) for n in range(100)], T0,
                        route=lambda i: [(c, None) for c in range(1, 7)])
    claimed: dict[str, list[int]] = {}

    def sender(name: str) -> None:
        with Store.connect(pg_url) as store:
            store.claimant = name
            mine = claimed.setdefault(name, [])
            while rows := store.pending(T0, limit=7):
                mine.extend(row.delivery_id for row in rows)
                store.mark_sent_many([row.delivery_id for row in rows], T0)

    threads = [threading.Thread(target=sender, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    counts = Counter(claimed["a"] + claimed["b"])
    assert len(counts) == 600 and set(counts.values()) == {1}
    assert claimed["a"] and claimed["b"]  # both really sent


def test_rows_locked_by_another_sender_are_skipped_not_waited_for(postgres: PostgresServer,
                                                                  pg_url: str) -> None:
    with Store.connect(pg_url) as store:
        store.upsert_chat(Chat(1))
        store.add_items("hp", [item(n) for n in range(4)], T0, route=lambda i: [(1, None)])
        other = psycopg.connect(pg_url)
        try:
            # Another sender is writing its claim of the two oldest rows right now.
            other.execute("SELECT delivery_id FROM outbox ORDER BY delivery_id LIMIT 2 "
                          "FOR UPDATE")
            got: list[list[str]] = []
            worker = threading.Thread(target=lambda: got.append(
                [row.item.item_id for row in store.pending(T0)]))
            worker.start()
            worker.join(10)
            assert got == [["id-2", "id-3"]], "pending() waited for the other sender's lock"
        finally:
            other.rollback()
            other.close()
        assert [row.item.item_id for row in store.pending(T0)] == [f"id-{n}" for n in range(4)]


def test_another_senders_claim_holds_until_its_lease_ends_or_is_released(store_pg: Store) -> None:
    store_pg.upsert_chat(Chat(1))
    store_pg.add_items("hp", [item(1)], T0, route=lambda i: [(1, None)])
    store_pg.claimant = "dead-sender"
    assert len(store_pg.pending(T0)) == 1
    store_pg.claimant = "me"
    assert store_pg.pending(T0 + timedelta(seconds=10)) == []
    assert len(store_pg.pending(T0 + timedelta(minutes=3))) == 1  # the lease ran out
    store_pg.claimant = "dead-sender"
    assert store_pg.pending(T0 + timedelta(minutes=3)) == []  # "me" holds it now
    assert store_pg.release_claims() == 1
    assert len(store_pg.pending(T0 + timedelta(minutes=3))) == 1


@pytest.fixture
def store_pg(pg_url: str) -> Store:
    store = Store.connect(pg_url)
    yield store  # type: ignore[misc]
    store.close()


def test_the_password_comes_from_the_url_or_apart_and_is_never_shown(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()  # with the password
    bare = url.replace(f":{PASSWORD}@", "@")
    assert bare != url
    with Store.connect(bare, password=PASSWORD) as store:
        assert store.item_count() == 0
        assert PASSWORD not in store.path
    with pytest.raises(StoreError) as refused:
        Store.connect(bare)
    assert "password" in str(refused.value) and "NEWSBOT_STORE_PASSWORD" in refused.value.hint
    wrong = url.replace(PASSWORD, "not-the-password-42")
    with pytest.raises(StoreError) as bad:
        Store.connect(wrong)
    shown = f"{bad.value} {bad.value.hint}"
    assert "password authentication failed" in shown and "not-the-password-42" not in shown


def test_an_unreachable_server_is_one_clear_error(postgres: PostgresServer) -> None:
    url = f"postgresql://newsbot:{PASSWORD}@127.0.0.1:1/newsbot"
    with pytest.raises(StoreError) as refused:
        Store.connect(url)
    assert "cannot connect to postgresql://newsbot:***@127.0.0.1:1/newsbot" in str(refused.value)
    assert PASSWORD not in str(refused.value)
    assert "reachable" in refused.value.hint


def test_an_older_schema_is_refused_unless_migrating_and_a_newer_one_always(
    postgres: PostgresServer, pg_url: str
) -> None:
    with Store.connect(pg_url) as store:
        store._write("DELETE FROM schema_migrations WHERE version = ?", (MIGRATIONS[-1].version,))
        store._write("ALTER TABLE outbox DROP COLUMN claimed_by")
        store._write("ALTER TABLE outbox DROP COLUMN claimed_until")
    with pytest.raises(StoreError, match="older than this newsbot's") as old:
        Store.connect(pg_url, upgrade=False)
    assert "newsbot migrate" in old.value.hint
    with Store.connect(pg_url) as store:
        assert store.schema_version() == MIGRATIONS[-1].version
        store._write("INSERT INTO schema_migrations VALUES (?, 'from the future', ?)",
                     (MIGRATIONS[-1].version + 1, T0.isoformat()))
    with pytest.raises(StoreError, match="newer than this newsbot knows"):
        Store.connect(pg_url)


def test_leadership_is_one_session_and_passes_on_when_it_drops(
    postgres: PostgresServer, pg_url: str
) -> None:
    with Store.connect(pg_url) as a, Store.connect(pg_url) as b:
        first, second = a.leadership(), b.leadership()
        assert first.try_acquire() and first.holds()
        assert not second.try_acquire() and not second.holds()
        with postgres.admin() as admin:  # the leader's session drops (as if its link broke)
            dropped = admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                                    "locktype = 'advisory' AND objsubid = 1").fetchall()
        assert dropped == [(True,)]
        assert not first.holds() and first.lost_because
        assert second.try_acquire() and second.holds()
        assert not first.try_acquire()
        second.release()
        assert first.try_acquire()
        first.release()


def test_hot_queries_use_indexes_on_postgresql(store_pg: Store) -> None:
    store_pg.add_items("hp", [dataclasses.replace(item(n), item_id=f"x{n}")
                              for n in range(300)], T0)
    store_pg._write("ANALYZE")

    def plan(sql: str) -> str:
        with store_pg._tx() as db:
            db.execute("SET LOCAL enable_seqscan = off")  # a tiny table: show what it can use
            return " | ".join(row[0] for row in db.execute(f"EXPLAIN {sql}").fetchall())

    assert "items_pkey" in plan("SELECT title FROM items WHERE feed_id = 'hp' AND "
                                "item_id = 'x5'")
    listing = plan("SELECT * FROM items WHERE feed_id = 'hp' ORDER BY coalesce(published_at, "
                   "first_seen_at) DESC, first_seen_at DESC, rowid DESC LIMIT 50")
    assert "items_newest" in listing and "Sort" not in listing
    due = plan("SELECT delivery_id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL "
               "ORDER BY delivery_id LIMIT 5")
    assert "outbox_pending" in due
