"""What every group of bot commands shares: the reply types and the feed and chat helpers of
`CommandBase`. No Telegram library here (see `bot/telegram/commands/dispatch.py`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot import filters
from bot.model import DEFAULT_TIMEZONE, Chat, ChatKind
from bot.store.db import Store
from bot.telegram.commands.text import esc, link
from bot.telegram.texts import t

CALLBACK_DATA_MAX_BYTES = 64  # Telegram's limit; longer data is BUTTON_DATA_INVALID
NAMES_SHOWN = 30
PUBLIC_COMMANDS = (
    "start", "help", "feeds", "sections", "subscribe", "unsubscribe", "latest", "tim", "filters",
    "include", "exclude", "clear", "quiet", "urgent", "digest", "edits", "pause", "resume",
    "lang", "stop",
)  # fmt: skip
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
class Call:
    """One command or button press as the handlers see it: who, the arguments, the language."""

    ctx: CommandContext
    args: str
    lang: str

    @property
    def chat_id(self) -> int:
        return self.ctx.chat_id


class CommandBase:
    """The state and feed/chat helpers every handler group uses; `Commands` sets the state."""

    store: Store
    feeds: dict[str, FeedInfo]  # in the configured order
    public_url: str

    def _ensure_chat(self, call: Call) -> None:
        """Register the chat in the reply language; a known chat only gets its kind and title."""
        kind = _CHAT_KINDS.get(call.ctx.chat_type, "private")
        self.store.upsert_chat(Chat(call.chat_id, kind=kind, language=call.lang,
                                    title=call.ctx.chat_title))

    def _title(self, feed_id: str) -> str:
        """The feed's title, or its id when the config no longer has it."""
        info = self.feeds.get(feed_id)
        return info.title if info else feed_id

    def _title_html(self, feed_id: str) -> str:
        """The feed's title linked to its site, as HTML."""
        info = self.feeds.get(feed_id)
        return link(info.url, info.title) if info else esc(feed_id)

    def _names(self, feed_ids: Iterable[str]) -> str:
        """`id (title)` of each feed, comma-separated, the first NAMES_SHOWN only."""
        names = [f"{f} ({self._title(f)})" for f in feed_ids]
        shown = ", ".join(names[:NAMES_SHOWN])
        return shown + ", …" if len(names) > NAMES_SHOWN else shown

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
