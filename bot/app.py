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
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bot import __version__
from bot.add_desk import NO_OWN_ALLOWANCE, AddDesk
from bot.config import ensure_data_dir
from bot.errors import ConfigError, DeliveryError, NewsbotError, RateLimited, TransientDelivery
from bot.feedfiles import feed_meta, publish_all, repair_feeds
from bot.live import Changes, RecipeFolder
from bot.model import FeedHealth, PollReport, Recipe
from bot.pipeline import PollDeps, poll_source
from bot.publish import serving, web
from bot.publish.feedmeta import ALL_FEED, FeedMeta
from bot.publish.metrics import Metrics
from bot.publish.serving import Server
from bot.publish.status import feed_state
from bot.publish.webhook import TelegramWebhook
from bot.recipes import load_recipes
from bot.scheduler import FIRST_POLL_WITHIN, FeedScheduler, Job
from bot.schema import Config
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import acquire_lock
from bot.store.guard import open_store
from bot.telegram import ptb as telegram
from bot.telegram.commands.dispatch import Commands
from bot.telegram.delivery import Deliverer
from bot.telegram.feedinfo import FeedInfo, feed_infos
from bot.telegram.outbox import Sender
from bot.telegram.pacing import Pacer, Pacing
from bot.worker import run_cpu

log = logging.getLogger(__name__)

STOP_GRACE = 5.0  # seconds a poll in flight may take to finish after a stop signal
BOT_STOP_TIMEOUT = 3.0
PRUNE_EVERY = timedelta(hours=6)
# The `all` feed is rewritten at most this often (when a poll changed a feed meanwhile).
ALL_FEED_EVERY = timedelta(seconds=5)
MAX_QUEUED_ALERTS = 100
BOT_RETRY_FIRST = 5.0  # seconds before retrying an unreachable Telegram, doubling...
BOT_RETRY_MAX = 300.0  # ...up to five minutes
MAX_CONCURRENT_POLLS = 16  # across all hosts; one host is also serialised by the fetcher
DUE_SLACK = timedelta(seconds=1)  # a scheduler tick this close to next_poll_at polls
ALERT_GAP = 1.0  # seconds between two admin alerts
ALERT_ATTEMPTS = 3
MAX_ALERT_WAIT = 60.0
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
        # Bounded: if the bot never comes up (a refused token), alerts must not pile up forever.
        self._alerts: asyncio.Queue[str] = asyncio.Queue(maxsize=MAX_QUEUED_ALERTS)
        self._bot: telegram.App | None = None
        self._bot_ready = False  # webhook updates are taken (else 503: Telegram retries)
        self._web: Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self.metrics: Metrics | None = None
        self.deps = PollDeps.from_config(
            config, store=self.store, fetcher=self.fetcher, feeds=self.recipes, alert=self.alert
        )
        # Recipes live: feeds/ as the daemon started with it; rescans apply what changed since.
        self.recipe_folder = RecipeFolder.scan(config.feeds_dir)
        self._rescanning = asyncio.Lock()
        self._set_web_feeds: Callable[[Mapping[str, FeedMeta]], None] | None = None
        self._commands: Commands | None = None
        self._bot_feeds: dict[str, FeedInfo] = {}  # the deliverer's: updated in place

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
                telegram_webhook=self._webhook_route(),
                metrics_access=server.metrics,
                bot_username=self.bot_username,
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
            bot_task = asyncio.create_task(self._start_bot(), name="bot")
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

    async def _start_bot(self) -> None:
        tg = self.config.telegram
        public_url = self.config.server.public_url
        feeds = self._bot_feeds
        feeds.update(feed_infos(self.recipes, public_url))
        # /add and /remove: the same proposals as `newsbot add`; a URL typed into Telegram
        # reaches no private address unless [fetch] allow_private says so.
        desk = AddDesk(self.config.feeds_dir,
                       partial(self.fetcher.fetch, recipe_urls=NO_OWN_ALLOWANCE),
                       on_change=self._rescan_soon)
        commands = self._commands = Commands(self.store, feeds, default_feeds=tg.default_feeds,
                                             public_url=public_url, stats=self.stats,
                                             previews=tg.link_preview,
                                             sources=desk)
        pacing = Pacing(overall_per_second=tg.messages_per_second,
                        max_per_chat_per_round=tg.max_per_chat_per_round,
                        time_scale=tg.pacing_scale)
        pacer = Pacer(pacing)  # items and command replies share each chat's limits
        self._bot = telegram.build_application(
            self.config.token, base_url=tg.api_base_url, commands=commands, admins=tg.admins,
            channels=tg.channels, store=self.store, pacer=pacer,
        )
        start: Callable[[Any], Awaitable[None]] = telegram.start_bot
        if tg.mode == "webhook":
            start = partial(telegram.start_bot_webhook, url=tg.webhook_url,
                            secret=self.config.webhook_secret)
        if not await self._connect_bot(start):
            return
        self._bot_ready = True
        sender = telegram.PtbSender(self._bot.bot)
        # The only sender now (data dir lock, or leadership): rows a dead one claimed are free.
        if released := self.store.release_claims():
            log.info("released %d outbox row(s) claimed by a previous sender", released)
        deliverer = Deliverer(self.store, sender, feeds, pacing, pacer=pacer,
                              max_age=tg.max_age, send_documents=tg.send_documents,
                              may_send=self.leads,
                              previews=tg.link_preview)  # each chat may choose with /format
        self._tasks.append(asyncio.create_task(deliverer.run(self.wake_sender), name="deliver"))
        self._tasks.append(asyncio.create_task(self._send_alerts(sender), name="alerts"))

    def _webhook_route(self) -> TelegramWebhook | None:
        """The web server's route for Telegram's posts, in webhook mode with a token."""
        tg = self.config.telegram
        if tg.mode != "webhook" or not self.config.token:
            return None
        path = urlsplit(tg.webhook_url).path
        return TelegramWebhook(path, self.config.webhook_secret, self._on_webhook_update)

    async def _on_webhook_update(self, data: dict[str, object]) -> bool:
        """Hand a posted update to the bot; False (503) until it runs, so Telegram retries."""
        if not self._bot_ready or self._bot is None:
            return False
        await telegram.feed_update(self._bot, data)
        return True

    async def _connect_bot(self, start: Callable[[Any], Awaitable[None]]) -> bool:
        """Start the bot; while Telegram is unreachable, feeds keep running and this retries."""
        delay = BOT_RETRY_FIRST
        while True:
            try:
                await start(self._bot)
                log.info("Telegram bot running")
                return True
            except TransientDelivery as exc:
                log.warning("Telegram unreachable (%s): feeds keep running; retrying in %.0f s",
                            exc, delay)
            except DeliveryError as exc:
                # A refused token will not fix itself: say so once and stay feed-only.
                log.error("Telegram bot not started, running feed-only: %s", exc)
                return False
            await asyncio.sleep(delay)
            delay = min(delay * 2, BOT_RETRY_MAX)

    async def _stop(self) -> None:
        self.scheduler.stop()
        try:
            abandoned, *_ = await asyncio.gather(
                self.scheduler.drain(self.stop_grace), self._stop_tasks(), self._stop_bot(),
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

    async def _stop_bot(self) -> None:
        self._bot_ready = False  # updates posted from now on get a 503 and come back later
        if self._bot is None:
            return
        try:
            await asyncio.wait_for(telegram.stop_bot(self._bot), timeout=BOT_STOP_TIMEOUT)
        except Exception as exc:  # stopping must go on: the database still has to be closed
            log.warning("the Telegram bot did not stop cleanly: %s", exc)

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
        infos = feed_infos(self.recipes, self.config.server.public_url)
        self._bot_feeds.clear()
        self._bot_feeds.update(infos)
        if self._commands is not None:
            self._commands.set_feeds(infos)

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
        if self._bot is not None and not self._alerts.full():
            self._alerts.put_nowait(message)

    async def _send_alerts(self, sender: Sender) -> None:
        chats = self.config.telegram.admin_chats or self.config.telegram.admins
        while True:
            message = await self._alerts.get()
            for chat_id in chats:
                await send_alert(sender, chat_id, message)
            await asyncio.sleep(ALERT_GAP)  # Telegram allows ~1 message/s per chat

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

    def bot_username(self) -> str | None:
        """The running Telegram bot's @username (without the @), for the index page's links."""
        if not self._bot_ready or self._bot is None:
            return None
        return telegram.username(self._bot)

    def stats(self) -> Mapping[str, object]:
        return {"feeds": len(self.recipes), "outbox": self.store.outbox_counts()}


def overall_status(feeds: Iterable[Mapping[str, Any]]) -> str:
    """/healthz's top line: "failing" (HTTP 503) when every feed is, "degraded" when any feed's
    last poll failed, else "ok"."""
    statuses = [feed["status"] for feed in feeds]
    if statuses and all(status == "failing" for status in statuses):
        return "failing"
    if any(status in ("retrying", "failing") for status in statuses):
        return "degraded"
    return "ok"


def feed_status(health: FeedHealth, alert_after_failures: int) -> dict[str, Any]:
    """One feed's entry in /healthz: `status` for monitors (failing: as many failures in a row
    as alert the admin), `state` as the index page words it."""
    if health.last_poll_at is None:
        status = "pending"
    elif health.consecutive_failures == 0:
        status = "ok"
    elif health.consecutive_failures < alert_after_failures:
        status = "retrying"
    else:
        status = "failing"
    return {
        "status": status,
        "last_poll_at": _iso(health.last_poll_at),
        "last_success_at": _iso(health.last_success_at),
        "last_error": health.last_error,
        "consecutive_failures": health.consecutive_failures,
        "next_poll_at": _iso(health.next_poll_at),
        "state": feed_state(health).kind,
        "never_succeeded": health.last_success_at is None,
        "held_back_at": _iso(health.held_back_at),
        "held_back_items": health.held_back_items,
    }


async def send_alert(sender: Sender, chat_id: int, message: str) -> None:
    """One alert to one chat: waits out flood control a few times, then gives up (logged)."""
    for _ in range(ALERT_ATTEMPTS):
        try:
            await sender.send_plain(chat_id, message)
            return
        except RateLimited as exc:
            await asyncio.sleep(min(exc.retry_after, MAX_ALERT_WAIT))
        except Exception as exc:  # an alert that fails is logged, never retried forever
            log.warning("admin alert to %s failed: %s", chat_id, exc)
            return
    log.warning("admin alert to %s dropped: Telegram kept asking to wait", chat_id)


def fetch_policy(config: Config) -> FetchPolicy:
    policy = FetchPolicy(
        deadline=config.fetch.timeout.total_seconds(),
        max_bytes=config.fetch.max_bytes,
        min_host_gap=config.fetch.min_host_gap.total_seconds(),
        respect_robots=config.fetch.respect_robots,
        allow_private=config.fetch.allow_private,
    )
    if config.fetch.user_agent:
        policy = replace(policy, user_agent=config.fetch.user_agent)
    return policy


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _log_crash(task: asyncio.Task[Any]) -> None:
    """A background task that dies of a bug says so at once, not only at shutdown."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s task crashed; the feeds keep running", task.get_name(),
                  exc_info=task.exception())
