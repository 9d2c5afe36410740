"""Quiet hours, digests and urgent keywords: bot.telegram.digest (pure), the Deliverer on the real
Store with
a fake clock (windows across midnight, restarts, a crash between send and mark) and the commands."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes.delivery_kit import Crash, Recorder, Wall, make_deliverer
from fakes.telegram_api import parse_telegram_html, utf16_len

from bot.errors import TransientDelivery
from bot.model import Chat, ChatSettings, Item, Recipe
from bot.store.db import Store
from bot.telegram import digest
from bot.telegram.commands.dispatch import CommandContext, Commands, FeedInfo, Reply
from bot.telegram.notices import DigestEntry, digest_parts

VN = ZoneInfo("Asia/Ho_Chi_Minh")
FEEDS = {
    "hp": Recipe("hp", "Hải Phòng", ("https://haiphong.gov.vn/tin",)),
    "hn": Recipe("hn", "Hà Nội <tin>", ("https://hanoi.gov.vn/tin",)),
}
CHAT = 42
QUIET = ChatSettings(CHAT, quiet_start=22 * 60, quiet_end=6 * 60 + 30, urgent=("bão", "mất điện"))


def local(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Hải Phòng time (28/11/2024 is day 28), as UTC."""
    return datetime(2024, 11, day, hour, minute, tzinfo=VN).astimezone(UTC)


# ------------------------------------------------------------------ bot.telegram.digest (pure)


@pytest.mark.parametrize(
    ("minute", "start", "end", "inside"),
    [
        (22 * 60, 22 * 60, 390, True),  # the start is inside
        (23 * 60 + 59, 22 * 60, 390, True),
        (0, 22 * 60, 390, True),  # past midnight
        (389, 22 * 60, 390, True),
        (390, 22 * 60, 390, False),  # the end is outside
        (21 * 60 + 59, 22 * 60, 390, False),
        (12 * 60, 9 * 60, 17 * 60, True),  # a window within one day
        (17 * 60, 9 * 60, 17 * 60, False),
        (8 * 60, 9 * 60, 17 * 60, False),
    ],
)
def test_window_membership_crosses_midnight(
    minute: int, start: int, end: int, inside: bool
) -> None:
    assert digest.in_window(minute, start, end) is inside


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("22:00-06:30", (1320, 390)),
        ("22h-6h30", (1320, 390)),
        ("22g – 6g30", (1320, 390)),
        ("7 đến 9", (420, 540)),
        ("23:15 07:05", (1395, 425)),
    ],
)
def test_parse_window(text: str, window: tuple[int, int]) -> None:
    assert digest.parse_window(text) == window


@pytest.mark.parametrize("text", ["25:00-06:00", "22:60-1", "22:00", "22:00-22:00", "tối-sáng", ""])
def test_parse_window_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError, match=r"window|time of day|same time"):
        digest.parse_window(text)


def test_quiet_plan_through_a_night() -> None:
    assert digest.plan(QUIET, local(28, 21, 59)) == digest.Plan(
        hold=False, cutoff=local(28, 6, 30), reason="quiet"
    )
    for moment in (local(28, 22, 0), local(28, 23, 59), local(29, 0, 0), local(29, 6, 29)):
        assert digest.plan(QUIET, moment) == digest.Plan(hold=True), moment
    assert digest.plan(QUIET, local(29, 6, 30)) == digest.Plan(
        hold=False, cutoff=local(29, 6, 30), reason="quiet"
    )


def test_plan_uses_the_chat_time_zone() -> None:
    berlin = replace(QUIET, timezone="Europe/Berlin")
    # 22:30 in Hải Phòng is 16:30 in Berlin: not quiet there.
    assert not digest.plan(berlin, local(28, 22, 30)).hold
    at = datetime(2024, 11, 28, 23, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    assert digest.plan(berlin, at).hold
    assert digest.timezone("Mars/Olympus") == VN  # unknown: the default


def test_daily_digest_plan() -> None:
    daily = ChatSettings(CHAT, digest="daily", digest_at=7 * 60)
    assert digest.plan(daily, local(29, 6, 59)) == digest.Plan(True, local(28, 7), "digest")
    assert digest.plan(daily, local(29, 7, 0)) == digest.Plan(True, local(29, 7), "digest")


def test_a_digest_time_inside_quiet_hours_waits_for_their_end() -> None:
    late = replace(QUIET, digest="daily", digest_at=23 * 60)
    assert digest.plan(late, local(28, 23, 30)) == digest.Plan(hold=True)
    assert digest.plan(late, local(29, 6, 30)).cutoff == local(29, 6, 30)
    assert digest.plan(late, local(29, 22, 0)).hold


def test_hourly_digest_plan() -> None:
    hourly = replace(QUIET, digest="hourly")
    assert digest.plan(hourly, local(29, 9, 59)).cutoff == local(29, 9)
    assert digest.plan(hourly, local(29, 10, 0)).cutoff == local(29, 10)
    # 22:00 .. 06:00 fall in quiet hours: the first digest after the night is at 06:30
    assert digest.plan(hourly, local(29, 6, 45)).cutoff == local(29, 6, 30)


@pytest.mark.parametrize(
    ("keywords", "text", "expected"),
    [
        (("bão",), "Cảnh báo BÃO số 5", "bão"),
        (("bão",), "Thông báo lịch tiếp dân", None),  # báo (notice) is not bão (storm)
        (("bão",), "Bảo trì đường", None),
        (("bao",), "Thông báo lịch tiếp dân", "bao"),  # written without accents: folded
        (("mất điện", "khẩn"), "Lịch MẤT ĐIỆN ngày mai", "mất điện"),
        (("mat dien",), "Lịch Mất Điện ngày mai", "mat dien"),
        (("khẩn",), "Khấn vái", None),
        (("an",), "Ánh sáng", None),  # whole words only
    ],
)
def test_urgent_keywords_respect_diacritics_when_written_with_them(
    keywords: tuple[str, ...], text: str, expected: str | None
) -> None:
    assert digest.urgent_keyword(keywords, text) == expected


def test_digest_parts_split_group_and_escape() -> None:
    entries = [
        DigestEntry(n, "Hà Nội <tin>" if n % 2 else "Hải Phòng", f"Tin số {n} & " + "x" * 150,
                    f"https://hp.gov.vn/{n}?a=1&b=2", local(28, 23), edited=n == 3)
        for n in range(1, 61)
    ]
    parts = digest_parts(entries, "quiet", "vi")
    assert len(parts) >= 2
    assert sorted(k for part in parts for k in part.keys) == list(range(1, 61))
    for number, part in enumerate(parts, start=1):
        visible = parse_telegram_html(part.html)  # Telegram would accept it
        assert utf16_len(visible) <= 4096
        assert visible.endswith(f"({number}/{len(parts)})")
        assert "Tin số" in visible
    assert "Hà Nội &lt;tin&gt;" in parts[0].html
    first = parse_telegram_html(parts[0].html)
    assert first.startswith("🌙 Tin trong giờ không làm phiền: 60 tin")
    assert "(đã sửa)" in first and "28/11/2024 23:00" in first
    assert '<a href="https://hp.gov.vn/1?a=1&amp;b=2">' in parts[0].html


# ------------------------------------------------------------------ the Deliverer


@pytest.fixture
def store(store: Store) -> Store:
    db = store
    db.upsert_chat(Chat(CHAT, kind="private", language="vi"))
    db.subscribe(CHAT, "hp")
    db.subscribe(CHAT, "hn")
    db.set_chat_settings(QUIET)
    return db


_numbers = iter(range(1, 1_000_000))


def arrive(store: Store, at: datetime, *titles: str, feed_id: str = "hp",
           chats: tuple[int, ...] = (CHAT,)) -> None:
    """New items of a feed, queued for `chats` by a poll at `at`."""
    items = []
    for title in titles:
        n = next(_numbers)
        items.append(Item(feed_id, f"{feed_id}-{n}", f"https://{feed_id}.gov.vn/{n}", title,
                          published_at=at))
    store.add_items(feed_id, items, at, route=lambda item: [(chat, None) for chat in chats])


async def test_quiet_hours_hold_then_one_digest_after_a_restart(store: Store) -> None:
    wall = Wall(local(28, 22, 30))
    arrive(store, wall.at, "Khai mạc hội chợ xuân", "Cảnh báo bão số 5 đổ bộ")
    arrive(store, wall.at, "Lịch cắt điện", feed_id="hn")
    sender = Recorder()
    stats = await make_deliverer(store, sender, wall, FEEDS).drain()
    # only the urgent item went out, with the keyword that let it through
    [urgent] = sender.texts_to(CHAT)
    assert "Cảnh báo bão số 5" in urgent and "Từ khoá: <b>bão</b>" in urgent
    assert stats.held == 2 and store.outbox_counts()["pending"] == 2

    wall.at = local(29, 3, 0)  # still quiet: nothing, however often it looks
    assert (await make_deliverer(store, sender, wall, FEEDS).drain()).sent == 0

    wall.at = local(29, 6, 31)  # a new process after the window
    sender_after = Recorder()
    restarted = make_deliverer(store, sender_after, wall, FEEDS)
    stats = await restarted.drain()
    assert (stats.sent, stats.digests, stats.folded) == (1, 1, 2)
    assert store.outbox_counts() == {"pending": 0, "sent": 3, "failed": 0}
    [message] = sender_after.texts_to(CHAT)
    visible = parse_telegram_html(message)
    assert visible.splitlines()[0] == "🌙 Tin trong giờ không làm phiền: 2 tin"
    assert "Hải Phòng\n• Khai mạc hội chợ xuân" in visible
    assert "Hà Nội <tin>\n• Lịch cắt điện" in visible  # grouped by feed, escaped in HTML
    assert "bão" not in visible  # the urgent item is not repeated
    assert '<a href="https://hp.gov.vn/' in message
    assert (await restarted.drain()).sent == 0  # sent once

    wall.at = local(29, 6, 45)  # after the window: items go out one by one again
    arrive(store, wall.at, "Tin buổi sáng")
    await restarted.drain()
    assert sender_after.texts_to(CHAT)[-1].startswith("<b>Tin buổi sáng</b>")


async def test_a_crash_between_send_and_mark_repeats_the_digest_once(store: Store) -> None:
    wall = Wall(local(28, 23, 0))
    arrive(store, wall.at, "Tin một", "Tin hai")
    wall.at = local(29, 7, 0)
    dying = Recorder(crash_after=1)
    with pytest.raises(BaseExceptionGroup) as died:
        await make_deliverer(store, dying, wall, FEEDS).drain()
    assert died.group_contains(Crash)
    assert len(dying.sent) == 1 and store.outbox_counts()["pending"] == 2  # nothing marked

    survivor = Recorder()
    await make_deliverer(store, survivor, wall, FEEDS).drain()
    assert survivor.texts_to(CHAT) == dying.texts_to(CHAT)  # the one duplicate digest
    assert store.outbox_counts() == {"pending": 0, "sent": 2, "failed": 0}
    assert (await make_deliverer(store, survivor, wall, FEEDS).drain()).sent == 0


async def test_a_long_digest_is_split_and_each_part_marks_only_its_rows(store: Store) -> None:
    wall = Wall(local(28, 23, 0))
    arrive(store, wall.at, *[f"Thông báo số {n}: " + "nội dung " * 20 for n in range(80)])
    wall.at = local(29, 6, 40)
    sender = Recorder(fail={("text", 2): TransientDelivery("timed out")})
    stats = await make_deliverer(store, sender, wall, FEEDS).drain()
    assert stats.digests == 1 and stats.retried > 0
    [first] = sender.texts_to(CHAT)
    covered = first.count("<a href=")
    assert 0 < covered < 80
    assert store.outbox_counts() == {"pending": 80 - covered, "sent": covered, "failed": 0}

    wall.at = local(29, 9, 0)  # after the backoff: the rest, never the first part again
    await make_deliverer(store, sender, wall, FEEDS).drain()
    texts = sender.texts_to(CHAT)
    assert sum(text.count("<a href=") for text in texts) == 80
    for text in texts:
        assert utf16_len(parse_telegram_html(text)) <= 4096
    assert store.outbox_counts()["pending"] == 0


async def test_daily_digest_only_chat(store: Store) -> None:
    store.set_chat_settings(ChatSettings(CHAT, digest="daily", digest_at=7 * 60))
    store.set_chat(CHAT, language="en")
    wall = Wall(local(28, 10, 0))
    arrive(store, wall.at, "Morning news")
    sender = Recorder()
    assert (await make_deliverer(store, sender, wall, FEEDS).drain()).held == 1
    wall.at = local(28, 20, 0)
    arrive(store, wall.at, "Evening news")
    assert (await make_deliverer(store, sender, wall, FEEDS).drain()).sent == 0
    wall.at = local(29, 7, 0)
    await make_deliverer(store, sender, wall, FEEDS).drain()
    [message] = sender.texts_to(CHAT)
    visible = parse_telegram_html(message)
    assert visible.startswith("📰 Digest: 2 items")
    assert visible.index("Morning news") < visible.index("Evening news")


async def test_held_rows_do_not_hide_later_rows_of_other_chats(store: Store) -> None:
    store.upsert_chat(Chat(7, kind="private"))
    wall = Wall(local(28, 23, 0))
    arrive(store, wall.at, *[f"Tin {n}" for n in range(12)])  # held for CHAT
    arrive(store, wall.at, "Tin cho người khác", chats=(7,))
    sender = Recorder()
    stats = await make_deliverer(store, sender, wall, FEEDS, batch=5).drain()
    assert stats.held == 12
    assert [s.chat_id for s in sender.sent] == [7]


async def test_quiet_off_releases_held_rows_as_a_digest(store: Store) -> None:
    wall = Wall(local(28, 23, 0))
    arrive(store, wall.at, "Tin đêm")
    sender = Recorder()
    await make_deliverer(store, sender, wall, FEEDS).drain()
    assert sender.sent == []
    store.set_chat_settings(replace(QUIET, quiet_start=None, quiet_end=None))
    await make_deliverer(store, sender, wall, FEEDS).drain()
    assert [s.text.startswith("<b>Tin đêm</b>") for s in sender.sent] == [True]


# ------------------------------------------------------------------ commands


BOT_FEEDS = {"hp": FeedInfo("hp", "Hải Phòng", url="https://haiphong.gov.vn/tin")}


class Ticker:
    def __init__(self) -> None:
        self.at = datetime(2024, 11, 28, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.at += timedelta(seconds=10)
        return self.at


def ctx(chat_id: int = CHAT, *, language: str = "vi", admin: bool = True,
        kind: str = "private") -> CommandContext:
    return CommandContext(chat_id, kind, user_id=5, language_code=language, is_chat_admin=admin)


def say(bot: Commands, line: str, context: CommandContext | None = None) -> Reply:
    command, _, args = line.removeprefix("/").partition(" ")
    reply = bot.run(context or ctx(), command, args)
    assert reply is not None
    parse_telegram_html(reply.text)  # Telegram would accept it
    return reply


@pytest.fixture
def bot(store: Store) -> Commands:
    store.set_chat_settings(ChatSettings(CHAT))
    return Commands(store, BOT_FEEDS, now=Ticker())


def test_quiet_command_sets_shows_and_clears(store: Store, bot: Commands) -> None:
    reply = say(bot, "/quiet 22:00-06:30")
    assert "22:00–06:30 (Asia/Ho_Chi_Minh)" in reply.text
    assert store.chat_settings(CHAT).quiet_start == 1320
    assert store.chat_settings(CHAT).quiet_end == 390
    shown = say(bot, "/quiet").text
    assert "Giờ không làm phiền: 22:00–06:30" in shown and "/quiet off" in shown
    assert say(bot, "/quiet off").text == "Đã tắt giờ không làm phiền."
    assert not digest.has_quiet_hours(store.chat_settings(CHAT))


def test_quiet_command_errors_are_clear(store: Store, bot: Commands) -> None:
    assert "Không hiểu khoảng giờ “25:00-06:00”" in say(bot, "/quiet 25:00-06:00").text
    assert "22:00-06:30" in say(bot, "/quiet 22:00").text
    assert "Unknown time zone “Mars/Olympus”" in say(
        bot, "/quiet 22:00-06:30 Mars/Olympus", ctx(43, language="en")
    ).text
    assert store.chat_settings(CHAT) == ChatSettings(CHAT)  # nothing changed


def test_quiet_with_a_time_zone(store: Store, bot: Commands) -> None:
    assert "(Europe/Berlin)" in say(bot, "/quiet 23h-7h Europe/Berlin").text
    settings = store.chat_settings(CHAT)
    assert (settings.timezone, settings.quiet_start, settings.quiet_end) == (
        "Europe/Berlin", 1380, 420)


def test_urgent_command(store: Store, bot: Commands) -> None:
    reply = say(bot, "/urgent bão, khẩn, mất điện")
    assert "bão, khẩn, mất điện" in reply.text
    assert store.chat_settings(CHAT).urgent == ("bão", "khẩn", "mất điện")
    assert "Từ khoá khẩn: bão, khẩn, mất điện" in say(bot, "/urgent").text
    assert say(bot, "/urgent off").text == "Đã xoá các từ khoá khẩn."
    assert store.chat_settings(CHAT).urgent == ()
    assert "100" in say(bot, "/urgent " + "x" * 101).text


def test_digest_command(store: Store, bot: Commands) -> None:
    assert "07:30" in say(bot, "/digest daily 07:30").text
    assert (store.chat_settings(CHAT).digest, store.chat_settings(CHAT).digest_at) == ("daily", 450)
    assert "mỗi giờ" in say(bot, "/digest hourly").text
    assert store.chat_settings(CHAT).digest == "hourly"
    assert "Usage: <code>/digest daily 07:00</code>" in say(
        bot, "/digest weekly", ctx(43, language="en")).text
    assert "Cách dùng" in say(bot, "/digest daily 31:00").text
    say(bot, "/digest off")
    assert store.chat_settings(CHAT).digest == "off"


def test_edits_command(store: Store, bot: Commands) -> None:
    assert "sẽ không báo" in say(bot, "/edits off").text
    assert store.chat_settings(CHAT).edits is False
    assert "Báo tin được sửa: tắt" in say(bot, "/edits").text
    say(bot, "/edits on")
    assert store.chat_settings(CHAT).edits is True


def test_only_group_admins_change_delivery_settings(store: Store, bot: Commands) -> None:
    member = ctx(-100500, admin=False, kind="supergroup")
    for line in ("/quiet 22:00-06:00", "/urgent bão", "/digest hourly", "/edits off"):
        assert "quản trị viên" in say(bot, line, member).text
    assert store.chat_settings(-100500) == ChatSettings(-100500)


@pytest.mark.parametrize("language", ["vi", "en"])
def test_help_and_menu_describe_the_new_commands(bot: Commands, language: str) -> None:
    menu = dict(bot.command_list(language))
    search = "search" if language == "en" else "tim"  # each language's menu names its own word
    assert {"quiet", "urgent", "digest", "edits", search} <= set(menu)
    text = say(bot, "/help", ctx(language=language)).text
    assert "<code>/quiet 22:00-06:30</code>" in text and "<code>/digest daily 07:00</code>" in text


def test_settings_follow_a_migrated_group_and_go_with_a_forgotten_chat(store: Store) -> None:
    store.upsert_chat(Chat(-5, kind="group"))
    store.set_chat_settings(replace(QUIET, chat_id=-5, digest="hourly"))
    store.move_chat(-5, -1005)
    assert store.chat_settings(-1005) == replace(QUIET, chat_id=-1005, digest="hourly")
    assert store.chat_settings(-5) == ChatSettings(-5)
    store.forget_chat(CHAT)
    assert store.chat_settings(CHAT) == ChatSettings(CHAT)
