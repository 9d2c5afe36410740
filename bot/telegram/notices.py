"""Telegram messages that are not one new item: digests and "updated" notices.

Pure, like bot.telegram.messages (whose escaping, clipping and length rules apply): every piece of
scraped
text is escaped, hrefs are http(s) only, lengths are visible UTF-16 units after entity parsing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from bot.model import DEFAULT_TIMEZONE
from bot.telegram.messages import (
    MAX_TEXT,
    clean,
    clip,
    clip_words,
    labels,
    local_time,
    safe_href,
    utf16_len,
)

DIGEST_BUDGET = MAX_TEXT - 96  # room for the "(2/3)" suffix and Telegram trimming
DIGEST_TITLE_LIMIT = 200
EDIT_TITLE_LIMIT = 600
EDIT_SUMMARY_LIMIT = 400
NAME_LIMIT = 100

DigestReason = Literal["quiet", "digest", "paused"]

WORDS: dict[str, dict[str, str]] = {
    "vi": {
        "quiet": "🌙 Tin trong giờ không làm phiền: {count} tin",
        "digest": "📰 Bản tin tổng hợp: {count} tin",
        "paused": "⏸ Tin trong lúc bạn tạm dừng: {count} tin",
        "updated": "✏️ Cập nhật",
        "new_summary": "Tóm tắt mới",
        "edited": "(đã sửa)",
    },
    "en": {
        "quiet": "🌙 News from your quiet hours: {count} items",
        "digest": "📰 Digest: {count} items",
        "paused": "⏸ News while you were paused: {count} items",
        "quiet_one": "🌙 News from your quiet hours: 1 item",
        "digest_one": "📰 Digest: 1 item",
        "paused_one": "⏸ News while you were paused: 1 item",
        "updated": "✏️ Updated",
        "new_summary": "New summary",
        "edited": "(edited)",
    },
}


def words(language: str) -> dict[str, str]:
    """Texts for "vi", "en" or "en-US"; Vietnamese when unknown."""
    return WORDS.get(language.split("-")[0].lower(), WORDS["vi"])


@dataclass(frozen=True)
class DigestEntry:
    """One line of a digest; `key` says which outbox row it stands for."""

    key: int
    feed_title: str
    title: str
    url: str
    date: datetime | None = None
    timezone: str = DEFAULT_TIMEZONE
    edited: bool = False


@dataclass(frozen=True)
class DigestPart:
    """One message of a digest and the rows it covers."""

    html: str
    keys: tuple[int, ...]


def digest_parts(
    entries: Sequence[DigestEntry], reason: DigestReason, language: str = "vi"
) -> list[DigestPart]:
    """The digest as messages under 4096 visible characters, grouped by feed (first seen first)."""
    texts = words(language)
    groups: dict[str, list[DigestEntry]] = {}
    for entry in entries:
        groups.setdefault(clip(clean(entry.feed_title), NAME_LIMIT), []).append(entry)
    singular = f"{reason}_one" if len(entries) == 1 else reason
    heading = texts.get(singular, texts[reason]).format(count=len(entries))
    parts: list[tuple[list[str], list[int]]] = []
    lines: list[str] = [f"<b>{_escape(heading)}</b>"]
    keys: list[int] = []
    used = utf16_len(heading)
    for feed, members in groups.items():
        feed_line, feed_len = f"\n<b>{_escape(feed)}</b>", 1 + utf16_len(feed)
        current_feed = None
        for entry in members:
            line, visible = _digest_line(entry, texts, language)
            extra = 1 + visible + (feed_len + 1 if current_feed != feed else 0)
            if keys and used + extra > DIGEST_BUDGET:
                parts.append((lines, keys))
                lines, keys, used, current_feed = [], [], 0, None
                extra = 1 + visible + feed_len + 1
            if current_feed != feed:
                lines.append(feed_line)
                current_feed = feed
            lines.append(line)
            keys.append(entry.key)
            used += extra
    if keys:
        parts.append((lines, keys))
    total = len(parts)
    return [
        DigestPart("\n".join(part_lines).strip() + (f"\n\n({n}/{total})" if total > 1 else ""),
                   tuple(part_keys))
        for n, (part_lines, part_keys) in enumerate(parts, start=1)
    ]


def _digest_line(entry: DigestEntry, texts: dict[str, str], language: str) -> tuple[str, int]:
    title = clip_words(clean(entry.title), DIGEST_TITLE_LIMIT) or entry.url
    href = safe_href(entry.url)
    link = f'<a href="{_escape(href)}">{_escape(title)}</a>' if href else _escape(title)
    when = local_time(entry.date, entry.timezone, language) if entry.date else ""
    suffix = f" {texts['edited']}" if entry.edited else ""
    meta = f" · {when}" if when else ""
    visible = f"• {title}{suffix}{meta}"
    meta_html = f"<i>{_escape(meta)}</i>" if meta else ""
    return f"• {link}{_escape(suffix)}{meta_html}", utf16_len(visible)


def format_edit(
    *,
    feed_title: str,
    url: str,
    title: str,
    summary: str,
    previous_title: str,
    previous_summary: str,
    language: str = "vi",
) -> str:
    """The "updated" notice: old title struck through, the new one, a changed summary, the link."""
    texts, common = words(language), labels(language)
    new_title = clip_words(clean(title), EDIT_TITLE_LIMIT) or common.untitled
    old_title = clip_words(clean(previous_title), EDIT_TITLE_LIMIT)
    feed = clip(clean(feed_title), NAME_LIMIT)
    lines = [f"<b>{_escape(texts['updated'])}</b> · <i>{_escape(feed)}</i>"]
    if old_title and old_title != new_title:
        lines += [f"<s>{_escape(old_title)}</s>", f"→ <b>{_escape(new_title)}</b>"]
    else:
        lines.append(f"<b>{_escape(new_title)}</b>")
    new_summary = clean(summary)
    if new_summary and new_summary != clean(previous_summary):
        text = clip_words(new_summary, EDIT_SUMMARY_LIMIT)
        lines.append(f"{_escape(texts['new_summary'])}: {_escape(text)}")
    href = safe_href(url)
    if href:
        lines.append(f'<a href="{_escape(href)}">{_escape(common.read_more)}</a>')
    return "\n".join(lines)


def _escape(text: str) -> str:
    return html.escape(text, quote=True)
