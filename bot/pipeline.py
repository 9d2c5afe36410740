"""One poll of one feed, top to bottom: fetch, scrape, diff and store, publish, announce.

`poll_source` is the only place that knows the whole flow (miniflux's RefreshFeed). Every step it
calls takes values and returns values; the I/O edges (fetcher, store, files) come in `PollDeps`.
A failure at any step leaves what is stored and published as it was, and no exception of any
type escapes a poll: an unexpected one (a bug, a page that trips a library) is a failed poll like
any other, with backoff and one admin alert. A new item whose article page cannot be read is
stored with what the listing gave, and a warning.

Diff semantics: a feed's first successful poll stores what it finds silently; later polls queue
new items oldest first. An item is new once: ids survive http/https and tracking parameters
(`diff.item_id`) and stored ids are kept, so an item that drops off the page and returns is not
new. Two guards protect subscribers from a page that suddenly looks different: an auto-detected
list that shares no item with the feed's history is a ScrapeError ("has the markup changed?"),
and a flood of unseen items on a feed with history is stored and published but not announced.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from bot import diff, documents, filters
from bot.backoff import next_delay
from bot.errors import FetchError, NewsbotError, ScrapeError, StoreError
from bot.failpoints import failpoint
from bot.model import (
    CacheHeaders,
    FeedHealth,
    FetchResult,
    Item,
    PollOutcome,
    PollReport,
    Recipe,
)
from bot.publish.feedmeta import FORMATS, FeedMeta, all_feed_meta, section_meta
from bot.publish.files import feed_path, is_whole, remove_feed_files, write_feeds
from bot.schema import Config
from bot.source.listing import (
    Listing,
    check_detected_list,
    combine,
    in_section,
    live_sections,
    next_page_url,
    read_article,
    read_listing,
    scrape_page,
)
from bot.store.db import Store

log = logging.getLogger(__name__)

ALL_FEED = "all"
MAX_ARTICLE_FETCHES = 10  # per poll: enriching a backlog must not hammer the site
FLOOD_MIN_ITEMS = 5  # flood guard: more unseen items than max(this, FLOOD_SHARE of the page)...
FLOOD_SHARE = 0.5  # ...on a feed with history are held back (a redesign that changed every URL)
MAX_PAGES = 5  # listing pages read in one poll when a burst of news pushes known items further
MAX_ERROR_CHARS = 300  # an unexpected error's text in health, alerts and reports


class PageFetcher(Protocol):
    """Fetches `url` for the recipe whose URLs are `recipe_urls` (bot.source.fetch.Fetcher):
    which addresses it may reach depends on them."""

    async def fetch(
        self, url: str, cache: CacheHeaders | None = None, *, recipe_urls: Sequence[str] = ()
    ) -> FetchResult: ...


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
    # Some servers answer 304 forever although the page changed (TT-RSS refetches every 12 h).
    full_fetch_every: timedelta = timedelta(hours=12)
    announce: bool = True  # False: nobody to tell (no Telegram); items are still stored
    alert: Callable[[str], None] = field(default=lambda message: None)
    rng: random.Random = field(default_factory=random.Random)
    # feed id -> fingerprint of its last successful poll's pages (this process only): a server
    # that sends no validators but the same bytes costs a hash, not a parse.
    last_pages: dict[str, bytes] = field(default_factory=dict)
    # feed ids whose last publish failed after their items were stored: the next poll rewrites
    # their files even though the store did not change.
    unpublished: set[str] = field(default_factory=set)
    # True: a poll marks the `all` feed stale and `publish_all` writes it later (the daemon once
    # per tick, `newsbot poll` at the end), instead of rendering every feed's items after each
    # poll: with 1,000 feeds that was 40 % of the CPU of a polling cycle.
    defer_all: bool = False
    all_stale: bool = False

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        store: Store,
        fetcher: PageFetcher,
        feeds: Mapping[str, Recipe],
        alert: Callable[[str], None],
    ) -> PollDeps:
        """The deps the daemon and `newsbot poll` share: policy from the config file."""
        return cls(
            store=store,
            fetcher=fetcher,
            public_dir=config.public_dir,
            public_url=config.server.public_url,
            feeds=feeds,
            interval=config.schedule.interval,
            max_backoff=config.schedule.max_backoff,
            alert_after_failures=config.schedule.alert_after_failures,
            max_age=config.telegram.max_age,
            announce=bool(config.token),  # no bot: nobody to queue messages for
            alert=alert,
            defer_all=True,  # the `all` feed by `publish_all`, once per tick / after the polls
        )

    def __post_init__(self) -> None:
        # A new process cannot know whether the last one died between a poll's commit and its
        # publish (kill -9, power loss): each feed's first poll rewrites its files (identical
        # bytes are left untouched).
        self.unpublished.update(self.feeds)


async def poll_source(recipe: Recipe, deps: PollDeps, now: datetime) -> PollReport:
    """Fetch the recipe's pages, store what is new, republish, and queue announcements.

    Never raises (cancellation aside): whatever goes wrong is a failed poll, recorded with backoff.
    """
    try:
        return await _poll(recipe, deps, now)
    except Exception as exc:  # a bug must not stall the feed: retried, with backoff, alerted once
        log.error("%s: poll crashed", recipe.feed_id, exc_info=exc)
        try:
            return _record_crash(recipe, deps, exc, now)
        except Exception as record_exc:  # nowhere to record it: the scheduler's backoff applies
            log.error("%s: poll failure not recorded: %s", recipe.feed_id, _describe(record_exc))
            return PollReport(recipe.feed_id, "failed", error=_describe(exc))


async def _poll(recipe: Recipe, deps: PollDeps, now: datetime) -> PollReport:
    store = deps.store
    health = store.health(recipe.feed_id)
    try:
        pages = await fetch_pages(recipe, deps.fetcher, cache_to_send(health, now, deps))
        failpoint("after_fetch")
        if is_not_modified(pages):
            await publish_pending(recipe, deps)
            _save_success(recipe, deps, health, now, pages[0])
            return PollReport(recipe.feed_id, "not_modified")
        fingerprint = pages_fingerprint(recipe, pages)
        if deps.last_pages.get(recipe.feed_id) == fingerprint:
            await publish_pending(recipe, deps)
            _save_success(recipe, deps, health, now, pages[0])
            return PollReport(recipe.feed_id, "unchanged")
        deps.last_pages.pop(recipe.feed_id, None)  # set again only if this poll succeeds
        # Parsing is the poll's longest step (~10 ms of CPU): in a thread, the event loop stays
        # free to pace Telegram sends on time (the GIL is handed over every 5 ms at most).
        listing = await asyncio.to_thread(read_listing, pages, recipe, now)
        known = store.known_ids(recipe.feed_id, listing.ids)
        check_detected_list(listing, known, health, recipe)
        if health.seeded and not known:
            listing, known = await page_back_to_known(recipe, deps, pages[-1], listing, now)
        items = diff.oldest_first(listing.items)
        unseen = diff.select_new(items, known)
        flood = is_flood(health, len(unseen), len(items)) and not listing.paged_to_known
        items, enrich_warnings = await enrich_new_items(recipe, items, known, deps, now)
        announcing = health.seeded and deps.announce and not flood
        route = route_for(recipe, deps, now) if announcing else None
        changed_before = store.last_change_at(recipe.feed_id)
        new_items = store.add_items(recipe.feed_id, items, now, route=route)
        failpoint("after_commit_before_send")
        changed = store.last_change_at(recipe.feed_id) != changed_before
        if changed:
            deps.unpublished.add(recipe.feed_id)  # until the files are written
        await publish_pending(recipe, deps)
    except NewsbotError as exc:
        return _record_failure(recipe, deps, health, exc, now)
    _alert_surprises(recipe, deps, health, listing, new_items, flood=flood)
    if new_items:  # the flood guard's mark says what happened to the latest new items
        health = replace(health, held_back_at=now if flood else None,
                         held_back_items=len(new_items) if flood else 0)
    try:
        _save_success(recipe, deps, health, now, pages[0])
    except StoreError as exc:  # e.g. the disk filled after the commit: back off like a failure
        return _record_failure(recipe, deps, health, exc, now)
    deps.last_pages[recipe.feed_id] = fingerprint
    outcome: PollOutcome = "new" if new_items else "unchanged"
    return PollReport(recipe.feed_id, outcome, tuple(new_items), seeded=not health.seeded,
                      warnings=listing.warnings + enrich_warnings, flood=flood, changed=changed)


async def preview_source(recipe: Recipe, deps: PollDeps, now: datetime) -> PollReport:
    """What a poll would find, without storing, publishing or announcing anything (`--dry-run`)."""
    health = deps.store.health(recipe.feed_id)
    try:
        pages = await fetch_pages(recipe, deps.fetcher, None)
        listing = read_listing(pages, recipe, now)
        known = deps.store.known_ids(recipe.feed_id, listing.ids)
        check_detected_list(listing, known, health, recipe)
    except NewsbotError as exc:
        return PollReport(recipe.feed_id, "failed", error=str(exc))
    new_items = tuple(diff.select_new(diff.oldest_first(listing.items), known))
    outcome: PollOutcome = "new" if new_items else "unchanged"
    return PollReport(recipe.feed_id, outcome, new_items, seeded=not health.seeded,
                      warnings=listing.warnings,
                      flood=is_flood(health, len(new_items), len(listing.items)))


# --- fetching ----------------------------------------------------------------------------------


def cache_to_send(health: FeedHealth, now: datetime, deps: PollDeps) -> CacheHeaders | None:
    """The validators for a conditional GET; None when an unconditional one is due."""
    last = health.last_full_fetch_at
    if last is None or now - last >= deps.full_fetch_every:
        return None
    return health.cache


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


# --- reading further pages ---------------------------------------------------------------------


async def page_back_to_known(
    recipe: Recipe, deps: PollDeps, page: FetchResult, listing: Listing, now: datetime
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
            page = await deps.fetcher.fetch(url, recipe_urls=recipe.urls)
            more = scrape_page(page, recipe, now)
            if sections := live_sections(recipe):  # the last section's next pages
                more = in_section(more, sections[-1].section_id)
        except NewsbotError as exc:  # what was read stays good; the gap alert tells the rest
            log.warning("%s: next page %s not read: %s", recipe.feed_id, url, exc)
            break
        known = deps.store.known_ids(recipe.feed_id, more.ids)
        listing = combine([listing, replace(more, paged_to_known=bool(known))])
        if known:
            return listing, known
    return listing, set()


def is_flood(health: FeedHealth, unseen: int, on_page: int) -> bool:
    """Too many unseen items at once on a feed with history: store them, announce none."""
    return health.seeded and unseen > max(FLOOD_MIN_ITEMS, on_page * FLOOD_SHARE)


# --- enriching and routing ---------------------------------------------------------------------


async def enrich_new_items(
    recipe: Recipe, items: Sequence[Item], known: set[str], deps: PollDeps, now: datetime
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
                item = await _enrich(item, recipe, deps.fetcher, now)
            except Exception as exc:  # one article page must never block the listing
                log.warning("%s: article %s not read, item kept without it", recipe.feed_id,
                            item.url, exc_info=exc)
                warnings.append(f"article {item.url} not read ({_describe(exc)}): "
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


def route_for(recipe: Recipe, deps: PollDeps, now: datetime) -> Route:
    """Who gets each new item: subscribers whose filters pass it, if it is recent enough."""
    subscribers = deps.store.subscribers_of(recipe.feed_id)
    oldest = now - deps.max_age
    section_names = {section.section_id: section.name for section in recipe.sections}

    def route(item: Item) -> Iterable[tuple[int, str | None]]:
        failpoint("after_diff_before_commit")
        date = item.published_at
        if date is not None and date < oldest:
            return
        text = filters.item_text(item)
        facets = filters.item_facets(item, section_names.get(item.section or ""))
        for subscription in subscribers:
            matched = filters.matched_keyword(subscription.filter, text, facets)
            if matched is not None:
                yield subscription.chat_id, matched or None

    return route


# --- publishing --------------------------------------------------------------------------------


def feed_meta(recipe: Recipe) -> FeedMeta:
    return FeedMeta(
        feed_id=recipe.feed_id,
        title=recipe.title,
        site_url=recipe.urls[0],
        language=recipe.language,
        timezone=recipe.timezone,
        sections=live_sections(recipe),
    )


def all_meta(feeds: Mapping[str, Recipe]) -> FeedMeta:
    return all_feed_meta(feed_meta(recipe) for recipe in feeds.values())


def is_published(recipe: Recipe, deps: PollDeps) -> bool:
    """Whether the feed's files exist: a fresh or cleaned public/ is written even if unchanged."""
    if deps.public_dir is None:
        return True
    feeds = deps.public_dir / "feeds"
    paths = [feeds / f"{recipe.feed_id}.xml"]
    paths += [feeds / recipe.feed_id / f"{s.section_id}.xml" for s in live_sections(recipe)]
    return all(path.exists() for path in paths)


async def publish_pending(recipe: Recipe, deps: PollDeps) -> None:
    """Write the feed's files if the store changed since they were written, or they are gone."""
    if recipe.feed_id in deps.unpublished or not is_published(recipe, deps):
        deps.unpublished.add(recipe.feed_id)  # until the files are written
        # Rendering a large feed takes a while: keep the web server and the bot responsive.
        await asyncio.to_thread(publish_feed, recipe, deps)
        deps.unpublished.discard(recipe.feed_id)


def publish_feed(recipe: Recipe, deps: PollDeps) -> None:
    """Rewrite the feed's files (and its sections') from the store (same bytes: untouched), and
    the `all` feed's, now or (`defer_all`) at the next `publish_all`."""
    if deps.public_dir is None:
        return
    store = deps.store
    items = store.items(recipe.feed_id, limit=recipe.max_items)
    meta = feed_meta(recipe)
    with _writing(recipe.feed_id, deps.public_dir):
        write_feeds(deps.public_dir, meta, items, deps.public_url)
        failpoint("during_publish")
        for section in meta.sections:
            in_it = store.items(recipe.feed_id, limit=recipe.max_items, section=section.section_id)
            section_feed = section_meta(meta, section.section_id)
            assert section_feed is not None  # the section is the meta's own
            write_feeds(deps.public_dir, section_feed, in_it, deps.public_url)
    if deps.defer_all:
        deps.all_stale = True
    else:
        publish_all(deps, force=True)


def publish_all(deps: PollDeps, *, force: bool = False) -> None:
    """Rewrite the `all` feed's files from the store if a poll changed a feed since the last
    time (or `force`)."""
    if deps.public_dir is None or not (deps.all_stale or force):
        return
    deps.all_stale = False  # first: a poll that stores meanwhile marks it stale again
    try:
        _write_all(deps.store, deps.feeds, deps.public_dir, deps.public_url)
    except NewsbotError:
        deps.all_stale = True  # the next call tries again
        raise


def _write_all(store: Store, feeds: Mapping[str, Recipe], public_dir: Path, public_url: str
               ) -> None:
    limit = max((r.max_items for r in feeds.values()), default=50)
    with _writing(ALL_FEED, public_dir):
        write_feeds(public_dir, all_meta(feeds), store.items(None, limit=limit), public_url)


def forget_feed(store: Store, feed_id: str, *, feeds: Mapping[str, Recipe], public_dir: Path,
                public_url: str) -> dict[str, int]:
    """`newsbot forget`: delete a removed feed's stored rows and files, and rewrite the `all`
    feed without its items (`feeds`: the recipes left). Counts by table, and of files."""
    counts = store.forget_feed(feed_id)
    counts["files"] = len(remove_feed_files(public_dir, feed_id))
    _write_all(store, feeds, public_dir, public_url)
    return counts


def repair_feeds(deps: PollDeps) -> list[str]:
    """At start: rewrite from the store the files of every feed with stored items whose files
    are missing or torn (a power cut after a write that was not fsynced); returns those feeds."""
    if deps.public_dir is None:
        return []
    repaired = []
    for recipe in deps.feeds.values():
        meta = feed_meta(recipe)
        metas = [meta, *(section_meta(meta, s.section_id) for s in meta.sections)]
        paths = [(feed_path(deps.public_dir, m, fmt), fmt) for m in metas if m for fmt in FORMATS]
        if all(is_whole(path, fmt) for path, fmt in paths):
            continue
        if deps.store.item_count(recipe.feed_id):
            publish_feed(recipe, deps)
            repaired.append(recipe.feed_id)
    everything = all_meta(deps.feeds)
    whole = all(is_whole(feed_path(deps.public_dir, everything, fmt), fmt) for fmt in FORMATS)
    if not whole and deps.store.item_count():
        publish_all(deps, force=True)
    return repaired


@contextmanager
def _writing(feed_id: str, public_dir: Path) -> Iterator[None]:
    """An OSError while writing feed files as a NewsbotError naming the folder."""
    try:
        yield
    except OSError as exc:
        # Items are stored already; the next poll rewrites the files from the store.
        raise NewsbotError(
            f"{feed_id}: cannot write feed files in {public_dir}: {exc.strerror}",
            hint="make data_dir/public writable and check free disk space",
        ) from exc


# --- health and alerts -------------------------------------------------------------------------


def _alert_surprises(
    recipe: Recipe,
    deps: PollDeps,
    health: FeedHealth,
    listing: Listing,
    new_items: Sequence[Item],
    *,
    flood: bool,
) -> None:
    """Tell the admin about a flood held back, or a page with nothing known left on it."""
    if not health.seeded or not new_items:
        return
    read = len(set(listing.ids))
    if flood:
        deps.alert(
            f"⚠️ {recipe.feed_id}: {len(new_items)} of {read} items on the page are "
            "new at once (a redesign that changed every link?): stored and published, none "
            "announced. Later polls announce normally."
        )
    elif len(new_items) == read:
        deps.alert(
            f"⚠️ {recipe.feed_id}: every item read from {recipe.urls[0]} is new: articles "
            "published in between may have been missed (a [list] next_page lets newsbot read on)"
        )


def _save_success(
    recipe: Recipe, deps: PollDeps, health: FeedHealth, now: datetime, page: FetchResult
) -> None:
    if health.alerted:
        failures = health.consecutive_failures
        deps.alert(f"✅ {health.feed_id}: polling works again (after {failures} failures)")
    delay = next_delay(
        (recipe.interval or deps.interval).total_seconds(),
        0,
        max_age=page.max_age,
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
            cache=page.cache,
            seeded=True,
            last_full_fetch_at=health.last_full_fetch_at if page.not_modified else now,
            alerted=False,
        )
    )


def _record_crash(recipe: Recipe, deps: PollDeps, exc: Exception, now: datetime) -> PollReport:
    """An unexpected error as a failed poll: backoff, and an alert at once (it is a bug, which
    retrying will not fix), once per failure streak."""
    error = NewsbotError(
        f"{recipe.feed_id}: unexpected {_describe(exc)}",
        hint="a bug in newsbot: the traceback is in the log; polls go on with backoff",
    )
    health = deps.store.health(recipe.feed_id)
    return _record_failure(recipe, deps, health, error, now, alert_now=True)


def _describe(exc: BaseException) -> str:
    """`ValueError: text`, cut short: an exception's text may quote a whole page."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"


def _record_failure(
    recipe: Recipe,
    deps: PollDeps,
    health: FeedHealth,
    exc: NewsbotError,
    now: datetime,
    *,
    alert_now: bool = False,
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
    # Once per failure streak: at the N-th failure, or at once for a markup change, which will
    # not fix itself.
    alert = not health.alerted and (
        failures >= deps.alert_after_failures or isinstance(exc, ScrapeError) or alert_now
    )
    if alert:
        text = str(exc)
        deps.alert(f"⚠️ {text}" if text.startswith(f"{recipe.feed_id}:") else
                   f"⚠️ {recipe.feed_id}: {text}")
    failed = replace(
        health,
        last_poll_at=now,
        last_error=str(exc),
        consecutive_failures=failures,
        next_poll_at=now + timedelta(seconds=delay),
        alerted=health.alerted or alert,
    )
    try:
        deps.store.save_health(failed)
    except Exception as store_exc:  # e.g. the disk is full: report the poll's own error
        log.warning("%s: poll health not saved: %s", recipe.feed_id, store_exc)
    log.warning("%s: poll failed (%d in a row): %s", recipe.feed_id, failures, exc)
    return PollReport(recipe.feed_id, "failed", error=str(exc))
