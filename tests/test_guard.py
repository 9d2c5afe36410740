"""bot.publish.guard writes its own answers in bare ASGI (starlette stays in bot.publish.web):
they must look exactly like the routes' plain-text answers, nosniff included."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest_asyncio

from bot.errors import StoreError
from bot.model import Item
from bot.publish.web import create_app
from bot.store.db import Store


class BrokenStore:
    """A store whose database went away: every read raises StoreError."""

    def items(self, feed_id: str | None = None, *, limit: int = 50,
              section: str | None = None) -> list[Item]:
        raise StoreError("database is locked")

    def last_change_at(self, feed_id: str | None = None) -> None:
        raise StoreError("database is locked")


def client(store: Store | BrokenStore) -> httpx.AsyncClient:
    app = create_app(store=store, feeds={}, public_url="http://feeds.test",
                     health=lambda: (True, {}))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://feeds.test")


@pytest_asyncio.fixture
async def web() -> AsyncIterator[httpx.AsyncClient]:
    store = Store.open(":memory:")
    async with client(store) as c:
        yield c
    store.close()


def shape(response: httpx.Response) -> list[tuple[bytes, bytes]]:
    """Header names in order with their values, the length left out (bodies differ)."""
    return [(k, b"" if k == b"content-length" else v) for k, v in response.headers.raw]


async def test_a_refused_path_is_answered_like_a_route_answers(
    web: httpx.AsyncClient,
) -> None:
    refused = await web.get("/feeds/%2e%2e/secret.xml")
    unknown = await web.get("/feeds/nope.xml")  # the route's own plain-text 404
    assert (refused.status_code, refused.text) == (400, "bad request path\n")
    assert unknown.status_code == 404
    assert shape(refused) == shape(unknown)
    assert refused.headers["content-length"] == str(len(refused.content))
    assert shape(refused) == [
        (b"cache-control", b"no-store"),
        (b"content-length", b""),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"x-content-type-options", b"nosniff"),
    ]


async def test_a_store_failure_is_a_plain_503_shaped_like_every_answer(
    web: httpx.AsyncClient,
) -> None:
    async with client(BrokenStore()) as broken:
        response = await broken.get("/feeds/all.xml")
    unknown = await web.get("/feeds/nope.xml")
    assert response.status_code == 503
    assert response.text == "feeds are unavailable right now; try again later\n"
    assert shape(response) == shape(unknown)
