"""/add URL and /remove ID from Telegram (issue 15, item 4), end to end: `newsbot run` as a
subprocess with the real python-telegram-bot talking to the fake Bot API, a fake site serving a
feed on 127.0.0.1. Only telegram.admins may use them; the fetch obeys the private-address rule
(a URL typed into Telegram reaches 127.0.0.1 only when [fetch] allow_private says so)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fakes import feedfiles
from fakes.newsbot_proc import (
    TOKEN,
    Ledger,
    NewsbotProcess,
    NewsPage,
    wait_until,
    write_setup,
)
from fakes.site import FakeSite
from fakes.telegram_api import FakeBotAPI, SentMessage

ADMIN = 717171
USER = 818181
SCALE = 0.05


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite.start_in_thread() as fake_site:
        fake_site.set_page("/rss.xml", feedfiles.rss20(feedfiles.entries(12, fake_site.base_url)),
                           content_type=feedfiles.RSS_TYPE)
        yield fake_site


@pytest.fixture
def fake() -> Iterator[FakeBotAPI]:
    api = FakeBotAPI(token=TOKEN, time_scale=SCALE).start_in_thread()
    yield api
    api.stop_thread()


def start_daemon(tmp_path: Path, site: FakeSite, fake: FakeBotAPI, *,
                 allow_loopback: bool) -> NewsbotProcess:
    page = NewsPage(site, "/a")
    page.publish(["Tin A"])
    config = write_setup(tmp_path, {"a": page.url}, telegram_url=fake.base_url,
                         pacing_scale=SCALE, admins=[ADMIN], rescan="1h")
    if allow_loopback:
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[fetch]\n", '[fetch]\nallow_private = ["127.0.0.1"]\n'),
                          encoding="utf-8")
    daemon = NewsbotProcess(config).start()
    daemon.wait_for(r"Telegram bot running")
    return daemon


def reply_to(fake: FakeBotAPI, chat_id: int, text: str, contains: str) -> SentMessage:
    """Send `text` as the user; the first message after it that contains `contains`."""
    seen = len(fake.messages_to(chat_id))
    fake.user_message(chat_id, text, language_code="vi")

    def found() -> SentMessage | None:
        return next((m for m in fake.messages_to(chat_id)[seen:] if contains in m.body), None)

    wait_until(found, 20, f"a reply to {text!r} containing {contains!r}")
    message = found()
    assert message is not None
    return message


def press(fake: FakeBotAPI, user_id: int, message: SentMessage, prefix: str,
          then: str) -> SentMessage:
    """Press the button whose data starts with `prefix`; the message once its text has `then`."""
    (data,) = [d for d in message.button_data() if d.startswith(prefix)]
    fake.callback(user_id, data, message, language_code="vi")

    def edited() -> bool:
        current = fake._messages[(message.chat_id, message.message_id)]
        return then in current.body

    wait_until(edited, 20, f"the message edited to say {then!r}")
    return fake._messages[(message.chat_id, message.message_id)]


def test_an_admin_adds_a_feed_with_a_preview_and_removes_it_with_a_confirmation(
    tmp_path: Path, site: FakeSite, fake: FakeBotAPI
) -> None:
    daemon = start_daemon(tmp_path, site, fake, allow_loopback=True)
    feed_url = site.url_for("/rss.xml")
    recipe = tmp_path / "feeds" / "bao-thu.toml"
    try:
        # Not an admin: refused, and nothing is fetched.
        refused = reply_to(fake, USER, f"/add {feed_url}", "quản trị viên của bot")
        assert not refused.button_data()
        assert reply_to(fake, USER, "/remove a", "quản trị viên của bot")
        assert site.count("/rss.xml") == 0

        # Checking first, then five items as they would be published, with Save / Cancel.
        seen = len(fake.messages_to(ADMIN))
        preview = reply_to(fake, ADMIN, f"/add {feed_url}", "Lưu thành nguồn")
        checking, shown = fake.messages_to(ADMIN)[seen:seen + 2]
        assert "Đang kiểm tra" in checking.body and shown.message_id == preview.message_id
        assert "Báo thử" in preview.body and "là một feed" in preview.body
        assert preview.body.count("\n• ") == 5
        assert "Tin số 11: Hải Phòng khởi công cầu mới" in preview.body
        assert "(5/12 tin.)" in preview.body and "<code>bao-thu</code>" in preview.body
        cancelled = press(fake, ADMIN, preview, "src:cancel:", "Đã huỷ")
        assert not cancelled.button_data()
        assert not recipe.exists()

        preview = reply_to(fake, ADMIN, f"/add {feed_url}", "Lưu thành nguồn")
        twin = reply_to(fake, ADMIN, f"/add {feed_url}", "Lưu thành nguồn")  # asked twice
        press(fake, ADMIN, preview, "src:save:", "Đã lưu nguồn")
        assert f'feed = "{feed_url}"' in recipe.read_text(encoding="utf-8")
        daemon.wait_for(r"recipes: added bao-thu")  # at once, no SIGHUP, no rescan period
        ledger = Ledger(tmp_path / "data" / "newsbot.db")
        wait_until(lambda: ledger.seeded("bao-thu"), 20, "the new feed polled and seeded")
        assert reply_to(fake, USER, "/feeds", "Báo thử")

        # The second proposal of the same feed is not saved again.
        again = press(fake, ADMIN, twin, "src:save:", "❌")
        assert "is already followed as bao-thu" in again.body
        assert sorted(p.name for p in (tmp_path / "feeds").iterdir()) == ["a.toml", "bao-thu.toml"]

        # /remove asks first; "Keep" keeps, "Remove" removes (stored items stay).
        confirm = reply_to(fake, ADMIN, "/remove bao-thu", "Bỏ nguồn")
        press(fake, ADMIN, confirm, "src:keep:", "Vẫn giữ nguồn")
        assert recipe.exists()
        confirm = reply_to(fake, ADMIN, "/remove bao-thu", "Bỏ nguồn")
        press(fake, ADMIN, confirm, "src:rm:", "Đã bỏ nguồn")
        assert not recipe.exists()
        daemon.wait_for(r"recipes: removed bao-thu")
        assert ledger._query("SELECT count(*) FROM items WHERE feed_id = 'bao-thu'") == [(12,)]
        assert reply_to(fake, ADMIN, "/remove bao-thu", "Không có nguồn")

        code, _ = daemon.terminate()
        assert code == 0, daemon.output
        assert "Traceback" not in daemon.output and TOKEN not in daemon.output
    finally:
        daemon.kill()


def test_add_from_telegram_never_fetches_a_private_address_unless_allowed(
    tmp_path: Path, site: FakeSite, fake: FakeBotAPI
) -> None:
    daemon = start_daemon(tmp_path, site, fake, allow_loopback=False)
    try:
        answer = reply_to(fake, ADMIN, f"/add {site.url_for('/rss.xml')}", "Không thêm được")
        assert "not fetched" in answer.body and "loopback" in answer.body
        assert "allow_private" in answer.body  # the way to allow it, for an intranet site
        assert not answer.button_data()
        assert site.count("/rss.xml") == 0 and site.count("/robots.txt") == 0
        assert list((tmp_path / "feeds").glob("*.toml")) == [tmp_path / "feeds" / "a.toml"]
        wait_until(lambda: site.count("/a") > 0, 20, "the recipe's own loopback URL polled")
    finally:
        daemon.kill()
