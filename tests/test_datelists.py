"""A list's numeric dates read month first or day first: by the page's language, unless the
list's own dates say otherwise (impossible one way, newest-first the other); a date without a
year takes it from the page's date, not the clock alone. Properties over generated lists, and
the real Korean list that started it (tests/fixtures/realpages/daily-news-gravity/yonhap.html)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.source import datelists, dates

LANGUAGES = ("vi", "de", "ko", "ja", "en-US", "en", None)


@st.composite
def newest_first(draw: st.DrawFn) -> list[datetime]:
    """5-30 publication times, newest first, within 300 days, to the minute."""
    newest = draw(st.datetimes(datetime(2001, 1, 1), datetime(2099, 1, 1))).replace(
        second=0, microsecond=0, tzinfo=UTC
    )
    gaps = draw(st.lists(st.integers(0, 300 * 1440 // 30), min_size=4, max_size=29))
    times, at = [newest], newest
    for gap in gaps:
        at -= timedelta(minutes=gap)
        times.append(at)
    return times


def _texts(times: list[datetime], month_first: bool) -> list[str]:
    return [t.strftime("%m-%d %H:%M" if month_first else "%d-%m %H:%M") for t in times]


@settings(max_examples=150, deadline=None)
@given(newest_first(), st.sampled_from(LANGUAGES), st.booleans())
def test_a_list_with_a_day_past_12_reads_in_the_order_it_was_printed(
    times: list[datetime], language: str | None, month_first: bool
) -> None:
    # One of the days is 13 or more: the other order makes it month 13+, impossible.
    if all(t.day <= 12 for t in times) or all(t.day == t.month for t in times):
        times = [times[0].replace(day=28)] + [t for t in times[1:] if t <= times[0].replace(day=28)]
        if len(times) < 2:
            return
    texts = _texts(times, month_first)
    now = times[0] + timedelta(hours=1)
    assert datelists.reads_month_first(texts, now, "UTC", language) is month_first


@settings(max_examples=150, deadline=None)
@given(newest_first(), st.sampled_from(LANGUAGES))
def test_a_list_printed_in_its_languages_order_reads_so(
    times: list[datetime], language: str | None
) -> None:
    # Whatever the days, a list printed the way its language prints dates reads that way: the
    # true reading is newest-first, so the other order can never be more ordered.
    month_first = datelists.month_first_language(language)
    texts = _texts(times, month_first)
    now = times[0] + timedelta(hours=1)
    assert datelists.reads_month_first(texts, now, "UTC", language) is month_first


@settings(max_examples=150, deadline=None)
@given(newest_first(), st.sampled_from(LANGUAGES))
def test_the_formats_read_every_date_of_a_month_first_list_back(
    times: list[datetime], language: str | None
) -> None:
    texts = _texts(times, month_first=True)
    now = times[0] + timedelta(hours=1)
    formats = datelists.list_formats(texts, now, "UTC", language)
    if not datelists.reads_month_first(texts, now, "UTC", language):
        assert formats == ()
        return
    assert formats == ("%m-%d %H:%M",)
    read = [dates.parse_date(text, now, "UTC", formats) for text in texts]
    assert [r.at if r else None for r in read] == times


@settings(max_examples=200, deadline=None)
@given(
    st.datetimes(datetime(2001, 3, 1), datetime(2099, 1, 1)),
    st.integers(0, 3 * 365),
    st.integers(0, 360),
)
def test_a_yearless_date_takes_its_year_from_the_page_not_the_clock(
    page_date: datetime, clock_ahead: int, days_before: int
) -> None:
    # The page was current at `page_date`; it is read `clock_ahead` days later. An item printed
    # `days_before` the page's date without a year is that date, whatever the clock says.
    reference = page_date.replace(tzinfo=UTC, second=0, microsecond=0)
    now = reference + timedelta(days=clock_ahead)
    printed = reference - timedelta(days=days_before)
    if (printed.month, printed.day) == (2, 29):
        return
    text = printed.strftime("%d/%m %H:%M")
    found = dates.parse_date(text, now, "UTC", reference=reference)
    assert found is not None and found.at == printed


@pytest.mark.parametrize(
    ("language", "expected"),
    [("ko", True), ("ko-KR", True), ("ja", True), ("en-US", True), ("en_us", True),
     ("vi", False), ("de", False), ("en", False), ("en-GB", False), (None, False), ("", False)],
)  # fmt: skip
def test_languages_that_print_month_first(language: str | None, expected: bool) -> None:
    assert datelists.month_first_language(language) is expected


def test_yonhaps_list_reads_month_first_even_without_its_language() -> None:
    # The first and last of the 25 dates printed on the saved Yonhap section page, in order.
    texts = ["12-01 23:26", "12-01 21:38", "12-01 14:02", "11-30 11:00", "11-28 18:01"]
    now = datetime(2025, 12, 2, tzinfo=UTC)
    assert datelists.reads_month_first(texts, now, "Asia/Seoul", "ko")
    assert datelists.reads_month_first(texts, now, "Asia/Seoul", None)  # `11-30`: month 30
    assert datelists.list_formats(texts, now, "Asia/Seoul", None) == ("%m-%d %H:%M",)
    first = dates.parse_date(texts[0], now, "Asia/Seoul", ("%m-%d %H:%M",))
    assert first is not None and first.at == datetime(2025, 12, 1, 14, 26, tzinfo=UTC)


def test_a_day_first_list_stays_day_first_in_a_month_first_language() -> None:
    texts = ["28/11 09:00", "27/11 18:30", "05/11 07:00"]  # 28 cannot be a month
    now = datetime(2024, 11, 28, 12, tzinfo=UTC)
    assert not datelists.reads_month_first(texts, now, "UTC", "en-US")
    assert datelists.list_formats(texts, now, "UTC", "en-US") == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("12-01 23:26", "%m-%d %H:%M"), ("(9/19)", "(%m/%d)"), ("（9/19）", "（%m/%d）"),
     ("Đăng 05.11.2024 10:15:30", "Đăng %m.%d.%Y %H:%M:%S"), ("3/4/24", "%m/%d/%y"),
     ("100% 3/4", None), ("3/4 8:05pm", None), ("14:35", None), ("no date", None),
     ("13/25", None)],
)  # fmt: skip
def test_the_format_of_a_numeric_date(text: str, expected: str | None) -> None:
    assert datelists.month_first_format(text) == expected


def test_japanese_and_korean_dates_with_marked_months() -> None:
    now = datetime(2020, 10, 5, 12, tzinfo=UTC)
    found = dates.parse_date("2020年 10月 4日", now, "Asia/Tokyo")
    assert found is not None and found.at.astimezone(dates._zone("Asia/Tokyo")).date() == (
        datetime(2020, 10, 4).date()
    )
    later = datetime(2026, 1, 1, tzinfo=UTC)
    found = dates.parse_date("2025년 12월 1일 09:30", later, "Asia/Seoul")
    assert found is not None and found.at == datetime(2025, 12, 1, 0, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("(14:35)", "(%H:%M)"), ("（22:27）", "（%H:%M）"), ("8:05pm JST", "%I:%M%p JST"),
     ("7:52 AM", "%I:%M %p"), ("12:15", "%H:%M"), ("05:30 min", None), ("(9/19)", None),
     ("25:61", None)],
)  # fmt: skip
def test_the_format_of_a_bare_time(text: str, expected: str | None) -> None:
    assert datelists.time_format(text) == expected


def test_a_bare_time_is_today_or_yesterday_through_a_format_only() -> None:
    # asahi.com, saved 19 Sep 2020 15:02 in Tokyo: `(14:35)` is today, `(22:27)` yesterday.
    now = datetime(2020, 9, 19, 6, 2, tzinfo=UTC)
    today = dates.parse_date("(14:35)", now, "Asia/Tokyo", ("(%H:%M)",))
    yesterday = dates.parse_date("(22:27)", now, "Asia/Tokyo", ("(%H:%M)",))
    assert today is not None and today.at == datetime(2020, 9, 19, 5, 35, tzinfo=UTC)
    assert yesterday is not None and yesterday.at == datetime(2020, 9, 18, 13, 27, tzinfo=UTC)
    assert dates.parse_date("(14:35)", now, "Asia/Tokyo") is None  # not a built-in form
    found = dates.parse_time_only("8:05pm JST", datetime(2020, 10, 5, 13, 8, tzinfo=UTC),
                                  "Asia/Tokyo")  # fmt: skip
    assert found is not None and found.at == datetime(2020, 10, 5, 11, 5, tzinfo=UTC)
    mixed = ["(14:35)", "(12:00)", "（9/19）", "(9/18)"]
    assert datelists.list_formats(mixed, now, "Asia/Tokyo", "ja") == (
        "(%H:%M)", "(%m/%d)", "（%m/%d）"
    )
