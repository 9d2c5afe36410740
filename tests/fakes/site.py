"""A scripted fake news site on 127.0.0.1 (port 0), speaking HTTP/1.1 with keep-alive.

Pages answer with ETag/Last-Modified and 304 on a matching If-None-Match / If-Modified-Since.
Misbehaviours are scripted per path: one-shot (`script`, consumed in order, one per request) or
standing (`set_route`, until cleared). Everything that happened is counted and logged.

    async with FakeSite() as site:                  # in the test's event loop
        site.set_page("/news", "<html>...</html>")
        site.script("/news", Status(503, {"Retry-After": "120"}), Drip(0.5))
        fetch(site.url_for("/news"))
        assert site.count("/news") == 1 and site.max_in_flight == 1

    with FakeSite.start_in_thread() as site:        # own loop in a daemon thread (subprocess tests)
        ...

A "path" is the request target as sent: path plus query string, e.g. "/news?page=2".
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import functools
import gzip
import hashlib
import struct
import threading
import time
import zlib
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from types import TracebackType

HTML = "text/html; charset=utf-8"
CHUNK = 64 * 1024


@dataclass
class Page:
    """What a path serves normally. Empty etag/last_modified: that header is not sent."""

    body: bytes
    content_type: str = HTML
    etag: str = ""
    last_modified: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # extra, e.g. Cache-Control
    gzip: bool = False  # compress when the client accepts gzip


# --- behaviours: what one request gets instead of the page ---


@dataclass(frozen=True)
class Status:
    """Answer with this status, headers and body (e.g. 500, 429 + Retry-After, 200 + junk)."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class Delay:
    """Wait, then answer with `then` (default: the page)."""

    seconds: float
    then: Behaviour | None = None


@dataclass(frozen=True)
class Drip:
    """Send the head at once, then the body one byte every `interval` seconds."""

    interval: float
    body: bytes = b"<html>" + b"x" * 200 + b"</html>"


@dataclass(frozen=True)
class Redirect:
    """Redirect to a path on this site or to an absolute URL."""

    to: str
    code: int = 302


@dataclass(frozen=True)
class Oversize:
    """A 200 of `size` bytes, generated as it is sent; chunked unless declare_length."""

    size: int
    declare_length: bool = False


@dataclass(frozen=True)
class GzipBomb:
    """A 200 with Content-Encoding: gzip that inflates to `decoded_size` zero bytes (~1/1000)."""

    decoded_size: int = 200 * 1024 * 1024


@dataclass(frozen=True)
class Garbage:
    """Raw bytes instead of an HTTP response, then close."""

    data: bytes = b"\x00\xffthis is not HTTP\r\n\r\n"


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering."""


Behaviour = Status | Delay | Drip | Redirect | Oversize | GzipBomb | Garbage | Drop


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    at: float  # time.monotonic() when the request head was read

    @property
    def t(self) -> float:
        return self.at


@functools.cache
def gzip_bomb(decoded_size: int) -> bytes:
    """A valid gzip stream of `decoded_size` zeros (rounded up to MiB), built without the zeros."""
    block = 1 << 20
    zeros = bytes(block)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    # After a full flush the stream is byte-aligned and references nothing before it: repeatable.
    piece = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    final = deflate.flush(zlib.Z_FINISH)
    count = -(-decoded_size // block)
    crc = 0
    for _ in range(count):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (count * block) & 0xFFFFFFFF)
    return header + piece * count + final + trailer


def http_date(at: datetime | float | None = None) -> str:
    """An HTTP-date (RFC 9110) for a datetime, a Unix time, or now."""
    if isinstance(at, datetime):
        return email.utils.format_datetime(at, usegmt=True)
    return email.utils.formatdate(at, usegmt=True)


class FakeSite:
    """The fake site; see the module docstring."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self.pages: dict[str, Page] = {}
        self.routes: dict[str, Behaviour] = {}
        self.scripts: dict[str, deque[Behaviour]] = {}
        self.requests: Counter[str] = Counter()
        self.log: list[LoggedRequest] = []
        self.in_flight: Counter[str] = Counter()  # per Host header
        self.max_in_flight_per_host: Counter[str] = Counter()
        self.errors: list[str] = []  # unexpected exceptions inside the server
        self.connections = 0  # TCP connections accepted (keep-alive reuses one)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    # --- addresses ---

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return self.base_url

    def url_for(self, path: str) -> str:
        return self.base_url + path

    # --- content and scripts ---

    def set_page(
        self,
        path: str,
        html: str | bytes,
        *,
        content_type: str = HTML,
        etag: str | None = None,
        last_modified: str | datetime | None = None,
        headers: dict[str, str] | None = None,
        encoding: str = "utf-8",
        gzip: bool = False,
    ) -> Page:
        """Serve `html` at `path`. ETag defaults to a hash of the body, Last-Modified to now."""
        body = html.encode(encoding) if isinstance(html, str) else html
        if etag is None:
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if last_modified is None or isinstance(last_modified, datetime):
            last_modified = http_date(last_modified)
        page = Page(body, content_type, etag, last_modified, dict(headers or {}), gzip)
        self.pages[path] = page
        return page

    def set_robots(self, text: str) -> None:
        self.set_page("/robots.txt", text, content_type="text/plain; charset=utf-8")

    def script(self, path: str, *behaviours: Behaviour) -> None:
        """Queue one-shot behaviours for the next requests to `path`, in order."""
        self.scripts.setdefault(path, deque()).extend(behaviours)

    def set_route(self, path: str, behaviour: Behaviour | None) -> None:
        """A standing behaviour for `path` (after the one-shots); None restores the page."""
        if behaviour is None:
            self.routes.pop(path, None)
        else:
            self.routes[path] = behaviour

    def redirect_loop(self, first: str, second: str) -> None:
        self.set_route(first, Redirect(second))
        self.set_route(second, Redirect(first))

    # --- what happened ---

    def count(self, path: str) -> int:
        return self.requests[path]

    def requests_for(self, path: str) -> list[LoggedRequest]:
        return [r for r in self.log if r.path == path]

    @property
    def max_in_flight(self) -> int:
        """Most concurrent requests seen for any one host."""
        return max(self.max_in_flight_per_host.values(), default=0)

    # --- lifecycle: in the caller's loop ---

    async def start(self) -> FakeSite:
        self._server = await asyncio.start_server(self._on_connection, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeSite:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- lifecycle: in a daemon thread ---

    @classmethod
    def start_in_thread(cls, host: str = "127.0.0.1") -> FakeSite:
        """Start a site on its own event loop in a daemon thread; `stop_thread()` ends it."""
        site = cls(host)
        ready = threading.Event()
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(site.start())
            ready.set()
            loop.run_forever()
            loop.run_until_complete(site.stop())
            loop.close()

        site._loop = loop
        site._thread = threading.Thread(target=run, name="fake-site", daemon=True)
        site._thread.start()
        if not ready.wait(10):
            raise RuntimeError("the fake site did not start within 10 s")
        return site

    def stop_thread(self) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeSite:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    # --- serving ---

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.connections += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away, e.g. a fetcher that stopped reading a bomb
        except asyncio.CancelledError:
            pass  # stop(); ending quietly, as 3.11's start_server logs cancelled handlers
        except Exception as exc:
            self.errors.append(repr(exc))
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return False
        method, path, headers = _parse_head(head)
        length = int(headers.get("content-length", "0") or 0)
        if length:
            await reader.readexactly(length)
        self.log.append(LoggedRequest(method, path, headers, time.monotonic()))
        self.requests[path] += 1
        host = headers.get("host", "")
        self.in_flight[host] += 1
        self.max_in_flight_per_host[host] = max(
            self.max_in_flight_per_host[host], self.in_flight[host]
        )
        try:
            keep_open = await self._answer(self._behaviour(path), method, path, headers, writer)
        finally:
            self.in_flight[host] -= 1
        return keep_open and headers.get("connection", "").lower() != "close"

    def _behaviour(self, path: str) -> Behaviour | None:
        queue = self.scripts.get(path)
        if queue:
            return queue.popleft()
        return self.routes.get(path)

    async def _answer(
        self,
        behaviour: Behaviour | None,
        method: str,
        path: str,
        headers: dict[str, str],
        writer: asyncio.StreamWriter,
    ) -> bool:
        head_only = method == "HEAD"
        match behaviour:
            case None:
                code, extra, body = self._page_reply(path, headers)
                await _send(writer, code, extra, body, head_only)
            case Status(code, extra, body):
                await _send(writer, code, extra, body, head_only)
            case Delay(seconds, then):
                await asyncio.sleep(seconds)
                return await self._answer(then, method, path, headers, writer)
            case Redirect(to, code):
                await _send(writer, code, {"Location": to}, b"", head_only)
            case Drip(interval, body):
                await _send_head(writer, 200, {"Content-Type": HTML}, len(body))
                for i in range(len(body)):
                    writer.write(body[i : i + 1])
                    await writer.drain()
                    await asyncio.sleep(interval)
            case Oversize(size, declare_length):
                await _send_oversize(writer, size, declare_length)
            case GzipBomb(decoded_size):
                bomb = gzip_bomb(decoded_size)
                await _send(writer, 200, {"Content-Encoding": "gzip"}, bomb, head_only)
            case Garbage(data):
                writer.write(data)
                await writer.drain()
                return False
            case Drop():
                return False
        return True

    def _page_reply(self, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        page = self.pages.get(path)
        if page is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        validators = {"ETag": page.etag, "Last-Modified": page.last_modified}
        validators = {k: v for k, v in validators.items() if v}
        if _not_modified(page, headers):
            return 304, {**validators, **page.headers}, b""
        extra = {"Content-Type": page.content_type, **validators, **page.headers}
        body = page.body
        if page.gzip and "gzip" in headers.get("accept-encoding", ""):
            body = gzip.compress(body)
            extra["Content-Encoding"] = "gzip"
        return 200, extra, body


def _parse_head(head: bytes) -> tuple[str, str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            key = name.strip().lower()
            value = value.strip()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return method, path, headers


def _not_modified(page: Page, headers: dict[str, str]) -> bool:
    """RFC 9110: If-None-Match wins over If-Modified-Since; weak comparison for ETags."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        tags = {_weak(tag) for tag in if_none_match.split(",")}
        return bool(page.etag) and ("*" in tags or _weak(page.etag) in tags)
    since = headers.get("if-modified-since")
    if not since or not page.last_modified:
        return False
    try:
        return email.utils.parsedate_to_datetime(
            page.last_modified
        ) <= email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False


def _weak(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def _status_line(code: int) -> bytes:
    try:
        phrase = HTTPStatus(code).phrase
    except ValueError:
        phrase = "Unknown"
    return f"HTTP/1.1 {code} {phrase}\r\n".encode("latin-1")


async def _send_head(
    writer: asyncio.StreamWriter, code: int, headers: dict[str, str], length: int | None
) -> None:
    lines = [_status_line(code)]
    base = {"Date": http_date(), "Server": "fakesite"}
    if length is not None:
        base["Content-Length"] = str(length)
    for name, value in {**base, **headers}.items():
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    writer.write(b"".join([*lines, b"\r\n"]))
    await writer.drain()


async def _send(
    writer: asyncio.StreamWriter, code: int, headers: dict[str, str], body: bytes, head_only: bool
) -> None:
    no_body = head_only or code == 304 or 100 <= code < 200 or code == 204
    await _send_head(writer, code, headers, None if code in (204, 304) else len(body))
    if not no_body and body:
        for start in range(0, len(body), CHUNK):
            writer.write(body[start : start + CHUNK])
            await writer.drain()


async def _send_oversize(writer: asyncio.StreamWriter, size: int, declare_length: bool) -> None:
    headers = {"Content-Type": HTML}
    if not declare_length:
        headers["Transfer-Encoding"] = "chunked"
    await _send_head(writer, 200, headers, size if declare_length else None)
    chunk = b"<p>" + b"x" * (CHUNK - 7) + b"</p>\n"
    sent = 0
    while sent < size:
        piece = chunk[: size - sent]
        writer.write(piece if declare_length else b"%x\r\n%s\r\n" % (len(piece), piece))
        await writer.drain()
        sent += len(piece)
    if not declare_length:
        writer.write(b"0\r\n\r\n")
        await writer.drain()
