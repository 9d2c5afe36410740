"""Render items as RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML; write feed files atomically.

Pure apart from `write_feeds`. Same input => byte-identical output: no "now" anywhere, the feed's
build date is the newest item change. The only importer of feedgen and nh3.
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nh3
from feedgen.entry import FeedEntry
from feedgen.ext.base import BaseEntryExtension
from feedgen.feed import FeedGenerator
from feedgen.util import xml_elem

from bot import urls
from bot.documents import media_type
from bot.model import DEFAULT_TIMEZONE, Item, Section

Format = Literal["rss", "atom", "json"]
FORMATS: tuple[Format, ...] = ("rss", "atom", "json")
EXTENSIONS: dict[Format, str] = {"rss": "xml", "atom": "atom", "json": "json"}
MAX_FEED_BYTES = 1 << 20
MAX_CONTENT_CHARS = 200_000  # one article's HTML; a bigger one is cut and re-sanitised
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
# Build date of a feed with no items: fixed, so an empty feed keeps its ETag too.
EMPTY_FEED_UPDATED_AT = datetime(2000, 1, 1, tzinfo=UTC)
GENERATOR = "newsbot"
ALL_FEED = "all"  # the feed of every feed's items

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_URL_SCHEMES = {"http", "https", "mailto"}
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
# RFC 8141 NSS characters allowed unescaped (no '?', '#', '%', spaces, non-ASCII).
_URN_SAFE = "!$&'()*+,;=:@/-._~"
# Category schemes (RSS domain, Atom scheme): readers and scripts can tell the two apart.
DOC_TYPE_SCHEME = "urn:newsbot:doc-type"
SECTION_SCHEME = "urn:newsbot:section"
_ATTACHMENTS_LABEL = {"vi": "Tệp đính kèm", "en": "Attachments"}


@dataclass(frozen=True)
class FeedMeta:
    """What a feed says about itself: id (file name), title, the site it mirrors, language, zone."""

    feed_id: str
    title: str
    site_url: str
    language: str = "vi"
    timezone: str = DEFAULT_TIMEZONE
    description: str = ""
    sections: tuple[Section, ...] = ()  # the feed's named sections (names label categories)
    section: str | None = None  # set: this is that section's own feed

    def section_name(self, section_id: str) -> str:
        """A section's display name (its id when the feed does not know it)."""
        return next((s.name for s in self.sections if s.section_id == section_id), section_id)


@dataclass(frozen=True)
class _Link:
    """An enclosure: a cleaned absolute URL, its media type and a name (None: an image)."""

    url: str
    media_type: str
    title: str | None = None


@dataclass(frozen=True)
class _Entry:
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
    attachments: tuple[_Link, ...] = ()
    categories: tuple[tuple[str, str], ...] = ()  # (term, scheme): document type, section
    doc_number: str | None = None


_SCRIPT_BLOCK = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.DOTALL)

def all_feed_meta(feeds: Iterable[FeedMeta]) -> FeedMeta:
    """Meta of the `all` feed: every title, the first site, the common language (else vi)."""
    metas = list(feeds)
    languages = {meta.language for meta in metas} or {"vi"}
    return FeedMeta(
        feed_id=ALL_FEED,
        title="newsbot: " + ", ".join(meta.title for meta in metas),
        site_url=metas[0].site_url if metas else "http://localhost/",
        language=languages.pop() if len(languages) == 1 else "vi",
        sections=_first_of_each_id(s for meta in metas for s in meta.sections),
    )


def _first_of_each_id(sections: Iterable[Section]) -> tuple[Section, ...]:
    found: dict[str, Section] = {}
    for section in sections:
        found.setdefault(section.section_id, section)
    return tuple(found.values())


def section_meta(meta: FeedMeta, section_id: str) -> FeedMeta | None:
    """Meta of one section's feed (`/feeds/<feed>/<section>.xml`); None for an unknown id."""
    section = next((s for s in meta.sections if s.section_id == section_id), None)
    if section is None:
        return None
    return replace(
        meta, title=f"{meta.title} – {section.name}", site_url=section.url, section=section_id
    )


def feed_urls(public_url: str, feed_id: str, section: str | None = None) -> dict[str, str]:
    """Public URLs of a feed: {"rss": .../feeds/<id>.xml, "atom": ....atom, "json": ....json};
    of a section's feed: .../feeds/<id>/<section>.xml and so on."""
    base = f"{public_url.rstrip('/')}/feeds/{quote(feed_id, safe='')}"
    if section is not None:
        base += f"/{quote(section, safe='')}"
    return {fmt: f"{base}.{EXTENSIONS[fmt]}" for fmt in FORMATS}


def meta_urls(public_url: str, meta: FeedMeta) -> dict[str, str]:
    """`feed_urls` of the feed (or section feed) `meta` describes."""
    return feed_urls(public_url, meta.feed_id, meta.section)


def meta_guid(meta: FeedMeta) -> str:
    """The Atom feed id of a feed, or of a section's feed (urn:newsbot:<feed>/<section>)."""
    return feed_guid(f"{meta.feed_id}/{meta.section}" if meta.section else meta.feed_id)


def feed_guid(feed_id: str) -> str:
    """Stable id of a feed (Atom feed id): urn:newsbot:<feed_id>."""
    return f"urn:newsbot:{quote(feed_id, safe=_URN_SAFE)}"


def item_guid(feed_id: str, item_id: str) -> str:
    """Globally unique, stable id of an item (RSS guid, Atom id, JSON Feed id)."""
    return f"{feed_guid(feed_id)}:{quote(item_id, safe=_URN_SAFE)}"


def strip_xml_illegal(text: str) -> str:
    """Drop code points XML 1.0 forbids; one of them would make lxml refuse the whole feed."""
    return _XML_ILLEGAL.sub("", text)


def sanitize_html(html_text: str) -> str:
    """Safe HTML: no <script>/<style>, no on*= handlers, no javascript:/data: URLs."""
    return str(nh3.clean(strip_xml_illegal(html_text), url_schemes=_URL_SCHEMES))


def plain_text(text: str) -> str:
    """Text without tags (or script bodies), spaces collapsed, NFC.

    Scraped titles are text, and some readers render titles as HTML: real tags go, but a `<` that
    opens no tag stays (`PM2.5<50`, `Tin <mới>`), which an HTML sanitiser would swallow.
    """
    text = _TAG.sub(" ", _SCRIPT_BLOCK.sub(" ", strip_xml_illegal(text)))
    return unicodedata.normalize("NFC", " ".join(text.split()))


def render_rss(
    meta: FeedMeta, items: Sequence[Item], public_url: str, *, self_url: str | None = None
) -> bytes:
    """RSS 2.0 with atom:link rel=self, <language>, isPermaLink=false guids, +0700 pubDates."""
    self_url = self_url or meta_urls(public_url, meta)["rss"]
    return _fit(lambda entries: _rss_bytes(meta, entries, self_url), _entries(meta, items))


def render_atom(
    meta: FeedMeta, items: Sequence[Item], public_url: str, *, self_url: str | None = None
) -> bytes:
    """Atom 1.0 with xml:lang, a feed-level author, urn ids and RFC 3339 dates."""
    self_url = self_url or meta_urls(public_url, meta)["atom"]
    return _fit(lambda entries: _atom_bytes(meta, entries, self_url), _entries(meta, items))


def render_json(
    meta: FeedMeta, items: Sequence[Item], public_url: str, *, self_url: str | None = None
) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    self_url = self_url or meta_urls(public_url, meta)["json"]
    return _fit(lambda entries: _json_bytes(meta, entries, self_url), _entries(meta, items))


RENDERERS: dict[Format, Callable[..., bytes]] = {
    "rss": render_rss,
    "atom": render_atom,
    "json": render_json,
}


def render_opml(feeds: Sequence[FeedMeta], public_url: str, *, title: str = GENERATOR) -> bytes:
    """OPML 2.0 subscription list: one rss outline per feed, pointing at its RSS URL, and one
    after it for each of its sections."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = plain_text(title)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        sections = [section_meta(feed, s.section_id) for s in feed.sections]
        for meta in [feed, *(m for m in sections if m is not None)]:
            name = plain_text(meta.title) or meta.feed_id
            ET.SubElement(
                body,
                "outline",
                type="rss",
                text=name,
                title=name,
                xmlUrl=meta_urls(public_url, meta)["rss"],
                htmlUrl=meta.site_url,
                language=meta.language,
            )
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def write_feeds(
    public_dir: Path, meta: FeedMeta, items: Sequence[Item], public_url: str
) -> list[Path]:
    """Write feeds/<id>.xml|.atom|.json under public_dir (a section's feed: feeds/<id>/<section>.xml
    and so on); returns the files whose bytes changed."""
    for name in (meta.feed_id, meta.section or "x"):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"feed id {name!r} cannot be a file name (use a-z, 0-9, . _ -)")
    feeds_dir = public_dir / "feeds"
    stem = meta.feed_id
    if meta.section is not None:
        feeds_dir, stem = feeds_dir / meta.feed_id, meta.section
    feeds_dir.mkdir(parents=True, exist_ok=True)
    changed: list[Path] = []
    for fmt in FORMATS:
        path = feeds_dir / f"{stem}.{EXTENSIONS[fmt]}"
        data = RENDERERS[fmt](meta, items, public_url)
        if path.is_file() and path.read_bytes() == data:
            continue  # untouched: mtime-based caches and rsync stay quiet
        write_atomic(path, data)
        changed.append(path)
    return changed


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data so readers see the old file or the new one, never half of one."""
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a web server must be able to read it
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


# --- cleaning -------------------------------------------------------------------------------


def _entries(meta: FeedMeta, items: Sequence[Item]) -> list[_Entry]:
    zone = _zone(meta.timezone)
    return [_entry(meta, item, zone) for item in items]


def _entry(meta: FeedMeta, item: Item, zone: tzinfo) -> _Entry:
    summary_html = sanitize_html(item.summary) if item.summary.strip() else ""
    content = item.content or ""
    if len(content) > MAX_CONTENT_CHARS:
        content = content[:MAX_CONTENT_CHARS]
    content_html = sanitize_html(content) if content.strip() else ""
    known = [d for d in (item.published_at, item.first_seen_at, item.updated_at) if d]
    changes = [d for d in (item.first_seen_at, item.updated_at) if d]
    published = item.date
    return _Entry(
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


def _attachment_links(meta: FeedMeta, item: Item) -> tuple[_Link, ...]:
    links: dict[str, _Link] = {}
    for attachment in item.attachments:
        url = _web_url(meta.site_url, attachment.url)
        if url is not None:
            name = plain_text(attachment.name) or attachment.kind
            links.setdefault(url, _Link(url, media_type(attachment.kind), name))
    return tuple(links.values())


def _categories(meta: FeedMeta, item: Item) -> tuple[tuple[str, str], ...]:
    """The document type and the section (by its name), as categories."""
    found = []
    if item.doc_type and (doc_type := plain_text(item.doc_type)):
        found.append((doc_type, DOC_TYPE_SCHEME))
    if item.section and (name := plain_text(meta.section_name(item.section))):
        found.append((name, SECTION_SCHEME))
    return tuple(found)


def _feed_updated_at(entries: Sequence[_Entry], zone: tzinfo) -> datetime:
    """Newest change among the entries (never "now"), so unchanged input keeps its bytes."""
    changes = [e.changed_at for e in entries if e.changed_at]
    if changes:
        return max(changes).astimezone(zone)
    dates = [e.published_at for e in entries if e.published_at]
    return max(dates) if dates else _local_epoch(zone)


def _web_url(base: str, url: str | None) -> str | None:
    """Absolute http(s) URL, or None for anything else (javascript:, data:, garbage)."""
    return urls.absolute_url(strip_xml_illegal(url), base) if url else None


def _image_type(url: str) -> str:
    suffix = os.path.splitext(urlsplit(url).path)[1].lower()
    return _IMAGE_TYPES.get(suffix, "image/jpeg")  # news sites serve photos; jpeg is the odds-on


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # model promises UTC


def _local_epoch(zone: tzinfo) -> datetime:
    return EMPTY_FEED_UPDATED_AT.astimezone(zone)


@lru_cache(maxsize=32)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        hint = "use an IANA name like Asia/Ho_Chi_Minh"
        raise ValueError(f"unknown time zone {name!r} ({hint})") from exc


def _fit(render: Callable[[list[_Entry]], bytes], entries: list[_Entry]) -> bytes:
    """Render, dropping the oldest entries until the feed is at most MAX_FEED_BYTES."""
    body = render(entries)
    while len(body) > MAX_FEED_BYTES and entries:
        keep = min(len(entries) - 1, int(len(entries) * MAX_FEED_BYTES / len(body) * 0.95))
        entries = entries[: max(keep, 0)]
        body = render(entries)
    return body


# --- formats --------------------------------------------------------------------------------


class _AtomEnclosure(BaseEntryExtension):  # type: ignore[misc]
    """Adds <link rel="enclosure">s: feedgen 1.0 drops rel/type from Atom entry links."""

    links: tuple[_Link, ...] = ()

    def extend_atom(self, entry: Any) -> Any:
        for link in self.links:
            element = xml_elem(
                "link", entry, href=link.url, rel="enclosure", type=link.media_type, length="0"
            )
            if link.title:
                element.attrib["title"] = link.title
        return entry


def _generator(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> FeedGenerator:
    zone = _zone(meta.timezone)
    title = plain_text(meta.title) or meta.feed_id
    fg = FeedGenerator()
    fg.id(meta_guid(meta))
    fg.title(title)
    fg.description(plain_text(meta.description) or title)
    fg.author({"name": title})
    fg.link(href=self_url, rel="self")
    fg.link(href=meta.site_url, rel="alternate")  # RSS <link> is the last one added
    fg.language(meta.language)
    fg.generator(GENERATOR)
    fg.updated(_feed_updated_at(entries, zone))
    return fg


def _rss_bytes(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> bytes:
    fg = _generator(meta, entries, self_url)
    fg.load_extension("dc", atom=False, rss=True)
    for entry in entries:
        fe: FeedEntry = fg.add_entry(order="append")
        fe.guid(entry.guid, permalink=False)
        fe.title(entry.title)
        fe.link(href=entry.link)
        if entry.summary_html:
            fe.description(entry.summary_html)
        content = entry.content_html
        if len(entry.attachments) > 1:  # the enclosure holds one: list them all in the body
            content = (content or entry.summary_html) + _attachment_list(meta, entry.attachments)
        if content:
            fe.content(content)
        if entry.published_at:
            fe.pubDate(entry.published_at)
        # One enclosure per item (RSS Best Practices): the document when there is one, since
        # for an official notice the file is what the item is about; else the picture.
        if entry.attachments:
            first = entry.attachments[0]
            fe.enclosure(first.url, 0, first.media_type)
        elif entry.image:
            fe.enclosure(entry.image, 0, _image_type(entry.image))
        if entry.author:
            fe.dc.dc_creator(entry.author)
        for term, scheme in entry.categories:
            fe.category(term=term, scheme=scheme)
    return bytes(fg.rss_str(pretty=True))


def _atom_bytes(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> bytes:
    fg = _generator(meta, entries, self_url)
    feed_updated_at = fg.updated()
    for entry in entries:
        fe: FeedEntry = fg.add_entry(order="append")
        fe.id(entry.guid)
        fe.title(entry.title)
        fe.link(href=entry.link)
        fe.updated(entry.updated_at or feed_updated_at)  # Atom requires one
        if entry.published_at:
            fe.published(entry.published_at)
        if entry.summary_html:
            fe.summary(entry.summary_html, type="html")
        if entry.content_html:
            fe.content(entry.content_html, type="html")
        if entry.author:
            fe.author({"name": entry.author})
        for term, scheme in entry.categories:
            fe.category(term=term, scheme=scheme)
        image = (_Link(entry.image, _image_type(entry.image)),) if entry.image else ()
        if image or entry.attachments:
            fe.register_extension("newsbot_enclosure", _AtomEnclosure, atom=True, rss=False)
            fe.newsbot_enclosure.links = image + entry.attachments
    return bytes(fg.atom_str(pretty=True))


def _json_bytes(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> bytes:
    title = plain_text(meta.title) or meta.feed_id
    doc: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": meta.site_url,
        "feed_url": self_url,
        "description": plain_text(meta.description) or title,
        "language": meta.language,
        "authors": [{"name": title}],
        "items": [_json_item(entry) for entry in entries],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def _json_item(entry: _Entry) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry.guid, "url": entry.link, "title": entry.title}
    body = entry.content_html or entry.summary_html
    if body:
        item["content_html"] = body
    else:
        item["content_text"] = entry.title  # JSON Feed requires one of the two
    if entry.summary_text:
        item["summary"] = entry.summary_text
    if entry.image:
        item["image"] = entry.image
    if entry.published_at:
        item["date_published"] = entry.published_at.isoformat()
    if entry.updated_at:
        item["date_modified"] = entry.updated_at.isoformat()
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.categories:
        item["tags"] = [term for term, _ in entry.categories]
    if entry.attachments:
        item["attachments"] = [
            {"url": link.url, "mime_type": link.media_type, "title": link.title}
            for link in entry.attachments
        ]
    if entry.doc_number:
        item["_newsbot"] = {"doc_number": entry.doc_number}
    return item


def _attachment_list(meta: FeedMeta, links: Sequence[_Link]) -> str:
    label = _ATTACHMENTS_LABEL.get(meta.language.split("-")[0], _ATTACHMENTS_LABEL["en"])
    rows = "".join(
        f'<li><a href="{html.escape(link.url)}">{html.escape(link.title or link.url)}</a></li>'
        for link in links
    )
    return f"<p>{html.escape(label)}:</p><ul>{rows}</ul>"
