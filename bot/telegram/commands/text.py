"""Text helpers for bot replies: Telegram HTML, and lengths that fit one message."""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.telegram.messages import visible_len

BUTTON_TITLE_CHARS = 40
KEYWORDS_SHOWN_CHARS = 1000  # 50 keywords of 100 chars would not fit in one message
MESSAGE_BUDGET = 3800  # visible UTF-16 units, under Telegram's 4096


def shorten(text: str, limit: int) -> str:
    """`text` on one line, cut to `limit` chars with "…"."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def fit(lines: Sequence[str], separator: str = "\n") -> str:
    """Whole lines (each balanced HTML) up to MESSAGE_BUDGET visible UTF-16 units (as Telegram
    counts: an emoji is two), then "…"."""
    kept: list[str] = []
    budget = MESSAGE_BUDGET
    for line in lines:
        budget -= visible_len(line) + len(separator)
        if budget < 0:
            kept.append("…")
            break
        kept.append(line)
    return separator.join(kept)


def esc(text: str) -> str:
    """`text` escaped for Telegram HTML."""
    return html.escape(text)


def link(url: str, text: str) -> str:
    """`<a href>` for http(s) URLs only; anything else is shown as plain text."""
    if url.startswith(("https://", "http://")):
        return f'<a href="{esc(url)}">{esc(text)}</a>'
    return esc(text)


def keyword_list(keywords: Sequence[str]) -> str:
    """The phrases comma-separated, cut to KEYWORDS_SHOWN_CHARS."""
    text = ", ".join(keywords)
    return shorten(text, KEYWORDS_SHOWN_CHARS)
