"""Whether a link looks like a news headline: its text (`headline_score`, `word_count`) and its
URL path (`article_score`). Pure functions of strings, for `listshape` and `listitems`."""

from __future__ import annotations

import re

_ARTICLE_ID = re.compile(r"[-_/](\d{5,})(?:\.[a-z]{2,5})?$")
_TIMESTAMP = re.compile(r"-(\d{14,17})\.[a-z]{2,5}$")
_DATE_PATH = re.compile(r"/(?:19|20)\d\d/\d{1,2}/")
_EXTENSION = re.compile(r"\.(?:s?html?|aspx?|php|jsp)$", re.IGNORECASE)
_SLUG_WORDS = re.compile(r"[-_]+")
CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f]+")
_CJK_PUNCTUATION = re.compile(
    r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65]+"
)
_NOT_HEADLINES = frozenset(
    {
        "xem thêm", "xem tiếp", "xem chi tiết", "chi tiết", "đọc tiếp", "read more", "more",
        "full story", "continue reading", "see more", "view all", "xem tất cả", "tiếp",
        "trang sau", "trang trước", "next", "previous",
    }
)  # fmt: skip


def headline_score(text: str) -> float:
    """How much a link text looks like a headline (0..1)."""
    stripped = text.strip(" >»›•-–|")
    count = word_count(stripped)
    if count < 3:
        return 0.0
    lowered = " ".join(stripped.split()).lower()
    if lowered in _NOT_HEADLINES or len(text) > 300:  # listshape.CARD_TEXT
        return 0.0
    if text.isupper() and count < 6:
        return 0.3
    return 0.6 if count == 3 else 1.0


def word_count(text: str) -> int:
    """Words in a text; Japanese and Chinese write none apart, so a run of their characters
    counts one word per two (`原発の町` is two), and their punctuation none."""
    if not CJK.search(text):
        return len(text.split())
    runs = CJK.findall(text)
    rest = _CJK_PUNCTUATION.sub(" ", CJK.sub(" ", text))
    return len(rest.split()) + sum((len(run) + 1) // 2 for run in runs)


def article_score(path: str) -> float:
    """How much a URL path looks like one article's (0..1)."""
    path = path.rstrip("/")
    if _TIMESTAMP.search(path) or _ARTICLE_ID.search(path) or _DATE_PATH.search(path):
        return 1.0
    segments = [s for s in path.split("/") if s]
    if not segments:
        return 0.0
    slug = _EXTENSION.sub("", segments[-1])
    if slug in ("index", "default") and len(segments) > 1:
        slug = segments[-2]
    words = len(_SLUG_WORDS.split(slug))
    return 1.0 if words >= 4 else 0.5 if words == 3 else 0.1
