"""/filters, /include, /exclude, /clear: the chat's keyword filters, chat-wide or per feed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from bot import filters
from bot.errors import KeywordError
from bot.model import KeywordFilter
from bot.telegram.commands.base import Call, CommandBase, Reply
from bot.telegram.commands.text import fit, shorten
from bot.telegram.texts import t

KEYWORDS_SHOWN_CHARS = 1000  # 50 keywords of 100 chars would not fit in one message
KEYWORD_SEPARATORS = re.compile(r"[,;\n\r]")  # as in filters.parse_keywords, to explain errors


class FilterCommands(CommandBase):
    """Which items of the followed feeds a chat gets."""

    def _filters(self, call: Call) -> Reply:
        """The chat's filters, chat-wide and per feed."""
        return Reply(self._filters_text(call))

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


def merge_filters(chat_wide: KeywordFilter, per_feed: KeywordFilter) -> KeywordFilter:
    """Chat-wide and per-feed phrases together."""
    return KeywordFilter(
        include=_unique(chat_wide.include + per_feed.include),
        exclude=_unique(chat_wide.exclude + per_feed.exclude),
    )


def with_keywords(
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


def keyword_problem(lang: str, text: str, error: KeywordError) -> str:
    """The reader's-language version of what parse_keywords refused."""
    pieces = [" ".join(p.split()) for p in KEYWORD_SEPARATORS.split(text)]
    if any(len(p) > filters.MAX_KEYWORD_LENGTH for p in pieces):
        return t(lang, "keyword_too_long", limit=filters.MAX_KEYWORD_LENGTH)
    if any(p and not filters.fold(p) for p in pieces):
        return t(lang, "keyword_no_letters")
    if len({filters.fold(p) for p in pieces if p}) > filters.MAX_KEYWORDS:
        return t(lang, "keyword_too_many", limit=filters.MAX_KEYWORDS)
    return t(lang, "keyword_error", error=error.message)


def keyword_list(keywords: Sequence[str]) -> str:
    """The phrases comma-separated, cut to KEYWORDS_SHOWN_CHARS."""
    text = ", ".join(keywords)
    return shorten(text, KEYWORDS_SHOWN_CHARS)


def _unique(keywords: tuple[str, ...]) -> tuple[str, ...]:
    """The phrases without those that fold to one seen before."""
    seen: set[str] = set()
    kept: list[str] = []
    for keyword in keywords:
        key = filters.fold(keyword)
        if key not in seen:
            seen.add(key)
            kept.append(keyword)
    return tuple(kept)


def _filter_block(lang: str, title: str, kf: KeywordFilter) -> str:
    """`title` and the filter's two sides; "" for an empty filter."""
    lines = [title]
    if kf.include:
        lines.append(t(lang, "filters_include", keywords=keyword_list(kf.include)))
    if kf.exclude:
        lines.append(t(lang, "filters_exclude", keywords=keyword_list(kf.exclude)))
    return "\n".join(lines) if len(lines) > 1 else ""
