"""A listing page's HTML to Items, in page order, per a recipe's [list] rules.

Pure: text in, values out (`now` a parameter); parsing goes through bot.source.dom, picks through
bot.source.picks (shared with the article reader, bot.source.article), dates through
bot.source.dates, ids through bot.diff. The caller owns the `ItemMemo` that spares unchanged items
a second reading (`memo=None`: every item is read). The only exception raised on purpose is
ScrapeError, and hostile HTML raises nothing.
"""

from __future__ import annotations

from datetime import datetime

from bot import diff, documents
from bot.errors import ScrapeError
from bot.model import Item, ListRules, Pick, Recipe, ScrapeResult
from bot.source import attachments, dates, dom, picks
from bot.source.dom import Node
from bot.source.memo import NOW_SHIFT, ItemMemo, Reading, element_key, memorable
from bot.urls import absolute_url


def scrape(
    html: str, base_url: str, recipe: Recipe, now: datetime, *, memo: ItemMemo | None = None
) -> ScrapeResult:
    """Items of a listing page, in page order, per the recipe's [list] rules.

    With a `memo`, items whose elements were on the feed's last page read are taken from it, and
    this page's readings are kept there for the next; without one, every item is read."""
    rules = recipe.rules
    if rules is None:
        raise ScrapeError(
            f"{recipe.feed_id}: the recipe has no [list] rules to scrape {base_url} with",
            hint="add a [list] section to the recipe, or let the auto-detector handle it",
        )
    root = dom.parse_html(html)
    base = picks.document_base(root, base_url)
    elements = _outermost(picks.select(root, rules.item))[: picks.MAX_ELEMENTS]
    if not elements:
        raise _no_items(recipe, rules, base_url)
    problems: dict[str, list[int]] = {}
    items: list[Item] = []
    seen: set[str] = set()
    invalid = 0
    # Picks that look beside the item (`:first-child`, `+`) make its bytes not enough: no memo.
    memory = memo if memo is not None and memorable(rules) else None
    known = memory.recall(recipe, base) if memory is not None else {}
    readings: dict[bytes, Reading] = {}
    for position, element in enumerate(elements, start=1):
        if memory is not None:
            reading = _recalled_reading(element, base, recipe, rules, now, known, readings)
        else:
            reading = _reading(element, base, recipe, rules, now)
        for field in reading.missing:
            problems.setdefault(field, []).append(position)
        item = reading.item
        if item is None:
            invalid += 1
        elif item.url not in seen and item.item_id not in seen:
            seen.update((item.url, item.item_id))
            items.append(item)
    if not items or invalid * 2 > len(elements):
        raise ScrapeError(
            f"{recipe.feed_id}: {invalid} of {len(elements)} items matched by [list] item = "
            f"{rules.item!r} on {base_url} have no title or link: has the markup changed?",
            hint=f"check [list] title = {str(rules.title)!r} and link against the page",
        )
    if memory is not None:
        memory.keep(recipe, base, readings)
    return ScrapeResult(tuple(items), _warnings(problems, rules, len(elements)))


def _recalled_reading(
    element: Node,
    base: str,
    recipe: Recipe,
    rules: ListRules,
    now: datetime,
    known: dict[bytes, Reading],
    readings: dict[bytes, Reading],
) -> Reading:
    """The element's reading from the last poll's page if it is there, else read now (and
    kept for the next poll when no part of it depends on `now`)."""
    key = element_key(dom.outer_bytes(element))
    reading = known.get(key)
    if reading is None:
        reading = _reading(element, base, recipe, rules, now)
        if rules.date is not None and reading.item is not None:
            # The printed date as read at `now` (a missing one is the URL's: no `now` in it).
            found = None if "date" in reading.missing else reading.item.published_at
            shifted = _list_date(element, rules, recipe, now + NOW_SHIFT, 0, {})
            if shifted != found:
                return reading  # a relative, yearless or time-less date: read it every poll
    readings[key] = reading
    return reading


def _reading(element: Node, base: str, recipe: Recipe, rules: ListRules, now: datetime) -> Reading:
    """One item element read: its Item (or None) and the fields it lacked."""
    lacked: dict[str, list[int]] = {}
    item = _scrape_item(element, base, recipe, rules, now, 0, lacked)
    return Reading(item, tuple(lacked))


def _outermost(elements: list[Node]) -> list[Node]:
    """Drop matches nested inside other matches: only broken markup nests items, and scanning
    every nested item's subtree again would make hostile pages quadratic."""
    # In document order an element nested in a match comes after it, and every match in
    # between is nested in it too: comparing with the last match kept is enough.
    kept: list[Node] = []
    inside = ""  # the path prefix of the last kept match's descendants
    for element in elements:
        path = dom.path_of(element)
        if kept and path.startswith(inside):
            continue
        kept.append(element)
        inside = path + "/"
    return kept


def _scrape_item(
    element: Node,
    base: str,
    recipe: Recipe,
    rules: ListRules,
    now: datetime,
    position: int,
    problems: dict[str, list[int]],
) -> Item | None:
    """One item element to an Item; None (and a noted problem) without a title or a link."""
    title_node = picks.first(element, rules.title)
    title = picks.text_or_attr(title_node, rules.title) if title_node is not None else ""
    if not title and title_node is not None:
        title = dom.normalize_text(dom.attr_of(title_node, "title") or "")
    url = absolute_url(_link_href(element, title_node, rules.link), base)
    if not title or not url:
        problems.setdefault("title" if not title else "link", []).append(position)
        return None
    summary = _optional_text(element, rules.summary, "summary", position, problems)
    image = _image(element, rules.image, base, position, problems)
    published_at = _list_date(element, rules, recipe, now, position, problems)
    if published_at is None:
        published_at = dates.date_from_url(url, recipe.timezone)
    if published_at is None and image is not None:
        published_at = dates.date_from_url(image, recipe.timezone)  # CDN upload ticks: last resort
    doc_number, doc_type = documents.document_info(title)
    return Item(
        feed_id=recipe.feed_id,
        item_id=diff.item_id(
            url, title=title, published_at=published_at, id_pattern=recipe.id_pattern
        ),
        url=url,
        title=title,
        summary=summary,
        published_at=published_at,
        image=image,
        attachments=attachments.find_attachments(element, base),
        doc_number=doc_number,
        doc_type=doc_type,
    )


def _link_href(element: Node, title_node: Node | None, pick: Pick | None) -> str | None:
    """The link: the pick, else the title element's href, its first a[href], the item's."""
    if pick is not None:
        node = picks.first(element, pick)
        if node is None:
            return None
        return dom.attr_of(node, pick.attr) if pick.attr else _href_in(node)
    if title_node is not None:
        href = _href_in(title_node)
        if href:
            return href
    return _href_in(element)


def _href_in(node: Node) -> str | None:
    """The element's own href if it is a link, else its first descendant a[href]'s."""
    if dom.tag_of(node) == "a" and dom.attr_of(node, "href"):
        return dom.attr_of(node, "href")
    anchor = dom.select_one(node, "a[href]")
    return dom.attr_of(anchor, "href") if anchor is not None else None


def _optional_text(
    element: Node, pick: Pick | None, field: str, position: int, problems: dict[str, list[int]]
) -> str:
    if pick is None:
        return ""
    node = picks.first(element, pick)
    text = picks.text_or_attr(node, pick) if node is not None else ""
    if not text:
        problems.setdefault(field, []).append(position)
    return text


def _image(
    element: Node, pick: Pick | None, base: str, position: int, problems: dict[str, list[int]]
) -> str | None:
    if pick is None:
        return None
    node = picks.first(element, pick)
    url = picks.image_url(node, pick.attr, base) if node is not None else None
    if url is None:
        problems.setdefault("image", []).append(position)
    return url


def _list_date(
    element: Node,
    rules: ListRules,
    recipe: Recipe,
    now: datetime,
    position: int,
    problems: dict[str, list[int]],
) -> datetime | None:
    if rules.date is None:
        return None
    node = picks.first(element, rules.date)
    found = None
    if node is not None:
        found = picks.date_of(node, rules.date.attr, now, recipe.timezone, rules.date_formats)
    if found is None:
        problems.setdefault("date", []).append(position)
    return found


def _warnings(problems: dict[str, list[int]], rules: ListRules, total: int) -> tuple[str, ...]:
    """One line per field that some items lacked, naming the items and the rule."""
    rule_of = {
        "title": rules.title, "link": rules.link, "summary": rules.summary,
        "date": rules.date, "image": rules.image,
    }  # fmt: skip
    lines = []
    for field, positions in sorted(problems.items(), key=lambda kv: list(rule_of).index(kv[0])):
        shown = ", ".join(str(p) for p in positions[:10]) + (", …" if len(positions) > 10 else "")
        rule = rule_of.get(field)
        where = f"[list] {field} = {str(rule)!r}" if rule is not None else f"default {field}"
        lines.append(f"{len(positions)} of {total} items have no usable {field} ({where}): {shown}")
    return tuple(lines)


def _no_items(recipe: Recipe, rules: ListRules, url: str) -> ScrapeError:
    return ScrapeError(
        f"{recipe.feed_id}: no items matched [list] item = {rules.item!r} on {url}: "
        "has the markup changed?",
        hint="open the page, find the repeated element around each headline and update "
        '[list] item (or set fallback = "auto")',
    )
