"""The feed server: RSS/Atom/JSON feeds rendered from the store, an index page, health and metrics.

Routes (read-only; GET and HEAD):
    /feeds/<id>.xml|.atom|.json   a feed, or `all`; ?include=a,b&exclude=c&limit=20 (q= = include);
                                  `type:quyết định`, `section:thong bao` test those fields
    /feeds/<id>/<section>.xml|…   one section of a feed, same query
    /feeds.opml                   every feed (OPML 2.0)
    /                             index page (Vietnamese; English if Accept-Language prefers it)
    /search?q=hai an&page=2       stored items matching every phrase (bot.search), as HTML
    /healthz                      JSON from the health callable: 200 when running, else 503
    /metrics                      Prometheus text format ([server] metrics: local clients only,
                                  everyone, or nobody)
    POST <webhook path>           Telegram updates in webhook mode (see TelegramWebhook)

Rendered bodies are cached by (feed, format, filters, store.last_change_at), so a repeated request
costs one indexed query. Responses carry a strong ETag (hash of the body; `-gz` for the gzip
variant) and Last-Modified; If-None-Match wins over If-Modified-Since. No route touches the file
system. The only importer of starlette, uvicorn and prometheus_client.

The server bounds what a client can hold: request headers must arrive within HEADER_TIMEOUT, an
idle kept-alive connection is closed after KEEP_ALIVE_TIMEOUT, and past MAX_CONNECTIONS a new
connection is closed at once. Every answer, uvicorn's own 400 for a malformed request included,
carries `X-Content-Type-Options: nosniff`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import hmac
import json
import logging
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import uvicorn
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.addresses import LOOPBACK, category, parse_address
from bot.errors import ConfigError, KeywordError, StoreError
from bot.filters import item_matches, parse_keywords
from bot.model import FeedHealth, Item, KeywordFilter, PollReport
from bot.publish.pages import (
    FeedListing,
    Language,
    SearchPage,
    pick_language,
    render_index,
    render_search,
)
from bot.publish.render import (
    ALL_FEED,
    EXTENSIONS,
    RENDERERS,
    FeedMeta,
    Format,
    all_feed_meta,
    render_opml,
    section_meta,
)
from bot.publish.status import empty_feed_note, feed_state
from bot.search import MAX_QUERY_CHARS, SCAN_LIMIT, parse_query

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 50  # reliability plan D10: at most 50 items per feed
FILTER_WINDOW = 500  # items scanned for a filtered feed
INDEX_ITEMS = 5
CACHE_ENTRIES = 256
MAX_PATH = 2048
MAX_QUERY = 2048
CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
STOP_TIMEOUT = 5.0
HEADER_TIMEOUT = 10.0  # seconds from connecting (or the last answer) to a request's full head
KEEP_ALIVE_TIMEOUT = 5  # idle seconds before a kept-alive connection is closed (uvicorn: int)
MAX_CONNECTIONS = 256  # open connections; feed readers and Telegram need a handful each
FORWARDED_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")  # a proxy is in between
MetricsAccess = Literal["local", "off", "public"]
CONTENT_TYPES: dict[Format, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
FORMAT_OF_EXTENSION: dict[str, Format] = {ext: fmt for fmt, ext in EXTENSIONS.items()}
HTML_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http:"

# /healthz: (running, details). details must be JSON-serialisable (datetimes become str). The
# answer is 503 when not running, or when details' "status" is "failing" (every feed failing).
HealthReport = tuple[bool, Mapping[str, object]]
MAX_UPDATE_BYTES = 1024 * 1024  # a Telegram update is a few KB; anything this big is not one
SECRET_HEADER = "x-telegram-bot-api-secret-token"


@dataclass(frozen=True)
class TelegramWebhook:
    """Where Telegram posts updates: `path` on this server, `secret` it must send in the
    X-Telegram-Bot-Api-Secret-Token header, and `handler` taking the update's JSON object.
    The handler answers False while the bot cannot take updates: Telegram gets a 503 and
    retries later."""

    path: str
    secret: str = field(repr=False)
    handler: Callable[[dict[str, object]], Awaitable[bool]] = field(repr=False)


class FeedSource(Protocol):
    """What the web needs from the store (bot.store.db.Store satisfies it)."""

    def items(
        self, feed_id: str | None = None, *, limit: int = 50, section: str | None = None
    ) -> list[Item]: ...

    def last_change_at(self, feed_id: str | None = None) -> datetime | None: ...


@runtime_checkable
class HealthSource(Protocol):
    """A FeedSource that knows how each feed's polling goes (bot.store.db.Store does): the
    index page then says it in words, and an empty feed says why it is empty."""

    def all_health(self) -> list[FeedHealth]: ...


@runtime_checkable
class Searchable(Protocol):
    """A FeedSource that can search (bot.store.db.Store can); /search answers 404 without it."""

    def search(
        self,
        phrases: Sequence[str],
        feed_ids: Iterable[str] | None = None,
        *,
        limit: int = 5,
        offset: int = 0,
        scan: int = SCAN_LIMIT,
    ) -> list[Item]: ...


SEARCH_PAGE = 20  # results per /search page


class BadQuery(ValueError):
    """A feed URL's query string is unusable; the message is shown to the client (400)."""


@dataclass(frozen=True)
class FeedQuery:
    """Filters from a feed URL, normalised so equal filters share one cache entry."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT

    @property
    def filtered(self) -> bool:
        return bool(self.include or self.exclude)

    def query_string(self) -> str:
        """Canonical query for the feed's self link ('' when unfiltered)."""
        params = [("include", ",".join(self.include)), ("exclude", ",".join(self.exclude))]
        pairs = [(name, value) for name, value in params if value]
        if self.limit != DEFAULT_LIMIT:
            pairs.append(("limit", str(self.limit)))
        return "?" + urlencode(pairs) if pairs else ""


@dataclass(frozen=True)
class Rendered:
    """A cached body with its validators; the gzip variant is made once."""

    body: bytes
    gzipped: bytes
    etag: str
    last_modified: str | None
    content_type: str


class Metrics:
    """Counters and histograms in a private registry (several apps per process stay apart)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.polls = Counter("newsbot_polls", "Polls by outcome", ["feed", "outcome"], registry=reg)
        self.poll_failures = Counter(
            "newsbot_poll_failures", "Failed polls", ["feed"], registry=reg
        )
        self.not_modified = Counter(
            "newsbot_not_modified", "Polls answered 304 by the site", ["feed"], registry=reg
        )
        self.new_items = Counter("newsbot_new_items", "Items seen first", ["feed"], registry=reg)
        self.poll_seconds = Histogram(
            "newsbot_poll_seconds",
            "Duration of one poll",
            ["feed"],
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=reg,
        )
        self.feed_requests = Counter(
            "newsbot_feed_requests",
            "Feed requests served",
            ["feed", "format", "status"],
            registry=reg,
        )

    def record_poll(self, report: PollReport, seconds: float) -> None:
        """Count one poll and how long it took."""
        feed = report.feed_id
        self.polls.labels(feed, report.outcome).inc()
        if report.outcome == "failed":
            self.poll_failures.labels(feed).inc()
        if report.outcome == "not_modified":
            self.not_modified.labels(feed).inc()
        self.new_items.labels(feed).inc(len(report.new_items))
        self.poll_seconds.labels(feed).observe(seconds)

    def record_request(self, feed: str, fmt: str, status: int) -> None:
        self.feed_requests.labels(feed, fmt, str(status)).inc()

    def exposition(self) -> bytes:
        """Everything in Prometheus text format."""
        return bytes(generate_latest(self.registry))


# --- pure helpers ------------------------------------------------------------------------------


def parse_feed_query(params: Mapping[str, str], raw_query: str = "") -> FeedQuery:
    """include/q, exclude, limit -> FeedQuery; BadQuery (400) with the reason otherwise."""
    if len(raw_query) > MAX_QUERY:
        raise BadQuery(f"query string too long (at most {MAX_QUERY} characters)")
    try:
        include = parse_keywords(",".join([params.get("q", ""), params.get("include", "")]))
        exclude = parse_keywords(params.get("exclude", ""))
    except KeywordError as exc:
        raise BadQuery(f"bad keyword filter: {exc}") from exc
    return FeedQuery(include, exclude, _limit(params.get("limit")))


def _limit(text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}") from None
    if value < 1:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return min(value, MAX_LIMIT)


def select_items(
    source: FeedSource, feed_id: str | None, query: FeedQuery, meta: FeedMeta | None = None
) -> list[Item]:
    """The items a feed URL shows: newest first, filtered, at most query.limit; `meta` of a
    section's feed keeps that section, and names sections for `section:` keywords."""
    section = meta.section if meta is not None else None

    def newest(limit: int) -> list[Item]:
        if section is None:  # sources without sections keep working
            return source.items(feed_id, limit=limit)
        return source.items(feed_id, limit=limit, section=section)

    if not query.filtered:
        return newest(query.limit)
    kf = KeywordFilter(include=query.include, exclude=query.exclude)
    names = {s.section_id: s.name for s in meta.sections} if meta is not None else {}
    kept = [
        item
        for item in newest(FILTER_WINDOW)
        if item_matches(kf, item, names.get(item.section or ""))
    ]
    return kept[: query.limit]


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


# --- the app ---------------------------------------------------------------------------------


class _RenderCache:
    """LRU of rendered bodies, with one render in flight per key (no stampede)."""

    def __init__(self, size: int = CACHE_ENTRIES) -> None:
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
            rendered = await run_in_threadpool(build)  # the loop keeps serving Telegram meanwhile
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


class _FeedServer:
    """Request handlers sharing the store, feed metadata, cache and metrics."""

    def __init__(
        self,
        store: FeedSource,
        feeds: Mapping[str, FeedMeta],
        public_url: str,
        health: Callable[[], HealthReport],
        metrics: Metrics,
        metrics_access: MetricsAccess = "local",
        bot_username: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.metrics_access = metrics_access
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.health = health
        self.metrics = metrics
        self.bot_username = bot_username
        self.started_at = datetime.now(UTC)  # an empty feed's date before any poll
        self.set_feeds(feeds)

    def set_feeds(self, feeds: Mapping[str, FeedMeta]) -> None:
        """Serve this feed list from now on (recipes added, changed or removed while running)."""
        self.feeds = dict(feeds)
        self.all_meta = self.feeds.get(ALL_FEED) or all_feed_meta(self.feeds.values())
        self.cache = _RenderCache()  # pages and feeds rendered with the old titles go
        self.opml = make_rendered(
            render_opml(list(self.feeds.values()), self.public_url),
            "text/x-opml; charset=utf-8",
            None,
        )

    def _meta(self, feed_id: str) -> FeedMeta | None:
        return self.all_meta if feed_id == ALL_FEED else self.feeds.get(feed_id)

    def _healths(self) -> dict[str, FeedHealth]:
        """Each feed's polling record, by feed id ({} when the store does not keep them)."""
        if not isinstance(self.store, HealthSource):
            return {}
        return {record.feed_id: record for record in self.store.all_health()}

    def _empty_meta(self, meta: FeedMeta, source_id: str | None) -> FeedMeta:
        """An empty feed dated by its last poll, and, before its first successful read, saying
        so in its description (in the feed's language)."""
        healths = self._healths()
        records = [healths.get(source_id) or FeedHealth(source_id)] if source_id else [
            healths.get(feed_id) or FeedHealth(feed_id) for feed_id in self.feeds
        ]
        polled = [r.last_poll_at for r in records if r.last_poll_at is not None]
        meta = replace(meta, updated_if_empty=max(polled) if polled else self.started_at)
        if source_id is None:
            return meta
        lang: Language = "vi" if meta.language.lower().startswith("vi") else "en"
        note = empty_feed_note(records[0], lang, ZoneInfo(meta.timezone))
        return replace(meta, description=note) if note else meta

    async def feed(self, request: Request) -> Response:
        name: str = request.path_params["name"]
        stem, _, ext = name.rpartition(".")
        fmt = FORMAT_OF_EXTENSION.get(ext)
        meta = self._meta(stem) if fmt else None
        if fmt is None or meta is None:
            return _text(404, "unknown feed; the list is at /feeds.opml")
        return await self._serve_feed(request, meta, fmt, name)

    async def section_feed(self, request: Request) -> Response:
        feed_id: str = request.path_params["feed"]
        name: str = request.path_params["name"]
        stem, _, ext = name.rpartition(".")
        fmt = FORMAT_OF_EXTENSION.get(ext)
        feed = self.feeds.get(feed_id) if fmt and feed_id != ALL_FEED else None
        meta = section_meta(feed, stem) if feed is not None else None
        if fmt is None or meta is None:
            return _text(404, "unknown feed section; the list is at /feeds.opml")
        return await self._serve_feed(request, meta, fmt, f"{feed_id}/{name}")

    async def _serve_feed(
        self, request: Request, meta: FeedMeta, fmt: Format, path: str
    ) -> Response:
        try:
            query = parse_feed_query(request.query_params, request.url.query)
        except BadQuery as exc:
            return _text(400, str(exc))
        source_id = None if meta.feed_id == ALL_FEED else meta.feed_id
        changed_at = self.store.last_change_at(source_id)
        self_url = f"{self.public_url}/feeds/{path}{query.query_string()}"

        def build() -> Rendered:
            items = select_items(self.store, source_id, query, meta)
            shown = meta if items else self._empty_meta(meta, source_id)
            body = RENDERERS[fmt](shown, items, self.public_url, self_url=self_url)
            return make_rendered(body, CONTENT_TYPES[fmt], changed_at)

        # A feed that never changed says how its polls go: those records are part of its key.
        polls = None if changed_at else tuple(sorted(self._healths().items()))
        key = (meta.feed_id, meta.section, fmt, query, changed_at, polls)
        rendered = await self.cache.get(key, build)
        response = _conditional(request, rendered)
        label = f"{meta.feed_id}/{meta.section}" if meta.section else meta.feed_id
        self.metrics.record_request(label, fmt, response.status_code)
        return response

    async def opml_list(self, request: Request) -> Response:
        return _conditional(request, self.opml)

    async def index(self, request: Request) -> Response:
        lang = pick_language(request.headers.get("accept-language"))
        changed_at = self.store.last_change_at(None)

        healths = self._healths()
        bot = self.bot_username()

        def build() -> Rendered:
            listings = [self._listing(fid, meta, healths) for fid, meta in self.feeds.items()]
            page = render_index(listings, self.all_meta, self.public_url, lang, bot=bot)
            return make_rendered(page.encode("utf-8"), "text/html; charset=utf-8", changed_at)

        key = ("index", lang, changed_at, tuple(sorted(healths.items())), bot)
        rendered = await self.cache.get(key, build)
        response = _conditional(request, rendered, vary="Accept-Encoding, Accept-Language")
        response.headers["Content-Security-Policy"] = HTML_CSP
        response.headers["Content-Language"] = lang
        return response

    def _listing(self, feed_id: str, meta: FeedMeta, healths: Mapping[str, FeedHealth]
                 ) -> FeedListing:
        items = self.store.items(feed_id, limit=INDEX_ITEMS)
        if not healths and not isinstance(self.store, HealthSource):
            return FeedListing(meta, items)
        seen = [item.first_seen_at for item in items if item.first_seen_at is not None]
        state = feed_state(healths.get(feed_id) or FeedHealth(feed_id), max(seen, default=None))
        return FeedListing(meta, items, state)

    async def search(self, request: Request) -> Response:
        lang = pick_language(request.headers.get("accept-language"))
        store = self.store
        if not isinstance(store, Searchable):
            return _text(404, "search is not available here")
        query = request.query_params.get("q", "")
        problem = _search_problem(request, query)
        if problem:
            page = render_search(SearchPage(query[:MAX_QUERY_CHARS], error=problem), self.feeds,
                                 self.public_url, lang)
            return _html(page, lang, status=400)
        page_number = int(request.query_params.get("page") or 1)
        phrases = parse_query(query) if query.strip() else ()
        changed_at = self.store.last_change_at(None)
        feed_ids = [feed_id for feed_id in self.feeds if feed_id != ALL_FEED]

        def build() -> Rendered:
            found = store.search(phrases, feed_ids, limit=SEARCH_PAGE + 1,
                                 offset=(page_number - 1) * SEARCH_PAGE) if phrases else []
            result = SearchPage(query, found[:SEARCH_PAGE], page_number,
                                has_more=len(found) > SEARCH_PAGE)
            body = render_search(result, self.feeds, self.public_url, lang).encode("utf-8")
            return make_rendered(body, "text/html; charset=utf-8", changed_at)

        key = ("search", lang, query, page_number, changed_at)
        rendered = await self.cache.get(key, build)
        response = _conditional(request, rendered, vary="Accept-Encoding, Accept-Language")
        response.headers["Content-Security-Policy"] = HTML_CSP
        response.headers["Content-Language"] = lang
        return response

    async def healthz(self, request: Request) -> Response:
        try:
            running, details = self.health()
        except Exception:
            log.exception("health check failed")
            running, details = False, {"error": "health check failed"}
        body = json.dumps({"running": running, **details}, ensure_ascii=False, default=str)
        up = running and details.get("status") != "failing"
        return Response(
            body.encode("utf-8") + b"\n",
            status_code=200 if up else 503,
            media_type="application/json",
            headers={"Cache-Control": NO_STORE},
        )

    async def metrics_text(self, request: Request) -> Response:
        if self.metrics_access == "off":
            return _text(404, "metrics are off ([server] metrics)")
        if self.metrics_access == "local" and not is_local_client(request):
            return _text(403, "metrics are served to this machine only ([server] metrics)")
        return Response(
            self.metrics.exposition(),
            media_type=CONTENT_TYPE_LATEST,
            headers={"Cache-Control": NO_STORE},
        )


class _WebhookEndpoint:
    """POST handler for Telegram updates; never logs a body or the secret."""

    def __init__(self, webhook: TelegramWebhook) -> None:
        self._secret = webhook.secret.encode()
        self._handler = webhook.handler

    async def handle(self, request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self._secret):
            log.info("webhook: refused a request without the right secret from %s",
                     request.client.host if request.client else "?")
            return _text(403, "forbidden")
        body = await _read_capped(request, MAX_UPDATE_BYTES)
        if body is None:
            return _text(413, f"an update is at most {MAX_UPDATE_BYTES} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            return _text(400, "the body is not JSON")
        if not isinstance(data, dict):
            return _text(400, "the body is not a JSON object")
        if not await self._handler(data):
            return Response(status_code=503, headers={"Retry-After": "5",
                                                      "Cache-Control": NO_STORE})
        return Response(status_code=200, headers={"Cache-Control": NO_STORE})


async def _read_capped(request: Request, limit: int) -> bytes | None:
    """The request body, or None once it passes `limit` bytes (the rest is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _conditional(
    request: Request, rendered: Rendered, *, vary: str = "Accept-Encoding"
) -> Response:
    """200 with the (gzipped) body, or 304 with the validators and no body."""
    use_gzip = accepts_gzip(request.headers.get("accept-encoding"))
    headers = {"Cache-Control": CACHE_CONTROL, "Vary": vary}
    headers["ETag"] = rendered.etag[:-1] + '-gz"' if use_gzip else rendered.etag
    if rendered.last_modified:
        headers["Last-Modified"] = rendered.last_modified
    if is_not_modified(request.headers, rendered):
        return Response(status_code=304, headers=headers)
    if use_gzip:
        headers["Content-Encoding"] = "gzip"
    body = rendered.gzipped if use_gzip else rendered.body
    return Response(body, headers=headers, media_type=rendered.content_type)


def is_local_client(request: Request) -> bool:
    """The request comes from this machine, and not through a proxy on it."""
    if any(name in request.headers for name in FORWARDED_HEADERS):
        return False
    address = parse_address(request.client.host) if request.client else None
    return address is not None and category(address) == LOOPBACK


def _search_problem(request: Request, query: str) -> str:
    """Why a /search request cannot be answered ('' when it can)."""
    if len(request.url.query) > MAX_QUERY or len(query) > MAX_QUERY_CHARS:
        return f"the search is too long (at most {MAX_QUERY_CHARS} characters)"
    page = request.query_params.get("page") or "1"
    if not page.isdecimal() or not 1 <= int(page) <= SCAN_LIMIT // SEARCH_PAGE:
        return f"page must be a whole number from 1 to {SCAN_LIMIT // SEARCH_PAGE}"
    if query.strip():
        try:
            parse_query(query)
        except KeywordError as exc:
            return f"bad search: {exc}"
    return ""


def _html(page: str, lang: str, *, status: int) -> Response:
    headers = {"Cache-Control": NO_STORE, "Content-Security-Policy": HTML_CSP,
               "Content-Language": lang}
    return Response(page.encode("utf-8"), status_code=status, headers=headers,
                    media_type="text/html; charset=utf-8")


def _text(status: int, message: str) -> Response:
    return PlainTextResponse(
        message + "\n", status_code=status, headers={"Cache-Control": NO_STORE}
    )


class _Guard:
    """Outer layer: refuses odd paths, adds nosniff everywhere, turns crashes into a bare 500."""

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

        if _suspicious(scope):
            await _text(400, "bad request path")(scope, receive, send_with_headers)
            return
        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if isinstance(exc, StoreError):
                log.error("feed server: %s", exc)
                reply = _text(503, "feeds are unavailable right now; try again later")
            else:
                log.exception("feed server: unexpected error on %s", scope.get("path"))
                reply = _text(500, "internal error")
            if not started:
                await reply(scope, receive, send_with_headers)


def _suspicious(scope: Scope) -> bool:
    """Paths no route would ever need: traversal, NUL, backslash, absurd length."""
    raw: bytes = scope.get("raw_path") or b""
    path: str = scope.get("path", "")
    if len(raw) > MAX_PATH or len(path) > MAX_PATH:
        return True
    lowered = raw.lower()
    if b"%00" in lowered or b"%5c" in lowered or b"%2e%2e" in lowered:
        return True
    return "\x00" in path or "\\" in path or ".." in path.split("/")


def create_app(
    *,
    store: FeedSource,
    feeds: Mapping[str, FeedMeta],
    public_url: str,
    health: Callable[[], HealthReport],
    metrics: Metrics | None = None,
    telegram_webhook: TelegramWebhook | None = None,
    metrics_access: MetricsAccess = "local",
    bot_username: Callable[[], str | None] | None = None,
) -> Starlette:
    """The ASGI app. `health` returns (running, details) for /healthz; `telegram_webhook` adds
    the POST route Telegram sends updates to; `metrics_access` says who may read /metrics;
    `bot_username` gives the running Telegram bot's username (None while none runs) for the
    index page's links."""
    server = _FeedServer(store, feeds, public_url, health, metrics or Metrics(), metrics_access,
                         bot_username or (lambda: None))
    routes = [] if telegram_webhook is None else [
        Route(telegram_webhook.path, _WebhookEndpoint(telegram_webhook).handle, methods=["POST"]),
    ]
    routes += [
        Route("/", server.index, methods=["GET", "HEAD"]),
        Route("/feeds.opml", server.opml_list, methods=["GET", "HEAD"]),
        Route("/search", server.search, methods=["GET", "HEAD"]),
        Route("/feeds/{name}", server.feed, methods=["GET", "HEAD"]),
        Route("/feeds/{feed}/{name}", server.section_feed, methods=["GET", "HEAD"]),
        Route("/healthz", server.healthz, methods=["GET", "HEAD"]),
        Route("/metrics", server.metrics_text, methods=["GET", "HEAD"]),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(_Guard)])
    # No trailing-slash redirects: their Location is built from the client's Host header.
    app.router.redirect_slashes = False
    app.state.metrics = server.metrics
    app.state.feed_server = server
    return app


def set_feeds(app: Starlette, feeds: Mapping[str, FeedMeta]) -> None:
    """Change the feed list an app made by `create_app` serves (index, OPML, /feeds/…)."""
    server: _FeedServer = app.state.feed_server
    server.set_feeds(feeds)


# --- serving -----------------------------------------------------------------------------------


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


BAD_REQUEST = b"Invalid HTTP request received."


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
