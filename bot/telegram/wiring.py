"""What the bot's update handlers work with, without PTB: the commands they call, the wiring kept
in the application's bot_data, and reading a command line. bot.telegram.ptb does the PTB side.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bot.telegram.commands.dispatch import CommandContext, Reply
from bot.telegram.outbox import ChatRegistry
from bot.telegram.replies import ChatOrder, Replier

WIRING_KEY = "newsbot.wiring"
MENU_LANGUAGES = ("vi", "en")
ADMIN_CACHE_SECONDS = 60.0
ALLOWED_UPDATES = ["message", "channel_post", "callback_query", "my_chat_member"]
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+(.*))?\Z", re.S)


class CommandsLike(Protocol):
    """What bot.telegram.commands.dispatch.Commands offers the bot (a stand-in in tests)."""

    def run(self, ctx: CommandContext, command: str, args: str) -> Reply | None: ...

    def press(self, ctx: CommandContext, data: str) -> Reply | None: ...

    def command_list(self, language: str) -> list[tuple[str, str]]: ...

    def adopt_channel(self, chat_id: int, title: str) -> None: ...

    def chatter(self, ctx: CommandContext) -> Reply | None: ...


@dataclass
class Wiring:
    """What the handlers need, kept in application.bot_data."""

    commands: CommandsLike
    admins: frozenset[int]
    channels: frozenset[int | str]
    store: ChatRegistry | None
    on_chat_gone: Callable[[int], None] | None
    admin_cache: dict[tuple[int, int], tuple[float, bool]]
    replier: Replier
    order: ChatOrder

    def serves_channel(self, chat_id: int, username: str | None) -> bool:
        """Whether telegram.channels names this channel (by id, @name or name)."""
        names = {chat_id, *((f"@{username}", username) if username else ())}
        return bool(names & self.channels)


def parse_command(text: str, bot_username: str) -> tuple[str, str] | None:
    """`/cmd@bot args` -> ("cmd", "args"); None when it is addressed to another bot."""
    match = _COMMAND.match(text.strip())
    if not match:
        return None
    command, addressee, args = match.groups()
    if addressee and addressee.lower() != bot_username.lower():
        return None
    return command.lower(), (args or "").strip()


def file_url_for(base_url: str) -> str:
    """https://api.telegram.org/bot -> https://api.telegram.org/file/bot."""
    root, _, _ = base_url.rstrip("/").rpartition("/")
    return f"{root}/file/bot"
