"""The `newsbot` command line.

Usage: newsbot [--config PATH] [--debug] COMMAND ...

    init [DIR] [--force]        write config.toml and feeds/ (the shipped recipes) into DIR
    run                         the daemon: poll on schedule, serve feeds, run the Telegram bot
    demo                        the daemon offline, against a simulated news site
    poll [FEED ...] [--dry-run] fetch now, store, publish; print the new items
    check RECIPE [--url U | --file F] [--article]
                                print what a recipe extracts, touching nothing stored
    feeds                       each feed with its item count, newest item and last poll
    detect URL|FILE [--all]     find the list of articles on a page and print a recipe for it
    add URL [--id ID] [--yes]   add a site or feed: its feed if it has one, else its list
    import FILE.opml            add each feed of an OPML file
    forget ID                   delete what is stored for a feed whose recipe was removed
    backup PATH                 a consistent copy of the database (also while `run` runs)
    migrate                     upgrade the database's schema (PostgreSQL: `run` will not)
    export --to URL             copy the whole store into an empty one (SQLite <-> PostgreSQL)

`run` and `poll` take --init: start a new database where the data dir's is missing or damaged.

`poll`, `check`, `feeds` and `detect` take --json. Exit codes: 0 ok, 1 failure, 2 usage.
Errors are one line on stderr; `--debug` shows tracebacks and debug logs.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bot import __version__, cli_sources, starter
from bot.cli_print import error as _error
from bot.cli_print import item_json as _item_json
from bot.cli_print import jsonable as _jsonable
from bot.cli_print import print_items as _print_items
from bot.cli_print import print_json as _print_json
from bot.cli_print import short as _short
from bot.errors import ConfigError, NewsbotError, StoreError
from bot.logs import setup_logging
from bot.model import FeedHealth, FetchResult, PollReport, Recipe

if TYPE_CHECKING:
    from bot.schema import Config
    from bot.source.detect.detect import Candidate
    from bot.store.db import Store

# Each command imports what it needs when it runs: a measured start-up reason (the exception to
# "imports at the top"). Importing everything up front cost `newsbot --help` 0.59 s and
# `newsbot check --file PAGE` 0.51 s against 33 ms for `python -c pass`: bot.app alone (scheduler,
# web server, Telegram stack) took 353 ms and pydantic config 202 ms (issue 13, -X importtime).
# `--help` now imports none of them, `check` only bot.recipes (bot.schema) and the source wing.
log = logging.getLogger("newsbot")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else 2
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
    except NewsbotError as exc:
        if args.debug:
            raise
        _error(str(exc))
        return 1
    except Exception as exc:  # a bug: still one line, the traceback is behind --debug
        if args.debug:
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
        return 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="newsbot", description="Feeds and Telegram alerts for news sites with no feed."
    )
    _add_common(parser, default=None)
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    # The same options after the command (`newsbot poll --debug`) without overriding them.
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common, default=argparse.SUPPRESS)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, text: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, parents=[common])

    init = command("init", "write config.toml and feeds/ (the shipped recipes) into a folder")
    init.add_argument("folder", nargs="?", type=Path, default=Path("."), metavar="DIR",
                      help="where to write them (default: the current folder)")
    init.add_argument("--force", action="store_true", help="overwrite files already there")
    init.set_defaults(handler=cmd_init)

    run = command("run", "poll on schedule, serve feeds, run the Telegram bot")
    _add_init(run)
    run.set_defaults(handler=cmd_run)
    demo = command("demo", "the whole daemon offline, on a simulated news site")
    demo.add_argument("--port", type=int, default=8080, help="port of the feed server")
    demo.set_defaults(handler=cmd_demo)

    poll = command("poll", "fetch now, store, publish, print new items")
    poll.add_argument("feeds", nargs="*", metavar="FEED", help="feed ids (default: all)")
    poll.add_argument("--dry-run", action="store_true", help="store and publish nothing")
    _add_init(poll)
    _add_json(poll)
    poll.set_defaults(handler=cmd_poll)

    check = command("check", "print what a recipe extracts from a page, storing nothing")
    check.add_argument("recipe", type=Path, help="a recipe file, e.g. feeds/haiphong.toml")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--url", help="fetch this page instead of the recipe's URL")
    source.add_argument("--file", type=Path, help="read a saved page (no network)")
    check.add_argument("--base-url", help="the saved page's address (default: the recipe's URL)")
    check.add_argument("--article", action="store_true", help="the page is an article page")
    _add_json(check)
    check.set_defaults(handler=cmd_check)

    feeds = command("feeds", "each feed with item count, newest item, last poll")
    _add_json(feeds)
    feeds.set_defaults(handler=cmd_feeds)

    find = command("detect", "find the article list of a page, print a recipe")
    find.add_argument("page", help="a URL, or a saved HTML file")
    find.add_argument("--base-url", help="the saved page's original address")
    find.add_argument("--all", action="store_true", help="also show the runner-up lists")
    find.add_argument("--save", type=Path, metavar="feeds/ID.toml",
                      help="write the proposed recipe there (never over an existing file)")
    find.add_argument("--recipe-only", action="store_true", help="print just the recipe (TOML)")
    _add_json(find)
    find.set_defaults(handler=cmd_detect)

    cli_sources.add_parsers(command, _config)

    backup = command("backup", "copy the database consistently, also while `run` runs")
    backup.add_argument("path", type=Path, help="a new file, or a directory for a dated one")
    backup.set_defaults(handler=cmd_backup)

    migrate = command("migrate", "upgrade the database's schema to this newsbot's")
    migrate.set_defaults(handler=cmd_migrate)
    export = command("export", "copy the whole store into another, empty database")
    export.add_argument("--to", required=True, metavar="URL",
                        help="sqlite:///new-file.db or postgresql://user@host:port/database")
    export.set_defaults(handler=cmd_export)
    return parser


def _add_common(parser: argparse.ArgumentParser, *, default: Any) -> None:
    parser.add_argument("--config", default=default,
                        help="config file (default: config.toml, or $NEWSBOT_CONFIG)")
    parser.add_argument("--debug", action="store_true", default=default or False,
                        help="show tracebacks and debug logs")


def _add_init(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--init", action="store_true",
                        help="start a new database if the data dir's is missing or damaged "
                             "(a damaged one is moved aside, never deleted)")


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a JSON document on stdout")


# --- commands ----------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Write the example config and the shipped recipes into a folder."""
    folder: Path = args.folder
    written = starter.write_starter(folder, force=args.force)
    for path in written:
        print(f"wrote {path}")
    where = "" if folder.resolve() == Path.cwd().resolve() else f"cd {folder} && "
    print(f"next: edit config.toml if you like, then `{where}newsbot run` "
          "(feeds on http://localhost:8080/)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the daemon until SIGINT/SIGTERM."""
    from bot import app

    config = _config(args, daemon=True)
    return app.run_daemon(config, debug=args.debug, init=args.init)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the daemon against a simulated news site."""
    from bot import demo

    setup_logging("DEBUG" if args.debug else "INFO")
    return demo.run(port=args.port)


def cmd_poll(args: argparse.Namespace) -> int:
    """Poll the chosen feeds once; a dry run creates and writes nothing."""
    import asyncio

    from bot.config import ensure_data_dir
    from bot.recipes import load_recipes
    from bot.store.db import acquire_lock
    from bot.store.guard import open_store

    config = _config(args)
    recipes = _select(load_recipes(config.feeds_dir), args.feeds)
    alerts: list[str] = []
    if args.dry_run:
        with _read_store(config) as store:
            reports = asyncio.run(_poll(config, recipes, alerts, store, dry_run=True))
    else:
        ensure_data_dir(config)
        with (acquire_lock(config.data_dir),
              open_store(config, init=args.init, notice=_notice) as store):
            _refuse_unless_leading(store)
            reports = asyncio.run(_poll(config, recipes, alerts, store, dry_run=False))
    alerts = _fresh_alerts(alerts, reports)
    if args.json:
        _print_json({"dry_run": args.dry_run, "feeds": [_report_json(r) for r in reports],
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
    from bot import app
    from bot.feedfiles import publish_all
    from bot.pipeline import PollDeps, poll_source, preview_source
    from bot.recipes import load_recipes
    from bot.source.fetch import Fetcher

    fetcher = Fetcher(app.fetch_policy(config))
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


def cmd_check(args: argparse.Namespace) -> int:
    """Show what a recipe extracts from a page; nothing is stored."""
    from bot.recipes import load_recipe
    from bot.source.listing import read_listing

    recipe = load_recipe(args.recipe)
    base_url = args.base_url or recipe.urls[0]
    page = _read_page(args.file or args.url or recipe.urls[0], base_url)
    now = datetime.now(UTC)
    if args.article:
        return _check_article(recipe, page, now, as_json=args.json)
    document: dict[str, Any] = {"recipe": str(args.recipe), "url": page.url}
    try:
        listing = read_listing([page], recipe, now)
    except NewsbotError as exc:
        if not args.json:
            raise
        _print_json({**document, "auto_detected": False, "items": [], "warnings": [],
                     "error": str(exc)})
        return 1
    document.update(auto_detected=listing.auto_detected,
                    items=[_item_json(item) for item in listing.items],
                    warnings=list(listing.warnings), error=None)
    if args.json:
        _print_json(document)
        return 0
    _print_items(listing.items)
    how = "auto-detected" if listing.auto_detected else "by the recipe's [list] rules"
    print(f"{len(listing.items)} items found on {page.url} {how}")
    for warning in listing.warnings:
        print(f"warning: {warning}")
    return 0


def _check_article(recipe: Recipe, page: FetchResult, now: datetime, *, as_json: bool) -> int:
    from bot.source import dom, scrape

    html = dom.decode_html(page.body, page.content_type)
    info = scrape.scrape_article(html, page.url, recipe.article, tz=recipe.timezone, now=now)
    document = {key: _jsonable(value) for key, value in asdict(info).items()}
    if as_json:
        _print_json({"url": page.url, **document})
        return 0
    for key, value in document.items():
        print(f"{key:>14}: {_short(str(value or ''), 100)}")
    return 0


def cmd_feeds(args: argparse.Namespace) -> int:
    """List feeds with their state; reads the database only if it exists."""
    from bot.recipes import load_recipes
    from bot.store.db import Store
    from bot.store.guard import open_store

    config = _config(args)
    recipes = load_recipes(config.feeds_dir)
    store = (open_store(config) if config.on_postgres else
             Store.open(config.db_path, must_exist=True) if config.db_path.exists() else None)
    try:
        rows = [_feed_row(recipe, store) for recipe in recipes]
    finally:
        if store is not None:
            store.close()
    if args.json:
        _print_json({"feeds": rows})
        return 0
    print(f"{'FEED':<16} {'ITEMS':>6}  {'LAST POLL':<20} {'RESULT':<30} NEWEST")
    for row in rows:
        result = {"never polled": "never polled", "ok": "ok"}.get(
            row["status"], f"failing ×{row['consecutive_failures']}: {row['last_error']}")
        newest = row["newest"]["title"] if row["newest"] else "-"
        last_poll = (row["last_poll_at"] or "-")[:19].replace("T", " ")
        print(f"{row['feed_id']:<16} {row['items']:>6}  {last_poll:<20}"
              f" {_short(result, 30):<30} {_short(newest, 60)}")
    return 0


def _feed_row(recipe: Recipe, store: Store | None) -> dict[str, Any]:
    health = store.health(recipe.feed_id) if store else FeedHealth(recipe.feed_id)
    newest = store.items(recipe.feed_id, limit=1) if store else []
    status = "never polled" if health.last_poll_at is None else (
        "failing" if health.last_error else "ok")
    return {
        "feed_id": recipe.feed_id,
        "title": recipe.title,
        "url": recipe.urls[0],
        "items": store.item_count(recipe.feed_id) if store else 0,
        "newest": _item_json(newest[0]) if newest else None,
        "status": status,
        "last_poll_at": _jsonable(health.last_poll_at),
        "last_success_at": _jsonable(health.last_success_at),
        "last_error": health.last_error,
        "consecutive_failures": health.consecutive_failures,
        "next_poll_at": _jsonable(health.next_poll_at),
    }


def cmd_detect(args: argparse.Namespace) -> int:
    """Find the lists of articles on a page; propose, print or save a recipe for the best."""
    from bot.source import dom
    from bot.source.detect import detect

    saved_file = not str(args.page).startswith(("http://", "https://"))
    if saved_file and not args.base_url:
        if args.save or args.recipe_only:
            raise ConfigError(f"{args.page}: a saved page needs --base-url (its address): "
                              "without it every link in the recipe would be file:///… and wrong",
                              hint=f"newsbot detect {args.page} --base-url https://site/list")
        print(f"newsbot: warning: {args.page}: no --base-url, so the links below are wrong "
              "(file:///…) and no recipe is proposed; give --base-url with the page's address",
              file=sys.stderr)
    page = _read_page(args.page, args.base_url)
    html = dom.decode_html(page.body, page.content_type)
    url = page.url
    candidates = detect.detect_lists(html, url, now=datetime.now(UTC), limit=5 if args.all else 1)
    if args.save or args.recipe_only:
        return _propose(args, html, url, candidates)
    if args.json:
        _print_json({"url": url, "candidates": [
            {"score": c.score, "reasons": list(c.reasons), "rules": _jsonable(asdict(c.rules)),
             "items": [_item_json(i) for i in c.items]} for c in candidates]})
        return 0 if candidates else 1
    if not candidates:
        _error(f"no list of articles found on {url}")
        return 1
    for rank, candidate in enumerate(candidates if args.all else candidates[:1], start=1):
        print(f"#{rank} score {candidate.score:.2f}: {candidate.rules.item}  "
              f"({'; '.join(candidate.reasons)})")
        _print_items(candidate.items)
        print()
    if saved_file and not args.base_url:
        return 0
    feed_id = _guess_feed_id(url)
    print(f"# Save as feeds/{feed_id}.toml (or: newsbot detect ... --save feeds/{feed_id}.toml):")
    print(_recipe(candidates[0], html, url, feed_id))
    return 0


def _recipe(candidate: Candidate, html: str, url: str, feed_id: str) -> str:
    """The recipe for a candidate, with the page's name, language and (when the language says
    it) time zone."""
    from bot.source import discover
    from bot.source.detect import detect

    facts = discover.page_facts(html, url)
    settings = [("language", facts.language)] if facts.language else []
    if zone := discover.zone_of_language(facts.language):
        settings.append(("timezone", zone))
    return detect.recipe_toml(candidate, feed_id=feed_id, url=url, title=facts.title or feed_id,
                              settings=settings)


def _propose(
    args: argparse.Namespace, html: str, url: str, candidates: Sequence[Candidate]
) -> int:
    """--recipe-only prints the best candidate's recipe, --save writes it (checked by loading)."""
    from bot.recipes import load_recipe

    if not candidates:
        raise ConfigError(f"no list of articles found on {url}",
                          hint="try another listing page of the site, or write [list] by hand")
    target: Path | None = args.save
    feed_id = target.stem if target else _guess_feed_id(url)
    text = _recipe(candidates[0], html, url, feed_id)
    if target is None:
        print(text, end="")
        return 0
    if target.exists():
        raise ConfigError(f"{target}: already exists, nothing written",
                          hint="choose another name, or remove the file first")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from None
    try:
        recipe = load_recipe(target)  # what `run` reads: a bad file name fails here, not later
    except NewsbotError:
        target.unlink()
        raise
    print(f"wrote {target} ({len(candidates[0].items)} items); check it with: newsbot check "
          f"{target} --url {recipe.urls[0]}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    """Copy the database with SQLite's online backup; needs no lock, writes nothing to it."""
    from bot.store.backup import backup_database

    config = _config(args)
    if config.on_postgres:
        raise StoreError(f"newsbot backup copies a SQLite file; {config.store_url} is "
                         f"PostgreSQL", hint="back it up with pg_dump, or `newsbot export "
                         "--to sqlite:///copy.db` for a SQLite copy")
    done = backup_database(config.db_path, args.path, datetime.now(UTC))
    print(f"backed up {config.db_path} to {done.path}: {done.items} items, {done.chats} "
          f"chats, {done.size / 1e6:.1f} MB, quick_check ok")
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Bring the schema up to this version (the only way on PostgreSQL, with every instance
    stopped); prints the version reached."""
    from bot.store.guard import open_store

    config = _config(args)
    config.data_dir.mkdir(parents=True, exist_ok=True)
    with open_store(config, notice=_notice, upgrade=True) as store:
        applied = len(store.migrations())
        print(f"{config.store_url}: schema version {store.schema_version()} "
              f"({applied} migrations applied)")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Copy every row of the configured store into the empty store at --to."""
    from bot.config import STORE_PASSWORD_ENV
    from bot.store.db import Store
    from bot.store.export import copy_store
    from bot.store.guard import open_store

    config = _config(args)
    with open_store(config, notice=_notice) as source:
        password = os.environ.get(STORE_PASSWORD_ENV) if args.to.startswith("postgres") else None
        with Store.connect(args.to, password=password, upgrade=True) as target:
            copied = copy_store(source, target)
            where = target.path
    counts = ", ".join(f"{count} {table}" for table, count in copied.items())
    print(f"copied {source.path} to {where}: {counts}")
    return 0


# --- helpers -----------------------------------------------------------------------------------


def _config(args: argparse.Namespace, *, daemon: bool = False) -> Config:
    from bot.config import find_config, load_config, missing_config_hint

    path, notice = find_config(args.config, os.environ)
    config = load_config(path, missing_hint=missing_config_hint(args.config, os.environ))
    # One-shot commands print their results; routine log lines would only bury them.
    quiet = "DEBUG" if args.debug else (config.log_level if daemon else "ERROR")
    setup_logging(quiet)
    if notice:
        print(f"newsbot: {notice}", file=sys.stderr)
    return config


def _notice(message: str) -> None:
    print(f"newsbot: {message}", file=sys.stderr)


def _select(recipes: list[Recipe], wanted: Sequence[str]) -> list[Recipe]:
    known = {recipe.feed_id: recipe for recipe in recipes}
    unknown = [feed_id for feed_id in wanted if feed_id not in known]
    if unknown:
        raise ConfigError(
            f"unknown feed {', '.join(unknown)}",
            hint=f"known feeds: {', '.join(known) or 'none (add feeds/<id>.toml)'}",
        )
    return [known[feed_id] for feed_id in wanted] if wanted else recipes


def _read_page(source: str | Path, base_url: str | None) -> FetchResult:
    """A page from a file (no network) or a URL; a file's links resolve against `base_url`."""
    text = str(source)
    if text.startswith(("http://", "https://")):
        import asyncio

        return asyncio.run(_fetch_one(text))
    path = Path(text)
    try:
        body = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the page: {exc.strerror}") from None
    return FetchResult(url=base_url or path.resolve().as_uri(), status=200, body=body)


async def _fetch_one(url: str) -> FetchResult:
    from bot.source.fetch import Fetcher

    async with Fetcher() as fetcher:
        return await fetcher.fetch(url)


def _guess_feed_id(url: str) -> str:
    host = urlsplit(url).hostname or "feed"
    name = host.removeprefix("www.").split(".")[0]
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()) or "feed"


def _print_report(report: PollReport, *, dry_run: bool) -> None:
    if report.outcome == "failed":
        error = report.error or "failed"
        _error(error if error.startswith(f"{report.feed_id}: ") else f"{report.feed_id}: {error}")
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
    _print_items(report.new_items)
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
        "new_items": [_item_json(item) for item in report.new_items],
    }


if __name__ == "__main__":
    sys.exit(main())
