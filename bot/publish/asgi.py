"""The ASGI interface as plain types, and a plain-text answer written straight to it.

Why not starlette's: the guard and the uvicorn wrapper speak bare ASGI, and starlette stays
imported by `bot.publish.web` alone (one importer per library, tests/test_architecture.py). These
aliases are the very ones `starlette.types` declares, so the two are interchangeable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NO_STORE = "no-store"


async def send_text(send: Send, status: int, message: str) -> None:
    """`message` and a newline as text/plain, not to be stored; the same bytes and headers, in
    the same order, as the routes' plain-text answers."""
    body = (message + "\n").encode("utf-8")
    headers = [
        (b"cache-control", NO_STORE.encode("latin-1")),
        (b"content-length", str(len(body)).encode("latin-1")),
        (b"content-type", b"text/plain; charset=utf-8"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
