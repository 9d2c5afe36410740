"""A recipe's `Pick` applied to a parsed page: what listing and article scraping both read with.

Pure: elements in, values out (`now` a parameter for dates). `bot.source.scrape` (listing pages)
and `bot.source.article` (article pages) share these, so an item and its article read a title,
an image or a date the same way; the list detector (bot.source.detect) reads with the same
limits, so that the items it proposes are the items the recipe it writes will yield.
"""

from __future__ import annotations

from datetime import datetime

from bot.errors import ScrapeError
from bot.model import Pick
from bot.source import dates, dom
from bot.source.dom import Node
from bot.urls import absolute_url

TEXT_LIMIT = 5000  # characters taken from a title/summary/date element
MAX_ELEMENTS = 500  # item elements read per listing page (a listing shows tens)
_IMAGE_ATTRS = ("src", "data-src", "data-original", "data-lazy-src", "data-srcset", "srcset")


def select(node: Node, css: str) -> list[Node]:
    """The elements `css` matches under `node`; a selector lxml cannot compile is a ScrapeError."""
    try:
        return dom.select(node, css)
    except ValueError as exc:  # config validates selectors; a hand-built Recipe may not
        raise ScrapeError(f"bad selector {css!r}: {exc}", hint="fix the recipe") from None


def first(element: Node, pick: Pick) -> Node | None:
    """The first element the pick selects under `element`; an empty css is the element itself."""
    if not pick.css:
        return element
    found = select(element, pick.css)
    return found[0] if found else None


def text_or_attr(node: Node, pick: Pick) -> str:
    """The pick's attribute of the element if it names one, else the element's text."""
    if pick.attr:
        return dom.normalize_text((dom.attr_of(node, pick.attr) or "")[:TEXT_LIMIT])
    return dom.text_of(node, TEXT_LIMIT)


def image_url(node: Node, attr: str | None, base: str) -> str | None:
    """An image URL from an <img> (or the first one inside `node`), lazy-loading attrs included."""
    candidates = [(attr, dom.attr_of(node, attr))] if attr else []
    img = node if dom.tag_of(node) == "img" else dom.select_one(node, "img")
    if img is not None:
        candidates += [(name, dom.attr_of(img, name)) for name in _IMAGE_ATTRS]
    for name, value in candidates:
        if not value or value.startswith("data:"):
            continue  # empty, or a lazy-loading placeholder
        if name.endswith("srcset"):
            value = value.split(",")[0].strip().split(" ")[0]
        url = absolute_url(value, base)
        if url:
            return url
    return None


def date_of(
    node: Node, attr: str | None, now: datetime, tz: str, formats: tuple[str, ...] = ()
) -> datetime | None:
    """A date from an element: the named attribute, else `datetime=`, else its text."""
    if attr:
        texts = [dom.attr_of(node, attr)]
    else:
        texts = [dom.attr_of(node, "datetime"), dom.text_of(node, TEXT_LIMIT)]
    for text in texts:
        if text:
            parsed = dates.parse_date(text, now, tz, formats)
            if parsed is not None:
                return parsed.at
    return None


def document_base(root: Node, page_url: str) -> str:
    """The URL relative links resolve against: `<base href>` if the page has one."""
    base = dom.select_one(root, "base[href]")
    href = dom.attr_of(base, "href") if base is not None else None
    return (absolute_url(href, page_url) or page_url) if href else page_url
