"""bot.source.scrape: recipe rules over listing pages, and article pages with metadata fallbacks."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import ScrapeError
from bot.model import ListRules, Pick, Recipe
from bot.source import dom
from bot.source.scrape import scrape
from bot.urls import absolute_url

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)  # 15:00 in Hải Phòng
BASE = "https://haiphong.gov.vn/tin-tuc-su-kien"
REALPAGE = FIXTURES / "realpages" / "sotttt-tin-tuc-su-kien.html"
REALPAGE_ITEMS = FIXTURES / "realpages" / "sotttt-tin-tuc-su-kien.items.json"
REALPAGE_URL = "https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien.html"


def recipe(
    item: str = "li.row",
    title: str = "h2 a",
    *,
    feed_id: str = "test",
    id_pattern: str | None = None,
    **picks: Pick | None,
) -> Recipe:
    rules = ListRules(item=item, title=_pick(title), **picks)  # type: ignore[arg-type]
    return Recipe(feed_id=feed_id, title="Test", urls=(BASE,), rules=rules, id_pattern=id_pattern)


def _pick(value: str) -> Pick:
    css, _, attr = value.partition("@")
    return Pick(css, attr or None)


def li(title: str, href: str, extra: str = "") -> str:
    return f"<li class='row'><h2><a href='{href}'>{title}</a></h2>{extra}</li>"


def listing(*items: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><ul>{''.join(items)}</ul></body></html>"


# --- the real page: the bar the peers miss ------------------------------------------------------


def test_real_listing_page_20_of_20_titles_links_and_dates() -> None:
    body = REALPAGE.read_bytes()
    expected = json.loads(REALPAGE_ITEMS.read_text(encoding="utf-8"))["items"]
    rules = ListRules(
        item="div.asset-abstract",
        title=Pick("h3.asset-title > a"),
        date=Pick("div.assetPublishDate.block_timer"),
    )
    sotttt = Recipe("sotttt", "Sở TT&TT Hà Nội", (REALPAGE_URL,), rules=rules)
    now = datetime(2022, 8, 27, 4, 7, 44, tzinfo=UTC)  # when HTTrack saved the page

    result = scrape(dom.decode_html(body, None), REALPAGE_URL, sotttt, now)

    assert len(result.items) == 20 == len(expected)
    assert result.warnings == ()
    for item, want in zip(result.items, expected, strict=True):
        assert item.title == want["title"]
        assert item.url == urljoin(REALPAGE_URL, want["href_in_file"])
        wall = datetime.strptime(f"{want['date']} {want['time']}", "%d/%m/%Y %I:%M %p")
        assert item.published_at == wall.replace(tzinfo=HCM), want["date_text"]
        assert item.published_at is not None and item.published_at.utcoffset() == timedelta(0)
    # the 148-character title with "&" that RSS-Bridge truncates and double-escapes
    assert any(item.title.endswith("Bộ TT&TT") for item in result.items)


# --- links, ids, order ------------------------------------------------------------------------


def test_relative_links_resolve_against_the_page_with_dot_segments_removed() -> None:
    html = listing(
        li("Một", "/tin-tuc-su-kien/mot-749001"),
        li("Hai", "tin-tuc-su-kien/hai-749002"),
        li("Ba", "../a/./b/../ba-749003"),
        li("Bốn", "https://haiphong.gov.vn/x/../bon-749004#comments"),
        li("Năm", "//cdn.haiphong.gov.vn/nam-749005"),
    )
    result = scrape(html, BASE, recipe(), NOW)
    assert [item.url for item in result.items] == [
        "https://haiphong.gov.vn/tin-tuc-su-kien/mot-749001",
        "https://haiphong.gov.vn/tin-tuc-su-kien/hai-749002",
        "https://haiphong.gov.vn/a/ba-749003",
        "https://haiphong.gov.vn/bon-749004",
        "https://cdn.haiphong.gov.vn/nam-749005",
    ]


def test_base_href_is_honoured() -> None:
    html = listing(li("Một", "mot-1"), head="<base href='https://haiphong.gov.vn/news/'>")
    (item,) = scrape(html, BASE, recipe(), NOW).items
    assert item.url == "https://haiphong.gov.vn/news/mot-1"


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        ("javascript:void(0)", None),
        ("#top", None),
        ("mailto:a@b.vn", None),
        ("", None),
        ("  /a b\n/c ", "https://haiphong.gov.vn/a%20b/c"),
        ("HTTPS://Haiphong.gov.vn/a", "https://Haiphong.gov.vn/a"),
        ("/../../x", "https://haiphong.gov.vn/x"),
    ],
)
def test_absolute_url(href: str, expected: str | None) -> None:
    assert absolute_url(href, BASE) == expected


def test_ids_come_from_the_recipe_pattern_and_duplicates_keep_the_first() -> None:
    html = listing(
        li("Một", "/tin-tuc-su-kien/mot-749001"),
        li("Hai", "/tin-tuc-su-kien/hai-749002"),
        li("Một (lặp lại)", "/tin-tuc-su-kien/mot-749001"),
        li("Một, link khác", "/tin-tuc-su-kien/mot-moi-749001"),
    )
    result = scrape(html, BASE, recipe(id_pattern=r"-(\d{5,})$"), NOW)
    assert [(i.item_id, i.title) for i in result.items] == [("749001", "Một"), ("749002", "Hai")]


def test_link_defaults_to_the_items_first_link_when_the_title_has_none() -> None:
    html = listing("<li class='row'><a href='/x-1'><img src='t.jpg'></a><h2>Tiêu đề</h2></li>")
    (item,) = scrape(html, BASE, recipe(title="h2"), NOW).items
    assert (item.title, item.url) == ("Tiêu đề", "https://haiphong.gov.vn/x-1")


def test_items_nested_in_other_items_are_not_scraped_twice() -> None:
    # Only broken markup nests items; re-scanning every nested subtree would be quadratic.
    html = "<div class='n'><a href='/a-1'>Một</a><div class='n'><a href='/a-2'>Hai</a></div></div>"
    result = scrape(html, BASE, recipe(item="div.n", title="a"), NOW)
    assert [i.title for i in result.items] == ["Một"]


def test_items_after_a_nested_run_and_siblings_with_similar_paths_are_kept() -> None:
    # The first item holds two matches nested two deep: dropped; the nine after them are kept.
    nested = "<div class='n'><a href='/a-1'>Một</a><div class='n'><div class='n'>" \
             "<a href='/a-2'>Hai</a></div></div></div>"
    others = "".join(f"<div class='n'><a href='/a-{n}'>Tin {n}</a></div>" for n in range(3, 12))
    result = scrape(f"<body>{nested}{others}</body>", BASE, recipe(item="div.n", title="a"), NOW)
    assert [i.title for i in result.items] == ["Một"] + [f"Tin {n}" for n in range(3, 12)]


def test_empty_css_picks_the_item_element_itself() -> None:
    html = (
        "<div><a class='news' href='/a-1'>  Tin   một </a><a class='news' href='/a-2'>Hai</a></div>"
    )
    result = scrape(html, BASE, recipe(item="a.news", title=""), NOW)
    assert [(i.title, i.url) for i in result.items] == [
        ("Tin một", "https://haiphong.gov.vn/a-1"),
        ("Hai", "https://haiphong.gov.vn/a-2"),
    ]


# --- selector@attr and the optional fields -----------------------------------------------------


def test_selector_at_attr_for_every_field() -> None:
    html = listing(
        "<li class='row' data-url='/bai-749001'><h2><a href='/wrong' title='Tiêu đề đầy đủ'>"
        "Tiêu đề…</a></h2><span class='sum' data-text='Tóm  tắt'></span>"
        "<time datetime='2024-11-27T09:30:00+07:00'>hôm qua</time>"
        "<figure data-img='/anh.jpg'></figure></li>"
    )
    rules = recipe(
        title="h2 a@title",
        link=Pick("", "data-url"),
        summary=Pick("span.sum", "data-text"),
        date=Pick("time", "datetime"),
        image=Pick("figure", "data-img"),
    )
    (item,) = scrape(html, BASE, rules, NOW).items
    assert item.title == "Tiêu đề đầy đủ"
    assert item.url == "https://haiphong.gov.vn/bai-749001"
    assert item.summary == "Tóm tắt"
    assert item.published_at == datetime(2024, 11, 27, 9, 30, tzinfo=HCM)
    assert item.image == "https://haiphong.gov.vn/anh.jpg"


def test_time_element_datetime_is_preferred_over_its_text() -> None:
    html = listing(li("Một", "/a-1", "<time datetime='2024-11-26 08:15'>2 ngày trước</time>"))
    (item,) = scrape(html, BASE, recipe(date=Pick("time")), NOW).items
    assert item.published_at == datetime(2024, 11, 26, 8, 15, tzinfo=HCM)


def test_date_only_items_fall_on_their_day_in_the_feed_timezone() -> None:
    html = listing(li("Một", "/a-1", "<div class='Ngaydang'>28/11/2024</div>"))
    (item,) = scrape(html, BASE, recipe(date=Pick("div.Ngaydang")), NOW).items
    assert item.published_at is not None
    assert item.published_at.astimezone(HCM).date().isoformat() == "2024-11-28"


@pytest.mark.parametrize(
    ("img", "expected"),
    [
        ("<img src='/a.jpg'>", "https://haiphong.gov.vn/a.jpg"),
        (
            "<img src='data:image/gif;base64,R0lG' data-src='../b.jpg'>",
            "https://haiphong.gov.vn/b.jpg",
        ),
        ("<img data-original='/c.jpg'>", "https://haiphong.gov.vn/c.jpg"),
        ("<img srcset='/d-320.jpg 320w, /d-640.jpg 640w'>", "https://haiphong.gov.vn/d-320.jpg"),
        ("<img src=''>", None),
    ],
)
def test_image_falls_back_to_lazy_loading_attributes(img: str, expected: str | None) -> None:
    html = listing(li("Một", "/a-1", img))
    (item,) = scrape(html, BASE, recipe(image=Pick("img", "src")), NOW).items
    assert item.image == expected


def test_missing_optional_fields_give_one_warning_per_field() -> None:
    html = listing(
        li("Một", "/a-1", "<p>Tóm tắt</p><div class='d'>27/11/2024</div>"),
        li("Hai", "/a-2", "<div class='d'>không rõ</div>"),
        li("Ba", "/a-3", "<p>Tóm tắt</p>"),
    )
    rules = recipe(summary=Pick("p"), date=Pick("div.d"), image=Pick("img", "src"))
    result = scrape(html, BASE, rules, NOW)
    assert len(result.items) == 3
    assert result.items[1].summary == "" and result.items[1].published_at is None
    assert result.warnings == (
        "1 of 3 items have no usable summary ([list] summary = 'p'): 2",
        "2 of 3 items have no usable date ([list] date = 'div.d'): 2, 3",
        "3 of 3 items have no usable image ([list] image = 'img@src'): 1, 2, 3",
    )


def test_items_without_title_or_link_are_skipped_with_a_warning() -> None:
    html = listing(
        li("Một", "/a-1"),
        li("", "/a-2"),
        li("Ba", "/a-3"),
        li("Bốn", "javascript:void(0)"),
        li("Năm", "/a-5"),
    )
    result = scrape(html, BASE, recipe(), NOW)
    assert [i.title for i in result.items] == ["Một", "Ba", "Năm"]
    assert result.warnings == (
        "1 of 5 items have no usable title ([list] title = 'h2 a'): 2",
        "1 of 5 items have no usable link (default link): 4",
    )


def test_text_is_whitespace_normalised_and_nfc() -> None:
    nfd = unicodedata.normalize("NFD", "Hải  Phòng\n\t đón&nbsp;Tết")
    (item,) = scrape(listing(li(nfd, "/a-1")), BASE, recipe(), NOW).items
    assert item.title == "Hải Phòng đón Tết"


def test_windows_1258_page_end_to_end() -> None:
    title = "Khánh thành công trình hữu nghị Hà Lan-Hải Phòng tại Vườn hoa Nguyễn Trãi"
    body = _cp1258(listing(li(title, "/khanh-thanh-749205")))
    (item,) = scrape(dom.decode_html(body, None), BASE, recipe(), NOW).items
    assert item.title == title


def _cp1258(text: str) -> bytes:
    tones = "\u0300\u0301\u0303\u0309\u0323"
    out = bytearray()
    for char in text:
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(p for p in parts if p not in tones))
        out += (base + "".join(p for p in parts if p in tones)).encode("cp1258")
    return bytes(out)


# --- failures -----------------------------------------------------------------------------------


def test_zero_items_is_a_scrape_error_that_says_what_to_check() -> None:
    html = listing(li("Một", "/a-1"))
    with pytest.raises(ScrapeError) as caught:
        scrape(
            html, BASE, recipe(item="div.UIArticleInMenu_Default li.row", feed_id="haiphong"), NOW
        )
    assert caught.value.message == (
        "haiphong: no items matched [list] item = 'div.UIArticleInMenu_Default li.row' on "
        f"{BASE}: has the markup changed?"
    )
    assert "[list] item" in caught.value.hint


def test_mostly_invalid_items_is_a_scrape_error() -> None:
    html = listing(li("Một", "/a-1"), li("", "/a-2"), li("", "/a-3"))
    with pytest.raises(ScrapeError, match=r"2 of 3 items .* have no title or link"):
        scrape(html, BASE, recipe(), NOW)


def test_a_recipe_without_list_rules_is_refused() -> None:
    auto = Recipe("auto", "Auto", (BASE,))
    with pytest.raises(ScrapeError, match="no \\[list\\] rules"):
        scrape(listing(li("Một", "/a-1")), BASE, auto, NOW)


def test_an_invalid_selector_in_a_hand_built_recipe_is_a_scrape_error() -> None:
    with pytest.raises(ScrapeError, match="bad selector"):
        scrape(listing(li("Một", "/a-1")), BASE, recipe(item="li["), NOW)


HOSTILE = [
    "",
    "\x00" * 100,
    "<li class='row'>" * 50_000,
    "<div>" * 100_000 + "<li class='row'><h2><a href='/x'>deep</a></h2></li>",
    ("<li class='row'><h2><a href='/%s'>x" % ("a" * 100)) * 20_000,
    "<li class='row'><h2><a href='http://[::1'>bad ipv6</a></h2></li>",
    "<li class='row'><h2><a href='/a\ud800'>lone surrogate</a></h2></li>",
    "<li class='row'><h2><a href='/a'>" + "x" * 11_000_000 + "</a></h2></li>",
]


@pytest.mark.parametrize("html", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_html_gives_items_or_a_scrape_error_nothing_else(html: str) -> None:
    try:
        result = scrape(html, BASE, recipe(date=Pick("h2"), image=Pick("img", "src")), NOW)
    except ScrapeError:
        return
    assert all(item.url.startswith("https://") for item in result.items)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/='\" aælih2rowhref#:.\x00ả")), max_size=300))
def test_fuzzed_markup_never_raises_anything_but_scrape_error(html: str) -> None:
    try:
        result = scrape(html, BASE, recipe(item="li", title="a", summary=Pick("p")), NOW)
    except ScrapeError as exc:
        assert str(exc)  # a ScrapeError always says what went wrong
        return
    for item in result.items:  # what it does return is usable: a title and an absolute link
        assert item.title.strip() and item.url.startswith(("http://", "https://"))


# --- official documents ------------------------------------------------------------------------


def test_list_items_carry_document_numbers_types_and_their_files() -> None:
    html = listing(
        li("Quyết định số 3856/QĐ-UBND phê duyệt kế hoạch", "/tb/qd-749398",
           "<p><a class='link-download' href='/files/3856.pdf'>Tải về</a>"
           "<a href='/files/phu-luc.docx'>Phụ lục</a></p>"),
        li("Trao quyết định bổ nhiệm cán bộ", "/tb/tin-749290",
           "<a href='/anh/trao-quyet-dinh.jpg'>Ảnh</a>"),
    )  # fmt: skip

    decision, news = scrape(html, BASE, recipe(), NOW).items

    assert (decision.doc_number, decision.doc_type) == ("3856/QĐ-UBND", "Quyết định")
    assert [(a.url, a.name, a.kind) for a in decision.attachments] == [
        ("https://haiphong.gov.vn/files/3856.pdf", "3856.pdf", "pdf"),
        ("https://haiphong.gov.vn/files/phu-luc.docx", "Phụ lục", "docx"),
    ]
    assert (news.doc_number, news.doc_type, news.attachments) == (None, None, ())


def test_an_item_linking_straight_to_its_pdf_is_its_own_attachment() -> None:
    html = listing(li("Thông báo 12/TB-VP lịch làm việc", "/files/12-TB-VP.pdf"))

    [notice] = scrape(html, BASE, recipe(), NOW).items

    assert notice.url == "https://haiphong.gov.vn/files/12-TB-VP.pdf"
    assert [a.url for a in notice.attachments] == [notice.url]
    assert notice.doc_type == "Thông báo"
