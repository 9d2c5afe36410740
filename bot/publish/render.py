"""Render items as RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML.

Pure: same input => byte-identical output; no "now" anywhere, the feed's build date is the newest
item change. Each item is cleaned once (bot.publish.entries), written by each format
(bot.publish.formats), and a feed past MAX_FEED_BYTES drops its oldest items. Files are
bot.publish.files' business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

from bot import opml
from bot.model import Item
from bot.opml import Outline
from bot.publish.entries import Entry, make_entries
from bot.publish.feedmeta import FORMATS, FeedMeta, Format, meta_urls, section_meta
from bot.publish.formats import GENERATOR, WRITERS, atom_bytes, json_bytes, rss_bytes
from bot.publish.sanitize import plain_text

MAX_FEED_BYTES = 1 << 20


def render_rss(
    meta: FeedMeta, items: Sequence[Item], public_url: str, *, self_url: str | None = None
) -> bytes:
    """RSS 2.0 with atom:link rel=self, <language>, isPermaLink=false guids, +0700 pubDates."""
    self_url = self_url or meta_urls(public_url, meta)["rss"]
    return _fit(lambda entries: rss_bytes(meta, entries, self_url), make_entries(meta, items))


def render_atom(
    meta: FeedMeta, items: Sequence[Item], public_url: str, *, self_url: str | None = None
) -> bytes:
    """Atom 1.0 with xml:lang, a feed-level author, urn ids and RFC 3339 dates."""
    self_url = self_url or meta_urls(public_url, meta)["atom"]
    return _fit(lambda entries: atom_bytes(meta, entries, self_url), make_entries(meta, items))


def render_json(
    meta: FeedMeta, items: Sequence[Item], public_url: str, *, self_url: str | None = None
) -> bytes:
    """JSON Feed 1.1 (https://jsonfeed.org/version/1.1)."""
    self_url = self_url or meta_urls(public_url, meta)["json"]
    return _fit(lambda entries: json_bytes(meta, entries, self_url), make_entries(meta, items))


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
    entries = make_entries(meta, items)
    urls = meta_urls(public_url, meta)
    return {fmt: _fit(partial(WRITERS[fmt], meta, self_url=urls[fmt]), entries)
            for fmt in FORMATS}  # fmt: skip


def _fit(render: Callable[[list[Entry]], bytes], entries: list[Entry]) -> bytes:
    """Render, dropping the oldest entries until the feed is at most MAX_FEED_BYTES."""
    body = render(entries)
    while len(body) > MAX_FEED_BYTES and entries:
        keep = min(len(entries) - 1, int(len(entries) * MAX_FEED_BYTES / len(body) * 0.95))
        entries = entries[: max(keep, 0)]
        body = render(entries)
    return body
