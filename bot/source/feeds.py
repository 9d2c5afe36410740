"""Sources that are feeds: RSS 0.9x/1.0/2.0 and Atom (through feedparser, imported here only) and
JSON Feed 1.0/1.1 (read here; feedparser 6 has no JSON Feed reader) to the Items a scraped page
gives, so that ids, diff, store, filters and outbox treat both the same.

Pure: bytes in, values out. Ids follow the scraper's rule (`diff.item_id` of the link, with the
recipe's `id_pattern`), so a recipe switched from a page to the site's feed keeps its items;
an entry without a link falls back to its guid, then to a hash of title and date. Dates come from
the entry (published, else updated); an entry with no date, or one more than a day in the future,
has none, and the store dates it when first seen. HTML is kept as the feed sends it (feedparser
sanitises it) and sanitised again when published, like scraped content.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot import diff, documents
from bot.errors import FetchError
from bot.model import Attachment, FetchResult, Item, Recipe, ScrapeResult
from bot.source import attachments, dom
from bot.urls import absolute_url

SUMMARY_LIMIT = 600  # characters of plain text: a feed's description may be the whole article
TITLE_LIMIT = 300
MAX_ENTRIES = 500  # a hostile feed must not make one poll store thousands of items
FUTURE_SLACK = timedelta(days=1)  # a date further ahead is a misconfigured clock, not news
_SNIFF = 1024
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(\.\d+)?/?$")
_FEED_ROOTS = (b"<rss", b"<feed", b"<rdf:rdf", b"<rdf")
_FEED_TYPES = ("rss", "atom", "rdf", "feed+json")


@dataclass(frozen=True)
class FeedInfo:
    """What a feed says about itself (for `newsbot add` proposals)."""

    title: str
    link: str | None
    kind: str  # "rss20", "atom10", "json1", ... (feedparser's version names, plus json)
    language: str | None = None  # primary subtag of the feed's own language ("vi", "ko")


def looks_like_feed(body: bytes, content_type: str | None) -> bool:
    """Whether a response is a feed (by its type, else by its first element), not a web page."""
    kind = (content_type or "").lower()
    if any(name in kind for name in _FEED_TYPES):
        return True
    head = body[:_SNIFF].lstrip().lower()
    if head.startswith(b"{"):
        return _is_json_feed(body)
    if head.startswith(b"<?xml"):
        head = head.split(b"?>", 1)[-1]
    head = re.sub(rb"^\s*(<!--.*?-->\s*|<!doctype[^>]*>\s*|<\?[^>]*\?>\s*)*", b"", head, flags=re.S)
    return head.startswith(_FEED_ROOTS)


def read_feed(page: FetchResult, recipe: Recipe, now: datetime) -> ScrapeResult:
    """The feed's entries as Items in feed order; FetchError when the body is no feed."""
    entries, _ = _parse(page, recipe)
    items: list[Item] = []
    seen: set[str] = set()
    skipped = 0
    for entry in entries[:MAX_ENTRIES]:
        item = _item(entry, page.url, recipe, now)
        if item is None:
            skipped += 1
        elif item.item_id not in seen:
            seen.add(item.item_id)
            items.append(item)
    if not skipped:
        return ScrapeResult(tuple(items))
    warning = f"{skipped} of {len(entries)} entries have no title or link"
    return ScrapeResult(tuple(items), (warning,))


def feed_info(page: FetchResult, recipe: Recipe) -> FeedInfo:
    """The feed's own title, site link and format."""
    _, info = _parse(page, recipe)
    return info


# --- parsing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """One entry, format-neutral."""

    title: str
    link: str
    guid: str
    summary_html: str
    content_html: str | None
    published: datetime | None
    author: str | None
    image: str | None
    files: tuple[tuple[str, str, str], ...]  # (url, media type, title)


def _parse(page: FetchResult, recipe: Recipe) -> tuple[list[_Entry], FeedInfo]:
    if _is_json_feed(page.body):
        return _parse_json(page, recipe)
    return _parse_xml(page, recipe)


def _not_a_feed(page: FetchResult, recipe: Recipe, why: str) -> FetchError:
    kind = page.content_type or "no content type"
    return FetchError(
        f"{recipe.feed_id}: {page.url} sent {len(page.body)} bytes of {kind} that are not a feed "
        f"({why})",
        hint="the site may be serving an error page (newsbot retries with backoff); if the feed "
        "moved, put its new address in the recipe's `feed`",
    )


def _parse_xml(page: FetchResult, recipe: Recipe) -> tuple[list[_Entry], FeedInfo]:
    # Imported here: feedparser is a tenth of `newsbot check`'s start-up on a page with rules,
    # and only feed recipes need it (tests/test_architecture.py, LATE_IMPORTS).
    import feedparser

    # A stream, never bytes or str: feedparser would fetch a URL or open a file name it is given.
    parsed = feedparser.parse(
        io.BytesIO(page.body),
        response_headers={
            "content-location": page.url,
            "content-type": page.content_type or "application/xml",
        },
    )
    if not parsed.get("version") and not parsed.entries:
        problem = parsed.get("bozo_exception")
        raise _not_a_feed(page, recipe, str(problem) if problem else "no RSS, Atom or RDF root")
    feed = parsed.get("feed", {})
    info = FeedInfo(
        title=_plain(feed.get("title", "")),
        link=_http(feed.get("link")),
        kind=str(parsed.get("version") or "rss"),
        language=_language(feed.get("language")),
    )
    return [_xml_entry(entry) for entry in parsed.entries], info


def _xml_entry(entry: Mapping[str, Any]) -> _Entry:
    content = entry.get("content") or []
    content_html = next((str(c.get("value")) for c in content if c.get("value")), None)
    files = tuple(
        (str(e.get("href")), str(e.get("type") or ""), str(e.get("title") or ""))
        for e in entry.get("enclosures") or []
        if e.get("href")
    )
    return _Entry(
        title=str(entry.get("title") or ""),
        link=str(entry.get("link") or ""),
        guid=str(entry.get("id") or ""),
        summary_html=str(entry.get("summary") or ""),
        content_html=content_html,
        published=_struct_date(entry.get("published_parsed") or entry.get("updated_parsed")),
        author=str(entry.get("author") or "") or None,
        image=_xml_image(entry),
        files=files,
    )


def _xml_image(entry: Mapping[str, Any]) -> str | None:
    for thumb in entry.get("media_thumbnail") or []:
        if thumb.get("url"):
            return str(thumb["url"])
    for media in entry.get("media_content") or []:
        kind = str(media.get("medium") or media.get("type") or "")
        if media.get("url") and kind.startswith("image"):
            return str(media["url"])
    for enclosure in entry.get("enclosures") or []:
        if enclosure.get("href") and str(enclosure.get("type") or "").startswith("image/"):
            return str(enclosure["href"])
    return None


def _struct_date(value: time.struct_time | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(value), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _is_json_feed(body: bytes) -> bool:
    if not body[:_SNIFF].lstrip().startswith(b"{"):
        return False
    document = _json(body)
    return document is not None and bool(_JSON_FEED_VERSION.match(str(document.get("version"))))


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        document = json.loads(body.decode("utf-8-sig", errors="replace"))
    except (ValueError, RecursionError):
        return None
    return document if isinstance(document, dict) else None


def _parse_json(page: FetchResult, recipe: Recipe) -> tuple[list[_Entry], FeedInfo]:
    document = _json(page.body) or {}
    items = document.get("items")
    if not isinstance(items, list):
        raise _not_a_feed(page, recipe, "a JSON Feed without an `items` list")
    info = FeedInfo(
        title=_plain(_str(document.get("title"))),
        link=_http(_str(document.get("home_page_url"))),
        kind="json" + _str(document.get("version")).rstrip("/").rsplit("/", 1)[-1],
        language=_language(document.get("language")),
    )
    tz = ZoneInfo(recipe.timezone)
    return [_json_entry(item, tz) for item in items if isinstance(item, dict)], info


def _json_entry(item: Mapping[str, Any], tz: ZoneInfo) -> _Entry:
    text = _str(item.get("content_text"))
    html = _str(item.get("content_html"))
    files = tuple(
        (_str(a.get("url")), _str(a.get("mime_type")), _str(a.get("title")))
        for a in item.get("attachments") or []
        if isinstance(a, dict) and _str(a.get("url"))
    )
    return _Entry(
        title=_str(item.get("title")),
        link=_str(item.get("url")) or _str(item.get("external_url")),
        guid=_str(item.get("id")),
        summary_html=_str(item.get("summary")) or html or _escape(text),
        content_html=html or (f"<p>{_escape(text)}</p>" if text else None),
        published=_iso_date(_str(item.get("date_published") or item.get("date_modified")), tz),
        author=_json_author(item),
        image=_str(item.get("image")) or _str(item.get("banner_image")) or None,
        files=files,
    )


def _json_author(item: Mapping[str, Any]) -> str | None:
    authors = item.get("authors") or [item.get("author")]
    names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(name for name in names if name) or None


def _iso_date(text: str, tz: ZoneInfo) -> datetime | None:
    """RFC 3339 (JSON Feed's format); a date without an offset is read in the recipe's zone."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (at if at.tzinfo else at.replace(tzinfo=tz)).astimezone(UTC)


# --- entries to items --------------------------------------------------------------------------


def _item(entry: _Entry, feed_url: str, recipe: Recipe, now: datetime) -> Item | None:
    """An entry as an Item; None without a title (or text to make one) or a way to link it."""
    link = _absolute(entry.link, feed_url) or _absolute(entry.guid, feed_url)
    summary = _clip(_plain(entry.summary_html), SUMMARY_LIMIT)
    title = _clip(_plain(entry.title), TITLE_LIMIT) or _clip(summary, 80)
    if not title or not (link or entry.guid):
        return None
    published = entry.published
    if published is not None and published > now + FUTURE_SLACK:
        published = None
    if link:
        item_id = diff.item_id(link, id_pattern=recipe.id_pattern)
    else:
        item_id = "guid:" + entry.guid.strip()
    doc_number, doc_type = documents.document_info(title)
    return Item(
        feed_id=recipe.feed_id,
        item_id=item_id,
        url=link or feed_url,
        title=title,
        summary="" if summary == title else summary,
        published_at=published,
        image=_absolute(entry.image or "", feed_url),
        author=entry.author,
        content=entry.content_html,
        attachments=tuple(_attachments(entry.files, feed_url)),
        doc_number=doc_number,
        doc_type=doc_type,
    )


def _attachments(files: Iterable[tuple[str, str, str]], base: str) -> Iterable[Attachment]:
    """Enclosures that are documents (images illustrate the item; audio and video are links)."""
    for href, media_type, name in files:
        url = _absolute(href, base)
        kind = attachments.file_kind(url) if url else ""
        if url and kind in attachments.FILE_KINDS and not media_type.startswith("image/"):
            yield Attachment(url=url, name=name or url.rsplit("/", 1)[-1], kind=kind)


def _absolute(href: str, base: str) -> str | None:
    return absolute_url(href.strip(), base) if href.strip() else None


def _http(value: object) -> str | None:
    text = _str(value)
    return text if text.startswith(("http://", "https://")) else None


def _plain(html: str) -> str:
    """Text of a fragment of HTML (or of plain text, which reads the same)."""
    if "<" not in html and "&" not in html:
        return dom.normalize_text(html)
    return dom.text_of(dom.parse_html(f"<html><body><div>{html}</div></body></html>"))


def _language(value: object) -> str | None:
    primary = _str(value).replace("_", "-").split("-")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,.;:") + "…"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""
