"""Commands on a real in-memory Store: what each command does to the store and what it replies."""

from __future__ import annotations

import re
import string
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import ClassVar

import pytest

from bot import filters
from bot.model import Chat, FeedHealth, Item, KeywordFilter
from bot.store.db import Store
from bot.telegram.commands.dispatch import (
    CALLBACK_DATA_MAX_BYTES,
    Button,
    CommandContext,
    Commands,
    FeedInfo,
    RateLimiter,
    Reply,
)
from bot.telegram.texts import EN, EN_SINGULAR, VI, Html, pick_language, t

NEWS = "haiphong-tin-tuc"
NOTICES = "haiphong-thong-bao"
FEEDS = {
    NEWS: FeedInfo(NEWS, "Tin tức Hải Phòng", url="https://haiphong.gov.vn/tin-tuc"),
    NOTICES: FeedInfo(NOTICES, "Thông báo & Chỉ đạo", url="https://haiphong.gov.vn/thong-bao"),
}
START = datetime(2024, 11, 28, 7, 0, tzinfo=UTC)
USER, OTHER = 111, 222
GROUP = -100123


class Clock:
    """A clock that moves `step` on every reading (10 s: never hits the 10/min rate limit)."""

    def __init__(self, step: timedelta = timedelta(seconds=10)) -> None:
        self.now, self.step = START, step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def bot(store: Store) -> Commands:
    return Commands(store, FEEDS, public_url="https://news.example/<feeds>", now=Clock())


def private(user_id: int = USER, language: str | None = "vi") -> CommandContext:
    return CommandContext(chat_id=user_id, chat_type="private", user_id=user_id,
                          language_code=language)


def group(user_id: int = OTHER, *, admin: bool = False, bot_admin: bool = False,
          language: str | None = "vi") -> CommandContext:
    return CommandContext(chat_id=GROUP, chat_type="supergroup", user_id=user_id,
                          language_code=language, chat_title="Nhóm <Hải Phòng>",
                          is_chat_admin=admin, is_bot_admin=bot_admin)


class TelegramHtml(HTMLParser):
    """Rejects what Telegram's HTML parser rejects: unknown tags, unclosed tags, bad nesting."""

    ALLOWED: ClassVar[set[str]] = {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
        "blockquote", "span", "tg-spoiler",
    }

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in self.ALLOWED, f"unsupported tag <{tag}>"
        self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open.pop() == tag, f"unbalanced </{tag}>"


def html_ok(text: str) -> str:
    """`text` if Telegram would accept it as HTML (tags, entities, length)."""
    parser = TelegramHtml()
    parser.feed(text)
    parser.close()
    assert not parser.open, f"unclosed {parser.open}"
    assert re.search(r"&(?!(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);)", text) is None, "bare &"
    visible = re.sub(r"<[^>]+>", "", text)
    assert 1 <= len(visible) <= 4096
    return text


def say(bot: Commands, ctx: CommandContext, line: str) -> Reply:
    """Send `/command args` and return the (HTML-checked) reply."""
    command, _, args = line.removeprefix("/").partition(" ")
    reply = bot.run(ctx, command, args)
    assert reply is not None
    html_ok(reply.text)
    return reply


def press(bot: Commands, ctx: CommandContext, data: str) -> Reply:
    reply = bot.press(ctx, data)
    assert reply is not None
    html_ok(reply.text)
    return reply


def button_for(reply: Reply, feed_id: str) -> Button:
    title = FEEDS[feed_id].title
    return next(b for row in reply.buttons for b in row if b.text.endswith(title))


def add(store: Store, feed_id: str, *items: tuple[str, str, datetime]) -> None:
    store.add_items(feed_id, [Item(feed_id, f"id-{title}", url, title, published_at=at)
                              for title, url, at in items], START)


# texts


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    assert VI.keys() == EN.keys()
    assert EN_SINGULAR.keys() <= {k for k in EN if "count" in placeholders(EN[k])}
    assert t("en", "latest_header", count=1) == "<b>The newest item</b>"
    assert t("en", "latest_header", count=2) == "<b>2 newest items</b>"
    for key in VI:
        assert placeholders(VI[key]) == placeholders(EN[key]), key
        assert VI[key] != EN[key] or key in {"stats_extra"}, f"{key} is not translated"


def test_t_escapes_values_but_not_html_fragments() -> None:
    assert t("en", "subscribed", title="A & <b>") == "✅ Now following A &amp; &lt;b&gt;."
    assert t("en", "subscribed", title=Html("<b>A</b>")) == "✅ Now following <b>A</b>."
    assert t("xx", "lang_set") == VI["lang_set"]  # unknown language: Vietnamese


def test_language_from_telegram_language_code() -> None:
    codes = ("en", "en-GB", "EN", "vi", "vi-VN", "fr", "zh-hans", None, "")
    assert [pick_language(c) for c in codes] == [
        "en", "en", "en", "vi", "vi", "en", "en", "vi", "vi"]  # neither vi nor en: English


def test_every_template_is_valid_telegram_html() -> None:
    for table in (VI, EN):
        for template in table.values():
            values = {name: "x" for name in placeholders(template)}
            html_ok(template.format(**values))


# /start, /help, unknown commands


def test_start_registers_the_chat_and_follows_every_feed(store: Store, bot: Commands) -> None:
    reply = say(bot, private(language="vi-VN"), "/start")
    assert store.chat(USER) == Chat(USER, kind="private", language="vi")
    assert store.subscriptions_of(USER) == [NOTICES, NEWS]
    assert reply.text.startswith("👋 Xin chào!")
    assert "Thông báo &amp; Chỉ đạo" in reply.text
    assert '<a href="https://haiphong.gov.vn/tin-tuc">Tin tức Hải Phòng</a>' in reply.text
    assert "/include" in reply.text and "/exclude" in reply.text


def test_start_in_english_for_english_users(store: Store, bot: Commands) -> None:
    reply = say(bot, private(language="en-US"), "/start")
    assert store.chat(USER) == Chat(USER, language="en")
    assert reply.text.startswith("👋 Hello!")


def test_start_follows_only_the_default_feeds(store: Store) -> None:
    bot = Commands(store, FEEDS, default_feeds=[NEWS, "gone-feed"], now=Clock())
    say(bot, private(), "/start")
    assert store.subscriptions_of(USER) == [NEWS]


def test_start_reactivates_and_keeps_chosen_feeds(store: Store, bot: Commands) -> None:
    say(bot, private(), "/start")
    say(bot, private(), f"/unsubscribe {NOTICES}")
    store.set_chat(USER, active=False, paused=True)  # e.g. the user had blocked the bot
    say(bot, private(), "/start")
    assert store.chat(USER) == Chat(USER, active=True, paused=False)
    assert store.subscriptions_of(USER) == [NEWS]


def test_start_with_a_feed_follows_just_that_feed(store: Store, bot: Commands) -> None:
    # The index page links t.me/<bot>?start=<feed>: Telegram sends `/start <feed>`.
    reply = say(bot, private(language="en"), f"/start {NEWS}")
    assert store.subscriptions_of(USER) == [NEWS]  # not every default feed
    assert reply.text.startswith("👋 Hello!") and "Tin tức Hải Phòng" in reply.text
    say(bot, private(language="en"), f"/start {NOTICES}")  # a second link adds that one
    assert store.subscriptions_of(USER) == [NOTICES, NEWS]


def test_start_with_an_unknown_feed_names_the_feeds_and_changes_nothing(
    store: Store, bot: Commands
) -> None:
    reply = say(bot, private(language="en"), "/start no-such-feed")
    assert "no-such-feed" in reply.text and NEWS in reply.text
    assert store.subscriptions_of(USER) == []


def test_start_with_no_feeds_configured(store: Store) -> None:
    bot = Commands(store, {}, now=Clock())
    assert say(bot, private(language="en"), "/start").text == t("en", "start_no_feeds")
    assert say(bot, private(), "/feeds").text == t("en", "feeds_empty")  # the chat's language


@pytest.mark.parametrize("language", ["vi", "en"])
def test_help_lists_commands_filters_and_the_feed_url(bot: Commands, language: str) -> None:
    text = say(bot, private(language=language), "/help").text
    for command, description in bot.command_list(language):
        assert f"/{command} – {description}" in text
    assert "<code>/include" in text and ("NGUỒN:" in text or "FEED:" in text)
    assert "https://news.example/&lt;feeds&gt;" in text
    assert "/stats" not in text


@pytest.mark.parametrize(("language", "expected"), [
    ("vi", "Không có lệnh /frobnicate. Gõ /help để xem các lệnh."),
    ("en", "There is no /frobnicate command. Send /help to see the commands."),
])
def test_unknown_command_points_to_help(bot: Commands, language: str, expected: str) -> None:
    assert say(bot, private(language=language), "/frobnicate now").text == expected


def test_unknown_command_name_is_escaped_and_cut(bot: Commands) -> None:
    text = say(bot, private(language="en"), "/<b>" + "x" * 100).text
    assert "&lt;b&gt;" in text and "x" * 29 in text and "x" * 30 not in text


def test_command_list_fits_set_my_commands() -> None:
    bot = Commands(Store.open(":memory:"), FEEDS)
    vi, en = bot.command_list("vi"), bot.command_list("en")
    assert [c for c, _ in vi] == [c if c != "search" else "tim" for c, _ in en]
    assert "tim" in dict(vi) and "search" in dict(en) and "tim" not in dict(en)
    assert "start" in dict(vi) and "stats" not in dict(vi)
    for command, description in vi + en:
        assert re.fullmatch(r"[a-z0-9_]{1,32}", command)
        assert 1 <= len(description) <= 256 and "<" not in description
    assert dict(vi)["pause"] == "Tạm dừng nhận tin" and dict(en)["pause"] == "Pause news"


# /feeds and buttons


def test_feeds_lists_feeds_with_toggle_buttons(store: Store, bot: Commands) -> None:
    say(bot, private(), f"/subscribe {NEWS}")
    reply = say(bot, private(), "/feeds")
    assert not reply.edit
    assert f"✅ <a href=\"https://haiphong.gov.vn/tin-tuc\">Tin tức Hải Phòng</a> " \
           f"<code>{NEWS}</code>" in reply.text
    assert button_for(reply, NEWS) == Button("✅ Tin tức Hải Phòng", f"uns:{NEWS}:0")
    assert button_for(reply, NOTICES) == Button("➕ Thông báo & Chỉ đạo", f"sub:{NOTICES}:0")


def test_pressing_a_button_toggles_and_redraws_in_place(store: Store, bot: Commands) -> None:
    listing = say(bot, private(), "/feeds")
    after_sub = press(bot, private(), button_for(listing, NOTICES).data)
    assert store.subscriptions_of(USER) == [NOTICES]
    assert store.chat(USER) is not None
    assert after_sub.edit and button_for(after_sub, NOTICES).data == f"uns:{NOTICES}:0"
    after_uns = press(bot, private(), button_for(after_sub, NOTICES).data)
    assert store.subscriptions_of(USER) == []
    assert button_for(after_uns, NOTICES).data == f"sub:{NOTICES}:0"
    old_style = press(bot, private(), f"sub:{NOTICES}")  # a button from before paging
    assert store.subscriptions_of(USER) == [NOTICES] and old_style.edit


def test_callback_data_fits_64_bytes_for_long_feed_ids(store: Store) -> None:
    long_ids = ["a" * 100, "a" * 99 + "b", "tin-" + "đ" * 40, "a" * 60]
    feeds = {f: FeedInfo(f, f"Nguồn {n}") for n, f in enumerate(long_ids)}
    bot = Commands(store, feeds, now=Clock())
    listing = say(bot, private(), "/feeds")
    datas = [b.data for row in listing.buttons for b in row]
    assert len(set(datas)) == len(long_ids)
    assert all(len(d.encode()) <= CALLBACK_DATA_MAX_BYTES for d in datas)
    for data in datas:
        press(bot, private(), data)
    assert store.subscriptions_of(USER) == sorted(long_ids)


def test_button_refuses_oversized_data() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        Button("x", "sub:" + "đ" * 31)


def test_button_for_a_removed_feed_redraws_the_list(store: Store, bot: Commands) -> None:
    reply = press(bot, private(language="en"), "sub:no-such-feed")
    assert reply.edit and reply.text.startswith("That feed no longer exists.")
    assert store.subscriptions_of(USER) == []
    assert bot.press(private(), "garbage") is None


# /subscribe, /unsubscribe


@pytest.mark.parametrize("name", [NEWS, "HAIPHONG-TIN", "tin tuc hai phong", "Tin tức",
                                  unicodedata.normalize("NFD", "TIN TỨC HẢI PHÒNG")])
def test_subscribe_by_id_prefix_or_title(store: Store, bot: Commands, name: str) -> None:
    reply = say(bot, private(), f"/subscribe {name}")
    assert store.subscriptions_of(USER) == [NEWS]
    assert reply.text == "✅ Đã theo dõi Tin tức Hải Phòng."
    again = say(bot, private(language="en"), f"/subscribe {name}")
    assert again.text == "Bạn đã theo dõi Tin tức Hải Phòng rồi."  # chat language stays vi


def test_subscribe_ambiguous_unknown_and_missing_names(store: Store, bot: Commands) -> None:
    ambiguous = say(bot, private(language="en"), "/subscribe haiphong").text
    assert ambiguous.startswith("“haiphong” matches several feeds:")
    assert NEWS in ambiguous and NOTICES in ambiguous
    unknown = say(bot, private(language="en"), "/subscribe <danang>").text
    assert unknown.startswith("No feed called “&lt;danang&gt;”. Feeds:") and NEWS in unknown
    usage = say(bot, private(language="en"), "/subscribe").text
    assert usage.startswith("Usage: /subscribe FEED.") and NOTICES in usage
    assert store.subscriptions_of(USER) == []


def test_no_command_takes_a_url(store: Store, bot: Commands) -> None:
    reply = say(bot, private(language="en"), "/subscribe https://evil.example/rss")
    assert reply.text.startswith("No feed called “https://evil.example/rss”.")
    assert store.subscriptions_of(USER) == [] and store.item_count() == 0


def test_feeds_keep_the_configured_order(store: Store) -> None:
    feeds = {f: FeedInfo(f, f.upper()) for f in ("zeta", "alpha", "mid")}
    listing = say(Commands(store, feeds, now=Clock()), private(), "/feeds")
    assert [row[0].text for row in listing.buttons] == ["➕ ZETA", "➕ ALPHA", "➕ MID"]


def test_many_feeds_fit_one_message(store: Store) -> None:
    feeds = {f"feed-{n:03}": FeedInfo(f"feed-{n:03}", "Nguồn tin rất dài " * 6) for n in range(90)}
    listing = say(Commands(store, feeds, now=Clock()), private(), "/feeds")
    assert "trang 1/12" in listing.text and len(listing.buttons) == 8 + 1  # 8 feeds, then ▶
    assert [b.data for b in listing.buttons[-1]] == ["fl:1"]
    usage = say(Commands(store, feeds, now=Clock()), private(), "/subscribe").text
    assert usage.endswith(", …") and "feed-029" in usage and "feed-030" not in usage


def test_unsubscribe_a_feed_no_longer_configured(store: Store, bot: Commands) -> None:
    store.subscribe(USER, "old-feed")
    assert say(bot, private(), "/unsubscribe old-feed").text == "Đã bỏ theo dõi old-feed."
    assert store.subscriptions_of(USER) == []


def test_unsubscribe(store: Store, bot: Commands) -> None:
    say(bot, private(), "/start")
    assert say(bot, private(), "/unsubscribe thong bao").text == \
        "Đã bỏ theo dõi Thông báo &amp; Chỉ đạo."
    assert store.subscriptions_of(USER) == [NEWS]
    assert say(bot, private(), "/unsubscribe thong bao").text == \
        "Bạn chưa theo dõi Thông báo &amp; Chỉ đạo."
    assert NEWS in say(bot, private(), "/unsubscribe").text


# keyword filters


def test_include_and_exclude_add_chat_wide_phrases(store: Store, bot: Commands) -> None:
    say(bot, private(), "/include giao thông, Hải An")
    reply = say(bot, private(), "/include cảng ,  , giao thông")
    say(bot, private(), "/exclude quảng cáo")
    assert store.keyword_filter(USER) == KeywordFilter(("giao thông", "Hải An", "cảng"),
                                                       ("quảng cáo",))
    assert reply.text.startswith("Đã cập nhật bộ lọc.")
    assert "Chỉ nhận tin có: giao thông, Hải An, cảng" in reply.text


def test_a_phrase_moves_between_include_and_exclude(store: Store, bot: Commands) -> None:
    say(bot, private(), "/include bão, lũ")
    say(bot, private(), "/exclude BÃO")
    assert store.keyword_filter(USER) == KeywordFilter(("lũ",), ("BÃO",))


def test_per_feed_filters(store: Store, bot: Commands) -> None:
    say(bot, private(language="en"), "/include thong bao: lịch cắt điện")
    say(bot, private(language="en"), f"/exclude {NEWS}: thể thao")
    assert store.keyword_filter(USER) == KeywordFilter()
    assert store.keyword_filter(USER, NOTICES) == KeywordFilter(("lịch cắt điện",))
    assert store.keyword_filter(USER, NEWS) == KeywordFilter((), ("thể thao",))
    text = say(bot, private(language="en"), "/filters").text
    assert "<i>Feed Thông báo &amp; Chỉ đạo</i>\nOnly items with: lịch cắt điện" in text
    assert "<i>Feed Tin tức Hải Phòng</i>\nSkip items with: thể thao" in text
    assert "All feeds" not in text
    unknown = say(bot, private(language="en"), "/include danang: x").text
    assert unknown.startswith("No feed called “danang”.")


def test_keywords_one_per_line_and_long_lists_fit(store: Store, bot: Commands) -> None:
    say(bot, private(), f"/include {NEWS}:\ncầu Rào\nHải An")
    assert store.keyword_filter(USER, NEWS) == KeywordFilter(("cầu Rào", "Hải An"))
    phrases = [f"{n:02} " + "dài " * 24 for n in range(50)]
    say(bot, private(), "/include " + ", ".join(phrases[:25]))
    say(bot, private(), "/include " + ", ".join(phrases[25:]))
    say(bot, private(), "/exclude " + ", ".join(p.replace("dài", "gần") for p in phrases))
    assert len(store.keyword_filter(USER).exclude) == 50
    text = say(bot, private(), "/filters").text  # say() checks ≤ 4096 visible chars
    assert "Chỉ nhận tin có: 00 dài" in text and "Bỏ tin có: 00 gần" in text


def test_filters_reply_when_empty_and_escaped(bot: Commands) -> None:
    assert say(bot, private(), "/filters").text == t("vi", "filters_none")
    say(bot, private(), "/include <b>, a&b")
    assert "Chỉ nhận tin có: &lt;b&gt;, a&amp;b" in say(bot, private(), "/filters").text


@pytest.mark.parametrize("language", ["vi", "en"])
def test_include_without_keywords_shows_usage(bot: Commands, language: str) -> None:
    assert say(bot, private(language=language), "/include").text == t(language, "include_usage")
    assert say(bot, private(language=language), "/exclude , ,").text == \
        t(language, "exclude_usage")


def test_keyword_limits(store: Store, bot: Commands) -> None:
    too_long = say(bot, private(language="en"), "/include ok, " + "x" * 101).text
    assert too_long == "Each keyword can be at most 100 characters long; shorten it."
    assert say(bot, private(), "/include a, !!!").text == t("vi", "keyword_no_letters")
    too_many = ", ".join(f"kw{n}" for n in range(51))
    assert say(bot, private(), f"/exclude {too_many}").text == \
        "Tối đa 50 từ khoá cho mỗi danh sách; hãy bớt bằng /clear."
    assert store.keyword_filter(USER) == KeywordFilter()
    say(bot, private(), "/include " + ", ".join(f"kw{n}" for n in range(50)))
    assert len(store.keyword_filter(USER).include) == 50
    over = say(bot, private(language="en"), "/include one more").text
    assert over == "Tối đa 50 từ khoá cho mỗi danh sách; hãy bớt bằng /clear."
    assert len(store.keyword_filter(USER).include) == 50
    say(bot, private(), "/include KW7")  # already there (folded): no growth, no error
    assert len(store.keyword_filter(USER).include) == 50


def test_clear_all_or_one_feed(store: Store, bot: Commands) -> None:
    say(bot, private(), "/include a")
    say(bot, private(), f"/include {NEWS}: b")
    say(bot, private(), f"/exclude {NOTICES}: c")
    assert say(bot, private(), f"/clear {NEWS}").text == "Đã xoá bộ lọc của Tin tức Hải Phòng."
    assert store.keyword_filter(USER, NEWS) == KeywordFilter()
    assert store.keyword_filter(USER) == KeywordFilter(("a",))
    assert say(bot, private(language="en"), "/clear").text == t("vi", "cleared")
    assert store.keyword_filter(USER) == KeywordFilter()
    assert store.keyword_filter(USER, NOTICES) == KeywordFilter()


# /latest


def test_latest_respects_filters_and_formats_dates(store: Store, bot: Commands) -> None:
    add(store, NEWS,
        ("Khánh thành cầu Hải An", "https://haiphong.gov.vn/a?x=1&y=2",
         datetime(2024, 11, 28, 7, 30, tzinfo=UTC)),
        ("Ánh sáng đô thị", "https://haiphong.gov.vn/b", datetime(2024, 11, 28, 8, 0, tzinfo=UTC)),
        ("Hai an toàn giao thông", "https://haiphong.gov.vn/c",
         datetime(2024, 11, 27, 1, 5, tzinfo=UTC)))
    say(bot, private(), f"/subscribe {NEWS}")
    say(bot, private(), "/include hai an")
    text = say(bot, private(), "/latest").text
    assert text.startswith("<b>2 tin mới nhất</b>")
    assert ('1. <a href="https://haiphong.gov.vn/a?x=1&amp;y=2">Khánh thành cầu Hải An</a>\n'
            "<i>28/11/2024 14:30</i>") in text
    assert "2. <a href=\"https://haiphong.gov.vn/c\">" in text
    assert "Ánh sáng" not in text


def test_latest_count_and_order_across_feeds(store: Store, bot: Commands) -> None:
    base = datetime(2024, 11, 1, tzinfo=UTC)
    add(store, NEWS, *[(f"Tin {n}", f"https://x.vn/{n}", base + timedelta(hours=2 * n))
                       for n in range(15)])
    add(store, NOTICES, *[(f"TB {n}", f"https://x.vn/t{n}", base + timedelta(hours=2 * n + 1))
                          for n in range(15)])
    say(bot, private(), "/start")
    five = say(bot, private(), "/latest").text
    assert re.findall(r">(Tin \d+|TB \d+)</a>", five) == ["TB 14", "Tin 14", "TB 13", "Tin 13",
                                                          "TB 12"]
    assert "· Thông báo &amp; Chỉ đạo</i>" in five  # several feeds: each line names its feed
    assert len(re.findall(r"</a>", say(bot, private(), "/latest 99").text)) == 20
    assert len(re.findall(r"</a>", say(bot, private(), "/latest 3").text)) == 3
    assert say(bot, private(language="en"), "/latest abc").text == \
        "Cách dùng: /latest [số tin, từ 1 đến 20]"  # the chat's language, not the user's
    assert say(bot, private(), "/latest 0").text == t("vi", "latest_usage", max=20)
    assert say(bot, private(), "/latest -3").text == t("vi", "latest_usage", max=20)
    assert len(re.findall(r"</a>", say(bot, private(), "/latest " + "9" * 5000).text)) == 20


def test_latest_merges_chat_wide_and_per_feed_filters(store: Store, bot: Commands) -> None:
    add(store, NEWS, ("Bão số 3 đổ bộ", "https://x.vn/1", START),
        ("Bão và quảng cáo", "https://x.vn/2", START), ("Giá vàng", "https://x.vn/3", START))
    say(bot, private(), f"/subscribe {NEWS}")
    say(bot, private(), "/include bao")
    say(bot, private(), f"/exclude {NEWS}: quang cao")
    text = say(bot, private(), "/latest").text
    assert "Bão số 3" in text and "quảng cáo" not in text and "Giá vàng" not in text


def test_latest_escapes_titles_and_links_only_http(store: Store, bot: Commands) -> None:
    add(store, NEWS, ("<script>alert(1)</script> & co", "javascript:alert(1)", START))
    say(bot, private(), f"/subscribe {NEWS}")
    text = say(bot, private(), "/latest").text
    assert "1. &lt;script&gt;alert(1)&lt;/script&gt; &amp; co\n" in text
    assert "javascript" not in text


def test_latest_without_feeds_or_items(store: Store, bot: Commands) -> None:
    assert say(bot, private(), "/latest").text == t("vi", "latest_no_feeds")
    say(bot, private(language="en"), "/start")
    assert say(bot, private(), "/latest").text == t("en", "latest_none")


def test_latest_fits_one_message(store: Store, bot: Commands) -> None:
    add(store, NEWS, *[("Rất dài " * 60 + str(n), "https://x.vn/" + "p" * 300 + str(n), START)
                       for n in range(20)])
    say(bot, private(), f"/subscribe {NEWS}")
    text = say(bot, private(), "/latest 20").text  # say() checks ≤ 4096 visible chars
    assert "…</a>" in text


# chat state: /pause, /resume, /stop, /lang


def test_pause_and_resume(store: Store, bot: Commands) -> None:
    say(bot, private(), "/start")
    assert say(bot, private(), "/pause").text == t("vi", "paused")
    assert store.chat(USER) == Chat(USER, paused=True)
    assert [s.chat_id for s in store.subscribers_of(NEWS)] == [USER]  # its news is kept
    assert say(bot, private(), "/resume").text == t("vi", "resumed")
    assert say(bot, private(), "/resume").text == t("vi", "resumed")  # not paused: nothing


def test_stop_forgets_everything(store: Store, bot: Commands) -> None:
    say(bot, private(), "/start")
    say(bot, private(), "/include cảng")
    say(bot, private(), f"/include {NEWS}: cầu")
    store.add_items(NEWS, [Item(NEWS, "1", "https://x.vn/1", "Cảng")], START,
                    route=lambda item: [(USER, "cảng")])
    assert store.outbox_counts()["pending"] == 1
    question = say(bot, private(), "/stop")
    assert question.text.startswith("Bạn có chắc") and store.chat(USER) is not None
    assert [b.data for row in question.buttons for b in row] == ["stp:yes", "stp:no"]
    kept = press(bot, private(), "stp:no")
    assert kept.edit and store.subscriptions_of(USER) != []
    reply = press(bot, private(), "stp:yes")
    assert reply.edit and reply.text.startswith("Đã huỷ theo dõi và xoá mọi dữ liệu")
    assert store.chat(USER) is None
    assert store.subscriptions_of(USER) == []
    assert store.keyword_filter(USER) == KeywordFilter()
    assert store.keyword_filter(USER, NEWS) == KeywordFilter()
    assert store.outbox_counts()["pending"] == 0
    assert say(bot, private(language="en"), "/help").text.startswith("<b>newsbot</b> sends")


def test_lang_switches_the_reply_language(store: Store, bot: Commands) -> None:
    assert say(bot, private(), "/lang en").text == "Replies are now in English."
    assert store.chat(USER) == Chat(USER, language="en")
    assert say(bot, private(language="vi"), "/pause").text == t("en", "paused")
    assert say(bot, private(), "/lang VI").text == "Đã chuyển sang tiếng Việt."
    assert say(bot, private(), "/lang fr").text == t("vi", "lang_usage")
    assert store.chat(USER) == Chat(USER, language="vi", paused=True)


# groups and admins


@pytest.mark.parametrize("line", [
    "/start", f"/subscribe {NEWS}", f"/unsubscribe {NEWS}", "/include a", "/exclude b",
    "/clear", "/pause", "/resume", "/stop", "/lang en",
])
def test_group_members_cannot_change_settings(store: Store, bot: Commands, line: str) -> None:
    say(bot, group(admin=True), "/start")
    say(bot, group(admin=True), "/include x")
    before = (store.chat(GROUP), store.subscriptions_of(GROUP), store.keyword_filter(GROUP))
    assert say(bot, group(), line).text == t("vi", "admin_only")
    assert (store.chat(GROUP), store.subscriptions_of(GROUP),
            store.keyword_filter(GROUP)) == before


@pytest.mark.parametrize("line", ["/help", "/latest", "/filters", "/feeds"])
def test_group_members_can_read(bot: Commands, line: str) -> None:
    say(bot, group(admin=True), "/start")
    assert say(bot, group(), line).text != t("vi", "admin_only")


def test_group_admins_and_bot_admins_change_settings(store: Store, bot: Commands) -> None:
    say(bot, group(admin=True, language="en"), "/start")
    assert store.chat(GROUP) == Chat(GROUP, kind="supergroup", language="en",
                                     title="Nhóm <Hải Phòng>")
    say(bot, group(bot_admin=True), f"/unsubscribe {NEWS}")
    assert store.subscriptions_of(GROUP) == [NOTICES]


def test_group_members_cannot_press_buttons(store: Store, bot: Commands) -> None:
    say(bot, group(admin=True), "/start")
    listing = say(bot, group(), "/feeds")
    refused = press(bot, group(), button_for(listing, NEWS).data)
    assert refused.text == t("vi", "admin_only") and not refused.edit
    assert store.subscriptions_of(GROUP) == [NOTICES, NEWS]
    press(bot, group(admin=True), button_for(listing, NEWS).data)
    assert store.subscriptions_of(GROUP) == [NOTICES]


def test_channel_posts_may_change_settings(store: Store, bot: Commands) -> None:
    channel = CommandContext(chat_id=-100999, chat_type="channel", user_id=None,
                             language_code=None)
    assert bot.run(channel, "start", "") is None  # nothing posted to the channel's readers
    assert store.chat(-100999) == Chat(-100999, kind="channel")
    assert store.subscriptions_of(-100999) == sorted(FEEDS)


# /stats


def test_stats_only_for_bot_admins(store: Store) -> None:
    bot = Commands(store, FEEDS, now=Clock(), stats=lambda: {
        "polls_total": 42, "<x>": "&", "outbox": {"pending": 1, "sent": 3}})
    say(bot, private(), "/start")
    say(bot, private(OTHER), "/start")
    store.set_chat(OTHER, paused=True)
    store.save_health(FeedHealth(NEWS, last_success_at=datetime(2024, 11, 28, 7, 30, tzinfo=UTC),
                                 last_error="HTTP 503 <html>", consecutive_failures=2))
    store.add_items(NEWS, [Item(NEWS, "1", "https://x.vn/1", "A")], START,
                    route=lambda item: [(USER, None)])
    assert say(bot, private(), "/stats").text == t("vi", "unknown_command", command="stats")
    admin = replace(private(333, language="en"), is_bot_admin=True)
    text = say(bot, admin, "/stats").text
    assert "Chats: 1 getting news, 1 paused, 0 gone" in text
    assert "Deliveries: 0 sent, 1 pending, 0 failed" in text
    assert (f"<b>{NEWS}</b>: 2 subscribers, last success 28/11/2024 14:30 UTC+7, "
            "2 failures in a row\n   error: HTTP 503 &lt;html&gt;") in text  # paused ones count
    assert f"<b>{NOTICES}</b>: 2 subscribers, last success never, 0 failures" in text
    assert "polls_total: 42" in text and "&lt;x&gt;: &amp;" in text
    assert "outbox: pending 1, sent 3" in text and "{" not in text  # lines, not a Python dict


# rate limit


def test_rate_limit_allows_a_burst_then_warns_once_then_ignores(store: Store) -> None:
    clock = Clock(step=timedelta(seconds=1))
    bot = Commands(store, FEEDS, now=clock)
    for _ in range(20):  # someone exploring the bot: 20 commands in 20 seconds
        assert say(bot, private(), "/help").text.startswith("<b>newsbot</b>")
    assert say(bot, private(), "/help").text == \
        "Bạn gửi lệnh hơi nhanh. Vui lòng thử lại sau 40 giây."
    assert bot.run(private(), "start", "") is None
    assert store.chat(USER) is None  # the ignored /start did nothing
    assert say(bot, private(OTHER, "en"), "/help").text.startswith("<b>newsbot</b> sends")
    clock.now += timedelta(seconds=40)
    assert say(bot, private(), "/start").text.startswith("👋")


def test_rate_limiter_window_and_memory() -> None:
    limiter = RateLimiter(2, timedelta(minutes=1), max_keys=3)
    assert [limiter.check("u", START + timedelta(seconds=s)) for s in (0, 1, 2, 3, 60, 61)] == [
        "ok", "ok", "warn", "drop", "ok", "ok"]
    for key in range(5):
        limiter.check(key, START)
    limiter.check("late", START + timedelta(hours=1))
    assert limiter.check(0, START + timedelta(hours=1)) == "ok"
    assert len(limiter._times) <= 3


def test_button_presses_have_their_own_budget(store: Store) -> None:
    bot = Commands(store, FEEDS, now=Clock(step=timedelta(seconds=1)))
    for _ in range(20):
        say(bot, private(), "/help")
    data = f"sub:{NEWS}"
    assert all(press(bot, private(), data).edit for _ in range(30))
    refused = press(bot, private(), data)
    assert refused.alert and refused.text.startswith("Bạn gửi lệnh hơi nhanh")
    assert bot.press(private(), data) is None


def test_plain_groups_follow_the_admin_rule(store: Store, bot: Commands) -> None:
    member = replace(group(), chat_type="group")
    assert say(bot, member, "/start").text == t("vi", "admin_only")
    say(bot, replace(member, is_chat_admin=True), "/start")
    assert store.chat(GROUP) == Chat(GROUP, kind="group", title="Nhóm <Hải Phòng>")


# official documents and sections: `type:` / `section:` keywords, /sections

DISTRICTS = "haiphong-quan-huyen"
SECTIONS = (("thong-bao", "Thông báo"), ("hai-an", "Quận Hải An"), ("le-chan", "Quận Lê Chân"))
SECTIONED = {
    **FEEDS,
    DISTRICTS: FeedInfo(DISTRICTS, "Quận huyện Hải Phòng", url="https://haiphong.gov.vn/qh",
                        sections=SECTIONS),
}


@pytest.fixture
def sectioned(store: Store) -> Commands:
    return Commands(store, SECTIONED, public_url="https://news.example", now=Clock())


def add_documents(store: Store) -> None:
    store.add_items(DISTRICTS, [
        Item(DISTRICTS, "1", "https://x.vn/1", "Lịch tiếp dân", section="thong-bao",
             published_at=START),
        Item(DISTRICTS, "2", "https://x.vn/2", "QĐ 12/QĐ-UBND", section="hai-an",
             doc_type="Quyết định", doc_number="12/QĐ-UBND", published_at=START),
        Item(DISTRICTS, "3", "https://x.vn/3", "Công văn 7/UBND", section="le-chan",
             doc_type="Công văn", doc_number="7/UBND", published_at=START),
    ], START)


def latest_titles(bot: Commands, ctx: CommandContext) -> list[str]:
    return re.findall(r'">([^<]+)</a>', say(bot, ctx, "/latest 20").text)


@pytest.mark.parametrize("line", [
    "/include type:quyết định", "/include loại: Quyết định", "/include Type : quyet dinh, bão",
])
def test_type_keywords_are_not_read_as_a_feed_scope(
    store: Store, bot: Commands, line: str
) -> None:
    reply = say(bot, private(), line)
    assert reply.text.startswith("Đã cập nhật bộ lọc."), reply.text
    assert filters.facet_of(store.keyword_filter(USER).include[0]) == ("type", "quyet dinh")
    assert all(store.keyword_filter(USER, f) == KeywordFilter() for f in FEEDS)


def test_section_keywords_chat_wide_or_per_feed(store: Store, sectioned: Commands) -> None:
    say(sectioned, private(), "/include mục: thông báo")
    say(sectioned, private(), f"/exclude {DISTRICTS}: section:le-chan")
    assert store.keyword_filter(USER) == KeywordFilter(("mục: thông báo",))
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter((), ("section:le-chan",))


def test_latest_honours_type_and_section_keywords(store: Store, sectioned: Commands) -> None:
    add_documents(store)
    say(sectioned, private(), f"/subscribe {DISTRICTS}")
    say(sectioned, private(), "/include type:quyết định")
    assert latest_titles(sectioned, private()) == ["QĐ 12/QĐ-UBND"]
    say(sectioned, private(), "/clear")
    say(sectioned, private(), f"/include {DISTRICTS}: section:Quận Lê Chân")  # by its name
    assert latest_titles(sectioned, private()) == ["Công văn 7/UBND"]
    say(sectioned, private(), f"/exclude {DISTRICTS}: loại:công văn")
    assert say(sectioned, private(), "/latest").text == t("vi", "latest_none")


def test_sections_without_sectioned_feeds(bot: Commands) -> None:
    assert say(bot, private(), "/sections").text == t("vi", "sections_none")
    assert say(bot, private(language="en"), f"/sections {NEWS}").text == t("en", "sections_none")


def test_sections_lists_the_one_sectioned_feed_with_toggle_buttons(
    store: Store, sectioned: Commands
) -> None:
    reply = say(sectioned, private(language="en"), "/sections")
    assert not reply.edit
    assert reply.text.startswith('<b>Sections of <a href="https://haiphong.gov.vn/qh">'
                                 "Quận huyện Hải Phòng</a></b> (✅ = getting).")
    assert ('▫️ Quận Hải An · <a href="https://news.example/feeds/haiphong-quan-huyen/'
            'hai-an.xml">RSS</a>') in reply.text
    assert t("en", "sections_all") in reply.text
    assert f"/subscribe {DISTRICTS}" in reply.text  # not followed yet
    assert [b for row in reply.buttons for b in row] == [
        Button("▫️ Thông báo", f"sct:{DISTRICTS}:thong-bao"),
        Button("▫️ Quận Hải An", f"sct:{DISTRICTS}:hai-an"),
        Button("▫️ Quận Lê Chân", f"sct:{DISTRICTS}:le-chan"),
    ]


def test_pressing_sections_toggles_per_feed_section_keywords(
    store: Store, sectioned: Commands
) -> None:
    add_documents(store)
    say(sectioned, private(), f"/subscribe {DISTRICTS}")
    say(sectioned, private(), "/include chat-wide")  # chat-wide filters are left alone
    after = press(sectioned, private(), f"sct:{DISTRICTS}:hai-an")
    assert after.edit
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter(("section:hai-an",))
    assert Button("✅ Quận Hải An", f"sct:{DISTRICTS}:hai-an") in after.buttons[1]
    assert "✅ Quận Hải An" in after.text and t("vi", "sections_some_keywords") in after.text
    assert f"/subscribe {DISTRICTS}" not in after.text
    press(sectioned, private(), f"sct:{DISTRICTS}:thong-bao")
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter(
        ("section:hai-an", "section:thong-bao"))
    say(sectioned, private(), "/clear")
    say(sectioned, private(), f"/include {DISTRICTS}: section:thong-bao, section:hai-an")
    assert sorted(latest_titles(sectioned, private())) == ["Lịch tiếp dân", "QĐ 12/QĐ-UBND"]
    off = press(sectioned, private(), f"sct:{DISTRICTS}:thong-bao")
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter(("section:hai-an",))
    assert t("vi", "sections_some") in off.text
    assert latest_titles(sectioned, private()) == ["QĐ 12/QĐ-UBND"]
    all_button = off.buttons[-1][0]
    assert all_button == Button("Mọi chuyên mục", f"sca:{DISTRICTS}")
    cleared = press(sectioned, private(), all_button.data)
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter()
    assert "✅ " not in cleared.text.split("\n", 1)[1] and len(cleared.buttons) == 3
    assert len(latest_titles(sectioned, private())) == 3


def test_a_section_named_by_hand_shows_checked_and_toggles_off(
    store: Store, sectioned: Commands
) -> None:
    say(sectioned, private(), f"/include {DISTRICTS}: Mục: Quận Lê Chân, cảng")
    reply = say(sectioned, private(), f"/sections {DISTRICTS}")
    assert "✅ Quận Lê Chân" in reply.text and "▫️ Thông báo" in reply.text
    press(sectioned, private(), f"sct:{DISTRICTS}:le-chan")
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter(("cảng",))


def test_sections_with_several_sectioned_feeds_lists_them_first(store: Store) -> None:
    feeds = {**SECTIONED, "hn": FeedInfo("hn", "Hà Nội", sections=(("tb", "Thông báo"),))}
    bot = Commands(store, feeds, now=Clock())
    overview = say(bot, private(language="en"), "/sections")
    assert overview.text.startswith(t("en", "sections_feeds_header"))
    assert [b.data for row in overview.buttons for b in row] == [f"sec:{DISTRICTS}", "sec:hn"]
    opened = press(bot, private(), "sec:hn")
    assert opened.edit and [b.data for row in opened.buttons for b in row] == ["sct:hn:tb"]
    direct = say(bot, private(language="en"), "/sections ha noi")
    assert [b.data for row in direct.buttons for b in row] == ["sct:hn:tb"]
    unsectioned = say(bot, private(language="en"), f"/sections {NEWS}").text
    assert unsectioned.startswith("Tin tức Hải Phòng has no sections. Feeds with sections: ")
    assert say(bot, private(), "/sections nowhere").text.startswith("Không tìm thấy nguồn tin")


def test_section_buttons_fit_64_bytes_and_round_trip(store: Store) -> None:
    long_feed = "quan-huyen-" + "đ" * 40
    sections = (("s" * 100, "Một"), ("s" * 99 + "x", "Hai"), ("a:b", "Ba"), ("#x", "Bốn"))
    bot = Commands(store, {long_feed: FeedInfo(long_feed, "Dài", sections=sections)}, now=Clock())
    reply = say(bot, private(), "/sections")
    datas = [b.data for row in reply.buttons for b in row]
    assert len(set(datas)) == 4 and all(len(d.encode()) <= CALLBACK_DATA_MAX_BYTES for d in datas)
    for data in datas:
        press(bot, private(), data)
    assert set(store.keyword_filter(USER, long_feed).include) == {
        f"section:{sid}" for sid, _ in sections}


def test_stale_section_buttons(store: Store, sectioned: Commands) -> None:
    gone = press(sectioned, private(language="en"), f"sct:{DISTRICTS}:old-section")
    assert gone.edit and gone.text.startswith(t("en", "sections_gone"))
    assert store.keyword_filter(USER, DISTRICTS) == KeywordFilter()
    feed_gone = press(sectioned, private(), "sct:no-such-feed:x")
    assert feed_gone.text.startswith(t("vi", "feed_gone"))
    assert press(sectioned, private(), f"sec:{NEWS}").text.startswith(t("vi", "feed_gone"))


def test_group_members_see_sections_but_only_admins_toggle(
    store: Store, sectioned: Commands
) -> None:
    say(sectioned, group(admin=True), "/start")
    listing = say(sectioned, group(), "/sections")
    assert listing.buttons
    assert press(sectioned, group(), f"sec:{DISTRICTS}").edit  # opening is reading
    refused = press(sectioned, group(), listing.buttons[0][0].data)
    assert refused.text == t("vi", "admin_only")
    assert store.keyword_filter(GROUP, DISTRICTS) == KeywordFilter()
    press(sectioned, group(admin=True), listing.buttons[0][0].data)
    assert store.keyword_filter(GROUP, DISTRICTS) == KeywordFilter(("section:thong-bao",))


def test_sections_command_is_in_the_menu_and_help(sectioned: Commands) -> None:
    assert dict(sectioned.command_list("en"))["sections"] == "Pick a feed's sections"
    text = say(sectioned, private(), "/help").text
    assert "/sections – Chọn chuyên mục của một nguồn tin" in text
    assert "<code>/include type:quyết định</code>" in text
