"""What a warm poll must not do again and again (issue 13). No timings here: each test counts
something that was being repeated on every request or every poll (benchmarks/ measure time)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from types import ModuleType

from fakes.site import FakeSite, Status

from bot.errors import FetchError
from bot.model import CacheHeaders
from bot.source.fetch import Fetcher, FetchPolicy


class _Recorder(MetaPathFinder):
    """Sees every module the interpreter looks for (it asks each finder in turn), finds none."""

    def __init__(self) -> None:
        self.looked_for: list[str] = []

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:  # fmt: skip
        self.looked_for.append(fullname)
        return None


@contextmanager
def imports_looked_for() -> Iterator[list[str]]:
    recorder = _Recorder()
    sys.meta_path.insert(0, recorder)
    try:
        yield recorder.looked_for
    finally:
        sys.meta_path.remove(recorder)


async def test_a_warm_fetch_looks_for_no_module() -> None:
    """httpcore imports sniffio on every request: without it installed, each request searched
    sys.path for it (a 304 poll cost 2.6 instead of 1.9 ms of CPU)."""
    async with FakeSite() as site, Fetcher(FetchPolicy(min_host_gap=0, respect_robots=False)) as f:
        page = site.set_page("/tin", "<html><body><ul><li>x</li></ul></body></html>")
        await f.fetch(site.url_for("/tin"))  # first: imports whatever the client needs once
        with imports_looked_for() as looked_for:
            full = await f.fetch(site.url_for("/tin"))
            not_modified = await f.fetch(site.url_for("/tin"), CacheHeaders(etag=page.etag))
    assert (full.status, not_modified.status) == (200, 304)
    assert looked_for == []


async def test_304s_and_short_error_pages_keep_the_connection() -> None:
    """An unread 304 closed its connection: 200 polls answered 304 opened 200 connections (on
    https, 200 TLS handshakes); read to its end, the one connection serves them all."""
    async with FakeSite() as site, Fetcher(FetchPolicy(min_host_gap=0, respect_robots=False)) as f:
        page = site.set_page("/tin", "<html><body><ul><li>x</li></ul></body></html>")
        site.set_route("/gone", Status(404, {"Content-Type": "text/html"}, b"<p>not here</p>"))
        await f.fetch(site.url_for("/tin"))
        for _ in range(20):
            answer = await f.fetch(site.url_for("/tin"), CacheHeaders(etag=page.etag))
            assert answer.status == 304
        with contextlib.suppress(FetchError):
            await f.fetch(site.url_for("/gone"))
        await f.fetch(site.url_for("/tin"), CacheHeaders(etag=page.etag))
    assert site.connections == 1
