"""The command line's database commands: `newsbot poll`, `feeds`, `backup`, `migrate` and
`export`.

Split out of bot.cli, which registers them and lends its config loader (`config_of`). Like
bot.cli, the commands import what they need when they run (`newsbot --help` stays fast).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.cli_print import (
    add_json,
    error,
    item_json,
    jsonable,
    notice,
    print_items,
    print_json,
    short,
)
from bot.cli_sources import Command, ConfigOf
from bot.errors import ConfigError, StoreError

if TYPE_CHECKING:
    from bot.model import PollReport, Recipe
    from bot.schema import Config
    from bot.store.db import Store


def add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="store_true",
                        help="start a new database if the data dir's is missing or damaged "
                             "(a damaged one is moved aside, never deleted)")


def add_poll(command: Command, config_of: ConfigOf) -> None:
    poll = command("poll", "fetch now, store, publish, print new items")
    poll.add_argument("feeds", nargs="*", metavar="FEED", help="feed ids (default: all)")
    poll.add_argument("--dry-run", action="store_true", help="store and publish nothing")
    add_init(poll)
    add_json(poll)
    poll.set_defaults(handler=partial(cmd_poll, config_of))


def add_feeds(command: Command, config_of: ConfigOf) -> None:
    feeds = command("feeds", "each feed with item count, newest item, last poll")
    add_json(feeds)
    feeds.set_defaults(handler=partial(cmd_feeds, config_of))


def add_database(command: Command, config_of: ConfigOf) -> None:
    """`backup`, `migrate` and `export`."""
    backup = command("backup", "copy the database consistently, also while `run` runs")
    backup.add_argument("path", type=Path, help="a new file, or a directory for a dated one")
    backup.set_defaults(handler=partial(cmd_backup, config_of))

    migrate = command("migrate", "upgrade the database's schema to this newsbot's")
    migrate.set_defaults(handler=partial(cmd_migrate, config_of))
    export = command("export", "copy the whole store into another, empty database")
    export.add_argument("--to", required=True, metavar="URL",
                        help="sqlite:///new-file.db or postgresql://user@host:port/database")
    export.set_defaults(handler=partial(cmd_export, config_of))


def cmd_poll(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Poll the chosen feeds once; a dry run creates and writes nothing."""
    import asyncio

    from bot.config import ensure_data_dir
    from bot.recipes import load_recipes
    from bot.store.db import acquire_lock
    from bot.store.guard import open_store

    config = config_of(args)
    recipes = _select(load_recipes(config.feeds_dir), args.feeds)
    alerts: list[str] = []
    if args.dry_run:
        with _read_store(config) as store:
            reports = asyncio.run(_poll(config, recipes, alerts, store, dry_run=True))
    else:
        ensure_data_dir(config)
        with (acquire_lock(config.data_dir),
              open_store(config, init=args.init, notice=notice) as store):
            _refuse_unless_leading(store)
            reports = asyncio.run(_poll(config, recipes, alerts, store, dry_run=False))
    alerts = _fresh_alerts(alerts, reports)
    if args.json:
        print_json({"dry_run": args.dry_run, "feeds": [_report_json(r) for r in reports],
                     "alerts": alerts})
    else:
        for report in reports:
            _print_report(report, dry_run=args.dry_run)
        for alert in alerts:
            print(f"newsbot: alert: {alert}", file=sys.stderr)
    return 1 if any(report.outcome == "failed" for report in reports) else 0


def _refuse_unless_leading(store: Store) -> None:
    """On a shared database the leader polls; a second poller would announce items twice."""
    leadership = store.leadership()
    if not leadership.try_acquire():
        raise StoreError(f"another newsbot leads on {store.path} and polls on schedule",
                         hint="use --dry-run to look, or stop the instances first")
    leadership.release()


def _read_store(config: Config) -> Store:
    """The database for a dry run: read if there is one, never created."""
    from bot.store.db import Store
    from bot.store.guard import open_store

    if config.on_postgres:
        return open_store(config)
    if not config.db_path.exists():
        return Store.open(":memory:")
    return Store.open(config.db_path, must_exist=True, check=True)


async def _poll(
    config: Config, recipes: Sequence[Recipe], alerts: list[str], store: Store, *, dry_run: bool
) -> list[PollReport]:
    from bot.feedfiles import publish_all
    from bot.pipeline import PollDeps, fetch_policy, poll_source, preview_source
    from bot.recipes import load_recipes
    from bot.source.fetch import Fetcher

    fetcher = Fetcher(fetch_policy(config))
    try:
        feeds = {recipe.feed_id: recipe for recipe in load_recipes(config.feeds_dir)}
        deps = PollDeps.from_config(
            config, store=store, fetcher=fetcher, feeds=feeds, alert=alerts.append
        )
        step = preview_source if dry_run else poll_source
        reports = [await step(recipe, deps, datetime.now(UTC)) for recipe in recipes]
        publish_all(deps)
        return reports
    finally:
        await fetcher.aclose()


def _fresh_alerts(alerts: Sequence[str], reports: Sequence[PollReport]) -> list[str]:
    """Alerts not saying again what a failed feed's error line says."""
    errors = [report.error for report in reports if report.error]
    return [alert for alert in alerts if not any(error in alert for error in errors)]


def cmd_feeds(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """List feeds with their state; reads the database only if it exists."""
    from bot.recipes import load_recipes
    from bot.store.db import Store
    from bot.store.guard import open_store

    config = config_of(args)
    recipes = load_recipes(config.feeds_dir)
    store = (open_store(config) if config.on_postgres else
             Store.open(config.db_path, must_exist=True) if config.db_path.exists() else None)
    try:
        rows = [_feed_row(recipe, store) for recipe in recipes]
    finally:
        if store is not None:
            store.close()
    if args.json:
        print_json({"feeds": rows})
        return 0
    print(f"{'FEED':<16} {'ITEMS':>6}  {'LAST POLL':<20} {'RESULT':<30} NEWEST")
    for row in rows:
        result = {"never polled": "never polled", "ok": "ok"}.get(
            row["status"], f"failing ×{row['consecutive_failures']}: {row['last_error']}")
        newest = row["newest"]["title"] if row["newest"] else "-"
        last_poll = (row["last_poll_at"] or "-")[:19].replace("T", " ")
        print(f"{row['feed_id']:<16} {row['items']:>6}  {last_poll:<20}"
              f" {short(result, 30):<30} {short(newest, 60)}")
    return 0


def _feed_row(recipe: Recipe, store: Store | None) -> dict[str, Any]:
    from bot.model import FeedHealth

    health = store.health(recipe.feed_id) if store else FeedHealth(recipe.feed_id)
    newest = store.items(recipe.feed_id, limit=1) if store else []
    status = "never polled" if health.last_poll_at is None else (
        "failing" if health.last_error else "ok")
    return {
        "feed_id": recipe.feed_id,
        "title": recipe.title,
        "url": recipe.urls[0],
        "items": store.item_count(recipe.feed_id) if store else 0,
        "newest": item_json(newest[0]) if newest else None,
        "status": status,
        "last_poll_at": jsonable(health.last_poll_at),
        "last_success_at": jsonable(health.last_success_at),
        "last_error": health.last_error,
        "consecutive_failures": health.consecutive_failures,
        "next_poll_at": jsonable(health.next_poll_at),
    }


def cmd_backup(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Copy the database with SQLite's online backup; needs no lock, writes nothing to it."""
    from bot.store.backup import backup_database

    config = config_of(args)
    if config.on_postgres:
        raise StoreError(f"newsbot backup copies a SQLite file; {config.store_url} is "
                         f"PostgreSQL", hint="back it up with pg_dump, or `newsbot export "
                         "--to sqlite:///copy.db` for a SQLite copy")
    done = backup_database(config.db_path, args.path, datetime.now(UTC))
    print(f"backed up {config.db_path} to {done.path}: {done.items} items, {done.chats} "
          f"chats, {done.size / 1e6:.1f} MB, quick_check ok")
    return 0


def cmd_migrate(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Bring the schema up to this version (the only way on PostgreSQL, with every instance
    stopped); prints the version reached."""
    from bot.store.guard import open_store

    config = config_of(args)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with open_store(config, notice=notice, upgrade=True) as store:
        applied = len(store.migrations())
        print(f"{config.store_url}: schema version {store.schema_version()} "
              f"({applied} migrations applied)")
    return 0


def cmd_export(config_of: ConfigOf, args: argparse.Namespace) -> int:
    """Copy every row of the configured store into the empty store at --to."""
    from bot.config import STORE_PASSWORD_ENV
    from bot.store.db import Store
    from bot.store.export import copy_store
    from bot.store.guard import open_store

    config = config_of(args)
    with open_store(config, notice=notice) as source:
        password = os.environ.get(STORE_PASSWORD_ENV) if args.to.startswith("postgres") else None
        with Store.connect(args.to, password=password, upgrade=True) as target:
            copied = copy_store(source, target)
            where = target.path
    counts = ", ".join(f"{count} {table}" for table, count in copied.items())
    print(f"copied {source.path} to {where}: {counts}")
    return 0


def _select(recipes: list[Recipe], wanted: Sequence[str]) -> list[Recipe]:
    known = {recipe.feed_id: recipe for recipe in recipes}
    unknown = [feed_id for feed_id in wanted if feed_id not in known]
    if unknown:
        raise ConfigError(
            f"unknown feed {', '.join(unknown)}",
            hint=f"known feeds: {', '.join(known) or 'none (add feeds/<id>.toml)'}",
        )
    return [known[feed_id] for feed_id in wanted] if wanted else recipes


def _print_report(report: PollReport, *, dry_run: bool) -> None:
    if report.outcome == "failed":
        text = report.error or "failed"
        error(text if text.startswith(f"{report.feed_id}: ") else f"{report.feed_id}: {text}")
        return
    verb = "would be new" if dry_run else "new"
    if report.outcome == "not_modified":
        note = " (page not modified since the last poll)"
    elif report.seeded:
        note = " (first poll: stored silently, nothing announced)"
    elif report.flood:
        note = " (flood guard: stored and published, none announced)"
    else:
        note = ""
    print(f"{report.feed_id}: {len(report.new_items)} {verb}{note}")
    print_items(report.new_items)
    for warning in report.warnings:
        print(f"warning: {warning}")


def _report_json(report: PollReport) -> dict[str, Any]:
    return {
        "feed_id": report.feed_id,
        "outcome": report.outcome,
        "seeded": report.seeded,
        "flood": report.flood,
        "error": report.error,
        "warnings": list(report.warnings),
        "new_items": [item_json(item) for item in report.new_items],
    }
