"""/start, /help, /feeds, /subscribe, /unsubscribe and the ✅/➕ feed buttons.

/feeds pages the list, FEEDS_PAGE feeds a page with ◀ ▶, and `/feeds hải` lists only the feeds
whose id or title has the words (accents and case do not matter). Every button carries its list
view (`<page>` or `<page>.<query key>`), so a toggle redraws the page it was pressed on; the
query itself stays in memory (after a restart an old button shows the whole list)."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Sequence
from urllib.parse import quote

from bot import filters
from bot.model import Chat
from bot.opml import Outline, render_opml
from bot.telegram.commands.base import (
    PUBLIC_COMMANDS,
    Button,
    Call,
    CommandBase,
    Reply,
    button_token,
)
from bot.telegram.commands.text import BUTTON_TITLE_CHARS, esc, fit, shorten
from bot.telegram.texts import Html, t

# Callback data `sub:<feed>:<view>` follows a feed, `uns:<feed>:<view>` stops following it,
# `fl:<view>` turns the list's page. Buttons from before paging have no view.
FEED_ACTIONS = frozenset({"sub", "uns", "fl"})
FEEDS_PAGE = 8
START_FEEDS_SHOWN = 10  # /start names this many followed feeds, then "… and N more: /feeds"
QUERY_MEMORY = 1000  # /feeds queries kept for the page buttons
_VIEW = re.compile(r"(\d{1,4})(?:\.([0-9a-f]{8}))?")


class FeedCommands(CommandBase):
    """Which feeds a chat follows."""

    default_feeds: Sequence[str]
    _feed_by_token: dict[str, str]
    _feed_queries: OrderedDict[str, str]

    def _start(self, call: Call) -> Reply | None:
        """Register the chat, wake it up, and follow the default feeds if it follows nothing;
        `/start FEED` (the index page's t.me/<bot>?start=FEED links) follows that feed. In a
        channel this is silent: the welcome is for people, not the channel's readers."""
        wanted = call.args.strip()
        found = self._find_feed(wanted, call.lang) if wanted else None
        if isinstance(found, Reply):
            return found  # names the feeds there are
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, active=True, paused=False)
        if found is not None:
            self.store.subscribe(call.chat_id, found, thread_id=call.ctx.thread_id or 0)
        elif not self.store.subscriptions_of(call.chat_id):
            for feed_id in self.default_feeds:
                self.store.subscribe(call.chat_id, feed_id, thread_id=call.ctx.thread_id or 0)
        followed = self.store.subscriptions_of(call.chat_id)
        if found is not None:  # the feed just followed is named first
            followed = [found, *(f for f in followed if f != found)]
        if call.ctx.chat_type == "channel":
            return None
        if not followed:
            return Reply(t(call.lang, "start_no_feeds"))
        shown = [f"• {self._title_html(f)}" for f in followed[:START_FEEDS_SHOWN]]
        if len(followed) > START_FEEDS_SHOWN:
            shown.append(t(call.lang, "start_more", count=len(followed) - START_FEEDS_SHOWN))
        return Reply(t(call.lang, "start", feeds=Html("\n".join(shown))))

    def _export(self, call: Call) -> Reply:
        """The chat's feeds as an OPML file, for a feed reader (their public RSS addresses)."""
        followed = [f for f in self.store.subscriptions_of(call.chat_id) if f in self.feeds]
        if not self.public_url:
            return Reply(t(call.lang, "export_unpublished"))
        if not followed:
            return Reply(t(call.lang, "latest_no_feeds"))
        base = self.public_url.rstrip("/")
        outlines = [Outline(self.feeds[f].title, f"{base}/feeds/{quote(f, safe='')}.xml",
                            self.feeds[f].site_url or base) for f in followed]
        data = render_opml(t(call.lang, "export_title"), outlines)
        return Reply(t(call.lang, "export_done", count=len(followed)),
                     document=("newsbot.opml", data))

    def adopt_channel(self, chat_id: int, title: str) -> None:
        """A channel from the config: registered, and following the default feeds unless it
        already follows some (its admins' choice stays)."""
        self.store.upsert_chat(Chat(chat_id, kind="channel", title=title))
        if not self.store.subscriptions_of(chat_id):
            for feed_id in self.default_feeds:
                self.store.subscribe(chat_id, feed_id)

    def _help(self, call: Call) -> Reply:
        """The public commands, and the web address when the feeds are public."""
        commands = "\n".join(f"/{name} – {t(call.lang, f'cmd_{name}')}"
                             for name in self.menu_commands(call.lang))
        web = t(call.lang, "help_web", url=self.public_url) if self.public_url else ""
        return Reply(t(call.lang, "help", commands=Html(commands), web=Html(web)))

    def menu_commands(self, lang: str) -> list[str]:
        """The public commands as this language calls them (/search in English, /tim in
        Vietnamese)."""
        alias = "search" if lang == "en" else "tim"
        return [alias if name == "tim" else name for name in PUBLIC_COMMANDS]

    def _feeds(self, call: Call) -> Reply:
        """A page of the feeds, ✅ for those the chat follows; `/feeds words` lists only the
        feeds whose id or title has the words."""
        query = " ".join(call.args.split())[:100]
        key = self._remember_query(query) if query else ""
        return self._feed_list(call, 0, key, edit=False)

    def _remember_query(self, query: str) -> str:
        key = hashlib.sha256(filters.fold(query).encode()).hexdigest()[:8]
        self._feed_queries[key] = query
        self._feed_queries.move_to_end(key)
        while len(self._feed_queries) > QUERY_MEMORY:
            self._feed_queries.popitem(last=False)
        return key

    def _listed_feeds(self, query: str) -> list[str]:
        """The feeds a /feeds query lists: each folded word in the id or the title."""
        words = filters.fold(query).split()
        return [f for f, info in self.feeds.items()
                if all(w in f"{filters.fold(f)} {filters.fold(info.title)}" for w in words)]

    def _feed_list(
        self, call: Call, page: int, key: str, *, edit: bool, notice: str = ""
    ) -> Reply:
        """One page of the /feeds list, new or redrawn in place, under an optional notice."""
        if not self.feeds:
            return Reply(t(call.lang, "feeds_empty"), edit=edit)
        query = self._feed_queries.get(key, "") if key else ""
        listed = self._listed_feeds(query) if query else list(self.feeds)
        if not listed:
            return Reply(t(call.lang, "feeds_no_match", query=query), edit=edit)
        pages = -(-len(listed) // FEEDS_PAGE)
        page = min(max(page, 0), pages - 1)
        followed = set(self.store.subscriptions_of(call.chat_id))
        view = f"{page}.{key}" if query else str(page)
        lines = [notice] if notice else []
        header = "feeds_header_query" if query else "feeds_header"
        lines.append(t(call.lang, header, query=query, count=len(listed), page=page + 1,
                       pages=pages, following=len(followed)))
        rows: list[tuple[Button, ...]] = []
        for feed_id in listed[page * FEEDS_PAGE:(page + 1) * FEEDS_PAGE]:
            on = feed_id in followed
            lines.append(f"{'✅' if on else '▫️'} {self._title_html(feed_id)} "
                         f"<code>{esc(feed_id)}</code>")
            title = shorten(self.feeds[feed_id].title, BUTTON_TITLE_CHARS)
            label = f"{'✅' if on else '➕'} {title}"
            action = "uns" if on else "sub"
            rows.append((Button(label, f"{action}:{button_token(feed_id)}:{view}"),))
        suffix = f".{key}" if query else ""
        turn = [Button(t(call.lang, "page_prev"), f"fl:{page - 1}{suffix}")] if page else []
        if page + 1 < pages:
            turn.append(Button(t(call.lang, "page_next"), f"fl:{page + 1}{suffix}"))
        if turn:
            rows.append(tuple(turn))
        if pages > 1 and not query:
            lines.append(t(call.lang, "feeds_search_tip"))
        return Reply(fit(lines), tuple(rows), edit=edit)

    def _feed_press(self, call: Call, action: str, token: str) -> Reply:
        """Turn the list's page, or follow or stop following the pressed feed and redraw the
        page it was pressed on, in place."""
        viewed, key, token = _split_view(token)
        page = viewed or 0
        if action == "fl":
            return self._feed_list(call, page, key, edit=True)
        feed_id = self._feed_by_token.get(token) or (token if token in self.feeds else None)
        if feed_id is None:
            return self._feed_list(call, page, key, edit=True,
                                   notice=t(call.lang, "feed_gone"))
        self._ensure_chat(call)
        if action == "sub":
            self.store.subscribe(call.chat_id, feed_id, thread_id=call.ctx.thread_id or 0)
        else:
            self.store.unsubscribe(call.chat_id, feed_id)
        if viewed is None:  # a button from before paging: the page with the feed
            page = list(self.feeds).index(feed_id) // FEEDS_PAGE
        return self._feed_list(call, page, key, edit=True)

    def _subscribe(self, call: Call) -> Reply:
        """Follow a feed, in the forum topic the command came from if any."""
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

    def _unsubscribe(self, call: Call) -> Reply:
        """Stop following a feed."""
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


def _split_view(data: str) -> tuple[int | None, str, str]:
    """`<token>:<view>` or `<view>` -> (page, query key, token); a button from before paging
    has only the token (page None)."""
    head, _, tail = data.rpartition(":")
    match = _VIEW.fullmatch(tail)
    if match is None:
        return None, "", data
    return int(match.group(1)), match.group(2) or "", head
