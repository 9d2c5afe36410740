"""Forum topics: /subscribe inside a topic routes that feed's items there (real PTB against the fake
Bot API, which checks message_thread_id), a deleted topic falls back to the chat; and the fake's
sendDocument."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from fakes.telegram_api import FakeBotAPI
from telegram import Bot, InputFile
from telegram.error import BadRequest

from bot.errors import MessageRejected, TopicGone
from bot.model import Item, Recipe
from bot.store.db import Store
from bot.telegram import ptb as tg
from bot.telegram.commands.dispatch import CommandContext, Commands, FeedInfo
from bot.telegram.delivery import Deliverer
from bot.telegram.feedinfo import feed_infos
from bot.telegram.pacing import Pacer, Pacing

FORUM = -1001234567890
ADMIN = 5
RECIPES = {
    "hp": Recipe("hp", "Hải Phòng", ("https://haiphong.gov.vn/tin",)),
    "hn": Recipe("hn", "Hà Nội", ("https://hanoi.gov.vn/tin",)),
}
FEEDS = {key: FeedInfo(key, r.title, url=r.urls[0]) for key, r in RECIPES.items()}
NOW = datetime.now(UTC)


def fast_pacer() -> Pacer:
    """Pacing at the fake's time scale (1 s of Telegram time lasts 10 ms)."""
    return Pacer(Pacing(time_scale=0.01))


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    server = await FakeBotAPI(time_scale=0.01).start()
    server.add_forum(FORUM, title="Phường Lê Chân")
    server.set_admins(FORUM, [ADMIN])
    yield server
    await server.stop()
    assert server.unimplemented == []


@pytest.fixture
async def bot_app(fake: FakeBotAPI, store: Store) -> AsyncIterator[tg.App]:
    app = tg.build_application(fake.token, pacer=fast_pacer(), base_url=fake.base_url,
                               commands=Commands(store, FEEDS), store=store)
    await tg.start_bot(app, poll_timeout=1)
    yield app
    await tg.stop_bot(app)


def deliverer(store: Store, app: tg.App) -> Deliverer:
    return Deliverer(store, tg.PtbSender(app.bot), feed_infos(RECIPES), Pacing(time_scale=0.01),
                     photos=True)


def arrive(store: Store, feed_id: str, title: str, *, image: str | None = None) -> None:
    subscribers = [s.chat_id for s in store.subscribers_of(feed_id)]
    n = len(store.items(feed_id, limit=1000))
    item = Item(feed_id, f"{feed_id}-{n}", f"https://{feed_id}.gov.vn/{n}", title,
                published_at=NOW - timedelta(minutes=1), image=image)
    store.add_items(feed_id, [item], NOW, route=lambda _: [(c, None) for c in subscribers])


async def test_subscribe_inside_topics_routes_each_feed_to_its_topic(
    fake: FakeBotAPI, store: Store, bot_app: tg.App
) -> None:
    roads = fake.create_topic(FORUM, "Giao thông")
    notices = fake.create_topic(FORUM, "Thông báo")
    fake.user_message(ADMIN, "/subscribe hp", chat_id=FORUM, thread_id=roads)
    await fake.wait_for(lambda: fake.messages_to(FORUM))
    fake.user_message(ADMIN, "/subscribe Hà Nội", chat_id=FORUM, thread_id=notices)
    await fake.wait_for(lambda: len(fake.messages_to(FORUM)) == 2)
    first, second = fake.messages_to(FORUM)
    # each answer lands in the topic it was asked in
    assert (first.message_thread_id, second.message_thread_id) == (roads, notices)
    assert "tin sẽ được gửi vào chủ đề này" in (first.text or "")
    assert store.subscription_threads(FORUM) == {"hp": roads, "hn": notices}

    arrive(store, "hp", "Cấm đường Lạch Tray")
    arrive(store, "hn", "Thông báo lịch tiếp dân", image="https://hanoi.gov.vn/a.jpg")
    stats = await deliverer(store, bot_app).drain()
    assert stats.sent == 2 and store.outbox_counts()["pending"] == 0
    road_news, notice_news = fake.messages_to(FORUM)[2:]
    assert (road_news.method, road_news.message_thread_id) == ("sendMessage", roads)
    assert "Cấm đường Lạch Tray" in (road_news.text or "")
    assert (notice_news.method, notice_news.message_thread_id) == ("sendPhoto", notices)


async def test_subscribing_again_elsewhere_moves_the_feed(
    fake: FakeBotAPI, store: Store, bot_app: tg.App
) -> None:
    topic = fake.create_topic(FORUM, "Tin Hải Phòng")
    fake.user_message(ADMIN, "/subscribe hp", chat_id=FORUM)  # the General topic
    fake.user_message(ADMIN, "/subscribe hp", chat_id=FORUM, thread_id=topic)
    fake.user_message(ADMIN, "/subscribe hp", chat_id=FORUM, thread_id=topic)
    fake.user_message(ADMIN, "/subscribe hp", chat_id=FORUM)
    await fake.wait_for(lambda: len(fake.messages_to(FORUM)) == 4)
    answers = [m.text or "" for m in fake.messages_to(FORUM)]
    assert answers == [
        "✅ Đã theo dõi Hải Phòng.",
        "Từ giờ tin của Hải Phòng được gửi vào chủ đề này.",
        "Bạn đã theo dõi Hải Phòng rồi.",
        "Từ giờ tin của Hải Phòng được gửi vào cuộc trò chuyện chung.",
    ]
    assert store.subscription_threads(FORUM) == {"hp": 0}


async def test_the_feeds_button_in_a_topic_follows_into_that_topic(
    fake: FakeBotAPI, store: Store, bot_app: tg.App
) -> None:
    topic = fake.create_topic(FORUM, "Hà Nội")
    fake.user_message(ADMIN, "/feeds", chat_id=FORUM, thread_id=topic)
    await fake.wait_for(lambda: fake.messages_to(FORUM))
    listing = fake.last_to(FORUM)
    assert listing.message_thread_id == topic
    fake.callback(ADMIN, "sub:hn:0", listing)
    await fake.wait_for(lambda: fake.edits)
    assert store.subscription_threads(FORUM) == {"hn": topic}


async def test_a_deleted_topic_falls_back_to_the_chat(
    fake: FakeBotAPI, store: Store, bot_app: tg.App
) -> None:
    topic = fake.create_topic(FORUM, "Sắp xoá")
    store.subscribe(FORUM, "hp", thread_id=topic)
    fake.delete_topic(FORUM, topic)
    arrive(store, "hp", "Tin một")
    arrive(store, "hp", "Tin hai")
    stats = await deliverer(store, bot_app).drain()
    assert stats.sent == 2 and stats.failed == 0
    assert [m.message_thread_id for m in fake.messages_to(FORUM)] == [None, None]
    assert [e.description for e in fake.errors] == ["Bad Request: message thread not found"]
    assert store.subscription_threads(FORUM) == {"hp": 0}  # later items go to the chat directly


async def test_sender_maps_topic_errors(fake: FakeBotAPI) -> None:
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        sender = tg.PtbSender(bot)
        with pytest.raises(TopicGone, match="thread not found"):
            await sender.send_text(FORUM, "<b>x</b>", preview=False, thread_id=999)
        topic = fake.create_topic(FORUM, "Có thật")
        await sender.send_plain(FORUM, "ok", thread_id=topic)
        assert fake.last_to(FORUM).message_thread_id == topic
    assert issubclass(TopicGone, MessageRejected)


def test_fake_refuses_topics_outside_forums() -> None:
    fake = FakeBotAPI()
    fake.add_chat(-1009, "supergroup")
    with pytest.raises(ValueError, match="not a forum"):
        fake.create_topic(-1009, "x")
    fake.add_forum(-1008)
    with pytest.raises(ValueError, match="no topic"):
        fake.user_message(1, "/start", chat_id=-1008, thread_id=77)


def test_commands_see_the_topic_and_reply_in_both_languages(store: Store) -> None:
    commands = Commands(store, FEEDS)
    english = CommandContext(FORUM, "supergroup", ADMIN, "en", is_chat_admin=True, thread_id=9)
    reply = commands.run(english, "subscribe", "hp")
    assert reply is not None and reply.text == (
        "✅ Now following Hải Phòng: its items will come to this topic.")
    assert store.subscription_threads(FORUM) == {"hp": 9}


# ------------------------------------------------------------------ sendDocument (fake)


async def test_fake_send_document_by_url_and_upload(fake: FakeBotAPI) -> None:
    topic = fake.create_topic(FORUM, "Văn bản")
    fake.flood = False  # several sends to one private chat within milliseconds
    async with Bot(fake.token, base_url=fake.base_url) as bot:
        by_url = await bot.send_document(
            FORUM, "https://haiphong.gov.vn/vb/123-QD-UBND.pdf",
            caption="<b>Quyết định 123/QĐ-UBND</b>", parse_mode="HTML",
            message_thread_id=topic)
        uploaded = await bot.send_document(
            7, InputFile(b"%PDF-1.4 noi dung", filename="quyet-dinh.pdf"), caption="Tệp")
        assert by_url.document is not None and by_url.document.file_name == "123-QD-UBND.pdf"
        assert by_url.caption == "Quyết định 123/QĐ-UBND"
        assert by_url.message_thread_id == topic
        assert uploaded.document is not None
        with pytest.raises(BadRequest, match=r"(?i)caption is too long"):
            await bot.send_document(7, "https://x.vn/a.pdf", caption="x" * 1025)
        fake.bad_document_urls.add("https://x.vn/gone.pdf")
        with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
            await bot.send_document(7, "https://x.vn/gone.pdf")
        with pytest.raises(BadRequest, match=r"(?i)thread not found"):
            await bot.send_document(FORUM, "https://x.vn/a.pdf", message_thread_id=topic + 50)
    first, second = [m for m in fake.sent if m.method == "sendDocument"]
    assert (first.document, first.message_thread_id) == (
        "https://haiphong.gov.vn/vb/123-QD-UBND.pdf", topic)
    assert (second.document, second.document_bytes) == ("quyet-dinh.pdf", b"%PDF-1.4 noi dung")
    assert second.caption == "Tệp"
