"""Recipes live (issue 15, item 3): feeds/ read again while the daemon runs, every
`schedule.rescan` and on SIGHUP. The folder view (bot.live) on its own; the daemon in process with
a short rescan; and `newsbot run` as a subprocess with the fake site and the fake Telegram, where
a recipe is added, changed, broken and removed without a restart, then forgotten."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fakes.newsbot_proc import (
    TOKEN,
    Ledger,
    NewsbotProcess,
    NewsPage,
    add_subscribers,
    article_numbers,
    clean_env,
    recipe_text,
    wait_until,
    write_setup,
)
from fakes.site import FakeSite
from fakes.telegram_api import FakeBotAPI

from bot.app import Daemon
from bot.live import RecipeFolder
from bot.scheduler import FeedScheduler
from bot.schema import Config, FetchConfig, ScheduleConfig, ServerConfig

USER = 515151
ADMIN = 616161
BROKEN = 'title = "B"\nurl = "ở đâu"\n'  # not an http(s) URL


# --- the folder view ---------------------------------------------------------------------------


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_rescan_reports_added_changed_removed_and_refused_once(tmp_path: Path) -> None:
    write(tmp_path, "a", recipe_text("A", "https://a.example/tin"))
    view = RecipeFolder.scan(tmp_path)
    assert set(view.recipes) == {"a"} and not view.rescan()  # nothing changed since the scan

    write(tmp_path, "b", recipe_text("B", "https://b.example/tin"))
    found = view.rescan()
    assert [r.feed_id for r in found.added] == ["b"] and not found.changed

    write(tmp_path, "b", recipe_text("B mới", "https://b.example/tin"))
    found = view.rescan()
    assert [r.title for r in found.changed] == ["B mới"] and not found.added

    write(tmp_path, "b", BROKEN)
    found = view.rescan()
    assert not (found.added or found.changed or found.removed)
    (refusal,) = found.refused
    assert refusal.feed_id == "b" and refusal.still_running and "b.toml: url" in refusal.problem
    assert "b keeps running with its last good recipe" in refusal.alert()
    assert view.recipes["b"].title == "B mới"  # the last good one
    write(tmp_path, "b", BROKEN + "\n")  # touched, same problem: not said again
    assert not view.rescan()

    write(tmp_path, "c", BROKEN)
    (refusal,) = view.rescan().refused
    assert refusal.feed_id == "c" and not refusal.still_running
    assert "c is not added" in refusal.alert()

    (tmp_path / "b.toml").unlink()
    (tmp_path / "c.toml").unlink()
    found = view.rescan()
    assert found.removed == ("b",)  # c never ran
    assert set(view.recipes) == {"a"}

    write(tmp_path, "b", BROKEN)  # broken again after a fix: said again
    assert len(view.rescan().refused) == 1


def test_an_unchanged_file_is_not_read_again(tmp_path: Path) -> None:
    path = write(tmp_path, "a", recipe_text("A", "https://a.example/tin"))
    view = RecipeFolder.scan(tmp_path)
    info = path.stat()
    # Same size, same mtime, same inode: a rescan trusts the stat and does not parse it.
    path.write_text(recipe_text("Z", "https://a.example/tin"), encoding="utf-8")
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert not view.rescan()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    assert [r.title for r in view.rescan().changed] == ["Z"]


def test_a_missing_folder_is_no_recipes_and_never_a_crash(tmp_path: Path) -> None:
    view = RecipeFolder.scan(tmp_path / "none")
    assert not view.recipes and not view.rescan()


# --- the daemon in process: the periodic rescan ------------------------------------------------


def live_config(tmp_path: Path) -> Config:
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    (tmp_path / "feeds").mkdir(exist_ok=True)
    return Config(
        data_dir=tmp_path / "data",
        feeds_dir=tmp_path / "feeds",
        schedule=ScheduleConfig(interval=timedelta(seconds=60), jitter=timedelta(0),
                                rescan=timedelta(seconds=0.2)),
        server=ServerConfig(port=0, public_url="http://127.0.0.1:8080"),
        fetch=FetchConfig(min_host_gap=timedelta(0), respect_robots=False),
    )


async def test_the_daemon_picks_up_a_recipe_written_while_it_runs(tmp_path: Path) -> None:
    async with FakeSite() as site:
        page = NewsPage(site, "/b")
        page.publish(["Tin đầu tiên"])
        config = live_config(tmp_path)
        daemon = Daemon(config, [], scheduler=FeedScheduler(
            jitter=timedelta(0), first_poll_within=timedelta(0)))
        running = asyncio.create_task(daemon.run())
        try:
            while daemon.web_port is None:
                await asyncio.sleep(0.02)
            write(config.feeds_dir, "b", recipe_text("Báo B", page.url))
            deadline = time.monotonic() + 20
            while not daemon.store.health("b").seeded:
                assert time.monotonic() < deadline, "b was not polled"
                await asyncio.sleep(0.05)
            assert daemon.store.items("b")[0].title.endswith("Tin đầu tiên")
            opml = await asyncio.to_thread(get, f"http://127.0.0.1:{daemon.web_port}/feeds.opml")
            assert "Báo B" in opml
            assert "b" in daemon.health()[1]["feeds"]
        finally:
            daemon.stop_event.set()
            await running


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return bytes(response.read()).decode("utf-8")


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


# --- `newsbot run`: added, changed, broken and removed on SIGHUP, then forgotten ----------------


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite.start_in_thread() as fake_site:
        yield fake_site


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(token=TOKEN, time_scale=0.05).start_in_thread()
    yield api
    api.stop_thread()


def item_numbers(fake: FakeBotAPI, chat_id: int) -> list[int]:
    return [n for m in fake.messages_to(chat_id) for n in article_numbers(m.body)[:1]]


def test_a_running_daemon_takes_recipes_added_changed_broken_and_removed(
    tmp_path: Path, site: FakeSite, fake: FakeBotAPI
) -> None:
    page_a, page_b = NewsPage(site, "/a"), NewsPage(site, "/b")
    page_a.publish(["Tin A đầu"])
    first_b = page_b.publish(["Tin B cũ 1", "Tin B cũ 2"])
    config = write_setup(tmp_path, {"a": page_a.url}, telegram_url=fake.base_url,
                         pacing_scale=0.05, admins=[ADMIN], rescan="1h")  # SIGHUP drives it
    add_subscribers(config, {USER: "private"}, ["a", "b"])  # b: followed before it exists
    ledger = Ledger(tmp_path / "data" / "newsbot.db")
    daemon = NewsbotProcess(config).start()
    try:
        port = int(daemon.wait_for(r"serving feeds on http://127\.0\.0\.1:(\d+)/").group(1))
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: ledger.seeded("a"), 20, "a seeded")
        recipe_b = config.parent / "feeds" / "b.toml"

        def hangup(expect: str) -> None:
            assert daemon.proc is not None
            seen = len(daemon.lines)
            daemon.proc.send_signal(signal.SIGHUP)
            wait_until(lambda: any(expect in line for line in daemon.lines[seen:]), 20, expect)

        # Added: polled at once, its items seeded silently; the web server and the bot list it.
        recipe_b.write_text(recipe_text("Tin thử b", page_b.url), encoding="utf-8")
        hangup("recipes: added b")
        wait_until(lambda: ledger.seeded("b"), 20, "b seeded")
        assert "Tin thử b" in get(base + "/feeds.opml")
        assert "Tin B cũ 1" in get(base + "/feeds/b.xml")
        fake.user_message(USER, "/feeds", language_code="vi")
        wait_until(lambda: any("Tin thử b" in m.body for m in fake.messages_to(USER)), 20,
                   "/feeds lists b")
        (news,) = page_b.publish(["Tin B mới"])
        wait_until(lambda: news in item_numbers(fake, USER), 20, "b's new item announced")
        assert not set(first_b) & set(item_numbers(fake, USER))  # the seeded ones: silent

        # Changed: the new recipe replaces the old one, everywhere.
        recipe_b.write_text(recipe_text("Báo B đổi tên", page_b.url), encoding="utf-8")
        hangup("recipes: changed b")
        wait_until(lambda: "Báo B đổi tên" in get(base + "/feeds.opml"), 10, "new title served")
        assert "Tin thử b" not in get(base + "/feeds.opml")

        # Broken: one admin alert, however many rescans; the last good recipe keeps running.
        recipe_b.write_text(BROKEN, encoding="utf-8")
        hangup("admin alert: ⚠️ recipe refused")
        hangup("SIGHUP: reading")
        wait_until(lambda: any("recipe refused" in m.body for m in fake.messages_to(ADMIN)), 20,
                   "the admin told")
        (still,) = page_b.publish(["Tin B khi công thức hỏng"])
        wait_until(lambda: still in item_numbers(fake, USER), 20, "b still polled")
        refusals = [m.body for m in fake.messages_to(ADMIN) if "recipe refused" in m.body]
        assert len(refusals) == 1, refusals
        assert "b keeps running with its last good recipe" in refusals[0]

        # Removed: polled no more; gone from the lists; its items and subscribers stay.
        recipe_b.unlink()
        hangup("recipes: removed b")
        polls_a = site.count("/a")
        wait_until(lambda: site.count("/a") >= polls_a + 2, 20, "two more polls of a")
        polls_b = site.count("/b")
        page_b.publish(["Tin B sau khi bỏ"])
        wait_until(lambda: site.count("/a") >= polls_a + 6, 20, "four more polls of a")
        assert site.count("/b") == polls_b
        assert "Báo B đổi tên" not in get(base + "/feeds.opml")
        assert status_of(base + "/feeds/b.xml") == 404
        stored = ledger._query("SELECT count(*) FROM items WHERE feed_id = 'b'")[0][0]
        assert stored == 4
        assert ledger._query("SELECT count(*) FROM subscriptions WHERE feed_id = 'b'") == [(1,)]

        # Forgotten, while the daemon runs.
        done = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "forget", "b", "--yes"],
            cwd=config.parent, env=clean_env(), capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("forgot b: 4 items, 1 subscriptions,")
        assert ledger._query("SELECT count(*) FROM items WHERE feed_id = 'b'") == [(0,)]
        assert ledger._query("SELECT count(*) FROM subscriptions WHERE feed_id = 'b'") == [(0,)]
        assert not (tmp_path / "data" / "public" / "feeds" / "b.xml").exists()
        assert "Tin B" not in (tmp_path / "data" / "public" / "feeds" / "all.xml").read_text(
            encoding="utf-8")
        assert ledger.seeded("a")

        code, _ = daemon.terminate()
        assert code == 0, daemon.output
        assert "Traceback" not in daemon.output
    finally:
        daemon.kill()


def test_forget_refuses_a_feed_still_followed_or_unknown(tmp_path: Path, site: FakeSite) -> None:
    page = NewsPage(site, "/a")
    config = write_setup(tmp_path, {"a": page.url}, telegram_url="http://127.0.0.1:9/bot")

    def forget(feed_id: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "forget", feed_id, "--yes"],
            cwd=config.parent, env=clean_env(), capture_output=True, text=True, timeout=60)

    followed = forget("a")
    assert followed.returncode == 1
    assert "feeds/a.toml still exists: a is still followed" in followed.stderr
    (tmp_path / "data").mkdir(exist_ok=True)
    add_subscribers(config, {1: "private"}, ["a"])
    unknown = forget("zz")
    assert unknown.returncode == 1 and "nothing is stored for a feed 'zz'" in unknown.stderr
