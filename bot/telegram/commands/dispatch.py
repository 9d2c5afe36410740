"""What the bot answers to each Telegram command and button, with no Telegram library in sight.

`bot/telegram/ptb.py` turns an update into a `CommandContext` plus a command (or callback data),
calls
`Commands.run`/`Commands.press` and sends the `Reply`. Invariants:
- settings change only through `Store`; in groups and supergroups only chat admins and bot admins
  may change them, everyone may read (/help, /feeds, /filters, /latest);
- reply text is Telegram HTML built by `texts.t`, which escapes everything users and sites wrote;
- no command takes a URL: a Telegram user can never make the daemon fetch anything;
- each user gets at most COMMANDS_PER_MINUTE commands a minute, told so once, then ignored;
- in a forum supergroup, a command sent inside a topic carries its `thread_id`: /subscribe there
  routes the feed's items to that topic;
- /tim (search) pages with ◀ ▶ buttons whose data is a short key to a query kept in memory
  (never the raw keywords); after a restart an old button says the search has expired;
- /sections toggles `section:<id>` keywords in the chat's per-feed include filter, so every
  consumer of filters (routing, /latest, feed URLs) honours the choice; none checked = all.

Here: the dispatch, permission and rate-limit checks. The handlers are grouped in mixins:
`feeds` (/start /help /feeds /subscribe /unsubscribe), `sections`, `filters` (/filters /include
/exclude /clear), `settings` (/pause /resume /stop /lang /quiet /digest /urgent /edits) and
`read` (/latest /tim /stats). They import `base` (shared types, the `CommandStore` protocol,
keyword and token helpers) and `text`, never each other; this module composes them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from datetime import UTC, datetime

from bot.telegram.commands.base import (
    CALLBACK_DATA_MAX_BYTES,
    PUBLIC_COMMANDS,
    Button,
    Call,
    CommandContext,
    CommandStore,
    Reply,
    button_token,
    hash_token,
    merge_filters,
)
from bot.telegram.commands.feeds import FEED_ACTIONS, FeedCommands
from bot.telegram.commands.filters import KEYWORD_ACTION, FilterCommands
from bot.telegram.commands.read import LATEST_DEFAULT, LATEST_MAX, SEARCH_ACTION, ReadCommands
from bot.telegram.commands.sections import (
    SECTION_ACTIONS,
    SectionCommands,
    chosen_sections,
    section_data,
    section_token,
    without_sections,
)
from bot.telegram.commands.settings import SETTINGS_ACTIONS, SettingsCommands
from bot.telegram.commands.sources import SOURCE_ACTION, SourceCommands, SourceDesk
from bot.telegram.feedinfo import FeedInfo
from bot.telegram.ratelimit import RateLimiter, Verdict
from bot.telegram.texts import LANGUAGES, pick_language, t

__all__ = [
    "CALLBACK_DATA_MAX_BYTES", "LATEST_DEFAULT", "LATEST_MAX", "PUBLIC_COMMANDS", "Button",
    "CommandContext", "CommandStore", "Commands", "FeedInfo", "RateLimiter", "Reply", "Verdict",
    "button_token", "chosen_sections", "may_change_settings", "merge_filters", "section_data",
    "section_token", "without_sections",
]  # fmt: skip

COMMANDS_PER_MINUTE = 20  # someone exploring the bot sends a burst; a flood is still cut
PRESSES_PER_MINUTE = 30  # toggling a dozen feeds is normal use, so buttons get their own budget
READ_ONLY = frozenset({"help", "feeds", "sections", "filters", "latest", "tim", "export"})
ALIASES = {"sub": "subscribe", "unsub": "unsubscribe", "language": "lang", "list": "feeds",
           "search": "tim", "timkiem": "tim"}
BUTTON_ACTIONS = (FEED_ACTIONS | SECTION_ACTIONS | SETTINGS_ACTIONS
                  | {SEARCH_ACTION, SOURCE_ACTION, KEYWORD_ACTION})


class Commands(FeedCommands, SectionCommands, FilterCommands, SettingsCommands, ReadCommands,
               SourceCommands):
    """Command and button logic over a Store; one instance serves every chat."""

    def __init__(
        self,
        store: CommandStore,
        feeds: Mapping[str, FeedInfo],
        *,
        default_feeds: Sequence[str] = (),
        public_url: str = "",
        stats: Callable[[], Mapping[str, object]] | None = None,
        sources: SourceDesk | None = None,
        previews: bool = False,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.configured_defaults = tuple(default_feeds)
        self.set_feeds(feeds)
        self.public_url = public_url
        self.stats = stats
        self.sources = sources  # /add and /remove, for bot admins
        self.previews = previews  # telegram.link_preview: for chats that did not choose
        self.now = now
        self._command_limit = RateLimiter(COMMANDS_PER_MINUTE)
        self._press_limit = RateLimiter(PRESSES_PER_MINUTE)
        self._searches = OrderedDict()
        self._feed_queries = OrderedDict()
        self._handlers: dict[str, Callable[[Call], Reply | None]] = {
            "start": self._start, "help": self._help, "feeds": self._feeds,
            "subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
            "latest": self._latest, "filters": self._filters,
            "include": self._include, "exclude": self._exclude, "clear": self._clear,
            "pause": self._pause, "resume": self._resume, "lang": self._lang, "stop": self._stop,
            "tim": self._search, "quiet": self._quiet, "urgent": self._urgent,
            "digest": self._digest, "edits": self._edits, "sections": self._sections,
            "add": self._add, "remove": self._remove, "format": self._format,
            "export": self._export,
        }  # fmt: skip

    def set_feeds(self, feeds: Mapping[str, FeedInfo]) -> None:
        """The feeds the commands offer from now on (recipes changed while running)."""
        self.feeds = dict(feeds)  # in the configured order
        self.default_feeds = [f for f in self.configured_defaults if f in self.feeds] or list(
            self.feeds)
        self._feed_by_token = {button_token(f): f for f in self.feeds}
        self._feed_by_hash = {hash_token(f): f for f in self.feeds}

    def run(self, ctx: CommandContext, command: str, args: str) -> Reply | None:
        """Answer `/command args` (command without "/" and "@bot"); None: say nothing."""
        admitted = self._admit(self._command_limit, ctx)
        if not isinstance(admitted, str):
            return admitted
        lang = admitted
        name = command.lower()
        name = ALIASES.get(name, name)
        if name == "stats" and ctx.is_bot_admin:
            return self._stats(lang)
        if name in ("add", "remove"):  # bot admins only, wherever they are
            return self._handlers[name](Call(ctx, args.strip(), lang))
        handler = self._handlers.get(name)
        if handler is None:
            return Reply(t(lang, "unknown_command", command=command[:32]))
        if name not in READ_ONLY and not may_change_settings(ctx):
            return Reply(t(lang, "admin_only"))
        return handler(Call(ctx, args.strip(), lang))

    def press(self, ctx: CommandContext, data: str) -> Reply | None:
        """Answer an inline button press: toggle a feed or a section and redraw the list, or turn
        a search page; all in place."""
        action, _, token = data.partition(":")
        if action not in BUTTON_ACTIONS:
            return None
        admitted = self._admit(self._press_limit, ctx)
        if not isinstance(admitted, str):
            return admitted
        call = Call(ctx, "", admitted)
        if action == SEARCH_ACTION:
            return self._search_press(call.lang, token)
        if action == SOURCE_ACTION:
            return self._source_press(call, token)
        if action == "sec":  # only shows a list: anyone may
            return self._section_press(call, action, token)
        if action == "fl":  # turns a page of the feed list: anyone may
            return self._feed_press(call, action, token)
        if not may_change_settings(ctx):  # told to the presser alone, not to the group
            return Reply(t(call.lang, "admin_only"), alert=True)
        if action in SECTION_ACTIONS:
            return self._section_press(call, action, token)
        if action == "fmt":
            return self._format_press(call, token)
        if action == "stp":
            return self._stop_press(call, token)
        if action == KEYWORD_ACTION:
            return self._keyword_press(call, token)
        return self._feed_press(call, action, token)

    def chatter(self, ctx: CommandContext) -> Reply | None:
        """Plain text to the bot in a private chat: one line saying where the commands are."""
        if ctx.chat_type != "private":
            return None
        admitted = self._admit(self._command_limit, ctx)
        return Reply(t(admitted, "chatter")) if isinstance(admitted, str) else admitted

    def command_list(self, language: str) -> list[tuple[str, str]]:
        """(command, description) pairs for setMyCommands; /stats stays hidden."""
        return [(name, t(language, f"cmd_{name}")) for name in self.menu_commands(language)]

    def _admit(self, limiter: RateLimiter, ctx: CommandContext) -> str | Reply | None:
        """The reply language if the sender is within `limiter`, else a warning once, then None."""
        now = self.now()
        verdict = limiter.check(_sender(ctx), now)
        if verdict == "drop":
            return None
        lang = self._language(ctx)
        if verdict == "ok":
            return lang
        wait = max(1, math.ceil(limiter.retry_in(_sender(ctx), now).total_seconds()))
        return Reply(t(lang, "rate_limited", seconds=wait), alert=True)

    def _language(self, ctx: CommandContext) -> str:
        """The chat's chosen language, else the sender's Telegram language."""
        chat = self.store.chat(ctx.chat_id)
        if chat is not None and chat.language in LANGUAGES:
            return chat.language
        return pick_language(ctx.language_code)


def _sender(ctx: CommandContext) -> Hashable:
    """Whom the rate limit counts: the user, or the chat for anonymous senders and channels."""
    return ("user", ctx.user_id) if ctx.user_id is not None else ("chat", ctx.chat_id)


def may_change_settings(ctx: CommandContext) -> bool:
    """Private chats and channels (only admins post there): yes; groups: admins only."""
    if ctx.chat_type in ("group", "supergroup"):
        return ctx.is_chat_admin or ctx.is_bot_admin
    return True
