"""Dates as Vietnamese (and English) news pages print them, found inside surrounding text.

`parse_date("Ngày đăng 24/08/2022 | 04:30 PM | View count: 8", now)` -> 2022-08-24 16:30 in the
feed's timezone, as UTC. Day-first (`2/11/2023` is 2 November) unless `month_first` says the
list reads the other way (`bot.source.datelists` decides that for a whole list). Naive times
are read in the feed's timezone; explicit offsets (`GMT+7`, `+07:00`, `Z`) are honoured.
Garbage gives None, never an exception. Everything here is pure: the caller passes `now`.

About 450 lines: one reader of dates, its patterns, their parsers and the recipe-format path,
which share the private clock and year rules; the list-level decisions live in
`bot.source.datelists`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from bot.model import DEFAULT_TIMEZONE

MAX_TEXT_LENGTH = 1000  # a date element's text; longer input is cut (no date is printed that deep)
FUTURE_LIMIT = timedelta(days=2)  # clocks drift and sites post-date; further ahead is a misparse
YEARLESS_SLACK = timedelta(days=1)  # `Chiều 2/1` seen on 1 Jan is tomorrow, not last year
MIN_YEAR = 1900
TICKS_PER_MICROSECOND = 10
TICKS_EPOCH = datetime(1, 1, 1)


@dataclass(frozen=True)
class ParsedDate:
    """A date found in text: `at` is aware UTC; `has_time` is False when only a day was given."""

    at: datetime
    has_time: bool  # False: `at` carries now's time of day (first-seen time), never after now


@dataclass(frozen=True)
class _Clock:
    """A time of day found next to a date."""

    hour: int
    minute: int
    second: int
    offset: tzinfo | None  # None: the feed's timezone


# --- patterns (compiled once; they run on every item of every poll) --------------------------
# All run on NFC, lower-cased text with whitespace collapsed.

_SEP = r"[\s,|\-–—(]*"
_AMPM = r"(?P<ap>a\.?m\.?|p\.?m\.?|sa|ch)(?!\w)"
_TIME = (
    r"(?<![\d:/.])(?P<h>\d{1,2})"
    r"(?:\s*(?::|h|g|giờ)\s*(?P<m>\d{1,2})(?:\s*:\s*(?P<s>\d{1,2})(?:[.,]\d+)?)?(?:\s*phút)?"
    r"|\s*(?:giờ|h)(?!\w)"
    r"|(?=\s*(?:a\.?m\.?|p\.?m\.?|sa|ch)(?!\w)))"
    rf"(?:\s*{_AMPM})?"
)
_OFFSET = re.compile(
    r"\s*\(?\s*(?:(?:gmt|utc)\s*(?:(?P<gs>[+-])\s*(?P<gh>\d{1,2})(?::?(?P<gm>\d{2}))?)?"
    r"|(?P<ns>[+-])(?P<nh>\d{2}):?(?P<nm>\d{2})|(?P<z>z))(?![\w])"
)
_TIME_AFTER = re.compile(_SEP + r"(?:t|lúc|at|vào lúc)?\s*" + _TIME)
_TIME_BEFORE = re.compile(_TIME + r"(?:\s*(?:sáng|trưa|chiều|tối|đêm))?[\s,|\-–—]*(?:ngày\s*)?$")
_DAYPART = re.compile(r"(?<!\w)(chiều|tối|trưa|đêm)(?!\w)")

_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4,
    "may": 5, "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8,
    "september": 9, "sept": 9, "sep": 9, "october": 10, "oct": 10, "november": 11, "nov": 11,
    "december": 12, "dec": 12,
}  # fmt: skip
_MONTH = "(?P<mon>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")(?![a-z])\.?"

_ISO = re.compile(
    r"(?<![\d.])(?P<y>\d{4})(?P<sep>[-/.])(?P<mo>\d{1,2})(?P=sep)(?P<d>\d{1,2})(?!\d)"
)
_CJK_DATE = re.compile(  # 2020年 10月 4日, 2025년 12월 1일, 10月4日 (the month is marked)
    r"(?<!\d)(?:(?P<y>\d{4})\s*[年년]\s*)?(?P<mo>\d{1,2})\s*[月월]\s*(?P<d>\d{1,2})\s*[日일]"
)
_DAY_MONTH_NAME_YEAR = re.compile(
    rf"(?<!\d)(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH},?\s+(?P<y>\d{{4}})(?!\d)"
)
_MONTH_NAME_DAY_YEAR = re.compile(
    rf"(?<![a-z]){_MONTH}\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})(?!\d)"
)
_VIETNAMESE_WORDS = re.compile(
    r"(?<!\d)(?P<d>\d{1,2})\s+(?:tháng|thg)\s*(?P<mo>\d{1,2})"
    r"(?:\s*(?:năm|,|/)\s*(?P<y>\d{4}))?(?!\d)"
)
_DAY_MONTH_YEAR = re.compile(
    r"(?<![\d/.-])(?P<d>\d{1,2})(?P<sep>[/.-])(?P<mo>\d{1,2})(?P=sep)(?P<y>\d{4}|\d{2})"
    r"(?!\d|[/.-]\d)"
)
_DAY_MONTH = re.compile(r"(?<![\d/.-])(?P<d>\d{1,2})[/-](?P<mo>\d{1,2})(?!\d|[/.-]\d)")
_AGO = re.compile(
    r"(?<!\d)(?P<n>\d{1,6})\s*(?P<unit>giây|phút|giờ|tiếng|h|ngày|tuần|tháng|năm"
    r"|seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?|months?|years?)\s*(?:trước|ago)(?!\w)"
)
_CACH_DAY = re.compile(r"cách đây\s*(?P<n>\d{1,6})\s*(?P<unit>giây|phút|giờ|tiếng|ngày|tuần)")
_DAY_WORDS = re.compile(r"(?<!\w)(hôm nay|today|hôm qua|yesterday|hôm kia)(?!\w)")
_JUST_NOW = re.compile(r"(?<!\w)(vừa xong|vừa mới|just now|bây giờ)(?!\w)")

_UNIT_SECONDS = {
    "giây": 1, "second": 1, "sec": 1, "phút": 60, "minute": 60, "min": 60,
    "giờ": 3600, "tiếng": 3600, "h": 3600, "hour": 3600, "hr": 3600,
    "ngày": 86400, "day": 86400, "tuần": 604800, "week": 604800,
    "tháng": 30 * 86400, "month": 30 * 86400, "năm": 365 * 86400, "year": 365 * 86400,
}  # fmt: skip
_DAYS_BACK = {"hôm nay": 0, "today": 0, "hôm qua": 1, "yesterday": 1, "hôm kia": 2}
_TIME_DIRECTIVES = ("%H", "%I", "%M", "%S", "%X", "%c", "%T", "%R")
_YEAR_DIRECTIVES = ("%Y", "%y", "%G", "%c", "%x")
_DAY_DIRECTIVES = ("%d", "%j", "%c", "%x", "%a", "%A", "%U", "%W", "%V", "%u", "%w")
_WHITESPACE = re.compile(r"\s+")


# --- public API --------------------------------------------------------------------------------


def parse_date(
    text: str,
    now: datetime,
    tz: str = DEFAULT_TIMEZONE,
    formats: Sequence[str] = (),
    *,
    month_first: bool = False,
    reference: datetime | None = None,
) -> ParsedDate | None:
    """The first date in `text` (recipe `formats` first, then the built-in forms), or None.

    `month_first` reads an all-numeric `9/12` or `12-01` month first (Korean, Japanese, US
    pages; `bot.source.datelists` decides it for a whole list). A date without a year takes the
    latest year that does not put it after `reference` (the page's own date: its newest dated
    item), or after `now` when there is none."""
    if now.tzinfo is None or (reference is not None and reference.tzinfo is None):
        raise ValueError("parse_date needs an aware `now` (datetime.now(UTC))")
    zone = _zone(tz)
    if not isinstance(text, str):
        return None
    clean = _clean(text)
    if not clean:
        return None
    now = now.astimezone(UTC)
    ceiling = min(now, reference.astimezone(UTC)) if reference is not None else now
    try:
        if formats:
            found = _from_formats(clean, formats, zone, now, ceiling)
            if found is not None:
                return found
        parsers = _PARSERS_MONTH_FIRST if month_first else _PARSERS
        for parser in parsers:
            if (found := parser(clean.lower(), _Reading(zone, now, ceiling))) is not None:
                return found
        return None
    except (ValueError, OverflowError):
        return None


def date_from_url(url: str, tz: str = DEFAULT_TIMEZONE) -> datetime | None:
    """A publication time printed in an article URL (dantri `-yyyymmddHHMMSSmmm.htm`,
    CNN-style `/2014/07/15/` -> local midnight, .NET tick counts in CDN names), as UTC."""
    if not isinstance(url, str):
        return None
    path = url.split("?", 1)[0].split("#", 1)[0]
    zone = _zone(tz)
    try:
        if match := _URL_STAMP.search(path):
            y, mo, d, h, mi, s = (int(p) for p in match.groups())
            return _plausible(datetime(y, mo, d, h, mi, s, tzinfo=zone))
        if match := _URL_DAY.search(path):
            y, mo, d = (int(p) for p in match.groups())
            return _plausible(datetime(y, mo, d, tzinfo=zone))
        if match := _URL_TICKS.search(path):
            return _plausible(ticks_to_datetime(int(match.group(1)), tz))
    except (ValueError, OverflowError):
        return None
    return None


def ticks_to_datetime(ticks: int, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """A .NET `DateTime` tick count (100 ns since 0001-01-01, local wall time in `tz`) as UTC.

    Raises ValueError when the count is outside what a datetime can hold.
    """
    try:
        wall = TICKS_EPOCH + timedelta(microseconds=ticks // TICKS_PER_MICROSECOND)
        return wall.replace(tzinfo=_zone(tz)).astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(f"{ticks} is not a .NET tick count") from exc


_URL_STAMP = re.compile(
    r"[-_/]((?:19|20)\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\d{3})?(?:\.[a-zA-Z]{2,5})?/?$"
)
_URL_DAY = re.compile(r"/((?:19|20)\d{2})/(\d{1,2})/(\d{1,2})(?=/|$)")
_URL_TICKS = re.compile(r"(?<!\d)(6\d{17})(?!\d)")


def _plausible(at: datetime) -> datetime | None:
    return at.astimezone(UTC) if 2000 <= at.year <= 2100 else None


# --- helpers -----------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _zone(tz: str) -> ZoneInfo:
    return ZoneInfo(tz)


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text[: MAX_TEXT_LENGTH * 2])[:MAX_TEXT_LENGTH]
    return _WHITESPACE.sub(" ", text).strip()


def _from_formats(
    text: str, formats: Sequence[str], zone: ZoneInfo, now: datetime, ceiling: datetime
) -> ParsedDate | None:
    for fmt in formats:
        has_year = any(d in fmt for d in _YEAR_DIRECTIVES)
        try:
            parsed = datetime.strptime(text, fmt) if has_year else strptime_yearless(text, fmt)
        except ValueError:
            continue
        clock = None
        if any(d in fmt for d in _TIME_DIRECTIVES):
            clock = _Clock(parsed.hour, parsed.minute, parsed.second, parsed.tzinfo)
            if not any(d in fmt for d in _DAY_DIRECTIVES):  # `(%H:%M)`: a time of today
                return _today_or_yesterday(clock, zone, now)
        if has_year:
            return _finish(parsed.date(), clock, zone, now)
        return _finish_yearless(parsed.day, parsed.month, clock, zone, now, ceiling)
    return None


def strptime_yearless(text: str, fmt: str) -> datetime:
    """`datetime.strptime` for a format without a year, in a leap year: strptime's own default
    (1900) refuses `02-29`. Raises ValueError as strptime does."""
    return datetime.strptime(f"{text}{_LEAP_MARK}2000", f"{fmt}{_LEAP_MARK}%Y")


_LEAP_MARK = "\x1f"  # a control character: never in a cleaned date text


@dataclass(frozen=True)
class _Reading:
    """What a built-in parser needs: the zone, now, and the ceiling of a yearless date."""

    zone: ZoneInfo
    now: datetime
    ceiling: datetime


_Parser = Callable[[str, _Reading], ParsedDate | None]


def _dated(
    pattern: re.Pattern[str], *, named_month: bool = False, month_first: bool = False
) -> _Parser:
    """A parser for a day-month(-year) pattern, with the time of day found next to it;
    `month_first` swaps an all-numeric day and month (`12-01` is 1 December)."""

    def parse(low: str, reading: _Reading) -> ParsedDate | None:
        zone, now = reading.zone, reading.now
        for match in pattern.finditer(low):
            parts = match.groupdict()
            day = int(parts["d"])
            month = _MONTHS[parts["mon"]] if named_month else int(parts["mo"])
            if month_first:
                day, month = month, day
            clock = _clock_near(low, match.start(), match.end())
            if parts.get("y") is None:
                found = _finish_yearless(day, month, clock, zone, now, reading.ceiling)
            else:
                found = _finish_dated(_full_year(parts["y"]), month, day, clock, zone, now)
            if found is not None:
                return found
        return None

    return parse


def _finish_dated(
    year: int, month: int, day: int, clock: _Clock | None, zone: ZoneInfo, now: datetime
) -> ParsedDate | None:
    try:
        return _finish(date(year, month, day), clock, zone, now)
    except ValueError:  # 31/02, month 13: not a date
        return None


def _full_year(text: str) -> int:
    year = int(text)
    if len(text) == 2:
        return 2000 + year if year < 70 else 1900 + year
    return year


def _finish(day: date, clock: _Clock | None, zone: ZoneInfo, now: datetime) -> ParsedDate | None:
    """Combine a day and maybe a time in `zone` into UTC; None when implausible or in the future."""
    if day.year < MIN_YEAR:
        return None
    if clock is None:
        local_now = now.astimezone(zone)
        if day > local_now.date() + FUTURE_LIMIT:
            return None
        at = datetime.combine(day, local_now.time(), zone).astimezone(UTC)
        return ParsedDate(min(at, now), has_time=False)
    at = _at(day, clock, zone)
    return None if at > now + FUTURE_LIMIT else ParsedDate(at, has_time=True)


def _at(day: date, clock: _Clock, zone: ZoneInfo) -> datetime:
    wall = time(clock.hour, clock.minute, clock.second)
    return datetime.combine(day, wall, clock.offset or zone).astimezone(UTC)


def _finish_yearless(
    day: int, month: int, clock: _Clock | None, zone: ZoneInfo, now: datetime, ceiling: datetime
) -> ParsedDate | None:
    """A day/month without a year: the most recent such date not (much) after the ceiling (the
    page's date, else now)."""
    this_year = ceiling.astimezone(zone).year
    today = ceiling.astimezone(zone).date()
    for year in range(this_year, this_year - 5, -1):  # 29/2 may need a few years back
        try:
            candidate = date(year, month, day)
        except ValueError:
            if month > 12 or day > 31 or not (month == 2 and day == 29):
                return None
            continue
        if clock is None and candidate > today + YEARLESS_SLACK:
            continue
        if clock is not None and _at(candidate, clock, zone) > ceiling + YEARLESS_SLACK:
            continue
        return _finish(candidate, clock, zone, now)
    return None


def _clock_near(low: str, start: int, end: int) -> _Clock | None:
    """The time of day printed right after a date, else right before it."""
    match = _TIME_AFTER.match(low, end)
    if match is None:
        match = _TIME_BEFORE.search(low, max(0, start - 40), start)
    if match is None:
        return None
    hour, minute = int(match["h"]), int(match["m"] or 0)
    second = int(match["s"] or 0)
    hour = _twelve_hour(hour, match["ap"], low[max(0, start - 25) : match.end() + 12])
    offset = _offset_at(low, match.end())
    if hour > 23 or minute > 59 or second > 59:
        return None
    return _Clock(hour, minute, second, offset)


def _twelve_hour(hour: int, marker: str | None, around: str) -> int:
    """24-hour clock from AM/PM (SA/CH) markers, or from a day-part word (`chiều 3 giờ`)."""
    if marker:
        if not 1 <= hour <= 12:  # `0:30 AM`, `13:00 PM`: already a 24-hour clock
            return hour
        is_pm = marker[0] in "pc"
        return (hour % 12) + (12 if is_pm else 0)
    part = _DAYPART.search(around)
    if part is None or hour >= 12:
        return hour
    word = part.group(1)
    if word in ("chiều", "tối") or (word == "trưa" and hour <= 4) or (word == "đêm" and hour >= 7):
        return hour + 12
    return hour


def _offset_at(low: str, pos: int) -> tzinfo | None:
    match = _OFFSET.match(low, pos)
    if match is None:
        return None
    if match["z"]:
        return UTC
    sign, hours, minutes = (match["gs"], match["gh"], match["gm"])
    if match["ns"]:
        sign, hours, minutes = (match["ns"], match["nh"], match["nm"])
    if not sign:  # a bare `GMT`
        return UTC
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    if delta > timedelta(hours=14):
        return None
    return timezone(-delta if sign == "-" else delta)


def _relative(low: str, reading: _Reading) -> ParsedDate | None:
    """`2 giờ trước`, `5 phút trước`, `cách đây 3 ngày`, `hôm qua 12:15`, `vừa xong`."""
    zone, now = reading.zone, reading.now
    match = _AGO.search(low) or _CACH_DAY.search(low)
    if match is not None:
        seconds = _UNIT_SECONDS[match["unit"].rstrip("s")] * int(match["n"])
        return ParsedDate(now - timedelta(seconds=seconds), has_time=seconds < 86400)
    if (match := _DAY_WORDS.search(low)) is not None:
        day = now.astimezone(zone).date() - timedelta(days=_DAYS_BACK[match.group(1)])
        clock = _clock_near(low, match.start(), match.end())
        return _finish(day, clock, zone, now)
    if _JUST_NOW.search(low) is not None:
        return ParsedDate(now, has_time=True)
    return None


def parse_time_only(text: str, now: datetime, tz: str = DEFAULT_TIMEZONE) -> ParsedDate | None:
    """A text that is only a time of day (`(14:35)`, `8:05pm JST`), as news lists print today's
    items: today in the zone, or yesterday when today's would be more than an hour ahead. Not
    one of `parse_date`'s built-in forms (a bare `12:15` elsewhere is no date); a list reads
    them through a recipe format (`bot.source.datelists`)."""
    match = _TIME_ONLY.fullmatch(_clean(text).lower()) if isinstance(text, str) else None
    if match is None:
        return None
    hour = _twelve_hour(int(match["h"]), match["ap"], "")
    if hour > 23 or int(match["m"]) > 59:
        return None
    return _today_or_yesterday(_Clock(hour, int(match["m"]), 0, None), _zone(tz), now)


def _today_or_yesterday(clock: _Clock, zone: ZoneInfo, now: datetime) -> ParsedDate:
    today = now.astimezone(zone).date()
    at = _at(today, clock, zone)
    if at > now + timedelta(hours=1):
        at = _at(today - timedelta(days=1), clock, zone)
    return ParsedDate(at, has_time=True)


_TIME_ONLY = re.compile(
    r"[(（\[]?\s*(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?P<ap>a\.?m\.?|p\.?m\.?)?"
    r"\s*(?:jst|kst|ict)?\s*[)）\]]?"
)


_PARSERS: tuple[_Parser, ...] = (
    _dated(_ISO),
    _dated(_CJK_DATE),
    _dated(_DAY_MONTH_NAME_YEAR, named_month=True),
    _dated(_MONTH_NAME_DAY_YEAR, named_month=True),
    _dated(_VIETNAMESE_WORDS),
    _dated(_DAY_MONTH_YEAR),
    _dated(_DAY_MONTH),
    _relative,
)
_PARSERS_MONTH_FIRST: tuple[_Parser, ...] = (
    *_PARSERS[:5],
    _dated(_DAY_MONTH_YEAR, month_first=True),
    _dated(_DAY_MONTH, month_first=True),
    _relative,
)
