"""Quiet hours and digests: whether a chat's outbox rows wait, go out now, or go out as a digest.

Pure: every answer is computed from the chat's settings, a row's creation time and `now`. Nothing
is marked "held" in the store, so a Deliverer restarted after a crash decides exactly as the one
that crashed: held rows stay pending, and the digest covers them once the window is over.

    quiet 22:00-06:30   22:00 <= local time < 06:30 (next day): rows wait; urgent ones do not.
                        After 06:30, rows created before 06:30 go out as one digest.
    digest daily 07:00  rows always wait; at 07:00 those created before 07:00 go out as a digest.
    digest hourly       the same at every full hour.
A digest time inside quiet hours is moved to the end of the quiet window.

Urgent keywords written with Vietnamese diacritics match only with the same diacritics (any case):
`bão` (storm) must not make every `Thông báo` (notice) urgent. Written without them they match
like filters do (`mat dien` finds `Mất điện`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import filters
from bot.model import DEFAULT_TIMEZONE, ChatSettings, KeywordFilter

MINUTES_PER_DAY = 24 * 60
_CLOCK = re.compile(r"(\d{1,2})(?:\s*[:hg.]\s*(\d{2})?)?")
_WINDOW_SEPARATOR = re.compile(r"\s*[-–—]\s*|\s+(?:đến|to)\s+|\s+")
_NON_WORD = re.compile(r"[\W_]+")


@dataclass(frozen=True)
class Plan:
    """What to do with a chat's rows now."""

    hold: bool  # rows created at or after `cutoff` wait (urgent ones excepted)
    cutoff: datetime | None = None  # rows created before this go out now, as one digest
    reason: Literal["quiet", "digest"] | None = None  # what the digest is (for its heading)


def plan(settings: ChatSettings, now: datetime) -> Plan:
    """Hold, digest or send, for a chat with these settings at `now`."""
    zone = timezone(settings.timezone)
    if _in_quiet(settings, now.astimezone(zone)):
        return Plan(hold=True)
    if settings.digest != "off":
        return Plan(hold=True, cutoff=_last_digest_at(settings, now, zone), reason="digest")
    if has_quiet_hours(settings):
        return Plan(hold=False, cutoff=_last_quiet_end(settings, now, zone), reason="quiet")
    return Plan(hold=False)


def urgent_keyword(keywords: Sequence[str], text: str) -> str | None:
    """The first urgent keyword in `text`, or None (see the module docstring for accents)."""
    exact = f" {_words(text)} "
    for keyword in keywords:
        if filters.fold(keyword) == _words(keyword):  # no diacritics: fold both sides
            if filters.matched_keyword(KeywordFilter(include=(keyword,)), text):
                return keyword
        elif (words := _words(keyword)) and f" {words} " in exact:
            return keyword
    return None


def _words(text: str) -> str:
    """Caseless words with their diacritics, one space apart."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFC", text).casefold()).strip()


def has_quiet_hours(settings: ChatSettings) -> bool:
    """Whether the chat set a (non-empty) quiet window."""
    start, end = settings.quiet_start, settings.quiet_end
    return start is not None and end is not None and start != end


def in_window(minute: int, start: int, end: int) -> bool:
    """Whether `minute` of the day lies in [start, end), a window that may cross midnight."""
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end


def parse_clock(text: str) -> int:
    """`22:00`, `6:30`, `6h30`, `22h`, `7` -> minutes after midnight; ValueError otherwise."""
    match = _CLOCK.fullmatch(text.strip().lower())
    if not match:
        raise ValueError(f"{text!r} is not a time of day")
    hours, minutes = int(match.group(1)), int(match.group(2) or 0)
    if hours > 23 or minutes > 59:
        raise ValueError(f"{text!r} is not a time of day")
    return hours * 60 + minutes


def parse_window(text: str) -> tuple[int, int]:
    """`22:00-06:30` -> (1320, 390); ValueError for anything else or an empty window."""
    parts = [part for part in _WINDOW_SEPARATOR.split(text.strip()) if part]
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a window like 22:00-06:30")
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time")
    return start, end


def format_clock(minutes: int) -> str:
    """1320 -> `22:00`."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def is_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone this system knows (`Asia/Ho_Chi_Minh`)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_+\-]*(?:/[A-Za-z0-9_+\-]+){0,2}", name):
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


@lru_cache(maxsize=64)
def timezone(name: str) -> tzinfo:
    """The zone `name`, or Asia/Ho_Chi_Minh when it is unknown."""
    return ZoneInfo(name) if is_timezone(name) else ZoneInfo(DEFAULT_TIMEZONE)


def _in_quiet(settings: ChatSettings, local: datetime) -> bool:
    if not has_quiet_hours(settings):
        return False
    assert settings.quiet_start is not None and settings.quiet_end is not None
    return in_window(local.hour * 60 + local.minute, settings.quiet_start, settings.quiet_end)


def _at(day: date, minutes: int, zone: tzinfo) -> datetime:
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


def _last_quiet_end(settings: ChatSettings, now: datetime, zone: tzinfo) -> datetime:
    assert settings.quiet_end is not None
    today = now.astimezone(zone).date()
    ends = [_at(today - timedelta(days=back), settings.quiet_end, zone) for back in range(3)]
    return max(end for end in ends if end <= now)


def _quiet_end_after(settings: ChatSettings, moment: datetime, zone: tzinfo) -> datetime:
    """The end of the quiet window `moment` lies in."""
    assert settings.quiet_end is not None
    day = moment.astimezone(zone).date()
    ends = [_at(day + timedelta(days=ahead), settings.quiet_end, zone) for ahead in range(3)]
    return min(end for end in ends if end > moment)


def _last_digest_at(settings: ChatSettings, now: datetime, zone: tzinfo) -> datetime:
    """The latest digest time at or before `now` (one inside quiet hours counts at its end)."""
    local = now.astimezone(zone)
    if settings.digest == "hourly":
        top = local.replace(minute=0, second=0, microsecond=0)
        releases = [top - timedelta(hours=back) for back in range(27)]
    else:
        releases = [_at(local.date() - timedelta(days=back), settings.digest_at, zone)
                    for back in range(3)]
    effective = [at for r in releases
                 if (at := _postponed(settings, r, zone)) <= now]
    return max(effective)


def _postponed(settings: ChatSettings, release: datetime, zone: tzinfo) -> datetime:
    if _in_quiet(settings, release.astimezone(zone)):
        return _quiet_end_after(settings, release, zone)
    return release
