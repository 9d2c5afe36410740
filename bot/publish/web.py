"""The feed server's app and routes: feeds rendered from the store, an index page, search,
health and metrics. The only importer of starlette; the pieces it composes speak plain values or
bare ASGI (query, cache, metrics, webhook, guard), and `bot.publish.serving` runs it on uvicorn.

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
    POST <webhook path>           Telegram updates in webhook mode (bot.publish.webhook)

Rendered bodies are cached by (feed, format, filters, store.last_change_at), so a repeated request
costs one indexed query. Responses carry a strong ETag (hash of the body; `-gz` for the gzip
variant) and Last-Modified; If-None-Match wins over If-Modified-Since. No route touches the file
system. Every answer carries `X-Content-Type-Options: nosniff` (bot.publish.guard).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.addresses import LOOPBACK, category, parse_address
from bot.errors import KeywordError
from bot.model import FeedHealth
from bot.publish.cache import RenderCache, Rendered, accepts_gzip, is_not_modified, make_rendered
from bot.publish.feedmeta import ALL_FEED, EXTENSIONS, FeedMeta, Format, all_feed_meta, section_meta
from bot.publish.guard import Guard
from bot.publish.metrics import CONTENT_TYPE, Metrics, MetricsAccess, refusal
from bot.publish.pages import (
    FeedListing,
    Language,
    SearchPage,
    pick_language,
    render_index,
    render_search,
)
from bot.publish.query import (
    MAX_QUERY,
    BadQuery,
    FeedSource,
    HealthSource,
    Searchable,
    parse_feed_query,
    select_items,
)
from bot.publish.render import RENDERERS, render_opml
from bot.publish.status import empty_feed_note, feed_state
from bot.publish.webhook import Reply, TelegramWebhook, WebhookEndpoint
from bot.search import MAX_QUERY_CHARS, SCAN_LIMIT, parse_query

log = logging.getLogger(__name__)

INDEX_ITEMS = 5
CACHE_CONTROL = "public, max-age=300"
NO_STORE = "no-store"
FORWARDED_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")  # a proxy is in between
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


SEARCH_PAGE = 20  # results per /search page


# --- the app ---------------------------------------------------------------------------------


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
        # pages and feeds rendered with the old titles go
        self.cache = RenderCache(run_in_threadpool)
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
        refused = refusal(self.metrics_access, is_local_client(request))
        if refused is not None:
            return _text(*refused)
        return Response(
            self.metrics.exposition(),
            media_type=CONTENT_TYPE,
            headers={"Cache-Control": NO_STORE},
        )


def _webhook_route(endpoint: WebhookEndpoint) -> Callable[[Request], Awaitable[Response]]:
    """The webhook's answer to a request, as a starlette response."""

    async def handle(request: Request) -> Response:
        client = request.client.host if request.client else None
        return _reply(await endpoint.answer(request.headers, client, request.stream()))

    return handle


def _reply(reply: Reply) -> Response:
    if reply.text is not None:
        return _text(reply.status, reply.text)
    headers = {"Retry-After": str(reply.retry_after)} if reply.retry_after is not None else {}
    return Response(status_code=reply.status, headers={**headers, "Cache-Control": NO_STORE})


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
        Route(telegram_webhook.path, _webhook_route(WebhookEndpoint(telegram_webhook)),
              methods=["POST"]),
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
    app = Starlette(routes=routes, middleware=[Middleware(Guard)])
    # No trailing-slash redirects: their Location is built from the client's Host header.
    app.router.redirect_slashes = False
    app.state.metrics = server.metrics
    app.state.feed_server = server
    return app


def set_feeds(app: Starlette, feeds: Mapping[str, FeedMeta]) -> None:
    """Change the feed list an app made by `create_app` serves (index, OPML, /feeds/…)."""
    server: _FeedServer = app.state.feed_server
    server.set_feeds(feeds)
