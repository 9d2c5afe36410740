"""Searching stored items: the query language shared by `/tim` in Telegram and `/search` on the web.

A query is one or more comma-separated phrases; an item matches when every phrase is in its title
or summary, as a whole-word phrase, ignoring case and Vietnamese accents (the keyword filters'
matcher: `hai an` finds `Hải An`, `an` does not find `Ánh`). Pure: no I/O.

Searching scans thousands of stored items, so `Matcher` first rules most of them out with a cheap
necessary test (the phrase's folded words as substrings of the text folded by one C-speed
`str.translate`), and runs the exact matcher only on the rest. Text with characters the table
does not cover skips the shortcut, so the shortcut never changes an answer.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

from bot import filters
from bot.errors import KeywordError
from bot.model import Item, KeywordFilter

MAX_QUERY_CHARS = 200  # a longer query is refused (the web answers 400)
MAX_PHRASES = 10
SCAN_LIMIT = 5000  # newest items a search looks through; older ones are not found


def parse_query(text: str) -> tuple[str, ...]:
    """The phrases of a query; KeywordError (with a hint) when it is empty, too long or odd."""
    if len(text) > MAX_QUERY_CHARS:
        raise KeywordError(f"the search is {len(text)} characters long, "
                           f"the limit is {MAX_QUERY_CHARS}",
                           hint="search for fewer or shorter words")
    phrases = filters.parse_keywords(text)
    if not phrases:
        raise KeywordError("the search is empty", hint="give a word or phrase, e.g. `hai an`")
    if len(phrases) > MAX_PHRASES:
        raise KeywordError(f"{len(phrases)} phrases given, the limit is {MAX_PHRASES}",
                           hint="search for fewer phrases")
    return phrases


def folded(phrases: Sequence[str]) -> tuple[str, ...]:
    """Phrases in their compared form, in order, without duplicates (a stable cache key)."""
    return tuple(dict.fromkeys(f for p in phrases if (f := filters.fold(p))))


def matches_all(phrases: Sequence[str], item: Item) -> bool:
    """Whether every phrase is in the item's title or summary."""
    return Matcher(phrases).matches(item.title, item.summary)


class Matcher:
    """`matches_all` for many items: the phrases are prepared once."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self._filters = [KeywordFilter(include=(phrase,)) for phrase in phrases]
        self._words = [word for phrase in phrases for word in filters.fold(phrase).split()]

    def matches(self, title: str, summary: str = "") -> bool:
        """Whether every phrase is in the title or the summary."""
        text = f"{title}\n\n{summary}" if summary else title
        if not self._filters:
            return False
        if _COVERED.fullmatch(text):
            quick = text.casefold().translate(_fold_table())
            if not all(word in quick for word in self._words):
                return False
        return all(filters.matches(kf, text) for kf in self._filters)


# Where the shortcut applies: ASCII, Latin-1, Latin Extended A/B, combining marks, Latin
# Extended Additional (Vietnamese), general punctuation. Anything else: the exact matcher only.
_COVERED = re.compile(r"[\x00-\u024f\u0300-\u036f\u1e00-\u1eff\u2000-\u206f]*")
_MARKS = re.compile("[\u0300-\u036f]+")


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str]:
    """Per character, what filters.fold makes of it (after casefold), keeping non-word ones."""
    table: dict[int, str] = {}
    for block in (range(0x80, 0x250), range(0x1E00, 0x1F00), range(0x2000, 0x2070)):
        for code in block:
            char = chr(code).casefold()
            folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFD", char).casefold())
            folded = _MARKS.sub("", unicodedata.normalize("NFKD", folded.casefold()))
            folded = folded.replace("đ", "d").replace("ð", "d")
            if folded != chr(code):
                table[code] = folded
    table.update(dict.fromkeys(range(0x300, 0x370), ""))
    return table
