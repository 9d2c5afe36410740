"""/start, /help, /feeds, /subscribe, /unsubscribe and the ✅/➕ feed buttons."""

from __future__ import annotations

from collections.abc import Sequence

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

# Callback data `sub:<feed>` follows a feed, `uns:<feed>` stops following it.
FEED_ACTIONS = frozenset({"sub", "uns"})


class FeedCommands(CommandBase):
    """Which feeds a chat follows."""

    default_feeds: Sequence[str]
    _feed_by_token: dict[str, str]

    def _start(self, call: Call) -> Reply:
        """Register the chat, wake it up, and follow the default feeds if it follows nothing;
        `/start FEED` (the index page's t.me/<bot>?start=FEED links) follows that feed."""
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
        if not followed:
            return Reply(t(call.lang, "start_no_feeds"))
        lines = "\n".join(f"• {self._title_html(f)}" for f in followed)
        return Reply(t(call.lang, "start", feeds=Html(lines)))

    def _help(self, call: Call) -> Reply:
        """The public commands, and the web address when the feeds are public."""
        commands = "\n".join(f"/{name} – {t(call.lang, f'cmd_{name}')}"
                             for name in PUBLIC_COMMANDS)
        web = t(call.lang, "help_web", url=self.public_url) if self.public_url else ""
        return Reply(t(call.lang, "help", commands=Html(commands), web=Html(web)))

    def _feeds(self, call: Call) -> Reply:
        """Every feed, ✅ for those the chat follows, with a toggle button each."""
        return self._feed_list(call, edit=False)

    def _feed_list(self, call: Call, *, edit: bool, notice: str = "") -> Reply:
        """The /feeds list, new or redrawn in place, under an optional notice."""
        if not self.feeds:
            return Reply(t(call.lang, "feeds_empty"), edit=edit)
        followed = set(self.store.subscriptions_of(call.chat_id))
        lines = [notice] if notice else []
        lines.append(t(call.lang, "feeds_header"))
        rows: list[tuple[Button, ...]] = []
        for feed_id, info in self.feeds.items():
            on = feed_id in followed
            lines.append(f"{'✅' if on else '▫️'} {self._title_html(feed_id)} "
                         f"<code>{esc(feed_id)}</code>")
            label = f"{'✅' if on else '➕'} {shorten(info.title, BUTTON_TITLE_CHARS)}"
            action = "uns" if on else "sub"
            rows.append((Button(label, f"{action}:{button_token(feed_id)}"),))
        return Reply(fit(lines), tuple(rows), edit=edit)

    def _feed_press(self, call: Call, action: str, token: str) -> Reply:
        """Follow or stop following the pressed feed, and redraw the list in place."""
        feed_id = self._feed_by_token.get(token)
        if feed_id is None:
            return self._feed_list(call, edit=True, notice=t(call.lang, "feed_gone"))
        self._ensure_chat(call)
        if action == "sub":
            self.store.subscribe(call.chat_id, feed_id, thread_id=call.ctx.thread_id or 0)
        else:
            self.store.unsubscribe(call.chat_id, feed_id)
        return self._feed_list(call, edit=True)

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
