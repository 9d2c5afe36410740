"""/filters, /include, /exclude, /clear: the chat's keyword filters, chat-wide or per feed.

One keyword goes without /clear: `/include -hai an` (or `/exclude -…`, `FEED: -…` too), or its
✖ button under /filters: `kw:<i|e>:<feed token or *>:<hash of the folded keyword>`."""

from __future__ import annotations

import hashlib
from typing import Literal

from bot import filters
from bot.errors import KeywordError
from bot.model import KeywordFilter
from bot.telegram.commands.base import (
    KEYWORD_SEPARATORS,
    Button,
    Call,
    CommandBase,
    Reply,
    button_token,
    fit_rows,
    keyword_problem,
    with_keywords,
)
from bot.telegram.commands.text import BUTTON_TITLE_CHARS, fit, keyword_list, shorten
from bot.telegram.texts import t

KEYWORD_ACTION = "kw"  # `kw:<i|e>:<feed token or *>:<keyword key>` drops one keyword


class FilterCommands(CommandBase):
    """Which items of the followed feeds a chat gets."""

    _feed_by_token: dict[str, str]

    def _filters(self, call: Call) -> Reply:
        """The chat's filters, chat-wide and per feed, with a ✖ button for each keyword."""
        return Reply(self._filters_text(call), self._keyword_buttons(call))

    def _keyword_buttons(self, call: Call) -> tuple[tuple[Button, ...], ...]:
        buttons: list[Button] = []
        for feed_id in (None, *self.feeds):
            kf = self.store.keyword_filter(call.chat_id, feed_id)
            scope = "*" if feed_id is None else button_token(feed_id)
            for side, keywords in (("i", kf.include), ("e", kf.exclude)):
                for keyword in keywords:
                    label = shorten(keyword, BUTTON_TITLE_CHARS // 2)
                    if feed_id is not None:
                        label += f" · {shorten(feed_id, 12)}"
                    buttons.append(Button(f"✖ {label}",
                                          f"kw:{side}:{scope}:{_keyword_key(keyword)}"))
        rows = [tuple(buttons[n:n + 2]) for n in range(0, len(buttons), 2)]
        return fit_rows(rows)

    def _keyword_press(self, call: Call, token: str) -> Reply:
        """A ✖ button: drop that one keyword and redraw /filters in place."""
        side, _, rest = token.partition(":")
        scope, _, key = rest.rpartition(":")
        feed_id = None if scope == "*" else self._feed_by_token.get(scope)
        if side in ("i", "e") and (scope == "*" or feed_id is not None):
            kf = self.store.keyword_filter(call.chat_id, feed_id)
            include = tuple(k for k in kf.include if side != "i" or _keyword_key(k) != key)
            exclude = tuple(k for k in kf.exclude if side != "e" or _keyword_key(k) != key)
            self.store.set_keyword_filter(call.chat_id, KeywordFilter(include, exclude), feed_id)
        return Reply(self._filters_text(call), self._keyword_buttons(call), edit=True)

    def _include(self, call: Call) -> Reply:
        """Keep only items with one of the phrases."""
        return self._add_keywords(call, "include")

    def _exclude(self, call: Call) -> Reply:
        """Drop items with any of the phrases."""
        return self._add_keywords(call, "exclude")

    def _add_keywords(self, call: Call, side: Literal["include", "exclude"]) -> Reply:
        """Add phrases to one side of the chat-wide (or `FEED:`) filter, off the other side."""
        usage = Reply(t(call.lang, f"{side}_usage"))
        if not call.args:
            return usage
        scope = self._split_scope(call.args, call.lang)
        if isinstance(scope, Reply):
            return scope
        feed_id, text = scope
        if text.strip().startswith("-"):
            return self._remove_keywords(call, side, feed_id, text.strip()[1:])
        try:
            added = filters.parse_keywords(text)
        except KeywordError as error:
            return Reply(keyword_problem(call.lang, text, error))
        if not added:
            return usage
        updated = with_keywords(self.store.keyword_filter(call.chat_id, feed_id), side, added)
        if max(len(updated.include), len(updated.exclude)) > filters.MAX_KEYWORDS:
            return Reply(t(call.lang, "keyword_too_many", limit=filters.MAX_KEYWORDS))
        self._ensure_chat(call)
        self.store.set_keyword_filter(call.chat_id, updated, feed_id)
        return Reply(t(call.lang, "filters_updated") + "\n\n" + self._filters_text(call))

    def _remove_keywords(self, call: Call, side: Literal["include", "exclude"],
                         feed_id: str | None, text: str) -> Reply:
        """`/include -hai an, cảng`: those phrases off the list (accents and case aside)."""
        try:
            gone = {filters.fold(k) for k in filters.parse_keywords(text)}
        except KeywordError as error:
            return Reply(keyword_problem(call.lang, text, error))
        kf = self.store.keyword_filter(call.chat_id, feed_id)
        kept = tuple(k for k in getattr(kf, side) if filters.fold(k) not in gone)
        if not gone or len(kept) == len(getattr(kf, side)):
            return Reply(t(call.lang, "keyword_not_there", keywords=shorten(text, 100)))
        updated = (KeywordFilter(kept, kf.exclude) if side == "include"
                   else KeywordFilter(kf.include, kept))
        self.store.set_keyword_filter(call.chat_id, updated, feed_id)
        return Reply(t(call.lang, "filters_updated") + "\n\n" + self._filters_text(call),
                     self._keyword_buttons(call))

    def _split_scope(self, args: str, lang: str) -> tuple[str | None, str] | Reply:
        """`FEED: kw1, kw2` -> (feed id, "kw1, kw2"); no `FEED:` prefix -> (None, args).

        `type:quyết định` and `section:…` (`loại:`, `mục:`) are field keywords, not a feed."""
        head, colon, rest = args.partition(":")
        if not colon or KEYWORD_SEPARATORS.search(head) or not head.strip():
            return None, args
        if filters.facet_of(args) is not None:
            return None, args
        found = self._find_feed(head.strip(), lang)
        return found if isinstance(found, Reply) else (found, rest)

    def _clear(self, call: Call) -> Reply:
        """Drop one feed's filter, or every filter of the chat."""
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

    def _filters_text(self, call: Call) -> str:
        """The chat-wide filter, then each feed's, leaving out the empty ones."""
        blocks = [_filter_block(call.lang, t(call.lang, "filters_all_feeds"),
                                self.store.keyword_filter(call.chat_id))]
        for feed_id in self.feeds:
            kf = self.store.keyword_filter(call.chat_id, feed_id)
            blocks.append(_filter_block(
                call.lang, t(call.lang, "filters_feed", title=self._title(feed_id)), kf))
        shown = [b for b in blocks if b]
        if not shown:
            return t(call.lang, "filters_none")
        return fit([t(call.lang, "filters_header"), *shown], "\n\n")


def _keyword_key(keyword: str) -> str:
    """A keyword in callback data: 8 hex of its folded form (never the raw text)."""
    return hashlib.sha256(filters.fold(keyword).encode()).hexdigest()[:8]


def _filter_block(lang: str, title: str, kf: KeywordFilter) -> str:
    """`title` and the filter's two sides; "" for an empty filter."""
    lines = [title]
    if kf.include:
        lines.append(t(lang, "filters_include", keywords=keyword_list(kf.include)))
    if kf.exclude:
        lines.append(t(lang, "filters_exclude", keywords=keyword_list(kf.exclude)))
    return "\n".join(lines) if len(lines) > 1 else ""
