"""Keyword matching for Telegram and feed URL filters, with or without Vietnamese diacritics.

Keywords and text are both folded (`Hải Phòng` -> `hai phong`, `Đà Nẵng` -> `da nang`) and a
keyword matches whole words only (`an` finds `Hải An`, not `Ánh` or `ban`). User input is never
compiled into a regex: matching is a word-set lookup plus a substring test on padded text.

A keyword `type:quyết định` (or `loại:`) matches items whose document type folds to the same
words, `section:thong bao` (or `mục:`) items of that recipe section (its id or its name); they
look at those fields only, never at the text.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

from bot.errors import KeywordError
from bot.model import Item, KeywordFilter

MAX_KEYWORDS = 50
MAX_KEYWORD_LENGTH = 100

_MARKS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+")
_NON_WORD = re.compile(r"[\W_]+")
_KEYWORD_SEPARATORS = re.compile(r"[,;\n\r]")
_WHITESPACE = re.compile(r"\s+")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n|\u2029")
_D_STROKE = str.maketrans({"đ": "d", "ð": "d"})  # after casefold; `đ` has no decomposition
# Field keywords, by the folded word before the colon.
FACETS = {"type": "type", "loai": "type", "section": "section", "muc": "section"}
_FACET_MARK = "\0"  # begins a field keyword's first part, where no folded word can begin


def fold(text: str) -> str:
    """Text for comparison: caseless, no diacritics, `đ` -> `d`, words separated by one space."""
    # Unicode's compatibility-caseless recipe, so that fold(fold(x)) == fold(x) for any input.
    text = unicodedata.normalize("NFD", text).casefold()
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    text = _MARKS.sub("", text).translate(_D_STROKE)
    return _NON_WORD.sub(" ", text).strip()


def parse_keywords(text: str) -> tuple[str, ...]:
    """Keywords from `a, b; c` or one per line: trimmed, without empties or fold-duplicates."""
    keywords: list[str] = []
    seen: set[str] = set()
    for raw in _KEYWORD_SEPARATORS.split(unicodedata.normalize("NFC", text)):
        keyword = _WHITESPACE.sub(" ", raw).strip()
        if not keyword:
            continue
        if len(keyword) > MAX_KEYWORD_LENGTH:
            raise KeywordError(
                f"keyword {_shorten(keyword)!r} is {len(keyword)} characters long, "
                f"the limit is {MAX_KEYWORD_LENGTH}",
                hint="shorten it or split it into several keywords separated by commas",
            )
        folded = fold(keyword)
        head, colon, value = keyword.partition(":")
        if colon and fold(head) in FACETS and not fold(value):
            raise KeywordError(
                f"keyword {keyword!r} names no {head.strip()}",
                hint="write it with a value, e.g. `type:quyết định` or `section:thông báo`",
            )
        if not folded:
            raise KeywordError(
                f"keyword {keyword!r} has no letters or digits",
                hint="keywords are words or phrases, e.g. `hải an, cảng`",
            )
        if folded not in seen:
            seen.add(folded)
            keywords.append(keyword)
    if len(keywords) > MAX_KEYWORDS:
        raise KeywordError(
            f"{len(keywords)} keywords given, the limit is {MAX_KEYWORDS}",
            hint="remove some, or use shorter phrases that cover several",
        )
    return tuple(keywords)


def matched_keyword(
    kf: KeywordFilter, text: str, facets: Mapping[str, Iterable[str]] | None = None
) -> str | None:
    """None when the filter drops `text`; else the include keyword that matched ("" if none set).

    Plain include keywords: any one suffices. `type:`/`section:` keywords narrow: an item must
    also match one keyword of each such field present.

    `facets` are the item's field values (`item_facets`) that `type:`/`section:` keywords test.
    """
    include, exclude = _folded_filter(kf)
    if not kf.include and not exclude:
        return ""
    padded, words = _prepared_text(text)
    fields = {name: {fold(v) for v in values if v} for name, values in (facets or {}).items()}
    if any(_contains(padded, words, fields, keyword) for keyword in exclude):
        return None
    if not kf.include:
        return ""
    # Plain keywords are one group, each field (`type:`, `section:`) another: any keyword of a
    # group may match, and every group present must, so `section:thông báo` + `hai an` narrows.
    groups: dict[str, list[tuple[str, _Keyword]]] = {}
    for original, keyword in include:
        group = keyword[0] if keyword[0].startswith(_FACET_MARK) else ""
        groups.setdefault(group, []).append((original, keyword))
    matched: list[str] = []
    for members in groups.values():
        hit = next((o for o, k in members if _contains(padded, words, fields, k)), None)
        if hit is None:
            return None
        matched.append(hit)
    return next(iter(matched), None)


def matches(
    kf: KeywordFilter, text: str, facets: Mapping[str, Iterable[str]] | None = None
) -> bool:
    """Whether the filter lets `text` through."""
    return matched_keyword(kf, text, facets) is not None


def item_text(item: Item) -> str:
    """What filters look at: the title and the summary, as separate paragraphs."""
    return f"{item.title}\n\n{item.summary}" if item.summary else item.title


def item_facets(item: Item, section_name: str | None = None) -> dict[str, tuple[str, ...]]:
    """The field values `type:` and `section:` keywords test: the document type, and the
    section's id and (when the caller knows it from the recipe) its name."""
    section = (item.section, section_name or "") if item.section else ()
    return {"type": (item.doc_type,) if item.doc_type else (), "section": section}


def item_matched_keyword(
    kf: KeywordFilter, item: Item, section_name: str | None = None
) -> str | None:
    """`matched_keyword` for an item: its text and its fields."""
    return matched_keyword(kf, item_text(item), item_facets(item, section_name))


def item_matches(kf: KeywordFilter, item: Item, section_name: str | None = None) -> bool:
    """Whether the filter lets the item through (text keywords and `type:`/`section:`)."""
    return item_matched_keyword(kf, item, section_name) is not None


def facet_of(keyword: str) -> tuple[str, str] | None:
    """`type:Quyết định` -> ("type", "quyet dinh"); None for a plain keyword."""
    head, colon, value = keyword.partition(":")
    facet = FACETS.get(fold(head)) if colon else None
    folded = fold(value)
    return (facet, folded) if facet and folded else None


# A folded keyword: its first word (a cheap set lookup rules most texts out) and the padded phrase;
# for a field keyword, the mark and field name, and the folded value.
_Keyword = tuple[str, str]


def _contains(
    padded: str, words: frozenset[str], fields: Mapping[str, set[str]], keyword: _Keyword
) -> bool:
    first_word, phrase = keyword
    if first_word.startswith(_FACET_MARK):
        return phrase in fields.get(first_word[1:], ())
    return first_word in words and (phrase == f" {first_word} " or phrase in padded)


@lru_cache(maxsize=4096)
def _folded_filter(
    kf: KeywordFilter,
) -> tuple[tuple[tuple[str, _Keyword], ...], tuple[_Keyword, ...]]:
    include = tuple((k, kw) for k in kf.include if (kw := _folded_keyword(k)) is not None)
    exclude = tuple(kw for k in kf.exclude if (kw := _folded_keyword(k)) is not None)
    return include, exclude


def _folded_keyword(keyword: str) -> _Keyword | None:
    facet = facet_of(keyword)
    if facet is not None:
        return _FACET_MARK + facet[0], facet[1]
    folded = fold(keyword)
    if not folded:  # a keyword of punctuation only: it can match nothing
        return None
    return folded.split(" ", 1)[0], f" {folded} "


@lru_cache(maxsize=256)
def _prepared_text(text: str) -> tuple[str, frozenset[str]]:
    """Folded text padded with spaces, and its set of words (cached: one item, many filters).

    Paragraphs stay apart (` \n `) so that a phrase never runs from the title into the summary;
    a single line break is just a space (scraped text wraps anywhere).
    """
    lines = [folded for line in _PARAGRAPH_BREAK.split(text) if (folded := fold(line))]
    return " " + " \n ".join(lines) + " ", frozenset(w for line in lines for w in line.split())


def _shorten(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
