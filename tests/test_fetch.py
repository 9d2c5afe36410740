"""bot.source.fetch against the fake site over real loopback HTTP."""

from __future__ import annotations

import asyncio
import gzip
import importlib.util
import itertools
import random
import socket
import time
import tracemalloc
import urllib.request
import zlib
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fakes.site import (
    Delay,
    Drip,
    Drop,
    FakeSite,
    Garbage,
    GzipBomb,
    Oversize,
    Redirect,
    Status,
    http_date,
)

from bot import __version__
from bot.backoff import next_delay, parse_max_age, parse_retry_after
from bot.errors import FetchError
from bot.model import CacheHeaders
from bot.source.answers import check_target
from bot.source.fetch import Fetcher, FetchPolicy

FAST = FetchPolicy(deadline=1.5, connect_timeout=1, read_timeout=1, min_host_gap=0)
PAGE = "<html><body><h2 class='Title'><a href='/a/1'>Hải Phòng</a></h2></body></html>"


@pytest.fixture
async def site() -> AsyncIterator[FakeSite]:
    async with FakeSite() as fake:
        fake.set_page("/news", PAGE)
        yield fake
        assert fake.errors == []


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    async with Fetcher(FAST) as f:
        yield f


async def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        await fetcher.fetch(url)
    return caught.value


# --- conditional GET ---


async def test_200_then_304_with_validators_on_every_later_poll(
    site: FakeSite, fetcher: Fetcher
) -> None:
    url = site.url_for("/news")
    first = await fetcher.fetch(url)
    assert (first.status, first.body.decode(), first.url) == (200, PAGE, url)
    assert first.content_type == "text/html; charset=utf-8"
    assert first.cache.etag and first.cache.last_modified

    cache = first.cache
    for _ in range(4):
        again = await fetcher.fetch(url, cache)
        assert again.not_modified and again.body == b""
        assert again.cache == first.cache
        cache = again.cache

    later = site.requests_for("/news")[1:]
    assert len(later) == 4
    assert all(r.headers["if-none-match"] == first.cache.etag for r in later)
    assert all(r.headers["if-modified-since"] == first.cache.last_modified for r in later)

    site.set_page("/news", PAGE + "<p>new</p>")
    changed = await fetcher.fetch(url, cache)
    assert changed.status == 200 and changed.body.endswith(b"<p>new</p>")
    assert changed.cache.etag != first.cache.etag


async def test_last_modified_alone_gives_304(site: FakeSite, fetcher: Fetcher) -> None:
    site.set_page("/old", PAGE, etag="", last_modified=datetime(2024, 11, 28, tzinfo=UTC))
    first = await fetcher.fetch(site.url_for("/old"))
    assert first.cache == CacheHeaders(None, "Thu, 28 Nov 2024 00:00:00 GMT")
    assert (await fetcher.fetch(site.url_for("/old"), first.cache)).status == 304


async def test_max_age_from_cache_control(site: FakeSite, fetcher: Fetcher) -> None:
    site.set_page("/cached", PAGE, headers={"Cache-Control": "public, max-age=900"})
    assert (await fetcher.fetch(site.url_for("/cached"))).max_age == 900
    assert (await fetcher.fetch(site.url_for("/news"))).max_age is None
    assert parse_max_age("s-maxage=5, max-age=60") == 60
    assert parse_max_age("no-store") is None


# --- statuses ---


async def test_500_is_an_error_naming_url_and_status(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Status(500))
    error = await fetch_error(fetcher, site.url_for("/news"))
    assert error.status == 500 and error.retry_after is None
    assert str(error).startswith(f"{site.url_for('/news')}: HTTP 500 Internal Server Error (")
    assert (await fetcher.fetch(site.url_for("/news"))).status == 200  # one-shot


async def test_503_message_says_what_happens_next(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Status(503))
    error = await fetch_error(fetcher, site.url_for("/news"))
    assert str(error) == (
        f"{site.url_for('/news')}: HTTP 503 Service Unavailable "
        "(the site is down or overloaded; newsbot will retry with backoff)"
    )


async def test_404_hint_points_at_the_recipe(site: FakeSite, fetcher: Fetcher) -> None:
    error = await fetch_error(fetcher, site.url_for("/missing"))
    assert error.status == 404 and "check the URL in the recipe" in str(error)


async def test_retry_after_seconds_and_http_date(site: FakeSite, fetcher: Fetcher) -> None:
    server_now = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
    site.script(
        "/news",
        Status(429, {"Retry-After": "120"}),
        Status(
            503,
            {
                "Retry-After": http_date(server_now + timedelta(seconds=90)),
                "Date": http_date(server_now),
            },
        ),
        Status(500, {"Retry-After": "60"}),  # not a "come back later" status: ignored
    )
    url = site.url_for("/news")
    assert (await fetch_error(fetcher, url)).retry_after == 120
    dated = await fetch_error(fetcher, url)
    assert (dated.status, dated.retry_after) == (503, 90)  # relative to the server's clock
    assert (await fetch_error(fetcher, url)).retry_after is None


def test_parse_retry_after() -> None:
    now = datetime(2025, 11, 3, 8, 0, tzinfo=UTC)
    assert parse_retry_after(" 30 ", now) == 30
    assert parse_retry_after("Mon, 03 Nov 2025 08:02:00 GMT", now) == 120
    assert parse_retry_after("Mon, 03 Nov 2025 07:00:00 GMT", now) == 0  # past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after("-5", now) is None


# --- redirects and schemes ---


async def test_five_redirects_are_followed(site: FakeSite, fetcher: Fetcher) -> None:
    for hop in range(5):
        site.set_route(f"/r{hop}", Redirect(f"/r{hop + 1}" if hop < 4 else "/news", 301))
    result = await fetcher.fetch(site.url_for("/r0"))
    assert result.status == 200 and result.url == site.url_for("/news")


async def test_six_redirects_are_too_many(site: FakeSite, fetcher: Fetcher) -> None:
    for hop in range(6):
        site.set_route(f"/r{hop}", Redirect(f"/r{hop + 1}" if hop < 5 else "/news"))
    error = await fetch_error(fetcher, site.url_for("/r0"))
    assert "more than 5 redirects" in str(error) and "put the final URL in the recipe" in str(error)
    assert site.count("/news") == 0


async def test_redirect_loop_stops_fast(site: FakeSite, fetcher: Fetcher) -> None:
    site.redirect_loop("/a", "/b")
    started = time.perf_counter()
    error = await fetch_error(fetcher, site.url_for("/a"))
    assert time.perf_counter() - started < 1
    assert "redirect loop" in str(error)
    assert site.count("/a") == 1 and site.count("/b") == 1


def test_scheme_checks() -> None:
    check_target("https://haiphong.gov.vn/tin-tuc")
    check_target("http://a.example/x", redirected_from="http://b.example/")
    check_target("https://a.example/x", redirected_from="http://a.example/x")
    with pytest.raises(FetchError, match="from https to plain http"):
        check_target("http://a.example/x", redirected_from="https://a.example/x")
    for url in ("file:///etc/passwd", "ftp://a.example/x", "javascript:alert(1)", "a.example"):
        with pytest.raises(FetchError, match="only http and https"):
            check_target(url)
    with pytest.raises(FetchError, match="no host"):
        check_target("http:///x")


async def test_file_and_ftp_refused_without_a_request(fetcher: Fetcher) -> None:
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x"):
        assert "only http and https" in str(await fetch_error(fetcher, url))


async def test_bad_port_is_a_fetch_error_not_a_crash(site: FakeSite, fetcher: Fetcher) -> None:
    # urlsplit().port raises ValueError; it must not escape fetch() and crash a poll.
    for url in ("http://127.0.0.1:99999/x", "http://127.0.0.1:8o8o/x"):
        assert "port" in str(await fetch_error(fetcher, url))
    site.script("/news", Redirect("http://127.0.0.1:70000/news"))
    error = await fetch_error(fetcher, site.url_for("/news"))
    assert "port" in str(error) and "redirected from" in str(error)


async def test_redirect_to_ftp_refused(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Redirect("ftp://127.0.0.1/news"))
    error = await fetch_error(fetcher, site.url_for("/news"))
    assert "only http and https" in str(error) and "redirected from" in str(error)


async def test_https_to_http_redirect_refused_through_fetch() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/robots.txt":
            return httpx.Response(404)
        return httpx.Response(301, headers={"Location": "http://news.example/plain"})

    async with Fetcher(FAST, transport=httpx.MockTransport(handler)) as fetcher:
        error = await fetch_error(fetcher, "https://news.example/secure")
    assert "refused redirect from https to plain http" in str(error)


# --- bounds: time, size, memory ---


async def test_slow_drip_is_cut_at_the_deadline(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Drip(0.5))  # each read succeeds well within read_timeout=1
    started = time.perf_counter()
    error = await fetch_error(fetcher, site.url_for("/news"))
    assert 1.4 < time.perf_counter() - started < 2.0
    assert "no complete response within 1.5 s" in str(error)


async def test_a_server_that_never_answers_is_cut(site: FakeSite) -> None:
    site.script("/news", Delay(5))
    async with Fetcher(replace(FAST, read_timeout=10, deadline=0.5)) as fetcher:
        started = time.perf_counter()
        error = await fetch_error(fetcher, site.url_for("/news"))
    assert time.perf_counter() - started < 1.0 and "within 0.5 s" in str(error)


async def test_oversize_body_stops_at_max_bytes(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Oversize(8 * 2**20), Oversize(8 * 2**20, declare_length=True))
    for _ in range(2):
        error = await fetch_error(fetcher, site.url_for("/news"))
        assert "larger than 5 MB" in str(error)


async def test_gzip_bomb_is_capped_with_bounded_memory(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", GzipBomb(200 * 2**20))
    site.script("/news", GzipBomb(200 * 2**20))
    await fetch_error(fetcher, site.url_for("/news"))  # warm up: the bomb is built once
    tracemalloc.start()
    try:
        error = await fetch_error(fetcher, site.url_for("/news"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "larger than 5 MB" in str(error)
    assert peak < 50 * 2**20, f"peak {peak / 2**20:.1f} MiB"


async def test_gzip_and_deflate_bodies_are_decoded(site: FakeSite, fetcher: Fetcher) -> None:
    site.set_page("/gz", PAGE, gzip=True)
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    site.script(
        "/deflate",
        Status(200, {"Content-Encoding": "deflate"}, zlib.compress(PAGE.encode())),
        Status(
            200,
            {"Content-Encoding": "deflate"},
            raw_deflate.compress(PAGE.encode()) + raw_deflate.flush(),
        ),
        Status(200, {"Content-Encoding": "gzip"}, gzip.compress(b"ab") + gzip.compress(b"cd")),
        Status(200, {"Content-Encoding": "gzip"}, gzip.compress(b"ab") + b"\0\0junk"),
    )
    assert (await fetcher.fetch(site.url_for("/gz"))).body.decode() == PAGE
    assert site.requests_for("/gz")[0].headers["accept-encoding"] == "gzip, deflate"
    for expected in (PAGE.encode(), PAGE.encode(), b"abcd", b"ab"):
        assert (await fetcher.fetch(site.url_for("/deflate"))).body == expected


async def test_large_compressible_page_under_the_cap_is_whole(
    site: FakeSite, fetcher: Fetcher
) -> None:
    big = "<li>Tin tức Hải Phòng</li>" * 100_000  # ~3 MB, many decoder steps
    site.set_page("/big", big, gzip=True)
    assert (await fetcher.fetch(site.url_for("/big"))).body == big.encode()


async def test_broken_gzip_is_an_error(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Status(200, {"Content-Encoding": "gzip"}, b"\x1f\x8bnot gzip at all"))
    assert "not valid gzip data" in str(await fetch_error(fetcher, site.url_for("/news")))


@pytest.mark.skipif(importlib.util.find_spec("brotli") is not None, reason="brotli installed")
async def test_unknown_encoding_is_an_error(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Status(200, {"Content-Encoding": "br"}, b"\x0b\x02\x80hi\x03"))
    assert "Content-Encoding 'br'" in str(await fetch_error(fetcher, site.url_for("/news")))


# --- network failures ---


async def test_connection_refused(fetcher: Fetcher) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = await fetch_error(fetcher, f"http://127.0.0.1:{port}/news")
    assert error.status is None and "could not connect" in str(error)


@pytest.mark.parametrize("behaviour", [Drop(), Garbage()])
async def test_dropped_or_garbled_response(
    site: FakeSite, fetcher: Fetcher, behaviour: Drop | Garbage
) -> None:
    site.script("/news", behaviour)
    error = await fetch_error(fetcher, site.url_for("/news"))
    assert error.status is None and "broke off or sent an invalid response" in str(error)
    assert (await fetcher.fetch(site.url_for("/news"))).status == 200  # recovers


# --- manners: one at a time per host, gaps, robots.txt, User-Agent ---


async def test_one_request_at_a_time_per_host(site: FakeSite, fetcher: Fetcher) -> None:
    site.script("/news", Delay(0.2), Delay(0.2), Delay(0.2))
    results = await asyncio.gather(*(fetcher.fetch(site.url_for("/news")) for _ in range(3)))
    assert [r.status for r in results] == [200, 200, 200]
    assert site.max_in_flight == 1


async def test_deadline_starts_when_the_host_is_free(site: FakeSite) -> None:
    site.script("/news", Delay(0.6), Delay(0.6))
    async with Fetcher(replace(FAST, deadline=1.0)) as fetcher:
        started = time.perf_counter()
        results = await asyncio.gather(*(fetcher.fetch(site.url_for("/news")) for _ in range(2)))
    assert [r.status for r in results] == [200, 200]  # the second queued 0.6 s, then had 1 s
    assert time.perf_counter() - started >= 1.2


async def test_other_hosts_are_not_held_up(fetcher: Fetcher) -> None:
    async with FakeSite() as one, FakeSite() as two:
        for fake in (one, two):
            fake.set_page("/news", PAGE)
            fake.script("/news", Delay(0.8))
        await asyncio.gather(
            fetcher.fetch(one.url_for("/news")), fetcher.fetch(two.url_for("/news"))
        )
        # Held up, the second host's request would arrive after the first one's 0.8 s answer:
        # arrivals closer than that mean both were in flight at once (a causal bound, not a timing).
        arrivals = [fake.requests_for("/news")[0].at for fake in (one, two)]
        assert abs(arrivals[0] - arrivals[1]) < 0.8, arrivals


async def test_min_gap_between_fetches_to_one_host(site: FakeSite) -> None:
    site.set_robots("User-agent: *\nDisallow: /private\n")
    async with Fetcher(replace(FAST, min_host_gap=0.25)) as fetcher:
        await asyncio.gather(*(fetcher.fetch(site.url_for("/news")) for _ in range(3)))
    starts = [r.at for r in site.requests_for("/news")]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 2 and min(gaps) >= 0.24, gaps
    # robots.txt and the first page of one fetch go back to back
    assert site.requests_for("/news")[0].at - site.requests_for("/robots.txt")[0].at < 0.2


async def test_robots_disallow_is_honoured_and_cached(site: FakeSite, fetcher: Fetcher) -> None:
    site.set_robots("User-agent: *\nAllow: /\n\nUser-agent: newsbot\nDisallow: /private\n")
    site.set_page("/private/list", PAGE)
    for _ in range(3):
        assert (await fetcher.fetch(site.url_for("/news"))).status == 200
    error = await fetch_error(fetcher, site.url_for("/private/list"))
    assert str(error) == (
        f"robots.txt of 127.0.0.1:{site.port} disallows {site.url_for('/private/list')} "
        "(set fetch.respect_robots = false to override)"
    )
    assert site.count("/robots.txt") == 1 and site.count("/private/list") == 0

    async with Fetcher(replace(FAST, respect_robots=False)) as rude:
        assert (await rude.fetch(site.url_for("/private/list"))).status == 200
    assert site.count("/robots.txt") == 1


async def test_robots_refetched_after_ttl(site: FakeSite) -> None:
    now = [1000.0]
    site.set_robots("User-agent: *\nDisallow:\n")
    async with Fetcher(replace(FAST, robots_ttl=60), clock=lambda: now[0]) as fetcher:
        await fetcher.fetch(site.url_for("/news"))
        now[0] += 59
        site.set_robots("User-agent: *\nDisallow: /news\n")
        await fetcher.fetch(site.url_for("/news"))
        now[0] += 2
        assert "disallows" in str(await fetch_error(fetcher, site.url_for("/news")))
    assert site.count("/robots.txt") == 2


@pytest.mark.parametrize("robots", [None, Status(500), Drop()])
async def test_missing_or_broken_robots_allows(
    site: FakeSite, fetcher: Fetcher, robots: Status | Drop | None
) -> None:
    if robots is not None:
        site.script("/robots.txt", robots)
    for _ in range(2):
        assert (await fetcher.fetch(site.url_for("/news"))).status == 200
    assert site.count("/robots.txt") == 1


async def test_concurrent_first_fetches_load_robots_once(site: FakeSite, fetcher: Fetcher) -> None:
    site.set_robots("User-agent: *\nDisallow: /private\n")
    site.script("/robots.txt", Delay(0.2))
    await asyncio.gather(*(fetcher.fetch(site.url_for("/news")) for _ in range(4)))
    assert site.count("/robots.txt") == 1


async def test_user_agent_on_every_request(site: FakeSite, fetcher: Fetcher) -> None:
    site.set_robots("User-agent: *\nDisallow:\n")
    site.script("/news", Redirect("/news2"))
    site.set_page("/news2", PAGE)
    await fetcher.fetch(site.url_for("/news"))
    agents = {r.headers.get("user-agent") for r in site.log}
    assert len(site.log) == 3
    assert agents == {f"newsbot/{__version__} (+https://github.com/newsbot)"}


# --- the fake site itself, in a thread ---


def test_fake_site_in_a_thread() -> None:
    with FakeSite.start_in_thread() as site:
        site.set_page("/news", PAGE)
        with urllib.request.urlopen(site.url_for("/news"), timeout=5) as response:
            assert response.read().decode() == PAGE
            etag = response.headers["ETag"]
        request = urllib.request.Request(site.url_for("/news"), headers={"If-None-Match": etag})
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=5)
        caught.value.close()
        assert caught.value.code == 304 and site.count("/news") == 2


# --- next_delay ---


def test_next_delay_when_healthy() -> None:
    assert next_delay(300, 0) == 300
    assert next_delay(300, 0, max_age=900) == 900
    assert next_delay(300, 0, max_age=60) == 300
    assert next_delay(300, 0, max_age=10**6, cap=3600) == 3600


def test_next_delay_grows_exponentially_with_jitter() -> None:
    rng = random.Random(7)
    for failures in range(1, 7):
        base = 300 * 2**failures
        samples = [next_delay(300, failures, rng=rng) for _ in range(200)]
        assert all(0.9 * base <= s <= 1.1 * base for s in samples)
        assert min(samples) < 0.95 * base and max(samples) > 1.05 * base  # jittered both ways


def test_next_delay_is_capped() -> None:
    rng = random.Random(1)
    samples = [next_delay(300, n, rng=rng) for n in (7, 10, 50, 10_000) for _ in range(50)]
    assert all(0.9 * 6 * 3600 <= s <= 6 * 3600 for s in samples)


def test_next_delay_honours_retry_after_when_later() -> None:
    rng = random.Random(3)
    assert next_delay(300, 0, retry_after=7200) == 7200
    assert next_delay(300, 1, retry_after=10, rng=rng) < 700  # backoff already later
    assert next_delay(300, 20, retry_after=8 * 3600, rng=rng) == 8 * 3600  # beyond the cap
    assert next_delay(300, 1, retry_after=10**9, rng=rng) == 24 * 3600  # absurd: a day
