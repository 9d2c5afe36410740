"""A feed URL's query, `?include=a,b&exclude=c&limit=20` (q= = include; `type:quyết định`,
`section:thong bao` test those fields): parsed, normalised, and the items the feed then shows;
and what the web reads from the store, as protocols (bot.store.db.Store satisfies all three)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable
from urllib.parse import urlencode

from bot.errors import KeywordError
from bot.filters import item_matches, parse_keywords
from bot.model import FeedHealth, Item, KeywordFilter
from bot.publish.feedmeta import FeedMeta
from bot.search import SCAN_LIMIT

DEFAULT_LIMIT = 50
MAX_LIMIT = 50  # reliability plan D10: at most 50 items per feed
FILTER_WINDOW = 500  # items scanned for a filtered feed
MAX_QUERY = 2048


class FeedSource(Protocol):
    """What the web needs from the store (bot.store.db.Store satisfies it)."""

    def items(
        self, feed_id: str | None = None, *, limit: int = 50, section: str | None = None
    ) -> list[Item]: ...

    def last_change_at(self, feed_id: str | None = None) -> datetime | None: ...


@runtime_checkable
class HealthSource(Protocol):
    """A FeedSource that knows how each feed's polling goes (bot.store.db.Store does): the
    index page then says it in words, and an empty feed says why it is empty."""

    def all_health(self) -> list[FeedHealth]: ...


@runtime_checkable
class Searchable(Protocol):
    """A FeedSource that can search (bot.store.db.Store can); /search answers 404 without it."""

    def search(
        self,
        phrases: Sequence[str],
        feed_ids: Iterable[str] | None = None,
        *,
        limit: int = 5,
        offset: int = 0,
        scan: int = SCAN_LIMIT,
    ) -> list[Item]: ...


class BadQuery(ValueError):
    """A feed URL's query string is unusable; the message is shown to the client (400)."""


@dataclass(frozen=True)
class FeedQuery:
    """Filters from a feed URL, normalised so equal filters share one cache entry."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    limit: int = DEFAULT_LIMIT

    @property
    def filtered(self) -> bool:
        return bool(self.include or self.exclude)

    def query_string(self) -> str:
        """Canonical query for the feed's self link ('' when unfiltered)."""
        params = [("include", ",".join(self.include)), ("exclude", ",".join(self.exclude))]
        pairs = [(name, value) for name, value in params if value]
        if self.limit != DEFAULT_LIMIT:
            pairs.append(("limit", str(self.limit)))
        return "?" + urlencode(pairs) if pairs else ""


def parse_feed_query(params: Mapping[str, str], raw_query: str = "") -> FeedQuery:
    """include/q, exclude, limit -> FeedQuery; BadQuery (400) with the reason otherwise."""
    if len(raw_query) > MAX_QUERY:
        raise BadQuery(f"query string too long (at most {MAX_QUERY} characters)")
    try:
        include = parse_keywords(",".join([params.get("q", ""), params.get("include", "")]))
        exclude = parse_keywords(params.get("exclude", ""))
    except KeywordError as exc:
        raise BadQuery(f"bad keyword filter: {exc}") from exc
    return FeedQuery(include, exclude, _limit(params.get("limit")))


def _limit(text: str | None) -> int:
    if text is None or not text.strip():
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}") from None
    if value < 1:
        raise BadQuery(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return min(value, MAX_LIMIT)


def select_items(
    source: FeedSource, feed_id: str | None, query: FeedQuery, meta: FeedMeta | None = None
) -> list[Item]:
    """The items a feed URL shows: newest first, filtered, at most query.limit; `meta` of a
    section's feed keeps that section, and names sections for `section:` keywords."""
    section = meta.section if meta is not None else None

    def newest(limit: int) -> list[Item]:
        if section is None:  # sources without sections keep working
            return source.items(feed_id, limit=limit)
        return source.items(feed_id, limit=limit, section=section)

    if not query.filtered:
        return newest(query.limit)
    kf = KeywordFilter(include=query.include, exclude=query.exclude)
    names = {s.section_id: s.name for s in meta.sections} if meta is not None else {}
    kept = [
        item
        for item in newest(FILTER_WINDOW)
        if item_matches(kf, item, names.get(item.section or ""))
    ]
    return kept[: query.limit]
