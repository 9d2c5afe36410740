"""The `newsbot` command line.

Usage: newsbot [--config PATH] [--debug] COMMAND ...

    run                         the daemon: poll on schedule, serve feeds, run the Telegram bot
    demo                        the daemon offline, against a simulated news site
    poll [FEED ...] [--dry-run] fetch now, store, publish; print the new items
    check RECIPE [--url U | --file F] [--article]
                                print what a recipe extracts, touching nothing stored
    feeds                       each feed with its item count, newest item and last poll
    detect URL|FILE [--all]     find the list of articles on a page and print a recipe for it

`poll`, `check`, `feeds` and `detect` take --json. Exit codes: 0 ok, 1 failure, 2 usage.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import __version__, app, detect, dom, scrape
from bot.config import Config, find_config, load_config, load_recipe, load_recipes
from bot.errors import ConfigError, NewsbotError
from bot.fetch import Fetcher
from bot.model import Item, PollReport, Recipe
from bot.pipeline import PollDeps, poll_source, preview_source
from bot.store import Store, acquire_lock

log = logging.getLogger("newsbot")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.handler(args))
    except NewsbotError as exc:
        if args.debug:
            raise
        print(f"newsbot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Feeds and Telegram alerts for news sites with no feed."
    )
    parser.add_argument("--config", help="config file (default: config.toml, or $NEWSBOT_CONFIG)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = commands.add_parser("run", help="poll on schedule, serve feeds, run the Telegram bot")
    run.set_defaults(handler=cmd_run)
    demo = commands.add_parser("demo", help="the whole daemon offline, on a simulated news site")
    demo.add_argument("--port", type=int, default=8080, help="port of the feed server")
    demo.set_defaults(handler=cmd_demo)

    poll = commands.add_parser("poll", help="fetch now, store, publish, print new items")
    poll.add_argument("feeds", nargs="*", metavar="FEED", help="feed ids (default: all)")
    poll.add_argument("--dry-run", action="store_true", help="store and publish nothing")
    poll.add_argument("--json", action="store_true", help="print a JSON document")
    poll.set_defaults(handler=cmd_poll)

    check = commands.add_parser("check", help="print what a recipe extracts from a page")
    check.add_argument("recipe", type=Path, help="a recipe file, e.g. feeds/haiphong.toml")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--url", help="fetch this page instead of the recipe's URL")
    source.add_argument("--file", type=Path, help="read a saved page (no network)")
    check.add_argument("--base-url", help="the saved page's original address")
    check.add_argument("--article", action="store_true", help="the page is an article page")
    check.add_argument("--json", action="store_true", help="print a JSON document")
    check.set_defaults(handler=cmd_check)

    feeds = commands.add_parser("feeds", help="each feed with item count, newest item, last poll")
    feeds.add_argument("--json", action="store_true", help="print a JSON document")
    feeds.set_defaults(handler=cmd_feeds)

    find = commands.add_parser("detect", help="find the article list of a page, print a recipe")
    find.add_argument("page", help="a URL, or a saved HTML file")
    find.add_argument("--base-url", help="the saved page's original address")
    find.add_argument("--all", action="store_true", help="also show the runner-up lists")
    find.add_argument("--json", action="store_true", help="print a JSON document")
    find.set_defaults(handler=cmd_detect)
    return parser


# --- commands ----------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGINT/SIGTERM."""
    config = _config(args)
    return app.run_daemon(config, debug=args.debug)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the daemon against a simulated news site."""
    _setup_logging("DEBUG" if args.debug else "INFO")
    return app.run_demo(port=args.port, debug=args.debug)


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll the chosen feeds once."""
    config = _config(args)
    recipes = _select(load_recipes(config.feeds_dir), args.feeds)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with acquire_lock(config.data_dir):
        reports = asyncio.run(_poll(config, recipes, dry_run=args.dry_run))
    if args.json:
        _print_json({"dry_run": args.dry_run, "feeds": [_report_json(r) for r in reports]})
    else:
        for report in reports:
            _print_report(report, dry_run=args.dry_run)
    return 1 if any(report.outcome == "failed" for report in reports) else 0


async def _poll(config: Config, recipes: Sequence[Recipe], *, dry_run: bool) -> list[PollReport]:
    store = Store.open(config.db_path)
    fetcher = Fetcher(app.fetch_policy(config))
    try:
        deps = PollDeps(
            store=store,
            fetcher=fetcher,
            public_dir=config.public_dir,
            public_url=config.server.public_url,
            feeds={recipe.feed_id: recipe for recipe in load_recipes(config.feeds_dir)},
            interval=config.schedule.interval,
            max_backoff=config.schedule.max_backoff,
            alert_after_failures=config.schedule.alert_after_failures,
            max_age=config.telegram.max_age,
            alert=lambda message: log.warning("%s", message),
        )
        step = preview_source if dry_run else poll_source
        return [await step(recipe, deps, datetime.now(UTC)) for recipe in recipes]
    finally:
        await fetcher.aclose()
        store.close()


def cmd_check(args: argparse.Namespace) -> int:
    """Show what a recipe extracts from a page; nothing is stored."""
    recipe = load_recipe(args.recipe)
    url, body, content_type = _read_page(args.file or args.url or recipe.urls[0], args.base_url)
    html = dom.decode_html(body, content_type)
    now = datetime.now(UTC)
    if args.article:
        info = scrape.scrape_article(html, url, recipe.article, tz=recipe.timezone, now=now)
        document = {key: _jsonable(value) for key, value in asdict(info).items()}
        if args.json:
            _print_json(document)
        else:
            for key, value in document.items():
                print(f"{key:>14}: {_short(str(value or ''), 100)}")
        return 0
    if recipe.rules is None:
        raise ConfigError(
            f"{args.recipe}: no [list] section: this recipe is auto-detected",
            hint=f"use `newsbot detect {url}` to see what auto-detection finds",
        )
    result = scrape.scrape(html, url, recipe, now)
    if args.json:
        _print_json({"url": url, "items": [_item_json(i) for i in result.items],
                     "warnings": list(result.warnings)})
    else:
        _print_items(result.items)
        for warning in result.warnings:
            print(f"warning: {warning}")
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    """List feeds with their state."""
    config = _config(args)
    recipes = load_recipes(config.feeds_dir)
    rows: list[dict[str, Any]] = []
    store = Store.open(config.db_path) if config.db_path.exists() else None
    try:
        for recipe in recipes:
            newest = store.items(recipe.feed_id, limit=1) if store else []
            health = store.health(recipe.feed_id) if store else None
            rows.append({
                "feed_id": recipe.feed_id,
                "title": recipe.title,
                "items": store.item_count(recipe.feed_id) if store else 0,
                "newest": _item_json(newest[0]) if newest else None,
                "last_poll_at": _jsonable(health.last_poll_at) if health else None,
                "last_error": health.last_error if health else None,
                "consecutive_failures": health.consecutive_failures if health else 0,
            })
    finally:
        if store:
            store.close()
    if args.json:
        _print_json({"feeds": rows})
        return 0
    print(f"{'FEED':<16} {'ITEMS':>6}  {'LAST POLL':<20} {'STATUS':<24} NEWEST")
    for row in rows:
        status = "never polled" if not row["last_poll_at"] else (
            f"failing: {row['last_error']}" if row["last_error"] else "ok")
        newest_title = row["newest"]["title"] if row["newest"] else "-"
        print(f"{row['feed_id']:<16} {row['items']:>6}  {str(row['last_poll_at'] or '-')[:19]:<20}"
              f" {_short(status, 24):<24} {_short(newest_title, 60)}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    """Find the lists of articles on a page."""
    url, body, content_type = _read_page(args.page, args.base_url)
    html = dom.decode_html(body, content_type)
    candidates = detect.detect_lists(html, url, now=datetime.now(UTC), limit=5 if args.all else 1)
    if args.json:
        _print_json({"url": url, "candidates": [
            {"score": c.score, "reasons": list(c.reasons), "rules": _jsonable(asdict(c.rules)),
             "items": [_item_json(i) for i in c.items]} for c in candidates]})
        return 0 if candidates else 1
    if not candidates:
        print(f"no list of articles found on {url}", file=sys.stderr)
        return 1
    for rank, candidate in enumerate(candidates if args.all else candidates[:1], start=1):
        print(f"#{rank} score {candidate.score:.2f}: {candidate.rules.item}  "
              f"({'; '.join(candidate.reasons)})")
        _print_items(candidate.items)
        print()
    feed_id = _guess_feed_id(url)
    print(f"# Save as feeds/{feed_id}.toml:")
    print(detect.recipe_toml(candidates[0], feed_id=feed_id, url=url, title=feed_id))
    return 0


# --- helpers -----------------------------------------------------------------------------------


def _config(args: argparse.Namespace) -> Config:
    path, notice = find_config(args.config, os.environ)
    config = load_config(path)
    _setup_logging("DEBUG" if args.debug else config.log_level)
    if notice:
        log.warning("%s", notice)
    return config


def _setup_logging(level: str) -> None:
    from bot.logs import setup_logging

    setup_logging(level)


def _select(recipes: list[Recipe], wanted: Sequence[str]) -> list[Recipe]:
    known = {recipe.feed_id: recipe for recipe in recipes}
    unknown = [feed_id for feed_id in wanted if feed_id not in known]
    if unknown:
        raise ConfigError(
            f"unknown feed {', '.join(unknown)}",
            hint=f"known feeds: {', '.join(known) or 'none (add feeds/<id>.toml)'}",
        )
    return [known[feed_id] for feed_id in wanted] if wanted else recipes


def _read_page(source: str | Path, base_url: str | None) -> tuple[str, bytes, str | None]:
    """A page from a file (no network) or a URL: (its address, bytes, content type)."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        return asyncio.run(_fetch_one(text))
    path = Path(text)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the page: {exc.strerror}") from None
    return base_url or path.resolve().as_uri(), body, None


async def _fetch_one(url: str) -> tuple[str, bytes, str | None]:
    fetcher = Fetcher()
    try:
        page = await fetcher.fetch(url)
    finally:
        await fetcher.aclose()
    return page.url, page.body, page.content_type


def _guess_feed_id(url: str) -> str:
    from urllib.parse import urlsplit

    host = urlsplit(url).hostname or "feed"
    name = host.removeprefix("www.").split(".")[0]
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()) or "feed"


def _print_report(report: PollReport, *, dry_run: bool) -> None:
    verb = "would be new" if dry_run else "new"
    if report.outcome == "failed":
        print(f"{report.feed_id}: FAILED: {report.error}")
        return
    note = " (first poll: stored silently, nothing announced)" if report.seeded and not dry_run else ""
    print(f"{report.feed_id}: {len(report.new_items)} {verb}{note}"
          + (" (not modified)" if report.outcome == "not_modified" else ""))
    _print_items(report.new_items)
    for warning in report.warnings:
        print(f"warning: {warning}")


def _print_items(items: Sequence[Item]) -> None:
    for item in items:
        date = item.published_at.isoformat(timespec="minutes") if item.published_at else "-"
        print(f"  {date:<22} {_short(item.title, 70):<70}  id={item.item_id}")
        print(f"  {'':<22} {item.url}")


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "feed_id": item.feed_id,
        "item_id": item.item_id,
        "title": item.title,
        "url": item.url,
        "summary": item.summary,
        "published_at": _jsonable(item.published_at),
        "image": item.image,
        "first_seen_at": _jsonable(item.first_seen_at),
    }


def _report_json(report: PollReport) -> dict[str, Any]:
    return {
        "feed_id": report.feed_id,
        "outcome": report.outcome,
        "seeded": report.seeded,
        "error": report.error,
        "warnings": list(report.warnings),
        "new_items": [_item_json(item) for item in report.new_items],
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _jsonable(v) for key, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _print_json(document: dict[str, Any]) -> None:
    json.dump(document, sys.stdout, ensure_ascii=False, indent=2)
    print()


if __name__ == "__main__":
    sys.exit(main())
