"""The index page as a browser shows it: headless Chromium (Debian's `chromium`) against the feed
server (bot.publish.web on 127.0.0.1, port 0) over a real Store holding two feeds."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import struct
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
import pytest_asyncio
from conftest import FIXTURES
from fakes import png

from bot.model import FeedHealth, Item
from bot.publish.feedmeta import FeedMeta
from bot.publish.serving import Server, serve
from bot.publish.web import create_app
from bot.store.db import Store

T0 = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)
FEEDS = {
    "haiphong": FeedMeta("haiphong", "Cổng TTĐT thành phố Hải Phòng – Tin tức sự kiện",
                         "https://haiphong.gov.vn/tin-tuc-su-kien"),
    "sotttt": FeedMeta("sotttt", "Sở Thông tin và Truyền thông – Tin tức sự kiện",
                       "https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien"),
}
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--hide-scrollbars",
]
PHONE = (390, 844)


def fixture_items(feed_id: str, name: str, url_key: str, base: str) -> list[Item]:
    """Items from a fixture's expected list, dated an hour apart, newest first."""
    rows = json.loads((FIXTURES / name).read_text(encoding="utf-8"))["items"]
    return [
        Item(feed_id, f"{feed_id}-{n}", urljoin(base, row[url_key]), row["title"],
             summary=row.get("summary", ""), published_at=T0 - timedelta(hours=n))
        for n, row in enumerate(rows)
    ]


ITEMS = {
    "haiphong": fixture_items("haiphong", "haiphong/listing.expected.json", "url",
                              "https://haiphong.gov.vn/"),
    "sotttt": fixture_items("sotttt", "realpages/sotttt-tin-tuc-su-kien.items.json",
                            "href_in_file", "https://sotttt.hanoi.gov.vn/vi/"),
}


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed: install Debian's chromium package "
                    "(`apt-get install chromium`; CI's .ci/run installs it)")
    return found


@dataclass
class Site:
    server: Server
    url: str


@pytest_asyncio.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    store = Store.open(tmp_path / "newsbot.db")
    for feed_id, items in ITEMS.items():
        store.add_items(feed_id, items, T0)
    app = create_app(store=store, feeds=FEEDS, public_url="http://localhost:8080",
                     health=lambda: (True, {}))
    server = await serve(app, "127.0.0.1", 0)
    try:
        yield Site(server, f"http://127.0.0.1:{server.port}/")
    finally:
        await server.stop()
        store.close()


async def run_chromium(tmp_path: Path, *args: str) -> bytes:
    """Run Chromium to completion without blocking the loop that serves the page."""
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    proc = await asyncio.create_subprocess_exec(
        chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 60)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("chromium did not finish within 60 s") from None
    assert proc.returncode == 0, err.decode(errors="replace")[-2000:]
    return out


async def test_index_shows_every_feed_with_its_newest_item_and_autodiscovery(
    site: Site, tmp_path: Path
) -> None:
    dom = await run_chromium(tmp_path, "--accept-lang=vi", "--dump-dom", site.url)
    page = lxml.html.fromstring(dom)
    assert page.get("lang") == "vi"
    for feed_id, meta in FEEDS.items():
        section = page.get_element_by_id(feed_id)
        assert section.findtext("h2") == meta.title
        titles = [a.text_content() for a in section.cssselect("li a")]
        assert titles[0] == ITEMS[feed_id][0].title  # the newest item first
        assert 1 < len(titles) <= 5
    feeds = page.cssselect('head link[rel="alternate"][type="application/rss+xml"]')
    hrefs = {link.get("href") for link in feeds}
    assert hrefs == {f"http://localhost:8080/feeds/{fid}.xml" for fid in [*FEEDS, "all"]}
    assert all(link.get("title") for link in feeds)
    atom = page.cssselect('head link[rel="alternate"][type="application/atom+xml"]')
    assert len(atom) == len(FEEDS) + 1


async def test_index_renders_on_a_phone_sized_screen(site: Site, tmp_path: Path) -> None:
    shot = tmp_path / "index-phone.png"
    await run_chromium(tmp_path, "--accept-lang=vi", f"--window-size={PHONE[0]},{PHONE[1]}",
                       f"--screenshot={shot}", site.url)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])  # IHDR
    assert (width, height) == PHONE
    assert len(png) > 20_000  # text and boxes, not a blank page


# --- a failing and a healthy feed, as a browser shows them -------------------------------------

OK_GREEN, FAILING_RED = (0xE3, 0xF4, 0xE8), (0xFD, 0xE7, 0xE9)  # .state-ok / .state-never in pages


async def test_screenshot_shows_a_failing_and_a_healthy_feed(tmp_path: Path) -> None:
    # What a user sees: the Hải Phòng card says in red that the portal was never read (4 tries,
    # the admin's error line, the next try); the Sở TT&TT card says in green that all is well,
    # with its newest item and last read. Both boxes are on screen, not only in the DOM.
    store = Store.open(tmp_path / "newsbot.db")
    store.add_items("sotttt", ITEMS["sotttt"], T0)
    store.save_health(FeedHealth("sotttt", last_poll_at=T0, last_success_at=T0, seeded=True,
                                 next_poll_at=T0 + timedelta(minutes=10)))
    store.save_health(FeedHealth(
        "haiphong", last_poll_at=T0, consecutive_failures=4,
        next_poll_at=T0 + timedelta(minutes=20),
        last_error="haiphong: https://haiphong.gov.vn/tin-tuc-su-kien: connection refused"))
    app = create_app(store=store, feeds=FEEDS, public_url="http://localhost:8080",
                     health=lambda: (True, {}))
    server = await serve(app, "127.0.0.1", 0)
    try:
        url = f"http://127.0.0.1:{server.port}/"
        dom = lxml.html.fromstring(await run_chromium(tmp_path, "--accept-lang=vi", "--dump-dom",
                                                      url))
        shot = Path(os.environ.get("NEWSBOT_SCREENSHOT_DIR", tmp_path)) / "index-states.png"
        await run_chromium(tmp_path, "--accept-lang=vi", "--window-size=900,1400",
                           f"--screenshot={shot}", url)
    finally:
        await server.stop()
        store.close()
    failing = dom.get_element_by_id("haiphong").cssselect("p.state")[0].text_content()
    healthy = dom.get_element_by_id("sotttt").cssselect("p.state")[0].text_content()
    assert failing.startswith("Chưa đọc được trang nguồn lần nào (4 lần thử).")
    assert "connection refused" in failing and "Lần thử tới: 28/11/2024 15:20" in failing
    assert healthy.startswith("Hoạt động bình thường · tin mới gần nhất: 28/11/2024 15:00")
    width, height, colours = png.pixels(shot.read_bytes())
    assert (width, height) == (900, 1400)
    # each box paints thousands of pixels of its own background
    assert colours[FAILING_RED] > 5_000 and colours[OK_GREEN] > 5_000, colours.most_common(8)
