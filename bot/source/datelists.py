"""A list's printed dates read together: is `12-01 23:26` the 1st of December or the 12th of
January? The page's language says which order its sites use (Korean, Japanese, Chinese and US
English month first; Vietnamese, German and the rest day first); the dates of the list say
whether that is right: a list whose dates come out impossible (`11-30` as month 30) or out of
order one way, and newest-first the other way, is read the other way.

`list_formats` turns the decision into strptime formats for a recipe's `date_formats`, so that
`scrape` (which reads each item alone, day first) reads the list as the detector did. Pure: `now`
is a parameter, nothing here reads a clock or a file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from itertools import pairwise

from bot.source.dates import parse_date, strptime_yearless

MONTH_FIRST_LANGUAGES = ("ko", "ja", "zh", "en-us")
COHERENT = 0.8  # share of neighbouring dates in newest-first order that makes a list coherent
MAX_FORMATS = 4  # more shapes than this in one list: not one site's date printing

_NUMERIC = re.compile(
    r"(?<![\d/.:-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?:(?P=sep)(?P<y>\d{4}|\d{2}))?"
    r"(?![\d/.-]\d|\d)"
)
_CLOCK = re.compile(r"(?<!\d)(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?(?!\d)")
_BARE_TIME = re.compile(
    r"(?P<pre>[(（\[]?\s*)\d{1,2}:\d{2}(?P<ap>\s*[AaPp][Mm])?(?P<post>\s*(?:JST|KST|ICT)?\s*[)）\]]?)"
)
_DAYPART = re.compile(r"(?i)(?<![a-zà-ỹ])(?:a\.?m|p\.?m|sa|ch|sáng|chiều|tối|trưa|đêm)(?![a-zà-ỹ])")


def month_first_language(language: str | None) -> bool:
    """Whether pages in this language (`ko`, `en-US`, `ja-JP`…) print month before day."""
    lang = (language or "").strip().lower().replace("_", "-")
    return any(lang == code or lang.startswith(f"{code}-") for code in MONTH_FIRST_LANGUAGES)


def reads_month_first(
    texts: Sequence[str],
    now: datetime,
    tz: str,
    language: str | None = None,
    reference: datetime | None = None,
) -> bool:
    """Whether a list's all-numeric dates (`texts`, in page order) read month first.

    The language's order, unless it makes one of the dates impossible (or too far in the
    future) that the other order reads, or leaves the list less newest-first than the other
    order does, while the other order reads every date it reads and is coherent."""
    preferred = month_first_language(language)
    if not any(_NUMERIC.search(_clean(text)) for text in texts):
        return preferred
    mine = [_at(text, now, tz, preferred, reference) for text in texts]
    other = [_at(text, now, tz, not preferred, reference) for text in texts]
    if _lost(other, mine) or newest_first_share(other) < COHERENT:
        return preferred
    if _lost(mine, other) or newest_first_share(other) > newest_first_share(mine):
        return not preferred
    return preferred


def list_formats(
    texts: Sequence[str],
    now: datetime,
    tz: str,
    language: str | None = None,
    reference: datetime | None = None,
) -> tuple[str, ...]:
    """strptime formats for the list's dates the built-in reading gets wrong or misses: its
    numeric dates month first, when it reads so, and its bare times of day; () when the
    built-in reading is the list's."""
    found: set[str] = set()
    if reads_month_first(texts, now, tz, language, reference):
        found.update(fmt for text in texts if (fmt := month_first_format(text)) is not None)
    found.update(fmt for text in texts if (fmt := time_format(text)) is not None)
    return tuple(sorted(found)) if len(found) <= MAX_FORMATS else ()


def time_format(text: str) -> str | None:
    """The strptime format of a text that is only a time of day, as lists print today's items:
    `(14:35)` -> `(%H:%M)`, `8:05pm JST` -> `%I:%M%p JST`; None for anything else. (A recipe
    format without a day reads as today, or yesterday: `bot.source.dates`.)"""
    clean = _clean(text)
    match = _BARE_TIME.fullmatch(clean)
    if match is None:
        return None
    clock = "%H:%M"
    if match["ap"]:
        clock = f"%I:%M{match['ap'][: len(match['ap']) - 2]}%p"
    literal = _literal(match["pre"]) + clock + _literal(match["post"])
    try:
        datetime.strptime(clean, literal)
    except ValueError:
        return None
    return literal


def month_first_format(text: str) -> str | None:
    """The strptime format reading an all-numeric date text month first: `12-01 23:26` ->
    `%m-%d %H:%M`, `(9/19)` -> `(%m/%d)`. None when the text holds anything else that varies
    (other numbers, a 12-hour clock) or does not read as a date that way."""
    clean = _clean(text)
    date = _NUMERIC.search(clean)
    if date is None:
        return None
    parts = [_literal(clean[: date.start()]), f"%m{date['sep']}%d"]
    if date["y"]:
        parts.append(f"{date['sep']}{'%Y' if len(date['y']) == 4 else '%y'}")
    rest = clean[date.end() :]
    clock = _CLOCK.search(rest)
    if clock is not None:
        parts += [_literal(rest[: clock.start()]), "%H:%M" + (":%S" if clock["s"] else "")]
        rest = rest[clock.end() :]
    parts.append(_literal(rest))
    literal = "".join(parts)
    if any(ch.isdigit() for ch in literal.replace("%", "")) or _DAYPART.search(clean):
        return None
    try:
        if date["y"]:
            datetime.strptime(clean, literal)
        else:
            strptime_yearless(clean, literal)
    except ValueError:
        return None
    return literal


def newest_first_share(dates: Sequence[datetime | None]) -> float:
    """The share of neighbouring read dates (in page order) not older than the next one."""
    read = [d for d in dates if d is not None]
    pairs = list(pairwise(read))
    return sum(1 for a, b in pairs if a >= b) / len(pairs) if pairs else 1.0


def _at(
    text: str, now: datetime, tz: str, month_first: bool, reference: datetime | None
) -> datetime | None:
    parsed = parse_date(text, now, tz, month_first=month_first, reference=reference)
    return parsed.at if parsed is not None else None


def _lost(reading: Sequence[datetime | None], against: Sequence[datetime | None]) -> bool:
    """Whether `reading` misses a date that `against` reads (impossible, or in the future)."""
    return any(a is None and b is not None for a, b in zip(reading, against, strict=True))


def _clean(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def _literal(text: str) -> str:
    return text.replace("%", "%%")
