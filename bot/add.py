"""Adding a source in one step: `newsbot add URL`, `newsbot import FILE.opml`, the bot's /add.

A URL becomes a `Proposal`: the recipe's text, the recipe as the daemon will read it, and the
items a poll would find, as they would be published. What the URL is decides the recipe:

- a feed (RSS, Atom, JSON Feed): a feed recipe (`feed = URL`);
- a page linking feeds (`<link rel="alternate">`): a feed recipe for the first that reads;
- a page on a site serving a feed at a usual path (/rss, /feed, /rss.xml, ...): the same. The
  paths are tried one at a time through the fetcher, which paces each host and obeys robots.txt;
- any other page: its list of articles is auto-detected (a scraping recipe whose `[article]
  content = "auto"` fetches each new article's text).

Every fetch goes through the `fetch` given, the daemon's Fetcher, so its limits and address rules
apply. Nothing is written until `save`, which never overwrites a file: an id or a URL that is
already followed is refused. Composition level: it knows the source wing and the recipe format.
An OPML import (bot.add_opml) and the bot's /add (bot.add_desk) are built on `propose` and `save`.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from bot import urls
from bot.errors import FetchError, RecipeError, ScrapeError
from bot.filters import fold
from bot.model import DEFAULT_TIMEZONE, FetchResult, Item, Recipe, SourceKind
from bot.recipes import RESERVED_FEED_IDS, recipe_from_text
from bot.schema import FEED_ID
from bot.source import discover, dom
from bot.source.detect import detect
from bot.source.feeds import FeedInfo, feed_info, looks_like_feed
from bot.source.listing import read_listing

Fetch = Callable[[str], Awaitable[FetchResult]]

MAX_LINKED_FEEDS = 3  # of the feeds a page links, this many are tried in page order
_GENERIC_LABELS = frozenset({"www", "m", "feeds", "feed", "rss", "news", "tin", "api"})


@dataclass(frozen=True)
class Proposal:
    """A recipe ready to save, and what its first poll would find."""

    recipe: Recipe
    text: str  # the TOML written as feeds/<id>.toml
    items: tuple[Item, ...]  # as a poll reads them, in page (feed) order
    how: str  # how the source was found, for the reader: "a feed linked by the page", ...
    kind: SourceKind = "feed"
    warnings: tuple[str, ...] = ()

    @property
    def feed_id(self) -> str:
        return self.recipe.feed_id

    @property
    def path(self) -> Path:
        assert self.recipe.path is not None  # made by recipe_from_text with its future path
        return self.recipe.path


@dataclass
class Sources:
    """What feeds/ holds: the recipes that load, and every file name taken (broken ones too).
    Ids are taken as recipes are saved, so that proposals made meanwhile choose others."""

    folder: Path
    recipes: Mapping[str, Recipe]
    taken: set[str]

    @classmethod
    def of(cls, folder: Path, recipes: Iterable[Recipe]) -> Sources:
        names = {path.stem for path in folder.glob("*.toml")} if folder.is_dir() else set()
        loaded = {recipe.feed_id: recipe for recipe in recipes}
        return cls(folder, loaded, names | set(loaded))

    def following(self, url: str) -> str | None:
        """The id of the recipe that already reads `url` (compared as canonical URLs)."""
        wanted = urls.canonical_url(url)
        for feed_id, recipe in self.recipes.items():
            addresses = [*recipe.urls, *(section.url for section in recipe.sections)]
            if any(urls.canonical_url(address) == wanted for address in addresses):
                return feed_id
        return None


@dataclass(frozen=True)
class _Found:
    """The source a URL led to: a feed or a page to scrape, the response, and how it was found."""

    page: FetchResult
    kind: SourceKind
    how: str
    feed: FeedInfo | None  # what the feed says about itself; None: a page to scrape
    facts: discover.PageFacts | None  # of the page the user gave, when it was a page

    @property
    def title(self) -> str:
        return (self.feed.title if self.feed else "") or (self.facts.title if self.facts else "")

    @property
    def language(self) -> str | None:
        return (self.feed.language if self.feed else None) or (
            self.facts.language if self.facts else None)


async def propose(
    url: str,
    fetch: Fetch,
    sources: Sources,
    *,
    now: datetime,
    feed_id: str | None = None,
    title: str | None = None,
    timezone: str | None = None,
    scrape_page: bool = False,
    must_be_feed: bool = False,
) -> Proposal:
    """What adding `url` would write and find; raises a NewsbotError (one line) when it cannot.

    `scrape_page`: scrape the page even when it has a feed; `must_be_feed` (OPML import): refuse
    a URL that is not a feed itself.
    """
    if feed_id is not None:
        check_new_id(feed_id, sources)
    found = await _find_source(url, fetch, scrape_page=scrape_page, must_be_feed=must_be_feed)
    address = found.page.url
    already = sources.following(address) or sources.following(url)
    if already:
        raise RecipeError(
            f"{address} is already followed as feeds/{already}.toml",
            hint="`newsbot feeds` lists it; remove that file first to add it again",
        )
    # From here on nothing waits: the id chosen cannot be taken meanwhile by another proposal.
    name = title or found.title or _host(address)
    chosen = feed_id or guess_id(address, name, sources.taken)
    write = _feed_recipe if found.feed else _page_recipe
    text = write(found, chosen, name, timezone=timezone, now=now)
    recipe = recipe_from_text(text, sources.folder / f"{chosen}.toml")
    listing = read_listing([found.page], recipe, now)
    return Proposal(recipe, text, listing.items, found.how, found.kind, listing.warnings)


def check_new_id(feed_id: str, sources: Sources) -> None:
    """A usable id no recipe has: RecipeError naming the fix otherwise."""
    if not FEED_ID.match(feed_id) or feed_id in RESERVED_FEED_IDS:
        reason = "is reserved for the combined feed" if feed_id in RESERVED_FEED_IDS else (
            "is not a usable feed id")
        raise RecipeError(f"{feed_id!r} {reason}",
                          hint="use lower-case letters, digits, - or _, e.g. --id baochinhphu")
    if feed_id in sources.taken:
        raise RecipeError(f"feeds/{feed_id}.toml already exists",
                          hint="choose another --id, or edit that file")


def save(proposal: Proposal, sources: Sources) -> Path:
    """Write the recipe as a new file, whole or not at all, never over an existing one; its id
    is taken in `sources`."""
    path = proposal.path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written under a name the daemon's rescan ignores (not *.toml), then linked into place in
    # one step that fails if the name exists: the daemon never reads half a recipe.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(proposal.text, encoding="utf-8")
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise RecipeError(f"{path}: already exists", hint="choose another --id") from None
    finally:
        temporary.unlink(missing_ok=True)
    sources.taken.add(proposal.feed_id)
    return path


# --- finding the source ------------------------------------------------------------------------


async def _find_source(
    url: str, fetch: Fetch, *, scrape_page: bool, must_be_feed: bool
) -> _Found:
    page = await fetch(url)
    if looks_like_feed(page.body, page.content_type):
        return _Found(page, "feed", "a feed", _feed_info(page), None)
    if must_be_feed:
        raise FetchError(f"{page.url}: not a feed ({page.content_type or 'no content type'})",
                         hint="an OPML outline's xmlUrl must be an RSS, Atom or JSON feed")
    facts = discover.page_facts(dom.decode_html(page.body, page.content_type), page.url)
    if not scrape_page:
        linked = await _first_feed(facts.feed_links[:MAX_LINKED_FEEDS], fetch)
        if linked is not None:
            return _Found(linked, "linked", "the feed the page links", _feed_info(linked),
                          facts)
        if not facts.feed_links:  # a page linking feeds that do not read: no guessing
            usual = await _first_feed(discover.common_feed_urls(page.url), fetch)
            if usual is not None:
                path = urlsplit(usual.url).path
                return _Found(usual, "usual", f"the site's feed at {path}", _feed_info(usual),
                              facts)
    return _Found(page, "page", "the list of articles auto-detected on the page", None, facts)


async def _first_feed(candidates: Sequence[str], fetch: Fetch) -> FetchResult | None:
    """The first candidate that answers with a feed; one at a time (politeness over speed)."""
    for candidate in candidates:
        try:
            page = await fetch(candidate)
        except FetchError:
            continue
        if looks_like_feed(page.body, page.content_type):
            return page
    return None


def _feed_info(page: FetchResult) -> FeedInfo:
    return feed_info(page, _probe_recipe(page.url))


def _probe_recipe(url: str) -> Recipe:
    """A stand-in recipe to read a feed before its own exists."""
    return Recipe(feed_id="new", title="new", urls=(url,), feed=True)


# --- writing the recipe ------------------------------------------------------------------------


def _settings(found: _Found, timezone: str | None) -> list[tuple[str, str]]:
    settings = []
    if language := found.language:
        settings.append(("language", language))
    if timezone:
        settings.append(("timezone", timezone))
    return settings


def _feed_recipe(
    found: _Found, feed_id: str, title: str, *, timezone: str | None, now: datetime
) -> str:
    lines = [
        f"# feeds/{feed_id}.toml: added by `newsbot add` ({found.how}).",
        f"title = {_toml(title)}",
        f"feed = {_toml(found.page.url)}",
        *(f"{key} = {_toml(value)}" for key, value in _settings(found, timezone)),
    ]
    probe = read_listing([found.page], _probe_recipe(found.page.url), now)
    if probe.items and not any(item.content for item in probe.items):
        # Entries with a summary only: each new article's page gives the full text.
        lines += ["", "[article]", 'content = "auto"  # the full text of each new article']
    return "\n".join(lines) + "\n"


def _page_recipe(
    found: _Found, feed_id: str, title: str, *, timezone: str | None, now: datetime
) -> str:
    page = found.page
    html = dom.decode_html(page.body, page.content_type)
    candidates = detect.detect_lists(html, page.url, now=now, limit=1,
                                     tz=timezone or DEFAULT_TIMEZONE)
    if not candidates:
        raise ScrapeError(
            f"{page.url}: no feed and no list of articles found on the page",
            hint=f"try `newsbot detect {page.url} --all`, or give the address of a listing page",
        )
    return detect.recipe_toml(candidates[0], feed_id=feed_id, url=page.url, title=title,
                              by="newsbot add", settings=_settings(found, timezone),
                              article_auto=True)


def guess_id(url: str, title: str, taken: Collection[str]) -> str:
    """A feed id from the site's name (`vnexpress`), else with the title (`vnexpress-the-gioi`),
    else numbered; never one in `taken`."""
    site = _slug(_site_label(url))
    named = _slug(title)
    own = "-".join(word for word in named.split("-") if word != site)  # `VnExpress - Thế giới`
    options = [site, f"{site}-{own}" if site and own else "", named]
    free = set(taken) | RESERVED_FEED_IDS
    for option in options:
        option = option[:64].strip("-_")
        if option and FEED_ID.match(option) and option not in free:
            return option
    stem = (site or named or "feed")[:60].strip("-_") or "feed"
    if stem not in free:
        return stem
    number = 2
    while f"{stem}-{number}" in free:
        number += 1
    return f"{stem}-{number}"


def _site_label(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    if not host or re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host):
        return ""  # an address says nothing about the site
    labels = [label for label in host.split(".")[:-1] if label not in _GENERIC_LABELS]
    return labels[0] if labels else host.split(".")[0]


def _slug(text: str, words: int = 4) -> str:
    """`Tin tức sự kiện - Cổng thông tin` -> `tin-tuc-su-kien`: short enough to type."""
    found = re.findall(r"[a-z0-9]+", fold(text))
    return "-".join(found[:words])[:40].strip("-")


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def _toml(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)
