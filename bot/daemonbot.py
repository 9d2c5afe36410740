"""The daemon's Telegram side: the bot built, started (retried while Telegram is unreachable) and
stopped; the outbox's deliverer and the admins' alerts running beside it.

Composition (it wires the telegram wing to the store and to `/add`'s desk); bot.app owns one
`DaemonBot` and starts it once it leads. Without a token none of this runs and alerts are only
logged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bot.add_desk import NO_OWN_ALLOWANCE, AddDesk
from bot.errors import DeliveryError, RateLimited, TransientDelivery
from bot.model import Recipe
from bot.publish.webhook import TelegramWebhook
from bot.schema import Config
from bot.source.fetch import Fetcher
from bot.store.db import Store
from bot.telegram import ptb as telegram
from bot.telegram.commands.dispatch import Commands
from bot.telegram.delivery import Deliverer
from bot.telegram.feedinfo import FeedInfo, feed_infos
from bot.telegram.outbox import Sender
from bot.telegram.pacing import Pacer, Pacing

log = logging.getLogger(__name__)

BOT_STOP_TIMEOUT = 3.0
BOT_RETRY_FIRST = 5.0  # seconds before retrying an unreachable Telegram, doubling...
BOT_RETRY_MAX = 300.0  # ...up to five minutes
MAX_QUEUED_ALERTS = 100
ALERT_GAP = 1.0  # seconds between two admin alerts
ALERT_ATTEMPTS = 3
MAX_ALERT_WAIT = 60.0


class DaemonBot:
    """The bot of one `newsbot run`; `start()` once leading, `stop()` at the end."""

    def __init__(
        self,
        config: Config,
        store: Store,
        fetcher: Fetcher,
        *,
        tasks: list[asyncio.Task[Any]],
        stats: Callable[[], Mapping[str, object]],
        leads: Callable[[], bool],
        on_recipes_change: Callable[[], None],
        wake_sender: asyncio.Event,
    ) -> None:
        self.config = config
        self.store = store
        self.fetcher = fetcher
        self._tasks = tasks  # the daemon's: cancelled when it stops
        self._stats = stats
        self._leads = leads
        self._on_recipes_change = on_recipes_change
        self._wake_sender = wake_sender
        # Bounded: if the bot never comes up (a refused token), alerts must not pile up forever.
        self._alerts: asyncio.Queue[str] = asyncio.Queue(maxsize=MAX_QUEUED_ALERTS)
        self._bot: telegram.App | None = None
        self._ready = False  # webhook updates are taken (else 503: Telegram retries)
        self._commands: Commands | None = None
        self._feeds: dict[str, FeedInfo] = {}  # the deliverer's: updated in place

    async def start(self, recipes: Mapping[str, Recipe]) -> None:
        tg = self.config.telegram
        public_url = self.config.server.public_url
        feeds = self._feeds
        feeds.update(feed_infos(recipes, public_url))
        # /add and /remove: the same proposals as `newsbot add`; a URL typed into Telegram
        # reaches no private address unless [fetch] allow_private says so.
        desk = AddDesk(self.config.feeds_dir,
                       partial(self.fetcher.fetch, recipe_urls=NO_OWN_ALLOWANCE),
                       on_change=self._on_recipes_change)
        commands = self._commands = Commands(self.store, feeds, default_feeds=tg.default_feeds,
                                             public_url=public_url, stats=self._stats,
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
        if not await self._connect(start):
            return
        self._ready = True
        sender = telegram.PtbSender(self._bot.bot)
        # The only sender now (data dir lock, or leadership): rows a dead one claimed are free.
        if released := self.store.release_claims():
            log.info("released %d outbox row(s) claimed by a previous sender", released)
        deliverer = Deliverer(self.store, sender, feeds, pacing, pacer=pacer,
                              max_age=tg.max_age, send_documents=tg.send_documents,
                              may_send=self._leads,
                              previews=tg.link_preview)  # each chat may choose with /format
        self._tasks.append(asyncio.create_task(deliverer.run(self._wake_sender), name="deliver"))
        self._tasks.append(asyncio.create_task(self._send_alerts(sender), name="alerts"))

    def webhook_route(self) -> TelegramWebhook | None:
        """The web server's route for Telegram's posts, in webhook mode with a token."""
        tg = self.config.telegram
        if tg.mode != "webhook" or not self.config.token:
            return None
        path = urlsplit(tg.webhook_url).path
        return TelegramWebhook(path, self.config.webhook_secret, self._on_webhook_update)

    async def _on_webhook_update(self, data: dict[str, object]) -> bool:
        """Hand a posted update to the bot; False (503) until it runs, so Telegram retries."""
        if not self._ready or self._bot is None:
            return False
        await telegram.feed_update(self._bot, data)
        return True

    async def _connect(self, start: Callable[[Any], Awaitable[None]]) -> bool:
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

    async def stop(self) -> None:
        self._ready = False  # updates posted from now on get a 503 and come back later
        if self._bot is None:
            return
        try:
            await asyncio.wait_for(telegram.stop_bot(self._bot), timeout=BOT_STOP_TIMEOUT)
        except Exception as exc:  # stopping must go on: the database still has to be closed
            log.warning("the Telegram bot did not stop cleanly: %s", exc)

    def set_feeds(self, recipes: Mapping[str, Recipe]) -> None:
        """The deliverer and the commands see the feeds as they are now."""
        infos = feed_infos(recipes, self.config.server.public_url)
        self._feeds.clear()
        self._feeds.update(infos)
        if self._commands is not None:
            self._commands.set_feeds(infos)

    def alert(self, message: str) -> None:
        """Queue an admin alert for Telegram, once the bot is built (the daemon logs it)."""
        if self._bot is not None and not self._alerts.full():
            self._alerts.put_nowait(message)

    async def _send_alerts(self, sender: Sender) -> None:
        chats = self.config.telegram.admin_chats or self.config.telegram.admins
        while True:
            message = await self._alerts.get()
            for chat_id in chats:
                await send_alert(sender, chat_id, message)
            await asyncio.sleep(ALERT_GAP)  # Telegram allows ~1 message/s per chat

    def username(self) -> str | None:
        """The running Telegram bot's @username (without the @), for the index page's links."""
        if not self._ready or self._bot is None:
            return None
        return telegram.username(self._bot)


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
