"""Every error newsbot raises on purpose, in one tree.

    NewsbotError                 base; `hint` says how to fix it
    ├── ConfigError              config.toml is wrong (file, key, value, what is expected)
    │   └── RecipeError          feeds/<id>.toml is wrong (same shape)
    ├── KeywordError             a keyword list is invalid (which keyword, what limit)
    ├── FetchError               the site could not be fetched (network, status, size, robots)
    ├── ScrapeError              the page gave no items ("has the markup changed?")
    ├── StoreError               the database is missing, corrupt, locked by another process, full
    │   ├── DatabaseDamaged      the file is not SQLite, or fails `PRAGMA quick_check`
    │   └── InstanceLocked       another `newsbot run` holds the data_dir
    └── DeliveryError            Telegram refused or failed a send; subclasses say what to do
        ├── RecipientGone        blocked, deactivated, kicked, chat not found: deactivate the chat
        ├── ChatMoved            a group became a supergroup: `new_chat_id`, resend there
        ├── RateLimited          flood control: `retry_after` seconds, requeue
        ├── MessageRejected      bad request (formatting, too long): not retried as is
        │   └── TopicGone        the forum topic (message_thread_id) is gone: send to the chat
        └── TransientDelivery    network error or timeout: retry with backoff (may duplicate)

Messages are one line, written for the person who has to act; tracebacks are for `--debug`.
"""

from __future__ import annotations

from bot.logs import redact


class NewsbotError(Exception):
    """Base of every newsbot error; `hint` tells the reader how to fix it."""

    def __init__(self, message: str, *, hint: str = "") -> None:
        # Messages quote URLs and server answers, which may echo the bot token: never keep it.
        message, hint = redact(message), redact(hint)
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = f"{self.message} ({self.hint})" if self.hint else self.message
        return redact(text)  # again: a secret remembered after the error was made


class ConfigError(NewsbotError):
    """The configuration file is invalid."""


class RecipeError(ConfigError):
    """A recipe in feeds/ is invalid."""


class KeywordError(NewsbotError):
    """A keyword list (Telegram /filter or a feed URL filter) is over a limit or unusable."""


class FetchError(NewsbotError):
    """A page could not be fetched."""

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.retry_after = retry_after


class ScrapeError(NewsbotError):
    """A page was fetched but the recipe found no items in it."""


class StoreError(NewsbotError):
    """The database cannot be used."""


class DatabaseDamaged(StoreError):
    """The database file is not SQLite, or SQLite finds it damaged: restore it or start anew."""


class InstanceLocked(StoreError):
    """Another newsbot process owns this data directory."""


class DeliveryError(NewsbotError):
    """A message could not be delivered."""


class RecipientGone(DeliveryError):
    """The chat blocked the bot, was deleted, or the bot was removed from it."""


class ChatMoved(DeliveryError):
    """The group was upgraded to a supergroup with a new chat id."""

    def __init__(self, message: str, *, new_chat_id: int) -> None:
        super().__init__(message)
        self.new_chat_id = new_chat_id


class RateLimited(DeliveryError):
    """Telegram asked us to wait `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MessageRejected(DeliveryError):
    """Telegram refused the message itself (formatting, length): resending it as is won't help."""


class TopicGone(MessageRejected):
    """The forum topic the message was meant for no longer exists."""


class TransientDelivery(DeliveryError):
    """A network error or timeout; the message may or may not have arrived."""
