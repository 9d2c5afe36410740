"""uvicorn serving the feed server's ASGI app, bounded. The only importer of uvicorn.

The server bounds what a client can hold: request headers must arrive within HEADER_TIMEOUT, an
idle kept-alive connection is closed after KEEP_ALIVE_TIMEOUT, and past MAX_CONNECTIONS a new
connection is closed at once. uvicorn's own 400 for a malformed request carries
`X-Content-Type-Options: nosniff` like every answer of the app.

Named `serving` rather than `server`: `Server` is the running server this module returns, and
callers name that value `server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.errors import ConfigError
from bot.publish.asgi import ASGIApp

log = logging.getLogger(__name__)

STOP_TIMEOUT = 5.0
HEADER_TIMEOUT = 10.0  # seconds from connecting (or the last answer) to a request's full head
KEEP_ALIVE_TIMEOUT = 5  # idle seconds before a kept-alive connection is closed (uvicorn: int)
MAX_CONNECTIONS = 256  # open connections; feed readers and Telegram need a handful each
BAD_REQUEST = b"Invalid HTTP request received."


class _NoSignals(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class ServerLimits:
    """What one client can hold of the server; seconds."""

    header_timeout: float = HEADER_TIMEOUT
    keep_alive_timeout: int = KEEP_ALIVE_TIMEOUT
    max_connections: int = MAX_CONNECTIONS


class _BoundedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for request heads, a connection cap, and nosniff
    on its own 400. uvicorn only times out idle kept-alive connections: a client sending half a
    request head (or one byte a second) would otherwise hold its connection for ever."""

    limits: ClassVar[ServerLimits] = ServerLimits()
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            log.warning("feed server: %d connections open, refusing more", len(self.connections))
            transport.close()
            return
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._head_arrived()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a request head was parsed: the app has it now
            self._head_arrived()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()  # the next request on this connection gets the same deadline

    def send_400_response(self, msg: str) -> None:
        self._head_arrived()
        body = BAD_REQUEST + b"\n"
        self.transport.write(
            b"HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"x-content-type-options: nosniff\r\ncache-control: no-store\r\n"
            b"connection: close\r\ncontent-length: " + str(len(body)).encode() + b"\r\n\r\n"
            + body
        )
        self.transport.close()

    def _await_head(self) -> None:
        self._head_arrived()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _head_arrived(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


def _bounded_protocol(limits: ServerLimits) -> type[H11Protocol]:
    return type("BoundedH11", (_BoundedH11,), {"limits": limits})


class Server:
    """A running uvicorn server; `port` is the bound port (useful with port 0)."""

    def __init__(self, server: uvicorn.Server, task: asyncio.Task[None], host: str, port: int):
        self._server = server
        self._task = task
        self.host = host
        self.port = port

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to STOP_TIMEOUT), then return."""
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=STOP_TIMEOUT)
        except TimeoutError:
            self._server.force_exit = True
            await self._task


async def serve(
    app: ASGIApp, host: str, port: int, limits: ServerLimits | None = None
) -> Server:
    """Start uvicorn on host:port in the running loop; ConfigError if it cannot listen."""
    limits = limits or ServerLimits()
    sock = _listen(host, port)
    config = uvicorn.Config(
        app,
        http=_bounded_protocol(limits),
        log_config=None,  # keep the daemon's logging setup
        access_log=False,
        lifespan="off",
        server_header=False,
        timeout_graceful_shutdown=int(STOP_TIMEOUT),
        timeout_keep_alive=limits.keep_alive_timeout,
    )
    server = _NoSignals(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="web")
    await _until_started(server, task)
    return Server(server, task, host, int(sock.getsockname()[1]))


def _listen(host: str, port: int) -> socket.socket:
    """A bound socket. proto must be IPPROTO_TCP: asyncio only sets TCP_NODELAY on such sockets,
    and without it every keep-alive response waits ~40 ms for a delayed ACK."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise _listen_error(host, port, exc) from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise _listen_error(host, port, exc) from exc
    return sock


def _listen_error(host: str, port: int, exc: OSError) -> ConfigError:
    return ConfigError(
        f"the feed server cannot listen on {host}:{port}: {exc.strerror or exc}",
        hint="set [server] port to a free port (or host to an address of this machine)",
    )


async def _until_started(server: uvicorn.Server, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()  # re-raise what stopped it
            raise ConfigError("the feed server stopped while starting", hint="see the log above")
        await asyncio.sleep(0.005)
