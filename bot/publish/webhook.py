"""The Telegram webhook: an update POSTed to the feed server, checked and handed to the bot.

Plain values in and out (headers, the body's chunks -> a Reply), so only `bot.publish.web`
speaks starlette. Never logs a body or the secret.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MAX_UPDATE_BYTES = 1024 * 1024  # a Telegram update is a few KB; anything this big is not one
SECRET_HEADER = "x-telegram-bot-api-secret-token"
RETRY_AFTER = 5  # seconds Telegram waits before posting again while the bot cannot take updates


@dataclass(frozen=True)
class TelegramWebhook:
    """Where Telegram posts updates: `path` on this server, `secret` it must send in the
    X-Telegram-Bot-Api-Secret-Token header, and `handler` taking the update's JSON object.
    The handler answers False while the bot cannot take updates: Telegram gets a 503 and
    retries later."""

    path: str
    secret: str = field(repr=False)
    handler: Callable[[dict[str, object]], Awaitable[bool]] = field(repr=False)


@dataclass(frozen=True)
class Reply:
    """The answer to one POST: `text` is a plain-text body (None: no body); `retry_after` asks
    Telegram to wait that many seconds."""

    status: int
    text: str | None = None
    retry_after: int | None = None


class WebhookEndpoint:
    """Checks the secret, caps the body, parses it and hands the update on."""

    def __init__(self, webhook: TelegramWebhook) -> None:
        self.path = webhook.path
        self._secret = webhook.secret.encode()
        self._handler = webhook.handler

    async def answer(
        self, headers: Mapping[str, str], client: str | None, body: AsyncIterator[bytes]
    ) -> Reply:
        """`headers` as the request sent them (case-insensitive lookup), `client` its address."""
        given = headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.info("webhook: refused a request without the right secret from %s", client or "?")
            return Reply(403, "forbidden")
        data = await read_capped(headers, body, MAX_UPDATE_BYTES)
        if data is None:
            return Reply(413, f"an update is at most {MAX_UPDATE_BYTES} bytes")
        try:
            update = json.loads(data)
        except ValueError:
            return Reply(400, "the body is not JSON")
        if not isinstance(update, dict):
            return Reply(400, "the body is not a JSON object")
        if not await self._handler(update):
            return Reply(503, retry_after=RETRY_AFTER)
        return Reply(200)


async def read_capped(
    headers: Mapping[str, str], body: AsyncIterator[bytes], limit: int
) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (the rest is not read)."""
    declared = headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in body:
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
