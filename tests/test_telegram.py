"""bot.telegram.ptb with the real PTB 22.8 against the fake Bot API on 127.0.0.1."""

from __future__ import annotations

import asyncio
import html
import io
import logging
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.telegram_api import FakeBotAPI, Fault
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.errors import (
    ChatMoved,
    DeliveryError,
    MessageRejected,
    RateLimited,
    RecipientGone,
    TransientDelivery,
)
from bot.model import Attachment, Chat, ChatKind, Item, KeywordFilter, Recipe
from bot.store.db import Store
from bot.telegram import ptb as tg
from bot.telegram.commands.dispatch import Button, CommandContext, Commands, FeedInfo, Reply
from bot.telegram.delivery import Deliverer
from bot.telegram.feedinfo import feed_infos
from bot.telegram.pacing import Pacer, Pacing
from bot.telegram.wiring import file_url_for, parse_command

TOKEN = "123456:TEST-token"
REAL_SHAPED_TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
FEEDS = {
    "hp": Recipe("hp", "Hải Phòng", ("https://haiphong.gov.vn/tin",)),
    "hn": Recipe("hn", "Hà Nội", ("https://hanoi.gov.vn/tin",)),
}
BOT_FEEDS = feed_infos(FEEDS)


def fast_pacer() -> Pacer:
    """Pacing at the fake's time scale (1 s of Telegram time lasts 10 ms)."""
    return Pacer(Pacing(time_scale=0.01))


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    # 1 s of Telegram time lasts 10 ms: flood limits still apply, tests stay fast
    server = await FakeBotAPI(token=TOKEN, time_scale=0.01).start()
    yield server
    await server.stop()
    assert server.unimplemented == []


def make_bot(fake: FakeBotAPI, read_timeout: float = 5.0) -> Bot:
    return Bot(
        fake.token,
        base_url=fake.base_url,
        request=HTTPXRequest(read_timeout=read_timeout, connection_pool_size=32),
    )


# ---------------------------------------------------------------- PtbSender error mapping


@pytest.fixture
async def sender(fake: FakeBotAPI) -> AsyncIterator[tg.PtbSender]:
    async with make_bot(fake, read_timeout=0.5) as bot:
        yield tg.PtbSender(bot)


async def test_sender_sends_html_without_preview(fake: FakeBotAPI, sender: tg.PtbSender) -> None:
    await sender.send_text(1, "<b>Hải</b>", preview=False)
    await sender.send_plain(2, "a < b")
    await sender.send_photo(3, "https://x.vn/a.jpg", "<i>ảnh</i>")
    first, plain, photo = fake.sent
    assert (first.text, first.parse_mode) == ("<b>Hải</b>", "HTML")
    assert first.link_preview_options == {"is_disabled": True}
    assert (plain.text, plain.parse_mode) == ("a < b", None)
    assert (photo.photo, photo.caption, photo.parse_mode) == (
        "https://x.vn/a.jpg",
        "<i>ảnh</i>",
        "HTML",
    )


@pytest.mark.parametrize(
    ("arrange", "error", "detail"),
    [
        (lambda f: f.block(5), RecipientGone, "blocked by the user"),
        (lambda f: f.deactivate(5), RecipientGone, "deactivated"),
        (lambda f: f.kick(5), RecipientGone, "kicked"),
        (lambda f: f.forget(5), RecipientGone, "not found"),
        (lambda f: f.faults.add("sendMessage", kind=Fault.retry_after(34)), RateLimited, "34"),
        (lambda f: f.faults.add("sendMessage", kind="http500"), TransientDelivery, "Internal"),
        (lambda f: f.faults.add("sendMessage", kind="http502"), TransientDelivery, "Internal"),
        (lambda f: f.faults.add("sendMessage", kind=Fault.delay(1.0)), TransientDelivery, "Timed"),
        (lambda f: f.faults.add("sendMessage", kind="drop"), TransientDelivery, ""),
        (
            lambda f: f.faults.add(
                "sendMessage", kind=Fault.error(400, "Bad Request: message is too long")
            ),
            MessageRejected,
            "long",
        ),
        (
            lambda f: f.faults.add("sendMessage", kind=Fault.error(401, "Unauthorized")),
            DeliveryError,
            "bot token",
        ),
    ],
)
async def test_sender_maps_ptb_errors(
    fake: FakeBotAPI, sender: tg.PtbSender, arrange: Any, error: type[Exception], detail: str
) -> None:
    arrange(fake)
    with pytest.raises(error, match=f"(?i){detail}") as caught:
        await sender.send_text(5, "hi", preview=False)
    if error is DeliveryError:
        assert type(caught.value) is DeliveryError  # not a subclass the deliverer would retry
    if error is RateLimited:
        assert isinstance(caught.value, RateLimited) and caught.value.retry_after == 34.0


async def test_sender_maps_bad_html_and_migration(fake: FakeBotAPI, sender: tg.PtbSender) -> None:
    with pytest.raises(MessageRejected, match=r'(?i)unsupported start tag "p"'):
        await sender.send_text(5, "<p>x</p>", preview=False)
    fake.migrate(-55, -1004)
    with pytest.raises(ChatMoved) as moved:
        await sender.send_text(-55, "x", preview=False)
    assert moved.value.new_chat_id == -1004


def test_parse_command() -> None:
    assert parse_command("/start", "fake_bot") == ("start", "")
    assert parse_command("/Include@Fake_Bot  hải an, lê chân ", "fake_bot") == (
        "include",
        "hải an, lê chân",
    )
    assert parse_command("/start@other_bot", "fake_bot") is None
    assert parse_command("hello /start", "fake_bot") is None
    assert parse_command("/x\nline two", "fake_bot") == ("x", "line two")


def test_file_url_for() -> None:
    assert file_url_for("https://api.telegram.org/bot") == "https://api.telegram.org/file/bot"


# ---------------------------------------------------------------- delivery end to end


def seed(store: Store, chats: dict[int, ChatKind], per_feed: int, now: datetime) -> None:
    for chat_id, kind in chats.items():
        store.upsert_chat(Chat(chat_id, kind=kind))
        for feed_id in FEEDS:
            store.subscribe(chat_id, feed_id)
    for feed_id in FEEDS:
        items = [
            Item(feed_id, f"{feed_id}-{n}", f"https://x.vn/{feed_id}/{n}", f"{feed_id} tin {n} <&>")
            for n in range(per_feed)
        ]
        store.add_items(feed_id, items, now, route=lambda item: [(c, None) for c in chats])


async def test_broadcast_of_200_messages_draws_no_429(store: Store) -> None:
    scale = 0.02  # 1 s of Telegram time lasts 20 ms
    chats: dict[int, ChatKind] = {n: "private" for n in range(1, 6)}
    chats.update({-1000 - n: "supergroup" for n in range(5)})
    seed(store, chats, per_feed=10, now=datetime.now(UTC))
    pacing = Pacing(
        overall_per_second=15 / scale,
        private_gap=1.5 * scale,
        group_per_minute=int(20 / scale / 1.5),
    )
    async with FakeBotAPI(token=TOKEN, time_scale=scale) as fake, make_bot(fake) as bot:
        started = time.monotonic()
        stats = await Deliverer(store, tg.PtbSender(bot), BOT_FEEDS, pacing).drain()
        elapsed = time.monotonic() - started
        assert fake.errors == [], fake.flood_violations
        assert stats.sent == 200 and len(fake.sent) == 200
        for chat_id in chats:
            texts = [m.text or "" for m in fake.messages_to(chat_id)]
            assert len(texts) == 20
            assert texts[0].startswith("<b>hp tin 0 &lt;&amp;&gt;</b>")
    assert store.outbox_counts() == {"pending": 0, "sent": 200, "failed": 0}
    assert elapsed < 10


async def test_blocked_user_is_deactivated_others_still_served(
    fake: FakeBotAPI, store: Store
) -> None:
    seed(store, {5: "private", 6: "private"}, per_feed=1, now=datetime.now(UTC))
    fake.block(5)
    async with make_bot(fake) as bot:
        deliverer = Deliverer(store, tg.PtbSender(bot), BOT_FEEDS, Pacing(private_gap=0.02))
        stats = await deliverer.drain()
    chat = store.chat(5)
    assert chat is not None and not chat.active
    assert len(fake.messages_to(6)) == 2 and fake.messages_to(5) == []
    assert stats.deactivated == 1
    assert len(fake.calls_of("sendMessage")) == 3  # one try at the blocked user, not two


async def test_migrated_group_gets_the_message_at_its_new_id(
    fake: FakeBotAPI, store: Store
) -> None:
    seed(store, {-55: "group"}, per_feed=1, now=datetime.now(UTC))
    fake.migrate(-55, -1004)
    async with make_bot(fake) as bot:
        await Deliverer(store, tg.PtbSender(bot), BOT_FEEDS, Pacing(group_per_minute=6000)).drain()
    assert [m.text.split("</b>")[0] for m in fake.messages_to(-1004) if m.text] == [
        "<b>hp tin 0 &lt;&amp;&gt;",
        "<b>hn tin 0 &lt;&amp;&gt;",
    ]
    assert store.chat(-55) is None and store.chat(-1004) is not None
    assert store.outbox_counts() == {"pending": 0, "sent": 2, "failed": 0}


async def test_bad_html_is_resent_once_as_plain_text(fake: FakeBotAPI, store: Store) -> None:
    seed(store, {8: "private"}, per_feed=1, now=datetime.now(UTC))
    fake.faults.add(
        "sendMessage",
        match={"chat_id": 8, "parse_mode": "HTML"},
        times=1,
        kind=Fault.error(
            400, 'Bad Request: can\'t parse entities: Unsupported start tag "x" at byte offset 0'
        ),
    )
    async with make_bot(fake) as bot:
        deliverer = Deliverer(store, tg.PtbSender(bot), BOT_FEEDS, Pacing(private_gap=0.02))
        stats = await deliverer.drain()
    first, second = fake.messages_to(8)
    assert first.parse_mode is None and first.text is not None
    assert first.text.startswith("hp tin 0 <&>\n")
    assert second.parse_mode == "HTML"
    assert len(fake.calls_of("sendMessage")) == 3
    assert stats.plain_fallbacks == 1 and store.outbox_counts()["sent"] == 2


# ---------------------------------------------------------------- attachments as documents

DECISION = "https://cdn.haiphong.gov.vn/gov-hpg/qd-123.pdf"


async def test_sender_sends_documents_by_url(fake: FakeBotAPI, sender: tg.PtbSender) -> None:
    await sender.send_document(3, DECISION, "📄 <b>Quyết định số 123/QĐ-UBND</b>\nQĐ 123")
    (document,) = fake.sent
    assert (document.method, document.document, document.document_bytes) == (
        "sendDocument", DECISION, None)  # by URL: Telegram fetches it
    assert (document.caption, document.parse_mode) == (
        "📄 <b>Quyết định số 123/QĐ-UBND</b>\nQĐ 123", "HTML")
    fake.bad_document_urls.add("https://x.vn/huge.pdf")
    with pytest.raises(MessageRejected, match=r"(?i)wrong file identifier/http url"):
        await sender.send_document(4, "https://x.vn/huge.pdf", "x")
    with pytest.raises(MessageRejected, match="not an http"):
        await sender.send_document(5, "/etc/passwd", "x")  # PTB would upload a local path
    assert len(fake.calls_of("sendDocument")) == 2


async def test_item_files_follow_the_message_and_a_bad_one_is_not_retried(
    fake: FakeBotAPI, store: Store
) -> None:
    store.upsert_chat(Chat(9))
    store.subscribe(9, "hp")
    files = (Attachment("https://x.vn/gone.pdf", "Phụ lục", "pdf"),
             Attachment(DECISION, "Quyết định 123", "pdf"))
    item = Item("hp", "qd-123", "https://haiphong.gov.vn/qd-123",
                "Quyết định số 123/QĐ-UBND về quy hoạch", attachments=files,
                doc_type="Quyết định", doc_number="123/QĐ-UBND")
    store.add_items("hp", [item], datetime.now(UTC), route=lambda _: [(9, None)])
    fake.bad_document_urls.add("https://x.vn/gone.pdf")
    async with make_bot(fake) as bot:
        deliverer = Deliverer(store, tg.PtbSender(bot), BOT_FEEDS, Pacing(time_scale=0.01))
        stats = await deliverer.drain()
        again = await deliverer.drain()
    message, document = fake.messages_to(9)
    assert message.text is not None and "📄" not in message.text  # the title says it already
    assert f'📎 <a href="{DECISION}">Quyết định 123 (PDF)</a>' in message.text
    assert (document.document, document.caption) == (
        DECISION, "📄 <b>Quyết định số 123/QĐ-UBND</b>\nQuyết định 123 (PDF)")
    assert (stats.sent, stats.documents, stats.documents_failed) == (1, 1, 1)
    assert again.sent == 0 and len(fake.calls_of("sendDocument")) == 2
    assert len(fake.calls_of("sendMessage")) == 1
    assert store.outbox_counts() == {"pending": 0, "sent": 1, "failed": 0}


# ---------------------------------------------------------------- the application


class StandInCommands:
    """Records what the bot passes in; answers with a keyboard."""

    def __init__(self) -> None:
        self.runs: list[tuple[CommandContext, str, str]] = []
        self.presses: list[tuple[CommandContext, str]] = []
        self.adopted: list[int] = []

    def run(self, ctx: CommandContext, command: str, args: str) -> Reply | None:
        self.runs.append((ctx, command, args))
        if command == "quiet":
            return None
        if command == "broken":
            return Reply("<p>not telegram html</p>")
        return Reply(
            f"<b>{command}</b> {html.escape(args)}", buttons=((Button("Lại", f"again:{command}"),),)
        )

    def press(self, ctx: CommandContext, data: str) -> Reply | None:
        self.presses.append((ctx, data))
        return Reply(f"<i>pressed {data}</i>", buttons=((Button("Lại", data),),), edit=True)

    def command_list(self, language: str) -> list[tuple[str, str]]:
        return [("start", "Bắt đầu" if language == "vi" else "Start")]

    def adopt_channel(self, chat_id: int, title: str) -> None:
        self.adopted.append(chat_id)

    def chatter(self, ctx: CommandContext) -> Reply | None:
        return None


@pytest.fixture
async def running(fake: FakeBotAPI, store: Store) -> AsyncIterator[tuple[tg.App, StandInCommands]]:
    commands = StandInCommands()
    app = tg.build_application(
        TOKEN, pacer=fast_pacer(),
        base_url=fake.base_url,
        commands=commands,
        admins=[99],
        store=store,
        channels=["@news"],
    )
    await tg.start_bot(app, poll_timeout=1)
    yield app, commands
    await tg.stop_bot(app)


async def test_command_reply_and_button_round_trip(
    fake: FakeBotAPI, running: tuple[tg.App, StandInCommands]
) -> None:
    _, commands = running
    fake.user_message(42, "/start  hải an ", language_code="en")
    await fake.wait_for(lambda: fake.messages_to(42))
    reply = fake.last_to(42)
    assert reply.text == "<b>start</b> hải an" and reply.parse_mode == "HTML"
    ctx, command, args = commands.runs[0]
    assert (command, args) == ("start", "hải an")
    assert (ctx.chat_id, ctx.chat_type, ctx.user_id, ctx.language_code) == (42, "private", 42, "en")
    assert not ctx.is_bot_admin
    fake.callback(42, "again:start", reply)
    await fake.wait_for(lambda: fake.edits)
    assert fake.edits[-1].text == "<i>pressed again:start</i>"
    assert len(fake.answered_callbacks) == 1
    assert len(fake.messages_to(42)) == 1  # edited in place, not a new message


async def test_telegram_failing_after_getme_is_transient_and_a_retry_starts(
    fake: FakeBotAPI,
) -> None:
    # getMe works, then the polling bootstrap (deleteWebhook) meets a 502: the daemon retries
    # start_bot, so the error must be a TransientDelivery and the retry must not find the
    # application half-started ("already running").
    commands = StandInCommands()
    app = tg.build_application(TOKEN, pacer=fast_pacer(), base_url=fake.base_url, commands=commands)
    fake.faults.add("deleteWebhook", times=1, kind="http502")
    with pytest.raises(TransientDelivery):
        await tg.start_bot(app, poll_timeout=1)
    await tg.start_bot(app, poll_timeout=1)
    try:
        fake.user_message(42, "/start")
        await fake.wait_for(lambda: fake.messages_to(42))
        assert fake.last_to(42).text == "<b>start</b> "
    finally:
        await tg.stop_bot(app)


async def test_menu_commands_are_set_per_language(
    fake: FakeBotAPI, running: tuple[tg.App, StandInCommands]
) -> None:
    assert fake.commands[("default", "")] == [{"command": "start", "description": "Bắt đầu"}]
    assert fake.commands[("default", "vi")] == [{"command": "start", "description": "Bắt đầu"}]
    assert fake.commands[("default", "en")] == [{"command": "start", "description": "Start"}]


async def test_groups_check_admins_and_addressee(
    fake: FakeBotAPI, running: tuple[tg.App, StandInCommands]
) -> None:
    _, commands = running
    fake.add_chat(-1001, "supergroup", title="Phường Máy Chai")
    fake.set_admins(-1001, [5])
    fake.user_message(5, "/feeds@fake_bot", chat_id=-1001)
    fake.user_message(7, "/feeds@other_bot", chat_id=-1001)
    fake.user_message(7, "/feeds", chat_id=-1001)
    fake.user_message(99, "/stats", chat_id=-1001)
    await fake.wait_for(lambda: len(fake.messages_to(-1001)) == 3)
    seen = [(c.user_id, c.is_chat_admin, c.is_bot_admin, c.chat_title) for c, _, _ in commands.runs]
    assert seen == [
        (5, True, False, "Phường Máy Chai"),
        (7, False, False, "Phường Máy Chai"),
        (99, False, True, "Phường Máy Chai"),
    ]


async def test_channels_are_served_only_when_configured(
    fake: FakeBotAPI, running: tuple[tg.App, StandInCommands]
) -> None:
    _, commands = running
    fake.add_chat(-1002, "channel", username="news")
    fake.add_chat(-1003, "channel", username="other")
    fake.channel_post(-1003, "/start")
    fake.channel_post(-1002, "/start")
    await fake.wait_for(lambda: fake.messages_to(-1002))
    assert [c.chat_id for c, _, _ in commands.runs] == [-1002]
    assert commands.runs[0][0].is_chat_admin and commands.runs[0][0].user_id is None
    assert fake.messages_to(-1003) == []


async def test_silent_and_rejected_replies(
    fake: FakeBotAPI, running: tuple[tg.App, StandInCommands]
) -> None:
    fake.user_message(42, "/quiet")
    fake.user_message(42, "/broken")
    await fake.wait_for(lambda: fake.messages_to(42))
    (reply,) = fake.messages_to(42)
    assert (reply.text, reply.parse_mode) == ("not telegram html", None)


async def test_block_and_migration_updates_change_the_store(
    fake: FakeBotAPI, store: Store, running: tuple[tg.App, StandInCommands]
) -> None:
    store.upsert_chat(Chat(5))
    store.upsert_chat(Chat(-55, kind="group"))
    store.subscribe(-55, "hp")
    fake.block(5)
    fake.migrate(-55, -1004)
    await fake.wait_for(lambda: store.chat(-1004) is not None)
    await fake.wait_for(lambda: not (store.chat(5) or Chat(5)).active)
    assert store.subscriptions_of(-1004) == ["hp"]
    fake.unblock(5)
    await fake.wait_for(lambda: (store.chat(5) or Chat(5, active=False)).active)


async def test_start_round_trip_with_the_real_commands(fake: FakeBotAPI, store: Store) -> None:
    feeds = {
        fid: FeedInfo(fid, r.title, r.timezone, f"https://example.test/feeds/{fid}.xml")
        for fid, r in FEEDS.items()
    }
    app = tg.build_application(
        TOKEN, pacer=fast_pacer(),
        base_url=fake.base_url, commands=Commands(store, feeds), store=store
    )
    await tg.start_bot(app, poll_timeout=1)
    try:
        fake.user_message(42, "/start", language_code="vi")
        await fake.wait_for(lambda: fake.messages_to(42))
        assert store.subscriptions_of(42) == ["hn", "hp"]
        assert "Hải Phòng" in (fake.last_to(42).text or "")
        fake.user_message(42, "/feeds")
        await fake.wait_for(lambda: len(fake.messages_to(42)) == 2)
        listing = fake.last_to(42)
        data = listing.button_data()
        assert data, "the feed list has toggle buttons"
        fake.callback(42, data[0], listing)
        await fake.wait_for(lambda: fake.edits)
        assert len(store.subscriptions_of(42)) == 1
        assert ("default", "en") in fake.commands
    finally:
        await tg.stop_bot(app)


async def test_sections_round_trip_with_the_real_commands(fake: FakeBotAPI, store: Store) -> None:
    sections = (("thong-bao", "Thông báo"), ("hai-an", "Quận Hải An"))
    feeds = {"hp": FeedInfo("hp", "Hải Phòng", sections=sections), "hn": FeedInfo("hn", "Hà Nội")}
    app = tg.build_application(
        TOKEN, pacer=fast_pacer(),
        base_url=fake.base_url, commands=Commands(store, feeds), store=store
    )
    await tg.start_bot(app, poll_timeout=1)
    try:
        assert {"command": "sections", "description": "Pick a feed's sections"} in \
            fake.commands[("default", "en")]
        fake.user_message(42, "/sections", language_code="en")
        await fake.wait_for(lambda: fake.messages_to(42))
        listing = fake.last_to(42)
        assert listing.button_data() == ["sct:hp:thong-bao", "sct:hp:hai-an"]
        fake.callback(42, "sct:hp:hai-an", listing)
        await fake.wait_for(lambda: fake.edits)
        assert store.keyword_filter(42, "hp") == KeywordFilter(("section:hai-an",))
        edited = fake.edits[-1]
        assert "✅ Quận Hải An" in (edited.text or "")
        assert edited.message_id == listing.message_id and len(fake.messages_to(42)) == 1
    finally:
        await tg.stop_bot(app)


# ---------------------------------------------------------------- logs and the other run path


async def test_token_never_reaches_the_logs() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(tg.RedactToken())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        async with FakeBotAPI(token=REAL_SHAPED_TOKEN) as fake:
            app = tg.build_application(
                REAL_SHAPED_TOKEN, base_url=fake.base_url, commands=StandInCommands()
            )
            assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
            assert logging.getLogger("telegram").getEffectiveLevel() >= logging.WARNING
            await tg.start_bot(app, poll_timeout=1)
            fake.user_message(1, "/start")
            await fake.wait_for(lambda: fake.messages_to(1))
            await tg.stop_bot(app)
        logging.getLogger("bot.test").warning("url %s", f"{fake.base_url}{REAL_SHAPED_TOKEN}/x")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    output = stream.getvalue()
    assert "url http://127.0.0.1" in output
    assert REAL_SHAPED_TOKEN.split(":")[1] not in output


def test_run_polling_path_uses_the_same_startup() -> None:
    fake = FakeBotAPI(token=TOKEN).start_in_thread()
    commands = StandInCommands()
    app = tg.build_application(TOKEN, pacer=fast_pacer(), base_url=fake.base_url, commands=commands)
    loop = asyncio.new_event_loop()

    def poll() -> None:
        asyncio.set_event_loop(loop)
        app.run_polling(timeout=1, stop_signals=None, close_loop=False)

    thread = threading.Thread(target=poll, daemon=True)
    try:
        thread.start()
        fake.user_message(42, "/help")
        fake.wait_for_sync(lambda: fake.messages_to(42), timeout=10)
        assert fake.commands[("default", "en")] == [{"command": "start", "description": "Start"}]
    finally:
        loop.call_soon_threadsafe(app.stop_running)
        thread.join(10)
        loop.close()
        fake.stop_thread()
    assert not thread.is_alive()
    assert [command for _, command, _ in commands.runs] == ["help"]
