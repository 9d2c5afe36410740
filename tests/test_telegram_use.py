"""Issue 14: the bot used as people use it, end to end through the fake Bot API (which refuses
what Telegram refuses) with the real PTB client, the real Commands and a real SQLite store."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fakes.telegram_api import (
    ApiError,
    FakeBotAPI,
    SentMessage,
    check_message_text,
    check_reply_markup,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.model import Chat, Item
from bot.store.db import Store
from bot.telegram import ptb as tg
from bot.telegram.commands.dispatch import CommandContext, Commands, Reply
from bot.telegram.delivery import Deliverer
from bot.telegram.feedinfo import FeedInfo
from bot.telegram.messages import split_message, utf16_len
from bot.telegram.pacing import Pacer, Pacing

TOKEN = "123456:TEST-token"
USER, EN_USER = 4242, 5353
PROVINCES = ["Hải Phòng", "Hà Nội", "Thừa Thiên Huế", "Đà Nẵng", "Quảng Ninh", "Cần Thơ"]


def many_feeds(count: int) -> dict[str, FeedInfo]:
    """`count` feeds with long Vietnamese titles, as a province-wide install has."""
    feeds = {}
    for n in range(count):
        province = PROVINCES[n % len(PROVINCES)]
        feed_id = f"so-{n:03}"
        feeds[feed_id] = FeedInfo(feed_id, f"Sở Thông tin và Truyền thông {province} {n}",
                                  url=f"https://bot.example/feeds/{feed_id}.xml")
    return feeds


@dataclass
class Bot:
    fake: FakeBotAPI
    store: Store
    commands: Commands
    app: tg.App
    pacer: Pacer

    async def ask(self, user: int, text: str, *, chat_id: int | None = None,
                  language: str = "vi") -> SentMessage:
        """Send a command; the bot's next message to that chat."""
        chat = user if chat_id is None else chat_id
        before = len(self.fake.messages_to(chat))
        self.fake.user_message(user, text, chat_id=chat_id, language_code=language)
        await self.fake.wait_for(lambda: len(self.fake.messages_to(chat)) > before, 10)
        return self.fake.messages_to(chat)[before]

    async def press(self, user: int, data: str, message: SentMessage, *,
                    language: str = "vi") -> SentMessage:
        """Press a button under `message`; the message as the bot redrew it."""
        before = len(self.fake.edits)
        self.fake.callback(user, data, message, language_code=language)
        await self.fake.wait_for(lambda: len(self.fake.edits) > before, 10)
        return self.fake.edits[-1]


@asynccontextmanager
async def running_bot(store: Store, feeds: dict[str, FeedInfo], *, scale: float = 0.01,
                      channels: tuple[int | str, ...] = (),
                      prepare: Callable[[FakeBotAPI], None] | None = None, **options: object
                      ) -> AsyncIterator[Bot]:
    """The bot on the fake, both at `scale` (1 s of Telegram's time lasts `scale` s);
    `prepare` sets the fake up before the bot starts."""
    fake = await FakeBotAPI(token=TOKEN, time_scale=scale).start()
    if prepare is not None:
        prepare(fake)
    commands = Commands(store, feeds, **options)  # type: ignore[arg-type]
    pacer = Pacer(Pacing(time_scale=scale))
    app = tg.build_application(TOKEN, pacer=pacer, base_url=fake.base_url, commands=commands,
                               store=store, channels=channels)
    await tg.start_bot(app, poll_timeout=1)
    try:
        yield Bot(fake, store, commands, app, pacer)
    finally:
        await tg.stop_bot(app)
        await fake.stop()
    assert fake.unimplemented == []


@pytest.fixture
def feeds150() -> dict[str, FeedInfo]:
    return many_feeds(150)


def visible(message: SentMessage) -> str:
    assert message.text is not None
    return check_message_text(message.text, message.parse_mode)


# ---------------------------------------------------------------- bugs 1 and 2: 150 feeds


async def test_start_with_150_feeds_fits_one_message_and_keeps_the_tips(
    store: Store, feeds150: dict[str, FeedInfo]
) -> None:
    async with running_bot(store, feeds150) as bot:
        reply = await bot.ask(USER, "/start")
        assert bot.fake.errors_with(400) == []
        text = visible(reply)
        assert reply.parse_mode == "HTML"  # not the plain-text fallback
        assert len(store.subscriptions_of(USER)) == 150
        assert "… và 140 nguồn khác: xem /feeds" in text
        assert "/include giao thông, Hải An" in text and "/exclude quảng cáo" in text


async def test_feeds_pages_150_feeds_and_every_page_is_accepted(
    store: Store, feeds150: dict[str, FeedInfo]
) -> None:
    async with running_bot(store, feeds150) as bot:
        listing = await bot.ask(USER, "/feeds", language="en")
        assert "page 1/19 · 150 feeds" in visible(listing)
        seen = [d for d in listing.button_data() if d.startswith("sub:")]
        page = listing
        for _ in range(18):
            (turn,) = [d for d in page.button_data() if d.startswith("fl:") and d != "fl:0"][-1:]
            page = await bot.press(USER, turn, page, language="en")
            seen += [d for d in page.button_data() if d.startswith("sub:")]
        assert "page 19/19" in visible(page)
        assert [d.split(":")[1] for d in seen] == list(feeds150)
        follow = next(d for d in page.button_data() if d.startswith("sub:"))
        redrawn = await bot.press(USER, follow, page, language="en")
        assert "page 19/19" in visible(redrawn)  # the toggle redraws the page it was on
        assert store.subscriptions_of(USER) == [follow.split(":")[1]]
        assert bot.fake.errors_with(400) == []


async def test_feeds_with_words_lists_only_the_feeds_that_have_them(
    store: Store, feeds150: dict[str, FeedInfo]
) -> None:
    async with running_bot(store, feeds150) as bot:
        found = await bot.ask(USER, "/feeds thua thien")
        text = visible(found)
        assert "Nguồn tin có “thua thien”" in text and "25 nguồn" in text
        assert all("Thừa Thiên Huế" in line for line in text.splitlines() if "so-" in line)
        turned = await bot.press(USER, found.button_data()[-1], found)
        assert "trang 2/4" in visible(turned)
        assert all(int(d.split(":")[1][3:]) % 6 == 2
                   for d in turned.button_data() if d.startswith("sub:"))
        nothing = await bot.ask(USER, "/feeds sài gòn")
        assert "Không có nguồn tin nào có “sài gòn”" in visible(nothing)


def test_the_fake_refuses_what_telegram_refuses() -> None:
    def markup(buttons: int, per_row: int = 1, data: str = "x") -> dict[str, object]:
        rows = [[{"text": "t", "callback_data": data}] * per_row for _ in range(buttons)]
        return {"inline_keyboard": rows}

    check_reply_markup(markup(100))
    for bad in (markup(101), markup(1, per_row=9), markup(1, data="đ" * 33),
                {"inline_keyboard": [[{"text": "x" * 11000, "callback_data": "x"}]]}):
        with pytest.raises(ApiError):
            check_reply_markup(bad)
    with pytest.raises(ApiError, match="too long"):
        check_message_text("😀" * 2049, None)  # 2049 code points, 4098 UTF-16 units


# ---------------------------------------------------------------- bug 4: replies share the pace


async def test_a_group_of_3_sending_30_commands_in_20_s_gets_every_reply_and_no_429(
    store: Store
) -> None:
    scale = 0.05
    feeds = many_feeds(3)
    group = -1001500
    store.upsert_chat(Chat(group, kind="supergroup"))
    for feed_id in feeds:
        store.subscribe(group, feed_id)
    items = [Item("so-000", f"n{n}", f"https://x.vn/{n}", f"Tin {n}") for n in range(6)]
    store.add_items("so-000", items, datetime.now(UTC), route=lambda _: [(group, None)])
    async with running_bot(store, feeds, scale=scale) as bot:
        bot.fake.add_chat(group, "supergroup", title="Tổ dân phố 5")
        deliverer = Deliverer(store, tg.PtbSender(bot.app.bot), feeds, Pacing(time_scale=scale),
                              pacer=bot.pacer)
        delivering = asyncio.create_task(deliverer.drain())
        for n in range(30):
            user = (1, 2, 3)[n % 3]
            bot.fake.user_message(user, "/filters", chat_id=group)
            await asyncio.sleep(20 / 30 * scale)
        await delivering
        await bot.fake.wait_for(lambda: len(bot.fake.messages_to(group)) == 36, 60)
        assert bot.fake.errors == [] and bot.fake.flood_violations == []
        texts = [m.text or "" for m in bot.fake.messages_to(group)]
        assert sum("Chưa có bộ lọc nào" in t for t in texts) == 30
        assert sum("Tin " in t for t in texts) == 6


# ---------------------------------------------------------------- bug 3: UTF-16 lengths


async def test_emoji_heavy_filters_are_answered_within_telegrams_utf16_limit(
    store: Store
) -> None:
    feeds = many_feeds(3)

    def emoji_keywords(mark: str) -> str:
        return ", ".join(f"{mark * 40} số {n}" for n in range(20))  # ~1,800 UTF-16 units

    async with running_bot(store, feeds) as bot:
        for line in (f"/include {emoji_keywords('🌊')}", f"/exclude {emoji_keywords('🌀')}",
                     f"/include so-000: {emoji_keywords('🚢')}",
                     f"/include so-001: {emoji_keywords('⚓️')}"):
            reply = await bot.ask(USER, line)
            assert reply.parse_mode == "HTML" and "Đã cập nhật bộ lọc" in visible(reply)
        listing = await bot.ask(USER, "/filters")
        text = visible(listing)
        assert listing.parse_mode == "HTML" and bot.fake.errors_with(400) == []
        assert 3000 < utf16_len(text) <= 4096 and text.endswith("…")


def test_long_replies_are_split_between_lines_under_4096_utf16_units() -> None:
    lines = [f"<b>{n}</b> {'😀' * 30} <i>dòng {n}</i>" for n in range(200)]
    parts = split_message("\n".join(lines))
    assert len(parts) > 1
    assert "\n".join(parts) == "\n".join(lines)  # nothing lost, nothing cut inside a line
    for part in parts:
        assert utf16_len(check_message_text(part, "HTML")) <= 4096


# ---------------------------------------------------------------- bug 5: configured channels


async def test_configured_channels_follow_the_default_feeds_at_start_without_a_message(
    store: Store
) -> None:
    feeds = many_feeds(3)

    def channels(fake: FakeBotAPI) -> None:  # as on Telegram, they exist before the bot starts
        fake.add_chat(-1003333, "channel", title="Tin Hải Phòng", username="tin_hai_phong")
        fake.add_chat(-1004444, "supergroup", title="Not a channel")

    async with running_bot(store, feeds, channels=("@tin_hai_phong", -1004444, "@gone"),
                           prepare=channels) as bot:
        assert store.subscriptions_of(-1003333) == sorted(feeds)
        assert store.chat(-1003333) == Chat(-1003333, kind="channel", title="Tin Hải Phòng")
        assert store.subscriptions_of(-1004444) == []  # a group is not a channel
        bot.fake.channel_post(-1003333, "/start")
        bot.fake.user_message(USER, "/help")  # answered after the channel post was handled
        await bot.fake.wait_for(lambda: bot.fake.messages_to(USER), 10)
        assert bot.fake.messages_to(-1003333) == []  # nothing posted to the channel's readers


# ---------------------------------------------------------------- bug 6: a pause keeps the news


def publish(store: Store, feed_id: str, titles: list[str]) -> None:
    """New items routed as the pipeline routes them: to every chat subscribers_of names."""
    items = [Item(feed_id, f"{feed_id}-{t}", f"https://x.vn/{feed_id}/{n}", t)
             for n, t in enumerate(titles)]
    chats = [s.chat_id for s in store.subscribers_of(feed_id)]
    store.add_items(feed_id, items, datetime.now(UTC), route=lambda _: [(c, None) for c in chats])


@pytest.mark.parametrize("skip", [False, True])
async def test_news_published_during_a_pause_comes_as_one_digest_after_resume(
    store: Store, skip: bool
) -> None:
    feeds = many_feeds(1)
    async with running_bot(store, feeds) as bot:
        deliverer = Deliverer(store, tg.PtbSender(bot.app.bot), feeds, Pacing(time_scale=0.01),
                              pacer=bot.pacer)
        await bot.ask(USER, "/start")
        paused = await bot.ask(USER, "/pause")
        assert "/resume skip" in visible(paused)
        publish(store, "so-000", ["Cảng Lạch Huyện", "Cầu Rào 2", "Chợ Sắt"])
        assert (await deliverer.drain()).sent == 0  # nothing while paused
        resumed = await bot.ask(USER, "/resume skip" if skip else "/resume")
        await deliverer.drain()
        messages = bot.fake.messages_to(USER)
        if skip:
            assert "bỏ qua 3 tin" in visible(resumed) and messages[-1] is resumed
            assert store.outbox_counts()["pending"] == 0
            return
        assert "3 tin đến trong lúc tạm dừng" in visible(resumed)
        digest = visible(messages[-1])
        assert digest.startswith("⏸ Tin trong lúc bạn tạm dừng: 3 tin")
        assert all(title in digest for title in ("Cảng Lạch Huyện", "Cầu Rào 2", "Chợ Sắt"))
        assert len(messages) == 4  # /start, /pause, /resume, one digest
        publish(store, "so-000", ["Phà Đình Vũ"])
        await deliverer.drain()
        assert visible(bot.fake.messages_to(USER)[-1]).startswith("Phà Đình Vũ")  # one by one


# ---------------------------------------------------------------- what users ask for


def labels_of(message: SentMessage) -> list[str]:
    rows = (message.reply_markup or {}).get("inline_keyboard", [])
    return [str(button["text"]) for row in rows for button in row]


async def test_format_buttons_shape_the_items_a_chat_gets(store: Store) -> None:
    feeds = many_feeds(1)
    async with running_bot(store, feeds) as bot:
        deliverer = Deliverer(store, tg.PtbSender(bot.app.bot), feeds, Pacing(time_scale=0.01),
                              pacer=bot.pacer)
        await bot.ask(USER, "/start")
        view = await bot.ask(USER, "/format")
        assert "Đang dùng: đầy đủ" in visible(view)
        assert view.button_data() == ["fmt:full", "fmt:compact", "fmt:title", "fmt:preview"]
        compact = await bot.press(USER, "fmt:compact", view)
        assert "✅ Gọn" in labels_of(compact) and "Đang dùng: gọn" in visible(compact)
        previewed = await bot.press(USER, "fmt:preview", compact)
        assert "Xem trước liên kết: bật" in visible(previewed)
        publish(store, "so-000", ["Cảng Lạch Huyện đón tàu 200.000 tấn"])
        await deliverer.drain()
        item = bot.fake.last_to(USER)
        assert item.text == ('<b>Cảng Lạch Huyện đón tàu 200.000 tấn</b>\n'
                             '<a href="https://x.vn/so-000/0">Xem chi tiết</a>')
        assert item.link_preview_options is None  # previews on for this chat
        await bot.ask(USER, "/format tiêu-đề")
        publish(store, "so-000", ["Cầu Hoàng Văn Thụ thông xe"])
        await deliverer.drain()
        assert bot.fake.last_to(USER).text == (
            '<a href="https://x.vn/so-000/0">Cầu Hoàng Văn Thụ thông xe</a>')
        assert store.chat_settings(USER).format == "title"


async def test_one_keyword_goes_by_its_button_or_with_a_minus(store: Store) -> None:
    async with running_bot(store, many_feeds(2)) as bot:
        await bot.ask(USER, "/include cảng, cầu, Hải An")
        await bot.ask(USER, "/exclude so-001: quảng cáo")
        listing = await bot.ask(USER, "/filters")
        assert labels_of(listing) == ["✖ cảng", "✖ cầu", "✖ Hải An", "✖ quảng cáo · so-001"]
        redrawn = await bot.press(USER, listing.button_data()[0], listing)
        assert store.keyword_filter(USER).include == ("cầu", "Hải An")
        assert "✖ cảng" not in labels_of(redrawn)
        await bot.ask(USER, "/include -hai an")  # accents and case aside, as filters match
        assert store.keyword_filter(USER).include == ("cầu",)
        missing = await bot.ask(USER, "/exclude so-001: -mua bán")
        assert "không có từ khoá" in visible(missing).lower()
        assert store.keyword_filter(USER, "so-001").exclude == ("quảng cáo",)


async def test_stop_asks_first_and_forgets_only_on_yes(store: Store) -> None:
    async with running_bot(store, many_feeds(2)) as bot:
        await bot.ask(USER, "/start")
        question = await bot.ask(USER, "/stop")
        assert question.button_data() == ["stp:yes", "stp:no"]
        assert "Đã giữ nguyên" in visible(await bot.press(USER, "stp:no", question))
        assert store.subscriptions_of(USER) == ["so-000", "so-001"]
        question = await bot.ask(USER, "/stop")
        assert "Đã huỷ theo dõi" in visible(await bot.press(USER, "stp:yes", question))
        assert store.chat(USER) is None


async def test_a_members_tap_is_answered_privately_and_chatter_gets_a_hint(
    store: Store
) -> None:
    group, admin, member = -1001600, 1, 2
    async with running_bot(store, many_feeds(2)) as bot:
        bot.fake.add_chat(group, "supergroup", title="Khu phố 3")
        bot.fake.set_admins(group, [admin])
        listing = await bot.ask(member, "/feeds", chat_id=group)  # reading is for everyone
        edits = len(bot.fake.edits)
        bot.fake.callback(member, listing.button_data()[0], listing)
        await bot.fake.wait_for(lambda: bot.fake.answered_callbacks, 10)
        (answer,) = bot.fake.answered_callbacks
        assert str(answer.get("show_alert")).lower() == "true"
        assert "quản trị viên" in str(answer["text"])
        assert bot.fake.messages_to(group) == [listing] and len(bot.fake.edits) == edits
        assert store.subscriptions_of(group) == []
        hint = await bot.ask(USER, "xin chào bot")
        assert "/help" in visible(hint)


async def test_a_new_user_exploring_gets_every_answer(store: Store) -> None:
    async with running_bot(store, many_feeds(3)) as bot:
        commands = ["/start", "/help", "/feeds", "/filters", "/latest", "/sections", "/quiet",
                    "/digest", "/urgent", "/edits", "/format", "/lang", "/tim cảng", "/export",
                    "/help"]
        for command in commands:  # typed in quick succession
            bot.fake.user_message(USER, command)
        await bot.fake.wait_for(lambda: len(bot.fake.messages_to(USER)) >= len(commands), 15)
        texts = [visible(m) for m in bot.fake.messages_to(USER)]
        assert not any("hơi nhanh" in text for text in texts)
        assert bot.fake.errors == []


async def test_export_sends_the_chats_feeds_as_an_opml_file(store: Store) -> None:
    feeds = many_feeds(4)
    async with running_bot(store, feeds, public_url="https://tin.example.vn") as bot:
        await bot.ask(USER, "/subscribe so-001")
        await bot.ask(USER, "/subscribe so-003")
        before = len(bot.fake.sent)
        bot.fake.user_message(USER, "/export")
        await bot.fake.wait_for(lambda: any(m.method == "sendDocument"
                                            for m in bot.fake.sent[before:]), 10)
        (file,) = [m for m in bot.fake.sent[before:] if m.method == "sendDocument"]
        assert file.document == "newsbot.opml" and file.document_bytes is not None
        outlines = ET.fromstring(file.document_bytes).findall("./body/outline")
        assert [(o.get("title"), o.get("xmlUrl")) for o in outlines] == [
            (feeds["so-001"].title, "https://tin.example.vn/feeds/so-001.xml"),
            (feeds["so-003"].title, "https://tin.example.vn/feeds/so-003.xml"),
        ]


async def test_english_users_get_the_search_menu_zoned_dates_and_singulars(store: Store) -> None:
    feeds = many_feeds(1)
    async with running_bot(store, feeds) as bot:
        deliverer = Deliverer(store, tg.PtbSender(bot.app.bot), feeds, Pacing(time_scale=0.01),
                              pacer=bot.pacer)
        menu = {c["command"] for c in bot.fake.commands[("default", "en")]}
        assert "search" in menu and "tim" not in menu
        assert "tim" in {c["command"] for c in bot.fake.commands[("default", "vi")]}
        await bot.ask(EN_USER, "/start", language="en")
        publish(store, "so-000", ["Lach Huyen port welcomes a 200,000-tonne ship"])
        await deliverer.drain()
        assert "UTC+7" in visible(bot.fake.last_to(EN_USER))
        latest = await bot.ask(EN_USER, "/latest", language="en")
        assert visible(latest).startswith("The newest item")  # not "1 newest items"
        french = await bot.ask(6161, "/help", language="fr")
        assert visible(french).startswith("newsbot sends new items")


def test_a_tampered_search_page_offers_the_first_page(store: Store) -> None:
    commands = Commands(store, many_feeds(1))
    ctx = CommandContext(USER, "private", USER, "en")
    store.add_items("so-000", [Item("so-000", "1", "https://x.vn/1", "Cảng Hải Phòng")],
                    datetime.now(UTC))
    first = commands.run(ctx, "tim", "cảng")
    assert first is not None and "Cảng Hải Phòng" in first.text
    key = next(iter(commands._searches))  # the page buttons carry `s:<key>:<page>`
    beyond = commands.press(ctx, f"s:{key}:999")
    assert beyond is not None and beyond.text == "No more results."
    assert [b.data for row in beyond.buttons for b in row] == [f"s:{key}:0"]


# ---------------------------------------------------------------- the class of bugs 1-3


def markup_json(reply: Reply) -> dict[str, object]:
    rows = [[{"text": b.text, "callback_data": b.data} for b in row] for row in reply.buttons]
    return {"inline_keyboard": rows}


FEED_ID = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-đ", min_size=1, max_size=70)
TITLE = st.text(alphabet="Hải Phòng Đà Nẵng😀🚢 &<>abc", min_size=1, max_size=120)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(ids=[f"feed-{'đ' * 25}-{n}" for n in range(150)], title="Sở Thông tin 😀" * 8,
         sections=120, keywords=50)
@given(ids=st.lists(FEED_ID, max_size=150, unique=True), title=TITLE,
       sections=st.integers(0, 120), keywords=st.integers(0, 50))
def test_every_list_telegram_gets_is_one_telegram_accepts(
    ids: list[str], title: str, sections: int, keywords: int
) -> None:
    """Any number of feeds, sections and keywords, any titles: each reply's keyboard is within
    Telegram's limits and its text splits into messages Telegram accepts."""
    feeds = {f: FeedInfo(f, f"{title} {n}", sections=tuple(
        (f"s{k}-{title[:20]}", f"{title} {k}") for k in range(sections if n == 0 else 0)))
        for n, f in enumerate(ids)}
    with Store.open(":memory:") as store:
        commands = Commands(store, feeds)
        ctx = CommandContext(USER, "private", USER, "vi")
        if keywords:
            commands.run(ctx, "include", ", ".join(f"{title[:60]} {k}" for k in range(keywords)))
        replies = [commands.run(ctx, name, "") for name in ("feeds", "sections", "filters")]
        replies.append(commands.run(ctx, "start", ""))
        page = replies[0]
        for _ in range(25):  # through the /feeds pages
            assert page is not None
            turn = [b.data for row in page.buttons for b in row if b.data.startswith("fl:")]
            if not turn:
                break
            page = commands.press(ctx, turn[-1])
            replies.append(page)
        for reply in replies:
            assert reply is not None
            check_reply_markup(markup_json(reply))
            for part in split_message(reply.text):
                check_message_text(part, "HTML")
