"""One poll of one feed, top to bottom: fetch, scrape, diff and store, publish, announce.

`poll_source` is the only place that knows the whole flow (miniflux's RefreshFeed). Every step it
calls takes values and returns values; the I/O edges (fetcher, store, files) come in `PollDeps`.
A failure at any step leaves what is stored and published as it was.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from bot import detect, diff, dom, filters, scrape
from bot.errors import FetchError, NewsbotError, ScrapeError
from bot.fetch import next_delay
from bot.model import (
    CacheHeaders,
    FeedHealth,
    FetchResult,
    Item,
    PollOutcome,
    PollReport,
    Recipe,
    ScrapeResult,
)
from bot.publish import FeedMeta, write_feeds
from bot.store import Store

log = logging.getLogger(__name__)

ALL_FEED = "all"
MAX_ARTICLE_FETCHES = 10  # per poll: enriching a backlog must not hammer the site


class PageFetcher(Protocol):
    async def fetch(self, url: str, cache: CacheHeaders | None = None) -> FetchResult: ...


Route = Callable[[Item], Iterable[tuple[int, str | None]]]


@dataclass
class PollDeps:
    """The I/O a poll needs, and the policy it follows."""

    store: Store
    fetcher: PageFetcher
    public_dir: Path | None  # None: do not write feed files
    public_url: str
    feeds: Mapping[str, Recipe]
    interval: timedelta = timedelta(minutes=10)
    max_backoff: timedelta = timedelta(hours=6)
    alert_after_failures: int = 3
    max_age: timedelta = timedelta(days=3)
    announce: bool = True  # False: nobody to tell (no Telegram); items are still stored
    alert: Callable[[str], None] = field(default=lambda message: None)
    rng: random.Random = field(default_factory=random.Random)


async def poll_source(recipe: Recipe, deps: PollDeps, now: datetime) -> PollReport:
    """Fetch the recipe's pages, store what is new, republish, and queue announcements."""
    store = deps.store
    health = store.health(recipe.feed_id)
    try:
        pages = await fetch_pages(recipe, deps.fetcher, health.cache)
        if pages is None:
            _save_success(recipe, deps, health, now, cache=health.cache, max_age=None)
            return PollReport(recipe.feed_id, "not_modified")
        found = [_scrape_page(page, recipe, now) for page in pages]
        items = diff.oldest_first([item for result in found for item in result.items])
        warnings = tuple(w for result in found for w in result.warnings)
        items = await enrich_new_items(recipe, items, deps, now)
        route = route_for(recipe, deps, now) if health.seeded and deps.announce else None
        new_items = store.add_items(recipe.feed_id, items, now, route=route)
        publish_feed(recipe, deps)
    except NewsbotError as exc:
        return _record_failure(recipe, deps, health, exc, now)
    _save_success(recipe, deps, health, now, cache=pages[0].cache, max_age=pages[0].max_age)
    outcome: PollOutcome = "new" if new_items else "unchanged"
    seeded = not health.seeded
    return PollReport(recipe.feed_id, outcome, tuple(new_items), seeded=seeded, warnings=warnings)


async def preview_source(recipe: Recipe, deps: PollDeps, now: datetime) -> PollReport:
    """What a poll would find, without storing, publishing or announcing anything (`--dry-run`)."""
    try:
        pages = await fetch_pages(recipe, deps.fetcher, CacheHeaders())
        assert pages is not None  # an unconditional fetch is never a 304
        found = [_scrape_page(page, recipe, now) for page in pages]
    except NewsbotError as exc:
        return PollReport(recipe.feed_id, "failed", error=str(exc))
    items = diff.oldest_first([item for result in found for item in result.items])
    known = deps.store.known_ids(recipe.feed_id, [item.item_id for item in items])
    new_items = tuple(diff.select_new(items, known))
    warnings = tuple(w for result in found for w in result.warnings)
    outcome: PollOutcome = "new" if new_items else "unchanged"
    seeded = not deps.store.health(recipe.feed_id).seeded
    return PollReport(recipe.feed_id, outcome, new_items, seeded=seeded, warnings=warnings)


async def fetch_pages(
    recipe: Recipe, fetcher: PageFetcher, cache: CacheHeaders
) -> list[FetchResult] | None:
    """Every listing page of a recipe; None when the (single) page has not changed."""
    # Validators are kept for one URL only: a multi-page recipe re-reads every page each poll.
    conditional = cache if len(recipe.urls) == 1 else None
    pages = [await fetcher.fetch(url, conditional) for url in recipe.urls]
    if len(pages) == 1 and pages[0].not_modified:
        return None
    return pages


def _scrape_page(page: FetchResult, recipe: Recipe, now: datetime) -> ScrapeResult:
    html = dom.decode_html(page.body, page.content_type)
    if recipe.rules is not None:
        try:
            return scrape.scrape(html, page.url, recipe, now)
        except ScrapeError:
            if recipe.rules.fallback != "auto":
                raise
            return _detect(html, page.url, recipe, now, why="the recipe's selectors matched nothing")
    return _detect(html, page.url, recipe, now, why="")


def _detect(html: str, url: str, recipe: Recipe, now: datetime, *, why: str) -> ScrapeResult:
    candidates = detect.detect_lists(html, url, now=now, tz=recipe.timezone, limit=1)
    if not candidates:
        raise ScrapeError(
            f"{recipe.feed_id}: no list of articles found on {url}",
            hint="has the markup changed? try `newsbot detect URL --all`",
        )
    best = candidates[0]
    items = tuple(
        replace(
            item,
            feed_id=recipe.feed_id,
            item_id=diff.item_id(
                item.url,
                title=item.title,
                published_at=item.published_at,
                id_pattern=recipe.id_pattern,
            ),
        )
        for item in best.items
    )
    warnings = (f"{recipe.feed_id}: {why}; auto-detected list {best.rules.item!r}",) if why else ()
    return ScrapeResult(items, warnings)


async def enrich_new_items(
    recipe: Recipe, items: Sequence[Item], deps: PollDeps, now: datetime
) -> list[Item]:
    """Fill content, date, author and image of new items from their own pages, when asked to."""
    if recipe.article is None:
        return list(items)
    known = deps.store.known_ids(recipe.feed_id, [item.item_id for item in items])
    budget = MAX_ARTICLE_FETCHES
    enriched = []
    for item in items:
        if item.item_id not in known and budget > 0:
            budget -= 1
            item = await _enrich(item, recipe, deps.fetcher, now)
        enriched.append(item)
    return enriched


async def _enrich(item: Item, recipe: Recipe, fetcher: PageFetcher, now: datetime) -> Item:
    try:
        page = await fetcher.fetch(item.url)
    except FetchError as exc:
        # The listing already gave title and link: an unreachable article must not block the item.
        log.info("%s: article %s not fetched: %s", recipe.feed_id, item.url, exc)
        return item
    html = dom.decode_html(page.body, page.content_type)
    info = scrape.scrape_article(html, page.url, recipe.article, tz=recipe.timezone, now=now)
    return replace(
        item,
        content=info.content_html or item.content,
        published_at=item.published_at or info.published_at,
        author=info.author or item.author,
        image=item.image or info.image,
    )


def route_for(recipe: Recipe, deps: PollDeps, now: datetime) -> Route:
    """Who gets each new item: subscribers whose filters pass it, if it is recent enough."""
    subscribers = deps.store.subscribers_of(recipe.feed_id)
    oldest = now - deps.max_age

    def route(item: Item) -> Iterable[tuple[int, str | None]]:
        date = item.published_at
        if date is not None and date < oldest:
            return
        text = filters.item_text(item)
        for subscription in subscribers:
            matched = filters.matched_keyword(subscription.filter, text)
            if matched is not None:
                yield subscription.chat_id, matched or None

    return route


def feed_meta(recipe: Recipe) -> FeedMeta:
    return FeedMeta(
        feed_id=recipe.feed_id,
        title=recipe.title,
        site_url=recipe.urls[0],
        language=recipe.language,
        timezone=recipe.timezone,
    )


def all_meta(feeds: Mapping[str, Recipe]) -> FeedMeta:
    languages = {recipe.language for recipe in feeds.values()} or {"vi"}
    return FeedMeta(
        feed_id=ALL_FEED,
        title="newsbot: " + ", ".join(recipe.title for recipe in feeds.values()),
        site_url=next((recipe.urls[0] for recipe in feeds.values()), "http://localhost/"),
        language=languages.pop() if len(languages) == 1 else "vi",
    )


def publish_feed(recipe: Recipe, deps: PollDeps) -> None:
    """Rewrite the feed's files and the `all` feed from what is stored (unchanged bytes: untouched)."""
    if deps.public_dir is None:
        return
    store = deps.store
    items = store.items(recipe.feed_id, limit=recipe.max_items)
    write_feeds(deps.public_dir, feed_meta(recipe), items, deps.public_url)
    everything = store.items(None, limit=max((r.max_items for r in deps.feeds.values()), default=50))
    write_feeds(deps.public_dir, all_meta(deps.feeds), everything, deps.public_url)


def _save_success(
    recipe: Recipe,
    deps: PollDeps,
    health: FeedHealth,
    now: datetime,
    *,
    cache: CacheHeaders,
    max_age: float | None,
) -> None:
    recovered = health.consecutive_failures >= deps.alert_after_failures
    if recovered:
        deps.alert(f"✅ {health.feed_id}: polling works again (after {health.consecutive_failures} failures)")
    delay = next_delay(
        (recipe.interval or deps.interval).total_seconds(),
        0,
        max_age=max_age,
        cap=deps.max_backoff.total_seconds(),
        rng=deps.rng,
    )
    deps.store.save_health(
        replace(
            health,
            last_poll_at=now,
            last_success_at=now,
            last_error=None,
            consecutive_failures=0,
            next_poll_at=now + timedelta(seconds=delay),
            cache=cache,
            seeded=True,
        )
    )


def _record_failure(
    recipe: Recipe, deps: PollDeps, health: FeedHealth, exc: NewsbotError, now: datetime
) -> PollReport:
    failures = health.consecutive_failures + 1
    retry_after = exc.retry_after if isinstance(exc, FetchError) else None
    delay = next_delay(
        (recipe.interval or deps.interval).total_seconds(),
        failures,
        retry_after=retry_after,
        cap=deps.max_backoff.total_seconds(),
        rng=deps.rng,
    )
    is_markup = isinstance(exc, ScrapeError)
    if failures == deps.alert_after_failures or (is_markup and health.last_error != str(exc)):
        deps.alert(f"⚠️ {recipe.feed_id}: {exc}")
    deps.store.save_health(
        replace(
            health,
            last_poll_at=now,
            last_error=str(exc),
            consecutive_failures=failures,
            next_poll_at=now + timedelta(seconds=delay),
        )
    )
    log.warning("%s: poll failed (%d in a row): %s", recipe.feed_id, failures, exc)
    return PollReport(recipe.feed_id, "failed", error=str(exc))
