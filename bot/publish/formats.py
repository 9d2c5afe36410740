"""Each format's bytes from cleaned entries: RSS 2.0, Atom 1.0 and JSON Feed 1.1."""

from __future__ import annotations

import email.utils
import html
import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from bot.publish.entries import (
    Dated,
    Entry,
    Link,
    built_at,
    feed_zone,
    image_type,
    local_epoch,
)
from bot.publish.feedmeta import FeedMeta, Format, meta_guid
from bot.publish.sanitize import plain_text, strip_xml_illegal

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
GENERATOR = "newsbot"
_ATTACHMENTS_LABEL = {"vi": "Tệp đính kèm", "en": "Attachments"}

# RSS and Atom are written as text: each value goes through `_text` or `_attr`, which escape it
# as lxml would and drop what XML 1.0 forbids. (feedgen, used before, built an lxml tree of every
# feed on every write: 70 % of a feed's render time.) The layout is feedgen's, byte for byte.
XML_DECLARATION = "<?xml version='1.0' encoding='UTF-8'?>\n"
RSS_OPEN = ('<rss xmlns:dc="http://purl.org/dc/elements/1.1/" '
            'xmlns:atom="http://www.w3.org/2005/Atom" '
            'xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">\n')
RSS_DOCS = "http://www.rssboard.org/rss-specification"
# Chained str.replace, `&` first: str.translate with a table looks up every character in Python
# (1.3 ms of a 20-item feed's 4.3 ms render); replace scans in C and copies only on a match.
_TEXT_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("\r", "&#13;"))
_ATTR_ESCAPES = (*_TEXT_ESCAPES, ('"', "&quot;"), ("\n", "&#10;"), ("\t", "&#9;"))


def _text(value: str) -> str:
    """A value as XML character data."""
    return _escaped(strip_xml_illegal(value), _TEXT_ESCAPES)


def _attr(value: str) -> str:
    """A value inside a double-quoted XML attribute."""
    return _escaped(strip_xml_illegal(value), _ATTR_ESCAPES)


def _escaped(value: str, escapes: tuple[tuple[str, str], ...]) -> str:
    for char, reference in escapes:
        if char in value:
            value = value.replace(char, reference)
    return value


def _rfc822(moment: datetime) -> str:
    return email.utils.format_datetime(moment)


def _feed_title(meta: FeedMeta) -> str:
    return plain_text(meta.title) or meta.feed_id


def rss_bytes(meta: FeedMeta, entries: Sequence[Entry], self_url: str) -> bytes:
    items = [rss_item(meta, entry).encode() for entry in entries]
    return rss_document(meta, entries, self_url, items)


def rss_document(
    meta: FeedMeta, entries: Sequence[Dated], self_url: str, items: Sequence[bytes]
) -> bytes:
    """The RSS file around `items`, each entry's `rss_item` in UTF-8 (bot.publish.render keeps
    them)."""
    title = _feed_title(meta)
    updated = built_at(meta, entries)
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
    return b"".join([*(part.encode() for part in parts), *items, b"  </channel>\n</rss>\n"])


def rss_item(meta: FeedMeta, entry: Entry) -> str:
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
        enclosure = (entry.image, image_type(entry.image))
    if enclosure:
        lines.append(f'      <enclosure url="{_attr(enclosure[0])}" length="0" '
                     f'type="{_attr(enclosure[1])}"/>')  # fmt: skip
    if entry.published_at:
        lines.append(f"      <pubDate>{_rfc822(entry.published_at)}</pubDate>")
    if entry.author:
        lines.append(f"      <dc:creator>{_text(entry.author)}</dc:creator>")
    lines.append("    </item>\n")
    return "\n".join(lines)


def atom_bytes(meta: FeedMeta, entries: Sequence[Entry], self_url: str) -> bytes:
    updated = atom_updated(meta, entries)
    items = [atom_entry(entry, updated).encode() for entry in entries]
    return atom_document(meta, updated, self_url, items)


def atom_updated(meta: FeedMeta, entries: Sequence[Dated]) -> datetime:
    """The feed's <updated>; also an entry's when it has no date of its own."""
    return built_at(meta, entries) or local_epoch(feed_zone(meta.timezone))  # Atom requires one


def atom_document(
    meta: FeedMeta, updated: datetime, self_url: str, items: Sequence[bytes]
) -> bytes:
    """The Atom file around `items`, each entry's `atom_entry` in UTF-8 (bot.publish.render
    keeps them)."""
    title = _text(_feed_title(meta))
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
    return b"".join([*(part.encode() for part in parts), *items, b"</feed>\n"])


def atom_entry(entry: Entry, feed_updated_at: datetime) -> str:
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
    image = (Link(entry.image, image_type(entry.image)),) if entry.image else ()
    for link in image + entry.attachments:
        title = f' title="{_attr(link.title)}"' if link.title else ""
        lines.append(f'    <link href="{_attr(link.url)}" rel="enclosure" '
                     f'type="{_attr(link.media_type)}" length="0"{title}/>')  # fmt: skip
    lines.append("  </entry>\n")
    return "\n".join(lines)


def json_bytes(meta: FeedMeta, entries: Sequence[Entry], self_url: str) -> bytes:
    return json_document(meta, self_url, [json_item(entry).encode() for entry in entries])


def json_document(meta: FeedMeta, self_url: str, items: Sequence[bytes]) -> bytes:
    """The JSON Feed around `items`, each entry's `json_item`: the bytes of
    `json.dumps(doc, ensure_ascii=False, indent=2)` with the items spliced in as text, so each
    item is encoded once, not on every write (`indent` makes json use its pure-Python encoder)."""
    title = _feed_title(meta)
    head: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": meta.site_url,
        "feed_url": self_url,
        "description": plain_text(meta.description) or title,
        "language": meta.language,
        "authors": [{"name": title}],
    }
    text = json.dumps(head, ensure_ascii=False, indent=2)[:-2].encode()
    listed = b",".join(items) + b"\n  " if items else b""
    return b"".join([text, b',\n  "items": [', listed, b"]\n}\n"])


def json_item(entry: Entry) -> str:
    """One entry as the JSON Feed's `items` list holds it: a newline, then the object indented
    two levels (a JSON string never holds a raw newline, so indenting by lines is exact)."""
    text = json.dumps(_json_item(entry), ensure_ascii=False, indent=2)
    return "\n    " + text.replace("\n", "\n    ")


def _json_item(entry: Entry) -> dict[str, Any]:
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


def _attachment_list(meta: FeedMeta, links: Sequence[Link]) -> str:
    label = _ATTACHMENTS_LABEL.get(meta.language.split("-")[0], _ATTACHMENTS_LABEL["en"])
    rows = "".join(
        f'<li><a href="{html.escape(link.url)}">{html.escape(link.title or link.url)}</a></li>'
        for link in links
    )
    return f"<p>{html.escape(label)}:</p><ul>{rows}</ul>"


# Each format's writer: (meta, entries, self_url) -> bytes.
WRITERS: dict[Format, Callable[..., bytes]] = {
    "rss": rss_bytes,
    "atom": atom_bytes,
    "json": json_bytes,
}
