"""Does a poll cost the same with 1k or 1M stored items? Times Store.add_items on a file database.

Usage: .venv/bin/python benchmarks/bench_store.py [--sizes 1000,100000,1000000] [--hashed-ids]

One poll = 20 listed items, the 10 newest known ones plus 10 new ones (half new), in one
add_items call with a route that queues each new item for 3 chats. The store is reopened before
each size is measured so SQLite's page cache starts cold (the OS cache stays warm).
"""

from __future__ import annotations

import argparse
import hashlib
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchlib import QUICK  # also puts the repository on sys.path

from bot.model import Chat, Item
from bot.store.db import ITEM_COLUMNS, Store, item_row

FEED = "haiphong"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
POLLS = 20 if QUICK else 60
SUMMARY = "Chiều 11/1, UBND thành phố Hải Phòng tổ chức hội nghị tổng kết công tác năm. " * 3


def item_id(n: int, hashed: bool) -> str:
    url = f"https://haiphong.gov.vn/tin-tuc/hoat-dong-cua-lanh-dao-thanh-pho/bai-viet-{n}.html"
    return hashlib.sha256(url.encode()).hexdigest()[:32] if hashed else url


def make_item(n: int, hashed: bool) -> Item:
    return Item(feed_id=FEED, item_id=item_id(n, hashed), url=f"https://haiphong.gov.vn/{n}",
                title=f"Hải Phòng: tin tức số {n} về hoạt động của lãnh đạo thành phố",
                summary=SUMMARY, published_at=T0 + timedelta(minutes=n))


def bulk_load(store: Store, start: int, stop: int, hashed: bool) -> None:
    """Insert items [start, stop) with executemany in one transaction. The row comes from the
    store's own `item_row`, so a new column cannot make this load drift from the schema."""
    placeholders = ", ".join("?" * (len(ITEM_COLUMNS) + 1))
    sql = f"INSERT INTO items ({', '.join(ITEM_COLUMNS)}, last_seen_at) VALUES ({placeholders})"
    stamp = T0.isoformat(timespec="microseconds")

    def rows() -> Iterator[tuple[str | None, ...]]:
        for n in range(start, stop):
            yield item_row(make_item(n, hashed), stamp)

    with store._tx() as db:
        db.executemany(sql, rows())


def time_polls(store: Store, stored: int, first_new: int, hashed: bool) -> list[float]:
    """Run POLLS polls of 20 items (10 known, 10 new); return each add_items time in ms."""
    timings, top = [], first_new
    known = [make_item(n, hashed) for n in range(stored - 10, stored)]
    for poll in range(POLLS):
        fresh = [make_item(n, hashed) for n in range(top, top + 10)]
        now = T0 + timedelta(days=1, minutes=poll)
        started = time.perf_counter()
        new = store.add_items(FEED, fresh + known, now, route=lambda _: [(1, None), (2, None),
                                                                       (3, None)])
        timings.append((time.perf_counter() - started) * 1000)
        assert len(new) == 10, len(new)
        known, top = fresh, top + 10
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,20000" if QUICK else "1000,100000,1000000")
    parser.add_argument("--hashed-ids", action="store_true", help="random-looking ids (sha256)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        loaded, baseline = 0, None
        print(f"ids: {'sha256' if args.hashed_ids else 'urls'}; {POLLS} polls of 20 (10 new)")
        print(f"{'stored':>9} {'build s':>8} {'median ms':>10} {'p90 ms':>7} {'max ms':>7}"
              f" {'ratio':>6} {'db MB':>7}")
        for round_, size in enumerate(sizes, start=1):
            with Store.open(path) as store:
                for chat_id in (1, 2, 3):
                    store.upsert_chat(Chat(chat_id))
                started = time.perf_counter()
                # Items added by earlier measurements sit above `size`; load below them.
                bulk_load(store, loaded, size, args.hashed_ids)
                built = time.perf_counter() - started
                loaded = size
            with Store.open(path, must_exist=True) as store:
                # Poll ids live far above every bulk range so later loads never collide.
                timings = time_polls(store, size, round_ * 100_000_000, args.hashed_ids)
            median = statistics.median(timings)
            p90 = statistics.quantiles(timings, n=10)[-1]
            baseline = baseline or median
            size_mb = sum(f.stat().st_size for f in Path(tmp).iterdir()) / 1e6
            print(f"{size:>9} {built:>8.1f} {median:>10.2f} {p90:>7.2f} {max(timings):>7.2f}"
                  f" {median / baseline:>6.2f} {size_mb:>7.0f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
