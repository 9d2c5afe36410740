"""The feed files of what is stored: reads the store, hands items and meta to the publish wing.

Composition (it knows the store and the publish wing): the publish wing turns values (a feed's
meta and items) into files and knows no database; this module reads the items of a feed, of its
sections and of the `all` feed, and decides when files must be written again: after a poll
stored something (`unpublished`), when they are missing, or torn (at start, `repair_feeds`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

from bot.errors import NewsbotError
from bot.failpoints import failpoint
from bot.model import Recipe
from bot.publish.feedmeta import ALL_FEED, FORMATS, FeedMeta, all_feed_meta, section_meta
from bot.publish.files import feed_path, is_whole, remove_feed_files, write_feeds
from bot.source.listing import live_sections
from bot.store.db import Store
from bot.worker import run_cpu


class Publishing(Protocol):
    """What publishing needs of a poll's deps (bot.pipeline.PollDeps)."""

    store: Store
    public_dir: Path | None  # None: do not write feed files
    public_url: str
    feeds: Mapping[str, Recipe]
    # feed ids whose files must be written again although the store did not change since
    unpublished: set[str]
    defer_all: bool  # a feed's publish marks `all` stale; `publish_all` writes it later
    all_stale: bool


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


def is_published(recipe: Recipe, deps: Publishing) -> bool:
    """Whether the feed's files exist: a fresh or cleaned public/ is written even if unchanged."""
    if deps.public_dir is None:
        return True
    feeds = deps.public_dir / "feeds"
    paths = [feeds / f"{recipe.feed_id}.xml"]
    paths += [feeds / recipe.feed_id / f"{s.section_id}.xml" for s in live_sections(recipe)]
    return all(path.exists() for path in paths)


async def publish_pending(recipe: Recipe, deps: Publishing) -> None:
    """Write the feed's files if the store changed since they were written, or they are gone."""
    if recipe.feed_id in deps.unpublished or not is_published(recipe, deps):
        deps.unpublished.add(recipe.feed_id)  # until the files are written
        # Rendering a large feed takes a while: keep the web server and the bot responsive.
        await run_cpu(publish_feed, recipe, deps)
        deps.unpublished.discard(recipe.feed_id)


def publish_feed(recipe: Recipe, deps: Publishing) -> None:
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


def publish_all(deps: Publishing, *, force: bool = False) -> None:
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


def repair_feeds(deps: Publishing) -> list[str]:
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
