"""Telegram messages for news items: HTML that Telegram accepts, within its length limits.

Every piece of scraped text is escaped with `html.escape`; hrefs are http/https only. Lengths are
counted as Telegram counts them, after entity parsing and in UTF-16 code units (a stricter count
than code points, so an emoji-heavy title still fits). Text is clipped before it is escaped, so an
entity or a tag is never cut.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import urls
from bot.documents import document_label
from bot.model import DEFAULT_TIMEZONE, Attachment, Item, MessageFormat

MAX_TEXT = 4096
MAX_CAPTION = 1024
SUMMARY_LIMIT = 400  # a teaser, not the article
CAPTION_SUMMARY_LIMIT = 200
NAME_LIMIT = 100  # feed titles and keywords in the footer
ATTACHMENT_NAME_LIMIT = 80
ATTACHMENTS_SHOWN = 5  # in a message; the rest are "… and N more files"
CAPTION_ATTACHMENTS_SHOWN = 2
ELLIPSIS = "…"


@dataclass(frozen=True)
class Labels:
    read_more: str
    keyword: str
    more: str  # format(count=, feed=)
    see_all: str
    untitled: str
    more_files: str  # format(count=)


LABELS = {
    "vi": Labels(
        "Xem chi tiết",
        "Từ khoá",
        "… và {count} tin khác từ {feed}",
        "Xem tất cả",
        "(không có tiêu đề)",
        "… và {count} tệp khác",
    ),
    "en": Labels(
        "Read more",
        "Keyword",
        "… and {count} more from {feed}",
        "See all",
        "(untitled)",
        "… and {count} more files",
    ),
}


def labels(language: str) -> Labels:
    """Labels for a language code such as "vi" or "en-US"; Vietnamese when unknown."""
    return LABELS.get(language.split("-")[0].lower(), LABELS["vi"])


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def clip(text: str, max_units: int) -> str:
    """`text` cut to `max_units` UTF-16 units, ending with "…" when cut."""
    if utf16_len(text) <= max_units:
        return text
    if max_units <= 0:
        return ""
    kept, used = [], 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > max_units - 1:
            break
        kept.append(char)
        used += width
    return "".join(kept).rstrip() + ELLIPSIS


def clip_words(text: str, max_units: int) -> str:
    """Like `clip`, but ends at a word boundary when one is near the cut."""
    clipped = clip(text, max_units)
    if clipped == text or not clipped:
        return clipped
    body = clipped[:-1]
    space = body.rfind(" ")
    if space >= len(body) - 30 and space > 0:
        body = body[:space].rstrip(" ,;:.-–")
    return body + ELLIPSIS


_UNSAFE_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean(text: str, *, one_line: bool = True) -> str:
    """NFC text without control characters or lone surrogates, whitespace collapsed."""
    text = _UNSAFE_CHARS.sub("", unicodedata.normalize("NFC", text))
    if one_line:
        return " ".join(text.split())
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()


def safe_href(url: str) -> str | None:
    """An http(s) URL fit for `href` in a message (`bot.urls.safe_href` of the cleaned text)."""
    return urls.safe_href(clean(url))


def local_time(moment: datetime, tz: str, language: str = "vi") -> str:
    """`28/11/2024 14:30` in the feed's timezone; for English readers, who may live anywhere,
    with the zone: `28/11/2024 14:30 UTC+7`."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo(DEFAULT_TIMEZONE)
    local = moment.astimezone(zone)
    text = local.strftime("%d/%m/%Y %H:%M")
    return f"{text} {zone_label(local)}" if language.startswith("en") else text


def zone_label(local: datetime) -> str:
    """`CET` where the zone has a name, else its offset: `UTC+7`, `UTC-3:30`, `UTC`."""
    name = local.strftime("%Z")
    if name and name[0] not in "+-" and name != "UTC":
        return name
    offset = local.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if not minutes:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    return f"UTC{sign}{minutes // 60}" + (f":{minutes % 60:02d}" if minutes % 60 else "")


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def item_label(item: Item) -> str:
    """The document the item is, as readers see it (`Quyết định số 123/QĐ-UBND`), or ""."""
    return clip(clean(document_label(item.doc_type, item.doc_number) or ""), NAME_LIMIT)


def attachment_name(attachment: Attachment) -> str:
    """An attachment's name for a message, with its kind when the name does not show it."""
    kind = clip(clean(attachment.kind), 10).lower()
    name = clip(clean(attachment.name), ATTACHMENT_NAME_LIMIT) or kind.upper() or "file"
    if kind and kind != "file" and not name.lower().endswith(f".{kind}"):
        name += f" ({kind.upper()})"
    return name


def _attachment_lines(
    attachments: tuple[Attachment, ...], shown: int, words: Labels
) -> tuple[list[str], list[str]]:
    """`📎 <a>name</a>` lines for the http(s) attachments (at most `shown`), as HTML and text."""
    linked = [(href, a) for a in attachments if (href := safe_href(a.url))]
    lines_html, visible = [], []
    for href, attachment in linked[:shown]:
        name = attachment_name(attachment)
        lines_html.append(f'📎 <a href="{_escape(href)}">{_escape(name)}</a>')
        visible.append(f"📎 {name}")
    if len(linked) > shown:
        more = words.more_files.format(count=len(linked) - shown)
        lines_html.append(_escape(more))
        visible.append(more)
    return lines_html, visible


def _footer(
    item: Item, look: Look, words: Labels, attachments: int
) -> tuple[str, int]:
    """The lines under the summary, as HTML, and their visible length."""
    parts = [local_time(item.date, look.tz, look.language) if item.date else "",
             clip(clean(look.feed_title), NAME_LIMIT), clip(clean(look.section or ""), NAME_LIMIT)]
    meta = " · ".join(part for part in parts if part)
    lines_html = [f"<i>{_escape(meta)}</i>"] if meta else []
    visible = [meta] if meta else []
    matched = look.matched
    if (label := item_label(item)) and not _title_names_document(item):
        lines_html.insert(0, f"📄 <b>{_escape(label)}</b>")
        visible.insert(0, f"📄 {label}")
    if matched and (keyword := clip(clean(matched), NAME_LIMIT)):
        lines_html.append(f"{_escape(words.keyword)}: <b>{_escape(keyword)}</b>")
        visible.append(f"{words.keyword}: {keyword}")
    files_html, files_visible = _attachment_lines(item.attachments, attachments, words)
    lines_html += files_html
    visible += files_visible
    href = safe_href(item.url)
    if href:
        lines_html.append(f'<a href="{_escape(href)}">{_escape(words.read_more)}</a>')
        visible.append(words.read_more)
    return "\n".join(lines_html), utf16_len("\n".join(visible))


def _title_names_document(item: Item) -> bool:
    """Whether the title already says which document this is (its number, or with no number
    its type first): the document line would repeat it."""
    title = " ".join(item.title.split()).casefold()
    if item.doc_number:
        return " ".join(item.doc_number.split()).casefold() in title
    return bool(item.doc_type) and title.startswith(" ".join((item.doc_type or "").split())
                                                    .casefold())


@dataclass(frozen=True)
class Look:
    """How a chat sees an item: the feed's name and zone, the section's name, the keyword that
    let it through, the language, and the chat's /format."""

    feed_title: str
    tz: str = DEFAULT_TIMEZONE
    matched: str | None = None
    language: str = "vi"
    section: str | None = None
    style: MessageFormat = "full"


def _render(
    item: Item,
    look: Look,
    *,
    limit: int,
    summary_limit: int,
    attachments: int,
) -> str:
    words = labels(look.language)
    if look.style != "full":
        return _short(item, look, words, limit)
    footer_html, footer_len = _footer(item, look, words, attachments)
    budget = limit - footer_len - 2  # the blank line before the footer
    title = clean(item.title) or words.untitled
    summary = clean(item.summary)
    # Some listings repeat the title as the summary; once is enough.
    summary = "" if summary.casefold() == title.casefold() else clip_words(summary, summary_limit)
    if summary and utf16_len(title) + 1 + utf16_len(summary) > budget:
        # The summary gives way first; a stub of a few characters is not worth keeping.
        room = budget - utf16_len(title) - 1
        summary = clip_words(summary, room) if room >= 40 else ""
    title = clip_words(title, budget if not summary else budget - 1 - utf16_len(summary))
    head = f"<b>{_escape(title)}</b>"
    if summary:
        head += f"\n{_escape(summary)}"
    return f"{head}\n\n{footer_html}" if footer_html else head


def _short(item: Item, look: Look, words: Labels, limit: int) -> str:
    """/format compact: the bold title, then its link; title: the title alone, as the link."""
    href = safe_href(item.url)
    room = limit - (utf16_len(words.read_more) + 1 if look.style == "compact" and href else 0)
    title = clip_words(clean(item.title) or words.untitled, room)
    if look.style == "title":
        return f'<a href="{_escape(href)}">{_escape(title)}</a>' if href else _escape(title)
    link = f'\n<a href="{_escape(href)}">{_escape(words.read_more)}</a>' if href else ""
    return f"<b>{_escape(title)}</b>{link}"


def format_item(
    item: Item, *, feed_title: str, tz: str, matched: str | None = None, language: str = "vi",
    section: str | None = None, style: MessageFormat = "full",
) -> str:
    """A news item as Telegram HTML (≤ 4096). Full: bold title, summary, document label, date,
    feed and section, keyword, attachments, link; compact: title and link; title: the title."""
    look = Look(feed_title, tz, matched, language, section, style)
    return _render(item, look, limit=MAX_TEXT, summary_limit=SUMMARY_LIMIT,
                   attachments=ATTACHMENTS_SHOWN)


def format_caption(
    item: Item, *, feed_title: str, tz: str, matched: str | None = None, language: str = "vi",
    section: str | None = None,
) -> str:
    """The full message as a photo caption (≤ 1024)."""
    look = Look(feed_title, tz, matched, language, section)
    return _render(item, look, limit=MAX_CAPTION, summary_limit=CAPTION_SUMMARY_LIMIT,
                   attachments=CAPTION_ATTACHMENTS_SHOWN)


def format_document_caption(item: Item, attachment: Attachment) -> str:
    """The caption of an attachment sent as a file: the document label, then the file's name."""
    label = item_label(item)
    name = _escape(attachment_name(attachment))
    return f"📄 <b>{_escape(label)}</b>\n{name}" if label else name


def format_more(count: int, feed_title: str, feed_url: str, language: str = "vi") -> str:
    """The fold message that stands for `count` items not sent one by one."""
    words = labels(language)
    feed = clip(clean(feed_title), NAME_LIMIT)
    text = _escape(words.more.format(count=count, feed=feed))
    href = safe_href(feed_url)
    if href:
        text += f'\n<a href="{_escape(href)}">{_escape(words.see_all)}</a>'
    return text


class _TextCollector(HTMLParser):
    """Visible text of Telegram HTML, with each link's URL after its text (`show_hrefs`)."""

    def __init__(self, *, show_hrefs: bool = True) -> None:
        super().__init__(convert_charrefs=True)
        self.show_hrefs = show_hrefs
        self.parts: list[str] = []
        self._hrefs: list[str | None] = []
        self._link_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._hrefs.append(dict(attrs).get("href"))
            self._link_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._hrefs:
            href = self._hrefs.pop()
            if self.show_hrefs and href and href != "".join(self._link_text).strip():
                self.parts.append(f": {href}")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)
        self._link_text.append(data)


def to_plain_text(html_text: str) -> str:
    """What a rejected HTML message says, as plain text (≤ 4096), for a resend without markup."""
    return clip(_plain(html_text), MAX_TEXT) or ELLIPSIS


def _plain(html_text: str) -> str:
    collector = _TextCollector()
    collector.feed(html_text)
    collector.close()
    return clean("".join(collector.parts), one_line=False)


def visible_len(html_text: str) -> int:
    """How long Telegram counts this HTML: its visible text in UTF-16 units (surrounding
    whitespace included, which Telegram would trim: never an undercount)."""
    collector = _TextCollector(show_hrefs=False)
    collector.feed(html_text)
    collector.close()
    return utf16_len("".join(collector.parts))


def split_message(html_text: str, limit: int = MAX_TEXT) -> list[str]:
    """`html_text` as messages of at most `limit` visible UTF-16 units, cut between lines (each
    line is balanced HTML). A line too long on its own goes as plain text, cut in pieces."""
    parts: list[str] = []
    current: list[str] = []
    used = 0
    for line in html_text.split("\n"):
        size = visible_len(line)
        if size > limit:
            parts += ["\n".join(current)] if current else []
            current, used = [], 0
            parts += [html.escape(piece, quote=False) for piece in _pieces(_plain(line), limit)]
            continue
        if current and used + 1 + size > limit:
            parts.append("\n".join(current))
            current, used = [], 0
        used += size + (1 if current else 0)
        current.append(line)
    if current:
        parts.append("\n".join(current))
    return [part for part in parts if part.strip()] or [html_text]


def _pieces(text: str, limit: int) -> list[str]:
    """Plain text cut into runs of at most `limit` UTF-16 units."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > limit:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += width
    return [*pieces, "".join(current)]
