"""The command line's page commands: `newsbot check RECIPE` (what a recipe extracts from a page)
and `newsbot detect URL|FILE` (the article list of a page, and a recipe for it).

Split out of bot.cli, which registers them. They read pages and print; they store nothing. Like
bot.cli, the commands import what they need when they run: `check --file` imports the recipe
schema and the source wing's page reader, nothing of fetching, the store or publishing.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.cli_print import add_json, error, item_json, jsonable, print_items, print_json, short
from bot.cli_sources import Command
from bot.errors import ConfigError, NewsbotError

if TYPE_CHECKING:
    from bot.model import FetchResult, Recipe
    from bot.source.detect.detect import Candidate


def add_check(command: Command) -> None:
    check = command("check", "print what a recipe extracts from a page, storing nothing")
    check.add_argument("recipe", type=Path, help="a recipe file, e.g. feeds/haiphong.toml")
    source = check.add_mutually_exclusive_group()
    source.add_argument("--url", help="fetch this page instead of the recipe's URL")
    source.add_argument("--file", type=Path, help="read a saved page (no network)")
    check.add_argument("--base-url", help="the saved page's address (default: the recipe's URL)")
    check.add_argument("--article", action="store_true", help="the page is an article page")
    add_json(check)
    check.set_defaults(handler=cmd_check)


def add_detect(command: Command) -> None:
    find = command("detect", "find the article list of a page, print a recipe")
    find.add_argument("page", help="a URL, or a saved HTML file")
    find.add_argument("--base-url", help="the saved page's original address")
    find.add_argument("--all", action="store_true", help="also show the runner-up lists")
    find.add_argument("--save", type=Path, metavar="feeds/ID.toml",
                      help="write the proposed recipe there (never over an existing file)")
    find.add_argument("--recipe-only", action="store_true", help="print just the recipe (TOML)")
    find.add_argument("--timezone", metavar="ZONE",
                      help="the zone the page prints its times in (IANA, e.g. Asia/Seoul): used "
                      "to read its dates and written into the recipe (default: from the page's "
                      "language)")
    add_json(find)
    find.set_defaults(handler=cmd_detect)


def cmd_check(args: argparse.Namespace) -> int:
    """Show what a recipe extracts from a page; nothing is stored."""
    from bot.recipes import load_recipe
    from bot.source.listing import read_listing

    recipe = load_recipe(args.recipe)
    base_url = args.base_url or recipe.urls[0]
    page = read_page(args.file or args.url or recipe.urls[0], base_url)
    now = datetime.now(UTC)
    if args.article:
        return _check_article(recipe, page, now, as_json=args.json)
    document: dict[str, Any] = {"recipe": str(args.recipe), "url": page.url}
    try:
        listing = read_listing([page], recipe, now)
    except NewsbotError as exc:
        if not args.json:
            raise
        print_json({**document, "auto_detected": False, "items": [], "warnings": [],
                     "error": str(exc)})
        return 1
    document.update(auto_detected=listing.auto_detected,
                    items=[item_json(item) for item in listing.items],
                    warnings=list(listing.warnings), error=None)
    if args.json:
        print_json(document)
        return 0
    print_items(listing.items)
    how = "auto-detected" if listing.auto_detected else "by the recipe's [list] rules"
    print(f"{len(listing.items)} items found on {page.url} {how}")
    for warning in listing.warnings:
        print(f"warning: {warning}")
    return 0


def _check_article(recipe: Recipe, page: FetchResult, now: datetime, *, as_json: bool) -> int:
    from dataclasses import asdict

    from bot.source.listing import read_article

    info = read_article(page, recipe, now)
    document = {key: jsonable(value) for key, value in asdict(info).items()}
    if as_json:
        print_json({"url": page.url, **document})
        return 0
    for key, value in document.items():
        print(f"{key:>14}: {short(str(value or ''), 100)}")
    return 0


def cmd_detect(args: argparse.Namespace) -> int:
    """Find the lists of articles on a page; propose, print or save a recipe for the best."""
    from dataclasses import asdict

    from bot.model import DEFAULT_TIMEZONE
    from bot.source import discover, dom
    from bot.source.detect import detect

    zone = _checked_zone(args.timezone)
    saved_file = not str(args.page).startswith(("http://", "https://"))
    if saved_file and not args.base_url:
        if args.save or args.recipe_only:
            raise ConfigError(f"{args.page}: a saved page needs --base-url (its address): "
                              "without it every link in the recipe would be file:///… and wrong",
                              hint=f"newsbot detect {args.page} --base-url https://site/list")
        print(f"newsbot: warning: {args.page}: no --base-url, so the links below are wrong "
              "(file:///…) and no recipe is proposed; give --base-url with the page's address",
              file=sys.stderr)
    page = read_page(args.page, args.base_url)
    html = dom.decode_html(page.body, page.content_type)
    url = page.url
    zone = zone or discover.zone_of_language(discover.page_facts(html, url).language)
    candidates = detect.detect_lists(html, url, now=datetime.now(UTC), tz=zone or DEFAULT_TIMEZONE,
                                     limit=5 if args.all else 1)
    if args.save or args.recipe_only:
        return _propose(args, html, url, candidates, zone)
    if args.json:
        print_json({"url": url, "candidates": [
            {"score": c.score, "reasons": list(c.reasons), "rules": jsonable(asdict(c.rules)),
             "items": [item_json(i) for i in c.items]} for c in candidates]})
        return 0 if candidates else 1
    if not candidates:
        error(f"no list of articles found on {url}")
        return 1
    for rank, candidate in enumerate(candidates if args.all else candidates[:1], start=1):
        print(f"#{rank} score {candidate.score:.2f}: {candidate.rules.item}  "
              f"({'; '.join(candidate.reasons)})")
        print_items(candidate.items)
        print()
    if saved_file and not args.base_url:
        return 0
    feed_id = guess_feed_id(url)
    print(f"# Save as feeds/{feed_id}.toml (or: newsbot detect ... --save feeds/{feed_id}.toml):")
    print(_recipe(candidates[0], html, url, feed_id, zone))
    return 0


def _checked_zone(name: str | None) -> str | None:
    """--timezone's zone, or one line naming the bad value and the fix."""
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"--timezone {name}: not a time zone",
                          hint="give an IANA name, e.g. --timezone Asia/Seoul") from None
    return name


def _recipe(candidate: Candidate, html: str, url: str, feed_id: str, zone: str | None) -> str:
    """The recipe for a candidate, with the page's name, language and the time zone its dates
    were read in (--timezone, else the language's; none: newsbot's default)."""
    from bot.source import discover
    from bot.source.detect import detect

    facts = discover.page_facts(html, url)
    settings = [("language", facts.language)] if facts.language else []
    if zone:
        settings.append(("timezone", zone))
    return detect.recipe_toml(candidate, feed_id=feed_id, url=url, title=facts.title or feed_id,
                              settings=settings)


def _propose(
    args: argparse.Namespace, html: str, url: str, candidates: Sequence[Candidate],
    zone: str | None,
) -> int:
    """--recipe-only prints the best candidate's recipe, --save writes it (checked by loading)."""
    from bot.recipes import load_recipe

    if not candidates:
        raise ConfigError(f"no list of articles found on {url}",
                          hint="try another listing page of the site, or write [list] by hand")
    target: Path | None = args.save
    feed_id = target.stem if target else guess_feed_id(url)
    text = _recipe(candidates[0], html, url, feed_id, zone)
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


def read_page(source: str | Path, base_url: str | None) -> FetchResult:
    """A page from a file (no network) or a URL; a file's links resolve against `base_url`."""
    from bot.model import FetchResult

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


def guess_feed_id(url: str) -> str:
    host = urlsplit(url).hostname or "feed"
    name = host.removeprefix("www.").split(".")[0]
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()) or "feed"
