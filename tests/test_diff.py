"""bot.diff: canonical URLs, stable ids that never merge articles, oldest-first order, new items."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urljoin, urlsplit

import pytest
from fakes.realpages import expected_listings
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.diff import item_id, oldest_first, select_new
from bot.model import Item
from bot.urls import canonical_url

HAIPHONG_ID = r"-(\d{5,})(?:\.html?)?$"
ARTICLE = "https://haiphong.gov.vn/tin-tuc-su-kien/giai-dua-thuyen-rong-680867"
NFC_SLUG = "/tin-tức/hải-phòng"
NFD_SLUG = unicodedata.normalize("NFD", NFC_SLUG)

EQUIVALENT = [
    ("http://haiphong.gov.vn/tin-tuc/a-1", "https://haiphong.gov.vn/tin-tuc/a-1"),
    ("HTTPS://HaiPhong.Gov.VN/tin-tuc/a-1", "https://haiphong.gov.vn/tin-tuc/a-1"),
    ("https://haiphong.gov.vn:443/a", "https://haiphong.gov.vn/a"),
    ("http://haiphong.gov.vn:80/a", "https://haiphong.gov.vn/a"),
    ("https://haiphong.gov.vn/a#binh-luan", "https://haiphong.gov.vn/a"),
    ("https://haiphong.gov.vn/a?utm_source=fb&utm_medium=social", "https://haiphong.gov.vn/a"),
    ("https://haiphong.gov.vn/a?fbclid=IwAR0abc", "https://haiphong.gov.vn/a"),
    ("https://haiphong.gov.vn/a?id=5&gclid=xyz", "https://haiphong.gov.vn/a?id=5"),
    (
        "https://haiphong.gov.vn/a?mc_cid=1&mc_eid=2&_ga=3&UTM_Campaign=x",
        "https://haiphong.gov.vn/a",
    ),
    ("https://haiphong.gov.vn/a?b=2&a=1", "https://haiphong.gov.vn/a?a=1&b=2"),
    ("https://haiphong.gov.vn/h%e1%ba%a3i", "https://haiphong.gov.vn/h%E1%BA%A3i"),
    ("https://haiphong.gov.vn/%7Euser/%41bc", "https://haiphong.gov.vn/~user/Abc"),
    ("https://haiphong.gov.vn" + NFD_SLUG, "https://haiphong.gov.vn" + NFC_SLUG),
    ("https://haiphong.gov.vn/hải", "https://haiphong.gov.vn/h%E1%BA%A3i"),
    ("https://haiphong.gov.vn/ha%CC%89i", "https://haiphong.gov.vn/h%E1%BA%A3i"),  # NFD escaped
    ("https://haiphong.gov.vn/a/./b/../c", "https://haiphong.gov.vn/a/c"),
    ("https://haiphong.gov.vn", "https://haiphong.gov.vn/"),
    ("https://haiphong.gov.vn./a", "https://haiphong.gov.vn/a"),
    ("https://haiphong.gov.vn/a?", "https://haiphong.gov.vn/a"),
    ("https://haiphong.gov.vn/a?&&x=1&", "https://haiphong.gov.vn/a?x=1"),
    ("  https://haiphong.gov.vn/a\n", "https://haiphong.gov.vn/a"),
    ("https://VÍ-dụ.vn/a", "https://" + "ví-dụ.vn".encode("idna").decode() + "/a"),
    ("https://haiphong.gov.vn/a?q=h%e1%ba%a3i+ph%c3%b2ng", "https://haiphong.gov.vn/a?q=hải+phòng"),
]

DISTINCT = [
    (
        "https://haiphong.gov.vn/Portal/PrintItem.aspx?ContentID=135634",
        "https://haiphong.gov.vn/Portal/PrintItem.aspx?ContentID=135635",
    ),
    ("https://x.vn/Default.aspx?ItemID=1", "https://x.vn/Default.aspx?ItemID=2"),
    (ARTICLE, ARTICLE.replace("680867", "680868")),
    ("https://haiphong.gov.vn/Tin-tuc/a", "https://haiphong.gov.vn/tin-tuc/a"),  # paths keep case
    ("https://haiphong.gov.vn/a/b", "https://haiphong.gov.vn/a%2Fb"),
    ("https://haiduong.haiphong.gov.vn/a-889529", "https://haiphong.gov.vn/a-889529"),
    ("https://haiphong.gov.vn:8080/a", "https://haiphong.gov.vn/a"),
    ("https://x.vn/list?page=1", "https://x.vn/list?page=2"),
    ("https://x.vn/s?q=a+b", "https://x.vn/s?q=a%2Bb"),
    ("https://x.vn/a?id=1", "https://x.vn/a?ID=1"),
    ("https://x.vn/a?id=1&x=2", "https://x.vn/a?id=1%26x%3D2"),
    ("https://x.vn/?pageid=27218&p_steering=126716", "https://x.vn/?pageid=27218&p_steering=1"),
]


@pytest.mark.parametrize(("url", "other"), EQUIVALENT)
def test_equivalent_urls_share_one_id(url: str, other: str) -> None:
    assert canonical_url(url) == canonical_url(other)
    assert item_id(url) == item_id(other)


def test_enough_equivalence_cases() -> None:
    assert len(EQUIVALENT) >= 20 and len(DISTINCT) >= 10


@pytest.mark.parametrize(("url", "other"), DISTINCT)
def test_distinct_articles_never_merge(url: str, other: str) -> None:
    assert canonical_url(url) != canonical_url(other)
    assert item_id(url) != item_id(other)
    if urlsplit(url).hostname == urlsplit(other).hostname:
        # an id_pattern id is the site's article number: unique per site, not across sites
        assert item_id(url, id_pattern=HAIPHONG_ID) != item_id(other, id_pattern=HAIPHONG_ID)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        (
            "HTTP://HaiPhong.gov.vn:80/Diem-bao/./x/../Diem-bao-91682.html?utm_source=zalo&b=2&a=1#top",
            "https://haiphong.gov.vn/Diem-bao/Diem-bao-91682.html?a=1&b=2",
        ),
        (
            "https://x.vn/tìm kiếm?q=đà nẵng",
            "https://x.vn/t%C3%ACm%20ki%E1%BA%BFm?q=%C4%91%C3%A0%20n%E1%BA%B5ng",
        ),
        ("https://x.vn/a%2fb%3F", "https://x.vn/a%2Fb%3F"),  # reserved escapes stay escaped
        ("https://x.vn/100%", "https://x.vn/100%25"),  # a stray % is escaped, not dropped
        ("https://x.vn/%ff%41", "https://x.vn/%FFA"),  # not UTF-8: unreserved bytes still decoded
        ("https://user:pw@x.vn:8443/a", "https://user:pw@x.vn:8443/a"),
        ("https://[2001:DB8::1]:443/a", "https://[2001:db8::1]/a"),
        ("https://x.vn/a/b/..", "https://x.vn/a/"),
        ("https://x.vn/../../a", "https://x.vn/a"),
        ("https://x.vn/a?flag&b=1", "https://x.vn/a?b=1&flag"),
        ("https://x.vn/a?x=1=2", "https://x.vn/a?x=1=2"),
        ("https://x.vn/a?a=2&a=1", "https://x.vn/a?a=2&a=1"),  # repeated keys keep their order
    ],
)
def test_canonical_url(url: str, canonical: str) -> None:
    assert canonical_url(url) == canonical


@pytest.mark.parametrize(
    "url",
    [
        "",
        "/relative/path",
        "mailto:toa-soan@haiphong.gov.vn",
        "ftp://x.vn/file",
        "javascript:void(0)",
        "http://[::1",  # broken IPv6 literal
        "http://x.vn:99999/a",  # port out of range
        "https://",
        "not a url at all",
    ],
)
def test_non_http_or_broken_urls_are_left_alone(url: str) -> None:
    assert canonical_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (ARTICLE, "680867"),
        (ARTICLE.replace("https", "http") + "?utm_source=fb", "680867"),
        ("https://haiphong.gov.vn/Diem-bao/Diem-bao-hang-ngay-ngay-1152022-91682.html", "91682"),
        ("https://haiphong.gov.vn/Diem-bao/Diem-bao-91682.html?utm_campaign=x&page=2", "91682"),
        ("https://haiphong.gov.vn/thu-tuc-hanh-chinh-76761/danh-muc-hai-phong--760833", "760833"),
        ("https://haiduong.haiphong.gov.vn/tin-tuc-su-kien/a-889529", "889529"),
        ("https://haiphong.gov.vn/tin-tuc-su-kien", "https://haiphong.gov.vn/tin-tuc-su-kien"),
    ],
)
def test_item_id_from_id_pattern(url: str, expected: str) -> None:
    assert item_id(url, id_pattern=HAIPHONG_ID) == expected


def test_item_id_pattern_without_group_takes_the_whole_match() -> None:
    assert item_id(ARTICLE, id_pattern=r"\d{6}$") == "680867"
    url = "https://haiphong.gov.vn/Portal/PrintItem.aspx?ContentID=135634&utm_source=x"
    assert item_id(url, id_pattern=r"ContentID=(\d+)") == "135634"
    assert item_id(url, id_pattern=r"NoSuch=(\d+)") == canonical_url(url)


def test_item_id_without_url_hashes_title_and_date() -> None:
    published = datetime(2024, 11, 28, 5, 15, tzinfo=UTC)
    same_instant = published.astimezone(timezone(timedelta(hours=7)))
    key = item_id("", title="Cảng Hải Phòng", published_at=published)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", key)
    assert item_id("  ", title="Cảng Hải Phòng", published_at=same_instant) == key
    assert (
        item_id("", title=unicodedata.normalize("NFD", "Cảng  Hải Phòng "), published_at=published)
        == key
    )
    assert item_id("", title="Cảng Hải Phòng") != key
    assert item_id("", title="Cảng Hải An", published_at=published) != key
    assert item_id("", title="Cảng Hải Phòng", published_at=published + timedelta(days=1)) != key


def test_ids_of_real_listings_are_distinct_and_stable() -> None:
    listings = expected_listings()
    for page, base in [
        ("son601008-Scrapy/dantri.html", "https://dantri.com.vn/"),
        ("daily-news-gravity/vnexpress.html", "https://e.vnexpress.net/"),
        ("capstone2/tin-tuc-su-kien.html", "https://sotttt.hanoi.gov.vn/vi/"),
    ]:
        urls = {urljoin(base, i.get("url") or i["href_in_file"]) for i in listings[page]["items"]}
        ids = {item_id(url) for url in urls}
        assert len(ids) == len(urls), page
        assert {item_id(url.replace("https://", "http://") + "#x") for url in urls} == ids


def test_vnexpress_ids_from_a_pattern() -> None:
    listings = expected_listings()
    urls = {i["url"] for i in listings["daily-news-gravity/vnexpress.html"]["items"]}
    ids = {item_id(url, id_pattern=r"-(\d{5,})\.html$") for url in urls}
    assert len(ids) == len(urls)
    assert all(i.isdigit() for i in ids)


SEGMENT = st.text(alphabet=st.characters(exclude_characters="/?#", codec="utf-8"), max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["http", "https", "HTTP"]),
    st.sampled_from(["haiphong.gov.vn", "X.VN", "x.vn:8080", "x.vn:443"]),
    st.lists(SEGMENT, max_size=4),
    st.lists(st.tuples(SEGMENT, SEGMENT), max_size=4),
)
def test_canonical_url_is_idempotent(
    scheme: str, host: str, segments: list[str], params: list[tuple[str, str]]
) -> None:
    query = "&".join(f"{k}={v}" for k, v in params)
    url = f"{scheme}://{host}/" + "/".join(segments) + (f"?{query}" if query else "")
    once = canonical_url(url)
    assert canonical_url(once) == once
    assert once.startswith("https://") and "#" not in once


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_canonical_url_never_raises_and_is_idempotent(text: str) -> None:
    for url in (text, "https://x.vn/" + text):
        once = canonical_url(url)
        assert canonical_url(once) == once
    assert canonical_url("https://x.vn/" + text).startswith("https://x.vn/")


# --- ordering and selection ---------------------------------------------------------------------

T0 = datetime(2024, 11, 28, tzinfo=UTC)


def make(key: str, *, published: int | None = None, seen: int | None = None) -> Item:
    """An item whose dates are `T0 + n hours`."""
    return Item(
        feed_id="hp",
        item_id=key,
        url=f"https://haiphong.gov.vn/{key}",
        title=key,
        published_at=T0 + timedelta(hours=published) if published is not None else None,
        first_seen_at=T0 + timedelta(hours=seen) if seen is not None else None,
    )


def keys(items: list[Item]) -> list[str]:
    return [item.item_id for item in items]


def test_oldest_first_sorts_by_date() -> None:
    page = [make("c", published=3), make("a", published=1), make("b", seen=2)]
    assert keys(oldest_first(page)) == ["a", "b", "c"]


def test_oldest_first_without_dates_reverses_the_page() -> None:
    page = [make("newest"), make("middle"), make("oldest")]
    assert keys(oldest_first(page)) == ["oldest", "middle", "newest"]


def test_oldest_first_equal_dates_keep_reversed_page_order() -> None:
    page = [make("n3", published=5), make("n2", published=5), make("n1", published=5)]
    assert keys(oldest_first(page)) == ["n1", "n2", "n3"]


def test_oldest_first_puts_undated_items_after_dated_ones() -> None:
    page = [
        make("fresh1"),
        make("dated2", published=2),
        make("fresh2"),
        make("dated1", published=1),
    ]
    assert keys(oldest_first(page)) == ["dated1", "dated2", "fresh2", "fresh1"]


def test_oldest_first_compares_instants_across_offsets() -> None:
    early = Item(
        "hp",
        "early",
        "u",
        "t",
        published_at=datetime(2024, 1, 1, 8, tzinfo=timezone(timedelta(hours=7))),
    )
    late = Item("hp", "late", "u", "t", published_at=datetime(2024, 1, 1, 2, tzinfo=UTC))
    assert keys(oldest_first([late, early])) == ["early", "late"]
    assert keys(oldest_first([])) == []


def test_select_new() -> None:
    page = [make("a"), make("b"), make("a"), make("c"), make("d"), make("c")]
    assert keys(select_new(page, {"b"})) == ["a", "c", "d"]
    assert keys(select_new(page, set())) == ["a", "b", "c", "d"]
    assert keys(select_new(page, ["a", "b", "c", "d"])) == []


def test_select_new_first_occurrence_wins() -> None:
    first = make("a", published=1)
    again = make("a", published=9)
    assert select_new([first, again], frozenset()) == [first]
