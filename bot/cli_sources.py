"""The command line's source commands: `newsbot add URL`, `import FILE.opml` and `forget ID`.

Split out of bot.cli, which registers them (`add_parsers`) and lends its config loader. Like
bot.cli, the commands import what they need when they run (`newsbot --help` stays fast).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli_print import error, print_items
from bot.errors import ConfigError

if TYPE_CHECKING:
    from bot import add, add_opml
    from bot.schema import Config

PREVIEW_ITEMS = 5  # items shown before asking

ConfigOf = Callable[[argparse.Namespace], "Config"]
Command = Callable[[str, str], argparse.ArgumentParser]


def add_parsers(command: Command, config_of: ConfigOf) -> None:
    """Register `add` and `import` with the main parser's `command` factory."""
    new = command("add", "add a site or a feed by its URL: preview it, then write feeds/ID.toml")
    new.add_argument("url", help="a feed, or a page (its feed is looked for, else its list)")
    new.add_argument("--id", dest="feed_id", help="the feed id (default: from the site's name)")
    new.add_argument("--title", help="the feed's title (default: the feed's or page's own)")
    new.add_argument("--timezone", help="the zone of the site's dates (default Asia/Ho_Chi_Minh)")
    new.add_argument("--scrape", action="store_true",
                     help="scrape the page's list even if the site has a feed")
    new.add_argument("--yes", "-y", action="store_true", help="save without asking")
    new.add_argument("--dry-run", action="store_true", help="show the proposal, write nothing")
    new.set_defaults(handler=partial(cmd_add, config_of))

    opml = command("import", "add each feed of an OPML file (feeds already followed are skipped)")
    opml.add_argument("file", type=Path, help="an OPML file, e.g. exported by a feed reader")
    opml.set_defaults(handler=partial(cmd_import, config_of))

    forget = command("forget", "delete what is stored for a feed whose recipe was removed")
    forget.add_argument("feed_id", metavar="ID", help="the id of a feed no longer in feeds/")
    forget.add_argument("--yes", "-y", action="store_true", help="do it without asking")
    forget.set_defaults(handler=partial(cmd_forget, config_of))


def cmd_add(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Propose a recipe for a URL, show its first items, and write it once confirmed."""
    import asyncio

    from bot.add import save

    if not (args.yes or args.dry_run or sys.stdin.isatty()):
        error("add: no terminal to ask on: run it with --yes to save without asking "
              "(or --dry-run to only look)")
        return 2
    config = config_of(args)
    sources = _sources(config)
    proposal = asyncio.run(_propose(config, sources, args))
    show(proposal)
    if args.dry_run:
        print(f"(dry run: {proposal.path} not written)")
        return 0
    if not args.yes and not _confirm(f"Save as {proposal.path}? [y/N] "):
        print("nothing written")
        return 0
    save(proposal, sources)
    print(f"saved {proposal.path}: a running daemon polls it within a minute "
          f"(`newsbot poll {proposal.feed_id}` polls it now)")
    return 0


def cmd_import(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Add the feeds of an OPML file; prints each one added, skipped or failed."""
    import asyncio

    from bot.add_opml import read_opml

    try:
        data = args.file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{args.file}: cannot read the OPML file: {exc.strerror}") from None
    outlines = read_opml(data, str(args.file))
    config = config_of(args)
    done = asyncio.run(_import(config, _sources(config), outlines))
    for proposal in done.added:
        print(f"added {proposal.path}: {proposal.recipe.title} ({len(proposal.items)} items) "
              f"<- {proposal.recipe.urls[0]}")
    for outline, feed_id in done.skipped:
        print(f"skipped {outline.url}: already followed as {feed_id}")
    for outline, reason in done.failed:
        error(f"not added: {outline.url}: {reason}")
    print(f"{len(done.added)} added, {len(done.skipped)} already followed, "
          f"{len(done.failed)} failed")
    return 1 if done.failed else 0


def cmd_forget(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Delete a removed feed's items, subscriptions, filters, messages and files; the daemon
    may be running (it stopped polling the feed when its recipe went)."""
    from bot.feedfiles import forget_feed
    from bot.recipes import scan_recipes
    from bot.store.db import Store
    from bot.store.guard import open_store

    if not (args.yes or sys.stdin.isatty()):
        error("forget: no terminal to ask on: run it with --yes to forget without asking")
        return 2
    config = config_of(args)
    feed_id: str = args.feed_id
    recipe = config.feeds_dir / f"{feed_id}.toml"
    if recipe.exists():
        raise ConfigError(f"{recipe} still exists: {feed_id} is still followed",
                          hint="remove the file first (the daemon stops polling it within a "
                               "minute), then forget the feed")
    if not config.on_postgres and not config.db_path.exists():
        raise ConfigError(f"{config.db_path}: no database, nothing to forget")
    with (open_store(config) if config.on_postgres
          else Store.open(config.db_path, must_exist=True)) as store:
        items, subscribers = store.item_count(feed_id), len(store.subscribers_of(feed_id))
        if not items and not subscribers and store.health(feed_id).last_poll_at is None:
            raise ConfigError(f"nothing is stored for a feed {feed_id!r}",
                              hint="`newsbot feeds` lists the feeds followed")
        question = (f"Forget {feed_id}: {items} items and {subscribers} subscriptions, for good? "
                    "[y/N] ")
        if not args.yes and not _confirm(question):
            print("nothing deleted")
            return 0
        recipes, _ = scan_recipes(config.feeds_dir)
        counts = forget_feed(store, feed_id, feeds={r.feed_id: r for r in recipes},
                             public_dir=config.public_dir, public_url=config.server.public_url)
    print(f"forgot {feed_id}: {counts['items']} items, {counts['subscriptions']} subscriptions, "
          f"{counts['outbox']} messages, {counts['files']} feed files")
    return 0


def show(proposal: add.Proposal) -> None:
    """The proposal as `add` prints it: where, the first items, the recipe."""
    recipe = proposal.recipe
    print(f"Found {proposal.how}: {recipe.urls[0]}")
    shown = proposal.items[:PREVIEW_ITEMS]
    print(f"{recipe.title}: the first {len(shown)} of {len(proposal.items)} items, "
          "as they would be published:")
    print_items(shown)
    for warning in proposal.warnings:
        print(f"warning: {warning}")
    print(f"\n{proposal.path}:")
    for line in proposal.text.splitlines():
        print(f"    {line}")


def _sources(config: Config) -> add.Sources:
    from bot.add import Sources
    from bot.recipes import scan_recipes

    recipes, _ = scan_recipes(config.feeds_dir)  # a broken recipe keeps its name taken
    return Sources.of(config.feeds_dir, recipes)


async def _propose(config: Config, sources: add.Sources, args: argparse.Namespace
                   ) -> add.Proposal:
    from bot.add import propose
    from bot.pipeline import fetch_policy
    from bot.source.fetch import Fetcher

    async with Fetcher(fetch_policy(config)) as fetcher:
        # Every fetch of this proposal (linked feeds, usual paths) may go only where the address
        # typed may: a public page cannot make newsbot fetch from a private network.
        fetch = partial(fetcher.fetch, recipe_urls=(args.url,))
        return await propose(
            args.url, fetch, sources, now=datetime.now(UTC), feed_id=args.feed_id,
            title=args.title, timezone=args.timezone, scrape_page=args.scrape)


async def _import(config: Config, sources: add.Sources, outlines: list[add_opml.Outline]
                  ) -> add_opml.Imported:
    from bot.add_opml import import_opml
    from bot.pipeline import fetch_policy
    from bot.source.fetch import Fetcher

    async with Fetcher(fetch_policy(config)) as fetcher:
        # Each outline is fetched once, at its own address: the rules of a recipe with it.
        return await import_opml(outlines, fetcher.fetch, sources, now=datetime.now(UTC))


def _confirm(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes", "c", "có", "co")
