"""The real feed server (bot.publish.web.create_app + bot.publish.serving.serve) in a background
thread, with a log.

For tests that drive it from synchronous code or from other processes (newsboat, rss2email):

    with FeedServerThread(store, feeds) as server:
        subprocess.run(["newsboat", ...server.url("/feeds/hp.xml")...])
        assert server.statuses("/feeds/hp.xml") == [200, 200, 304]

uvicorn runs on 127.0.0.1 port 0 on its own event loop; `public_url` is the bound address, so the
feeds' self links point back at this server. Every response is logged as `Served`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from bot.publish.feedmeta import FeedMeta
from bot.publish.metrics import Metrics
from bot.publish.query import FeedSource
from bot.publish.serving import serve
from bot.publish.web import HealthReport, create_app


@dataclass(frozen=True)
class Served:
    """One response the server sent."""

    method: str
    path: str
    query: str
    status: int
    headers: dict[str, str]  # request headers, names lower-cased


def _always_running() -> HealthReport:
    return True, {"status": "ok"}


class FeedServerThread:
    """bot.publish.web on 127.0.0.1:0 in a daemon thread; `stop()` (or leaving `with`) ends it."""

    def __init__(
        self,
        store: FeedSource,
        feeds: Mapping[str, FeedMeta],
        *,
        health: Callable[[], HealthReport] = _always_running,
    ) -> None:
        self.store = store
        self.feeds = dict(feeds)
        self.health = health
        self.metrics = Metrics()
        self.port = 0
        self.served: list[Served] = []
        self._app: Starlette | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def statuses(self, path: str) -> list[int]:
        """Statuses of the responses to `path` (query ignored), in order."""
        return [s.status for s in list(self.served) if s.path == path]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI app uvicorn runs: the real app, logging each response."""
        assert self._app is not None

        async def logging_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
                query = scope.get("query_string", b"").decode("latin-1")
                self.served.append(
                    Served(scope["method"], scope["path"], query, message["status"], headers)
                )
            await send(message)

        await self._app(scope, receive, logging_send)

    async def _main(self, ready: threading.Event) -> None:
        self._stop = asyncio.Event()
        try:
            server = await serve(self, "127.0.0.1", 0)
            self.port = server.port
            self._app = create_app(
                store=self.store,
                feeds=self.feeds,
                public_url=self.base_url,
                health=self.health,
                metrics=self.metrics,
            )
        except BaseException as exc:
            self._error = exc
            ready.set()
            raise
        ready.set()
        await self._stop.wait()
        await server.stop()

    def start(self) -> FeedServerThread:
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._main(ready))
            except BaseException:
                pass  # kept in self._error for start() to raise
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="feed-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the feed server did not start within 10 s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None or self._stop is None:
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FeedServerThread:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
