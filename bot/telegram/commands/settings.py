"""/pause, /resume, /stop, /lang and the delivery settings: /quiet, /digest, /urgent, /edits,
/format (how items look: full, compact, title only; link previews on or off).

Buttons: `fmt:<full|compact|title|preview>` set the format in place; `stp:yes` / `stp:no`
answer /stop's question (nothing is forgotten without the press)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from bot import filters
from bot.errors import KeywordError
from bot.model import MESSAGE_FORMATS, ChatSettings, MessageFormat
from bot.telegram import digest
from bot.telegram.commands.base import Button, Call, CommandBase, Reply, keyword_problem
from bot.telegram.commands.text import keyword_list, shorten
from bot.telegram.digest import format_clock
from bot.telegram.texts import LANGUAGES, t

OFF_WORDS = frozenset({"off", "tat", "tắt", "khong", "không", "no", "0"})
ON_WORDS = frozenset({"on", "bat", "bật", "yes", "co", "có", "1"})
SKIP_WORDS = frozenset({"skip", "bo", "bỏ", "bo-qua", "bỏ-qua"})
HOURLY_WORDS = frozenset({"hourly", "gio", "giờ", "moi-gio", "mỗi-giờ"})
DAILY_WORDS = frozenset({"daily", "ngay", "ngày", "moi-ngay", "mỗi-ngày"})
FORMAT_WORDS: dict[str, MessageFormat] = {
    "full": "full", "day-du": "full", "đầy-đủ": "full", "compact": "compact", "gon": "compact",
    "gọn": "compact", "title": "title", "tieu-de": "title", "tiêu-đề": "title",
}  # fmt: skip
SETTINGS_ACTIONS = frozenset({"fmt", "stp"})


class SettingsCommands(CommandBase):
    """Whether, when and how a chat gets its alerts."""

    now: Callable[[], datetime]
    previews: bool  # link previews for chats that did not choose

    def _pause(self, call: Call) -> Reply:
        """Hold alerts until /resume; what comes meanwhile is kept."""
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, paused=True)
        return Reply(t(call.lang, "paused"))

    def _resume(self, call: Call) -> Reply:
        """Send alerts again. What came during the pause goes out as one digest (as after
        quiet hours), or `/resume skip` drops it."""
        chat = self.store.chat(call.chat_id)
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, active=True, paused=False)
        if chat is None or not chat.paused:
            return Reply(t(call.lang, "resumed"))
        now = self.now()
        if call.args.lower() in SKIP_WORDS:
            skipped = self.store.skip_waiting(call.chat_id, now)
            return Reply(t(call.lang, "resumed_skipped", count=skipped))
        missed = self.store.waiting(call.chat_id)
        settings = self.store.chat_settings(call.chat_id)
        self.store.set_chat_settings(replace(settings, missed_before=now))
        if not missed:
            return Reply(t(call.lang, "resumed"))
        return Reply(t(call.lang, "resumed_missed", count=missed))

    def _stop(self, call: Call) -> Reply:
        """Ask first: forgetting the chat drops its subscriptions, filters and unsent alerts."""
        buttons = ((Button(t(call.lang, "stop_yes"), "stp:yes"),
                    Button(t(call.lang, "stop_no"), "stp:no")),)
        return Reply(t(call.lang, "stop_confirm"), buttons)

    def _stop_press(self, call: Call, token: str) -> Reply:
        """/stop's answer: forget the chat, or leave everything as it was."""
        if token != "yes":
            return Reply(t(call.lang, "stop_cancelled"), edit=True)
        self.store.forget_chat(call.chat_id)
        return Reply(t(call.lang, "stopped"), edit=True)

    def _format(self, call: Call) -> Reply:
        """How items look in this chat, with buttons to change it (or `/format compact`)."""
        settings = self.store.chat_settings(call.chat_id)
        if call.args:
            style = FORMAT_WORDS.get(call.args.lower().replace(" ", "-"))
            if style is None:
                return Reply(t(call.lang, "format_usage"))
            settings = replace(settings, format=style)
            self._save_settings(call, settings)
        return self._format_view(call, settings, edit=False)

    def _format_press(self, call: Call, token: str) -> Reply:
        """A /format button: set the style or flip link previews, and redraw in place."""
        settings = self.store.chat_settings(call.chat_id)
        if token == "preview":
            settings = replace(settings, preview=not self._previews_on(settings))
        elif token in MESSAGE_FORMATS:
            settings = replace(settings, format=FORMAT_WORDS[token])
        else:
            return self._format_view(call, settings, edit=True)
        self._save_settings(call, settings)
        return self._format_view(call, settings, edit=True)

    def _previews_on(self, settings: ChatSettings) -> bool:
        return self.previews if settings.preview is None else settings.preview

    def _format_view(self, call: Call, settings: ChatSettings, *, edit: bool) -> Reply:
        lang = call.lang
        preview = self._previews_on(settings)
        lines = [t(lang, "format_header"),
                 t(lang, "format_now", style=t(lang, f"format_{settings.format}")),
                 t(lang, "format_preview_on" if preview else "format_preview_off"),
                 "", t(lang, "format_help")]
        styles = tuple(Button(("✅ " if style == settings.format else "") +
                              t(lang, f"format_{style}_button"), f"fmt:{style}")
                       for style in MESSAGE_FORMATS)
        flip = Button(t(lang, "format_preview_button_off" if preview
                        else "format_preview_button_on"), "fmt:preview")
        return Reply("\n".join(lines), (styles, (flip,)), edit=edit)

    def _lang(self, call: Call) -> Reply:
        """Set the chat's language."""
        choice = call.args.lower()
        if choice not in LANGUAGES:
            return Reply(t(call.lang, "lang_usage"))
        self._ensure_chat(call)
        self.store.set_chat(call.chat_id, language=choice)
        return Reply(t(choice, "lang_set"))

    def _quiet(self, call: Call) -> Reply:
        """Set or drop the quiet hours, optionally with a time zone."""
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
            return Reply(t(call.lang, "quiet_invalid", text=shorten(args, 40)))
        self._save_settings(call, replace(settings, quiet_start=start, quiet_end=end))
        return Reply(t(call.lang, "quiet_set", start=format_clock(start), end=format_clock(end),
                       tz=settings.timezone))

    def _digest(self, call: Call) -> Reply:
        """Alerts one by one (off), hourly, or daily at a time, optionally with a time zone."""
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

    def _urgent(self, call: Call) -> Reply:
        """Set or drop the phrases that go through quiet hours and digests at once."""
        settings = self.store.chat_settings(call.chat_id)
        if not call.args:
            return self._settings_reply(call.lang, settings, "urgent_usage")
        if call.args.lower() in OFF_WORDS:
            self._save_settings(call, replace(settings, urgent=()))
            return Reply(t(call.lang, "urgent_off"))
        try:
            keywords = filters.parse_keywords(call.args)
        except KeywordError as error:
            return Reply(keyword_problem(call.lang, call.args, error))
        if not keywords:
            return Reply(t(call.lang, "urgent_usage"))
        self._save_settings(call, replace(settings, urgent=keywords))
        return Reply(t(call.lang, "urgent_set", keywords=keyword_list(keywords)))

    def _edits(self, call: Call) -> Reply:
        """Turn notices of edited items on or off."""
        settings = self.store.chat_settings(call.chat_id)
        choice = call.args.lower()
        if choice not in ON_WORDS | OFF_WORDS:
            return self._settings_reply(call.lang, settings, "edits_usage")
        on = choice in ON_WORDS
        self._save_settings(call, replace(settings, edits=on))
        return Reply(t(call.lang, "edits_on" if on else "edits_off"))

    def _settings_and_args(self, call: Call, usage: str) -> tuple[ChatSettings, str] | Reply:
        """The chat's settings with a trailing time zone applied, and the other arguments;
        the settings and `usage` when there are no arguments."""
        settings = self.store.chat_settings(call.chat_id)
        if not call.args:
            return self._settings_reply(call.lang, settings, usage)
        head, _, last = call.args.rpartition(" ")
        if "/" not in last and last.upper() != "UTC":
            return settings, call.args
        if not digest.is_timezone(last):
            return Reply(t(call.lang, "timezone_unknown", name=shorten(last, 60)))
        settings = replace(settings, timezone=last)
        if not head.strip():  # only a time zone: keep the rest as it was
            self._save_settings(call, settings)
            return self._settings_reply(call.lang, settings, usage)
        return settings, head.strip()

    def _save_settings(self, call: Call, settings: ChatSettings) -> None:
        """Register the chat and store its settings."""
        self._ensure_chat(call)
        self.store.set_chat_settings(settings)

    def _settings_reply(self, lang: str, settings: ChatSettings, usage: str) -> Reply:
        """The chat's current settings, then how to use the command."""
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
            lines.append(t(lang, "settings_urgent", keywords=keyword_list(settings.urgent)))
        else:
            lines.append(t(lang, "settings_urgent_none"))
        lines.append(t(lang, "settings_edits_on" if settings.edits else "settings_edits_off"))
        lines.append(t(lang, "settings_timezone", tz=settings.timezone))
        return Reply("\n".join(lines) + "\n\n" + t(lang, usage))
