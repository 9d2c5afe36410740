"""What a feed says about itself and where it lives: FeedMeta (the one feed type of the publish
wing), the `all` feed, a section's own feed, and the feed's public URLs and stable ids."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from urllib.parse import quote

from bot.model import DEFAULT_TIMEZONE, Section

Format = Literal["rss", "atom", "json"]
FORMATS: tuple[Format, ...] = ("rss", "atom", "json")
EXTENSIONS: dict[Format, str] = {"rss": "xml", "atom": "atom", "json": "json"}
ALL_FEED = "all"  # the feed of every feed's items
ALL_FEED_TITLES = {"vi": "newsbot: tất cả nguồn tin", "en": "newsbot: all sources"}
# RFC 8141 NSS characters allowed unescaped (no '?', '#', '%', spaces, non-ASCII).
_URN_SAFE = "!$&'()*+,;=:@/-._~"


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
