"""SQLite or PostgreSQL: what does a poll cost at 1k / 100k / 1M stored items, and how fast is the
outbox drained? Prints each backend's figures and their ratios (PostgreSQL / SQLite).

Usage: .venv/bin/python benchmarks/bench_backends.py [--sizes 1000,100000,1000000] [--rows 5000]

- add_items: one poll = 20 listed items (10 known, 10 new) routed to 3 chats, in one call; the
  median of 40 polls after bulk-loading `size` items (a file database for SQLite; a throw-away
  local PostgreSQL server started like the tests' one, fsync off: both measure the code and the
  engine, not the disk).
- claim: `rows` outbox rows drained by pending(limit=100) + mark_sent_many, rows per second; on
  PostgreSQL also by two senders at once (FOR UPDATE SKIP LOCKED keeps them apart).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from benchlib import QUICK  # noqa: E402
from fakes.postgres import PostgresServer  # noqa: E402  (the tests' throw-away server)

from bot.model import Chat, Item  # noqa: E402
from bot.store.base import _iso  # noqa: E402
from bot.store.db import ITEM_COLUMNS, Store, item_row  # noqa: E402

FEED = "haiphong"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
POLLS = 40
SUMMARY = "Chiều 11/1, UBND thành phố Hải Phòng tổ chức hội nghị tổng kết công tác năm. " * 3


def make_item(n: int) -> Item:
    return Item(feed_id=FEED, item_id=f"https://haiphong.gov.vn/tin-tuc/bai-viet-{n}.html",
                url=f"https://haiphong.gov.vn/{n}", summary=SUMMARY,
                title=f"Hải Phòng: tin tức số {n} về hoạt động của lãnh đạo thành phố",
                published_at=T0 + timedelta(minutes=n))


def bulk_load(store: Store, start: int, stop: int) -> None:
    """Items [start, stop), 10,000 per transaction."""
    marks = ", ".join("?" * (len(ITEM_COLUMNS) + 1))
    sql = f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, last_seen_at) VALUES ({marks})"
    stamp = _iso(T0)

    def rows(first: int, last: int) -> Iterator[tuple[object, ...]]:
        return (item_row(make_item(n), stamp) for n in range(first, last))

    for first in range(start, stop, 10_000):
        with store._tx() as db:
            db.executemany(sql, list(rows(first, min(stop, first + 10_000))))


def median_poll_ms(store: Store, stored: int, first_new: int) -> float:
    timings, top = [], first_new
    known = [make_item(n) for n in range(stored - 10, stored)]
    for poll in range(POLLS):
        fresh = [make_item(n) for n in range(top, top + 10)]
        started = time.perf_counter()
        new = store.add_items(FEED, fresh + known, T0 + timedelta(days=1, minutes=poll),
                              route=lambda _: [(1, None), (2, None), (3, None)])
        timings.append((time.perf_counter() - started) * 1000)
        assert len(new) == 10, len(new)
        known, top = fresh, top + 10
    return statistics.median(timings)


def add_items_figures(open_store: Callable[[], Store], sizes: list[int]) -> list[float]:
    figures, loaded = [], 0
    for round_, size in enumerate(sizes, start=1):
        with open_store() as store:
            for chat_id in (1, 2, 3):
                store.upsert_chat(Chat(chat_id))
            bulk_load(store, loaded, size)
            loaded = size
            if store.dialect == "postgresql":
                store._write("ANALYZE")
            figures.append(median_poll_ms(store, size, round_ * 100_000_000))
    return figures


def fill_outbox(store: Store, rows: int) -> None:
    chats = 50
    for chat_id in range(1, chats + 1):
        store.upsert_chat(Chat(chat_id))
    items = [Item("claims", f"c{n}", f"https://x.vn/{n}", f"Tin {n}") for n in range(rows // chats)]
    store.add_items("claims", items, T0, route=lambda _: [(c, None) for c in range(1, chats + 1)])


def drain(store: Store, claimant: str, done: list[int]) -> None:
    store.claimant = claimant
    while batch := store.pending(T0 + timedelta(hours=1), limit=100):
        store.mark_sent_many([row.delivery_id for row in batch], T0)
        done.append(len(batch))


def claims_per_second(open_store: Callable[[], Store], rows: int, senders: int) -> float:
    with open_store() as store:
        store._write("DELETE FROM items WHERE feed_id = 'claims'")  # and their outbox rows
        fill_outbox(store, rows)
    stores = [open_store() for _ in range(senders)]
    done: list[int] = []
    threads = [threading.Thread(target=drain, args=(s, f"sender-{n}", done))
               for n, s in enumerate(stores)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.perf_counter() - started
    for store in stores:
        store.close()
    assert sum(done) == rows, (sum(done), rows)
    return rows / took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000" if QUICK else "1000,100000,1000000")
    parser.add_argument("--rows", type=int, default=1000 if QUICK else 5000)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    server = PostgresServer.start()
    try:
        url = server.create_database()
        claims_url = server.create_database()
        with tempfile.TemporaryDirectory() as tmp:
            lite_path, claims_path = Path(tmp) / "bench.db", Path(tmp) / "claims.db"
            lite = add_items_figures(lambda: Store.open(lite_path), sizes)
            pg = add_items_figures(lambda: Store.connect(url), sizes)
            lite_claims = claims_per_second(lambda: Store.open(claims_path), args.rows, 1)
            pg_claims = claims_per_second(lambda: Store.connect(claims_url), args.rows, 1)
            pg_two = claims_per_second(lambda: Store.connect(claims_url), args.rows, 2)
    finally:
        server.stop()
    print(f"add_items: {POLLS} polls of 20 listed items (10 new, 3 chats each), median ms")
    print(f"{'stored':>9} {'sqlite':>8} {'postgres':>9} {'pg/sqlite':>10} {'sqlite/1k':>10}"
          f" {'pg/1k':>7}")
    for size, a, b in zip(sizes, lite, pg, strict=True):
        print(f"{size:>9} {a:>8.2f} {b:>9.2f} {b / a:>10.2f} {a / lite[0]:>10.2f}"
              f" {b / pg[0]:>7.2f}")
    print(f"outbox claim + mark sent, {args.rows} rows in batches of 100, rows/s")
    print(f"  sqlite, 1 sender     {lite_claims:>8.0f}")
    print(f"  postgres, 1 sender   {pg_claims:>8.0f}   ({pg_claims / lite_claims:.2f} x sqlite)")
    print(f"  postgres, 2 senders  {pg_two:>8.0f}   ({pg_two / lite_claims:.2f} x sqlite)")


if __name__ == "__main__":
    main()
