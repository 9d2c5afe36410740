"""bot.filters: folding, whole-word matching with or without diacritics, limits, speed."""

from __future__ import annotations

import time
import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.errors import KeywordError, NewsbotError
from bot.filters import (
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    facet_of,
    fold,
    item_facets,
    item_matched_keyword,
    item_matches,
    item_text,
    matched_keyword,
    matches,
    parse_keywords,
)
from bot.model import Item, KeywordFilter


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def cp1258_round_trip(text: str) -> str:
    """What a Windows-1258 page decodes to: base letters precomposed, tone marks combining."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            ch.encode("cp1258")
            out.append(ch)
        except UnicodeEncodeError:
            decomposed = nfd(ch)
            tone = next(c for c in decomposed if c in "\u0300\u0301\u0303\u0309\u0323")
            out.append(unicodedata.normalize("NFC", decomposed.replace(tone, "", 1)) + tone)
    return "".join(out).encode("cp1258").decode("cp1258")


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Hải Phòng", "hai phong"),
        (nfd("Hải Phòng"), "hai phong"),
        (cp1258_round_trip("Hải Phòng"), "hai phong"),
        ("HẢI AN", "hai an"),
        ("Đà Nẵng", "da nang"),
        ("ĐÀ NẴNG", "da nang"),
        ("đường Lạch Tray", "duong lach tray"),
        ("Nguyễn Thị Ánh", "nguyen thi anh"),
        ("Thường trực HĐND", "thuong truc hdnd"),
        ("ặ ầ ờ ự ỹ", "a a o u y"),
        ("  Hải-An!!  (mới) ", "hai an moi"),
        ("Covid-19, đợt_2", "covid 19 dot 2"),
        ("Straße", "strasse"),
        ("ﬁle №5", "file no5"),
        ("Ｈải　Ｐhòng", "hai phong"),  # full-width letters and ideographic space
        ("...", ""),
        ("", ""),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded


MATCHES = [
    ("hai an", "Quận Hải An mở rộng đường", True),
    ("hai an", "HẢI AN", True),
    ("hai an", nfd("Quận Hải An"), True),
    ("hai phong", "Thành phố Hải Phòng", True),
    ("hai phong", nfd("Thành phố Hải Phòng"), True),
    ("hai phong", cp1258_round_trip("Thành phố Hải Phòng"), True),
    ("hai phong", "Hải Phòng.", True),
    ("hai phong", "(Hải Phòng)", True),
    ("hai phong", "haiphong.gov.vn", False),
    ("da nang", "Đà Nẵng đón khách", True),
    ("Đà Nẵng", "da nang", True),
    ("hải an", "Hai An district", True),  # a keyword typed with diacritics finds text without
    ("Hải An", nfd("hải an"), True),
    ("an", "Nguyễn Thị Ánh", False),
    ("an", "ban hành", False),
    ("an", "Quận Hải An", True),
    ("an", "an", True),
    ("hai", "Hải Phòng", True),
    ("hai phong", "Hải", False),
    ("phong hai", "Hải Phòng", False),  # word order matters
    ("ha noi", "Hà Nội, Hải Phòng", True),
    ("covid-19", "ca mắc COVID 19 mới", True),
    ("covid 19", "Covid-19", True),
    ("cảng", "Cảng Hải Phòng", True),
    ("lach tray", "sân Lạch   Tray", True),  # several spaces count as one
    ("ubnd", "UBND thành phố", True),
    ("ubnd thanh pho", "UBND thành\nphố", True),  # scraped text wraps anywhere
    ("ubnd thanh pho", "UBND thành\n\nphố", False),  # but not across paragraphs
]


@pytest.mark.parametrize(("keyword", "text", "expected"), MATCHES)
def test_keyword_matches_whole_words(keyword: str, text: str, expected: bool) -> None:
    kf = KeywordFilter(include=(keyword,))
    assert matches(kf, text) is expected
    assert matched_keyword(kf, text) == (keyword if expected else None)


def test_exclude_wins_over_include() -> None:
    kf = KeywordFilter(include=("hải phòng",), exclude=("bóng đá",))
    assert matched_keyword(kf, "Hải Phòng: tin kinh tế") == "hải phòng"
    assert matched_keyword(kf, "Bóng đá Hải Phòng thắng") is None
    assert matched_keyword(kf, nfd("BÓNG ĐÁ HẢI PHÒNG")) is None


def test_empty_include_passes_everything_except_excluded() -> None:
    assert matched_keyword(KeywordFilter(), "bất cứ gì") == ""
    assert matched_keyword(KeywordFilter(), "") == ""
    only_exclude = KeywordFilter(exclude=("quảng cáo",))
    assert matched_keyword(only_exclude, "Tin tức Hải Phòng") == ""
    assert matched_keyword(only_exclude, "QUẢNG CÁO: mua ngay") is None


def test_the_first_matching_include_keyword_is_reported() -> None:
    kf = KeywordFilter(include=("đồ sơn", "hải an", "cảng"))
    assert matched_keyword(kf, "Cảng Hải An mở rộng") == "hải an"
    assert matched_keyword(kf, "Cảng mới") == "cảng"
    assert matched_keyword(kf, "Tin khác") is None


def test_a_keyword_of_punctuation_only_matches_nothing() -> None:
    assert matched_keyword(KeywordFilter(include=("!!!",)), "!!! tin") is None
    assert matched_keyword(KeywordFilter(exclude=("!!!",)), "!!! tin") == ""


def test_user_input_is_never_a_regex() -> None:
    evil = KeywordFilter(include=("(a+)+$",), exclude=(".*",))
    started = time.perf_counter()
    assert matched_keyword(evil, "a" * 50_000 + "!") is None
    assert matched_keyword(evil, "a b") == "(a+)+$"  # folds to the word `a`
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "keywords"),
    [
        ("hải an, cảng ; Đồ Sơn\nlạch tray", ("hải an", "cảng", "Đồ Sơn", "lạch tray")),
        ("Hải An, hai an, HẢI AN, " + nfd("hải an"), ("Hải An",)),
        (",, ; ,\n", ()),
        ("", ()),
        ("  ủy   ban  ", ("ủy ban",)),
        (nfd("Hải Phòng"), ("Hải Phòng",)),  # stored NFC
        ("a\r\nb", ("a", "b")),
    ],
)
def test_parse_keywords(text: str, keywords: tuple[str, ...]) -> None:
    parsed = parse_keywords(text)
    assert parsed == keywords
    assert all(unicodedata.is_normalized("NFC", k) for k in parsed)


def test_parse_keywords_limits() -> None:
    exactly = ", ".join(f"từ {i}" for i in range(MAX_KEYWORDS))
    assert len(parse_keywords(exactly)) == MAX_KEYWORDS
    with pytest.raises(KeywordError) as too_many:
        parse_keywords(exactly + ", một nữa")
    message = str(too_many.value)
    assert "51" in message and str(MAX_KEYWORDS) in message and "\n" not in message
    assert isinstance(too_many.value, NewsbotError)

    longest = "ă" * MAX_KEYWORD_LENGTH
    assert parse_keywords(longest) == (longest,)
    with pytest.raises(KeywordError) as too_long:
        parse_keywords("cảng, " + "hải phòng " * 11)
    message = str(too_long.value)
    assert "hải phòng hải phòng" in message and "109" in message and "100" in message
    assert "\n" not in message


def test_parse_keywords_rejects_keywords_without_letters() -> None:
    with pytest.raises(KeywordError, match="'!!!' has no letters or digits"):
        parse_keywords("cảng, !!!")


def test_parsed_keywords_match_what_they_say() -> None:
    kf = KeywordFilter(include=parse_keywords("Hải An; đồ sơn"))
    assert matched_keyword(kf, "Bãi biển ĐỒ SƠN đông khách") == "đồ sơn"


def test_item_text() -> None:
    item = Item(feed_id="f", item_id="1", url="u", title="Cảng Hải Phòng", summary="Đón tàu lớn")
    assert item_text(item) == "Cảng Hải Phòng\n\nĐón tàu lớn"
    assert matches(KeywordFilter(include=("don tau",)), item_text(item))
    assert not matches(KeywordFilter(include=("phong don",)), item_text(item))  # no run-on
    assert item_text(Item(feed_id="f", item_id="1", url="u", title="Tiêu đề")) == "Tiêu đề"


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    once = fold(text)
    assert fold(once) == once
    assert once == once.strip() and "  " not in once


@settings(max_examples=400, deadline=None)
@given(st.text(), st.text(min_size=1, max_size=30), st.text())
def test_a_keyword_matches_text_containing_it_as_a_word(
    before: str, keyword: str, after: str
) -> None:
    assume(fold(keyword) and "\n" not in keyword and "\u2029" not in keyword)
    text = f"{before} {keyword} {after}"
    assert matched_keyword(KeywordFilter(include=(keyword,)), text) == keyword
    assert matched_keyword(KeywordFilter(include=(keyword,)), nfd(text)) == keyword


VIETNAMESE_TEXT = (
    "hải phòng hà nội đà nẵng cảng tàu biển đường bộ lạch tray đồ sơn cát bà thủy nguyên kiến an "
    "hải an ngô quyền lê chân dương kinh an dương an lão tiên lãng vĩnh bảo bạch long vĩ ủy ban "
    "nhân dân thành phố quận huyện xã phường giao thông xây dựng giáo dục y tế văn hóa thể thao "
    "du lịch kinh tế đầu tư công nghiệp nông nghiệp môi trường an ninh quốc phòng bóng đá thời tiết"
)
VIETNAMESE_WORDS = VIETNAMESE_TEXT.split()


def _filters(count: int, per_filter: int) -> list[KeywordFilter]:
    filters = []
    for n in range(count):
        words = [
            VIETNAMESE_WORDS[(n * 7 + k * 3) % len(VIETNAMESE_WORDS)] for k in range(per_filter)
        ]
        phrases = [f"{w} {n % 97}" if k % 4 == 0 else w for k, w in enumerate(words)]
        filters.append(KeywordFilter(include=tuple(phrases[:-2]), exclude=tuple(phrases[-2:])))
    return filters


def test_thousand_subscribers_twenty_keywords_split_the_items() -> None:
    # Speed is measured in benchmarks/bench_matching.py; here only that the filters do work.
    filters = _filters(1000, 20)
    items = [
        f"Tin số {i}: UBND thành phố Hải Phòng họp bàn về giao thông quận {i} "
        + " ".join(VIETNAMESE_WORDS[i : i + 40])
        for i in range(20)
    ]
    passed = sum(matched_keyword(kf, text) is not None for text in items for kf in filters)
    assert 0 < passed < 20_000  # some pass, some are dropped


# --- field keywords: type: and section: --------------------------------------------------------

DECISION = Item(
    "haiphong", "749398", "https://haiphong.gov.vn/thong-bao/qd-749398",
    "Quyết định số 3856/QĐ-UBND phê duyệt kế hoạch sử dụng đất",
    summary="Thông báo của UBND huyện Thủy Nguyên", doc_number="3856/QĐ-UBND",
    doc_type="Quyết định", section="thong-bao",
)  # fmt: skip
NEWS = Item("haiphong", "749312", "https://haiphong.gov.vn/tin/749312",
            "Trao quyết định bổ nhiệm cán bộ", section="tin-tuc-su-kien")


@pytest.mark.parametrize(
    "keyword", ["type:quyết định", "type: Quyet Dinh", "TYPE:quyết  định", "loại:quyết định",
                nfd("type:Quyết định")],
)  # fmt: skip
def test_type_keyword_matches_the_document_type_folded(keyword: str) -> None:
    kf = KeywordFilter(include=parse_keywords(keyword))

    assert item_matched_keyword(kf, DECISION) == kf.include[0]
    assert not item_matches(kf, NEWS)  # says "quyết định" in its title, but is no decision


def test_type_keyword_never_matches_text() -> None:
    kf = KeywordFilter(include=("type:thông báo",))  # DECISION's summary says "Thông báo"

    assert not item_matches(kf, DECISION)
    assert matched_keyword(kf, "type thông báo") is None  # text alone: no fields, no match
    assert not matches(KeywordFilter(include=("type",)), item_text(DECISION))


def test_section_keyword_matches_the_id_or_the_name() -> None:
    by_id = KeywordFilter(include=("section:thong-bao",))
    by_name = KeywordFilter(include=("mục:Thông báo",))

    assert item_matches(by_id, DECISION) and not item_matches(by_id, NEWS)
    assert item_matches(by_name, DECISION)  # the id folds to the same words
    assert item_matches(KeywordFilter(include=("section:văn bản",)), DECISION, "Văn bản")
    assert not item_matches(KeywordFilter(include=("section:văn bản",)), DECISION)


def test_field_keywords_narrow_plain_ones() -> None:
    decisions_about_land = KeywordFilter(include=("type:quyết định", "sử dụng đất", "bổ nhiệm"))
    notices_or_news = KeywordFilter(include=("section:thong bao", "section:tin tuc su kien"))
    no_notices = KeywordFilter(exclude=("section:thong bao",))

    # Plain keywords: any one; each field present: one of its values too.
    assert item_matched_keyword(decisions_about_land, DECISION) == "type:quyết định"
    assert item_matched_keyword(decisions_about_land, NEWS) is None  # "bổ nhiệm", not a decision
    assert item_matches(notices_or_news, DECISION) and item_matches(notices_or_news, NEWS)
    both = KeywordFilter(include=("section:tin tuc su kien", "bổ nhiệm"))
    assert item_matches(both, NEWS) and not item_matches(both, DECISION)
    assert not item_matches(no_notices, DECISION) and item_matches(no_notices, NEWS)
    assert item_facets(DECISION) == {"type": ("Quyết định",), "section": ("thong-bao", "")}
    assert item_facets(NEWS, "Tin tức")["type"] == ()


def test_field_keyword_parsing() -> None:
    assert facet_of("type:Quyết định") == ("type", "quyet dinh")
    assert facet_of("mục: Thông báo") == ("section", "thong bao")
    assert facet_of("hải phòng: cảng") is None and facet_of("type:") is None
    assert parse_keywords("type:quyết định, TYPE: Quyet dinh") == ("type:quyết định",)
    with pytest.raises(KeywordError, match="type:quyết định"):
        parse_keywords("type:  ")
