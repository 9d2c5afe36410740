"""Honest status where the user looks: each feed's state in words on the index page (reader's
language), an empty feed that says why it is empty (no invented date), /healthz degraded or
failing, and the Telegram bot's t.me links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import lxml.html
import pytest_asyncio
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from bot.model import FeedHealth, Item
from bot.publish.feedmeta import FeedMeta
from bot.publish.status import describe, empty_feed_note, feed_state, feed_status, overall_status
from bot.publish.web import create_app
from bot.store.db import Store

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2024, 11, 28, 7, 30, tzinfo=UTC)  # 14:30 in Hải Phòng
ERROR = "haiphong: https://haiphong.gov.vn/tin-tuc-su-kien: connection refused (is the site down?)"
FEEDS = {
    "haiphong": FeedMeta("haiphong", "Cổng TTĐT Hải Phòng", "https://haiphong.gov.vn/"),
    "sotttt": FeedMeta("sotttt", "Sở TT&TT", "https://stttt.haiphong.gov.vn/", language="vi"),
}
NEVER = FeedHealth("haiphong", last_poll_at=T0, last_error=ERROR, consecutive_failures=4,
                   next_poll_at=T0 + timedelta(minutes=20))
HEALTHY = FeedHealth("sotttt", last_poll_at=T0, last_success_at=T0,
                     next_poll_at=T0 + timedelta(minutes=10), seeded=True)


# --- the states and their words -----------------------------------------------------------------


def test_each_state_in_words_in_both_languages() -> None:
    waiting = FeedHealth("x", next_poll_at=T0)
    retrying = replace(NEVER, last_success_at=T0 - timedelta(hours=3))
    held = replace(HEALTHY, held_back_at=T0, held_back_items=40)
    assert [feed_state(h).kind for h in (waiting, HEALTHY, held, retrying, NEVER)] == [
        "waiting", "ok", "held", "retrying", "never"]
    new_at = T0 - timedelta(hours=1)
    assert describe(feed_state(HEALTHY, new_at), "vi", HCM) == (
        "Hoạt động bình thường · tin mới gần nhất: 28/11/2024 13:30 · đọc được lần cuối: "
        "28/11/2024 14:30.")
    assert describe(feed_state(retrying), "en", HCM) == (
        f"Retrying: not read since 28/11/2024 11:30 (4 failures in a row). Last error: {ERROR} "
        "Next try: 28/11/2024 14:50.")
    assert describe(feed_state(NEVER), "vi", HCM).startswith(
        "Chưa đọc được trang nguồn lần nào (4 lần thử). Lỗi gần nhất: haiphong: ")
    assert "40 new items appeared at once (28/11/2024 14:30)" in describe(
        feed_state(held), "en", HCM)
    assert describe(feed_state(waiting), "en", HCM) == "Not read yet; first read: 28/11/2024 14:30."


def test_only_a_feed_never_read_says_so_in_the_feed() -> None:
    assert empty_feed_note(HEALTHY, "vi", HCM) is None
    note = empty_feed_note(NEVER, "en", HCM)
    assert note is not None and note.startswith("No items yet: newsbot has not managed to read")
    assert ERROR in note and "Next try: 28/11/2024 14:50" in note


HEALTHS = st.builds(
    FeedHealth,
    feed_id=st.just("f"),
    last_poll_at=st.none() | st.just(T0),
    last_success_at=st.none() | st.just(T0 - timedelta(days=1)),
    # braces left out so that a "{" in the words can only be a placeholder left unformatted
    last_error=st.none() | st.text(st.characters(exclude_characters="{}"), max_size=600),
    consecutive_failures=st.integers(0, 50),
    next_poll_at=st.none() | st.just(T0),
    held_back_at=st.none() | st.just(T0),
    held_back_items=st.integers(0, 500),
)


@given(HEALTHS, st.sampled_from(["vi", "en"]))
def test_any_record_reads_as_one_bounded_line_that_names_a_failure(
    health: FeedHealth, lang: str
) -> None:
    words = describe(feed_state(health), lang, HCM)  # type: ignore[arg-type]
    assert "\n" not in words and len(words) < 700 and "{" not in words
    state = feed_state(health)
    assert state.failing == (health.consecutive_failures > 0)
    if state.failing and (health.last_error or "").split():
        assert " ".join(health.last_error.split())[:40] in words  # type: ignore[union-attr]


def test_healthz_top_line_degraded_when_any_failing_when_all() -> None:
    failing = feed_status(NEVER, alert_after_failures=3)
    first_failure = feed_status(replace(NEVER, consecutive_failures=1), alert_after_failures=3)
    ok = feed_status(HEALTHY, alert_after_failures=3)
    assert (failing["status"], first_failure["status"], ok["status"]) == (
        "failing", "retrying", "ok")
    assert failing["state"] == "never" and failing["never_succeeded"] is True
    assert overall_status([ok, ok]) == "ok"
    assert overall_status([ok, first_failure]) == "degraded"
    assert overall_status([ok, failing]) == "degraded"
    assert overall_status([failing, failing]) == "failing"
    assert overall_status([]) == "ok"


# --- what the web server shows -------------------------------------------------------------------


@pytest_asyncio.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = Store.open(tmp_path / "newsbot.db")
    store.add_items("sotttt", [Item("sotttt", "1", "https://stttt.haiphong.gov.vn/1",
                                    "Hội nghị chuyển đổi số", published_at=T0)], T0)
    store.save_health(HEALTHY)
    store.save_health(NEVER)
    status = {"status": "degraded"}
    app = create_app(store=store, feeds=FEEDS, public_url="http://feeds.test",
                     health=lambda: (True, status), bot_username=lambda: "hp_news_bot")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feeds.test") as http:
        http.status = status  # type: ignore[attr-defined]
        yield http
    store.close()


async def test_index_says_each_feeds_state_in_the_readers_language(
    client: httpx.AsyncClient,
) -> None:
    for lang, failing_words, ok_words in [
        ("vi", "Chưa đọc được trang nguồn lần nào (4 lần thử)", "Hoạt động bình thường"),
        ("en", "Never read successfully yet (4 tries)", "OK · last new item: 28/11/2024 14:30"),
    ]:
        page = lxml.html.fromstring((await client.get("/", headers={"Accept-Language": lang})).text)
        failing = page.get_element_by_id("haiphong").cssselect("p.state")[0]
        assert "state-never" in failing.get("class")
        assert failing_words in failing.text_content() and ERROR in failing.text_content()
        assert "Next try: 28/11/2024 14:50" in failing.text_content() or lang == "vi"
        healthy = page.get_element_by_id("sotttt").cssselect("p.state")[0]
        assert "state-ok" in healthy.get("class") and ok_words in healthy.text_content()


async def test_index_links_each_feed_to_the_running_bot(client: httpx.AsyncClient) -> None:
    page = lxml.html.fromstring((await client.get("/")).text)
    assert "@hp_news_bot" in page.text_content()
    links = {a.get("href") for a in page.cssselect("a.telegram")}
    assert links == {f"https://t.me/hp_news_bot?start={feed_id}" for feed_id in FEEDS}


async def test_a_feed_never_read_says_why_it_is_empty_without_an_invented_date(
    client: httpx.AsyncClient,
) -> None:
    rss = etree.fromstring((await client.get("/feeds/haiphong.xml")).content)
    description = rss.findtext("channel/description") or ""
    assert description.startswith("Chưa có tin: newsbot chưa đọc được trang nguồn lần nào")
    assert ERROR in description
    assert rss.findtext("channel/lastBuildDate") == "Thu, 28 Nov 2024 14:30:00 +0700"  # last try
    atom = (await client.get("/feeds/haiphong.atom")).text
    assert "2000-01-01" not in atom and "2024-11-28T14:30:00+07:00" in atom
    served = (await client.get("/feeds/sotttt.xml")).text  # a feed with items: no such note
    assert "Chưa có tin" not in served


async def test_healthz_is_503_only_when_every_feed_fails(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200  # degraded
    client.status["status"] = "failing"  # type: ignore[attr-defined]
    failing = await client.get("/healthz")
    assert failing.status_code == 503 and failing.json()["status"] == "failing"
