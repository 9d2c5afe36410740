"""bot.publish.render: every output parsed back by real parsers (feedparser, lxml, json,
ElementTree)."""

from __future__ import annotations

import calendar
import json
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from bot.model import Attachment, Item, Section
from bot.publish.entries import DOC_TYPE_SCHEME, EMPTY_FEED_UPDATED_AT, SECTION_SCHEME
from bot.publish.feedmeta import FeedMeta, all_feed_meta, feed_urls, item_guid, section_meta
from bot.publish.files import write_feeds
from bot.publish.render import MAX_FEED_BYTES, render_atom, render_json, render_opml, render_rss
from bot.publish.sanitize import plain_text, sanitize_html, strip_xml_illegal

PUBLIC = "https://feeds.example.vn"
META = FeedMeta("haiphong", "Cổng TTĐT thành phố Hải Phòng", "https://haiphong.gov.vn/")
T0 = datetime(2024, 11, 28, 3, 15, tzinfo=UTC)  # 10:15 in Hải Phòng
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} \+0700$"
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
ATOM = "{http://www.w3.org/2005/Atom}"


def make_item(n: int, **changes: object) -> Item:
    published = T0 - timedelta(hours=n)
    item = Item(
        feed_id="haiphong",
        item_id=f"tin-{n}",
        url=f"https://haiphong.gov.vn/tin-tuc/bai-{n}.html",
        title=f"Phường Hải An khởi công dự án số {n}: giải phóng mặt bằng",
        summary=f"Chiều 11/1, UBND quận Hải An họp lần {n} về Đường Đông Khê.",
        published_at=published,
        first_seen_at=published + timedelta(minutes=5),
        updated_at=published + timedelta(minutes=5),
    )
    return replace(item, **changes)  # type: ignore[arg-type]


ITEMS = [make_item(n) for n in range(3)]  # newest first, as the store gives them


def parse(body: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(body)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def timestamp(struct: object) -> float:
    return float(calendar.timegm(struct))  # type: ignore[arg-type]


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("render", [render_rss, render_atom])
def test_xml_feeds_round_trip_titles_links_ids_and_dates(render: object) -> None:
    body = render(META, ITEMS, PUBLIC)  # type: ignore[operator]
    etree.fromstring(body)  # well-formed for a strict XML parser too
    parsed = parse(body)
    assert parsed.feed.title == META.title
    assert parsed.feed.language == "vi"
    assert [e.title for e in parsed.entries] == [i.title for i in ITEMS]
    assert [e.link for e in parsed.entries] == [i.url for i in ITEMS]
    assert [e.id for e in parsed.entries] == [f"urn:newsbot:haiphong:tin-{n}" for n in range(3)]
    published = [timestamp(e.published_parsed) for e in parsed.entries]
    assert published == [i.published_at.timestamp() for i in ITEMS if i.published_at]
    assert [e.summary for e in parsed.entries] == [i.summary for i in ITEMS]


def test_json_feed_has_version_required_fields_and_same_items() -> None:
    doc = json.loads(render_json(META, ITEMS, PUBLIC))
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["title"] == META.title
    assert doc["home_page_url"] == META.site_url
    assert doc["feed_url"] == f"{PUBLIC}/feeds/haiphong.json"
    assert doc["language"] == "vi"
    assert [i["id"] for i in doc["items"]] == [f"urn:newsbot:haiphong:tin-{n}" for n in range(3)]
    assert [i["title"] for i in doc["items"]] == [i.title for i in ITEMS]
    for entry, item in zip(doc["items"], ITEMS, strict=True):
        assert "content_html" in entry or "content_text" in entry
        assert entry["url"] == item.url
        assert entry["summary"] == item.summary
        assert datetime.fromisoformat(entry["date_published"]) == item.published_at
        assert entry["date_published"].endswith("+07:00")


def test_rss_dates_are_rfc822_in_the_feed_time_zone() -> None:
    root = etree.fromstring(render_rss(META, ITEMS, PUBLIC))
    dates = [d.text for d in root.iter("pubDate", "lastBuildDate")]
    assert len(dates) == 4
    assert all(RFC822.match(d or "") for d in dates), dates
    assert root.findtext("channel/item/pubDate") == "Thu, 28 Nov 2024 10:15:00 +0700"


def test_atom_dates_are_rfc3339_and_required_elements_present() -> None:
    root = etree.fromstring(render_atom(META, ITEMS, PUBLIC))
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "vi"
    assert root.findtext(f"{ATOM}id") == "urn:newsbot:haiphong"
    assert root.findtext(f"{ATOM}author/{ATOM}name") == META.title  # W3C: author required
    for entry in root.iter(f"{ATOM}entry"):
        for tag in ("updated", "published"):
            assert RFC3339.match(entry.findtext(f"{ATOM}{tag}") or ""), tag
    parsed = parse(etree.tostring(root))
    assert parsed.feed.author == META.title


def test_each_format_has_its_own_self_link_and_an_override_wins() -> None:
    urls = feed_urls(PUBLIC, "haiphong")
    rss = etree.fromstring(render_rss(META, ITEMS, PUBLIC))
    atom = etree.fromstring(render_atom(META, ITEMS, PUBLIC))
    assert rss.find(f"channel/{ATOM}link[@rel='self']").get("href") == urls["rss"]
    assert rss.findtext("channel/link") == META.site_url
    assert atom.find(f"{ATOM}link[@rel='self']").get("href") == urls["atom"]
    assert atom.find(f"{ATOM}link[@rel='alternate']").get("href") == META.site_url
    custom = f"{urls['rss']}?include=hai+an"
    again = etree.fromstring(render_rss(META, ITEMS, PUBLIC, self_url=custom))
    assert again.find(f"channel/{ATOM}link[@rel='self']").get("href") == custom


def test_guids_are_not_permalinks_and_unique_across_feeds() -> None:
    other = FeedMeta("sotttt", "Sở TT&TT", "https://stttt.haiphong.gov.vn/")
    same_ids = [replace(i, feed_id="sotttt") for i in ITEMS]
    root = etree.fromstring(render_rss(META, ITEMS + same_ids, PUBLIC))
    guids = root.findall("channel/item/guid")
    assert {g.get("isPermaLink") for g in guids} == {"false"}
    assert len({g.text for g in guids}) == 6
    assert render_rss(other, same_ids, PUBLIC).count(b"urn:newsbot:sotttt:tin-0") == 1


def test_item_guid_escapes_what_a_urn_cannot_hold() -> None:
    guid = item_guid("hp", "https://haiphong.gov.vn/tin?id=5#top bài")
    assert guid.startswith("urn:newsbot:hp:https://haiphong.gov.vn/tin")
    assert not set(guid) & set("?# ") and guid.isascii()
    assert item_guid("hp", "a") != item_guid("hp2", "a")


# --- determinism --------------------------------------------------------------------------------


@pytest.mark.parametrize("render", [render_rss, render_atom, render_json])
def test_same_input_gives_identical_bytes(render: object) -> None:
    first = render(META, ITEMS, PUBLIC)  # type: ignore[operator]
    second = render(META, [replace(i) for i in ITEMS], PUBLIC)  # type: ignore[operator]
    assert first == second


def test_build_date_is_the_newest_change_not_now() -> None:
    edited = make_item(2, updated_at=T0 + timedelta(days=1))  # oldest item, edited last
    items = [*ITEMS[:2], edited]
    rss = etree.fromstring(render_rss(META, items, PUBLIC))
    assert rss.findtext("channel/lastBuildDate") == "Fri, 29 Nov 2024 10:15:00 +0700"
    atom = etree.fromstring(render_atom(META, items, PUBLIC))
    assert datetime.fromisoformat(atom.findtext(f"{ATOM}updated") or "") == T0 + timedelta(days=1)


def test_empty_feed_is_valid_and_stable() -> None:
    for render in (render_rss, render_atom):
        body = render(META, [], PUBLIC)
        assert body == render(META, [], PUBLIC)
        parsed = parse(body)
        assert parsed.entries == []
    atom = etree.fromstring(render_atom(META, [], PUBLIC))
    updated = datetime.fromisoformat(atom.findtext(f"{ATOM}updated") or "")
    assert updated == EMPTY_FEED_UPDATED_AT  # Atom requires one; no context gives a real one
    assert etree.fromstring(render_rss(META, [], PUBLIC)).find("channel/lastBuildDate") is None
    assert json.loads(render_json(META, [], PUBLIC))["items"] == []


def test_an_empty_feed_is_dated_by_its_last_poll_not_an_invented_date() -> None:
    polled = replace(META, updated_if_empty=T0, description="Chưa có tin: …")
    rss = etree.fromstring(render_rss(polled, [], PUBLIC))
    assert rss.findtext("channel/lastBuildDate") == "Thu, 28 Nov 2024 10:15:00 +0700"
    assert rss.findtext("channel/description") == "Chưa có tin: …"
    atom = etree.fromstring(render_atom(polled, [], PUBLIC))
    assert datetime.fromisoformat(atom.findtext(f"{ATOM}updated") or "") == T0
    # with items, the items date the feed as before
    item_rss = etree.fromstring(render_rss(polled, [make_item(0)], PUBLIC))
    assert item_rss.findtext("channel/lastBuildDate") != "Thu, 28 Nov 2024 10:15:00 +0700"


def test_order_is_kept_even_for_many_items() -> None:
    items = [make_item(n) for n in range(30)]
    parsed = parse(render_atom(META, items, PUBLIC))
    assert [e.id for e in parsed.entries] == [item_guid("haiphong", i.item_id) for i in items]


# --- hostile text -------------------------------------------------------------------------------

ILLEGAL = ["\x00", "\x01", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\ufffe", "\uffff", "\ud800"]


@pytest.mark.parametrize("char", ILLEGAL, ids=[f"U+{ord(c):04X}" for c in ILLEGAL])
def test_xml_illegal_characters_are_stripped_not_fatal(char: str) -> None:
    item = make_item(0, title=f"Hải{char} An", summary=f"tóm{char} tắt", content=f"<p>x{char}</p>")
    for render in (render_rss, render_atom):
        parsed = parse(render(META, [item], PUBLIC))
        assert parsed.entries[0].title == "Hải An"
    assert json.loads(render_json(META, [item], PUBLIC))["items"][0]["title"] == "Hải An"


def test_strip_xml_illegal_keeps_whitespace_and_vietnamese() -> None:
    assert strip_xml_illegal("Đà\tNẵng\n\r\x0b€😀") == "Đà\tNẵng\n\r€😀"


def test_markup_in_title_and_summary_is_escaped_and_sanitised() -> None:
    item = make_item(
        0,
        title='A & B < C > "D" ]]> <script>alert(1)</script>',
        summary="Tóm & tắt <b>đậm</b> <script>alert(2)</script>"
        '<a href="javascript:alert(3)" onclick="alert(4)">x</a><img src=x onerror=alert(5)>',
    )
    for render in (render_rss, render_atom, render_json):
        body = render(META, [item], PUBLIC)
        lowered = body.lower()
        for bad in (b"<script", b"&lt;script", b"alert(", b"onclick", b"onerror", b"javascript:"):
            assert bad not in lowered, (render.__name__, bad)
    for render in (render_rss, render_atom):
        entry = parse(render(META, [item], PUBLIC)).entries[0]
        assert entry.title == 'A & B < C > "D" ]]>'
        assert "<b>đậm</b>" in entry.summary and "Tóm &amp; tắt" in entry.summary
    doc = json.loads(render_json(META, [item], PUBLIC))["items"][0]
    assert doc["title"] == 'A & B < C > "D" ]]>'
    assert doc["summary"] == "Tóm & tắt đậm x"


def test_sanitize_html_removes_active_content_and_keeps_markup() -> None:
    dirty = (
        '<p onclick="x()">Xin <b>chào</b></p><script>evil()</script><style>p{}</style>'
        '<a href="javascript:evil()">a</a><a href="https://haiphong.gov.vn/">b</a>'
        '<iframe src="https://x"></iframe><img src="data:image/png;base64,AA">'
    )
    clean = sanitize_html(dirty)
    assert "<p>Xin <b>chào</b></p>" in clean
    assert 'href="https://haiphong.gov.vn/"' in clean
    for bad in ("onclick", "<script", "evil", "<style", "javascript:", "<iframe", "data:"):
        assert bad not in clean


def test_plain_text_normalises_to_nfc_and_collapses_spaces() -> None:
    decomposed = "Ha\u0309i  Pho\u0300ng\n"  # NFD, as some CMSes emit
    assert plain_text(decomposed) == "Hải Phòng"


@settings(max_examples=60, deadline=None)
@given(title=st.text(min_size=1, max_size=60), summary=st.text(max_size=60))
def test_any_text_gives_a_parseable_feed(title: str, summary: str) -> None:
    item = make_item(0, title=title, summary=summary)
    for render in (render_rss, render_atom):
        body = render(META, [item], PUBLIC)
        etree.fromstring(body)
        assert feedparser.parse(body).bozo == 0
    json.loads(render_json(META, [item], PUBLIC))


TEXT = st.text(max_size=40)  # any code point: controls, surrogates, quotes, markup, "]]>"
URLISH = st.one_of(TEXT, st.builds(lambda tail: f"https://haiphong.gov.vn/{tail}", TEXT))


@settings(max_examples=150, deadline=None)
@given(title=TEXT, summary=TEXT, content=TEXT, author=TEXT, url=URLISH, image=URLISH,
       doc_type=TEXT, section_name=TEXT, file_name=TEXT, file_url=URLISH, feed_title=TEXT,
       description=TEXT, site_tail=TEXT)  # fmt: skip
def test_every_field_of_any_text_gives_well_formed_feeds(
    title: str, summary: str, content: str, author: str, url: str, image: str, doc_type: str,
    section_name: str, file_name: str, file_url: str, feed_title: str, description: str,
    site_tail: str,
) -> None:  # fmt: skip
    """RSS and Atom are written as text: every value must be escaped and cleaned of what XML
    forbids, whichever field it sits in (two files, so the RSS enclosure list is used too)."""
    site_url = "https://haiphong.gov.vn/" + site_tail
    meta = FeedMeta("haiphong", feed_title, site_url, description=description,
                    sections=(Section("tin", section_name, "https://haiphong.gov.vn/tin"),))
    files = (Attachment(file_url, file_name, "pdf"), Attachment("https://x.vn/b.doc", "b", "doc"))
    item = make_item(0, title=title, summary=summary, content=content, author=author, url=url,
                     image=image, doc_type=doc_type, section="tin", attachments=files)
    for render in (render_rss, render_atom):
        body = render(meta, [item], PUBLIC)
        root = etree.fromstring(body)  # raises on anything malformed
        parse(body)
        written = root.xpath("//*[local-name()='item' or local-name()='entry']"
                             "/*[local-name()='title']/text()")
        if plain_text(title):  # else a stand-in: the link or the id
            assert written == [plain_text(title)]
    json.loads(render_json(meta, [item], PUBLIC))


# --- media, content, authors --------------------------------------------------------------------


def test_image_becomes_enclosure_and_json_image() -> None:
    item = make_item(
        0,
        image="/uploads/anh-hai-an.PNG",
        author="Nguyễn Văn A",
        content="<p>Nội dung <em>đầy đủ</em></p>",
    )
    rss = etree.fromstring(render_rss(META, [item], PUBLIC))
    enclosure = rss.find("channel/item/enclosure")
    expected_url = "https://haiphong.gov.vn/uploads/anh-hai-an.PNG"
    assert enclosure is not None
    assert (enclosure.get("url"), enclosure.get("type"), enclosure.get("length")) == (
        expected_url,
        "image/png",
        "0",
    )
    assert rss.findtext("channel/item/{http://purl.org/dc/elements/1.1/}creator") == "Nguyễn Văn A"
    atom = etree.fromstring(render_atom(META, [item], PUBLIC))
    links = atom.findall(f"{ATOM}entry/{ATOM}link")
    assert [(lk.get("rel"), lk.get("href")) for lk in links] == [
        (None, item.url),
        ("enclosure", expected_url),
    ]
    assert links[1].get("type") == "image/png"
    entry = parse(render_atom(META, [item], PUBLIC)).entries[0]
    assert entry.link == item.url  # the enclosure is not mistaken for the article link
    assert entry.content[0].value == "<p>Nội dung <em>đầy đủ</em></p>"
    assert entry.author == "Nguyễn Văn A"
    rss_entry = parse(render_rss(META, [item], PUBLIC)).entries[0]
    assert rss_entry.content[0].value == "<p>Nội dung <em>đầy đủ</em></p>"
    doc = json.loads(render_json(META, [item], PUBLIC))["items"][0]
    assert doc["image"] == expected_url
    assert doc["content_html"] == "<p>Nội dung <em>đầy đủ</em></p>"
    assert doc["authors"] == [{"name": "Nguyễn Văn A"}]


def test_non_http_links_are_not_published() -> None:
    item = make_item(0, url="javascript:alert(1)", image="data:image/png;base64,AAAA")
    body = render_rss(META, [item], PUBLIC)
    assert b"javascript:" not in body and b"data:" not in body
    assert parse(body).entries[0].link == META.site_url


def test_item_without_any_date_still_valid() -> None:
    item = Item("haiphong", "x", "https://haiphong.gov.vn/x", "Không ngày")
    for render in (render_rss, render_atom):
        assert parse(render(META, [item], PUBLIC)).entries[0].title == "Không ngày"
    assert "date_published" not in json.loads(render_json(META, [item], PUBLIC))["items"][0]


def test_feeds_stay_under_one_mebibyte_dropping_oldest_items() -> None:
    big = "<p>" + "Hải Phòng " * 10_000 + "</p>"  # ~100 KB of content per item
    items = [make_item(n, content=big) for n in range(50)]
    for render in (render_rss, render_atom, render_json):
        body = render(META, items, PUBLIC)
        assert len(body) <= MAX_FEED_BYTES
        assert b"tin-0" in body and b"tin-49" not in body  # newest kept
        assert len(body) > MAX_FEED_BYTES // 2  # not truncated more than needed


# --- OPML and files -----------------------------------------------------------------------------


def test_opml_lists_every_feed() -> None:
    other = FeedMeta("sotttt", "Sở TT&TT <Hải Phòng>", "https://stttt.haiphong.gov.vn/")
    root = ET.fromstring(render_opml([META, other], PUBLIC))
    assert root.tag == "opml" and root.get("version") == "2.0"
    outlines = root.findall("body/outline")
    assert [(o.get("text"), o.get("xmlUrl"), o.get("type")) for o in outlines] == [
        (META.title, f"{PUBLIC}/feeds/haiphong.xml", "rss"),
        ("Sở TT&TT <Hải Phòng>", f"{PUBLIC}/feeds/sotttt.xml", "rss"),
    ]


def test_write_feeds_is_atomic_and_skips_unchanged(tmp_path: Path) -> None:
    written = write_feeds(tmp_path, META, ITEMS, PUBLIC)
    names = sorted(p.name for p in written)
    assert names == ["haiphong.atom", "haiphong.json", "haiphong.xml"]
    assert sorted(os.listdir(tmp_path / "feeds")) == names  # no temp files left behind
    assert (tmp_path / "feeds" / "haiphong.xml").read_bytes() == render_rss(META, ITEMS, PUBLIC)
    assert (tmp_path / "feeds" / "haiphong.xml").stat().st_mode & 0o777 == 0o644
    inodes = {p.name: p.stat().st_ino for p in written}
    assert write_feeds(tmp_path, META, ITEMS, PUBLIC) == []
    assert {p.name: p.stat().st_ino for p in written} == inodes
    changed = write_feeds(tmp_path, META, [make_item(9), *ITEMS], PUBLIC)
    assert len(changed) == 3
    assert sorted(os.listdir(tmp_path / "feeds")) == names
    assert parse((tmp_path / "feeds" / "haiphong.atom").read_bytes()).entries[0].id.endswith("9")


def test_write_feeds_refuses_a_feed_id_that_is_a_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="file name"):
        write_feeds(tmp_path, replace(META, feed_id="../evil"), ITEMS, PUBLIC)
    assert not (tmp_path / "evil.xml").exists()


def test_feed_urls_handle_trailing_slash() -> None:
    assert feed_urls("http://h:8080/", "hp") == {
        "rss": "http://h:8080/feeds/hp.xml",
        "atom": "http://h:8080/feeds/hp.atom",
        "json": "http://h:8080/feeds/hp.json",
    }


def test_all_feed_meta_has_a_short_title_whatever_the_feeds() -> None:
    other = FeedMeta("sotttt", "Sở TT&TT", "https://sotttt.hanoi.gov.vn/")
    meta = all_feed_meta([META, other])
    assert (meta.feed_id, meta.site_url, meta.language) == ("all", META.site_url, "vi")
    assert meta.title == "newsbot: tất cả nguồn tin"
    many = [FeedMeta(f"f{n}", f"Nguồn tin số {n} của thành phố", "https://x/") for n in range(1000)]
    assert all_feed_meta(many).title == meta.title  # was every title: 17 KB for 1,000 feeds
    english = all_feed_meta([FeedMeta("en", "E", "https://e/", language="en")])
    assert (english.language, english.title) == ("en", "newsbot: all sources")
    assert all_feed_meta([META, FeedMeta("en", "E", "https://e/", language="en")]).language == "vi"
    assert all_feed_meta([]).feed_id == "all"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Chỉ số PM2.5<50 tại Hải An", "Chỉ số PM2.5<50 tại Hải An"),
        ("Tin <mới> & hay", "Tin <mới> & hay"),
        ("a <b>đậm</b> <script>alert(1)</script>z", "a đậm z"),
        ('<img src=x onerror="alert(1)">Ảnh', "Ảnh"),
    ],
)
def test_titles_are_text_only_real_tags_are_removed(title: str, expected: str) -> None:
    assert plain_text(title) == expected
    item = replace(ITEMS[0], title=title)
    entry = feedparser.parse(render_rss(META, [item], PUBLIC)).entries[0]
    assert entry.title == expected


# --- official documents and sections ------------------------------------------------------------

SECTIONS = (
    Section("tin-tuc-su-kien", "Tin tức – Sự kiện", "https://haiphong.gov.vn/tin-tuc-su-kien"),
    Section("thong-bao", "Thông báo", "https://haiphong.gov.vn/thong-bao"),
)
SECTIONED = replace(META, sections=SECTIONS)
PDF = Attachment("https://cdn.haiphong.gov.vn/gov-hpg/1/tintuc/412.pdf", "Tải về 412", "pdf")
DOCX = Attachment("/upload/phu-luc.docx", "Phụ lục <b>kèm theo</b>", "docx")
NOTICE = make_item(
    0, title="Thông báo số 412/TB-UBND kết luận của Chủ tịch", doc_number="412/TB-UBND",
    doc_type="Thông báo", section="thong-bao", attachments=(PDF, DOCX),
    image="/anh/thong-bao.jpg",
)  # fmt: skip
DOCX_URL = "https://haiphong.gov.vn/upload/phu-luc.docx"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_rss_encloses_the_first_attachment_and_lists_them_all() -> None:
    body = render_rss(SECTIONED, [NOTICE, make_item(1, image="/anh/1.jpg")], PUBLIC)
    notice, plain = parse(body).entries

    assert [(e.href, e.type) for e in notice.enclosures] == [(PDF.url, "application/pdf")]
    assert [(e.href, e.type) for e in plain.enclosures] == [
        ("https://haiphong.gov.vn/anh/1.jpg", "image/jpeg")]  # no document: the picture
    listed = notice.content[0].value
    assert "Tệp đính kèm" in listed and f'href="{DOCX_URL}"' in listed
    assert ">Phụ lục kèm theo</a>" in listed  # names are plain text
    assert [(t.term, t.scheme) for t in notice.tags] == [
        ("Thông báo", DOC_TYPE_SCHEME), ("Thông báo", SECTION_SCHEME)]
    assert notice.title == NOTICE.title  # the number stays where the site wrote it


def test_atom_has_one_enclosure_link_per_attachment_and_the_image() -> None:
    entry = parse(render_atom(SECTIONED, [NOTICE], PUBLIC)).entries[0]

    enclosures = [(e.href, e.type) for e in entry.enclosures]
    assert enclosures == [
        ("https://haiphong.gov.vn/anh/thong-bao.jpg", "image/jpeg"),
        (PDF.url, "application/pdf"),
        (DOCX_URL, DOCX_TYPE),
    ]
    assert [link.get("title") for link in entry.links if link.rel == "enclosure"] == [
        None, "Tải về 412", "Phụ lục kèm theo"]
    assert {(t.term, t.scheme) for t in entry.tags} == {
        ("Thông báo", DOC_TYPE_SCHEME), ("Thông báo", SECTION_SCHEME)}
    assert entry.link == NOTICE.url


def test_json_feed_attachments_tags_and_document_number() -> None:
    doc = json.loads(render_json(SECTIONED, [NOTICE, make_item(1)], PUBLIC))
    notice, plain = doc["items"]

    assert notice["attachments"] == [
        {"url": PDF.url, "mime_type": "application/pdf", "title": "Tải về 412"},
        {"url": DOCX_URL, "mime_type": DOCX_TYPE, "title": "Phụ lục kèm theo"},
    ]
    assert notice["tags"] == ["Thông báo", "Thông báo"]
    assert notice["_newsbot"] == {"doc_number": "412/TB-UBND"}
    assert not {"attachments", "tags", "_newsbot"} & set(plain)


def test_unsafe_attachment_urls_are_dropped_and_unknown_sections_show_their_id() -> None:
    item = make_item(0, section="chi-dao", attachments=(
        Attachment("javascript:alert(1)", "x", "pdf"), Attachment("data:,x", "y", "pdf")))

    body = render_rss(SECTIONED, [item], PUBLIC)

    assert b"javascript:" not in body and b"data:," not in body
    assert [t.term for t in parse(body).entries[0].tags] == ["chi-dao"]


def test_a_section_feed_has_its_own_urls_id_title_and_file(tmp_path: Path) -> None:
    meta = section_meta(SECTIONED, "thong-bao")
    assert meta is not None and section_meta(SECTIONED, "nope") is None

    feed = parse(render_atom(meta, [NOTICE], PUBLIC)).feed
    written = write_feeds(tmp_path, meta, [NOTICE], PUBLIC)

    assert feed.title == "Cổng TTĐT thành phố Hải Phòng – Thông báo"
    assert feed.id == "urn:newsbot:haiphong/thong-bao"
    assert [link.href for link in feed.links if link.rel == "self"] == [
        f"{PUBLIC}/feeds/haiphong/thong-bao.atom"]
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == [
        "feeds/haiphong/thong-bao.atom", "feeds/haiphong/thong-bao.json",
        "feeds/haiphong/thong-bao.xml"]
    assert feed_urls(PUBLIC, "haiphong", "thong-bao")["json"] == (
        f"{PUBLIC}/feeds/haiphong/thong-bao.json")
    with pytest.raises(ValueError, match="file name"):
        write_feeds(tmp_path, replace(meta, section="../x"), [NOTICE], PUBLIC)


def test_opml_lists_each_section_after_its_feed() -> None:
    root = ET.fromstring(render_opml([SECTIONED], PUBLIC))

    assert [(o.get("text"), o.get("xmlUrl"), o.get("htmlUrl"))
            for o in root.findall("body/outline")] == [
        (META.title, f"{PUBLIC}/feeds/haiphong.xml", META.site_url),
        (f"{META.title} – Tin tức – Sự kiện", f"{PUBLIC}/feeds/haiphong/tin-tuc-su-kien.xml",
         "https://haiphong.gov.vn/tin-tuc-su-kien"),
        (f"{META.title} – Thông báo", f"{PUBLIC}/feeds/haiphong/thong-bao.xml",
         "https://haiphong.gov.vn/thong-bao"),
    ]


def test_the_all_feed_names_every_feeds_sections() -> None:
    other = FeedMeta("quan", "Quận", "https://q.vn/", sections=(
        Section("thong-bao", "Thông báo quận", "https://q.vn/tb"),
        Section("van-ban", "Văn bản", "https://q.vn/vb")))

    everything = all_feed_meta([SECTIONED, other])

    assert [s.section_id for s in everything.sections] == [
        "tin-tuc-su-kien", "thong-bao", "van-ban"]
    assert everything.section_name("thong-bao") == "Thông báo"  # the first feed's name wins
