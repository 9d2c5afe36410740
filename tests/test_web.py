"""bot.publish.web: a real uvicorn on 127.0.0.1 (port 0) over the real Store, read by httpx,
feedparser."""

from __future__ import annotations

import asyncio
import gzip
import json
import signal
import socket
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import feedparser
import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.types import Receive, Scope, Send

from bot.errors import ConfigError, StoreError
from bot.model import Attachment, Item, PollReport, Section
from bot.publish import serving
from bot.publish.cache import Rendered, accepts_gzip, is_not_modified, make_rendered
from bot.publish.feedmeta import FeedMeta
from bot.publish.metrics import Metrics
from bot.publish.pages import pick_language
from bot.publish.serving import serve
from bot.publish.web import create_app
from bot.store.db import Store

PUBLIC = "http://feeds.test"
T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
FEEDS = {
    "haiphong": FeedMeta("haiphong", "Cổng TTĐT Hải Phòng", "https://haiphong.gov.vn/"),
    "sotttt": FeedMeta("sotttt", "Sở TT&TT Hải Phòng", "https://stttt.haiphong.gov.vn/"),
}
HP_TITLES = [
    "Phường Hải An khởi công cầu mới",
    "Ánh sáng đô thị: lễ hội mùa xuân",
    "Giải phóng mặt bằng tuyến đường Hồ Sen",
    "Tin <b>tiêu điểm</b> & bình luận",
    "Bản tin sáng thứ hai",
    "Bản tin chiều thứ hai",
    "Bản tin cũ nhất",
]
CONTENT_TYPES = {
    "xml": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}


def hp_item(n: int, title: str) -> Item:
    return Item(
        feed_id="haiphong",
        item_id=f"hp-{n}",
        url=f"https://haiphong.gov.vn/tin/{n}.html",
        title=title,
        summary=f"Tóm tắt số {n}",
        published_at=T0 - timedelta(hours=n + 1),
    )


HP_ITEMS = [hp_item(n, title) for n, title in enumerate(HP_TITLES)]
SO_ITEMS = [
    Item(
        "sotttt",
        "so-0",
        "https://stttt.haiphong.gov.vn/0",
        "Hội nghị chuyển đổi số",
        published_at=T0 - timedelta(minutes=30),
    ),
    Item(
        "sotttt", "so-1", "javascript:alert(1)", "Liên kết lạ", published_at=T0 - timedelta(days=3)
    ),
]


class CountingSource:
    """The real Store, counting how often the web asks it for items (to prove caching)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.item_calls = 0

    def items(self, feed_id: str | None = None, *, limit: int = 50) -> list[Item]:
        self.item_calls += 1
        return self.store.items(feed_id, limit=limit)

    def last_change_at(self, feed_id: str | None = None) -> datetime | None:
        return self.store.last_change_at(feed_id)


@dataclass
class HealthSwitch:
    running: bool = True
    details: dict[str, object] = field(default_factory=lambda: {"status": "ok", "feeds": {}})

    def __call__(self) -> tuple[bool, dict[str, object]]:
        return self.running, self.details


@dataclass
class Env:
    client: httpx.AsyncClient
    store: Store
    source: CountingSource
    health: HealthSwitch
    metrics: Metrics
    port: int


# One uvicorn (started by our serve()) for the module; each test plugs in a fresh app, store and
# metrics, so tests stay independent without paying uvicorn's ~0.2 s shutdown each time.
# (The few pure tests below are `async def` only so that this module-wide mark fits them too.)
pytestmark = pytest.mark.asyncio(loop_scope="module")


class SwappableApp:
    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        await self.app(scope, receive, send)


@dataclass
class Running:
    swap: SwappableApp
    port: int


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def running() -> AsyncIterator[Running]:
    swap = SwappableApp()
    server = await serve(swap, "127.0.0.1", 0)
    yield Running(swap, server.port)
    await server.stop()


@asynccontextmanager
async def client_for(running: Running, app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    running.swap.app = app
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{running.port}") as client:
        yield client
    running.swap.app = None


@pytest.fixture
def store(store: Store) -> Store:
    store.add_items("haiphong", HP_ITEMS, T0)
    store.add_items("sotttt", SO_ITEMS, T0)
    return store


@pytest_asyncio.fixture(loop_scope="module")
async def env(store: Store, running: Running) -> AsyncIterator[Env]:
    source, health, metrics = CountingSource(store), HealthSwitch(), Metrics()
    app = create_app(store=source, feeds=FEEDS, public_url=PUBLIC, health=health, metrics=metrics)
    async with client_for(running, app) as client:
        yield Env(client, store, source, health, metrics, running.port)


async def get_feed(env: Env, path: str, **params: str) -> feedparser.FeedParserDict:
    response = await env.client.get(path, params=params)
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def titles(parsed: feedparser.FeedParserDict) -> list[str]:
    return [entry.title for entry in parsed.entries]


async def raw_request(port: int, target: bytes, method: bytes = b"GET") -> tuple[int, bytes]:
    """Send a request line exactly as given (httpx would normalise `..` away)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(method + b" " + target + b" HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


# --- feeds --------------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", ["xml", "atom"])
async def test_xml_feeds_parse_with_store_items_newest_first(env: Env, ext: str) -> None:
    response = await env.client.get(f"/feeds/haiphong.{ext}")
    assert response.headers["content-type"] == CONTENT_TYPES[ext]
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    parsed = await get_feed(env, f"/feeds/haiphong.{ext}")
    assert titles(parsed)[:3] == HP_TITLES[:3]
    assert titles(parsed)[3] == "Tin tiêu điểm & bình luận"
    assert [e.id for e in parsed.entries] == [f"urn:newsbot:haiphong:hp-{n}" for n in range(7)]
    self_links = [lk.href for lk in parsed.feed.links if lk.rel == "self"]
    assert self_links == [f"{PUBLIC}/feeds/haiphong.{ext}"]


async def test_json_feed_served(env: Env) -> None:
    response = await env.client.get("/feeds/haiphong.json")
    assert response.headers["content-type"] == CONTENT_TYPES["json"]
    doc = response.json()
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"] == f"{PUBLIC}/feeds/haiphong.json"
    assert [i["title"] for i in doc["items"]][:3] == HP_TITLES[:3]


async def test_all_feed_merges_every_feed_with_unique_ids(env: Env) -> None:
    parsed = await get_feed(env, "/feeds/all.atom")
    ids = [e.id for e in parsed.entries]
    assert len(ids) == len(HP_ITEMS) + len(SO_ITEMS) == len(set(ids))
    assert titles(parsed)[0] == "Hội nghị chuyển đổi số"  # newest of all feeds
    assert (await env.client.get("/feeds/all.json")).json()["items"][1]["title"] == HP_TITLES[0]


async def test_include_matches_with_or_without_diacritics_on_whole_words(env: Env) -> None:
    assert titles(await get_feed(env, "/feeds/haiphong.xml", include="hai an")) == [HP_TITLES[0]]
    assert titles(await get_feed(env, "/feeds/haiphong.xml", include="Hải An")) == [HP_TITLES[0]]
    assert titles(await get_feed(env, "/feeds/haiphong.xml", q="an")) == [HP_TITLES[0]]  # not Ánh
    both = await get_feed(env, "/feeds/haiphong.atom", include="hai an, giải phóng mặt bằng")
    assert titles(both) == [HP_TITLES[0], HP_TITLES[2]]
    self_link = next(lk.href for lk in both.feed.links if lk.rel == "self")
    assert self_link.startswith(f"{PUBLIC}/feeds/haiphong.atom?include=")


async def test_exclude_and_limit(env: Env) -> None:
    parsed = await get_feed(env, "/feeds/haiphong.xml", exclude="hai an,bản tin")
    assert titles(parsed) == [HP_TITLES[1], HP_TITLES[2], "Tin tiêu điểm & bình luận"]
    assert titles(await get_feed(env, "/feeds/haiphong.xml", limit="2")) == HP_TITLES[:2]
    assert len((await get_feed(env, "/feeds/all.xml", limit="500")).entries) == 9  # capped at 50


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"include": ",".join(f"từ{i}" for i in range(60))}, "limit"),
        ({"include": "x" * 150}, "limit"),
        ({"exclude": "!!!"}, "no letters"),
        ({"limit": "abc"}, "limit must be"),
        ({"limit": "0"}, "limit must be"),
        ({"q": "a" * 3000}, "too long"),
    ],
)
async def test_bad_filters_are_400_with_the_reason(
    env: Env, params: dict[str, str], reason: str
) -> None:
    response = await env.client.get("/feeds/haiphong.xml", params=params)
    assert response.status_code == 400
    assert reason in response.text
    assert response.headers["x-content-type-options"] == "nosniff"


# --- caching and conditional GET ----------------------------------------------------------------


async def test_repeated_requests_render_once(env: Env) -> None:
    first = await env.client.get("/feeds/haiphong.atom")
    calls = env.source.item_calls
    for _ in range(5):
        again = await env.client.get("/feeds/haiphong.atom")
        assert again.content == first.content
    assert env.source.item_calls == calls == 1


async def test_concurrent_misses_render_once(env: Env) -> None:
    responses = await asyncio.gather(*(env.client.get("/feeds/all.xml") for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.content for r in responses}) == 1
    assert env.source.item_calls == 1


async def test_etag_round_trip_gives_304_without_body(env: Env) -> None:
    first = await env.client.get("/feeds/haiphong.xml")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    assert etag.startswith('"') and etag.endswith('-gz"')  # httpx asks for gzip by default
    plain_etag = etag.removesuffix('-gz"') + '"'
    for header in (etag, f"W/{etag}", f'"other", {etag}', plain_etag, "*"):
        response = await env.client.get("/feeds/haiphong.xml", headers={"If-None-Match": header})
        assert response.status_code == 304, header
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["last-modified"] == last_modified
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_if_none_match_takes_precedence_over_if_modified_since(env: Env) -> None:
    first = await env.client.get("/feeds/haiphong.xml")
    future = format_datetime(datetime.now(UTC) + timedelta(days=1), usegmt=True)
    both = {"If-None-Match": '"stale"', "If-Modified-Since": future}
    assert (await env.client.get("/feeds/haiphong.xml", headers=both)).status_code == 200
    since = {"If-Modified-Since": first.headers["last-modified"]}
    assert (await env.client.get("/feeds/haiphong.xml", headers=since)).status_code == 304
    older = format_datetime(T0 - timedelta(hours=1), usegmt=True)
    response = await env.client.get("/feeds/haiphong.xml", headers={"If-Modified-Since": older})
    assert response.status_code == 200


async def test_last_modified_is_the_newest_store_change(env: Env) -> None:
    response = await env.client.get("/feeds/haiphong.xml")
    assert response.headers["last-modified"] == format_datetime(T0, usegmt=True)


async def test_new_item_changes_body_and_etag(env: Env) -> None:
    first = await env.client.get("/feeds/haiphong.xml")
    new = replace(hp_item(99, "Tin mới về Hải An"), published_at=T0 + timedelta(hours=1))
    env.store.add_items("haiphong", [new], T0 + timedelta(hours=2))
    response = await env.client.get(
        "/feeds/haiphong.xml", headers={"If-None-Match": first.headers["etag"]}
    )
    assert response.status_code == 200
    assert response.headers["etag"] != first.headers["etag"]
    assert titles(feedparser.parse(response.content))[0] == "Tin mới về Hải An"
    assert response.headers["last-modified"] == format_datetime(
        T0 + timedelta(hours=2), usegmt=True
    )


async def test_feedparser_conditional_get_gets_304(env: Env) -> None:
    url = f"http://127.0.0.1:{env.port}/feeds/haiphong.atom"
    first = await asyncio.to_thread(feedparser.parse, url)
    assert first.status == 200 and first.bozo == 0 and first.etag
    second = await asyncio.to_thread(
        feedparser.parse, url, etag=first.etag, modified=first.modified
    )
    assert second.status == 304
    assert second.entries == []


async def test_gzip_when_accepted_identity_otherwise(env: Env) -> None:
    zipped = await env.client.get("/feeds/all.xml", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert "Accept-Encoding" in zipped.headers["vary"]
    assert int(zipped.headers["content-length"]) < len(zipped.content)  # really compressed
    plain = await env.client.get("/feeds/all.xml", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers
    assert plain.content == zipped.content
    assert plain.headers["etag"] != zipped.headers["etag"]  # strong ETags differ per encoding
    refused = await env.client.get("/feeds/all.xml", headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def test_head_gives_headers_without_body(env: Env) -> None:
    identity = {"Accept-Encoding": "identity"}
    get = await env.client.get("/feeds/haiphong.atom", headers=identity)
    head = await env.client.head("/feeds/haiphong.atom", headers=identity)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-type"] == CONTENT_TYPES["atom"]
    status, body = await raw_request(env.port, b"/feeds/haiphong.atom", method=b"HEAD")
    assert (status, body) == (200, b"")


async def test_writes_are_refused(env: Env) -> None:
    response = await env.client.post("/feeds/haiphong.xml", content=b"x")
    assert response.status_code == 405
    assert response.headers["x-content-type-options"] == "nosniff"


# --- OPML, index, health, metrics ---------------------------------------------------------------


async def test_opml_lists_every_feed(env: Env) -> None:
    response = await env.client.get("/feeds.opml")
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    outlines = root.findall("body/outline")
    assert [o.get("xmlUrl") for o in outlines] == [
        f"{PUBLIC}/feeds/haiphong.xml",
        f"{PUBLIC}/feeds/sotttt.xml",
    ]
    assert [o.get("text") for o in outlines] == [m.title for m in FEEDS.values()]


async def test_index_lists_feeds_newest_items_and_autodiscovery(env: Env) -> None:
    response = await env.client.get("/")
    page = response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert '<html lang="vi">' in page and 'name="viewport"' in page
    assert "Cổng TTĐT Hải Phòng" in page and "Sở TT&amp;TT Hải Phòng" in page
    assert f'<a href="https://haiphong.gov.vn/tin/0.html" rel="noopener">{HP_TITLES[0]}</a>' in page
    assert "Tin tiêu điểm &amp; bình luận" in page and "<b>" not in page
    assert "Bản tin sáng thứ hai" in page  # the 5th newest
    assert "Bản tin chiều thứ hai" not in page and "Bản tin cũ nhất" not in page
    assert "Liên kết lạ" in page and "javascript:" not in page
    for feed_id in (*FEEDS, "all"):
        assert ('<link rel="alternate" type="application/rss+xml" title="') in page
        assert f'href="{PUBLIC}/feeds/{feed_id}.xml"' in page
        assert f'href="{PUBLIC}/feeds/{feed_id}.atom"' in page
    assert "28/11/2024 11:00" in page  # newest item, in Hải Phòng time
    assert "Theo dõi:" in page


@pytest.mark.parametrize(
    ("header", "lang"),
    [("en-US,en;q=0.9", "en"), ("vi,en;q=0.8", "vi"), ("fr", "vi"), ("en;q=0.5,vi;q=0.9", "vi")],
)
async def test_index_language_follows_accept_language(env: Env, header: str, lang: str) -> None:
    response = await env.client.get("/", headers={"Accept-Language": header})
    assert f'<html lang="{lang}">' in response.text
    assert ("Subscribe:" in response.text) == (lang == "en")
    assert response.headers["content-language"] == lang


async def test_pick_language() -> None:
    assert pick_language(None) == "vi"
    assert pick_language("en") == "en"
    assert pick_language("EN-gb;q=0.7, de") == "en"
    assert pick_language("en;q=0") == "vi"
    assert pick_language("en;q=x") == "vi"


async def test_healthz_follows_the_health_callable(env: Env) -> None:
    ok = await env.client.get("/healthz")
    assert ok.status_code == 200
    assert ok.json() == {"running": True, "status": "ok", "feeds": {}}
    assert ok.headers["cache-control"] == "no-store"
    env.health.running = False
    env.health.details = {"status": "stopped", "since": T0}
    down = await env.client.get("/healthz")
    assert down.status_code == 503
    assert down.json() == {"running": False, "status": "stopped", "since": str(T0)}


async def test_metrics_count_polls_and_requests(env: Env) -> None:
    item = HP_ITEMS[0]
    env.metrics.record_poll(PollReport("haiphong", "new", new_items=(item, item)), 0.3)
    env.metrics.record_poll(PollReport("haiphong", "failed", error="boom"), 1.5)
    env.metrics.record_poll(PollReport("haiphong", "not_modified"), 0.05)
    await env.client.get("/feeds/haiphong.xml")
    response = await env.client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for line in (
        'newsbot_polls_total{feed="haiphong",outcome="new"} 1.0',
        'newsbot_polls_total{feed="haiphong",outcome="failed"} 1.0',
        'newsbot_poll_failures_total{feed="haiphong"} 1.0',
        'newsbot_not_modified_total{feed="haiphong"} 1.0',
        'newsbot_new_items_total{feed="haiphong"} 2.0',
        'newsbot_poll_seconds_count{feed="haiphong"} 3.0',
        'newsbot_feed_requests_total{feed="haiphong",format="rss",status="200"} 1.0',
    ):
        assert line in text, line


# --- errors and hostile requests ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/feeds/nope.xml", "/feeds/haiphong.html", "/feeds/haiphong", "/nope", "/feeds/", "/feeds"],
)
async def test_unknown_paths_are_short_404s(env: Env, path: str) -> None:
    response = await env.client.get(path)
    assert response.status_code == 404
    assert len(response.content) < 100
    assert response.headers["x-content-type-options"] == "nosniff"


TRAVERSALS = [
    b"/../../etc/passwd",
    b"/feeds/../../../etc/passwd",
    b"/feeds/%2e%2e/%2e%2e/etc/passwd",
    b"/feeds/..%2f..%2fetc%2fpasswd",
    b"/feeds/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
    b"//etc/passwd",
    b"/feeds/haiphong.xml%00.html",
    b"/feeds\\..\\..\\etc\\passwd",
    b"/feeds/%5c..%5cetc%5cpasswd",
    b"/" + b"a" * 10_000,
    b"/feeds/" + b"..%2f" * 2_000 + b"etc/passwd",
    b"/static/",
]


@pytest.mark.parametrize("target", TRAVERSALS, ids=[t[:40].decode() for t in TRAVERSALS])
async def test_traversal_attempts_get_4xx_and_no_file(env: Env, target: bytes) -> None:
    status, body = await raw_request(env.port, target)
    assert 400 <= status < 500
    assert b"root:" not in body and b"Traceback" not in body
    assert len(body) < 100


UNAVAILABLE = "feeds are unavailable right now; try again later"


class BrokenSource:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def items(self, feed_id: str | None = None, *, limit: int = 50) -> list[Item]:
        raise self.error

    def last_change_at(self, feed_id: str | None = None) -> datetime | None:
        return None


@pytest.mark.parametrize(
    ("error", "status", "text"),
    [
        (RuntimeError("secret detail /home/x"), 500, "internal error\n"),
        (
            StoreError("database is locked"),
            503,
            "feeds are unavailable right now; try again later\n",
        ),
    ],
)
async def test_failures_give_a_generic_answer_and_a_log_line(
    running: Running,
    error: Exception,
    status: int,
    text: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = BrokenSource(error)
    app = create_app(store=source, feeds=FEEDS, public_url=PUBLIC, health=HealthSwitch())
    async with client_for(running, app) as client:
        response = await client.get("/feeds/haiphong.xml")
        assert (response.status_code, response.text) == (status, text)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert (await client.get("/healthz")).status_code == 200  # still serving
    assert str(error) in caplog.text


async def test_health_callable_failure_is_503(store: Store, running: Running) -> None:
    def broken() -> tuple[bool, dict[str, object]]:
        raise RuntimeError("scheduler gone")

    app = create_app(store=store, feeds=FEEDS, public_url=PUBLIC, health=broken)
    async with client_for(running, app) as client:
        response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"running": False, "error": "health check failed"}


# --- serving ------------------------------------------------------------------------------------


async def test_serve_leaves_signal_handlers_to_the_daemon(store: Store) -> None:
    before = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    app = create_app(store=store, feeds=FEEDS, public_url=PUBLIC, health=HealthSwitch())
    server = await serve(app, "127.0.0.1", 0)
    try:
        assert server.port > 0
        assert {sig: signal.getsignal(sig) for sig in before} == before
    finally:
        await server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


async def test_listening_socket_lets_asyncio_disable_delayed_acks() -> None:
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket was made
    # with proto=IPPROTO_TCP; without it every keep-alive response waited ~40 ms for a delayed ACK
    # (measured in benchmarks/bench_publish.py, not timed here).
    sock = serving._listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_busy_port_is_a_clear_config_error(store: Store) -> None:
    app = create_app(store=store, feeds=FEEDS, public_url=PUBLIC, health=HealthSwitch())
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            await serve(app, "127.0.0.1", port)


# --- pure helpers -------------------------------------------------------------------------------


def rendered(body: bytes = b"<rss/>") -> Rendered:
    return make_rendered(body, "application/rss+xml", T0)


async def test_is_not_modified_rules() -> None:
    r = rendered()
    tag = r.etag
    assert is_not_modified({"if-none-match": tag}, r)
    assert is_not_modified({"if-none-match": f"W/{tag}"}, r)
    assert is_not_modified({"if-none-match": f'"a", W/"b", {tag}'}, r)
    assert not is_not_modified({"if-none-match": '"a", "b"'}, r)
    assert not is_not_modified({"if-none-match": tag[:-2] + '"'}, r)
    lm = r.last_modified or ""
    assert is_not_modified({"if-modified-since": lm}, r)
    assert not is_not_modified({"if-modified-since": "garbage"}, r)
    assert not is_not_modified({"if-none-match": '"x"', "if-modified-since": lm}, r)
    assert not is_not_modified({}, r)


async def test_rendered_gzip_is_deterministic_and_etag_is_body_hash() -> None:
    a, b = rendered(b"x" * 1000), rendered(b"x" * 1000)
    assert a == b
    assert gzip.decompress(a.gzipped) == a.body
    assert rendered(b"y").etag != a.etag
    assert json.dumps(a.etag).count('"') == 4  # quoted: "\"...\""


async def test_accepts_gzip() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("identity")
    assert not accepts_gzip(None)


# --- sections and document types ----------------------------------------------------------------

SECTIONS = (
    Section("tin-tuc-su-kien", "Tin tức – Sự kiện", "https://haiphong.gov.vn/tin-tuc-su-kien"),
    Section("thong-bao", "Thông báo", "https://haiphong.gov.vn/thong-bao"),
)
SECTIONED_FEEDS = {**FEEDS, "haiphong": replace(FEEDS["haiphong"], sections=SECTIONS)}
PDF = Attachment("https://cdn.haiphong.gov.vn/gov-hpg/1/tintuc/2024/11/412.pdf", "412", "pdf")
SECTION_ITEMS = [
    replace(hp_item(20, "Quyết định số 3856/QĐ-UBND phê duyệt kế hoạch"), section="thong-bao",
            doc_number="3856/QĐ-UBND", doc_type="Quyết định", attachments=(PDF,)),
    replace(hp_item(21, "Thông báo số 412/TB-UBND kết luận"), section="thong-bao",
            doc_number="412/TB-UBND", doc_type="Thông báo"),
    replace(hp_item(22, "Trao quyết định bổ nhiệm"), section="tin-tuc-su-kien"),
]


@pytest_asyncio.fixture(loop_scope="module")
async def sectioned(store: Store, running: Running) -> AsyncIterator[httpx.AsyncClient]:
    store.add_items("haiphong", SECTION_ITEMS, T0 + timedelta(minutes=1))
    app = create_app(store=store, feeds=SECTIONED_FEEDS, public_url=PUBLIC,
                     health=HealthSwitch(), metrics=Metrics())
    async with client_for(running, app) as client:
        yield client


async def fetch(client: httpx.AsyncClient, path: str, **params: str) -> feedparser.FeedParserDict:
    response = await client.get(path, params=params)
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


@pytest.mark.parametrize("ext", ["xml", "atom"])
async def test_each_section_has_its_own_feed(sectioned: httpx.AsyncClient, ext: str) -> None:
    notices = await fetch(sectioned, f"/feeds/haiphong/thong-bao.{ext}")
    news = await fetch(sectioned, f"/feeds/haiphong/tin-tuc-su-kien.{ext}")

    assert titles(notices) == [SECTION_ITEMS[0].title, SECTION_ITEMS[1].title]
    assert titles(news) == [SECTION_ITEMS[2].title]
    assert notices.feed.title == "Cổng TTĐT Hải Phòng – Thông báo"
    self_links = [link.href for link in notices.feed.links if link.rel == "self"]
    assert self_links == [f"{PUBLIC}/feeds/haiphong/thong-bao.{ext}"]
    assert notices.entries[0].enclosures[-1].href == PDF.url
    assert {t.term for t in notices.entries[0].tags} == {"Quyết định", "Thông báo"}


async def test_unknown_sections_and_sections_of_plain_feeds_are_404(
    sectioned: httpx.AsyncClient,
) -> None:
    for path in ("/feeds/haiphong/chi-dao.xml", "/feeds/sotttt/thong-bao.xml",
                 "/feeds/all/thong-bao.xml", "/feeds/nope/thong-bao.xml",
                 "/feeds/haiphong/thong-bao.html"):
        response = await sectioned.get(path)
        assert response.status_code == 404, path
        assert "section" in response.text


async def test_type_and_section_keywords_filter_feed_urls(sectioned: httpx.AsyncClient) -> None:
    decisions = await fetch(sectioned, "/feeds/haiphong.xml", include="type:quyet dinh")
    no_notices = await fetch(sectioned, "/feeds/all.xml", exclude="section:thông báo")
    in_section = await fetch(sectioned, "/feeds/haiphong/thong-bao.atom", q="loại:Thông báo")

    assert titles(decisions) == [SECTION_ITEMS[0].title]
    assert SECTION_ITEMS[2].title not in titles(decisions)  # "quyết định" in its title only
    assert not {SECTION_ITEMS[0].title, SECTION_ITEMS[1].title} & set(titles(no_notices))
    assert SECTION_ITEMS[2].title in titles(no_notices)
    assert titles(in_section) == [SECTION_ITEMS[1].title]
    self_link = next(link.href for link in in_section.feed.links if link.rel == "self")
    assert self_link.startswith(f"{PUBLIC}/feeds/haiphong/thong-bao.atom?include=")
    bad = await sectioned.get("/feeds/haiphong.xml", params={"include": "type:"})
    assert bad.status_code == 400


async def test_index_and_opml_list_the_section_feeds(sectioned: httpx.AsyncClient) -> None:
    page = (await sectioned.get("/")).text
    outlines = ET.fromstring((await sectioned.get("/feeds.opml")).content).findall("body/outline")

    assert "Theo dõi từng chuyên mục:" in page
    assert f'href="{PUBLIC}/feeds/haiphong/thong-bao.xml"' in page
    assert "Tin tức – Sự kiện: <a" in page
    assert [o.get("xmlUrl") for o in outlines] == [
        f"{PUBLIC}/feeds/haiphong.xml",
        f"{PUBLIC}/feeds/haiphong/tin-tuc-su-kien.xml",
        f"{PUBLIC}/feeds/haiphong/thong-bao.xml",
        f"{PUBLIC}/feeds/sotttt.xml",
    ]
