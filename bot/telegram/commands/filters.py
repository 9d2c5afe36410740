"""/filters, /include, /exclude, /clear: the chat's keyword filters, chat-wide or per feed."""

from __future__ import annotations

from typing import Literal

from bot import filters
from bot.errors import KeywordError
from bot.model import KeywordFilter
from bot.telegram.commands.base import (
    KEYWORD_SEPARATORS,
    Call,
    CommandBase,
    Reply,
    keyword_problem,
    with_keywords,
)
from bot.telegram.commands.text import fit, keyword_list
from bot.telegram.texts import t


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


def _filter_block(lang: str, title: str, kf: KeywordFilter) -> str:
    """`title` and the filter's two sides; "" for an empty filter."""
    lines = [title]
    if kf.include:
        lines.append(t(lang, "filters_include", keywords=keyword_list(kf.include)))
    if kf.exclude:
        lines.append(t(lang, "filters_exclude", keywords=keyword_list(kf.exclude)))
    return "\n".join(lines) if len(lines) > 1 else ""
