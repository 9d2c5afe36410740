"""What a detected list's items hold, for `detect`: the title, date, summary and image picks
that work on most of its items, and the items those rules yield, built as `scrape` builds them.

Pure: no I/O. The page comes from `listshape`; CSS runs through `cssmatch`; official
documents' numbers come from `bot.documents`, their files from `bot.source.attachments`, as in
`scrape`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import NamedTuple

from bot import documents
from bot.model import Attachment, Item, ListRules, Pick
from bot.source import attachments, datelists, dom
from bot.source.detect.cssmatch import Selector, first_in, one_step, parse_css, stable_classes
from bot.source.detect.headlines import word_count
from bot.source.detect.listshape import Page, overlaid_heading_node, title_options
from bot.source.dom import Node
from bot.source.picks import TEXT_LIMIT, image_url

SAMPLE = 8  # items inspected to choose the date/summary/image picks
_INNER_DATE = 20  # characters of a date printed inside the headline link, at most
_TEXT_TAGS = ("p", "div", "span", "h2", "h3", "h4", "h5", "h6", "li", "dd", "small", "time", "em")


def title_pick(page: Page, elements: list[Node]) -> Selector | None:
    """The shortest CSS inside an item whose first match is its headline link, for most items."""
    heads = {e: _dominant_link(page, e) for e in elements[: SAMPLE * 2]}
    options: dict[str, Selector] = {}
    for element, anchor in heads.items():
        if anchor is None:
            continue
        for option in title_options(element, anchor):
            options.setdefault(option.css, option)
    headed = sum(1 for anchor in heads.values() if anchor is not None)
    best: tuple[float, int, Selector] | None = None
    for rank, option in enumerate(options.values()):
        hits = sum(1 for e, a in heads.items() if a is not None and first_in(page, e, option) is a)
        key = (hits / max(1, len(heads)), -rank, option)
        if best is None or key[:2] > best[:2]:
            best = key
        if hits == headed:
            break  # a later option could only tie, and ties go to the earlier
    return best[2] if best is not None and best[0] >= 0.5 else None


def heading_pick(page: Page, elements: list[Node], anchors: list[Node | None]) -> Selector | None:
    """For lists whose links are empty and laid over each card: a one-step selector for the
    card's heading (what `scrape` then reads as the title; the link is the card's first)."""
    sample = [(e, a) for e, a in zip(elements, anchors, strict=True) if a is not None][:SAMPLE]
    return _common_pick(page, sample, _overlaid_heading)


def _overlaid_heading(page: Page, item: Node, anchor: Node) -> Node | None:
    return overlaid_heading_node(anchor)


def _dominant_link(page: Page, element: Node) -> Node | None:
    """The item's strongest headline link (the first one on a tie)."""
    best: tuple[float, Node] | None = None
    for anchor in page.anchors_in(element):
        link = page.links.get(anchor)
        if link is not None and (best is None or link.strength > best[0]):
            best = (link.strength, anchor)
    return best[1] if best else None


def with_extra_picks(
    page: Page, rules: ListRules, elements: list[Node], titles: list[Node | None]
) -> ListRules:
    """Add date, summary and image picks that work on most sampled items."""
    sample = [(e, t) for e, t in zip(elements, titles, strict=True) if t is not None][:SAMPLE]
    date = _common_pick(page, sample, _date_node)
    summary = _common_pick(page, sample, _summary_node)
    image = _image_pick(sample)
    formats: tuple[str, ...] = ()
    if date is not None:  # the whole list's dates decide whether `12-01` is December or January
        nodes = [first_in(page, element, date) for element in elements]
        texts = [page.text(node) for node in nodes if node is not None]
        formats = datelists.list_formats(texts, page.now, page.tz, page.language, page.page_date)
    return ListRules(
        item=rules.item,
        title=rules.title,
        link=rules.link,
        date=Pick(date.css) if date else None,
        summary=Pick(summary.css) if summary else None,
        image=image,
        date_formats=formats,
    )


_Finder = Callable[[Page, Node, Node], "Node | None"]


def _common_pick(page: Page, sample: list[tuple[Node, Node]], find: _Finder) -> Selector | None:
    """A one-step selector for the node `find` locates in each item, if it agrees on most."""
    votes: dict[str, tuple[int, Selector]] = {}
    for item, title in sample:
        key = (find.__name__, item, title)
        if key not in page.found:
            page.found[key] = find(page, item, title)  # lists share items: look once
        node = page.found[key]
        if node is None:
            continue
        selector = one_step(dom.tag_of(node), stable_classes(node))
        if first_in(page, item, selector) is not node:
            continue
        count, _ = votes.get(selector.css, (0, selector))
        votes[selector.css] = (count + 1, selector)
    if not votes:
        return None
    count, best = max(votes.values(), key=lambda v: v[0])
    return best if count >= max(2, len(sample) // 2) else None


def _date_node(page: Page, item: Node, title: Node) -> Node | None:
    """The smallest element in the item, outside the title, whose text holds a date."""
    around, inside = set(title.iterancestors()), set(title.iter())
    found: Node | None = None
    for element in item.iter(*_TEXT_TAGS):
        if element in around or len(element) > 4:
            continue
        if element.tag == "time" and element.get("datetime"):
            return element
        text = " ".join(" ".join(element.itertext()).split())
        if not text or len(text) > 80 or not any(ch.isdigit() for ch in text):
            continue
        if element in inside and (len(element) or element is title or len(text) > _INNER_DATE):
            continue  # inside the headline only a date of its own (asahi's `<span>(14:35)`)
        if found is not None and found not in set(element.iterancestors()):
            break  # document order: a later match outside the first one is another date
        if page.parse_date(text) is not None or page.time_only(text):
            found = element  # keep descending: a smaller element may hold the same date
    return found


def _summary_node(page: Page, item: Node, title: Node) -> Node | None:
    """The longest teaser-like text block in the item, outside the title."""
    around, inside = set(title.iterancestors()), set(title.iter())
    best: tuple[int, Node] | None = None
    for element in item.iter("p", "div", "span"):
        if element in around or element in inside:
            continue
        words = word_count(" ".join(element.itertext()))
        if words >= 8 and (best is None or words > best[0]):
            best = (words, element)
    return best[1] if best else None


def _image_pick(sample: list[tuple[Node, Node]]) -> Pick | None:
    found = [next(item.iter("img"), None) for item, _ in sample]
    images = [img for img in found if img is not None]
    if len(images) < max(2, len(sample) // 2):
        return None
    return Pick("img")  # `picks.image_url` reads src, then the lazy-loading attributes


# --- items ---------------------------------------------------------------------------------------


class Draft(NamedTuple):
    """An item as `scrape` would build it, but its official-document fields (`finish` adds them:
    only the lists kept need them)."""

    element: Node
    item_id: str
    url: str
    title: str
    summary: str
    published_at: datetime | None
    image: str | None


def drafts(
    page: Page, rules: ListRules, elements: list[Node], titles: list[Node | None]
) -> list[Draft]:
    """The items the rules yield, built the way `scrape` builds them (same order, same dedup)."""
    date_sel = parse_css(rules.date.css) if rules.date else None
    summary_sel = parse_css(rules.summary.css) if rules.summary else None
    link_sel = parse_css(rules.link.css) if rules.link else None
    found: list[Draft] = []
    seen: set[str] = set()
    for element, title_node in zip(elements, titles, strict=True):
        if title_node is None:
            continue
        attr = rules.title.attr
        if attr is None:
            title = page.text(title_node)
        else:  # as `scrape` reads an attribute pick
            title = dom.normalize_text((dom.attr_of(title_node, attr) or "")[:TEXT_LIMIT])
        title = title or dom.normalize_text(title_node.get("title") or "")
        url = item_url(page, element, title_node, link_sel)
        if not title or url is None:
            continue
        summary = ""
        if summary_sel is not None and (node := first_in(page, element, summary_sel)) is not None:
            summary = page.text(node)
        image = None
        if rules.image is not None and (img := next(element.iter("img"), None)) is not None:
            image = image_url(img, rules.image.attr, page.base_url)
        published = _published(page, element, date_sel, url, image, rules.date_formats)
        item_id = page.item_id(url)
        if url in seen or item_id in seen:
            continue
        seen.update((url, item_id))
        found.append(Draft(element, item_id, url, title, summary, published, image))
    return found


def finish(page: Page, found: list[Draft]) -> tuple[Item, ...]:
    """The drafts as Items, with the document number, type and attachments `scrape` adds."""
    items = []
    for draft in found:
        doc_number, doc_type = documents.document_info(draft.title)
        items.append(
            Item(
                feed_id="",
                item_id=draft.item_id,
                url=draft.url,
                title=draft.title,
                summary=draft.summary,
                published_at=draft.published_at,
                image=draft.image,
                attachments=_attachments(page, draft.element),
                doc_number=doc_number,
                doc_type=doc_type,
            )
        )
    return tuple(items)


def _attachments(page: Page, element: Node) -> tuple[Attachment, ...]:
    found = page.attached.get(element)
    if found is None:  # lists kept may share items
        found = page.attached[element] = attachments.find_attachments(element, page.base_url)
    return found


def item_url(
    page: Page, element: Node, title_node: Node, link: Selector | None = None
) -> str | None:
    """The link pick's, else the title's link, else the item's first (as `scrape` finds it)."""
    if link is not None:
        node = first_in(page, element, link)
        return page.absolute(node.get("href")) if node is not None else None
    href = title_node.get("href")
    if not href:
        href = next((a.get("href") for a in page.anchors_in(element) if a.get("href")), None)
    return page.absolute(href)


def _published(
    page: Page,
    element: Node,
    date_sel: Selector | None,
    url: str,
    image: str | None,
    formats: tuple[str, ...],
) -> datetime | None:
    """The printed date, else the one in the URL (dantri's timestamp) or image, else None."""
    if date_sel is not None and (node := first_in(page, element, date_sel)) is not None:
        for text in (node.get("datetime"), page.text(node)):
            parsed = page.parse_date(text, formats) if text else None
            if parsed is not None:
                return parsed
    found = page.url_date(url)
    if found is None and image is not None:
        found = page.url_date(image)
    return found
