"""The daemon (bot.app, bot.scheduler, bot.demo): in process against a FakeSite, and as
`newsbot run` and `newsbot demo` subprocesses. Real SQLite, HTTP on 127.0.0.1, feedparser."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import httpx
import pytest
from conftest import FIXTURES, ROOT
from fakes.site import Delay, FakeSite, Status
from fakes.telegram_api import FakeBotAPI, Fault

from bot.app import Daemon, run_daemon
from bot.demo import DemoSite, every_from_env, free_port
from bot.errors import ConfigError, StoreError
from bot.model import Recipe
from bot.recipes import load_recipe
from bot.scheduler import FeedScheduler
from bot.schema import Config, FetchConfig, ScheduleConfig, ServerConfig, TelegramConfig
from bot.store.db import Store
from bot.store.guard import open_data_store

LISTING = FIXTURES / "haiphong" / "listing.html"
EXPECTED = json.loads((FIXTURES / "haiphong" / "listing.expected.json").read_text())
LISTING_ITEMS = len(EXPECTED["items"])
PATH = "/tin-tuc-su-kien"
RECIPE_FILE = ROOT / "feeds" / "haiphong.toml"
EMPTY_PAGE = "<html><body><p>Trang đang bảo trì</p></body></html>"
T0 = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)


# --- in-process helpers --------------------------------------------------------------------------


def make_config(tmp_path: Path, *, alert_after: int = 3, interval: float = 60) -> Config:
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    return Config(
        data_dir=tmp_path / "data",
        feeds_dir=tmp_path / "feeds",
        schedule=ScheduleConfig(interval=timedelta(seconds=interval), jitter=timedelta(0),
                                alert_after_failures=alert_after),
        server=ServerConfig(port=0, public_url="http://127.0.0.1:8080"),
        fetch=FetchConfig(min_host_gap=timedelta(0), respect_robots=False,
                          timeout=timedelta(seconds=30)),
    )


def make_recipe(site: FakeSite, *, interval: float | None = None) -> Recipe:
    """feeds/haiphong.toml pointed at the fake site, without article pages (some are absolute
    links to the real site)."""
    recipe = replace(load_recipe(RECIPE_FILE), urls=(site.url_for(PATH),), article=None)
    return replace(recipe, interval=timedelta(seconds=interval) if interval else None)


class Clock:
    """A settable clock for Daemon(clock=...)."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def admin_alerts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("admin alert:")]


async def close(daemon: Daemon) -> None:
    """For daemons driven through poll_if_due without run()."""
    await daemon.fetcher.aclose()
    daemon.store.close()


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def quick_scheduler() -> FeedScheduler:
    return FeedScheduler(jitter=timedelta(0), first_poll_within=timedelta(0))


# --- backoff and alerts (a settable clock, polls driven by hand) ----------------------------------


async def test_failures_back_off_and_polls_are_skipped_until_due(tmp_path: Path) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        site.set_route(PATH, Status(500))
        clock = Clock()
        recipe = make_recipe(site)
        daemon = Daemon(make_config(tmp_path), [recipe], clock=clock)
        try:
            gaps = []
            for _ in range(3):
                report = await daemon.poll_if_due(recipe)
                assert report is not None and report.outcome == "failed"
                assert report.error is not None and "500" in report.error
                due = daemon.store.health("haiphong").next_poll_at
                assert due is not None
                gaps.append((due - clock.now).total_seconds())
                clock.now += timedelta(seconds=60)  # the next scheduler tick: not due yet
                assert await daemon.poll_if_due(recipe) is None
                clock.now = due
            assert site.count(PATH) == 3
            # Doubling per failure with ±10 % jitter: 2x, 4x, 8x the 60 s interval.
            for gap, factor in zip(gaps, (2, 4, 8), strict=True):
                assert 0.9 * 60 * factor <= gap <= 1.1 * 60 * factor
            site.set_route(PATH, None)
            report = await daemon.poll_if_due(recipe)
            assert report is not None and report.outcome == "new"
            health = daemon.store.health("haiphong")
            assert health.consecutive_failures == 0 and health.last_error is None
            assert health.next_poll_at == clock.now + timedelta(seconds=60)
            assert daemon.store.item_count("haiphong") == LISTING_ITEMS
        finally:
            await close(daemon)


async def test_admin_hears_once_after_n_failures_and_once_on_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        site.set_route(PATH, Status(503))
        clock = Clock()
        recipe = make_recipe(site)
        daemon = Daemon(make_config(tmp_path, alert_after=3), [recipe], clock=clock)

        async def poll_when_due() -> None:
            due = daemon.store.health("haiphong").next_poll_at
            clock.now = due or clock.now
            assert await daemon.poll_if_due(recipe) is not None

        try:
            for failures in range(1, 6):
                await poll_when_due()
                assert len(admin_alerts(caplog)) == (0 if failures < 3 else 1)
            assert "haiphong" in admin_alerts(caplog)[0] and "503" in admin_alerts(caplog)[0]
            site.set_route(PATH, None)
            await poll_when_due()
            await poll_when_due()  # a second good poll is no news
            alerts = admin_alerts(caplog)
            assert len(alerts) == 2 and "haiphong" in alerts[1] and "again" in alerts[1]
            site.set_route(PATH, Status(503))
            await poll_when_due()  # one failure after recovery: below the threshold, silent
            assert len(admin_alerts(caplog)) == 2
        finally:
            await close(daemon)


async def test_markup_change_alerts_once_at_once_and_once_on_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    async with FakeSite() as site:
        site.set_page(PATH, EMPTY_PAGE)
        clock = Clock()
        recipe = make_recipe(site)
        daemon = Daemon(make_config(tmp_path, alert_after=3), [recipe], clock=clock)
        try:
            await daemon.poll_if_due(recipe)
            assert len(admin_alerts(caplog)) == 1  # no waiting for N: the markup changed
            for _ in range(3):
                clock.now = daemon.store.health("haiphong").next_poll_at or clock.now
                await daemon.poll_if_due(recipe)
            assert len(admin_alerts(caplog)) == 1
            site.set_page(PATH, LISTING.read_bytes())
            clock.now = daemon.store.health("haiphong").next_poll_at or clock.now
            await daemon.poll_if_due(recipe)
            assert len(admin_alerts(caplog)) == 2
        finally:
            await close(daemon)


async def test_markup_change_alerts_at_the_first_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot")
    async with FakeSite() as site:
        site.set_page(PATH, EMPTY_PAGE)
        recipe = make_recipe(site)
        daemon = Daemon(make_config(tmp_path, alert_after=3), [recipe], clock=Clock())
        try:
            await daemon.poll_if_due(recipe)
            alerts = admin_alerts(caplog)
            assert len(alerts) == 1 and "markup" in alerts[0]
            assert daemon.store.health("haiphong").consecutive_failures == 1
        finally:
            await close(daemon)


# --- the running daemon (scheduler, web server, stop) -------------------------------------------


async def test_scheduler_polls_at_the_interval_and_backs_off_on_errors(tmp_path: Path) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        ok_recipe = make_recipe(site, interval=0.2)
        failing_site = FakeSite()
        await failing_site.start()
        failing_site.set_route(PATH, Status(500))
        failing = replace(make_recipe(failing_site, interval=0.2), feed_id="failing")
        daemon = Daemon(make_config(tmp_path), [ok_recipe, failing], scheduler=quick_scheduler())
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.sleep(1.5)
            # Healthy: polled every tick (~8). Failing: due after 0.4, 0.8, 1.6 s -> 3 polls.
            assert 2 <= failing_site.count(PATH) <= 4
            assert site.count(PATH) >= max(4, failing_site.count(PATH) + 2)
            health = daemon.store.health("failing")
            assert health.consecutive_failures == failing_site.count(PATH)
        finally:
            daemon.stop_event.set()
            await asyncio.wait_for(task, 10)
            await failing_site.stop()


async def test_a_slow_poll_is_never_overlapped_by_the_next_tick(tmp_path: Path) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        site.set_route(PATH, Delay(0.7))
        daemon = Daemon(make_config(tmp_path), [make_recipe(site, interval=0.1)],
                        scheduler=quick_scheduler())
        task = asyncio.create_task(daemon.run())
        try:
            await asyncio.sleep(1.6)
            assert site.max_in_flight == 1
            assert 1 <= site.count(PATH) <= 3  # ~16 ticks, but each poll takes 0.7 s
        finally:
            daemon.stop_event.set()
            await asyncio.wait_for(task, 10)


async def test_a_crashing_job_is_paused_doubling_not_rerun_every_tick() -> None:
    clock = [0.0]  # the scheduler's monotonic clock, moved by hand
    scheduler = FeedScheduler(jitter=timedelta(0), first_poll_within=timedelta(0),
                              clock=lambda: clock[0])
    runs: list[float] = []

    async def buggy_job() -> None:
        runs.append(clock[0])
        raise RuntimeError("a bug")

    def skipped() -> int:
        return scheduler.skipped_after_crash.get("hp", 0)

    async def ticks_skipped(ticks: int = 3) -> None:
        base = skipped()
        await until(lambda: skipped() >= base + ticks)

    async def one_more_run() -> None:
        count = len(runs)
        await until(lambda: len(runs) == count + 1)

    scheduler.add_feed("hp", timedelta(seconds=0.05), buggy_job)
    scheduler.start()
    try:
        await until(lambda: len(runs) == 1)
        for pause in (30, 60, 120):  # seconds: doubling per crash in a row
            count = len(runs)
            await ticks_skipped()  # ticks come and are skipped: no run
            clock[0] += pause - 1
            await ticks_skipped()
            assert len(runs) == count
            clock[0] += 1
            await one_more_run()
        assert runs == [0.0, 30.0, 90.0, 210.0]
    finally:
        scheduler.stop()
        await scheduler.drain(1)


async def test_healthz_reports_feeds_while_running_and_503_once_the_scheduler_stops(
    tmp_path: Path,
) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        daemon = Daemon(make_config(tmp_path), [make_recipe(site)], scheduler=quick_scheduler())
        task = asyncio.create_task(daemon.run())
        try:
            await until(lambda: daemon.web_port is not None and site.count(PATH) == 1)
            # the poll's success, its next time and its feed file land one after the other
            await until(lambda: daemon.store.health("haiphong").next_poll_at is not None)
            await until(lambda: any((tmp_path / "data").rglob("haiphong.xml")))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web_port}") as web:
                running = await web.get("/healthz")
                assert running.status_code == 200
                body = running.json()
                assert body["running"] is True and body["status"] == "ok"
                feed = body["feeds"]["haiphong"]
                assert feed["status"] == "ok" and feed["consecutive_failures"] == 0
                assert feed["last_success_at"] and feed["next_poll_at"]
                served = await web.get("/feeds/haiphong.xml")
                parsed = feedparser.parse(served.content)
                assert parsed.bozo == 0 and len(parsed.entries) == LISTING_ITEMS
                daemon.scheduler.stop()
                stopped = await web.get("/healthz")
                assert stopped.status_code == 503 and stopped.json()["status"] == "stopped"
        finally:
            daemon.stop_event.set()
            await asyncio.wait_for(task, 10)


async def test_a_feed_not_polled_yet_shows_as_pending(tmp_path: Path) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        daemon = Daemon(make_config(tmp_path), [make_recipe(site)],
                        scheduler=FeedScheduler(jitter=timedelta(0),
                                                first_poll_within=timedelta(hours=1)))
        task = asyncio.create_task(daemon.run())
        try:
            await until(lambda: daemon.web_port is not None)
            running, details = daemon.health()
            assert running
            assert details["feeds"]["haiphong"]["status"] == "pending"
        finally:
            daemon.stop_event.set()
            await asyncio.wait_for(task, 10)
        assert site.count(PATH) == 0


async def test_stop_abandons_a_stuck_poll_cleanly_within_the_grace_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        site.script(PATH, Delay(30))
        config = make_config(tmp_path)
        daemon = Daemon(config, [make_recipe(site)], scheduler=quick_scheduler(), stop_grace=0.5)
        task = asyncio.create_task(daemon.run())
        await until(lambda: site.count(PATH) == 1)
        await asyncio.sleep(0.1)
        stop_at = time.monotonic()
        daemon.stop_event.set()
        await asyncio.wait_for(task, 10)
        assert time.monotonic() - stop_at < 3
    messages = [r.getMessage() for r in caplog.records]
    assert any("abandoned the poll in flight of haiphong" in m for m in messages)
    assert messages[-1] == "newsbot stopped"
    with Store.open(config.db_path) as store:
        assert store.integrity_ok()
        assert store.item_count() == 0
        assert store.health("haiphong").last_poll_at is None  # it will be polled at next start


async def test_stop_lets_a_poll_in_flight_finish_within_the_grace_time(tmp_path: Path) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        site.script(PATH, Delay(0.6))
        config = make_config(tmp_path)
        daemon = Daemon(config, [make_recipe(site)], scheduler=quick_scheduler(), stop_grace=5)
        task = asyncio.create_task(daemon.run())
        await until(lambda: site.count(PATH) == 1)
        daemon.stop_event.set()
        await asyncio.wait_for(task, 10)
    with Store.open(config.db_path) as store:
        assert store.integrity_ok()
        assert store.item_count("haiphong") == LISTING_ITEMS
        assert store.health("haiphong").last_success_at is not None
    assert (config.public_dir / "feeds").is_dir()


async def test_a_port_in_use_stops_the_start_with_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = make_config(tmp_path)
        server = config.server.model_copy(update={"port": taken.getsockname()[1]})
        daemon = Daemon(config.model_copy(update={"server": server}), [])
        with pytest.raises(ConfigError, match="cannot listen"):
            await daemon.run()
    with pytest.raises(StoreError):
        daemon.store.item_count()  # closed on the way out


def test_refuses_to_start_when_the_database_is_gone_but_feeds_were_published(
    tmp_path: Path,
) -> None:
    config = make_config(tmp_path)
    config.feeds_dir.mkdir()
    (config.public_dir / "feeds").mkdir(parents=True)
    (config.public_dir / "feeds" / "haiphong.xml").write_text("<rss/>")
    with pytest.raises(StoreError, match="is missing") as refused:
        run_daemon(config)
    assert "backup" in str(refused.value) and "--init" in str(refused.value)
    assert not config.db_path.exists()
    fresh = make_config(tmp_path / "fresh")
    open_data_store(fresh.db_path, fresh.public_dir).close()  # a fresh data dir is fine


# --- with a Telegram token (a fake Bot API on 127.0.0.1) ----------------------------------------

ADMIN = 4242


def with_telegram(config: Config, fake: FakeBotAPI) -> Config:
    telegram = TelegramConfig.model_validate(
        {"token": fake.token, "api_base_url": fake.base_url, "admins": [ADMIN]}
    )
    return config.model_copy(update={"telegram": telegram})


async def test_with_a_token_the_admin_chat_hears_once_per_outage_and_once_on_recovery(
    tmp_path: Path,
) -> None:
    fake = await FakeBotAPI().start()
    try:
        async with FakeSite() as site:
            site.set_page(PATH, LISTING.read_bytes())
            site.set_route(PATH, Status(500))
            clock = Clock()
            recipe = make_recipe(site)
            idle = FeedScheduler(jitter=timedelta(0), first_poll_within=timedelta(hours=1))
            daemon = Daemon(with_telegram(make_config(tmp_path), fake), [recipe], clock=clock,
                            scheduler=idle)
            task = asyncio.create_task(daemon.run())
            try:
                await fake.wait_for(lambda: fake.calls_of("getUpdates"), timeout=10)
                for _ in range(5):
                    clock.now = daemon.store.health("haiphong").next_poll_at or clock.now
                    await daemon.poll_if_due(recipe)
                await fake.wait_for(lambda: fake.messages_to(ADMIN))
                site.set_route(PATH, None)
                clock.now = daemon.store.health("haiphong").next_poll_at or clock.now
                await daemon.poll_if_due(recipe)
                await fake.wait_for(lambda: len(fake.messages_to(ADMIN)) == 2)
                await asyncio.sleep(0.2)
                first, second = (m.body for m in fake.messages_to(ADMIN))
                assert "haiphong" in first and "500" in first
                assert "haiphong" in second and "again" in second
                assert fake.token not in first + second
            finally:
                stop_at = time.monotonic()
                daemon.stop_event.set()
                await asyncio.wait_for(task, 10)
                assert time.monotonic() - stop_at < 5
    finally:
        await fake.stop()


async def test_a_stop_during_a_hanging_telegram_start_is_not_held_up(tmp_path: Path) -> None:
    fake = await FakeBotAPI().start()
    fake.faults.add("getMe", times=None, kind=Fault.delay(30))
    try:
        daemon = Daemon(with_telegram(make_config(tmp_path), fake), [])
        task = asyncio.create_task(daemon.run())
        await fake.wait_for(lambda: fake.calls_of("getMe"))
        stop_at = time.monotonic()
        daemon.stop_event.set()
        await asyncio.wait_for(task, 10)
        assert time.monotonic() - stop_at < 5
        assert not daemon.scheduler.running
    finally:
        await fake.stop()


# --- the demo's pieces ------------------------------------------------------------------------

def test_demo_site_publishes_on_schedule_with_stable_dates() -> None:
    site = DemoSite(every=3600)
    first = site.articles()
    assert len(first) == 3 and first[0][0] > first[-1][0]  # newest first
    assert site.articles() == first  # dates do not drift between polls
    site.started_at -= 2 * 3600  # two periods later
    later = site.articles()
    assert len(later) == 5 and later[2:] == first
    assert later[0][2] - first[0][2] == timedelta(hours=2)


def test_demo_settings_are_checked_with_a_clear_message() -> None:
    assert every_from_env({}) == 8
    assert every_from_env({"NEWSBOT_DEMO_EVERY": "1.5"}) == 1.5
    with pytest.raises(ConfigError, match="NEWSBOT_DEMO_EVERY='soon'"):
        every_from_env({"NEWSBOT_DEMO_EVERY": "soon"})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(ConfigError, match="--port"):
            free_port(taken.getsockname()[1])
    assert free_port(0) > 0


# --- `newsbot run` and `newsbot demo` as subprocesses --------------------------------------------


class Running:
    """A subprocess whose merged output is collected line by line in a thread."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", *args], cwd=cwd, env=env or clean_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            assert self.proc.poll() is None, f"exited {self.proc.returncode}:\n{self.output}"
            time.sleep(0.05)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.output}")

    def stop(self, sig: signal.Signals, timeout: float = 10) -> tuple[int, float]:
        started = time.monotonic()
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout)
        self._reader.join(5)
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for proc in started:
        proc.kill()


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


def write_setup(tmp_path: Path, listing_url: str) -> Path:
    """config.toml (server on port 0) and feeds/haiphong.toml pointed at `listing_url`."""
    feeds = tmp_path / "feeds"
    feeds.mkdir()
    recipe = RECIPE_FILE.read_text(encoding="utf-8").split("\n[article]")[0]
    recipe = re.sub(r'^url = ".*"', f'url = "{listing_url}"', recipe, count=1, flags=re.M)
    (feeds / "haiphong.toml").write_text(recipe, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "data"\nfeeds_dir = "feeds"\n'
        '[schedule]\ninterval = "1m"\njitter = "1s"\n'
        '[server]\nport = 0\npublic_url = "http://127.0.0.1:8080"\n'
        "[fetch]\nmin_host_gap = 0.05\n",
        encoding="utf-8",
    )
    return config


def get_until(url: str, ready: Callable[[httpx.Response], bool], timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(url, timeout=5)
        if ready(response):
            return response.content
        assert time.monotonic() < deadline, f"{url} not ready: {response.status_code}"
        time.sleep(0.2)


def entry_count(response: httpx.Response) -> int:
    parsed = feedparser.parse(response.content)
    return len(parsed.entries) if response.status_code == 200 and parsed.bozo == 0 else -1


def test_newsbot_run_serves_feeds_refuses_a_second_instance_and_stops_on_sigterm(
    tmp_path: Path, running: list[Running]
) -> None:
    with FakeSite.start_in_thread() as site:
        site.set_page(PATH, LISTING.read_bytes())
        config = write_setup(tmp_path, site.url_for(PATH))
        daemon = Running(["--config", str(config), "run"], cwd=tmp_path)
        running.append(daemon)
        port = int(daemon.wait_for(r"serving feeds on http://127\.0\.0\.1:(\d+)/").group(1))
        base = f"http://127.0.0.1:{port}"
        feed = get_until(f"{base}/feeds/haiphong.xml", lambda r: entry_count(r) > 0)
        parsed = feedparser.parse(feed)
        assert parsed.bozo == 0 and len(parsed.entries) == LISTING_ITEMS
        assert parsed.entries[0].link.startswith(site.base_url)
        health = httpx.get(f"{base}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json()["feeds"]["haiphong"]["status"] == "ok"
        assert "running feed-only" in daemon.output

        second = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(config), "run"], cwd=tmp_path,
            env=clean_env(), capture_output=True, text=True, timeout=15,
        )
        assert second.returncode == 1
        assert "another newsbot is running" in second.stderr
        assert "Traceback" not in second.stderr + second.stdout

        code, took = daemon.stop(signal.SIGTERM)
        assert code == 0 and took < 10, daemon.output
        assert daemon.lines[-1].endswith("newsbot stopped")
        assert "Traceback" not in daemon.output
        assert site.count(PATH) == 1  # the next poll is a minute away
    with Store.open(tmp_path / "data" / "newsbot.db") as store:
        assert store.integrity_ok() and store.item_count("haiphong") == LISTING_ITEMS


def test_newsbot_demo_shows_new_items_within_seconds_and_stops_on_ctrl_c(
    tmp_path: Path, running: list[Running]
) -> None:
    env = {**clean_env(), "NEWSBOT_DEMO_EVERY": "1"}
    demo = Running(["demo", "--port", "0"], cwd=tmp_path, env=env)
    running.append(demo)
    port = int(demo.wait_for(r"serving feeds on http://127\.0\.0\.1:(\d+)/").group(1))
    feed_url = f"http://127.0.0.1:{port}/feeds/demo.xml"
    first = len(feedparser.parse(get_until(feed_url, lambda r: entry_count(r) > 0)).entries)
    grown = get_until(feed_url, lambda r: entry_count(r) > first, timeout=20)
    entries = feedparser.parse(grown).entries
    assert "tin số" in entries[0].title
    assert entries[0].link.startswith("http://127.0.0.1:")
    code, took = demo.stop(signal.SIGINT)
    assert code == 0 and took < 10, demo.output
    assert "Traceback" not in demo.output
    assert demo.lines[-1].endswith("newsbot stopped")


async def test_an_edit_wakes_the_sender_as_new_items_do(tmp_path: Path) -> None:
    """Issue 14: an edit notice waited up to a minute for the sender's idle poll."""
    async with FakeSite() as site:
        listing = LISTING.read_bytes()
        site.set_page(PATH, listing)
        clock = Clock()
        recipe = make_recipe(site)
        daemon = Daemon(make_config(tmp_path), [recipe], clock=clock)
        try:
            await daemon.poll_if_due(recipe)  # the first poll seeds silently
            daemon.wake_sender.clear()
            clock.now += timedelta(minutes=2)
            title = EXPECTED["items"][0]["title"]
            site.set_page(PATH, listing.replace(title.encode(), "Bổ nhiệm Hiệu trưởng".encode()))
            report = await daemon.poll_if_due(recipe)
            assert report is not None and report.new_items == () and report.changed
            assert daemon.wake_sender.is_set()
        finally:
            await close(daemon)
