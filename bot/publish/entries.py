"""Items cleaned once per feed write and shared by every format: safe HTML and text, absolute
http(s) links, dates in the feed's time zone, attachments and categories, and the feed's build
date (the newest change, never "now", so unchanged input keeps its bytes)."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot import urls
from bot.documents import media_type
from bot.model import Item
from bot.publish.feedmeta import FeedMeta, item_guid
from bot.publish.sanitize import plain_text, sanitize_html, strip_xml_illegal

MAX_CONTENT_CHARS = 200_000  # one article's HTML; a bigger one is cut and re-sanitised
# Build date of a feed with no items: fixed, so an empty feed keeps its ETag too.
EMPTY_FEED_UPDATED_AT = datetime(2000, 1, 1, tzinfo=UTC)
_IMAGE_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
    ".bmp": "image/bmp",
}
# Category schemes (RSS domain, Atom scheme): readers and scripts can tell the two apart.
DOC_TYPE_SCHEME = "urn:newsbot:doc-type"
SECTION_SCHEME = "urn:newsbot:section"


@dataclass(frozen=True)
class Link:
    """An enclosure: a cleaned absolute URL, its media type and a name (None: an image)."""

    url: str
    media_type: str
    title: str | None = None


@dataclass(frozen=True)
class Entry:
    """An item cleaned once and shared by every format."""

    guid: str
    title: str
    link: str
    summary_html: str
    summary_text: str
    content_html: str
    image: str | None
    author: str | None
    published_at: datetime | None  # in the feed's time zone
    updated_at: datetime | None  # in the feed's time zone; None: no date known at all
    changed_at: datetime | None  # when newsbot last saw it change (feed build date input)
    attachments: tuple[Link, ...] = ()
    categories: tuple[tuple[str, str], ...] = ()  # (term, scheme): document type, section
    doc_number: str | None = None



def make_entries(meta: FeedMeta, items: Sequence[Item]) -> list[Entry]:
    zone = feed_zone(meta.timezone)
    return [_entry(meta, item, zone) for item in items]


def _entry(meta: FeedMeta, item: Item, zone: tzinfo) -> Entry:
    summary_html = sanitize_html(item.summary) if item.summary.strip() else ""
    content = item.content or ""
    if len(content) > MAX_CONTENT_CHARS:
        content = content[:MAX_CONTENT_CHARS]
    content_html = sanitize_html(content) if content.strip() else ""
    known = [d for d in (item.published_at, item.first_seen_at, item.updated_at) if d]
    changes = [d for d in (item.first_seen_at, item.updated_at) if d]
    published = item.date
    return Entry(
        guid=item_guid(item.feed_id, item.item_id),
        title=plain_text(item.title) or _web_url(meta.site_url, item.url) or item.item_id,
        link=_web_url(meta.site_url, item.url) or meta.site_url,
        summary_html=summary_html,
        summary_text=html.unescape(plain_text(summary_html)) if summary_html else "",
        content_html=content_html,
        image=_web_url(meta.site_url, item.image) if item.image else None,
        author=(plain_text(item.author) or None) if item.author else None,
        published_at=_aware(published).astimezone(zone) if published else None,
        updated_at=max(_aware(d) for d in known).astimezone(zone) if known else None,
        changed_at=max(_aware(d) for d in changes) if changes else None,
        attachments=_attachment_links(meta, item),
        categories=_categories(meta, item),
        doc_number=(plain_text(item.doc_number) or None) if item.doc_number else None,
    )


def _attachment_links(meta: FeedMeta, item: Item) -> tuple[Link, ...]:
    links: dict[str, Link] = {}
    for attachment in item.attachments:
        url = _web_url(meta.site_url, attachment.url)
        if url is not None:
            name = plain_text(attachment.name) or attachment.kind
            links.setdefault(url, Link(url, media_type(attachment.kind), name))
    return tuple(links.values())


def _categories(meta: FeedMeta, item: Item) -> tuple[tuple[str, str], ...]:
    """The document type and the section (by its name), as categories."""
    found = []
    if item.doc_type and (doc_type := plain_text(item.doc_type)):
        found.append((doc_type, DOC_TYPE_SCHEME))
    if item.section and (name := plain_text(meta.section_name(item.section))):
        found.append((name, SECTION_SCHEME))
    return tuple(found)


class Dated(Protocol):
    """What a feed's build date is made of: an Entry, or what bot.publish.render keeps of one."""

    @property
    def published_at(self) -> datetime | None: ...

    @property
    def changed_at(self) -> datetime | None: ...


def _feed_updated_at(entries: Sequence[Dated], zone: tzinfo) -> datetime | None:
    """Newest change among the entries (never "now"), so unchanged input keeps its bytes; None
    when no entry gives a time."""
    changes = [e.changed_at for e in entries if e.changed_at]
    if changes:
        return max(changes).astimezone(zone)
    dates = [e.published_at for e in entries if e.published_at]
    return max(dates) if dates else None


def built_at(meta: FeedMeta, entries: Sequence[Dated]) -> datetime | None:
    zone = feed_zone(meta.timezone)
    found = _feed_updated_at(entries, zone)
    if found is None and meta.updated_if_empty is not None:
        return _aware(meta.updated_if_empty).astimezone(zone)
    return found


def _web_url(base: str, url: str | None) -> str | None:
    """Absolute http(s) URL, or None for anything else (javascript:, data:, garbage)."""
    return urls.absolute_url(strip_xml_illegal(url), base) if url else None


def image_type(url: str) -> str:
    suffix = os.path.splitext(urlsplit(url).path)[1].lower()
    return _IMAGE_TYPES.get(suffix, "image/jpeg")  # news sites serve photos; jpeg is the odds-on


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # model promises UTC


def local_epoch(zone: tzinfo) -> datetime:
    return EMPTY_FEED_UPDATED_AT.astimezone(zone)


@lru_cache(maxsize=32)
def feed_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "use an IANA name like Asia/Ho_Chi_Minh"
        raise ValueError(f"unknown time zone {name!r} ({hint})") from exc
