"""What one client can hold of the feed server (issue 12, item 7): request heads have a deadline,
idle kept-alive connections are closed, connections are capped, and /metrics is served to this
machine only unless `[server] metrics` says otherwise.

No test times the server: deadlines here only bound the loops that wait for what must happen.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from bot.publish.metrics import Metrics
from bot.publish.serving import Server, ServerLimits, serve
from bot.publish.web import create_app
from bot.store.db import Store

PARTIAL_HEAD = b"GET /healthz HTTP/1.1\r\nHost: feeds.test\r\nX-Slow: "
REST_OF_HEAD = b"1\r\nConnection: close\r\n\r\n"
GENEROUS = 30.0  # seconds: bounds a wait, is never the thing asserted


def app_for(store: Store, metrics_access: str = "local") -> Starlette:
    return create_app(store=store, feeds={}, public_url="http://feeds.test",
                      health=lambda: (True, {}), metrics=Metrics(),
                      metrics_access=metrics_access)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(store: Store, limits: ServerLimits) -> AsyncIterator[Server]:
    server = await serve(app_for(store), "127.0.0.1", 0, limits)
    try:
        yield server
    finally:
        await server.stop()


async def closed_by_server(reader: asyncio.StreamReader) -> bool:
    """Wait (bounded) until the server closes; True if it did without answering."""
    try:
        data = await asyncio.wait_for(reader.read(), GENEROUS)
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False  # still open after GENEROUS seconds: the server kept it
    return data == b""


async def open_partial(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(PARTIAL_HEAD)
    await writer.drain()
    return reader, writer


async def test_200_connections_with_unfinished_heads_are_all_closed(store: Store) -> None:
    limits = ServerLimits(header_timeout=0.5, max_connections=100)
    async with running(store, limits) as server:
        connections = [await open_partial(server.port) for _ in range(200)]
        try:
            closed = await asyncio.gather(*(closed_by_server(r) for r, _ in connections))
        finally:
            for _, writer in connections:
                writer.close()
        assert all(closed), closed.count(False)
        async with httpx.AsyncClient() as client:  # and the server still serves
            assert (await client.get(f"http://127.0.0.1:{server.port}/healthz")).status_code == 200


async def test_connections_past_the_cap_are_closed_and_the_others_served(store: Store) -> None:
    limits = ServerLimits(header_timeout=GENEROUS * 2, max_connections=20)
    async with running(store, limits) as server:
        connections = [await open_partial(server.port) for _ in range(30)]
        try:
            extra = await asyncio.gather(*(closed_by_server(r) for r, _ in connections[20:]))
            assert all(extra)
            for reader, writer in connections[:20]:  # within the cap: a normal answer
                writer.write(REST_OF_HEAD)
                answer = await asyncio.wait_for(reader.read(), GENEROUS)
                assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
        finally:
            for _, writer in connections:
                writer.close()


async def test_a_head_sent_a_byte_at_a_time_is_cut_off(store: Store) -> None:
    """Each byte resets no clock: the head as a whole has the deadline (slowloris)."""
    head = PARTIAL_HEAD + b"x" * 2000
    async with running(store, ServerLimits(header_timeout=0.3)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        cut_off = False
        try:
            for byte in head:  # bounded: the whole head would take 2,000 x 20 ms
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.02)
                if reader.at_eof():
                    cut_off = True
                    break
        except (ConnectionResetError, BrokenPipeError):
            cut_off = True
        finally:
            writer.close()
    assert cut_off


async def test_an_idle_kept_alive_connection_is_closed(store: Store) -> None:
    async with running(store, ServerLimits(keep_alive_timeout=1)) as server:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: feeds.test\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), GENEROUS)
            assert head.startswith(b"HTTP/1.1 200")
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))
            await reader.readexactly(length)
            assert await closed_by_server(reader)
        finally:
            writer.close()


# --- /metrics ------------------------------------------------------------------------------------


async def metrics_status(store: Store, access: str, client: tuple[str, int],
                         headers: dict[str, str] | None = None) -> int:
    transport = httpx.ASGITransport(app=app_for(store, access), client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://feeds.test") as http:
        return (await http.get("/metrics", headers=headers)).status_code


@pytest.mark.parametrize(
    ("access", "client", "headers", "status"),
    [
        ("local", ("127.0.0.1", 5000), None, 200),
        ("local", ("::1", 5000), None, 200),
        ("local", ("203.0.113.9", 5000), None, 403),
        ("local", ("10.0.0.2", 5000), None, 403),  # the LAN is not this machine
        ("local", ("127.0.0.1", 5000), {"X-Forwarded-For": "203.0.113.9"}, 403),  # via a proxy
        ("local", ("127.0.0.1", 5000), {"Forwarded": "for=203.0.113.9"}, 403),
        ("public", ("203.0.113.9", 5000), None, 200),
        ("off", ("127.0.0.1", 5000), None, 404),
    ],
)
async def test_metrics_are_served_as_configured(
    store: Store, access: str, client: tuple[str, int], headers: dict[str, str] | None,
    status: int,
) -> None:
    assert await metrics_status(store, access, client, headers) == status


async def test_metrics_default_to_local_over_a_real_socket(store: Store) -> None:
    async with running(store, ServerLimits()) as server, httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{server.port}/metrics")
    assert response.status_code == 200 and b"newsbot_polls" in response.content
