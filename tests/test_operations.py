"""Storage and operations under faults (plan F1-F3): pragmas, concurrent serving, disk full,
missing and corrupt databases. Real SQLite files, the real web server, the real CLI.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from fakes.feed_server import FeedServerThread
from fakes.site import FakeSite

from bot.errors import StoreError
from bot.model import Chat, FeedHealth, Item, ListRules, Pick, Recipe
from bot.pipeline import PollDeps, poll_source
from bot.publish.feedmeta import FeedMeta
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
RULES = ListRules(
    item="ul.ArticleList li.row",
    title=Pick("h2.Title a"),
    link=Pick("h2.Title a", "href"),
    summary=Pick("p"),
    date=Pick("div.Ngaydang"),
    date_formats=("%d/%m/%Y",),
)
SUBSCRIBER = 4242


def item(n: int, feed_id: str = "hp", **changes: object) -> Item:
    fields: dict[str, object] = {
        "feed_id": feed_id,
        "item_id": f"{feed_id}-{n}",
        "url": f"https://haiphong.gov.vn/tin/{feed_id}-{n}.html",
        "title": f"Tin số {n} của Hải Phòng",
        "summary": "Tóm tắt",
        "published_at": T0 - timedelta(minutes=n),
    }
    fields.update(changes)
    return Item(**fields)  # type: ignore[arg-type]


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A second, independent connection (another process would see the same), closed after."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=0, check_same_thread=False)
    try:
        yield conn
    finally:
        conn.close()


# --- F1: pragmas -------------------------------------------------------------------------------


def test_pragmas_are_in_force_on_a_store_opened_at_start(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    with Store.open(path) as store:
        store.add_items("hp", [item(1)], T0)
        # WAL is a property of the file: any other connection sees it.
        with raw(path) as other:
            assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        # The per-connection settings, read from the connection the store really uses.
        conn = store._conn
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000


def test_wal_lets_the_store_read_while_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    with Store.open(path) as store:
        store.add_items("hp", [item(1)], T0)
        with raw(path) as writer:
            writer.execute("BEGIN IMMEDIATE")
            writer.execute("UPDATE items SET title = 'uncommitted'")
            store._conn.execute("PRAGMA busy_timeout = 0")  # a blocked read would fail at once
            assert [i.title for i in store.items("hp")] == ["Tin số 1 của Hải Phòng"]
            writer.execute("ROLLBACK")


def test_busy_timeout_makes_a_write_wait_for_the_lock_not_fail(tmp_path: Path) -> None:
    path = tmp_path / "newsbot.db"
    with Store.open(path) as store, raw(path) as holder:
        holder.execute("BEGIN IMMEDIATE")
        holder.execute("INSERT INTO items (feed_id, item_id, url, title, first_seen_at, "
                       "updated_at, last_seen_at) VALUES ('hp', 'held', 'https://x.vn/held', "
                       "'held', '2024-11-28T00:00:00+00:00', '2024-11-28T00:00:00+00:00', "
                       "'2024-11-28T00:00:00+00:00')")
        release = threading.Timer(0.4, lambda: holder.execute("COMMIT"))
        release.start()
        try:  # the write waits for the holder's commit instead of failing "database is locked"
            assert len(store.add_items("hp", [item(1)], T0)) == 1
            assert {i.item_id for i in store.items("hp")} >= {"held"}  # it ran after the commit
        finally:
            release.join()


# --- F1: serving during writes -----------------------------------------------------------------


@dataclass
class Writer:
    """Adds one item per loop through its own Store, recording every error."""

    store: Store
    feed_id: str
    stop: threading.Event
    written: int = 0
    errors: list[str] | None = None

    def run(self) -> None:
        self.errors = []
        n = 1000
        while not self.stop.is_set():
            n += 1
            try:
                at = T0 + timedelta(seconds=n)
                new = item(n, self.feed_id, summary="x" * 2000, published_at=at)
                self.store.add_items(self.feed_id, [new], at)
                self.store.save_health(FeedHealth(self.feed_id, last_poll_at=at))
                self.written += 1
            except StoreError as exc:
                self.errors.append(str(exc))
            time.sleep(0.005)


def test_feeds_served_at_50_per_second_while_two_connections_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "newsbot.db"
    served_store = Store.open(path)
    other_store = Store.open(path)  # another writer on its own connection (e.g. `newsbot poll`)
    served_store.add_items("hp", [item(n) for n in range(60)], T0)
    stop = threading.Event()
    writers = [Writer(served_store, "hp", stop), Writer(other_store, "so", stop)]
    threads = [threading.Thread(target=w.run, daemon=True) for w in writers]
    feeds = {
        "hp": FeedMeta("hp", "Hải Phòng", "https://haiphong.gov.vn/"),
        "so": FeedMeta("so", "Sở TT&TT", "https://stttt.haiphong.gov.vn/"),
    }
    paths = [
        "/feeds/hp.xml",
        "/feeds/so.atom",
        "/feeds/all.json",
        "/feeds/all.xml?q=hai+phong",
        "/",
        "/healthz",
    ]
    statuses: list[tuple[str, int]] = []
    try:
        with (
            FeedServerThread(served_store, feeds) as server,
            httpx.Client(base_url=server.base_url, timeout=5) as client,
        ):
            for thread in threads:
                thread.start()
            started = time.monotonic()
            for n in range(150):  # 50 requests a second for 3 s
                time.sleep(max(0.0, started + n / 50 - time.monotonic()))
                target = paths[n % len(paths)]
                statuses.append((target, client.get(target).status_code))
            stop.set()
            for thread in threads:
                thread.join(5)
            newest = feedparser.parse(client.get("/feeds/so.atom").content).entries[0]
    finally:
        stop.set()
        served_store.close()
        other_store.close()
    assert [s for s in statuses if s[1] != 200] == []
    assert [w.errors for w in writers] == [[], []]
    assert all(w.written >= 20 for w in writers), [w.written for w in writers]
    # The server saw the other connection's commits (no stale snapshot, no stale cache).
    assert newest.id.endswith(f"so-{1000 + writers[1].written}")
    problems = [r.getMessage() for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    assert not [m for m in problems if "locked" in m or "feed server" in m], problems


# --- F2: disk full -----------------------------------------------------------------------------


@contextmanager
def small_disk(path: Path) -> Iterator[bool]:
    """A 1 MiB tmpfs at `path` when we are root and may mount; else a plain folder (False)."""
    path.mkdir()
    mounted = False
    if os.geteuid() == 0:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(path)],
            capture_output=True,
            check=False,
        )
        mounted = done.returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", str(path)], check=True)


def fill(disk: Path) -> Path:
    """Fill the file system holding `disk` up to ENOSPC; returns the filler file."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc
    return filler


def listing(site: FakeSite, count: int, *, summary_chars: int = 50) -> str:
    rows = "".join(
        f'<li class="row"><h2 class="Title"><a href="{site.url_for(f"/tin/{n}.html")}">'
        f"Tin số {n} về Hải Phòng</a></h2><p>{'Tóm tắt dài ' * (summary_chars // 12)}</p>"
        f'<div class="Ngaydang">28/11/2024</div></li>'
        for n in range(count)
    )
    return (
        '<html><head><meta charset="utf-8"></head><body><ul class="ArticleList">'
        f"{rows}</ul></body></html>"
    )


@pytest.fixture
async def fake_site() -> AsyncIterator[FakeSite]:
    async with FakeSite() as site:
        yield site


async def test_disk_full_fails_the_poll_cleanly_and_the_next_poll_stores_each_item_once(
    tmp_path: Path, fake_site: FakeSite
) -> None:
    site = fake_site
    recipe = Recipe(feed_id="hp", title="Hải Phòng", urls=(site.url_for("/hp"),), rules=RULES)
    site.set_page("/hp", listing(site, 5))
    policy = FetchPolicy(min_host_gap=0, respect_robots=False, deadline=10)
    with small_disk(tmp_path / "disk") as on_tmpfs:
        data_dir = tmp_path / "disk"
        store = Store.open(data_dir / "newsbot.db")
        try:
            store.upsert_chat(Chat(SUBSCRIBER))
            store.subscribe(SUBSCRIBER, "hp")
            async with Fetcher(policy) as fetcher:
                deps = PollDeps(
                    store=store,
                    fetcher=fetcher,
                    public_dir=data_dir / "public",
                    public_url="http://feeds.test",
                    feeds={"hp": recipe},
                )
                first = await poll_source(recipe, deps, T0)
                assert first.outcome == "new" and len(first.new_items) == 5

                # 5 new items (not a flood), ~20 KB: more than the full disk has left.
                site.set_page("/hp", listing(site, 10, summary_chars=3000))
                if on_tmpfs:
                    filler = fill(data_dir)
                else:  # no tmpfs: cap the database at its current size instead
                    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
                    store._conn.execute(f"PRAGMA max_page_count = {pages}")
                full = await poll_source(recipe, deps, T0 + timedelta(minutes=10))
                assert full.outcome == "failed" and full.new_items == ()
                assert full.error is not None
                assert "database or disk is full" in full.error, full.error
                assert "free disk space" in full.error, full.error  # the StoreError's hint
                assert store.item_count("hp") == 5
                assert store.outbox_counts()["pending"] == 0
                assert store.integrity_ok()
                with raw(data_dir / "newsbot.db") as other:
                    assert other.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                    assert other.execute("SELECT count(*) FROM items").fetchone() == (5,)
                published = feedparser.parse((data_dir / "public/feeds/hp.xml").read_bytes())
                assert published.bozo == 0 and len(published.entries) == 5

                # Space returns: the same 5 items are stored, announced and published once.
                if on_tmpfs:
                    filler.unlink()
                else:
                    store._conn.execute("PRAGMA max_page_count = 1073741823")
                again = await poll_source(recipe, deps, T0 + timedelta(minutes=20))
                assert again.outcome == "new", again.error
                assert sorted(i.title for i in again.new_items) == [
                    f"Tin số {n} về Hải Phòng" for n in range(5, 10)
                ]
                assert store.item_count("hp") == 10
                assert store.outbox_counts()["pending"] == 5
                later = await poll_source(recipe, deps, T0 + timedelta(minutes=30))
                assert later.outcome in ("unchanged", "not_modified") and later.new_items == ()
                assert store.outbox_counts()["pending"] == 5
                published = feedparser.parse((data_dir / "public/feeds/hp.xml").read_bytes())
                assert published.bozo == 0 and len(published.entries) == 10
                assert store.integrity_ok()
        finally:
            store.close()


# --- F3: missing and corrupt databases, through the real command line --------------------------


def write_config(tmp_path: Path, url: str = "http://127.0.0.1:9/hp") -> Path:
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    (feeds / "hp.toml").write_text(
        f'title = "Hải Phòng"\nurl = "{url}"\n'
        '[list]\nitem = "li.row"\ntitle = "h2 a"\n',
        encoding="utf-8",
    )
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "data"\nfeeds_dir = "feeds"\n[server]\nport = 0\n'
        "[fetch]\nrespect_robots = false\n",
        encoding="utf-8",
    )
    return config


def newsbot(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "NEWSBOT_TELEGRAM_TOKEN"}
    return subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("newsbot: error: "), lines[0]
    assert "Traceback" not in done.stderr
    return lines[0]


def test_run_refuses_a_data_dir_that_lost_its_database(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    feeds = tmp_path / "data" / "public" / "feeds"
    feeds.mkdir(parents=True)
    (feeds / "hp.xml").write_text("<rss/>")
    line = one_line_error(newsbot(config, "run"))
    assert "newsbot.db" in line and "missing" in line and "restore" in line
    assert not (tmp_path / "data" / "newsbot.db").exists()  # nothing silently re-created


GARBAGE = b"NOT SQLITE \x00\xff\xfe garbage " * 300


def truncated_database(tmp_path: Path) -> bytes:
    """A real newsbot database cut in half: a valid header, pages missing."""
    scratch = tmp_path / "scratch.db"
    with Store.open(scratch) as store:
        store.add_items("hp", [item(n, summary="x" * 3000) for n in range(60)], T0)
    with raw(scratch) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = scratch.read_bytes()
    return data[: len(data) // 2]


@pytest.mark.parametrize("command", ["run", "poll"])
@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_corrupt_database_is_refused_and_left_byte_identical(
    tmp_path: Path, command: str, damage: str
) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    content = GARBAGE if damage == "garbage" else truncated_database(tmp_path)
    (data / "newsbot.db").write_bytes(content)
    line = one_line_error(newsbot(config, command))
    assert "newsbot.db" in line and "backup" in line, line
    assert (data / "newsbot.db").read_bytes() == content
    assert not (data / "public").exists()  # nothing was published from a broken store


# --- issue 12 item 4: the guard's gaps, and --init ----------------------------------------------


def corrupt_database(tmp_path: Path) -> bytes:
    """A real newsbot database with one b-tree page damaged: a cell offset of the first leaf
    page of `items` points past the page. SQLite opens it; `PRAGMA quick_check` does not pass."""
    scratch = tmp_path / "scratch.db"
    with Store.open(scratch) as store:
        store.add_items("hp", [item(n, summary="x" * 300) for n in range(200)], T0)
    with raw(scratch) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items'").fetchone()
    data = bytearray(scratch.read_bytes())
    size = int.from_bytes(data[16:18], "big")
    page = (root - 1) * size
    assert data[page] == 5  # an interior table page: its first cell points to a leaf
    cell = int.from_bytes(data[page + 12:page + 14], "big")
    leaf = (int.from_bytes(data[page + cell:page + cell + 4], "big") - 1) * size
    assert data[leaf] == 13  # a table leaf page
    data[leaf + 8 + 2 * 3:leaf + 8 + 2 * 4] = (size + 1000).to_bytes(2, "big")  # cell 3
    return bytes(data)


def listing_page(numbers: range) -> str:
    rows = "".join(f'<li class="row"><h2><a href="/hp/tin-{n}">Tin số {n}</a></h2></li>'
                   for n in numbers)
    return f'<html><head><meta charset="utf-8"></head><body><ul>{rows}</ul></body></html>'


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite.start_in_thread() as fake_site:
        fake_site.set_page("/hp", listing_page(range(1, 25)))
        yield fake_site


def public_files(data: Path) -> dict[str, bytes]:
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*"))
            if p.is_file() and "public" in p.parts}


@pytest.mark.parametrize("command", ["run", "poll", "feeds"])
def test_a_zero_length_database_beside_public_is_refused(tmp_path: Path, command: str) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    (data / "public").mkdir(parents=True)
    (data / "newsbot.db").touch()
    line = one_line_error(newsbot(config, command))
    assert "newsbot.db" in line and "backup" in line and "--init" in line, line
    assert ("public/" in line) if command != "feeds" else ("empty" in line), line
    assert (data / "newsbot.db").stat().st_size == 0
    # Nothing written: no WAL, no marker, no feed (the lock file is not data).
    assert {p.name for p in data.rglob("*")} <= {"newsbot.db", "newsbot.lock", "public"}


@pytest.mark.parametrize("command", ["run", "poll"])
def test_a_database_failing_quick_check_is_refused_and_left_byte_identical(
    tmp_path: Path, command: str
) -> None:
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    content = corrupt_database(tmp_path)
    (data / "newsbot.db").write_bytes(content)
    line = one_line_error(newsbot(config, command))
    assert "newsbot.db is damaged" in line and "quick_check" in line, line
    assert "out of range" in line and "backup" in line and "--init" in line, line
    assert (data / "newsbot.db").read_bytes() == content
    assert not (data / "public").exists()


def test_poll_on_a_deleted_database_is_refused(tmp_path: Path, site: FakeSite) -> None:
    config = write_config(tmp_path, site.url_for("/hp"))
    data = tmp_path / "data"
    first = newsbot(config, "poll")
    assert first.returncode == 0 and "first poll" in first.stdout, first.stdout + first.stderr
    published = public_files(data)
    assert published
    (data / "newsbot.db").unlink()
    line = one_line_error(newsbot(config, "poll"))
    assert "newsbot.db is missing" in line and "public/" in line and "--init" in line, line
    assert not (data / "newsbot.db").exists()
    assert public_files(data) == published
    # Without public/ (cleaned by hand), the marker newsbot left still tells.
    for path in sorted((data / "public").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (data / "public").rmdir()
    line = one_line_error(newsbot(config, "poll"))
    assert "newsbot.created" in line and "--init" in line, line
    assert not (data / "newsbot.db").exists()


def test_init_starts_a_new_database_where_the_old_is_missing(
    tmp_path: Path, site: FakeSite
) -> None:
    config = write_config(tmp_path, site.url_for("/hp"))
    data = tmp_path / "data"
    assert newsbot(config, "poll").returncode == 0
    (data / "newsbot.db").unlink()
    again = newsbot(config, "poll", "--init")
    assert again.returncode == 0 and "first poll" in again.stdout, again.stdout + again.stderr
    with Store.open(data / "newsbot.db", must_exist=True) as store:
        assert store.item_count("hp") == 24


def test_init_moves_a_damaged_database_aside_and_starts_anew(
    tmp_path: Path, site: FakeSite
) -> None:
    config = write_config(tmp_path, site.url_for("/hp"))
    data = tmp_path / "data"
    data.mkdir()
    content = corrupt_database(tmp_path)
    (data / "newsbot.db").write_bytes(content)
    done = newsbot(config, "poll", "--init")
    assert done.returncode == 0, done.stdout + done.stderr
    [aside] = data.glob("newsbot.db.damaged-*[0-9]")  # its -wal and -shm moved beside it
    assert aside.read_bytes() == content  # kept as it was, for whoever wants to rescue rows
    assert "moved to" in done.stderr and aside.name in done.stderr
    with Store.open(data / "newsbot.db", must_exist=True) as store:
        assert store.item_count("hp") == 24 and store.integrity_ok()


def test_init_keeps_a_healthy_database(tmp_path: Path, site: FakeSite) -> None:
    config = write_config(tmp_path, site.url_for("/hp"))
    data = tmp_path / "data"
    assert newsbot(config, "poll").returncode == 0
    site.set_page("/hp", listing_page(range(1, 26)))
    again = newsbot(config, "poll", "--init")
    assert again.returncode == 0 and "first poll" not in again.stdout, again.stdout
    assert "Tin số 25" in again.stdout
    assert not list(data.glob("newsbot.db.damaged-*"))


# --- newsbot backup ------------------------------------------------------------------------------


def test_backup_while_a_writer_writes_is_a_consistent_snapshot(tmp_path: Path) -> None:
    """Every transaction of the writer adds 10 items and their 10 outbox rows: a consistent
    copy holds a multiple of 10 of each, as many rows as items, and passes integrity_check."""
    config = write_config(tmp_path)
    data = tmp_path / "data"
    data.mkdir()
    store = Store.open(data / "newsbot.db")
    store.upsert_chat(Chat(SUBSCRIBER))
    stop, errors, batches = threading.Event(), list[BaseException](), [0]

    def write() -> None:
        try:
            while not stop.is_set():
                n = batches[0] * 10
                store.add_items("hp", [item(n + k) for k in range(10)], T0,
                                route=lambda _: [(SUBSCRIBER, None)])
                batches[0] += 1
                time.sleep(0.002)  # a busy daemon, not a bulk load: keeps the copies small
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    writer = threading.Thread(target=write)
    writer.start()
    copies: list[tuple[int, int]] = []
    try:
        wait_until_written = time.monotonic() + 10
        while batches[0] == 0 and time.monotonic() < wait_until_written:
            time.sleep(0.01)
        while len(copies) < 3:
            target = tmp_path / f"copy-{len(copies)}.db"
            done = newsbot(config, "backup", str(target))
            assert done.returncode == 0, done.stderr
            assert f"to {target}:" in done.stdout and "quick_check ok" in done.stdout
            with raw(target) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
                items, = conn.execute("SELECT count(*) FROM items").fetchone()
                rows, = conn.execute("SELECT count(*) FROM outbox").fetchone()
            copies.append((items, rows))
    finally:
        stop.set()
        writer.join()
        store.close()
    assert errors == []  # the writer never met "database is locked"
    assert all(items % 10 == 0 and rows == items for items, rows in copies), copies
    assert copies == sorted(copies) and 0 < copies[0][0] < copies[-1][0]  # written meanwhile
    assert not list(tmp_path.glob(".*.partial"))


def test_backup_into_a_directory_never_overwrites(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "data").mkdir()
    with Store.open(tmp_path / "data" / "newsbot.db") as store:
        store.add_items("hp", [item(n) for n in range(5)], T0)
    backups = tmp_path / "backups"
    backups.mkdir()
    done = newsbot(config, "backup", str(backups))
    assert done.returncode == 0 and "5 items" in done.stdout, done.stderr
    [copy] = backups.iterdir()
    assert copy.name.startswith("newsbot-") and copy.suffix == ".db"
    before = copy.read_bytes()
    line = one_line_error(newsbot(config, "backup", str(copy)))
    assert str(copy) in line and "already exists" in line
    assert copy.read_bytes() == before
    with Store.open(copy, must_exist=True) as restored:
        assert restored.item_count("hp") == 5


def test_backup_of_a_damaged_database_writes_nothing(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "newsbot.db").write_bytes(corrupt_database(tmp_path))
    line = one_line_error(newsbot(config, "backup", str(tmp_path / "copy.db")))
    assert "newsbot.db is damaged, no backup written" in line and "out of range" in line, line
    assert not (tmp_path / "copy.db").exists() and not list(tmp_path.glob(".copy.db*"))
