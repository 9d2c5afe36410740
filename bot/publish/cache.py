"""Rendered bodies and the HTTP caching around them: a strong ETag and Last-Modified per body,
the gzip variant made once, conditional requests answered (RFC 9110), and an LRU of bodies with
one render in flight per key.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

CACHE_ENTRIES = 256


@dataclass(frozen=True)
class Rendered:
    """A cached body with its validators; the gzip variant is made once."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str | None
    content_type: str


def make_rendered(body: bytes, content_type: str, changed_at: datetime | None) -> Rendered:
    digest = hashlib.sha256(body).hexdigest()[:32]
    return Rendered(
        body=body,
        gzipped=gzip.compress(body, compresslevel=6, mtime=0),
        etag=f'"{digest}"',
        last_modified=_http_date(changed_at) if changed_at else None,
        content_type=content_type,
    )


def is_not_modified(headers: Mapping[str, str], rendered: Rendered) -> bool:
    """RFC 9110 13.2.2: If-None-Match (weak compare, list, *) first; else If-Modified-Since."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        ours = rendered.etag.strip('"')
        return any(tag in ("*", ours) or tag == f"{ours}-gz" for tag in _etags(if_none_match))
    since = headers.get("if-modified-since")
    if since and rendered.last_modified:
        try:
            return parsedate_to_datetime(rendered.last_modified) <= parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return False
    return False


def accepts_gzip(accept_encoding: str | None) -> bool:
    for part in (accept_encoding or "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip"):
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _etags(header: str) -> Iterator[str]:
    for raw in header.split(","):
        tag = raw.strip()
        if tag.startswith(("W/", "w/")):
            tag = tag[2:]
        if tag:
            yield tag.strip('"')


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


# runs a blocking build off the event loop (the web passes starlette's thread pool)
InThread = Callable[[Callable[[], Rendered]], Awaitable[Rendered]]


class RenderCache:
    """LRU of rendered bodies, with one render in flight per key (no stampede)."""

    def __init__(self, in_thread: InThread, size: int = CACHE_ENTRIES) -> None:
        self._in_thread = in_thread
        self._size = size
        self._done: OrderedDict[Any, Rendered] = OrderedDict()
        self._inflight: dict[Any, asyncio.Future[Rendered]] = {}

    async def get(self, key: Any, build: Callable[[], Rendered]) -> Rendered:
        hit = self._done.get(key)
        if hit is not None:
            self._done.move_to_end(key)
            return hit
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[Rendered] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            rendered = await self._in_thread(build)  # the loop keeps serving Telegram meanwhile
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        except BaseException:
            future.cancel()  # shutting down: waiters are cancelled with us
            raise
        finally:
            del self._inflight[key]
        future.set_result(rendered)
        self._done[key] = rendered
        if len(self._done) > self._size:
            self._done.popitem(last=False)
        return rendered
