"""Render items as RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML; write feed files atomically.

Pure apart from `write_feeds`. Same input => byte-identical output: no "now" anywhere, the feed's
build date is the newest item change. The only importer of nh3.
"""

from __future__ import annotations

import contextlib
import email.utils
import html
import json
import os
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from functools import lru_cache, partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import nh3

from bot import opml, urls
from bot.documents import media_type
from bot.model import DEFAULT_TIMEZONE, Item, Section
from bot.opml import Outline

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
ALL_FEED_TITLES = {"vi": "newsbot: tất cả nguồn tin", "en": "newsbot: all sources"}

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
    # A feed with no items has no item date to give as its build date: this one (its last poll,
    # set by the web server) instead. Unset, RSS leaves lastBuildDate out and Atom, which
    # requires <updated>, falls back to a fixed placeholder so the bytes stay stable.
    updated_if_empty: datetime | None = None

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
    """Meta of the `all` feed: a short fixed title in the common language (else vi), the first
    site. The title does not list the feeds: with 1,000 of them it was 17 KB, in every copy."""
    metas = list(feeds)
    languages = {meta.language for meta in metas} or {"vi"}
    language = languages.pop() if len(languages) == 1 else "vi"
    return FeedMeta(
        feed_id=ALL_FEED,
        title=ALL_FEED_TITLES.get(language.split("-")[0], ALL_FEED_TITLES["en"]),
        site_url=metas[0].site_url if metas else "http://localhost/",
        language=language,
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
    outlines = []
    for feed in feeds:
        sections = [section_meta(feed, s.section_id) for s in feed.sections]
        for meta in [feed, *(m for m in sections if m is not None)]:
            outlines.append(Outline(plain_text(meta.title) or meta.feed_id,
                                    meta_urls(public_url, meta)["rss"], meta.site_url,
                                    meta.language))
    return opml.render_opml(plain_text(title), outlines)


def render_feeds(meta: FeedMeta, items: Sequence[Item], public_url: str) -> dict[Format, bytes]:
    """RSS, Atom and JSON of one feed, each item cleaned once for all three."""
    entries = _entries(meta, items)
    urls = meta_urls(public_url, meta)
    return {fmt: _fit(partial(_WRITERS[fmt], meta, self_url=urls[fmt]), entries)
            for fmt in FORMATS}  # fmt: skip


def write_feeds(
    public_dir: Path, meta: FeedMeta, items: Sequence[Item], public_url: str
) -> list[Path]:
    """Write feeds/<id>.xml|.atom|.json under public_dir (a section's feed: feeds/<id>/<section>.xml
    and so on); returns the files whose bytes changed."""
    changed: list[Path] = []
    for fmt, data in render_feeds(meta, items, public_url).items():
        path = feed_path(public_dir, meta, fmt)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.read_bytes() == data:
            continue  # untouched: mtime-based caches and rsync stay quiet
        write_atomic(path, data)
        changed.append(path)
    return changed


def feed_path(public_dir: Path, meta: FeedMeta, fmt: Format) -> Path:
    """public_dir/feeds/<id>.<ext>, or feeds/<id>/<section>.<ext> for a section's feed."""
    for name in (meta.feed_id, meta.section or "x"):
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise ValueError(f"feed id {name!r} cannot be a file name (use a-z, 0-9, . _ -)")
    feeds_dir = public_dir / "feeds"
    if meta.section is not None:
        return feeds_dir / meta.feed_id / f"{meta.section}.{EXTENSIONS[fmt]}"
    return feeds_dir / f"{meta.feed_id}.{EXTENSIONS[fmt]}"


def remove_feed_files(public_dir: Path, feed_id: str) -> list[Path]:
    """Delete a feed's files and its sections' (a forgotten feed); the paths removed."""
    feeds_dir = public_dir / "feeds"
    paths = [feeds_dir / f"{feed_id}.{EXTENSIONS[fmt]}" for fmt in FORMATS]
    sections = feeds_dir / feed_id
    if sections.is_dir():
        paths += [path for path in sections.iterdir() if path.is_file()]
    removed = []
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    with contextlib.suppress(OSError):  # not there, or holding something newsbot did not write
        sections.rmdir()
    return removed


def write_atomic(path: Path, data: bytes) -> None:
    """Replace path with data so readers see the old file or the new one, never half of one.

    No fsync: feed files are derived from the store, which keeps its own. After a power cut the
    rename may reach the disk before the data (an empty or torn file); `is_whole` tells, and the
    daemon rewrites such files from the store when it starts. An fsync per file cost more than
    rendering the feed (6 per changed poll, ~1 ms each here), on every poll, for that rare case.
    """
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
        os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a web server must be able to read it
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


_ENDINGS: dict[Format, bytes] = {"rss": b"</rss>\n", "atom": b"</feed>\n", "json": b"}\n"}


def is_whole(path: Path, fmt: Format) -> bool:
    """Whether a feed file written by `write_feeds` is all there: it exists and ends as the
    format ends, with no NUL bytes in its tail (what a torn write leaves)."""
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - 64))
            tail = file.read()
    except OSError:
        return False
    return tail.endswith(_ENDINGS[fmt]) and b"\0" not in tail


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


def _feed_updated_at(entries: Sequence[_Entry], zone: tzinfo) -> datetime | None:
    """Newest change among the entries (never "now"), so unchanged input keeps its bytes; None
    when no entry gives a time."""
    changes = [e.changed_at for e in entries if e.changed_at]
    if changes:
        return max(changes).astimezone(zone)
    dates = [e.published_at for e in entries if e.published_at]
    return max(dates) if dates else None


def _built_at(meta: FeedMeta, entries: Sequence[_Entry]) -> datetime | None:
    zone = _zone(meta.timezone)
    found = _feed_updated_at(entries, zone)
    if found is None and meta.updated_if_empty is not None:
        return _aware(meta.updated_if_empty).astimezone(zone)
    return found


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


# RSS and Atom are written as text: each value goes through `_text` or `_attr`, which escape it
# as lxml would and drop what XML 1.0 forbids. (feedgen, used before, built an lxml tree of every
# feed on every write: 70 % of a feed's render time.) The layout is feedgen's, byte for byte.
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
RSS_OPEN = ('<rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">\n')
RSS_DOCS = "http://www.rssboard.org/rss-specification"
_TEXT_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTR_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                               "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})  # fmt: skip


def _text(value: str) -> str:
    """A value as XML character data."""
    return strip_xml_illegal(value).translate(_TEXT_ESCAPES)


def _attr(value: str) -> str:
    """A value inside a double-quoted XML attribute."""
    return strip_xml_illegal(value).translate(_ATTR_ESCAPES)


def _rfc822(moment: datetime) -> str:
    return email.utils.format_datetime(moment)


def _feed_title(meta: FeedMeta) -> str:
    return plain_text(meta.title) or meta.feed_id


def _rss_bytes(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> bytes:
    title = _feed_title(meta)
    updated = _built_at(meta, entries)
    parts = [
        XML_DECLARATION, RSS_OPEN, "  <channel>\n",
        f"    <title>{_text(title)}</title>\n",
        f"    <link>{_text(meta.site_url)}</link>\n",
        f"    <description>{_text(plain_text(meta.description) or title)}</description>\n",
        f'    <atom:link href="{_attr(self_url)}" rel="self"/>\n',
        f"    <docs>{RSS_DOCS}</docs>\n",
        f"    <generator>{GENERATOR}</generator>\n",
        f"    <language>{_text(meta.language)}</language>\n",
    ]  # fmt: skip
    if updated is not None:  # optional in RSS: no date rather than an invented one
        parts.append(f"    <lastBuildDate>{_rfc822(updated)}</lastBuildDate>\n")
    parts += (_rss_item(meta, entry) for entry in entries)
    parts.append("  </channel>\n</rss>\n")
    return "".join(parts).encode("utf-8")


def _rss_item(meta: FeedMeta, entry: _Entry) -> str:
    lines = ["    <item>", f"      <title>{_text(entry.title)}</title>",
             f"      <link>{_text(entry.link)}</link>"]  # fmt: skip
    content = entry.content_html
    if len(entry.attachments) > 1:  # the enclosure holds one: list them all in the body
        content = (content or entry.summary_html) + _attachment_list(meta, entry.attachments)
    # The description is the summary; the full text goes to content:encoded, or, with no
    # summary, to the description (readers show a description first).
    if entry.summary_html or content:
        lines.append(f"      <description>{_text(entry.summary_html or content)}</description>")
    if entry.summary_html and content:
        lines.append(f"      <content:encoded>{_text(content)}</content:encoded>")
    lines.append(f'      <guid isPermaLink="false">{_text(entry.guid)}</guid>')
    lines += (f'      <category domain="{_attr(scheme)}">{_text(term)}</category>'
              for term, scheme in entry.categories)  # fmt: skip
    # One enclosure per item (RSS Best Practices): the document when there is one, since for an
    # official notice the file is what the item is about; else the picture.
    enclosure = None
    if entry.attachments:
        enclosure = (entry.attachments[0].url, entry.attachments[0].media_type)
    elif entry.image:
        enclosure = (entry.image, _image_type(entry.image))
    if enclosure:
        lines.append(f'      <enclosure url="{_attr(enclosure[0])}" length="0" '
                     f'type="{_attr(enclosure[1])}"/>')  # fmt: skip
    if entry.published_at:
        lines.append(f"      <pubDate>{_rfc822(entry.published_at)}</pubDate>")
    if entry.author:
        lines.append(f"      <dc:creator>{_text(entry.author)}</dc:creator>")
    lines.append("    </item>\n")
    return "\n".join(lines)


def _atom_bytes(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> bytes:
    title = _text(_feed_title(meta))
    updated = _built_at(meta, entries) or _local_epoch(_zone(meta.timezone))  # Atom requires one
    parts = [
        XML_DECLARATION,
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="{_attr(meta.language)}">\n',
        f"  <id>{_text(meta_guid(meta))}</id>\n",
        f"  <title>{title}</title>\n",
        f"  <updated>{updated.isoformat()}</updated>\n",
        f"  <author>\n    <name>{title}</name>\n  </author>\n",
        f'  <link href="{_attr(self_url)}" rel="self"/>\n',
        f'  <link href="{_attr(meta.site_url)}" rel="alternate"/>\n',
        f"  <generator>{GENERATOR}</generator>\n",
        f"  <subtitle>{_text(plain_text(meta.description) or _feed_title(meta))}</subtitle>\n",
    ]
    parts += (_atom_entry(entry, updated) for entry in entries)
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


def _atom_entry(entry: _Entry, feed_updated_at: datetime) -> str:
    updated = entry.updated_at or feed_updated_at  # Atom requires one
    lines = ["  <entry>", f"    <id>{_text(entry.guid)}</id>",
             f"    <title>{_text(entry.title)}</title>",
             f"    <updated>{updated.isoformat()}</updated>"]  # fmt: skip
    if entry.author:
        lines.append(f"    <author>\n      <name>{_text(entry.author)}</name>\n    </author>")
    if entry.content_html:
        lines.append(f'    <content type="html">{_text(entry.content_html)}</content>')
    lines.append(f'    <link href="{_attr(entry.link)}"/>')
    if entry.summary_html:
        lines.append(f'    <summary type="html">{_text(entry.summary_html)}</summary>')
    lines += (f'    <category term="{_attr(term)}" scheme="{_attr(scheme)}"/>'
              for term, scheme in entry.categories)  # fmt: skip
    if entry.published_at:
        lines.append(f"    <published>{entry.published_at.isoformat()}</published>")
    image = (_Link(entry.image, _image_type(entry.image)),) if entry.image else ()
    for link in image + entry.attachments:
        title = f' title="{_attr(link.title)}"' if link.title else ""
        lines.append(f'    <link href="{_attr(link.url)}" rel="enclosure" '
                     f'type="{_attr(link.media_type)}" length="0"{title}/>')  # fmt: skip
    lines.append("  </entry>\n")
    return "\n".join(lines)


def _json_bytes(meta: FeedMeta, entries: Sequence[_Entry], self_url: str) -> bytes:
    title = _feed_title(meta)
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


# Each format's writer: (meta, entries, self_url) -> bytes.
_WRITERS: dict[Format, Callable[..., bytes]] = {
    "rss": _rss_bytes,
    "atom": _atom_bytes,
    "json": _json_bytes,
}
