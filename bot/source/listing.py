"""A recipe's fetched listing pages -> items: the recipe's rules, a feed, or auto-detection.

Pure: fetched pages in, a `Listing` out (`now` a parameter). Decoding and parsing happen here and
in the modules this calls, never in the pipeline: a feed recipe's page is read as a feed
(`feeds`), a page with rules is scraped (`scrape`), and a page without rules, or whose rules stop
matching with `fallback = "auto"`, has its list found by `detect`. Sections: a sectioned recipe's
pages are its sections in order, and each item remembers the section it was listed in.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot import diff, documents, urls
from bot.errors import FetchError, NewsbotError, ScrapeError
from bot.model import FeedHealth, FetchResult, Item, Pick, Recipe, Section
from bot.source import article, dom, picks, scrape
from bot.source.article import ArticleInfo
from bot.source.feeds import read_feed
from bot.source.memo import ItemMemo

log = logging.getLogger(__name__)

HTML_SNIFF_BYTES = 4096
UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # NUL bytes are text there


@dataclass(frozen=True)
class Listing:
    """What the listing pages hold: items in page order, warnings, and how they were found."""

    items: tuple[Item, ...]
    warnings: tuple[str, ...]
    auto_detected: bool = False
    recipe_error: ScrapeError | None = None  # why the recipe's own rules were not used
    paged_to_known: bool = False  # next pages were read until a known item showed up

    @property
    def ids(self) -> list[str]:
        return [item.item_id for item in self.items]


def live_sections(recipe: Recipe) -> tuple[Section, ...]:
    """The recipe's sections, if its URLs are theirs (a test or `check --url` may swap them)."""
    if recipe.urls == tuple(section.url for section in recipe.sections):
        return recipe.sections
    return ()


def read_listing(
    pages: Sequence[FetchResult], recipe: Recipe, now: datetime, *, memo: ItemMemo | None = None
) -> Listing:
    """The items of every page; ScrapeError (or FetchError) when a page has none.

    Pages of a sectioned recipe are its sections in order: their items carry the section's id,
    an item listed in two sections belongs to the first, and a section after the first whose
    page yields nothing is a warning. A page not modified since the last poll adds no items.
    `memo`: the caller's memory of the feed's last pages (see `scrape_page`).
    """
    sections = live_sections(recipe)
    found = []
    for index, page in enumerate(pages):
        if page.not_modified:
            continue
        section = sections[index] if index < len(sections) else None
        try:
            listing = scrape_page(page, recipe, now, memo=memo)
        except NewsbotError as exc:
            if section is None or index == 0:
                raise
            found.append(Listing((), (f"section {section.name!r} skipped: {exc}",)))
            continue
        found.append(in_section(listing, section.section_id) if section else listing)
    listing = combine(found)
    if not sections:
        return listing
    first: dict[str, Item] = {}
    for item in listing.items:
        first.setdefault(item.item_id, item)
    return replace(listing, items=tuple(first.values()))


def in_section(listing: Listing, section_id: str) -> Listing:
    """The listing with every item marked as listed in the section."""
    return replace(listing, items=tuple(replace(i, section=section_id) for i in listing.items))


def combine(found: Sequence[Listing]) -> Listing:
    """Listings of consecutive pages as one."""
    return Listing(
        items=tuple(item for listing in found for item in listing.items),
        warnings=tuple(w for listing in found for w in listing.warnings),
        auto_detected=any(listing.auto_detected for listing in found),
        recipe_error=next((lst.recipe_error for lst in found if lst.recipe_error), None),
        paged_to_known=any(listing.paged_to_known for listing in found),
    )


def scrape_page(
    page: FetchResult, recipe: Recipe, now: datetime, *, memo: ItemMemo | None = None
) -> Listing:
    """One page's items in page order: the recipe's rules, else (when allowed) auto-detection.
    A feed recipe's page is a feed, read as one. With a `memo` (the daemon's, kept between
    polls), a recipe's items unchanged since the feed's last page are not read again."""
    if recipe.feed:
        result = read_feed(page, recipe, now)
        return Listing(result.items, result.warnings)
    _check_html(page, recipe)
    html = dom.decode_html(page.body, page.content_type)
    if recipe.rules is None:
        return _detect(html, page.url, recipe, now, recipe_error=None)
    try:
        result = scrape.scrape(html, page.url, recipe, now, memo=memo)
    except ScrapeError as exc:
        if recipe.rules.fallback != "auto":
            raise
        return _detect(html, page.url, recipe, now, recipe_error=exc)
    return Listing(result.items, result.warnings)


def _check_html(page: FetchResult, recipe: Recipe) -> None:
    """A body that is no web page (binary junk, an empty 200) is a failed fetch, not a redesign."""
    head = page.body[:HTML_SNIFF_BYTES]
    # A stray NUL in a real page is dropped by the parser; junk is full of them.
    if head.startswith(UTF16_BOMS) or (b"<" in head and head.count(0) * 100 <= len(head)):
        return
    kind = page.content_type or "no content type"
    raise FetchError(
        f"{recipe.feed_id}: {page.url} sent {len(page.body)} bytes of {kind} that are not HTML",
        hint="the site may be broken or serving an error page; newsbot will retry with backoff",
    )


def _detect(
    html: str, url: str, recipe: Recipe, now: datetime, *, recipe_error: ScrapeError | None
) -> Listing:
    # Imported here: the detector is a tenth of `newsbot check`'s start-up, and a recipe whose
    # rules match never needs it (tests/test_architecture.py, LATE_IMPORTS).
    from bot.source.detect import detect

    candidates = detect.detect_lists(html, url, now=now, tz=recipe.timezone, limit=1)
    if not candidates:
        raise recipe_error or ScrapeError(
            f"{recipe.feed_id}: no list of articles found on {url}: has the markup changed?",
            hint=f"try `newsbot detect {url} --all` and write a [list] section",
        )
    best = candidates[0]
    items = tuple(_own_item(item, recipe) for item in best.items)
    warnings: tuple[str, ...] = ()
    if recipe_error is not None:
        warnings = (f"{recipe_error.message}; auto-detected list {best.rules.item!r} instead",)
        log.warning("%s", warnings[0])
    return Listing(items, warnings, auto_detected=True, recipe_error=recipe_error)


def _own_item(item: Item, recipe: Recipe) -> Item:
    """A detected item with the recipe's feed id and id rule, and its document number."""
    item_id = diff.item_id(
        item.url, title=item.title, published_at=item.published_at, id_pattern=recipe.id_pattern
    )
    doc_number, doc_type = documents.document_info(item.title)
    return replace(
        item, feed_id=recipe.feed_id, item_id=item_id, doc_number=doc_number, doc_type=doc_type
    )


def check_detected_list(
    listing: Listing, known: set[str], health: FeedHealth, recipe: Recipe
) -> None:
    """An auto-detected list sharing no item with the feed's history is another list: refuse it."""
    if not listing.auto_detected or not health.seeded or known:
        return
    raise listing.recipe_error or ScrapeError(
        f"{recipe.feed_id}: the list auto-detected on {recipe.urls[0]} shares no item with the "
        "feed's history: has the markup changed?",
        hint=f"try `newsbot detect {recipe.urls[0]} --all` and write a [list] section",
    )


def next_page_url(page: FetchResult, pick: Pick) -> str | None:
    """The absolute URL of the page's next-page link, if it has one."""
    root = dom.parse_html(dom.decode_html(page.body, page.content_type))
    node = dom.select_one(root, pick.css) if pick.css else None
    href = (dom.attr_of(node, pick.attr or "href") or None) if node is not None else None
    return urls.absolute_url(href, picks.document_base(root, page.url))


def read_article(page: FetchResult, recipe: Recipe, now: datetime) -> ArticleInfo:
    """An item's own page: the recipe's [article] rules, then the page's metadata."""
    html = dom.decode_html(page.body, page.content_type)
    return article.scrape_article(html, page.url, recipe.article, tz=recipe.timezone, now=now)
