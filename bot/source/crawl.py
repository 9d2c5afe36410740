"""A recipe's pages fetched and read for one poll: its listing pages, further pages until a
known item shows up, and the article pages of new items.

The fetcher comes in as a protocol (bot.source.fetch.Fetcher, or a test's); what is known comes in
as a function (the store's `known_ids`): this module reads pages, it stores nothing.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from bot import documents
from bot.errors import FetchError, NewsbotError
from bot.health import describe
from bot.model import CacheHeaders, FetchResult, Item, Recipe
from bot.source.listing import (
    Listing,
    combine,
    in_section,
    live_sections,
    next_page_url,
    read_article,
    scrape_page,
)

log = logging.getLogger(__name__)

MAX_ARTICLE_FETCHES = 10  # per poll: enriching a backlog must not hammer the site
MAX_PAGES = 5  # listing pages read in one poll when a burst of news pushes known items further


class PageFetcher(Protocol):
    """Fetches `url` for the recipe whose URLs are `recipe_urls` (bot.source.fetch.Fetcher):
    which addresses it may reach depends on them."""

    async def fetch(
        self, url: str, cache: CacheHeaders | None = None, *, recipe_urls: Sequence[str] = ()
    ) -> FetchResult: ...



async def fetch_pages(
    recipe: Recipe, fetcher: PageFetcher, cache: CacheHeaders | None
) -> list[FetchResult]:
    """Every listing page of a recipe, in recipe order.

    Sections: the first page is the feed's main one and fails the poll as a single page does;
    a later section that cannot be fetched is logged and stands in as "not modified", so that
    one broken section does not stop the others.
    """
    sections = live_sections(recipe)
    # Validators are kept for one URL only: a multi-page recipe re-reads every page each poll,
    # except a sectioned one, whose main page keeps them.
    conditional = cache if len(recipe.urls) == 1 or sections else None
    pages = [await fetcher.fetch(recipe.urls[0], conditional, recipe_urls=recipe.urls)]
    for url in recipe.urls[1:]:
        try:
            pages.append(await fetcher.fetch(url, recipe_urls=recipe.urls))
        except FetchError as exc:
            if not sections:
                raise
            log.warning("%s: section %s skipped: %s", recipe.feed_id, url, exc)
            pages.append(FetchResult(url=url, status=304))
    return pages


def is_not_modified(pages: Sequence[FetchResult]) -> bool:
    return all(page.not_modified for page in pages)


def pages_fingerprint(recipe: Recipe, pages: Sequence[FetchResult]) -> bytes:
    """sha256 of what a poll's result depends on: the recipe, and each page's URL, type and body."""
    digest = hashlib.sha256(repr(recipe).encode())
    for page in pages:
        digest.update(f"\0{page.url}\0{page.content_type}\0{len(page.body)}\0".encode())
        digest.update(page.body)
    return digest.digest()


async def page_back_to_known(
    recipe: Recipe,
    fetcher: PageFetcher,
    known_ids: Callable[[Sequence[str]], set[str]],
    page: FetchResult,
    listing: Listing,
    now: datetime,
) -> tuple[Listing, set[str]]:
    """Nothing known on the page: follow the recipe's `next_page` links (at most MAX_PAGES pages
    in all) until a known item shows up, so that a burst of news is read whole."""
    rules = recipe.rules
    if rules is None or rules.next_page is None or listing.auto_detected:
        return listing, set()
    visited = {page.url}
    for _ in range(MAX_PAGES - 1):
        url = next_page_url(page, rules.next_page)
        if url is None or url in visited:
            break
        visited.add(url)
        try:
            page = await fetcher.fetch(url, recipe_urls=recipe.urls)
            more = scrape_page(page, recipe, now)
            if sections := live_sections(recipe):  # the last section's next pages
                more = in_section(more, sections[-1].section_id)
        except NewsbotError as exc:  # what was read stays good; the gap alert tells the rest
            log.warning("%s: next page %s not read: %s", recipe.feed_id, url, exc)
            break
        known = known_ids(more.ids)
        listing = combine([listing, replace(more, paged_to_known=bool(known))])
        if known:
            return listing, known
    return listing, set()


async def enrich_new_items(
    recipe: Recipe, items: Sequence[Item], known: set[str], fetcher: PageFetcher, now: datetime
) -> tuple[list[Item], tuple[str, ...]]:
    """Fill content, date, author and image of new items from their own pages, when asked to;
    also the warnings for articles that could not be read (their items are kept as listed)."""
    if recipe.article is None:
        return list(items), ()
    budget = MAX_ARTICLE_FETCHES
    enriched, warnings = [], []
    for item in items:
        if item.item_id not in known and budget > 0:
            budget -= 1
            try:
                item = await _enrich(item, recipe, fetcher, now)
            except Exception as exc:  # one article page must never block the listing
                log.warning("%s: article %s not read, item kept without it", recipe.feed_id,
                            item.url, exc_info=exc)
                warnings.append(f"article {item.url} not read ({describe(exc)}): "
                                "item stored without its content")
        enriched.append(item)
    return enriched, tuple(warnings)


async def _enrich(item: Item, recipe: Recipe, fetcher: PageFetcher, now: datetime) -> Item:
    assert recipe.article is not None  # enrich_new_items asks only then
    try:
        page = await fetcher.fetch(item.url, recipe_urls=recipe.urls)
    except FetchError as exc:
        # The listing already gave title and link: an unreachable article is no news.
        log.info("%s: article %s not fetched: %s", recipe.feed_id, item.url, exc)
        return item
    info = read_article(page, recipe, now)
    return replace(
        item,
        content=info.content_html or item.content,
        published_at=item.published_at or info.published_at,
        author=info.author or item.author,
        image=item.image or info.image,
        attachments=documents.merge_attachments(item.attachments, info.attachments),
    )
