"""The daemon: composes store, fetcher, scheduler, web server and Telegram bot on one asyncio loop.

Start order: lock the data dir, open the store, start the web server, take the leadership, then
start the bot (if a token is set) and the scheduler. On SQLite this process is the leader at once
(the data dir's lock keeps others out). On a shared PostgreSQL database one `newsbot run` leads (a
session advisory lock, bot.store.postgres): it polls, sends and runs the bot, and checks it still
leads before each poll and each send batch and every LEADER_CHECK seconds; the others are
standbys that serve the feeds from the shared database and try to take over every STANDBY_RETRY
seconds. A leader that loses its lock (its session dropped) stops with exit code
LOST_LEADERSHIP, so that it never sends beside the new leader; its supervisor restarts it, as a
standby. On SIGINT/SIGTERM everything stops within 10 s: the scheduler stops
taking work, a poll in flight gets `stop_grace` seconds to finish and is then cancelled (a poll
commits in one transaction, so a cancelled one leaves nothing half-done), while the bot and the
web server stop alongside; the outbox sender is cancelled (a message it was sending may go out
again after a restart: delivery is at least once); then the database is closed.

The Telegram side (building, starting and stopping the bot, the deliverer, the admins' alerts)
is bot.daemonbot's `DaemonBot`; /healthz's words are bot.publish.status's.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from bot import __version__
from bot.config import ensure_data_dir
from bot.daemonbot import DaemonBot
from bot.errors import ConfigError, NewsbotError
from bot.feedfiles import feed_meta, publish_all, repair_feeds
from bot.live import Changes, RecipeFolder
from bot.model import FeedHealth, PollReport, Recipe
from bot.pipeline import PollDeps, fetch_policy, poll_source
from bot.publish import serving, web
from bot.publish.feedmeta import ALL_FEED, FeedMeta
from bot.publish.metrics import Metrics
from bot.publish.serving import Server
from bot.publish.status import feed_status, overall_status
from bot.recipes import load_recipes
from bot.scheduler import FIRST_POLL_WITHIN, FeedScheduler, Job
from bot.schema import Config
from bot.source.fetch import Fetcher
from bot.store.db import acquire_lock
from bot.store.guard import open_store
from bot.worker import run_cpu

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds a poll in flight may take to finish after a stop signal
PRUNE_EVERY = timedelta(hours=6)
# The `all` feed is rewritten at most this often (when a poll changed a feed meanwhile).
ALL_FEED_EVERY = timedelta(seconds=5)
MAX_CONCURRENT_POLLS = 16  # across all hosts; one host is also serialised by the fetcher
DUE_SLACK = timedelta(seconds=1)  # a scheduler tick this close to next_poll_at polls
STANDBY_RETRY = 1.0  # seconds between a standby's tries to take the leadership
LEADER_CHECK = 2.0  # seconds between a leader's checks that it still holds it
LOST_LEADERSHIP = 3  # exit code of a leader whose lock went (restart it: it comes back standby)


def run_daemon(config: Config, *, debug: bool = False, init: bool = False) -> int:
    """`newsbot run`: blocks until a stop signal; returns the exit code. `init`: start a new
    database where the data dir's is missing or damaged (bot.store.guard)."""
    recipes = load_recipes(config.feeds_dir)
    if not recipes:
        log.warning("no recipes in %s: nothing will be polled (add feeds/<id>.toml)",
                    config.feeds_dir)
    ensure_data_dir(config)
    with acquire_lock(config.data_dir):
        daemon = Daemon(config, recipes, init=init)
        asyncio.run(daemon.run_until_signalled())
    return daemon.exit_code


class Daemon:
    """Everything `newsbot run` runs, wired together. `run()` until `stop_event` is set."""

    def __init__(
        self,
        config: Config,
        recipes: list[Recipe],
        *,
        fetcher: Fetcher | None = None,
        scheduler: FeedScheduler | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        stop_grace: float = STOP_GRACE,
        init: bool = False,
    ) -> None:
        self.config = config
        self.recipes = {recipe.feed_id: recipe for recipe in recipes}
        self.store = open_store(config, init=init)
        self.leadership = self.store.leadership()
        # On SQLite the data dir's lock makes this the one instance: the leader from the start.
        self.role = "leader" if self.store.dialect == "sqlite" else "standby"
        self.exit_code = 0
        self.fetcher = fetcher or Fetcher(fetch_policy(config))
        # First polls spread over a few seconds, and never later than one interval.
        self.scheduler = scheduler or FeedScheduler(
            jitter=config.schedule.jitter,
            first_poll_within=min(FIRST_POLL_WITHIN, config.schedule.interval))
        self.clock = clock
        self.stop_grace = stop_grace
        self.stop_event = asyncio.Event()
        self.wake_sender = asyncio.Event()
        self.web_port: int | None = None  # the bound port, once serving (config may say 0)
        self._poll_slots = asyncio.Semaphore(MAX_CONCURRENT_POLLS)
        self._web: Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.bot = DaemonBot(config, self.store, self.fetcher, tasks=self._tasks,
                             stats=self.stats, leads=self.leads,
                             on_recipes_change=self._rescan_soon, wake_sender=self.wake_sender)
        self.metrics: Metrics | None = None
        self.deps = PollDeps.from_config(
            config, store=self.store, fetcher=self.fetcher, feeds=self.recipes, alert=self.alert
        )
        # Recipes live: feeds/ as the daemon started with it; rescans apply what changed since.
        self.recipe_folder = RecipeFolder.scan(config.feeds_dir)
        self._rescanning = asyncio.Lock()
        self._set_web_feeds: Callable[[Mapping[str, FeedMeta]], None] | None = None

    async def run_until_signalled(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_hangup)
        await self.run()

    def _on_hangup(self) -> None:
        log.info("SIGHUP: reading %s again", self.config.feeds_dir)
        self._rescan_soon()

    def _rescan_soon(self) -> None:
        """Read feeds/ again now (SIGHUP, or /add and /remove changed it)."""
        task = asyncio.create_task(self.rescan_recipes(), name="rescan")
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    def _on_signal(self, sig: signal.Signals) -> None:
        if not self.stop_event.is_set():
            log.info("%s: stopping (at most %.0f s for a poll in flight)", sig.name,
                     self.stop_grace)
        self.stop_event.set()

    async def run(self) -> None:
        """Start everything, wait for `stop_event`, stop everything."""
        try:
            if await self._unless_stopped(self._start()):
                await self.stop_event.wait()
        finally:
            await self._stop()

    async def _unless_stopped(self, work: Coroutine[Any, Any, None]) -> bool:
        """Run `work`, cancelled if a stop comes first (a Telegram start can hang on network)."""
        task = asyncio.create_task(work)
        stop = asyncio.create_task(self.stop_event.wait())
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
        stop.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            return False
        task.result()  # its exception, if any
        return True

    async def _start(self) -> None:
        log.info("newsbot %s: %d feeds, data in %s", __version__, len(self.recipes),
                 self.config.data_dir)
        self.metrics = Metrics()
        server = self.config.server
        if server.enabled:
            app = web.create_app(
                store=self.store,
                feeds={fid: feed_meta(r) for fid, r in self.recipes.items()},
                public_url=server.public_url,
                health=self.health,
                metrics=self.metrics,
                telegram_webhook=self.bot.webhook_route(),
                metrics_access=server.metrics,
                bot_username=self.bot.username,
            )
            self._set_web_feeds = partial(web.set_feeds, app)
            try:
                self._web = await serving.serve(app, server.host, server.port)
            except ConfigError as exc:  # e.g. the port is taken: say which file sets it
                where = f"{self.config.path}: server.port: " if self.config.path else ""
                raise ConfigError(where + exc.message, hint=exc.hint) from None
            self.web_port = self._web.port
            log.info("serving feeds on http://%s:%d/ (public URL %s)", server.host,
                     self._web.port, server.public_url)
        leading = self.leadership.try_acquire()  # on SQLite always: lead from the start
        if leading:
            await self._become_leader()
        lead = asyncio.create_task(self._lead(leading), name="lead")
        lead.add_done_callback(_log_crash)
        self._tasks.append(lead)

    async def _lead(self, leading: bool) -> None:
        """Wait to be the leader unless `leading`, then check every LEADER_CHECK seconds that
        it still is, and stop the daemon when it is not."""
        if not leading:
            log.info("standby: another newsbot leads on %s; serving feeds, taking over when it "
                     "stops", self.store.path)
            while not self.leadership.try_acquire():
                await asyncio.sleep(STANDBY_RETRY)
            await self._become_leader()
        while True:
            await asyncio.sleep(LEADER_CHECK)
            if not self.leadership.holds():
                self._lost_leadership()
                return

    async def _become_leader(self) -> None:
        self.role = "leader"
        if self.store.dialect == "postgresql":
            log.info("leader on %s: polling, sending and running the bot", self.store.path)
        await self._start_leading()

    def _lost_leadership(self) -> None:
        log.error("lost the leadership (%s): stopping, so that only the new leader polls and "
                  "sends; restart this newsbot and it waits as a standby",
                  self.leadership.lost_because)
        self.role = "standby"
        self.exit_code = LOST_LEADERSHIP
        self.stop_event.set()

    def leads(self) -> bool:
        """Checked before each poll and each send batch: still the leader?"""
        if self.role != "leader":
            return False
        if not self.leadership.holds():
            self._lost_leadership()
            return False
        return True

    async def _start_leading(self) -> None:
        if self.config.token:
            bot_task = asyncio.create_task(self.bot.start(self.recipes), name="bot")
            bot_task.add_done_callback(_log_crash)
            self._tasks.append(bot_task)
        else:
            log.info("no Telegram token (NEWSBOT_TELEGRAM_TOKEN): running feed-only")
        repaired = await run_cpu(repair_feeds, self.deps)
        if repaired:
            log.warning("feed files missing or torn, rewritten from the database: %s",
                        ", ".join(repaired))
        for feed_id, recipe in self.recipes.items():
            self.scheduler.add_feed(feed_id, self.interval_of(recipe), self._poll_job(recipe))
        self.scheduler.add_every("prune", PRUNE_EVERY, self._prune)
        self.scheduler.add_every(ALL_FEED, ALL_FEED_EVERY, self._publish_all)
        self.scheduler.add_every("recipes", self.config.schedule.rescan, self._rescan_job)
        self.scheduler.start()

    async def _stop(self) -> None:
        self.scheduler.stop()
        try:
            abandoned, *_ = await asyncio.gather(
                self.scheduler.drain(self.stop_grace), self._stop_tasks(), self.bot.stop(),
                self._stop_web(),
            )
            if abandoned:
                log.warning("abandoned the poll in flight of %s (nothing of it was stored; "
                            "it runs again at the next start)", ", ".join(abandoned))
            await self._publish_all()  # what the last polls stored
        finally:
            await self.fetcher.aclose()
            self.leadership.release()  # a standby takes over now, not when the session ends
            self.store.close()
            log.info("newsbot stopped")

    async def _stop_tasks(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _stop_web(self) -> None:
        if self._web is not None:
            await self._web.stop()

    def interval_of(self, recipe: Recipe) -> timedelta:
        return recipe.interval or self.config.schedule.interval

    def _poll_job(self, recipe: Recipe) -> Job:
        async def job() -> None:
            await self.poll_if_due(recipe)

        return job

    async def poll_if_due(self, recipe: Recipe) -> PollReport | None:
        """Poll one feed unless its backoff says to wait, or this is no longer the leader
        (None)."""
        if not self.leads():
            return None
        due_at = self.store.health(recipe.feed_id).next_poll_at
        slack = min(DUE_SLACK, self.interval_of(recipe) / 10)
        if due_at is not None and self.clock() < due_at - slack:
            return None
        async with self._poll_slots:
            started = time.monotonic()
            report = await poll_source(recipe, self.deps, self.clock())
        if self.metrics is not None:
            self.metrics.record_poll(report, time.monotonic() - started)
        if report.new_items:
            log.info("%s: %d new item(s)%s", recipe.feed_id, len(report.new_items),
                     " (first poll: stored silently)" if report.seeded else "")
        if report.new_items or report.changed:  # edit notices go out as soon as new items
            self.wake_sender.set()
        return report

    async def _rescan_job(self) -> None:
        await self.rescan_recipes()

    async def rescan_recipes(self) -> Changes:
        """Read feeds/ again and apply what changed: a recipe added is polled (its first poll
        seeds silently), a changed one replaces the old, a removed one is polled no more (its
        items and subscriptions stay until `newsbot forget`), a broken one is refused with one
        admin alert and the last good one keeps running."""
        async with self._rescanning:
            changes = await asyncio.to_thread(self.recipe_folder.rescan)
            self.apply_recipes(changes)
            return changes

    def apply_recipes(self, changes: Changes) -> None:
        for refusal in changes.refused:
            self.alert(refusal.alert())
        if not (changes.added or changes.changed or changes.removed):
            return
        for recipe in (*changes.added, *changes.changed):
            self.recipes[recipe.feed_id] = recipe
            self.deps.unpublished.add(recipe.feed_id)  # a new title or sections: rewrite files
            self.scheduler.add_feed(recipe.feed_id, self.interval_of(recipe),
                                    self._poll_job(recipe))
        for feed_id in changes.removed:
            if self.recipes.pop(feed_id, None) is not None:
                self.scheduler.remove_feed(feed_id)
        ordered = sorted(self.recipes.items())  # in place: self.deps shares this dict
        self.recipes.clear()
        self.recipes.update(ordered)
        self.deps.all_stale = True
        self._share_feed_list()
        log.info("recipes: %s (%d feeds)", changes.summary(), len(self.recipes))

    def _share_feed_list(self) -> None:
        """The web server and the bot see the feeds as they are now."""
        if self._set_web_feeds is not None:
            self._set_web_feeds({fid: feed_meta(r) for fid, r in self.recipes.items()})
        self.bot.set_feeds(self.recipes)

    async def _publish_all(self) -> None:
        """Rewrite the `all` feed if a poll changed a feed since the last time."""
        if not self.deps.all_stale:
            return
        try:
            await run_cpu(publish_all, self.deps)
        except NewsbotError as exc:  # stays stale: the next tick tries again
            log.warning("%s", exc)

    async def _prune(self) -> None:
        now = self.clock()
        unseen_since = now - self.config.schedule.retention
        for feed_id, recipe in self.recipes.items():
            self.store.prune_items(feed_id, unseen_since=unseen_since, keep=recipe.max_items,
                                   now=now)

    def alert(self, message: str) -> None:
        """Tell the admins (log always; Telegram when the bot runs)."""
        log.warning("admin alert: %s", message)
        self.bot.alert(message)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """For /healthz: is the scheduler running, and how is each feed doing."""
        stored = {record.feed_id: record for record in self.store.all_health()}
        feeds = {
            feed_id: feed_status(stored.get(feed_id) or FeedHealth(feed_id),
                                 self.config.schedule.alert_after_failures)
            for feed_id in self.recipes
        }
        # A standby serves feeds: it is healthy without a scheduler of its own.
        working = self.scheduler.running if self.role == "leader" else True
        running = working and not self.stop_event.is_set()
        status = overall_status(feeds.values()) if running else "stopped"
        return running, {"status": status, "role": self.role, "version": __version__,
                         "feeds": feeds}

    def stats(self) -> Mapping[str, object]:
        return {"feeds": len(self.recipes), "outbox": self.store.outbox_counts()}


def _log_crash(task: asyncio.Task[Any]) -> None:
    """A background task that dies of a bug says so at once, not only at shutdown."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s task crashed; the feeds keep running", task.get_name(),
                  exc_info=task.exception())
