"""End to end: the fake news site and the fake Telegram Bot API (in threads), and `newsbot run` as
a subprocess with the real PTB talking to the fake. A user subscribes and filters by keyword
through commands, the site publishes, the right message arrives once; the pacing draws no 429
from a fake enforcing Telegram's flood limits."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes.newsbot_proc import (
    TOKEN,
    Ledger,
    NewsbotProcess,
    NewsPage,
    add_subscribers,
    article_numbers,
    received,
    seed,
    sends_since,
    wait_until,
    write_setup,
)
from fakes.site import FakeSite
from fakes.telegram_api import FakeBotAPI

from bot.model import ChatKind

USER = 424242


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite.start_in_thread() as fake_site:
        yield fake_site


@pytest.fixture
def processes() -> Iterator[list[NewsbotProcess]]:
    started: list[NewsbotProcess] = []
    yield started
    for process in started:
        process.kill()


def item_messages(fake: FakeBotAPI, chat_id: int) -> list[str]:
    return [m.body for m in fake.messages_to(chat_id) if article_numbers(m.body)]


def assert_clean_output(daemon: NewsbotProcess) -> None:
    assert "Traceback" not in daemon.output
    assert TOKEN not in daemon.output and TOKEN.split(":")[1] not in daemon.output


def test_a_user_filtering_for_hai_an_gets_exactly_the_hai_an_article_once(
    tmp_path: Path, site: FakeSite, processes: list[NewsbotProcess]
) -> None:
    scale = 0.05
    fake = FakeBotAPI(token=TOKEN, time_scale=scale).start_in_thread()
    try:
        page = NewsPage(site, "/tin-tuc")
        page.publish(["Cảng Hải Phòng đón tàu mới", "Hội nghị tổng kết năm"])
        config = write_setup(tmp_path, {"haiphong": page.url}, telegram_url=fake.base_url,
                             pacing_scale=scale)
        seed(config)
        daemon = NewsbotProcess(config).start()
        processes.append(daemon)
        daemon.wait_for(r"serving feeds on http://127\.0\.0\.1:\d+/")

        fake.user_message(USER, "/start", language_code="vi")
        wait_until(lambda: len(fake.messages_to(USER)) == 1, 20, "/start answered")
        assert "Tin thử haiphong" in fake.last_to(USER).body
        time.sleep(1.0 * scale)  # a person types slower than one message a second
        fake.user_message(USER, "/include hai an", language_code="vi")
        wait_until(lambda: len(fake.messages_to(USER)) == 2, 10, "/include answered")
        assert "hai an" in fake.last_to(USER).body

        hai_an, *others = page.publish([
            "Quận Hải An tổ chức hội nghị tổng kết công tác năm",
            "Huyện Tiên Lãng ra quân làm thủy lợi nội đồng",
            "Đồ Sơn chuẩn bị cho mùa du lịch biển",
        ])
        wait_until(lambda: item_messages(fake, USER), 20, "the Hải An article announced")
        polls = site.count(page.path)
        wait_until(lambda: site.count(page.path) >= polls + 3, 20, "three more polls")

        (message,) = item_messages(fake, USER)
        assert article_numbers(message) == [hai_an]
        assert "Quận Hải An tổ chức hội nghị" in message
        assert f'href="{page.url}/bai-{hai_an}"' in message
        assert "<b>hai an</b>" in message  # the keyword that matched
        ledger = Ledger(tmp_path / "data" / "newsbot.db")
        assert ledger.counts() == {"rows": 1, "pending": 0, "sent": 1, "failed": 0}
        assert len(fake.messages_to(USER)) == 3 and not set(others) & {
            n for m in fake.messages_to(USER) for n in article_numbers(m.body)
        }

        # The command menu, Vietnamese by default and per language.
        assert set(fake.commands) == {("default", ""), ("default", "vi"), ("default", "en")}
        for menu in fake.commands.values():
            assert {"start", "include", "exclude", "stop"} <= {c["command"] for c in menu}
        vi, en = fake.commands[("default", "vi")], fake.commands[("default", "en")]
        assert vi != en and fake.commands[("default", "")] == vi

        code, took = daemon.terminate()
        assert code == 0 and took < 10, daemon.output
        assert daemon.lines[-1].endswith("newsbot stopped")
        assert_clean_output(daemon)
        assert [e for e in fake.errors if e.method != "getupdates"] == []
    finally:
        fake.stop_thread()


def busiest_window(times: list[float], window: float) -> int:
    """The most sends inside any `window` seconds."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_a_broadcast_to_private_chats_and_groups_draws_no_429_from_strict_limits(
    tmp_path: Path, site: FakeSite, processes: list[NewsbotProcess]
) -> None:
    # 1 s of Telegram's time lasts 0.2 s for the fake's flood windows and the daemon's pacing.
    # 30 private chats can take 30 messages a second together: the overall limit binds.
    scale = 0.2
    chats: dict[int, ChatKind] = {9000 + n: "private" for n in range(30)}
    chats.update({-9000 - n: "group" for n in range(3)})
    chats.update({-1009000000000 - n: "supergroup" for n in range(3)})
    fake = FakeBotAPI(token=TOKEN, time_scale=scale, strict=True).start_in_thread()
    try:
        page = NewsPage(site, "/tin-tuc")
        page.publish_many(6)
        config = write_setup(tmp_path, {"haiphong": page.url}, telegram_url=fake.base_url,
                             pacing_scale=scale, server=False)
        add_subscribers(config, chats, ["haiphong"])
        seed(config)
        daemon = NewsbotProcess(config).start()
        processes.append(daemon)
        numbers = page.publish_many(6)
        expected = {(chat_id, n) for chat_id in chats for n in numbers}
        wait_until(lambda: set(received(fake)) >= expected, 30, "broadcast delivered")

        assert fake.errors == [] and fake.flood_violations == [], fake.flood_violations
        assert received(fake) == Counter(dict.fromkeys(expected, 1))
        for chat_id in chats:  # oldest first in every chat
            assert [n for c, n in sends_since(fake, 0) if c == chat_id] == numbers
        sends = [m.t for m in fake.sent]
        peak = busiest_window(sends, 1.0 * scale)
        assert 10 <= peak <= 30  # near the overall limit, never above it
        for chat_id, kind in chats.items():
            at = [m.t for m in fake.messages_to(chat_id)]
            if kind == "private":
                assert busiest_window(at, 1.0 * scale) == 1
            else:
                assert busiest_window(at, 60.0 * scale) <= 20
        code, took = daemon.terminate()
        assert code == 0 and took < 10, daemon.output
        assert_clean_output(daemon)
    finally:
        fake.stop_thread()
