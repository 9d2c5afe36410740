"""The feed server's outer layer, plain ASGI: refuses odd paths, adds nosniff to every answer,
and turns a crash into a bare 500 (a StoreError into a 503) without a trace to the client."""

from __future__ import annotations

import logging

from bot.errors import StoreError
from bot.publish.asgi import ASGIApp, Message, Receive, Scope, Send, send_text

log = logging.getLogger(__name__)

MAX_PATH = 2048


class Guard:
    """Wraps the app (starlette's Middleware builds it with `app=`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        if suspicious(scope):
            await send_text(send_with_headers, 400, "bad request path")
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if isinstance(exc, StoreError):
                log.error("feed server: %s", exc)
                status, text = 503, "feeds are unavailable right now; try again later"
            else:
                log.exception("feed server: unexpected error on %s", scope.get("path"))
                status, text = 500, "internal error"
            if not started:
                await send_text(send_with_headers, status, text)


def suspicious(scope: Scope) -> bool:
    """Paths no route would ever need: traversal, NUL, backslash, absurd length."""
    raw: bytes = scope.get("raw_path") or b""
    path: str = scope.get("path", "")
    if len(raw) > MAX_PATH or len(path) > MAX_PATH:
        return True
    lowered = raw.lower()
    if b"%00" in lowered or b"%5c" in lowered or b"%2e%2e" in lowered:
        return True
    return "\x00" in path or "\\" in path or ".." in path.split("/")
