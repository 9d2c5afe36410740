"""/latest, /tim (search, paged with ◀ ▶ buttons) and the bot admins' /stats.

A search button's data is a short key to a query kept in memory, never the raw keywords; after
a restart an old button says the search has expired."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from bot import filters
from bot.errors import KeywordError
from bot.model import DEFAULT_TIMEZONE, FeedHealth, Item
from bot.search import MAX_PHRASES, MAX_QUERY_CHARS, SCAN_LIMIT, folded, parse_query
from bot.telegram.commands.base import (
    KEYWORD_SEPARATORS,
    Button,
    Call,
    CommandBase,
    Reply,
    keyword_problem,
    merge_filters,
)
from bot.telegram.commands.text import MESSAGE_BUDGET, esc, fit, link, shorten
from bot.telegram.messages import local_time
from bot.telegram.texts import t

LATEST_DEFAULT = 5
LATEST_MAX = 20
LATEST_SCAN = 200  # items per feed looked at by /latest before filtering
LATEST_TITLE_CHARS = 150
SEARCH_PAGE = 5  # results per /tim page
SEARCH_MEMORY = 1000  # queries kept for the ◀ ▶ buttons
SEARCH_ACTION = "s"  # callback data `s:<key>:<page>`


class ReadCommands(CommandBase):
    """What the feeds hold: the newest items, a search, the bot's health."""

    stats: Callable[[], Mapping[str, object]] | None
    _searches: OrderedDict[str, tuple[str, ...]]

    def _latest(self, call: Call) -> Reply:
        """The newest items of the followed feeds that pass the chat's filters."""
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
        """Numbered linked titles with time (and feed), as many as fit in one message."""
        lines: list[str] = []
        budget = MESSAGE_BUDGET
        for number, item in enumerate(items, start=1):
            title = shorten(item.title, LATEST_TITLE_CHARS)
            feed = [self._title(item.feed_id)] if show_feed else []
            meta = [self._local_time(item, lang), *feed]
            meta_text = " · ".join(m for m in meta if m)
            budget -= len(title) + len(meta_text) + 8
            if budget < 0:
                break
            lines.append(_entry(number, item.url, title, meta_text))
        header = t(lang, "latest_header", count=len(lines))
        return "\n\n".join([header, *lines])

    def _local_time(self, item: Item, lang: str) -> str:
        """`28/11/2024 14:30` in the feed's timezone (with the zone for English readers)."""
        if item.date is None:
            return ""
        return local_time(item.date, self._zone_of(item.feed_id), lang)

    def _zone_of(self, feed_id: str) -> str:
        info = self.feeds.get(feed_id)
        return info.timezone if info else DEFAULT_TIMEZONE

    def _search(self, call: Call) -> Reply:
        """`/tim phrases`: the first page of items with all the phrases, newest first."""
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
        """Turn to the page a ◀ ▶ button names, in place."""
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
        query = shorten(", ".join(phrases), 100)
        back = Button(t(lang, "search_prev"), f"{SEARCH_ACTION}:{key}:{page - 1}")
        if not found and page:  # a page past the results (a tampered or stale button)
            first = Button(t(lang, "search_first"), f"{SEARCH_ACTION}:{key}:0")
            return Reply(t(lang, "search_no_more"), ((first,),), edit=edit)
        if not found:
            return Reply(t(lang, "search_none", query=query), edit=edit)
        lines = [t(lang, "search_header", query=query, page=page + 1)]
        for number, item in enumerate(found[:SEARCH_PAGE], start=page * SEARCH_PAGE + 1):
            meta = " · ".join(m for m in (self._local_time(item, lang), self._title(item.feed_id))
                              if m)
            lines.append(_entry(number, item.url, shorten(item.title, LATEST_TITLE_CHARS), meta))
        buttons = [back] if page else []
        if len(found) > SEARCH_PAGE and (page + 1) * SEARCH_PAGE < SCAN_LIMIT:
            buttons.append(Button(t(lang, "search_next"), f"{SEARCH_ACTION}:{key}:{page + 1}"))
        return Reply(fit(lines, "\n\n"), (tuple(buttons),) if buttons else (), edit=edit)

    def _stats(self, lang: str) -> Reply:
        """Chats, outbox and each feed's health, for bot admins."""
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
        lines += [t(lang, "stats_extra", key=k, value=_readable(v)) for k, v in extra.items()]
        return Reply(fit(lines))

    def _health_lines(self, lang: str, health: FeedHealth) -> list[str]:
        """A feed's subscribers, last success and failures; its last error while failing."""
        success = health.last_success_at
        lines = [t(lang, "stats_feed", feed=health.feed_id,
                   subscribers=len(self.store.subscribers_of(health.feed_id)),
                   success_at=local_time(success, self._zone_of(health.feed_id), lang)
                   if success else t(lang, "stats_never"),
                   failures=health.consecutive_failures)]
        if health.last_error and health.consecutive_failures:
            lines.append(t(lang, "stats_feed_error", error=shorten(health.last_error, 200)))
        return lines


def _readable(value: object) -> str:
    """A stats value as a person reads it: `pending 1, sent 3` for a mapping, not a dict."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k} {_readable(v)}" for k, v in value.items()) or "–"
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(_readable(v) for v in value) or "–"
    return str(value)


def _entry(number: int, url: str, title: str, meta: str) -> str:
    """One numbered result: the linked title, then its time and feed in italics."""
    return f"{number}. {link(url, title)}\n<i>{esc(meta)}</i>"


def _search_problem(lang: str, text: str, error: KeywordError) -> str:
    """The reader's-language version of what parse_query refused."""
    if len(text) > MAX_QUERY_CHARS:
        return t(lang, "search_too_long", limit=MAX_QUERY_CHARS)
    if not filters.fold(text):
        return t(lang, "search_usage")
    if len({filters.fold(p) for p in KEYWORD_SEPARATORS.split(text)} - {""}) > MAX_PHRASES:
        return t(lang, "keyword_too_many", limit=MAX_PHRASES)
    return keyword_problem(lang, text, error)


def _parse_count(args: str) -> int | None:
    """How many items /latest should show; None for anything but a whole number."""
    if not args:
        return LATEST_DEFAULT
    if not args.isdecimal():
        return None
    digits = args.lstrip("0")
    if len(digits) > 6:  # int() refuses very long strings; any such number means "the most"
        return LATEST_MAX
    return min(int(digits), LATEST_MAX) if digits else None


def _newest_first_key(item: Item) -> tuple[datetime, datetime]:
    """Sort key: the item's date, then when we first saw it."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return item.date or oldest, item.first_seen_at or oldest
