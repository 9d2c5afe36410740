"""The daemon: composes store, fetcher, scheduler, web server and Telegram bot on one asyncio loop.

Start order: lock the data dir, open the store, start the web server, start the bot (if a token is
set), then the scheduler. Stop order is the reverse, within 10 s of SIGINT/SIGTERM: the scheduler
stops taking work, a poll in flight gets a few seconds to finish and is then cancelled (a poll
commits in one transaction, so a cancelled one leaves nothing half-done), the outbox sender finishes
its current message, and the database is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from bot import __version__
from bot.config import Config, load_recipes
from bot.errors import StoreError
from bot.fetch import Fetcher, FetchPolicy
from bot.logs import setup_logging
from bot.model import Recipe
from bot.pipeline import PollDeps, feed_meta, poll_source
from bot.scheduler import FeedScheduler
from bot.store import Store, acquire_lock

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds a poll in flight may take to finish after a stop signal
PRUNE_EVERY = timedelta(hours=6)


def run_daemon(config: Config, *, debug: bool = False) -> int:
    """`newsbot run`: blocks until a stop signal; returns the exit code."""
    recipes = load_recipes(config.feeds_dir)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with acquire_lock(config.data_dir):
        refuse_missing_database(config)
        asyncio.run(Daemon(config, recipes).run_until_signalled())
    return 0


def refuse_missing_database(config: Config) -> None:
    """A data dir that published feeds but lost its database must not silently start afresh."""
    published = config.public_dir / "feeds"
    if not config.db_path.exists() and published.is_dir() and any(published.iterdir()):
        raise StoreError(
            f"{config.db_path}: database missing, but {published} holds feeds published before",
            hint="restore newsbot.db from a backup; or delete the public/ folder to start afresh "
            "(every item on the sites would then be stored again, silently)",
        )


class Daemon:
    """Everything `newsbot run` runs, wired together."""

    def __init__(self, config: Config, recipes: list[Recipe], *, fetcher: Fetcher | None = None):
        self.config = config
        self.recipes = {recipe.feed_id: recipe for recipe in recipes}
        self.store = Store.open(config.db_path)
        self.fetcher = fetcher or Fetcher(fetch_policy(config))
        self.scheduler = FeedScheduler(jitter=config.schedule.jitter)
        self.stop_event = asyncio.Event()
        self.wake_sender = asyncio.Event()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._alerts: asyncio.Queue[str] = asyncio.Queue()
        self._bot: Any = None
        self._web: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.metrics: Any = None
        self.deps = PollDeps(
            store=self.store,
            fetcher=self.fetcher,
            public_dir=config.public_dir,
            public_url=config.server.public_url,
            feeds=self.recipes,
            interval=config.schedule.interval,
            max_backoff=config.schedule.max_backoff,
            alert_after_failures=config.schedule.alert_after_failures,
            max_age=config.telegram.max_age,
            announce=bool(config.token),
            alert=self.alert,
        )

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.stop_event.set)
        await self.run()

    async def run(self) -> None:
        """Start everything, wait for `stop_event`, stop everything."""
        try:
            await self._start()
            await self.stop_event.wait()
        finally:
            await self._stop()

    async def _start(self) -> None:
        from bot import web

        log.info("newsbot %s: %d feeds, data in %s", __version__, len(self.recipes),
                 self.config.data_dir)
        self.metrics = web.Metrics()
        if self.config.server.enabled:
            app = web.create_app(
                store=self.store,
                feeds={fid: feed_meta(r) for fid, r in self.recipes.items()},
                public_url=self.config.server.public_url,
                health=self.health,
                metrics=self.metrics,
            )
            self._web = await web.serve(app, self.config.server.host, self.config.server.port)
            log.info("serving feeds on http://%s:%d/", self.config.server.host, self._web.port)
        if self.config.token:
            await self._start_bot()
        else:
            log.info("no Telegram token (NEWSBOT_TELEGRAM_TOKEN): running feed-only")
        for feed_id, recipe in self.recipes.items():
            interval = recipe.interval or self.config.schedule.interval
            self.scheduler.add_feed(feed_id, interval, self._poll_job(recipe))
        self.scheduler.add_every("prune", PRUNE_EVERY, self._prune)
        self.scheduler.start()

    async def _start_bot(self) -> None:
        from bot import telegram
        from bot.commands import Commands, FeedInfo
        from bot.delivery import Deliverer, Pacing

        tg = self.config.telegram
        feeds = {
            fid: FeedInfo(fid, r.title, r.timezone, f"{self.config.server.public_url}/feeds/{fid}.xml")
            for fid, r in self.recipes.items()
        }
        commands = Commands(self.store, feeds, default_feeds=tg.default_feeds,
                            public_url=self.config.server.public_url, stats=self.stats)
        self._bot = telegram.build_application(
            self.config.token, base_url=tg.api_base_url, commands=commands, admins=tg.admins,
            store=self.store,
        )
        await telegram.start_bot(self._bot)
        sender = telegram.PtbSender(self._bot.bot, link_preview=tg.link_preview)
        pacing = Pacing(overall_per_second=tg.messages_per_second,
                        max_per_chat_per_round=tg.max_per_chat_per_round)
        deliverer = Deliverer(self.store, sender, self.recipes, pacing)
        self._tasks.append(asyncio.create_task(deliverer.run(self.wake_sender), name="deliver"))
        self._tasks.append(asyncio.create_task(self._send_alerts(sender), name="alerts"))

    async def _stop(self) -> None:
        self.scheduler.stop()
        if self._inflight:
            _, pending = await asyncio.wait(self._inflight, timeout=STOP_GRACE)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._bot is not None:
            from bot import telegram

            with contextlib.suppress(Exception):
                await asyncio.wait_for(telegram.stop_bot(self._bot), timeout=3)
        if self._web is not None:
            await self._web.stop()
        await self.fetcher.aclose()
        self.store.close()
        log.info("newsbot stopped")

    def _poll_job(self, recipe: Recipe) -> Any:
        async def job() -> None:
            task = asyncio.current_task()
            assert task is not None
            self._inflight.add(task)
            try:
                await self.poll_if_due(recipe)
            finally:
                self._inflight.discard(task)

        return job

    async def poll_if_due(self, recipe: Recipe) -> None:
        """Poll one feed unless its backoff says to wait."""
        now = datetime.now(UTC)
        due_at = self.store.health(recipe.feed_id).next_poll_at
        if due_at is not None and now < due_at - timedelta(seconds=1):
            return
        started = time.monotonic()
        try:
            report = await poll_source(recipe, self.deps, now)
        except Exception:
            # A bug in one poll must not kill the scheduler; the store is unchanged (one transaction).
            log.exception("%s: poll crashed", recipe.feed_id)
            return
        if self.metrics is not None:
            self.metrics.record_poll(report, time.monotonic() - started)
        if report.new_items:
            log.info("%s: %d new item(s)%s", recipe.feed_id, len(report.new_items),
                     " (first poll: stored silently)" if report.seeded else "")
            self.wake_sender.set()

    async def _prune(self) -> None:
        unseen_since = datetime.now(UTC) - self.config.schedule.retention
        for feed_id, recipe in self.recipes.items():
            self.store.prune_items(feed_id, unseen_since=unseen_since, keep=recipe.max_items)

    def alert(self, message: str) -> None:
        """Tell the admins (log always; Telegram when the bot runs)."""
        log.warning("admin alert: %s", message)
        if self._bot is not None:
            self._alerts.put_nowait(message)

    async def _send_alerts(self, sender: Any) -> None:
        chats = self.config.telegram.admin_chats or self.config.telegram.admins
        while True:
            message = await self._alerts.get()
            for chat_id in chats:
                try:
                    await sender.send_plain(chat_id, message)
                except Exception as exc:  # an alert that fails is logged, never retried forever
                    log.warning("admin alert to %s failed: %s", chat_id, exc)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """For /healthz: is the scheduler running, and how is each feed doing."""
        feeds: dict[str, Any] = {}
        for record in self.store.all_health():
            if record.feed_id not in self.recipes:
                continue
            feeds[record.feed_id] = {
                "last_success_at": _iso(record.last_success_at),
                "last_error": record.last_error,
                "consecutive_failures": record.consecutive_failures,
                "next_poll_at": _iso(record.next_poll_at),
            }
        running = self.scheduler.running and not self.stop_event.is_set()
        return running, {"status": "ok" if running else "stopped", "version": __version__,
                         "feeds": feeds}

    def stats(self) -> Mapping[str, object]:
        return {"feeds": len(self.recipes), "outbox": self.store.outbox_counts()}


def fetch_policy(config: Config) -> FetchPolicy:
    policy = FetchPolicy(
        deadline=config.fetch.timeout.total_seconds(),
        max_bytes=config.fetch.max_bytes,
        min_host_gap=config.fetch.min_host_gap.total_seconds(),
        respect_robots=config.fetch.respect_robots,
    )
    if config.fetch.user_agent:
        from dataclasses import replace

        policy = replace(policy, user_agent=config.fetch.user_agent)
    return policy


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def run_demo(*, port: int, debug: bool) -> int:
    """`newsbot demo`: see bot/demo.py."""
    from bot import demo

    setup_logging("DEBUG" if debug else "INFO")
    return demo.run(port=port)
