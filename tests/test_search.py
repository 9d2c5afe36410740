"""Search: Store.search (accent-folding, whole words, every phrase, bounded), /tim with ◀ ▶ pages
(on the Commands and through real PTB against the fake Bot API), and the web's /search page."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import feedparser
import httpx
import pytest
from fakes.telegram_api import FakeBotAPI, parse_telegram_html
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import filters
from bot.errors import KeywordError
from bot.model import Item, KeywordFilter
from bot.publish.feedmeta import FeedMeta
from bot.publish.serving import serve
from bot.publish.web import create_app
from bot.search import MAX_QUERY_CHARS, Matcher, parse_query
from bot.store.db import Store
from bot.telegram import ptb as tg
from bot.telegram.commands.dispatch import (
    CALLBACK_DATA_MAX_BYTES,
    CommandContext,
    Commands,
    FeedInfo,
    Reply,
)
from bot.telegram.pacing import Pacer, Pacing

pytestmark = pytest.mark.backends

T0 = datetime(2024, 11, 28, 7, 0, tzinfo=UTC)
TITLES = [  # newest first
    "Phường Hải An khởi công cầu mới",
    "Ánh sáng đô thị: lễ hội mùa xuân",
    "Giải phóng mặt bằng quận Hải An",
    "Đà Nẵng và Hải Phòng ký kết hợp tác",
    "Tin <b>tiêu điểm</b> & bình luận về Hải An",
    "Lịch tiếp công dân",
    "Hải An: khánh thành trường học",
    "Hội nghị Hải An lần thứ nhất",
]
USER = 42


def fast_pacer() -> Pacer:
    """Pacing at the fake's time scale (1 s of Telegram time lasts 10 ms)."""
    return Pacer(Pacing(time_scale=0.01))


def items(feed_id: str = "hp") -> list[Item]:
    return [Item(feed_id, f"{feed_id}-{n}", f"https://{feed_id}.gov.vn/{n}?a=1&b=2", title,
                 summary="Tóm tắt" if n else "Cầu bắc qua sông Lạch Tray",
                 published_at=T0 - timedelta(hours=n))
            for n, title in enumerate(TITLES)]


@pytest.fixture
def store(store: Store) -> Store:
    db = store
    db.add_items("hp", items(), T0)
    db.add_items("dn", [Item("dn", "dn-1", "https://dn.gov.vn/1", "Hải An hợp tác với Đà Nẵng",
                             published_at=T0 - timedelta(minutes=30))], T0)
    return db


def titles(found: list[Item]) -> list[str]:
    return [item.title for item in found]


# ------------------------------------------------------------------ Store.search


def test_search_folds_accents_matches_whole_words_newest_first(store: Store) -> None:
    found = store.search(("hai an",), ["hp"], limit=20)
    assert titles(found) == [TITLES[0], TITLES[2], TITLES[4], TITLES[6], TITLES[7]]
    assert titles(store.search(("an",), ["hp"], limit=20)) == titles(found)  # not Ánh, not ban
    assert titles(store.search(("da nang",), None, limit=5)) == [
        "Hải An hợp tác với Đà Nẵng", TITLES[3]]  # every feed when none is named


def test_search_needs_every_phrase_and_looks_at_summaries(store: Store) -> None:
    assert titles(store.search(("Hải An", "cầu"), ["hp"])) == [TITLES[0]]
    assert titles(store.search(("lach tray",), ["hp"])) == [TITLES[0]]
    assert store.search(("hai an", "nonexistent"), ["hp"]) == []


def test_search_pages_and_bounds(store: Store) -> None:
    assert titles(store.search(("hai an",), ["hp"], limit=2, offset=2)) == [TITLES[4], TITLES[6]]
    assert store.search(("hai an",), ["hp"], limit=2, offset=10) == []
    assert titles(store.search(("hai an",), ["hp"], limit=20, scan=3)) == [TITLES[0], TITLES[2]]
    assert store.search(("hai an",), []) == [] and store.search((), None) == []


def test_search_reaches_past_the_first_batch() -> None:
    with Store.open(":memory:") as db:
        db.add_items("hp", [Item("hp", f"n{n}", f"https://hp.gov.vn/{n}", f"Tin thường {n}",
                                 published_at=T0 - timedelta(minutes=n)) for n in range(1200)],
                     T0)
        db.add_items("hp", [Item("hp", "old", "https://hp.gov.vn/old", "Tin Hải An cũ",
                                 published_at=T0 - timedelta(days=30))], T0)
        assert titles(db.search(("hai an",), ["hp"])) == ["Tin Hải An cũ"]
        assert db.search(("hai an",), ["hp"], scan=1000) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [("x" * (MAX_QUERY_CHARS + 1), "characters long"), ("", "empty"), (" , ; ", "empty"),
     ("!!!", "no letters"), (",".join(f"w{n}" for n in range(11)), "limit is 10")],
)
def test_parse_query_refuses_with_a_reason(query: str, message: str) -> None:
    with pytest.raises(KeywordError, match=message):
        parse_query(query)


# ------------------------------------------------------------------ /tim


BOT_FEEDS = {
    "hp": FeedInfo("hp", "Hải Phòng", url="https://haiphong.gov.vn/"),
    "dn": FeedInfo("dn", "Đà Nẵng", url="https://danang.gov.vn/"),
}


class Ticker:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=10)
        return self.at


@pytest.fixture
def bot(store: Store) -> Commands:
    return Commands(store, BOT_FEEDS, now=Ticker())


def ctx(language: str = "vi", chat_id: int = USER, kind: str = "private") -> CommandContext:
    return CommandContext(chat_id, kind, user_id=7, language_code=language)


def checked(reply: Reply | None) -> Reply:
    assert reply is not None
    parse_telegram_html(reply.text)
    for row in reply.buttons:
        for button in row:
            assert len(button.data.encode()) <= CALLBACK_DATA_MAX_BYTES
    return reply


def test_tim_pages_with_buttons(bot: Commands) -> None:
    first = checked(bot.run(ctx(), "tim", "hai an"))
    visible = parse_telegram_html(first.text)
    assert visible.startswith("Kết quả cho “hai an” · trang 1")
    assert "1. Phường Hải An khởi công cầu mới" in visible
    assert "4. Tin <b>tiêu điểm</b> & bình luận về Hải An" in visible  # escaped in the HTML
    assert "6." not in visible
    assert '<a href="https://hp.gov.vn/0?a=1&amp;b=2">' in first.text
    [[more]] = first.buttons
    assert more.text == "Sau ▶" and more.data.startswith("s:") and "hai" not in more.data
    second = checked(bot.press(ctx(), more.data))
    assert second.edit and "trang 2" in second.text
    assert "6. Hội nghị Hải An" in parse_telegram_html(second.text)
    [[back]] = second.buttons  # 6 results: no further page
    assert back.text == "◀ Trước"
    assert checked(bot.press(ctx(), back.data)).text == first.text


def test_tim_alias_english_empty_and_errors(bot: Commands) -> None:
    assert "Results for “lễ hội”" in checked(bot.run(ctx("en", 9), "search", "lễ hội")).text
    assert "Cách dùng: <code>/tim từ khoá</code>" in checked(bot.run(ctx(), "tim", "")).text
    none = checked(bot.run(ctx(), "tim", "sân bay")).text
    assert "Không có tin đã lưu nào khớp “sân bay”" in none
    assert "tối đa 200 ký tự" in checked(bot.run(ctx(), "tim", "x" * 201)).text
    assert "Tối đa 10 từ khoá" in checked(bot.run(ctx(), "tim", ",".join("abcdefghijk"))).text


def test_an_unknown_search_button_says_it_expired(store: Store, bot: Commands) -> None:
    reply = checked(bot.press(ctx(), "s:0123456789ab:1"))
    assert reply.edit and "đã cũ" in reply.text
    restarted = Commands(store, BOT_FEEDS, now=Ticker())  # memory is per process
    [[more]] = checked(bot.run(ctx(), "tim", "hai an")).buttons
    assert "đã cũ" in checked(restarted.press(ctx(), more.data)).text
    assert "đã cũ" in checked(bot.press(ctx(), more.data.rsplit(":", 1)[0] + ":x")).text


def test_group_members_may_search(bot: Commands) -> None:
    member = ctx(chat_id=-100777, kind="supergroup")
    assert "Kết quả" in checked(bot.run(member, "tim", "hai an")).text
    [[more]] = checked(bot.run(member, "tim", "hai an")).buttons
    assert "trang 2" in checked(bot.press(member, more.data)).text


async def test_tim_round_trip_through_ptb(store: Store) -> None:
    fake = await FakeBotAPI(time_scale=0.01).start()
    app = tg.build_application(fake.token, pacer=fast_pacer(), base_url=fake.base_url,
                               commands=Commands(store, BOT_FEEDS), store=store)
    await tg.start_bot(app, poll_timeout=1)
    try:
        fake.user_message(USER, "/tim Hải An")
        await fake.wait_for(lambda: fake.messages_to(USER))
        results = fake.last_to(USER)
        assert "trang 1" in (results.text or "")
        fake.callback(USER, results.button_data()[0], results)
        await fake.wait_for(lambda: fake.edits)
        assert "trang 2" in (fake.edits[-1].text or "")
        assert len(fake.messages_to(USER)) == 1  # turned in place
        menu = {c["command"] for c in fake.commands[("default", "vi")]}
        assert {"tim", "quiet", "urgent", "digest", "edits"} <= menu
    finally:
        await tg.stop_bot(app)
        await fake.stop()
    assert fake.unimplemented == [] and fake.errors_with(400) == []


# ------------------------------------------------------------------ the web


@pytest.fixture
async def web(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    feeds = {"hp": FeedMeta("hp", "Hải Phòng", "https://haiphong.gov.vn/"),
             "dn": FeedMeta("dn", "Đà Nẵng", "https://danang.gov.vn/")}
    app = create_app(store=store, feeds=feeds, public_url="http://feeds.test",
                     health=lambda: (True, {}))
    server = await serve(app, "127.0.0.1", 0)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as client:
        yield client
    await server.stop()


async def test_index_has_a_search_box(web: httpx.AsyncClient) -> None:
    page = (await web.get("/")).text
    assert '<form class="search" action="http://feeds.test/search" method="get"' in page
    assert 'name="q"' in page


async def test_search_page_lists_matches_escaped_and_paged(web: httpx.AsyncClient) -> None:
    response = await web.get("/search", params={"q": "hai an"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert 'value="hai an"' in page and "Kết quả cho “hai an” · trang 1" in page
    assert page.count("<li>") == 6  # five in hp, one in dn
    assert "Tin tiêu điểm &amp; bình luận" in page and "<b>tiêu" not in page  # markup: text
    assert 'href="https://hp.gov.vn/0?a=1&amp;b=2"' in page
    assert page.index("Phường Hải An") < page.index("Hải An hợp tác") < page.index("Giải phóng")
    english = await web.get("/search", params={"q": "Đà Nẵng"}, headers={"accept-language": "en"})
    assert "Results for “Đà Nẵng”" in english.text and english.text.count("<li>") == 2
    none = await web.get("/search", params={"q": "<script>"})
    assert none.status_code == 200 and "<script>" not in none.text
    assert "&lt;script&gt;" in none.text and "Không có tin nào" in none.text
    blank = await web.get("/search")
    assert blank.status_code == 200 and "<li>" not in blank.text


async def test_search_page_links_to_the_next_page(store: Store, web: httpx.AsyncClient) -> None:
    store.add_items("hp", [Item("hp", f"x{n}", f"https://hp.gov.vn/x{n}", f"Hải An số {n}",
                                published_at=T0 - timedelta(days=1, minutes=n))
                           for n in range(30)], T0)
    first = (await web.get("/search", params={"q": "hai an"})).text
    assert first.count("<li>") == 20
    assert 'href="http://feeds.test/search?q=hai+an&amp;page=2"' in first
    second = (await web.get("/search", params={"q": "hai an", "page": "2"})).text
    assert second.count("<li>") == 16 and "page=1" in second and "page=3" not in second


@pytest.mark.parametrize(
    ("params", "reason"),
    [({"q": "x" * 201}, "too long"), ({"q": "hai an", "page": "0"}, "page must be"),
     ({"q": "hai an", "page": "abc"}, "page must be"), ({"q": "!!!"}, "bad search")],
)
async def test_search_refuses_bad_queries_with_400(
    web: httpx.AsyncClient, params: dict[str, str], reason: str
) -> None:
    response = await web.get("/search", params=params)
    assert response.status_code == 400
    assert reason in html.unescape(response.text) and 'name="q"' in response.text


async def test_feeds_take_q_as_a_shorthand_for_include(web: httpx.AsyncClient) -> None:
    by_q = feedparser.parse((await web.get("/feeds/hp.xml", params={"q": "hai an"})).content)
    by_include = feedparser.parse(
        (await web.get("/feeds/hp.xml", params={"include": "hai an"})).content)
    assert [e.title for e in by_q.entries] == [e.title for e in by_include.entries]
    assert len(by_q.entries) == 5 and all("Ánh" not in e.title for e in by_q.entries)


# ------------------------------------------------------------------ the shortcut is exact

ALPHABET = st.sampled_from(
    [
        *"aAăâbdđĐeêiIoôơuưyhnẠạẢảẤấẦầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ ,.-:“”…–",
        *("ß", "ẞ", "İ", "ı", "ſ", "ŉ", "Ǆ", "ǅ", "²", "µ", "ﬁ", "Ω", "\u0301", "\u0323", "\u0308"),
    ]
)


@settings(max_examples=400, deadline=None)
@given(text=st.text(ALPHABET, max_size=40), phrase=st.text(ALPHABET, min_size=1, max_size=8))
def test_the_quick_test_never_changes_an_answer(text: str, phrase: str) -> None:
    if not filters.fold(phrase):
        return
    exact = filters.matches(KeywordFilter(include=(phrase,)), text)
    assert Matcher([phrase]).matches(text) == exact


def test_the_quick_test_rules_out_without_changing_known_answers() -> None:
    matcher = Matcher(["hai an", "Đồ Sơn"])
    assert matcher.matches("Quận HẢI AN và ĐỒ SƠN", "")
    assert matcher.matches("Hải An", "Đồ  Sơn — “biển”")
    assert not matcher.matches("Hải Phòng", "Đồ Sơn")
    assert Matcher(["ﬁle"]).matches("the ﬁle")  # outside the table: exact matcher only
    assert not Matcher([]).matches("anything")
