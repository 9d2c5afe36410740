"""bot.source.dates: every listed date form, year roll-over, NFD/cp1258 text, garbage, the
future."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes.realpages import expected_listings, realpage
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.source.dates import ParsedDate, date_from_url, parse_date, ticks_to_datetime

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2025, 6, 15, 9, 30, 12, tzinfo=HCM)  # mid-year: yearless dates fall in 2025 or 2024


def at(y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0, tz: Any = HCM) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=tz).astimezone(UTC)


def day_only(y: int, mo: int, d: int, now: datetime = NOW) -> ParsedDate:
    """What a date-only text gives: that day at now's local time of day, not after now."""
    local_now = now.astimezone(HCM)
    combined = datetime.combine(date(y, mo, d), local_now.time(), HCM).astimezone(UTC)
    return ParsedDate(min(combined, now.astimezone(UTC)), has_time=False)


def timed(*args: Any, **kwargs: Any) -> ParsedDate:
    return ParsedDate(at(*args, **kwargs), has_time=True)


def to_cp1258(text: str) -> bytes:
    """Encode like a Windows-1258 page: base letters precomposed, tone marks as combining bytes."""
    out = bytearray()
    for ch in unicodedata.normalize("NFC", text):
        try:
            out += ch.encode("cp1258")
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        tone = next(c for c in decomposed if c in "\u0300\u0301\u0303\u0309\u0323")
        base = unicodedata.normalize("NFC", decomposed.replace(tone, "", 1))
        out += base.encode("cp1258") + tone.encode("cp1258")
    return bytes(out)


WITH_YEAR: list[tuple[str, ParsedDate | None]] = [
    ("28/11/2024", day_only(2024, 11, 28)),
    ("28/11/2024 12:15", timed(2024, 11, 28, 12, 15)),
    ("28/11/2024 - 12:15", timed(2024, 11, 28, 12, 15)),
    ("Thời gian: 11/05/2022 12:15", timed(2022, 5, 11, 12, 15)),
    ("Thứ Bảy, 26/01/2019 19:26", timed(2019, 1, 26, 19, 26)),
    ("Print Thứ Bảy, 26/01/2019 19:26", timed(2019, 1, 26, 19, 26)),
    ("Thứ năm, 2/11/2023, 19:20 (GMT+7)", timed(2023, 11, 2, 19, 20)),
    ("Thứ tư, 22/10/2025, 19:25 (GMT+7)", None),  # more than 2 days after NOW
    ("Thứ năm, 2/11/2023, 19:20 (GMT+9)", timed(2023, 11, 2, 10, 20, tz=UTC)),
    ("Thứ năm, 21:46 31/03/2016", timed(2016, 3, 31, 21, 46)),
    ("17:03 01/04/2017", timed(2017, 4, 1, 17, 3)),
    ("12:15, 28/11/2024", timed(2024, 11, 28, 12, 15)),
    ("Ngày đăng 24/08/2022 | 04:30 PM | View count: 8", timed(2022, 8, 24, 16, 30)),
    ("Ngày đăng 26/07/2022 | 9:50 AM | View count: 159", timed(2022, 7, 26, 9, 50)),
    ("24/08/2022 | 12:05 AM", timed(2022, 8, 24, 0, 5)),
    ("24/08/2022 | 12:05 PM", timed(2022, 8, 24, 12, 5)),
    ("24/08/2022 04:30 CH", timed(2022, 8, 24, 16, 30)),
    ("24/08/2022 09:10 SA", timed(2022, 8, 24, 9, 10)),
    ("24/08/2022 4 PM", timed(2022, 8, 24, 16, 0)),
    ("Hải Phòng, ngày 08 tháng 12 năm 2019", day_only(2019, 12, 8)),
    ("ngày 8 tháng 12, 2019", day_only(2019, 12, 8)),
    ("Điểm báo hằng ngày về Hải Phòng (ngày 11/5/2022)", day_only(2022, 5, 11)),
    ("15h30 ngày 28/11/2024", timed(2024, 11, 28, 15, 30)),
    ("28/11/2024 lúc 15 giờ 30 phút", timed(2024, 11, 28, 15, 30)),
    ("lúc 10g30 ngày 28/11/2024", timed(2024, 11, 28, 10, 30)),
    ("28/11/2024 4g LTE", day_only(2024, 11, 28)),
    ("28-11-2024 12:15", timed(2024, 11, 28, 12, 15)),
    ("28.11.2024", day_only(2024, 11, 28)),
    ("28/11/24", day_only(2024, 11, 28)),
    ("2024-02-28 09:45:33", timed(2024, 2, 28, 9, 45, 33)),
    ("2024-11-28", day_only(2024, 11, 28)),
    ("2024-11-28T12:15:00+07:00", timed(2024, 11, 28, 5, 15, tz=UTC)),
    ("2024-11-28T12:15:00Z", timed(2024, 11, 28, 12, 15, tz=UTC)),
    ("2024-11-28T12:15:00.123456-05:00", timed(2024, 11, 28, 17, 15, tz=UTC)),
    ("Thu, 28 Nov 2024 05:15:00 +0000", timed(2024, 11, 28, 5, 15, tz=UTC)),
    ("Thu, 28 Nov 2024 05:15:00 GMT", timed(2024, 11, 28, 5, 15, tz=UTC)),
    ("Thu, 28 Nov 2024 12:15:00 +0700", timed(2024, 11, 28, 5, 15, tz=UTC)),
    ("July 15, 2014", day_only(2014, 7, 15)),
    ("15 July 2014", day_only(2014, 7, 15)),
    ("Updated Jul 15th, 2014", day_only(2014, 7, 15)),
    ("Sept. 3, 2014 at 10:05 pm", timed(2014, 9, 3, 22, 5)),
]

# NOW is Sunday 15 June 2025, 09:30:12 in Hanoi.
YEARLESS: list[tuple[str, ParsedDate | None]] = [
    ("Sáng 28/11", day_only(2024, 11, 28)),
    ("Sáng 19/12", day_only(2024, 12, 19)),
    ("Chiều 11/1", day_only(2025, 1, 11)),
    ("chiều 23/3", day_only(2025, 3, 23)),
    ("Tối 16/2", day_only(2025, 2, 16)),
    ("Đầu giờ chiều 1/3", day_only(2025, 3, 1)),
    ("Rạng sáng 14/6", day_only(2025, 6, 14)),
    ("15 giờ ngày 1/3", timed(2025, 3, 1, 15)),
    ("15h ngày 1/3", timed(2025, 3, 1, 15)),
    ("Chiều 3 giờ ngày 1/3", timed(2025, 3, 1, 15)),
    ("tối 9 giờ ngày 1/3", timed(2025, 3, 1, 21)),
    ("Ngày 10/5", day_only(2025, 5, 10)),
    ("Chiều 31-3", day_only(2025, 3, 31)),
    ("Ngày 22-8", day_only(2024, 8, 22)),
    ("12-01 23:26", timed(2025, 1, 12, 23, 26)),
    ("Chiều 16/6", day_only(2025, 6, 16)),  # tomorrow: a clock a little ahead, still this year
    ("Sáng 17/6", day_only(2024, 6, 17)),  # two days ahead: last year's
    ("Chiều 29/2", day_only(2024, 2, 29)),  # 2025 has no 29 February
    ("ngày 5 tháng 3", day_only(2025, 3, 5)),
]

RELATIVE: list[tuple[str, ParsedDate | None]] = [
    ("2 giờ trước", ParsedDate(NOW.astimezone(UTC) - timedelta(hours=2), has_time=True)),
    ("2h trước", ParsedDate(NOW.astimezone(UTC) - timedelta(hours=2), has_time=True)),
    ("5 phút trước", ParsedDate(NOW.astimezone(UTC) - timedelta(minutes=5), has_time=True)),
    ("30 giây trước", ParsedDate(NOW.astimezone(UTC) - timedelta(seconds=30), has_time=True)),
    ("cách đây 3 giờ", ParsedDate(NOW.astimezone(UTC) - timedelta(hours=3), has_time=True)),
    ("2 hours ago", ParsedDate(NOW.astimezone(UTC) - timedelta(hours=2), has_time=True)),
    ("3 ngày trước", ParsedDate(NOW.astimezone(UTC) - timedelta(days=3), has_time=False)),
    ("1 tuần trước", ParsedDate(NOW.astimezone(UTC) - timedelta(days=7), has_time=False)),
    ("hôm nay", day_only(2025, 6, 15)),
    ("hôm qua", day_only(2025, 6, 14)),
    ("hôm kia", day_only(2025, 6, 13)),
    ("hôm qua lúc 12:15", timed(2025, 6, 14, 12, 15)),
    ("12:15 hôm qua", timed(2025, 6, 14, 12, 15)),
    ("vừa xong", ParsedDate(NOW.astimezone(UTC), has_time=True)),
]


@pytest.mark.parametrize(("text", "expected"), WITH_YEAR + YEARLESS + RELATIVE)
def test_parse_date_forms(text: str, expected: ParsedDate | None) -> None:
    assert parse_date(text, NOW) == expected


@pytest.mark.parametrize(("text", "expected"), WITH_YEAR + YEARLESS)
def test_decomposed_and_cp1258_text_parses_the_same(text: str, expected: ParsedDate) -> None:
    nfd = unicodedata.normalize("NFD", text)
    from_cp1258 = to_cp1258(text).decode("cp1258")
    assert parse_date(nfd, NOW) == expected
    assert parse_date(from_cp1258, NOW) == expected


def test_cp1258_round_trip_really_is_decomposed() -> None:
    decoded = to_cp1258("Hải Phòng, ngày 08 tháng 12 năm 2019").decode("cp1258")
    assert decoded != "Hải Phòng, ngày 08 tháng 12 năm 2019"  # tone marks come back combining
    assert unicodedata.normalize("NFC", decoded) == "Hải Phòng, ngày 08 tháng 12 năm 2019"
    assert parse_date(decoded, NOW) == day_only(2019, 12, 8)


def test_result_is_utc() -> None:
    found = parse_date("28/11/2024 12:15", NOW)
    assert found is not None
    assert found.at.utcoffset() == timedelta(0)
    assert found.at == datetime(2024, 11, 28, 5, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "now", "expected"),
    [
        # day/month without a year: the most recent one, not (much) in the future
        ("Chiều 31/12", datetime(2025, 1, 2, 10, 0, tzinfo=HCM), (2024, 12, 31)),
        ("Sáng 1/1", datetime(2024, 12, 31, 23, 0, tzinfo=HCM), (2024, 1, 1)),
        ("Sáng 1/1", datetime(2025, 1, 1, 0, 30, tzinfo=HCM), (2025, 1, 1)),
        ("Ngày 2/1", datetime(2025, 1, 1, 8, 0, tzinfo=HCM), (2025, 1, 2)),  # capped at now
        ("Ngày 3/1", datetime(2025, 1, 1, 8, 0, tzinfo=HCM), (2024, 1, 3)),
        ("Tối 30/12", datetime(2024, 12, 31, 23, 0, tzinfo=HCM), (2024, 12, 30)),
        # `now` in UTC is still 31 Dec, but in Hanoi it is already 1 January
        ("Sáng 1/1", datetime(2024, 12, 31, 17, 30, tzinfo=UTC), (2025, 1, 1)),
    ],
)
def test_yearless_year_roll_over(text: str, now: datetime, expected: tuple[int, int, int]) -> None:
    found = parse_date(text, now)
    assert found == day_only(*expected, now=now)
    assert found is not None
    assert found.at <= now


def test_yearless_with_time_rolls_over_on_the_clock() -> None:
    now = datetime(2025, 1, 1, 0, 10, tzinfo=HCM)
    assert parse_date("23:30 31/12", now) == timed(2024, 12, 31, 23, 30)
    assert parse_date("00:05 1/1", now) == timed(2025, 1, 1, 0, 5)


def test_date_only_takes_nows_time_of_day_but_never_after_now() -> None:
    now = datetime(2025, 6, 15, 9, 30, tzinfo=HCM)
    earlier = parse_date("14/06/2025", now)
    assert earlier == ParsedDate(datetime(2025, 6, 14, 9, 30, tzinfo=HCM).astimezone(UTC), False)
    assert parse_date("15/06/2025", now) == ParsedDate(now.astimezone(UTC), False)
    assert parse_date("16/06/2025", now) == ParsedDate(now.astimezone(UTC), False)


def test_day_part_words_do_not_invent_an_hour() -> None:
    for text in ("Chiều 11/1", "Tối 16/2", "Sáng 28/11", "Trưa 3/4", "Đêm 5/5"):
        found = parse_date(text, NOW)
        assert found is not None and not found.has_time, text
        assert found.at.astimezone(HCM).time() == NOW.time()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15/06/2025 23:00", timed(2025, 6, 15, 23)),  # later today: allowed (site clocks drift)
        ("17/06/2025 09:00", timed(2025, 6, 17, 9)),  # within two days
        ("17/06/2025 09:31", None),  # just over two days
        ("17/06/2025", ParsedDate(NOW.astimezone(UTC), has_time=False)),
        ("18/06/2025", None),
        ("01/01/2031", None),
        ("2030-01-01T00:00:00Z", None),
    ],
)
def test_future_dates(text: str, expected: ParsedDate | None) -> None:
    assert parse_date(text, NOW) == expected


GARBAGE = [
    "",
    "   ",
    "không có ngày tháng",
    "View count: 8",
    "12:15",
    "31/02/2024",
    "30/02",
    "31/4",
    "32/1",
    "1/13",
    "00/00/0000",
    "99/99/9999",
    "2024-13-45",
    "0001-01-01",
    "28/11/1850",
    "Nghị định 12/2024/NĐ-CP",
    "1.2.3.4",
    "Covid-19",
    "\x00\x01\x02",
    "😀 ngày 😀",
    "\ufeff\u200b",
    "1" * 5000,
    "28/11/2024" * 500,  # runs together: no separator between the dates
    "99999999999 ngày trước",
    "ngày 40 tháng 14 năm 2019",
]


@pytest.mark.parametrize("text", GARBAGE)
def test_garbage_gives_none(text: str) -> None:
    assert parse_date(text, NOW) is None


def test_not_a_string_gives_none() -> None:
    assert parse_date(None, NOW) is None  # type: ignore[arg-type]
    assert parse_date(b"28/11/2024", NOW) is None  # type: ignore[arg-type]


def test_impossible_time_keeps_the_date() -> None:
    assert parse_date("28/11/2024 25:61", NOW) == day_only(2024, 11, 28)


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_date("28/11/2024", datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Asia/Ho_Chi_Minh", datetime(2024, 11, 28, 5, 15, tzinfo=UTC)),
        ("Asia/Tokyo", datetime(2024, 11, 28, 3, 15, tzinfo=UTC)),
        ("UTC", datetime(2024, 11, 28, 12, 15, tzinfo=UTC)),
        ("America/New_York", datetime(2024, 11, 28, 17, 15, tzinfo=UTC)),
    ],
)
def test_naive_times_are_in_the_feeds_timezone(tz: str, expected: datetime) -> None:
    assert parse_date("28/11/2024 12:15", NOW, tz=tz) == ParsedDate(expected, True)
    # an explicit offset wins over the feed's timezone
    explicit = parse_date("2024-11-28T12:15:00+07:00", NOW, tz=tz)
    assert explicit == ParsedDate(datetime(2024, 11, 28, 5, 15, tzinfo=UTC), True)


@pytest.mark.parametrize(
    ("text", "formats", "expected"),
    [
        ("28/11/2024 - 12:15", ("%d/%m/%Y - %H:%M",), timed(2024, 11, 28, 12, 15)),
        ("03/04/2024", ("%m/%d/%Y",), day_only(2024, 3, 4)),  # the recipe overrides day-first
        ("03/04/2024", (), day_only(2024, 4, 3)),
        ("12:15 | 28.11.2024", ("%H:%M | %d.%m.%Y",), timed(2024, 11, 28, 12, 15)),
        ("2024/11/28 12:15 +0000", ("%Y/%m/%d %H:%M %z",), timed(2024, 11, 28, 12, 15, tz=UTC)),
        ("28/12 08:00", ("%d/%m %H:%M",), timed(2024, 12, 28, 8)),  # yearless format
        ("  28/11/2024  ", ("%d/%m/%Y",), day_only(2024, 11, 28)),
        ("Ngày 28/11/2024", ("%Q bad", "%d/%m/%Y"), day_only(2024, 11, 28)),  # falls back
        ("28/11/2099", ("%d/%m/%Y",), None),  # the future is rejected for formats too
    ],
)
def test_recipe_formats_are_tried_first(
    text: str, formats: tuple[str, ...], expected: ParsedDate | None
) -> None:
    assert parse_date(text, NOW, formats=formats) == expected


@pytest.mark.parametrize(
    "page", ["tin-tuc-su-kien.html", "tin-tuc-su-kien511b.html", "cong-nghe-thong-tin.html"]
)
def test_real_listing_dates(page: str) -> None:
    listings = expected_listings()
    listing = listings[f"capstone2/{page}"]
    saved_at = datetime(2022, 8, 27, 4, 0, tzinfo=UTC)
    assert listing["items"]
    for item in listing["items"]:
        found = parse_date(item["date_text"], saved_at)
        wall = datetime.strptime(f"{item['date']} {item['time']}", "%d/%m/%Y %I:%M %p")
        assert found == ParsedDate(wall.replace(tzinfo=HCM).astimezone(UTC), True), item


def test_real_article_page_date() -> None:
    html = realpage("htmldate/VnExpress.net-Kinh-doanh.html").read_text("utf-8")
    header = re.search(r'<span class="time-now">([^<]*)</span>', html)
    article = re.search(r'<span class="date">([^<]*)</span>', html)
    assert header is not None and article is not None
    assert parse_date(article.group(1), NOW) == timed(2023, 11, 2, 19, 20)
    # the page header prints the day the page was saved, without a time
    assert parse_date(header.group(1), NOW) == day_only(2023, 11, 2)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_never_raises_and_never_far_in_the_future(text: str) -> None:
    found = parse_date(text, NOW)
    if found is not None:
        assert found.at.tzinfo is not None and found.at.utcoffset() == timedelta(0)
        assert found.at <= NOW + timedelta(days=2)


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2025, 6, 13)),
    st.sampled_from(
        ["{d}/{m}/{Y} {H}:{M}", "{H}:{M} {d}/{m}/{Y}", "Thứ hai, {d}/{m}/{Y}, {H}:{M}"]
    ),
)
def test_printed_dates_round_trip(wall: datetime, template: str) -> None:
    text = template.format(
        d=wall.day, m=f"{wall.month:02d}", Y=wall.year, H=f"{wall.hour:02d}", M=f"{wall.minute:02d}"
    )
    expected = wall.replace(second=0, microsecond=0, tzinfo=HCM).astimezone(UTC)
    assert parse_date(text, NOW) == ParsedDate(expected, True)


# --- date_from_url, ticks_to_datetime ---------------------------------------------------------


@pytest.mark.parametrize(
    "page",
    ["son601008-Scrapy/dantri.html", "quocthai200x-NguyenXuanQuocThai-Labs-C4E27/dantri.html"],
)
def test_dantri_url_timestamps(page: str) -> None:
    listings = expected_listings()
    items = [i for i in listings[page]["items"] if "url_timestamp" in i]
    assert len(items) > 50
    for item in items:
        wall = datetime.strptime(item["url_timestamp"], "%Y-%m-%d %H:%M:%S")
        assert date_from_url(item["url"]) == wall.replace(tzinfo=HCM).astimezone(UTC), item


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://dantri.com.vn/giao-duc-khuyen-hoc/de-thi-2019-20190626105057122.htm",
            at(2019, 6, 26, 10, 50, 57),
        ),
        (
            "https://edition.cnn.com/2014/07/23/world/meast/mideast-crisis/index.html?hpt=hp",
            at(2014, 7, 23, 0),
        ),
        ("/2014/07/24/justice/arizona-execution-controversy/index.html", at(2014, 7, 24, 0)),
        (
            "https://cdn.haiphong.gov.vn/gov-hpg/upload/haiphong/product/2021/07-2021/"
            "anh-637620339902795980.jpg",
            datetime(2021, 7, 16, 12, 6, 30, 279598, tzinfo=HCM).astimezone(UTC),
        ),
        ("https://haiphong.gov.vn/tin-tuc-su-kien/giai-dua-thuyen-rong-680867", None),
        # never parse dates out of old slugs: `ngay-1152022` is 11/5/2022 with separators dropped
        ("https://haiphong.gov.vn/Diem-bao/Diem-bao-ve-Hai-Phong-ngay-1152022-91682.html", None),
        ("https://dantri.com.vn/x-20191345105057122.htm", None),  # month 13
        ("https://example.com/1850/01/01/old", None),
        ("", None),
        ("not a url", None),
    ],
)
def test_date_from_url(url: str, expected: datetime | None) -> None:
    assert date_from_url(url) == expected


def test_date_from_url_in_another_timezone() -> None:
    found = date_from_url("https://edition.cnn.com/2014/07/15/us/story/", tz="America/New_York")
    assert found == datetime(2014, 7, 15, 4, 0, tzinfo=UTC)


def test_cnn_home_page_links_give_their_dates() -> None:
    html = realpage("newspaper4k/html/cnn_main_site.html").read_text("utf-8", "replace")
    links = set(re.findall(r'href="(/(\d{4})/(\d{2})/(\d{2})/[^"]+)"', html))
    assert len(links) > 20
    for href, year, month, day in links:
        expected = datetime(int(year), int(month), int(day), tzinfo=ZoneInfo("America/New_York"))
        assert date_from_url(href, tz="America/New_York") == expected, href


@pytest.mark.parametrize(
    ("ticks", "local"),
    [
        (638871741697189500, datetime(2025, 7, 3, 21, 16, 9, 718950, tzinfo=HCM)),
        (639240495312924587, datetime(2026, 9, 3, 16, 25, 31, 292458, tzinfo=HCM)),
        (637620339902795980, datetime(2021, 7, 16, 12, 6, 30, 279598, tzinfo=HCM)),
    ],
)
def test_ticks_to_datetime(ticks: int, local: datetime) -> None:
    converted = ticks_to_datetime(ticks)
    assert converted == local
    assert converted.tzinfo == UTC


def test_ticks_in_utc() -> None:
    assert ticks_to_datetime(638871741697189500, tz="UTC") == datetime(
        2025, 7, 3, 21, 16, 9, 718950, tzinfo=UTC
    )


@pytest.mark.parametrize("ticks", [0, -1, 10**30])
def test_ticks_out_of_range(ticks: int) -> None:
    with pytest.raises(ValueError):
        ticks_to_datetime(ticks)
