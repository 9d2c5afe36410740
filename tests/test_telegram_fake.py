"""The fake Bot API, driven by the unmodified PTB 22.8 `Bot`: it must behave like Telegram."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from fakes.telegram_api import (
    FakeBotAPI,
    Fault,
    HTMLError,
    parse_telegram_html,
)
from telegram import (
    Bot,
    BotCommand,
    ChatFullInfo,
    ChatMemberAdministrator,
    ChatMemberMember,
    ChatMemberOwner,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import HTTPXRequest

TOKEN = "123456:TEST-token"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    server = await FakeBotAPI(token=TOKEN).start()
    yield server
    await server.stop()
    assert server.unimplemented == []


def make_bot(fake: FakeBotAPI, token: str = TOKEN, read_timeout: float = 5.0) -> Bot:
    request = HTTPXRequest(read_timeout=read_timeout, connect_timeout=2)
    return Bot(token, base_url=fake.base_url, request=request, get_updates_request=request)


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with make_bot(fake) as bot:
        yield bot


# ---------------------------------------------------------------- HTML validator


@pytest.mark.parametrize(
    ("html", "visible"),
    [
        ("<b>a</b> &lt;x&gt; &amp; &quot;", 'a <x> & "'),
        ('<a href="https://x.vn/?a=1&amp;b=2">link</a>', "link"),
        ("&#72;&#x49;", "HI"),
        ('<span class="tg-spoiler">s</span><tg-spoiler>t</tg-spoiler>', "st"),
        ('<pre><code class="language-python">x</code></pre>', "x"),
        ("a > b", "a > b"),
    ],
)
def test_valid_html_gives_visible_text(html: str, visible: str) -> None:
    assert parse_telegram_html(html) == visible


@pytest.mark.parametrize(
    ("html", "error"),
    [
        ("<p>x</p>", 'Unsupported start tag "p" at byte offset 0'),
        ("Hải <br>", 'Unsupported start tag "br" at byte offset 6'),
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("a & b", "Can't find end of the entity starting at byte offset 2"),
        ("&nbsp;", 'Unsupported HTML entity "&nbsp;" at byte offset 0'),
        ('<a href="javascript:alert(1)">x</a>', 'Unsupported URL "javascript:alert(1)"'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler"'),
    ],
)
def test_invalid_html_is_refused_with_telegram_text(html: str, error: str) -> None:
    with pytest.raises(HTMLError, match=re.escape(error)):
        parse_telegram_html(html)


# ---------------------------------------------------------------- basics


async def test_get_me_and_send_html_message(fake: FakeBotAPI, bot: Bot) -> None:
    assert bot.username == "fake_bot"
    assert bot.id == 123456
    message = await bot.send_message(42, "<b>Hải Phòng</b> &amp; co", parse_mode=ParseMode.HTML)
    assert message.text == "Hải Phòng & co"
    assert message.chat.type == "private"
    assert message.message_id == 1
    sent = fake.last_to(42)
    assert (sent.text, sent.parse_mode, sent.method) == (
        "<b>Hải Phòng</b> &amp; co",
        "HTML",
        "sendMessage",
    )
    assert [c.method for c in fake.calls] == ["getme", "sendmessage"]


async def test_wrong_token_is_invalid_token(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        await make_bot(fake, token="999:wrong").initialize()
    assert fake.errors_with(401)


async def test_unknown_method_is_recorded(fake: FakeBotAPI, bot: Bot) -> None:
    with pytest.raises(InvalidToken, match="Not Found"):  # PTB maps 404 like a bad token
        await bot.send_dice(1)
    assert fake.unimplemented == ["sendDice"]
    fake.unimplemented.clear()


async def test_send_photo_by_url_with_html_caption(fake: FakeBotAPI, bot: Bot) -> None:
    message = await bot.send_photo(
        7, "https://x.vn/a.jpg", caption="<i>ảnh</i>", parse_mode=ParseMode.HTML
    )
    assert message.caption == "ảnh"
    assert fake.last_to(7).photo == "https://x.vn/a.jpg"
    fake.bad_photo_urls.add("https://x.vn/broken.jpg")
    with pytest.raises(BadRequest, match="Wrong file identifier"):
        await bot.send_photo(8, "https://x.vn/broken.jpg")
    with pytest.raises(BadRequest, match="Message caption is too long"):
        await bot.send_photo(9, "https://x.vn/a.jpg", caption="x" * 1025)


# ---------------------------------------------------------------- recipient errors


async def test_blocked_and_deactivated_users_raise_forbidden(fake: FakeBotAPI, bot: Bot) -> None:
    fake.block(5)
    fake.deactivate(6)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(5, "hi")
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_message(6, "hi")
    assert fake.pending_updates == 1  # block() queued a my_chat_member "kicked"


async def test_kicked_from_group_and_channel(fake: FakeBotAPI, bot: Bot) -> None:
    fake.add_chat(-1001, "supergroup")
    fake.add_chat(-1002, "channel", username="news")
    fake.kick(-1001)
    fake.kick(-1002)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await bot.send_message(-1001, "hi")
    with pytest.raises(Forbidden, match="not a member of the channel chat"):
        await bot.send_message("@news", "hi")


async def test_migrated_group_raises_chat_migrated(fake: FakeBotAPI, bot: Bot) -> None:
    fake.add_chat(-55, "group", title="Phường")
    fake.migrate(-55, -1004)
    with pytest.raises(ChatMigrated) as caught:
        await bot.send_message(-55, "hi")
    assert caught.value.new_chat_id == -1004
    message = await bot.send_message(-1004, "hi")
    assert message.chat.type == "supergroup"
    assert message.chat.title == "Phường"


async def test_bad_requests_have_telegram_messages(fake: FakeBotAPI, bot: Bot) -> None:
    fake.forget(77)
    with pytest.raises(BadRequest, match=r"^Chat not found$"):
        await bot.send_message(77, "hi")
    with pytest.raises(BadRequest, match=r"^Message is too long$"):
        await bot.send_message(1, "x" * 4097)
    await bot.send_message(2, "<b>" + "x" * 4096 + "</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "p" at byte offset 3'):
        await bot.send_message(3, "ab <p>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await bot.send_message(4, "<b> </b>", parse_mode=ParseMode.HTML)
    long_data = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="đ" * 33)]])
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await bot.send_message(5, "hi", reply_markup=long_data)
    assert len(fake.sent) == 1


# ---------------------------------------------------------------- flood model


async def test_private_chat_flood_gives_retry_after(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.send_message(10, "one")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(10, "two")
    assert isinstance(caught.value.retry_after, timedelta)
    assert caught.value.retry_after == timedelta(seconds=1)
    await bot.send_message(11, "other chat is fine")
    assert [e.code for e in fake.errors] == [429]


async def test_group_window_is_twenty_per_minute_scaled() -> None:
    async with FakeBotAPI(token=TOKEN, time_scale=0.01) as fake, make_bot(fake) as bot:
        for n in range(20):
            await bot.send_message(-300, f"m{n}")
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(-300, "m20")
        # The window is 60 scaled seconds from the first send; a loaded machine eats into it.
        wait = caught.value.retry_after.total_seconds()
        assert 1 <= wait <= 60
        await asyncio.sleep(wait * 0.01 + 0.02)  # the scaled window has passed
        await bot.send_message(-300, "m21")
        assert len(fake.messages_to(-300)) == 21


async def test_global_window_and_non_strict_mode() -> None:
    async with FakeBotAPI(token=TOKEN, strict=False) as fake, make_bot(fake) as bot:
        await asyncio.gather(*(bot.send_message(1000 + n, "x") for n in range(31)))
        assert len(fake.sent) == 31
        assert [v.window for v in fake.flood_violations] == ["global"]
        with pytest.raises(AssertionError, match="flood violations"):
            fake.assert_no_flood()


# ---------------------------------------------------------------- fault injection


async def test_faults_map_to_ptb_network_errors(fake: FakeBotAPI) -> None:
    async with make_bot(fake, read_timeout=0.3) as bot:
        fake.faults.add("sendMessage", match={"chat_id": 5}, times=1, kind=Fault.http(500))
        fake.faults.add("sendMessage", match={"chat_id": 6}, kind="non_json")
        fake.faults.add("sendMessage", match={"chat_id": 7}, kind=Fault.delay(1.0))
        fake.faults.add("sendMessage", match={"chat_id": 8}, kind=Fault.drop())
        fake.faults.add("sendMessage", match={"chat_id": 9}, kind=Fault.retry_after(34))
        fake.faults.add(
            "sendMessage", match={"chat_id": 10}, kind=Fault.error(400, "Bad Request: boom")
        )
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(5, "x")
        await bot.send_message(5, "x")  # times=1: the fault is used up
        with pytest.raises(NetworkError, match="Parsing the server response"):
            await bot.send_message(6, "x")
        with pytest.raises(TimedOut):
            await bot.send_message(7, "x")
        with pytest.raises(NetworkError) as dropped:
            await bot.send_message(8, "x")
        assert not isinstance(dropped.value, (BadRequest, TimedOut))
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(9, "x")
        assert caught.value.retry_after.total_seconds() == 34
        with pytest.raises(BadRequest, match="Boom"):
            await bot.send_message(10, "x")
        # a delayed call is still handled after the client gave up: Telegram would deliver it
        await fake.wait_for(lambda: len(fake.messages_to(7)) == 1, timeout=2)


# ---------------------------------------------------------------- updates


async def test_long_poll_wakes_on_injected_message(fake: FakeBotAPI, bot: Bot) -> None:
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=3))
    await asyncio.sleep(0.1)
    fake.user_message(42, "/start hello", language_code="en")
    updates = await poll
    assert time.monotonic() - started < 2
    message = updates[0].message
    assert message is not None
    assert message.text == "/start hello"
    assert message.from_user is not None and message.from_user.language_code == "en"
    assert message.entities[0].type == "bot_command" and message.entities[0].length == 6
    # confirmed updates are forgotten; an empty short poll answers at once
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()


async def test_second_poll_terminates_the_first_with_conflict(fake: FakeBotAPI) -> None:
    async with make_bot(fake) as first, make_bot(fake) as second:
        waiting = asyncio.create_task(first.get_updates(timeout=3))
        await asyncio.sleep(0.1)
        fake.faults.clear()
        other = asyncio.create_task(second.get_updates(timeout=1))
        from telegram.error import Conflict

        with pytest.raises(Conflict, match="terminated by other getUpdates request"):
            await waiting
        fake.user_message(1, "hi")
        assert len(await other) == 1


async def test_callback_answer_and_edit(fake: FakeBotAPI, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Hải An", callback_data="sub:hp")]])
    await bot.send_message(42, "Chọn", reply_markup=keyboard)
    with pytest.raises(ValueError, match="no button"):
        fake.callback(42, "nope", fake.last_to(42))
    query_id = fake.callback(42, "sub:hp", fake.last_to(42))
    (update,) = await bot.get_updates(timeout=1)
    query = update.callback_query
    assert query is not None and query.data == "sub:hp" and query.id == query_id
    assert await query.answer("ok")
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer()
    await query.edit_message_text("<b>Đã theo dõi</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message is not modified"):
        await query.edit_message_text("<b>Đã theo dõi</b>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=99)
    assert fake.edits[-1].text == "<b>Đã theo dõi</b>"
    assert fake.answered_callbacks[0]["text"] == "ok"


async def test_my_commands_per_language(fake: FakeBotAPI, bot: Bot) -> None:
    await bot.set_my_commands([BotCommand("start", "Bắt đầu")], language_code="vi")
    await bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    assert fake.commands[("default", "en")] == [{"command": "start", "description": "Start"}]
    (command,) = await bot.get_my_commands(language_code="vi")
    assert command.description == "Bắt đầu"
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([BotCommand("Bad-Name", "x")])


async def test_get_chat_and_chat_member(fake: FakeBotAPI, bot: Bot) -> None:
    fake.add_chat(-1009, "supergroup", title="Quận Lê Chân")
    fake.set_admins(-1009, [5], owner=6)
    chat = await bot.get_chat(-1009)
    assert isinstance(chat, ChatFullInfo) and chat.title == "Quận Lê Chân"
    assert isinstance(await bot.get_chat_member(-1009, 5), ChatMemberAdministrator)
    assert isinstance(await bot.get_chat_member(-1009, 6), ChatMemberOwner)
    assert isinstance(await bot.get_chat_member(-1009, 7), ChatMemberMember)


async def test_threaded_server_is_controllable_from_the_test_thread() -> None:
    fake = FakeBotAPI(token=TOKEN).start_in_thread()
    try:
        async with make_bot(fake) as bot:
            poll = asyncio.create_task(bot.get_updates(timeout=3))
            await asyncio.sleep(0.1)
            fake.user_message(3, "/help")
            (update,) = await poll
            assert update.message is not None and update.message.text == "/help"
            fake.block(4)
            with pytest.raises(Forbidden):
                await bot.send_message(4, "x")
    finally:
        fake.stop_thread()
