"""Feeds in the four formats a source may publish, written from one list of entries.

Each entry is a dict: title, link (may be ""), guid (may be ""), date (aware datetime or None),
summary (HTML), content (HTML or ""). Omitted fields are omitted from the document, so a test can
make a feed with no ids, no links or no dates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape

Entry = dict[str, Any]
T0 = datetime(2024, 11, 28, 3, 0, tzinfo=UTC)

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
RDF_TYPE = "application/rdf+xml; charset=utf-8"
JSON_TYPE = "application/feed+json; charset=utf-8"


def entries(count: int, base: str, *, start: int = 0) -> list[Entry]:
    """`count` entries, newest first, one hour apart, linking to `base`/bai-viet-<n>."""
    return [
        {
            "title": f"Tin số {n}: Hải Phòng khởi công cầu mới",
            "link": f"{base}/bai-viet-{n}",
            "guid": f"urn:tin:{n}",
            "date": T0 + timedelta(hours=n),
            "summary": f"<p>Tóm tắt <b>tin {n}</b> &amp; chi tiết</p>",
            "content": f"<p>Nội dung đầy đủ của tin {n}.</p>",
        }
        for n in reversed(range(start, start + count))
    ]


def rss20(items: Sequence[Entry], *, title: str = "Báo thử") -> str:
    parts = [f"<item>{_rss_fields(e)}</item>" for e in items]
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>'
        f"<title>{escape(title)}</title><link>http://example.test/</link>"
        f"<description>x</description>{''.join(parts)}</channel></rss>"
    )


def _rss_fields(e: Entry) -> str:
    out = f"<title>{escape(e['title'])}</title>"
    if e.get("link"):
        out += f"<link>{escape(e['link'])}</link>"
    if e.get("guid"):
        out += f'<guid isPermaLink="false">{escape(e["guid"])}</guid>'
    if e.get("date"):
        out += f"<pubDate>{format_datetime(e['date'])}</pubDate>"
    if e.get("summary"):
        out += f"<description>{escape(e['summary'])}</description>"
    if e.get("content"):
        out += f"<content:encoded><![CDATA[{e['content']}]]></content:encoded>"
    for url, kind in e.get("enclosures", ()):
        out += f'<enclosure url="{escape(url)}" type="{kind}" length="1000"/>'
    return out


def rss10(items: Sequence[Entry], *, title: str = "Báo thử") -> str:
    parts = []
    for e in items:
        about = escape(e.get("link") or e.get("guid") or "")
        fields = f"<title>{escape(e['title'])}</title>"
        if e.get("link"):
            fields += f"<link>{escape(e['link'])}</link>"
        if e.get("date"):
            fields += f"<dc:date>{e['date'].isoformat()}</dc:date>"
        if e.get("summary"):
            fields += f"<description>{escape(e['summary'])}</description>"
        parts.append(f'<item rdf:about="{about}">{fields}</item>')
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="http://example.test/"><title>{escape(title)}</title>'
        f"<link>http://example.test/</link><description>x</description></channel>"
        f"{''.join(parts)}</rdf:RDF>"
    )


def atom(items: Sequence[Entry], *, title: str = "Báo thử") -> str:
    parts = []
    for e in items:
        fields = f'<title type="html">{escape(e["title"])}</title>'
        if e.get("link"):
            fields += f'<link rel="alternate" href="{escape(e["link"])}"/>'
        if e.get("guid"):
            fields += f"<id>{escape(e['guid'])}</id>"
        if e.get("date"):
            fields += f"<updated>{e['date'].isoformat()}</updated>"
        if e.get("summary"):
            fields += f'<summary type="html">{escape(e["summary"])}</summary>'
        if e.get("content"):
            fields += f'<content type="html">{escape(e["content"])}</content>'
        parts.append(f"<entry>{fields}</entry>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{escape(title)}</title><id>urn:feed</id><updated>{T0.isoformat()}</updated>"
        f"{''.join(parts)}</feed>"
    )


def json_feed(items: Sequence[Entry], *, title: str = "Báo thử") -> str:
    out = []
    for e in items:
        item: dict[str, Any] = {"title": e["title"]}
        if e.get("guid"):
            item["id"] = e["guid"]
        if e.get("link"):
            item["url"] = e["link"]
        if e.get("date"):
            item["date_published"] = e["date"].isoformat()
        if e.get("summary"):
            item["summary"] = e["summary"]
        if e.get("content"):
            item["content_html"] = e["content"]
        out.append(item)
    return json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": title,
                       "home_page_url": "http://example.test/", "items": out},
                      ensure_ascii=False)


FORMATS = {
    "rss20": (rss20, RSS_TYPE),
    "rss10": (rss10, RDF_TYPE),
    "atom": (atom, ATOM_TYPE),
    "json": (json_feed, JSON_TYPE),
}
