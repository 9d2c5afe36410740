"""What every group of bot commands shares: the reply types, the store they read through
(`CommandStore`), the feed and chat helpers of `CommandBase`, keyword-list rules and button
tokens. The handler groups (feeds, sections, filters, settings, read) import this and
`text`, never each other; `dispatch` composes them. No Telegram library here."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from bot import filters
from bot.errors import KeywordError
from bot.model import (
    Chat,
    ChatKind,
    ChatSettings,
    FeedHealth,
    Item,
    KeywordFilter,
    Subscription,
)
from bot.telegram.commands.text import esc, link
from bot.telegram.feedinfo import FeedInfo
from bot.telegram.texts import t

CALLBACK_DATA_MAX_BYTES = 64  # Telegram's limit; longer data is BUTTON_DATA_INVALID
MAX_BUTTONS = 100  # inline buttons under one message
MAX_ROW_BUTTONS = 8
MAX_MARKUP_BYTES = 9_500  # Telegram refuses ~10 KB of reply_markup JSON: "reply markup is too long"
VIEW_TAIL = ":9999.12345678"  # the longest list view a feed button carries (see commands.feeds)
NAMES_SHOWN = 30
PUBLIC_COMMANDS = (
    "start", "help", "feeds", "sections", "subscribe", "unsubscribe", "latest", "tim", "filters",
    "include", "exclude", "clear", "quiet", "urgent", "digest", "edits", "format", "export",
    "pause", "resume", "lang", "stop",
)  # fmt: skip
KEYWORD_SEPARATORS = re.compile(r"[,;\n\r]")  # as in filters.parse_keywords, to explain errors
_CHAT_KINDS: dict[str, ChatKind] = {
    "private": "private", "group": "group", "supergroup": "supergroup", "channel": "channel",
}  # fmt: skip


class CommandStore(Protocol):
    """The part of bot.store.db.Store the commands use (the wing reads the store through it)."""

    def upsert_chat(self, chat: Chat) -> None: ...

    def chat(self, chat_id: int) -> Chat | None: ...

    def chats(self, *, active_only: bool = True) -> list[Chat]: ...

    def set_chat(self, chat_id: int, *, active: bool | None = None, paused: bool | None = None,
                 language: str | None = None) -> None: ...

    def forget_chat(self, chat_id: int) -> None: ...

    def subscribe(self, chat_id: int, feed_id: str, *, thread_id: int = 0) -> bool: ...

    def unsubscribe(self, chat_id: int, feed_id: str) -> bool: ...

    def subscriptions_of(self, chat_id: int) -> list[str]: ...

    def subscription_threads(self, chat_id: int) -> dict[str, int]: ...

    def subscribers_of(self, feed_id: str) -> list[Subscription]: ...

    def keyword_filter(self, chat_id: int, feed_id: str | None = None) -> KeywordFilter: ...

    def set_keyword_filter(self, chat_id: int, kf: KeywordFilter,
                           feed_id: str | None = None) -> None: ...

    def chat_settings(self, chat_id: int) -> ChatSettings: ...

    def set_chat_settings(self, settings: ChatSettings) -> None: ...

    def items(self, feed_id: str | None = None, *, limit: int = 50,
              section: str | None = None) -> list[Item]: ...

    def search(self, phrases: Sequence[str], feed_ids: Iterable[str] | None = None, *,
               limit: int = 5, offset: int = 0) -> list[Item]: ...

    def all_health(self) -> list[FeedHealth]: ...

    def outbox_counts(self) -> dict[str, int]: ...

    def waiting(self, chat_id: int) -> int: ...

    def skip_waiting(self, chat_id: int, now: datetime) -> int: ...


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
    """Telegram HTML text, optional inline keyboard rows; `edit`: replace the pressed message;
    `later`: a second answer that takes a while (a fetch), sent when it is ready while the bot
    goes on answering others.

    A keyboard Telegram would refuse (over 100 buttons, 8 in a row, ~10 KB) is a bug here: it
    raises at once, so a test finds it rather than a user getting no answer."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    edit: bool = False
    alert: bool = False  # a button press: shown only to the presser (a callback alert)
    document: tuple[str, bytes] | None = None  # a file sent after the text: (name, content)
    later: Callable[[], Awaitable[Reply]] | None = None

    def __post_init__(self) -> None:
        count = sum(len(row) for row in self.buttons)
        if count > MAX_BUTTONS or any(len(row) > MAX_ROW_BUTTONS for row in self.buttons):
            raise ValueError(f"{count} buttons: Telegram allows {MAX_BUTTONS}, "
                             f"{MAX_ROW_BUTTONS} a row")
        if (size := markup_bytes(self.buttons)) > MAX_MARKUP_BYTES:
            raise ValueError(f"reply markup of {size} bytes: over {MAX_MARKUP_BYTES}")


def markup_bytes(rows: Iterable[Iterable[Button]]) -> int:
    """The size of a keyboard's reply_markup JSON, as Telegram measures its limit."""
    keyboard = [[{"text": b.text, "callback_data": b.data} for b in row] for row in rows]
    return len(json.dumps({"inline_keyboard": keyboard}, ensure_ascii=False,
                          separators=(",", ":")).encode())


def fit_rows(
    rows: Sequence[tuple[Button, ...]], *, keep: int = 0, limit: int = MAX_MARKUP_BYTES
) -> tuple[tuple[Button, ...], ...]:
    """The first rows that fit Telegram's keyboard limits, and the last `keep` rows (the
    navigation) always."""
    tail = tuple(rows[len(rows) - keep:]) if keep else ()
    kept: list[tuple[Button, ...]] = []
    for row in rows[: len(rows) - keep]:
        candidate = (*kept, row, *tail)
        if (sum(len(r) for r in candidate) > MAX_BUTTONS
                or markup_bytes(candidate) > limit):
            break
        kept.append(row)
    return (*kept, *tail)


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

    store: CommandStore
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


# --------------------------------------------------------------------------- keyword lists


def merge_filters(chat_wide: KeywordFilter, per_feed: KeywordFilter) -> KeywordFilter:
    """Chat-wide and per-feed phrases together."""
    return KeywordFilter(
        include=unique_keywords(chat_wide.include + per_feed.include),
        exclude=unique_keywords(chat_wide.exclude + per_feed.exclude),
    )


def with_keywords(
    kf: KeywordFilter, side: Literal["include", "exclude"], added: Sequence[str]
) -> KeywordFilter:
    """`kf` with `added` on `side` and off the other side (a phrase can't be both)."""
    gone = {filters.fold(k) for k in added}
    if side == "include":
        include = unique_keywords((*kf.include, *added))
        exclude = tuple(k for k in kf.exclude if filters.fold(k) not in gone)
    else:
        include = tuple(k for k in kf.include if filters.fold(k) not in gone)
        exclude = unique_keywords((*kf.exclude, *added))
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


def unique_keywords(keywords: tuple[str, ...]) -> tuple[str, ...]:
    """The phrases without those that fold to one seen before."""
    seen: set[str] = set()
    kept: list[str] = []
    for keyword in keywords:
        key = filters.fold(keyword)
        if key not in seen:
            seen.add(key)
            kept.append(keyword)
    return tuple(kept)


# --------------------------------------------------------------------------- button tokens


def button_token(feed_id: str) -> str:
    """The feed id if it fits in callback data with a list view after it, else a stable hash of
    it (`#` + 16 hex)."""
    fits = len(f"uns:{feed_id}{VIEW_TAIL}".encode()) <= CALLBACK_DATA_MAX_BYTES
    if fits and not feed_id.startswith("#"):
        return feed_id
    return hash_token(feed_id)


def hash_token(text: str, hex_digits: int = 16) -> str:
    """`#` and the first `hex_digits` of the text's SHA-256."""
    return "#" + hashlib.sha256(text.encode()).hexdigest()[:hex_digits]
