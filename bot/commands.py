"""What the bot answers to each Telegram command and button, with no Telegram library in sight.

`bot/telegram.py` turns an update into a `CommandContext` plus a command (or callback data), calls
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
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import digest, filters
from bot.digest import format_clock
from bot.errors import KeywordError
from bot.model import (
    DEFAULT_TIMEZONE,
    Chat,
    ChatKind,
    ChatSettings,
    FeedHealth,
    Item,
    KeywordFilter,
)
from bot.search import MAX_PHRASES, MAX_QUERY_CHARS, SCAN_LIMIT, folded, parse_query
from bot.store import Store
from bot.texts import LANGUAGES, Html, pick_language, t

LATEST_DEFAULT = 5
LATEST_MAX = 20
LATEST_SCAN = 200  # items per feed looked at by /latest before filtering
COMMANDS_PER_MINUTE = 10
PRESSES_PER_MINUTE = 30  # toggling a dozen feeds is normal use, so buttons get their own budget
CALLBACK_DATA_MAX_BYTES = 64  # Telegram's limit; longer data is BUTTON_DATA_INVALID
BUTTON_TITLE_CHARS = 40
LATEST_TITLE_CHARS = 150
MESSAGE_BUDGET = 3800  # visible chars, under Telegram's 4096
KEYWORDS_SHOWN_CHARS = 1000  # 50 keywords of 100 chars would not fit in one message
NAMES_SHOWN = 30
SEARCH_PAGE = 5  # results per /tim page
SEARCH_MEMORY = 1000  # queries kept for the ◀ ▶ buttons
SEARCH_ACTION = "s"  # callback data `s:<key>:<page>`
# Callback data `sec:<feed>` opens a feed's sections, `sct:<feed>:<section>` toggles one,
# `sca:<feed>` checks none (= all sections).
SECTION_ACTIONS = frozenset({"sec", "sct", "sca"})
SECTION_TOKEN_BYTES = 20
SECTION_BUTTONS_MAX = 90  # Telegram allows 100 buttons in a keyboard
OFF_WORDS = frozenset({"off", "tat", "tắt", "khong", "không", "no", "0"})
ON_WORDS = frozenset({"on", "bat", "bật", "yes", "co", "có", "1"})
HOURLY_WORDS = frozenset({"hourly", "gio", "giờ", "moi-gio", "mỗi-giờ"})
DAILY_WORDS = frozenset({"daily", "ngay", "ngày", "moi-ngay", "mỗi-ngày"})

PUBLIC_COMMANDS = (
    "start", "help", "feeds", "sections", "subscribe", "unsubscribe", "latest", "tim", "filters",
    "include", "exclude", "clear", "quiet", "urgent", "digest", "edits", "pause", "resume",
    "lang", "stop",
)  # fmt: skip
READ_ONLY = frozenset({"help", "feeds", "sections", "filters", "latest", "tim"})
ALIASES = {"sub": "subscribe", "unsub": "unsubscribe", "language": "lang", "list": "feeds",
           "search": "tim", "timkiem": "tim"}
_TAG = re.compile(r"<[^>]*>")
_KEYWORD_SEPARATORS = re.compile(r"[,;\n\r]")  # as in filters.parse_keywords, to explain errors
_CHAT_KINDS: dict[str, ChatKind] = {
    "private": "private", "group": "group", "supergroup": "supergroup", "channel": "channel",
}  # fmt: skip


@dataclass(frozen=True)
class Button:
    """An inline button; `data` comes back to `Commands.press` when it is pressed."""

    text: str
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > CALLBACK_DATA_MAX_BYTES:
            raise ValueError(f"callback data over {CALLBACK_DATA_MAX_BYTES} bytes: {self.data!r}")


@dataclass(frozen=True)
class Reply:
    """Telegram HTML text, optional inline keyboard rows; `edit`: replace the pressed message."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False


@dataclass(frozen=True)
class CommandContext:
    """Who sent a command, from where."""

    chat_id: int
    chat_type: str
    user_id: int | None
    language_code: str | None
    chat_title: str = ""
    is_chat_admin: bool = False
    is_bot_admin: bool = False
    thread_id: int | None = None  # the forum topic the command was sent in


@dataclass(frozen=True)
class FeedInfo:
    """What the bot shows about a feed."""

    feed_id: str
    title: str
    timezone: str = DEFAULT_TIMEZONE
    url: str = ""
    sections: tuple[tuple[str, str], ...] = ()  # (section id, name), in the recipe's order


@dataclass(frozen=True)
class _Call:
    ctx: CommandContext
    args: str
    lang: str

    @property
    def chat_id(self) -> int:
        return self.ctx.chat_id


Verdict = Literal["ok", "warn", "drop"]


class RateLimiter:
    """At most `limit` events per key in any `window`; the first refusal is 'warn', later 'drop'."""

    def __init__(
        self, limit: int, window: timedelta = timedelta(minutes=1), *, max_keys: int = 10_000
    ) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._times: dict[Hashable, deque[datetime]] = {}
        self._warned: set[Hashable] = set()

    def check(self, key: Hashable, now: datetime) -> Verdict:
        """Count one event for `key` unless it is over the limit."""
        if len(self._times) > self.max_keys:
            self.forget_idle(now)
        times = self._times.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            self._warned.discard(key)
            return "ok"
        if key in self._warned:
            return "drop"
        self._warned.add(key)
        return "warn"

    def forget_idle(self, now: datetime) -> None:
        """Drop keys with no event in the window, so memory stays bounded."""
        for key in [k for k, ts in self._times.items() if not ts or ts[-1] <= now - self.window]:
            del self._times[key]
            self._warned.discard(key)


class Commands:
    """Command and button logic over a Store; one instance serves every chat."""

    def __init__(
        self,
        store: Store,
        feeds: Mapping[str, FeedInfo],
        *,
        default_feeds: Sequence[str] = (),
        public_url: str = "",
        stats: Callable[[], Mapping[str, object]] | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.feeds = dict(feeds)  # in the configured order
        self.default_feeds = [f for f in default_feeds if f in self.feeds] or list(self.feeds)
        self.public_url = public_url
        self.stats = stats
        self.now = now
        self._command_limit = RateLimiter(COMMANDS_PER_MINUTE)
        self._press_limit = RateLimiter(PRESSES_PER_MINUTE)
        self._feed_by_token = {button_token(f): f for f in self.feeds}
        self._feed_by_hash = {_hash_token(f): f for f in self.feeds}
        self._searches: OrderedDict[str, tuple[str, ...]] = OrderedDict()
        self._handlers: dict[str, Callable[[_Call], Reply]] = {
            "start": self._start, "help": self._help, "feeds": self._feeds,
            "subscribe": self._subscribe, "unsubscribe": self._unsubscribe,
            "latest": self._latest, "filters": self._filters,
            "include": self._include, "exclude": self._exclude, "clear": self._clear,
            "pause": self._pause, "resume": self._resume, "lang": self._lang, "stop": self._stop,
            "tim": self._search, "quiet": self._quiet, "urgent": self._urgent,
            "digest": self._digest, "edits": self._edits, "sections": self._sections,
        }  # fmt: skip

    # entry points

    def run(self, ctx: CommandContext, command: str, args: str) -> Reply | None:
        """Answer `/command args` (command without "/" and "@bot"); None: say nothing."""
        verdict = self._command_limit.check(_sender(ctx), self.now())
        if verdict == "drop":
            return None
        lang = self._language(ctx)
        if verdict == "warn":
            return Reply(t(lang, "rate_limited"))
        name = command.lower()
        name = ALIASES.get(name, name)
        if name == "stats" and ctx.is_bot_admin:
            return self._stats(lang)
        handler = self._handlers.get(name)
        if handler is None:
            return Reply(t(lang, "unknown_command", command=command[:32]))
        if name not in READ_ONLY and not may_change_settings(ctx):
            return Reply(t(lang, "admin_only"))
        return handler(_Call(ctx, args.strip(), lang))

    def press(self, ctx: CommandContext, data: str) -> Reply | None:
        """Answer an inline button press: toggle a feed or a section and redraw the list, or turn
        a search page; all in place."""
        action, _, token = data.partition(":")
        if action not in ("sub", "uns", SEARCH_ACTION, *SECTION_ACTIONS):
            return None
        verdict = self._press_limit.check(_sender(ctx), self.now())
        if verdict == "drop":
            return None
        lang = self._language(ctx)
        if verdict == "warn":
            return Reply(t(lang, "rate_limited"))
        if action == SEARCH_ACTION:
            return self._search_press(lang, token)
        if action == "sec":  # only shows a list: anyone may
            return self._section_press(_Call(ctx, "", lang), action, token)
        if not may_change_settings(ctx):
            return Reply(t(lang, "admin_only"))
        call = _Call(ctx, "", lang)
        if action in SECTION_ACTIONS:
            return self._section_press(call, action, token)
        feed_id = self._feed_by_token.get(token)
        if feed_id is None:
            return self._feed_list(call, edit=True, notice=t(lang, "feed_gone"))
        self._ensure_chat(call)
        if action == "sub":
            self.store.subscribe(ctx.chat_id, feed_id, thread_id=ctx.thread_id or 0)
        else:
            self.store.unsubscribe(ctx.chat_id, feed_id)
        return self._feed_list(call, edit=True)

    def command_list(self, language: str) -> list[tuple[str, str]]:
        """(command, description) pairs for setMyCommands; /stats stays hidden."""
        return [(name, t(language, f"cmd_{name}")) for name in PUBLIC_COMMANDS]

    # chat state

    def _start(self, call: _Call) -> Reply:
        """Register the chat, wake it up, and follow the default feeds if it follows nothing."""
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, active=True, paused=False)
        if not self.store.subscriptions_of(call.chat_id):
            for feed_id in self.default_feeds:
                self.store.subscribe(call.chat_id, feed_id, thread_id=call.ctx.thread_id or 0)
        followed = self.store.subscriptions_of(call.chat_id)
        if not followed:
            return Reply(t(call.lang, "start_no_feeds"))
        lines = "\n".join(f"• {self._title_html(f)}" for f in followed)
        return Reply(t(call.lang, "start", feeds=Html(lines)))

    def _help(self, call: _Call) -> Reply:
        commands = "\n".join(f"/{name} – {t(call.lang, f'cmd_{name}')}"
                             for name in PUBLIC_COMMANDS)
        web = t(call.lang, "help_web", url=self.public_url) if self.public_url else ""
        return Reply(t(call.lang, "help", commands=Html(commands), web=Html(web)))

    def _pause(self, call: _Call) -> Reply:
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, paused=True)
        return Reply(t(call.lang, "paused"))

    def _resume(self, call: _Call) -> Reply:
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, active=True, paused=False)
        return Reply(t(call.lang, "resumed"))

    def _stop(self, call: _Call) -> Reply:
        self.store.forget_chat(call.chat_id)
        return Reply(t(call.lang, "stopped"))

    def _lang(self, call: _Call) -> Reply:
        choice = call.args.lower()
        if choice not in LANGUAGES:
            return Reply(t(call.lang, "lang_usage"))
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, language=choice)
        return Reply(t(choice, "lang_set"))

    # feeds

    def _feeds(self, call: _Call) -> Reply:
        return self._feed_list(call, edit=False)

    def _feed_list(self, call: _Call, *, edit: bool, notice: str = "") -> Reply:
        if not self.feeds:
            return Reply(t(call.lang, "feeds_empty"), edit=edit)
        followed = set(self.store.subscriptions_of(call.chat_id))
        lines = [notice] if notice else []
        lines.append(t(call.lang, "feeds_header"))
        rows: list[tuple[Button, ...]] = []
        for feed_id, info in self.feeds.items():
            on = feed_id in followed
            lines.append(f"{'✅' if on else '▫️'} {self._title_html(feed_id)} "
                         f"<code>{_esc(feed_id)}</code>")
            label = f"{'✅' if on else '➕'} {_shorten(info.title, BUTTON_TITLE_CHARS)}"
            action = "uns" if on else "sub"
            rows.append((Button(label, f"{action}:{button_token(feed_id)}"),))
        return Reply(_fit(lines), tuple(rows), edit=edit)

    def _subscribe(self, call: _Call) -> Reply:
        if not call.args:
            return Reply(t(call.lang, "subscribe_usage", names=self._names(self.feeds)))
        found = self._find_feed(call.args, call.lang)
        if isinstance(found, Reply):
            return found
        thread_id = call.ctx.thread_id or 0
        previous = self.store.subscription_threads(call.chat_id).get(found)
        self._ensure_chat(call)
        self.store.subscribe(call.chat_id, found, thread_id=thread_id)
        if previous is None:
            key = "subscribed_topic" if thread_id else "subscribed"
        elif previous != thread_id:
            key = "moved_topic" if thread_id else "moved_main"
        else:
            key = "already_subscribed"
        return Reply(t(call.lang, key, title=self._title(found)))

    def _unsubscribe(self, call: _Call) -> Reply:
        if not call.args:
            followed = self.store.subscriptions_of(call.chat_id)
            names = self._names(followed) if followed else t(call.lang, "none")
            return Reply(t(call.lang, "unsubscribe_usage", names=names))
        followed = self.store.subscriptions_of(call.chat_id)
        # a feed removed from the config can still be dropped by its id
        found = call.args if call.args in followed else self._find_feed(call.args, call.lang)
        if isinstance(found, Reply):
            return found
        removed = self.store.unsubscribe(call.chat_id, found)
        key = "unsubscribed" if removed else "not_subscribed"
        return Reply(t(call.lang, key, title=self._title(found)))

    def _find_feed(self, name: str, lang: str) -> str | Reply:
        """The one feed `name` means, or a reply listing the valid names."""
        matches = self.match_feeds(name)
        if len(matches) == 1:
            return matches[0]
        key = "feed_ambiguous" if matches else "feed_unknown"
        return Reply(t(lang, key, name=name[:100], names=self._names(matches or self.feeds)))

    def match_feeds(self, name: str) -> list[str]:
        """Feed ids `name` may mean: the exact id or title, else an id prefix or title words."""
        if name.strip() in self.feeds:
            return [name.strip()]
        wanted = filters.fold(name)
        if not wanted:
            return []
        names = {f: (filters.fold(f), filters.fold(info.title)) for f, info in self.feeds.items()}
        exact = [f for f, folded in names.items() if wanted in folded]
        if exact:
            return exact
        return [f for f, (folded_id, folded_title) in names.items()
                if folded_id.startswith(wanted) or f" {wanted}" in f" {folded_title}"]

    # keyword filters

    def _filters(self, call: _Call) -> Reply:
        return Reply(self._filters_text(call))

    def _include(self, call: _Call) -> Reply:
        return self._add_keywords(call, "include")

    def _exclude(self, call: _Call) -> Reply:
        return self._add_keywords(call, "exclude")

    def _add_keywords(self, call: _Call, side: Literal["include", "exclude"]) -> Reply:
        """Add phrases to one side of the chat-wide (or `FEED:`) filter, off the other side."""
        usage = Reply(t(call.lang, f"{side}_usage"))
        if not call.args:
            return usage
        scope = self._split_scope(call.args, call.lang)
        if isinstance(scope, Reply):
            return scope
        feed_id, text = scope
        try:
            added = filters.parse_keywords(text)
        except KeywordError as error:
            return Reply(_keyword_problem(call.lang, text, error))
        if not added:
            return usage
        updated = _with_keywords(self.store.keyword_filter(call.chat_id, feed_id), side, added)
        if max(len(updated.include), len(updated.exclude)) > filters.MAX_KEYWORDS:
            return Reply(t(call.lang, "keyword_too_many", limit=filters.MAX_KEYWORDS))
        self._ensure_chat(call)
        self.store.set_keyword_filter(call.chat_id, updated, feed_id)
        return Reply(t(call.lang, "filters_updated") + "\n\n" + self._filters_text(call))

    def _split_scope(self, args: str, lang: str) -> tuple[str | None, str] | Reply:
        """`FEED: kw1, kw2` -> (feed id, "kw1, kw2"); no `FEED:` prefix -> (None, args).

        `type:quyết định` and `section:…` (`loại:`, `mục:`) are field keywords, not a feed."""
        head, colon, rest = args.partition(":")
        if not colon or _KEYWORD_SEPARATORS.search(head) or not head.strip():
            return None, args
        if filters.facet_of(args) is not None:
            return None, args
        found = self._find_feed(head.strip(), lang)
        return found if isinstance(found, Reply) else (found, rest)

    def _clear(self, call: _Call) -> Reply:
        empty = KeywordFilter()
        if call.args:
            found = self._find_feed(call.args, call.lang)
            if isinstance(found, Reply):
                return found
            self.store.set_keyword_filter(call.chat_id, empty, found)
            return Reply(t(call.lang, "cleared_feed", title=self._title(found)))
        self.store.set_keyword_filter(call.chat_id, empty)
        for feed_id in {*self.feeds, *self.store.subscriptions_of(call.chat_id)}:
            self.store.set_keyword_filter(call.chat_id, empty, feed_id)
        return Reply(t(call.lang, "cleared"))

    def _filters_text(self, call: _Call) -> str:
        blocks = [_filter_block(call.lang, t(call.lang, "filters_all_feeds"),
                                self.store.keyword_filter(call.chat_id))]
        for feed_id in self.feeds:
            kf = self.store.keyword_filter(call.chat_id, feed_id)
            blocks.append(_filter_block(
                call.lang, t(call.lang, "filters_feed", title=self._title(feed_id)), kf))
        shown = [b for b in blocks if b]
        if not shown:
            return t(call.lang, "filters_none")
        return _fit([t(call.lang, "filters_header"), *shown], "\n\n")

    # /sections

    def _sections(self, call: _Call) -> Reply:
        """`/sections [FEED]`: a feed's sections as toggle buttons, or the feeds that have some."""
        sectioned = self._sectioned_feeds()
        if not sectioned:
            return Reply(t(call.lang, "sections_none"))
        if not call.args:
            if len(sectioned) == 1:
                return self._section_list(call, sectioned[0], edit=False)
            return self._sectioned_list(call, edit=False)
        found = self._find_feed(call.args, call.lang)
        if isinstance(found, Reply):
            return found
        if found not in sectioned:
            return Reply(t(call.lang, "sections_feed_none", title=self._title(found),
                           names=self._names(sectioned)))
        return self._section_list(call, found, edit=False)

    def _sectioned_feeds(self) -> list[str]:
        return [feed_id for feed_id, info in self.feeds.items() if info.sections]

    def _sectioned_list(self, call: _Call, *, edit: bool, notice: str = "") -> Reply:
        """The feeds that have sections, each a button opening its sections."""
        sectioned = self._sectioned_feeds()
        if not sectioned:
            return Reply(t(call.lang, "sections_none"), edit=edit)
        lines = [notice] if notice else []
        lines.append(t(call.lang, "sections_feeds_header"))
        rows: list[tuple[Button, ...]] = []
        for feed_id in sectioned[:SECTION_BUTTONS_MAX]:
            info = self.feeds[feed_id]
            lines.append(f"• {self._title_html(feed_id)} <code>{_esc(feed_id)}</code> "
                         f"({len(info.sections)})")
            label = f"📂 {_shorten(info.title, BUTTON_TITLE_CHARS)}"
            rows.append((Button(label, section_data("sec", feed_id)),))
        return Reply(_fit(lines), tuple(rows), edit=edit)

    def _section_list(self, call: _Call, feed_id: str, *, edit: bool, notice: str = "") -> Reply:
        """A feed's sections, ✅ for those the chat picked, with a toggle button each."""
        info = self.feeds[feed_id]
        kf = self.store.keyword_filter(call.chat_id, feed_id)
        chosen = chosen_sections(kf, info.sections)
        lines = [notice] if notice else []
        lines.append(t(call.lang, "sections_header", title=Html(self._title_html(feed_id))))
        rows: list[tuple[Button, ...]] = []
        for section_id, name in info.sections[:SECTION_BUTTONS_MAX]:
            mark = "✅" if section_id in chosen else "▫️"
            lines.append(f"{mark} {self._section_html(feed_id, section_id, name)}")
            label = f"{mark} {_shorten(name, BUTTON_TITLE_CHARS)}"
            rows.append((Button(label, section_data("sct", feed_id, section_id)),))
        if chosen:
            words = self._other_include_keywords(call.chat_id, kf)
            lines.append(t(call.lang, "sections_some_keywords" if words else "sections_some"))
        else:
            lines.append(t(call.lang, "sections_all"))
        if _section_values(kf):  # also a keyword naming a section the recipe no longer has
            rows.append((Button(t(call.lang, "sections_all_button"),
                                section_data("sca", feed_id)),))
        if feed_id not in self.store.subscriptions_of(call.chat_id):
            lines.append(t(call.lang, "sections_not_following", feed=feed_id))
        return Reply(_fit(lines), tuple(rows), edit=edit)

    def _other_include_keywords(self, chat_id: int, per_feed: KeywordFilter) -> bool:
        """Whether include keywords other than sections also let items through (they add up)."""
        merged = merge_filters(self.store.keyword_filter(chat_id), per_feed)
        return any(_facet_name(k) != "section" for k in merged.include)

    def _section_html(self, feed_id: str, section_id: str, name: str) -> str:
        """The section's name, and a link to its own feed when the feeds are public."""
        if not self.public_url:
            return _esc(name)
        url = (f"{self.public_url.rstrip('/')}/feeds/{quote(feed_id, safe='')}/"
               f"{quote(section_id, safe='')}.xml")
        return f"{_esc(name)} · {_link(url, 'RSS')}"

    def _section_press(self, call: _Call, action: str, token: str) -> Reply:
        """Open a feed's sections, toggle one, or check none (= all), and redraw in place."""
        feed_token, section_token_ = token, ""
        if action == "sct":
            feed_token, _, section_token_ = token.rpartition(":")
        feed_id = self._feed_by_token.get(feed_token) or self._feed_by_hash.get(feed_token)
        if feed_id is None or not self.feeds[feed_id].sections:
            return self._sectioned_list(call, edit=True, notice=t(call.lang, "feed_gone"))
        if action == "sec":
            return self._section_list(call, feed_id, edit=True)
        sections = self.feeds[feed_id].sections
        kf = self.store.keyword_filter(call.chat_id, feed_id)
        if action == "sca":
            updated = without_sections(kf)
        else:
            by_token = {section_token(sid): (sid, name) for sid, name in sections}
            if section_token_ not in by_token:
                return self._section_list(call, feed_id, edit=True,
                                          notice=t(call.lang, "sections_gone"))
            section_id, name = by_token[section_token_]
            if section_id in chosen_sections(kf, sections):
                updated = without_sections(kf, ((section_id, name),))
            else:
                updated = _with_keywords(kf, "include", (f"section:{section_id}",))
                if len(updated.include) > filters.MAX_KEYWORDS:
                    notice = t(call.lang, "keyword_too_many", limit=filters.MAX_KEYWORDS)
                    return self._section_list(call, feed_id, edit=True, notice=notice)
        self._ensure_chat(call)
        self.store.set_keyword_filter(call.chat_id, updated, feed_id)
        return self._section_list(call, feed_id, edit=True)

    # /latest

    def _latest(self, call: _Call) -> Reply:
        count = _parse_count(call.args)
        if count is None:
            return Reply(t(call.lang, "latest_usage", max=LATEST_MAX))
        followed = self.store.subscriptions_of(call.chat_id)
        if not followed:
            return Reply(t(call.lang, "latest_no_feeds"))
        chat_wide = self.store.keyword_filter(call.chat_id)
        picked: list[Item] = []
        for feed_id in followed:
            kf = merge_filters(chat_wide, self.store.keyword_filter(call.chat_id, feed_id))
            items = self.store.items(feed_id, limit=LATEST_SCAN)
            names = dict(self.feeds[feed_id].sections) if feed_id in self.feeds else {}
            picked += [i for i in items
                       if filters.item_matches(kf, i, names.get(i.section or ""))][:count]
        picked.sort(key=_newest_first_key, reverse=True)
        if not picked:
            return Reply(t(call.lang, "latest_none"))
        return Reply(self._latest_text(call.lang, picked[:count], show_feed=len(followed) > 1))

    def _latest_text(self, lang: str, items: Sequence[Item], *, show_feed: bool) -> str:
        lines: list[str] = []
        budget = MESSAGE_BUDGET
        for number, item in enumerate(items, start=1):
            title = _shorten(item.title, LATEST_TITLE_CHARS)
            meta = [self._local_time(item)] + ([self._title(item.feed_id)] if show_feed else [])
            meta_text = " · ".join(m for m in meta if m)
            budget -= len(title) + len(meta_text) + 8
            if budget < 0:
                break
            lines.append(f"{number}. {_link(item.url, title)}\n<i>{_esc(meta_text)}</i>")
        header = t(lang, "latest_header", count=len(lines))
        return "\n\n".join([header, *lines])

    def _local_time(self, item: Item) -> str:
        """`28/11/2024 14:30` in the feed's timezone."""
        if item.date is None:
            return ""
        info = self.feeds.get(item.feed_id)
        zone = _zone(info.timezone if info else DEFAULT_TIMEZONE)
        return item.date.astimezone(zone).strftime("%d/%m/%Y %H:%M")

    # /tim (search)

    def _search(self, call: _Call) -> Reply:
        if not call.args:
            return Reply(t(call.lang, "search_usage"))
        try:
            phrases = parse_query(call.args)
        except KeywordError as error:
            return Reply(_search_problem(call.lang, call.args, error))
        key = hashlib.sha256("\n".join(folded(phrases)).encode()).hexdigest()[:12]
        self._searches[key] = phrases
        self._searches.move_to_end(key)
        while len(self._searches) > SEARCH_MEMORY:
            self._searches.popitem(last=False)
        return self._search_page(call.lang, key, phrases, 0, edit=False)

    def _search_press(self, lang: str, token: str) -> Reply:
        key, _, page = token.partition(":")
        phrases = self._searches.get(key)
        if phrases is None or not page.isdecimal() or int(page) * SEARCH_PAGE >= SCAN_LIMIT:
            return Reply(t(lang, "search_expired"), edit=True)
        return self._search_page(lang, key, phrases, int(page), edit=True)

    def _search_page(
        self, lang: str, key: str, phrases: tuple[str, ...], page: int, *, edit: bool
    ) -> Reply:
        """One page of results, newest first, with ◀ ▶ buttons where there is more."""
        found = self.store.search(phrases, self.feeds, limit=SEARCH_PAGE + 1,
                                  offset=page * SEARCH_PAGE)
        query = _shorten(", ".join(phrases), 100)
        back = Button(t(lang, "search_prev"), f"{SEARCH_ACTION}:{key}:{page - 1}")
        if not found:
            text = t(lang, "search_none", query=query) if page == 0 else t(lang, "search_no_more")
            return Reply(text, ((back,),) if page else (), edit=edit)
        lines = [t(lang, "search_header", query=query, page=page + 1)]
        for number, item in enumerate(found[:SEARCH_PAGE], start=page * SEARCH_PAGE + 1):
            meta = " · ".join(m for m in (self._local_time(item), self._title(item.feed_id)) if m)
            title = _shorten(item.title, LATEST_TITLE_CHARS)
            lines.append(f"{number}. {_link(item.url, title)}\n<i>{_esc(meta)}</i>")
        buttons = [back] if page else []
        if len(found) > SEARCH_PAGE and (page + 1) * SEARCH_PAGE < SCAN_LIMIT:
            buttons.append(Button(t(lang, "search_next"), f"{SEARCH_ACTION}:{key}:{page + 1}"))
        return Reply(_fit(lines, "\n\n"), (tuple(buttons),) if buttons else (), edit=edit)

    # quiet hours, digests, urgent keywords, edit notices

    def _quiet(self, call: _Call) -> Reply:
        scoped = self._settings_and_args(call, "quiet_usage")
        if isinstance(scoped, Reply):
            return scoped
        settings, args = scoped
        if args.lower() in OFF_WORDS:
            self._save_settings(call, replace(settings, quiet_start=None, quiet_end=None))
            return Reply(t(call.lang, "quiet_off"))
        try:
            start, end = digest.parse_window(args)
        except ValueError:
            return Reply(t(call.lang, "quiet_invalid", text=_shorten(args, 40)))
        self._save_settings(call, replace(settings, quiet_start=start, quiet_end=end))
        return Reply(t(call.lang, "quiet_set", start=format_clock(start), end=format_clock(end),
                       tz=settings.timezone))

    def _digest(self, call: _Call) -> Reply:
        scoped = self._settings_and_args(call, "digest_usage")
        if isinstance(scoped, Reply):
            return scoped
        settings, args = scoped
        mode, *rest = args.lower().split() or [""]
        if mode in OFF_WORDS and not rest:
            self._save_settings(call, replace(settings, digest="off"))
            return Reply(t(call.lang, "digest_off"))
        if mode in HOURLY_WORDS and not rest:
            self._save_settings(call, replace(settings, digest="hourly"))
            return Reply(t(call.lang, "digest_hourly"))
        if mode not in DAILY_WORDS or len(rest) > 1:
            return Reply(t(call.lang, "digest_usage"))
        try:
            at = digest.parse_clock(rest[0]) if rest else settings.digest_at
        except ValueError:
            return Reply(t(call.lang, "digest_usage"))
        self._save_settings(call, replace(settings, digest="daily", digest_at=at))
        return Reply(t(call.lang, "digest_daily", time=format_clock(at), tz=settings.timezone))

    def _urgent(self, call: _Call) -> Reply:
        settings = self.store.chat_settings(call.chat_id)
        if not call.args:
            return self._settings_reply(call.lang, settings, "urgent_usage")
        if call.args.lower() in OFF_WORDS:
            self._save_settings(call, replace(settings, urgent=()))
            return Reply(t(call.lang, "urgent_off"))
        try:
            keywords = filters.parse_keywords(call.args)
        except KeywordError as error:
            return Reply(_keyword_problem(call.lang, call.args, error))
        if not keywords:
            return Reply(t(call.lang, "urgent_usage"))
        self._save_settings(call, replace(settings, urgent=keywords))
        return Reply(t(call.lang, "urgent_set", keywords=_keyword_list(keywords)))

    def _edits(self, call: _Call) -> Reply:
        settings = self.store.chat_settings(call.chat_id)
        choice = call.args.lower()
        if choice not in ON_WORDS | OFF_WORDS:
            return self._settings_reply(call.lang, settings, "edits_usage")
        on = choice in ON_WORDS
        self._save_settings(call, replace(settings, edits=on))
        return Reply(t(call.lang, "edits_on" if on else "edits_off"))

    def _settings_and_args(self, call: _Call, usage: str) -> tuple[ChatSettings, str] | Reply:
        """The chat's settings with a trailing time zone applied, and the other arguments;
        the settings and `usage` when there are no arguments."""
        settings = self.store.chat_settings(call.chat_id)
        if not call.args:
            return self._settings_reply(call.lang, settings, usage)
        head, _, last = call.args.rpartition(" ")
        if "/" not in last and last.upper() != "UTC":
            return settings, call.args
        if not digest.is_timezone(last):
            return Reply(t(call.lang, "timezone_unknown", name=_shorten(last, 60)))
        settings = replace(settings, timezone=last)
        if not head.strip():  # only a time zone: keep the rest as it was
            self._save_settings(call, settings)
            return self._settings_reply(call.lang, settings, usage)
        return settings, head.strip()

    def _save_settings(self, call: _Call, settings: ChatSettings) -> None:
        self._ensure_chat(call)
        self.store.set_chat_settings(settings)

    def _settings_reply(self, lang: str, settings: ChatSettings, usage: str) -> Reply:
        lines = [t(lang, "settings_header")]
        if digest.has_quiet_hours(settings):
            assert settings.quiet_start is not None and settings.quiet_end is not None
            lines.append(t(lang, "settings_quiet", start=format_clock(settings.quiet_start),
                           end=format_clock(settings.quiet_end)))
        else:
            lines.append(t(lang, "settings_quiet_none"))
        if settings.digest == "daily":
            lines.append(t(lang, "settings_digest_daily", time=format_clock(settings.digest_at)))
        else:
            lines.append(t(lang, f"settings_digest_{settings.digest}"))
        if settings.urgent:
            lines.append(t(lang, "settings_urgent", keywords=_keyword_list(settings.urgent)))
        else:
            lines.append(t(lang, "settings_urgent_none"))
        lines.append(t(lang, "settings_edits_on" if settings.edits else "settings_edits_off"))
        lines.append(t(lang, "settings_timezone", tz=settings.timezone))
        return Reply("\n".join(lines) + "\n\n" + t(lang, usage))

    # /stats

    def _stats(self, lang: str) -> Reply:
        chats = self.store.chats(active_only=False)
        lines = [
            t(lang, "stats_header"),
            t(lang, "stats_chats",
              active=sum(c.active and not c.paused for c in chats),
              paused=sum(c.active and c.paused for c in chats),
              inactive=sum(not c.active for c in chats)),
        ]
        counts = self.store.outbox_counts()
        lines.append(t(lang, "stats_outbox", **{k: counts.get(k, 0)
                                                for k in ("sent", "pending", "failed")}))
        health = {h.feed_id: h for h in self.store.all_health()}
        for feed_id in sorted({*self.feeds, *health}):
            lines += self._health_lines(lang, health.get(feed_id, FeedHealth(feed_id)))
        extra = self.stats() if self.stats else {}
        lines += [t(lang, "stats_extra", key=k, value=v) for k, v in extra.items()]
        return Reply(_fit(lines))

    def _health_lines(self, lang: str, health: FeedHealth) -> list[str]:
        success = health.last_success_at
        info = self.feeds.get(health.feed_id)
        zone = _zone(info.timezone if info else DEFAULT_TIMEZONE)
        lines = [t(lang, "stats_feed", feed=health.feed_id,
                   subscribers=len(self.store.subscribers_of(health.feed_id)),
                   success_at=success.astimezone(zone).strftime("%d/%m/%Y %H:%M")
                   if success else t(lang, "stats_never"),
                   failures=health.consecutive_failures)]
        if health.last_error and health.consecutive_failures:
            lines.append(t(lang, "stats_feed_error", error=_shorten(health.last_error, 200)))
        return lines

    # helpers

    def _language(self, ctx: CommandContext) -> str:
        chat = self.store.chat(ctx.chat_id)
        if chat is not None and chat.language in LANGUAGES:
            return chat.language
        return pick_language(ctx.language_code)

    def _ensure_chat(self, call: _Call) -> None:
        """Register the chat in the reply language; a known chat only gets its kind and title."""
        kind = _CHAT_KINDS.get(call.ctx.chat_type, "private")
        self.store.upsert_chat(Chat(call.chat_id, kind=kind, language=call.lang,
                                    title=call.ctx.chat_title))

    def _title(self, feed_id: str) -> str:
        info = self.feeds.get(feed_id)
        return info.title if info else feed_id

    def _title_html(self, feed_id: str) -> str:
        info = self.feeds.get(feed_id)
        return _link(info.url, info.title) if info else _esc(feed_id)

    def _names(self, feed_ids: Iterable[str]) -> str:
        names = [f"{f} ({self._title(f)})" for f in feed_ids]
        shown = ", ".join(names[:NAMES_SHOWN])
        return shown + ", …" if len(names) > NAMES_SHOWN else shown


def _sender(ctx: CommandContext) -> Hashable:
    """Whom the rate limit counts: the user, or the chat for anonymous senders and channels."""
    return ("user", ctx.user_id) if ctx.user_id is not None else ("chat", ctx.chat_id)


def may_change_settings(ctx: CommandContext) -> bool:
    """Private chats and channels (only admins post there): yes; groups: admins only."""
    if ctx.chat_type in ("group", "supergroup"):
        return ctx.is_chat_admin or ctx.is_bot_admin
    return True


def button_token(feed_id: str) -> str:
    """The feed id if it fits in callback data, else a stable hash of it (`#` + 16 hex)."""
    if len(f"uns:{feed_id}".encode()) <= CALLBACK_DATA_MAX_BYTES and not feed_id.startswith("#"):
        return feed_id
    return _hash_token(feed_id)


def _hash_token(text: str, hex_digits: int = 16) -> str:
    return "#" + hashlib.sha256(text.encode()).hexdigest()[:hex_digits]


def section_token(section_id: str) -> str:
    """A section id short enough for callback data, else a stable hash of it (`#` + 12 hex)."""
    if (len(section_id.encode()) <= SECTION_TOKEN_BYTES and ":" not in section_id
            and not section_id.startswith("#")):
        return section_id
    return _hash_token(section_id, 12)


def section_data(action: str, feed_id: str, section_id: str | None = None) -> str:
    """Callback data naming a feed (and one of its sections), within 64 bytes."""
    tail = "" if section_id is None else f":{section_token(section_id)}"
    feed = button_token(feed_id)
    if len(f"{action}:{feed}{tail}".encode()) > CALLBACK_DATA_MAX_BYTES:
        feed = _hash_token(feed_id)
    return f"{action}:{feed}{tail}"


def _facet_name(keyword: str) -> str | None:
    facet = filters.facet_of(keyword)
    return facet[0] if facet else None


def _section_values(kf: KeywordFilter) -> set[str]:
    """The folded values of the filter's `section:` include keywords."""
    return {f[1] for k in kf.include if (f := filters.facet_of(k)) and f[0] == "section"}


def chosen_sections(kf: KeywordFilter, sections: Iterable[tuple[str, str]]) -> set[str]:
    """Ids of the sections a `section:` include keyword names (by id or by name)."""
    wanted = _section_values(kf)
    return {sid for sid, name in sections
            if filters.fold(sid) in wanted or filters.fold(name) in wanted}


def without_sections(
    kf: KeywordFilter, sections: Iterable[tuple[str, str]] | None = None
) -> KeywordFilter:
    """`kf` without the include keywords naming any of `sections` (by id or by name); with no
    `sections`, without any `section:` include keyword."""
    gone = None if sections is None else {filters.fold(v) for pair in sections for v in pair}
    include = tuple(k for k in kf.include
                    if not ((f := filters.facet_of(k)) and f[0] == "section"
                            and (gone is None or f[1] in gone)))
    return KeywordFilter(include=include, exclude=kf.exclude)


def merge_filters(chat_wide: KeywordFilter, per_feed: KeywordFilter) -> KeywordFilter:
    """Chat-wide and per-feed phrases together."""
    return KeywordFilter(
        include=_unique(chat_wide.include + per_feed.include),
        exclude=_unique(chat_wide.exclude + per_feed.exclude),
    )


def _with_keywords(
    kf: KeywordFilter, side: Literal["include", "exclude"], added: Sequence[str]
) -> KeywordFilter:
    """`kf` with `added` on `side` and off the other side (a phrase can't be both)."""
    gone = {filters.fold(k) for k in added}
    if side == "include":
        include = _unique((*kf.include, *added))
        exclude = tuple(k for k in kf.exclude if filters.fold(k) not in gone)
    else:
        include = tuple(k for k in kf.include if filters.fold(k) not in gone)
        exclude = _unique((*kf.exclude, *added))
    return KeywordFilter(include=include, exclude=exclude)


def _keyword_problem(lang: str, text: str, error: KeywordError) -> str:
    """The reader's-language version of what parse_keywords refused."""
    pieces = [" ".join(p.split()) for p in _KEYWORD_SEPARATORS.split(text)]
    if any(len(p) > filters.MAX_KEYWORD_LENGTH for p in pieces):
        return t(lang, "keyword_too_long", limit=filters.MAX_KEYWORD_LENGTH)
    if any(p and not filters.fold(p) for p in pieces):
        return t(lang, "keyword_no_letters")
    if len({filters.fold(p) for p in pieces if p}) > filters.MAX_KEYWORDS:
        return t(lang, "keyword_too_many", limit=filters.MAX_KEYWORDS)
    return t(lang, "keyword_error", error=error.message)


def _search_problem(lang: str, text: str, error: KeywordError) -> str:
    """The reader's-language version of what parse_query refused."""
    if len(text) > MAX_QUERY_CHARS:
        return t(lang, "search_too_long", limit=MAX_QUERY_CHARS)
    if not filters.fold(text):
        return t(lang, "search_usage")
    if len({filters.fold(p) for p in _KEYWORD_SEPARATORS.split(text)} - {""}) > MAX_PHRASES:
        return t(lang, "keyword_too_many", limit=MAX_PHRASES)
    return _keyword_problem(lang, text, error)


def _unique(keywords: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    kept: list[str] = []
    for keyword in keywords:
        key = filters.fold(keyword)
        if key not in seen:
            seen.add(key)
            kept.append(keyword)
    return tuple(kept)


def _filter_block(lang: str, title: str, kf: KeywordFilter) -> str:
    lines = [title]
    if kf.include:
        lines.append(t(lang, "filters_include", keywords=_keyword_list(kf.include)))
    if kf.exclude:
        lines.append(t(lang, "filters_exclude", keywords=_keyword_list(kf.exclude)))
    return "\n".join(lines) if len(lines) > 1 else ""


def _keyword_list(keywords: Sequence[str]) -> str:
    text = ", ".join(keywords)
    return _shorten(text, KEYWORDS_SHOWN_CHARS)


def _parse_count(args: str) -> int | None:
    if not args:
        return LATEST_DEFAULT
    if not args.isdecimal():
        return None
    digits = args.lstrip("0")
    if len(digits) > 6:  # int() refuses very long strings; any such number means "the most"
        return LATEST_MAX
    return min(int(digits), LATEST_MAX) if digits else None


def _newest_first_key(item: Item) -> tuple[datetime, datetime]:
    oldest = datetime.min.replace(tzinfo=UTC)
    return item.date or oldest, item.first_seen_at or oldest


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIMEZONE)


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _fit(lines: Sequence[str], separator: str = "\n") -> str:
    """Whole lines (each balanced HTML) up to MESSAGE_BUDGET visible chars, then "…"."""
    kept: list[str] = []
    budget = MESSAGE_BUDGET
    for line in lines:
        budget -= len(html.unescape(_TAG.sub("", line))) + len(separator)
        if budget < 0:
            kept.append("…")
            break
        kept.append(line)
    return separator.join(kept)


def _esc(text: str) -> str:
    return html.escape(text)


def _link(url: str, text: str) -> str:
    """`<a href>` for http(s) URLs only; anything else is shown as plain text."""
    if url.startswith(("https://", "http://")):
        return f'<a href="{_esc(url)}">{_esc(text)}</a>'
    return _esc(text)
