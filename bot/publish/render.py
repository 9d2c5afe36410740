"""Render items as RSS 2.0, Atom 1.0, JSON Feed 1.1 and OPML.

Pure: same input => byte-identical output; no "now" anywhere, the feed's build date is the newest
item change. Each item is cleaned once (bot.publish.entries), written by each format
(bot.publish.formats), and a feed past MAX_FEED_BYTES drops its oldest items. Files are
bot.publish.files' business.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from bot import opml
from bot.model import Item
from bot.opml import Outline
from bot.publish.entries import Entry, make_entries
from bot.publish.feedmeta import FeedMeta, Format, meta_urls, section_meta
from bot.publish.formats import (
    GENERATOR,
    atom_bytes,
    atom_document,
    atom_entry,
    atom_updated,
    json_bytes,
    json_document,
    json_item,
    rss_bytes,
    rss_document,
    rss_item,
)
from bot.publish.sanitize import plain_text

MAX_FEED_BYTES = 1 << 20
E = TypeVar("E")


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
    """RSS, Atom and JSON of one feed, each item cleaned and written once for all three and kept
    for the feed's next write (`RenderedItems`)."""
    rendered = _RENDERED.of_feed(meta, items)
    urls = meta_urls(public_url, meta)
    return {
        "rss": _fit(lambda kept: rss_document(meta, kept, urls["rss"], [r.rss for r in kept]),
                    rendered),
        "atom": _fit(lambda kept: _atom(meta, kept, urls["atom"]), rendered),
        "json": _fit(lambda kept: json_document(meta, urls["json"], [r.json for r in kept]),
                     rendered),
    }  # fmt: skip


def _atom(meta: FeedMeta, kept: Sequence[RenderedItem], self_url: str) -> bytes:
    updated = atom_updated(meta, kept)
    # An entry with no date of its own takes the feed's, which depends on the other entries.
    items = [r.atom if r.undated is None else atom_entry(r.undated, updated).encode()
             for r in kept]  # fmt: skip
    return atom_document(meta, updated, self_url, items)


@dataclass(frozen=True)
class RenderedItem:
    """An item as each format writes it (UTF-8), and the dates the feed's build date is made
    of. `undated`: the cleaned entry of an item with no date, whose Atom entry takes the feed's
    (then `atom` is empty)."""

    published_at: datetime | None
    changed_at: datetime | None
    rss: bytes
    atom: bytes
    json: bytes
    undated: Entry | None

    @classmethod
    def of(cls, meta: FeedMeta, item: Item) -> RenderedItem:
        [entry] = make_entries(meta, [item])
        undated = entry if entry.updated_at is None else None
        atom = b"" if entry.updated_at is None else atom_entry(entry, entry.updated_at).encode()
        return cls(entry.published_at, entry.changed_at, rss_item(meta, entry).encode(), atom,
                   json_item(entry).encode(), undated)


class RenderedItems:
    """Each feed's items as last rendered, so a changed poll renders only its new or edited items.

    Kept per feed id for the items of its last write only (and the FeedMeta they were rendered
    under; another meta starts afresh), at most MAX_FEEDS feeds, the least recently written
    dropped first. Memory: the three formats' bytes (about the size of the feed's files) and the
    Item itself, the key: 118 KB for the 20 items of the real gov.vn listing (tracemalloc; its
    files are 60 KB), so ~120 MB for 1,000 such feeds, plus the `all` feed's and sections'.
    Rendering is pure, so a kept rendering equals a fresh one: the key is the whole Item (every
    field, by value) and the FeedMeta.
    """

    MAX_FEEDS = 2_000

    def __init__(self) -> None:
        self._feeds: dict[str, tuple[FeedMeta, dict[Item, RenderedItem]]] = {}

    def of_feed(self, meta: FeedMeta, items: Sequence[Item]) -> list[RenderedItem]:
        before_meta, before = self._feeds.pop(meta.feed_id, (meta, {}))
        kept = before if before_meta == meta else {}
        now = {item: kept.get(item) or RenderedItem.of(meta, item) for item in items}
        self._feeds[meta.feed_id] = (meta, now)
        while len(self._feeds) > self.MAX_FEEDS:
            del self._feeds[next(iter(self._feeds))]
        return [now[item] for item in items]


_RENDERED = RenderedItems()


def _fit(render: Callable[[list[E]], bytes], entries: list[E]) -> bytes:
    """Render, dropping the oldest entries until the feed is at most MAX_FEED_BYTES."""
    body = render(entries)
    while len(body) > MAX_FEED_BYTES and entries:
        keep = min(len(entries) - 1, int(len(entries) * MAX_FEED_BYTES / len(body) * 0.95))
        entries = entries[: max(keep, 0)]
        body = render(entries)
    return body
