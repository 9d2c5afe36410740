"""One poll of one feed, top to bottom: fetch, scrape, diff and store, publish, announce.

`poll_source` is the only place that knows the whole flow (miniflux's RefreshFeed). Every step it
calls takes values and returns values; the I/O edges (fetcher, store, files) come in `PollDeps`.
The steps live beside it: pages in `bot.source.crawl` and `bot.source.listing`, feed files in
`bot.feedfiles`, the health rules (backoff, alerts, the flood guard) in `bot.health`.
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

import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from bot import diff, filters
from bot.backoff import next_delay
from bot.errors import FetchError, NewsbotError, ScrapeError, StoreError
from bot.failpoints import failpoint
from bot.feedfiles import publish_pending
from bot.health import (
    alerts_now,
    describe,
    failed,
    failure_alert,
    held_back,
    is_flood,
    recovery_alert,
    succeeded,
    surprise_alert,
)
from bot.model import CacheHeaders, FeedHealth, FetchResult, Item, PollOutcome, PollReport, Recipe
from bot.schema import Config
from bot.source.crawl import (
    PageFetcher,
    enrich_new_items,
    fetch_pages,
    is_not_modified,
    page_back_to_known,
    pages_fingerprint,
)
from bot.source.fetch import FetchPolicy
from bot.source.listing import check_detected_list, read_listing
from bot.source.memo import ItemMemo
from bot.store.db import Store
from bot.store.items import Route
from bot.worker import run_cpu

log = logging.getLogger(__name__)


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
    # Each feed's last listing page, read: a changed page's unchanged items are not read again
    # (bot.source.memo). One per PollDeps, i.e. per daemon or `newsbot poll`, never shared.
    item_memo: ItemMemo = field(default_factory=ItemMemo)

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


def fetch_policy(config: Config) -> FetchPolicy:
    """The fetcher's limits and manners from [fetch]: the daemon's, `newsbot poll`'s and
    `newsbot add`'s."""
    policy = FetchPolicy(
        deadline=config.fetch.timeout.total_seconds(),
        max_bytes=config.fetch.max_bytes,
        min_host_gap=config.fetch.min_host_gap.total_seconds(),
        respect_robots=config.fetch.respect_robots,
        allow_private=config.fetch.allow_private,
    )
    if config.fetch.user_agent:
        policy = replace(policy, user_agent=config.fetch.user_agent)
    return policy


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
            log.error("%s: poll failure not recorded: %s", recipe.feed_id, describe(record_exc))
            return PollReport(recipe.feed_id, "failed", error=describe(exc))


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
        # Parsing is the poll's longest step (~4 ms of CPU): in the CPU thread, the event loop
        # stays free to pace Telegram sends on time (bot.worker says why one thread).
        listing = await run_cpu(read_listing, pages, recipe, now, memo=deps.item_memo)
        known = store.known_ids(recipe.feed_id, listing.ids)
        check_detected_list(listing, known, health, recipe)
        if health.seeded and not known:
            listing, known = await page_back_to_known(
                recipe, deps.fetcher, partial(store.known_ids, recipe.feed_id), pages[-1],
                listing, now)
        items = diff.oldest_first(listing.items)
        unseen = diff.select_new(items, known)
        flood = is_flood(health, len(unseen), len(items)) and not listing.paged_to_known
        items, enrich_warnings = await enrich_new_items(recipe, items, known, deps.fetcher, now)
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
    surprise = surprise_alert(recipe.feed_id, recipe.urls[0], health, len(set(listing.ids)),
                              len(new_items), flood=flood)
    if surprise:
        deps.alert(surprise)
    if new_items:  # the flood guard's mark says what happened to the latest new items
        health = held_back(health, now, len(new_items), flood=flood)
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


# --- health: the rules are bot.health's; here they meet the store and the admin ----------------


def _save_success(
    recipe: Recipe, deps: PollDeps, health: FeedHealth, now: datetime, page: FetchResult
) -> None:
    if alert := recovery_alert(health):
        deps.alert(alert)
    delay = next_delay(_interval(recipe, deps), 0, max_age=page.max_age,
                       cap=deps.max_backoff.total_seconds(), rng=deps.rng)
    deps.store.save_health(succeeded(health, now, page, delay))


def _record_crash(recipe: Recipe, deps: PollDeps, exc: Exception, now: datetime) -> PollReport:
    """An unexpected error as a failed poll: backoff, and an alert at once (it is a bug, which
    retrying will not fix), once per failure streak."""
    error = NewsbotError(
        f"{recipe.feed_id}: unexpected {describe(exc)}",
        hint="a bug in newsbot: the traceback is in the log; polls go on with backoff",
    )
    health = deps.store.health(recipe.feed_id)
    return _record_failure(recipe, deps, health, error, now, alert_now=True)


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
    delay = next_delay(_interval(recipe, deps), failures,
                       retry_after=exc.retry_after if isinstance(exc, FetchError) else None,
                       cap=deps.max_backoff.total_seconds(), rng=deps.rng)
    alert = alerts_now(health, alert_after_failures=deps.alert_after_failures,
                       markup_changed=isinstance(exc, ScrapeError), at_once=alert_now)
    if alert:
        deps.alert(failure_alert(recipe.feed_id, str(exc)))
    try:
        deps.store.save_health(failed(health, now, str(exc), delay, alerted=alert))
    except Exception as store_exc:  # e.g. the disk is full: report the poll's own error
        log.warning("%s: poll health not saved: %s", recipe.feed_id, store_exc)
    log.warning("%s: poll failed (%d in a row): %s", recipe.feed_id, failures, exc)
    return PollReport(recipe.feed_id, "failed", error=str(exc))


def _interval(recipe: Recipe, deps: PollDeps) -> float:
    return (recipe.interval or deps.interval).total_seconds()
