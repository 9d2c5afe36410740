"""Message formatting: escaped, within Telegram's limits, accepted by the strict fake validator."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from fakes.telegram_api import ApiError, check_message_text, parse_telegram_html, utf16_len
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.model import Attachment, Item
from bot.telegram.messages import (
    clip,
    format_caption,
    format_document_caption,
    format_item,
    format_more,
    labels,
    safe_href,
    to_plain_text,
)


def make_item(
    title: str = "Tin",
    summary: str = "",
    url: str = "https://haiphong.gov.vn/a-1.html",
    **fields: object,
) -> Item:
    return Item(
        feed_id="hp",
        item_id="1",
        url=url,
        title=title,
        summary=summary,
        **fields,  # type: ignore[arg-type]
    )


PUBLISHED = datetime(2024, 11, 28, 7, 30, tzinfo=UTC)


def test_typical_item_reads_well() -> None:
    item = make_item(
        "Hải Phòng khởi công cầu Rào 1",
        "  Sáng nay,\n thành phố   khởi công… ",
        published_at=PUBLISHED,
    )
    text = format_item(
        item, feed_title="Cổng TTĐT Hải Phòng", tz="Asia/Ho_Chi_Minh", matched="hai phong"
    )
    assert text == (
        "<b>Hải Phòng khởi công cầu Rào 1</b>\n"
        "Sáng nay, thành phố khởi công…\n\n"
        "<i>28/11/2024 14:30 · Cổng TTĐT Hải Phòng</i>\n"
        "Từ khoá: <b>hai phong</b>\n"
        '<a href="https://haiphong.gov.vn/a-1.html">Xem chi tiết</a>'
    )
    assert check_message_text(text, "HTML").startswith("Hải Phòng khởi công")


def test_a_summary_that_repeats_the_title_is_left_out() -> None:
    text = format_item(make_item("Tin  mới", "tin mới"), feed_title="x", tz="UTC")
    assert text.startswith("<b>Tin mới</b>\n\n<i>x</i>")


def test_english_labels_and_no_date() -> None:
    text = format_item(make_item(), feed_title="HP", tz="UTC", language="en-US")
    assert text.endswith('<i>HP</i>\n<a href="https://haiphong.gov.vn/a-1.html">Read more</a>')


def test_date_uses_the_feed_timezone() -> None:
    item = make_item(published_at=datetime(2024, 12, 31, 20, 0, tzinfo=UTC))
    assert "01/01/2025 03:00" in format_item(item, feed_title="x", tz="Asia/Ho_Chi_Minh")
    assert "31/12/2024 20:00" in format_item(item, feed_title="x", tz="UTC")
    assert "01/01/2025 03:00" in format_item(item, feed_title="x", tz="Not/AZone")


def test_markup_in_text_is_escaped() -> None:
    item = make_item('a < b & "c" </b> <script>x</script>', "it's &amp; <i>")
    text = format_item(item, feed_title="<Feed & Co>", tz="UTC")
    visible = parse_telegram_html(text)
    assert 'a < b & "c" </b> <script>x</script>' in visible
    assert "it's &amp; <i>" in visible
    assert "<Feed & Co>" in visible


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "data:text/html,x",
        "ftp://x.vn/a",
        "//x.vn/a",
        "http://",
        "  ",
        "http://[::1",
    ],
)
def test_unsafe_links_are_dropped(url: str) -> None:
    text = format_item(make_item(url=url), feed_title="x", tz="UTC")
    assert "<a " not in text
    check_message_text(text, "HTML")


def test_links_are_percent_encoded_and_escaped() -> None:
    assert safe_href('https://x.vn/tin tức?q="a"&b=1') == (
        "https://x.vn/tin%20t%E1%BB%A9c?q=%22a%22&b=1"
    )
    text = format_item(make_item(url="https://x.vn/?a=1&b=2"), feed_title="x", tz="UTC")
    assert '<a href="https://x.vn/?a=1&amp;b=2">' in text
    assert safe_href("https://hảiphòng.vn/x") == "https://xn--hiphng-6wa8191d.vn/x"


def test_huge_title_is_cut_without_breaking_markup() -> None:
    item = make_item("Đ" * 5000, "tóm tắt " * 100, published_at=PUBLISHED)
    text = format_item(item, feed_title="x", tz="UTC")
    visible = check_message_text(text, "HTML")
    assert utf16_len(visible) <= 4096
    assert "tóm tắt" not in visible  # the summary goes first
    assert "Đ…</b>" in text
    assert text.endswith("Xem chi tiết</a>")


def test_long_summary_is_trimmed_at_a_word() -> None:
    text = format_item(make_item(summary="chữ " * 500), feed_title="x", tz="UTC")
    summary = text.split("\n")[1]
    assert summary.endswith("chữ…")
    assert len(summary) <= 400


def test_caption_fits_1024() -> None:
    item = make_item("😀" * 900, "x" * 900, published_at=PUBLISHED)
    caption = format_caption(item, feed_title="x", tz="UTC", matched="k" * 500)
    check_message_text(caption, "HTML", caption=True)
    assert utf16_len(parse_telegram_html(caption)) <= 1024


def test_fold_message() -> None:
    assert format_more(12, "Hải Phòng", "https://haiphong.gov.vn/", "vi") == (
        '… và 12 tin khác từ Hải Phòng\n<a href="https://haiphong.gov.vn/">Xem tất cả</a>'
    )
    assert format_more(3, "<HP>", "javascript:x", "en") == "… and 3 more from &lt;HP&gt;"


def test_plain_text_keeps_links_visible() -> None:
    text = format_item(make_item("a & b", published_at=PUBLISHED), feed_title="F", tz="UTC")
    assert to_plain_text(text) == (
        "a & b\n\n28/11/2024 07:30 · F\nXem chi tiết: https://haiphong.gov.vn/a-1.html"
    )
    assert to_plain_text("<b></b>") == "…"
    assert utf16_len(to_plain_text("x" * 5000)) == 4096


def test_clip_counts_utf16_and_never_splits_a_surrogate_pair() -> None:
    assert clip("😀😀😀", 5) == "😀😀…"
    assert clip("abc", 3) == "abc"
    assert labels("fr").read_more == "Xem chi tiết"


# ---------------------------------------------------------------- official documents

DECISION = Attachment("https://cdn.haiphong.gov.vn/gov-hpg/qd-123.pdf", "Quyết định 123", "pdf")


def test_document_label_and_attachments_are_shown() -> None:
    item = make_item(
        "Phê duyệt quy hoạch phân khu Bắc sông Cấm",
        published_at=PUBLISHED,
        doc_type="Quyết định",
        doc_number="123/QĐ-UBND",
        attachments=(DECISION, Attachment("https://x.vn/bieu-mau.docx", "bieu-mau.docx", "docx")),
    )
    text = format_item(item, feed_title="HP", tz="UTC")
    assert text == (
        "<b>Phê duyệt quy hoạch phân khu Bắc sông Cấm</b>\n\n"
        "📄 <b>Quyết định số 123/QĐ-UBND</b>\n"
        "<i>28/11/2024 07:30 · HP</i>\n"
        '📎 <a href="https://cdn.haiphong.gov.vn/gov-hpg/qd-123.pdf">Quyết định 123 (PDF)</a>\n'
        '📎 <a href="https://x.vn/bieu-mau.docx">bieu-mau.docx</a>\n'
        '<a href="https://haiphong.gov.vn/a-1.html">Xem chi tiết</a>'
    )
    check_message_text(text, "HTML")
    assert "📄 <b>Thông báo</b>" in format_item(make_item(doc_type="Thông báo"),
                                                feed_title="x", tz="UTC")
    assert "📄" not in format_item(make_item(), feed_title="x", tz="UTC")


@pytest.mark.parametrize(("title", "doc_type", "number"), [
    ("Quyết định số 123/QĐ-UBND về việc phê duyệt quy hoạch", "Quyết định", "123/QĐ-UBND"),
    ("Về việc 123/QĐ-UBND  phê duyệt", "Quyết định", "123/qđ-ubnd"),
    ("Thông báo kết luận của Chủ tịch UBND thành phố", "Thông báo", None),
])
def test_the_document_line_never_repeats_the_title(
    title: str, doc_type: str, number: str | None
) -> None:
    """Issue 14: "📄 Quyết định số 123/QĐ-UBND" under a title that already says it."""
    text = format_item(make_item(title, doc_type=doc_type, doc_number=number),
                       feed_title="x", tz="UTC")
    assert "📄" not in text and text.startswith(f"<b>{title.split('  ')[0]}")


def test_attachment_names_are_escaped_and_only_http_links_kept() -> None:
    item = make_item(attachments=(
        Attachment("javascript:alert(1)", "evil", "pdf"),
        Attachment("https://x.vn/a.pdf?x=1&y=<2>", "<b>Tờ trình</b> & phụ lục", "pdf"),
    ))
    text = format_item(item, feed_title="x", tz="UTC", language="en")
    assert "evil" not in text and "javascript" not in text
    assert ('📎 <a href="https://x.vn/a.pdf?x=1&amp;y=%3C2%3E">'
            "&lt;b&gt;Tờ trình&lt;/b&gt; &amp; phụ lục (PDF)</a>") in text
    check_message_text(text, "HTML")


def test_many_attachments_are_folded_in_messages_and_captions() -> None:
    files = tuple(Attachment(f"https://x.vn/{n}.pdf", "Tệp " * 40 + str(n), "pdf")
                  for n in range(20))
    item = make_item("Đ" * 5000, "tóm tắt " * 100, published_at=PUBLISHED, attachments=files,
                     doc_type="Kế hoạch", doc_number="9" * 300 + "/KH-UBND")
    text = format_item(item, feed_title="x", tz="UTC", language="en")
    assert text.count("📎") == 5 and "… and 15 more files" in text
    assert utf16_len(check_message_text(text, "HTML")) <= 4096
    caption = format_caption(item, feed_title="x" * 500, tz="UTC", matched="k" * 500)
    assert caption.count("📎") == 2 and "… và 18 tệp khác" in caption
    assert utf16_len(check_message_text(caption, "HTML", caption=True)) <= 1024


def test_document_caption() -> None:
    item = make_item(doc_type="Quyết định", doc_number="123/QĐ-UBND")
    assert format_document_caption(item, DECISION) == (
        "📄 <b>Quyết định số 123/QĐ-UBND</b>\nQuyết định 123 (PDF)"
    )
    bare = Attachment("https://x.vn/a.pdf", "a <&> b.pdf", "pdf")
    assert format_document_caption(make_item(), bare) == "a &lt;&amp;&gt; b.pdf"


# ---------------------------------------------------------------- property test

HOSTILE = st.sampled_from(
    [
        "<",
        ">",
        "&",
        '"',
        "'",
        "</b>",
        "<b>",
        "&amp;",
        "&#0;",
        "&nbsp;",
        "javascript:",
        "\u202e",
        "مرحبا",
        "😀",
        "👨‍👩‍👧",
        "\x00",
        "\x0b",
        "\r\n",
        "Đ",
        "ệ",
        "e\u0301",
        "\ud83d",
    ]
)
TEXT = st.lists(st.one_of(HOSTILE, st.text(max_size=20)), max_size=30).map("".join)
LONG_TEXT = st.builds(lambda s, n: s * n, TEXT, st.integers(1, 400))
URLS = st.one_of(
    st.sampled_from(["https://x.vn/a?b=1&c=<2>", "javascript:alert(1)", "http://x.vn/ tin", ""]),
    st.builds(lambda s: "https://x.vn/" + s, TEXT),
    TEXT,
)


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.one_of(TEXT, LONG_TEXT),
    summary=st.one_of(TEXT, LONG_TEXT),
    url=URLS,
    feed=TEXT,
    matched=st.one_of(st.none(), TEXT),
    language=st.sampled_from(["vi", "en"]),
)
def test_any_item_passes_the_strict_validator(
    title: str, summary: str, url: str, feed: str, matched: str | None, language: str
) -> None:
    item = make_item(title, summary, url=url, published_at=PUBLISHED)
    text = format_item(
        item, feed_title=feed, tz="Asia/Ho_Chi_Minh", matched=matched, language=language
    )
    caption = format_caption(item, feed_title=feed, tz="UTC", matched=matched, language=language)
    try:
        visible = check_message_text(text, "HTML")
        check_message_text(caption, "HTML", caption=True)
        check_message_text(to_plain_text(text), None)
        check_message_text(format_more(len(title), feed, url, language), "HTML")
    except ApiError as exc:  # pragma: no cover - the assertion message is the point
        raise AssertionError(f"{exc.description}\n{text!r}") from exc
    assert utf16_len(visible) <= 4096
    text.encode("utf-8")  # sendable: no lone surrogates
    for href in re.findall(r'href="([^"]*)"', text):
        assert href.startswith(("http://", "https://")), href


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=st.one_of(TEXT, LONG_TEXT),
    names=st.lists(st.tuples(URLS, st.one_of(TEXT, LONG_TEXT), TEXT), max_size=8),
    doc_type=st.one_of(st.none(), TEXT, LONG_TEXT),
    doc_number=st.one_of(st.none(), TEXT, LONG_TEXT),
    language=st.sampled_from(["vi", "en"]),
)
def test_any_document_item_passes_the_strict_validator(
    title: str,
    names: list[tuple[str, str, str]],
    doc_type: str | None,
    doc_number: str | None,
    language: str,
) -> None:
    files = tuple(Attachment(url, name, kind) for url, name, kind in names)
    item = make_item(title, title, published_at=PUBLISHED, attachments=files,
                     doc_type=doc_type, doc_number=doc_number)
    text = format_item(item, feed_title=title, tz="UTC", matched=title, language=language)
    caption = format_caption(item, feed_title=title, tz="UTC", matched=title, language=language)
    try:
        assert utf16_len(check_message_text(text, "HTML")) <= 4096
        assert utf16_len(check_message_text(caption, "HTML", caption=True)) <= 1024
        check_message_text(to_plain_text(text), None)
        for attachment in files:
            check_message_text(format_document_caption(item, attachment), "HTML", caption=True)
    except ApiError as exc:  # pragma: no cover - the assertion message is the point
        raise AssertionError(f"{exc.description}\n{text!r}") from exc
    for href in re.findall(r'href="([^"]*)"', text + caption):
        assert href.startswith(("http://", "https://")), href
