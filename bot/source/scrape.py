"""Recipe-driven scraping: a listing page's HTML to Items, an article page's HTML to ArticleInfo.

Pure: text in, values out; parsing goes through bot.source.dom, dates through bot.source.dates, ids
through
bot.diff. The only exception raised on purpose is ScrapeError, and hostile HTML raises nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot import diff, documents
from bot.errors import ScrapeError
from bot.model import ArticleRules, Attachment, Item, ListRules, Pick, Recipe, ScrapeResult
from bot.source import attachments, dates, dom, memo, readable
from bot.source.dom import Node
from bot.urls import absolute_url

_IMAGE_ATTRS = ("src", "data-src", "data-original", "data-lazy-src", "data-srcset", "srcset")
_ARTICLE_TYPES = frozenset(
    {"NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle"}
)
_NEAR_TITLE_ELEMENTS = 40  # how far after the title a visible date may sit
_DATE_TEXT_MAX = 80  # longer text is a paragraph that merely mentions a date
_CONTENT_NOISE = "script, style, noscript, template, form, button, input, select"
_TEXT_LIMIT = 5000  # characters taken from a title/summary/date element
_MAX_ELEMENTS = 500  # item elements looked at per page; a listing shows tens
_TITLE_SEPARATOR = re.compile(r"\s+[-|–—»]\s+")  # `Headline - Section | Site`
_MIN_TITLE = 10  # a shorter leading part of the <title> is a section name
_MEMO = memo.ItemMemo()  # each feed's last listing page, read: unchanged items are not reread


@dataclass(frozen=True)
class ArticleInfo:
    """What an article page says about itself; None where it says nothing usable."""

    title: str | None = None
    published_at: datetime | None = None
    author: str | None = None
    image: str | None = None
    content_html: str | None = None
    attachments: tuple[Attachment, ...] = ()


# --- listing pages -----------------------------------------------------------------------------


def scrape(html: str, base_url: str, recipe: Recipe, now: datetime) -> ScrapeResult:
    """Items of a listing page, in page order, per the recipe's [list] rules."""
    rules = recipe.rules
    if rules is None:
        raise ScrapeError(
            f"{recipe.feed_id}: the recipe has no [list] rules to scrape {base_url} with",
            hint="add a [list] section to the recipe, or let the auto-detector handle it",
        )
    root = dom.parse_html(html)
    base = document_base(root, base_url)
    elements = _outermost(_select(root, rules.item))[:_MAX_ELEMENTS]
    if not elements:
        raise _no_items(recipe, rules, base_url)
    problems: dict[str, list[int]] = {}
    items: list[Item] = []
    seen: set[str] = set()
    invalid = 0
    remember = memo.memorable(rules)
    known = _MEMO.recall(recipe, base) if remember else {}
    readings: dict[bytes, memo.Reading] = {}
    for position, element in enumerate(elements, start=1):
        if remember:
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
    if remember:
        _MEMO.keep(recipe, base, readings)
    return ScrapeResult(tuple(items), _warnings(problems, rules, len(elements)))


def _recalled_reading(
    element: Node,
    base: str,
    recipe: Recipe,
    rules: ListRules,
    now: datetime,
    known: dict[bytes, memo.Reading],
    readings: dict[bytes, memo.Reading],
) -> memo.Reading:
    """The element's reading from the last poll's page if it is there, else read now (and
    kept for the next poll when no part of it depends on `now`)."""
    key = memo.element_key(dom.outer_bytes(element))
    reading = known.get(key)
    if reading is None:
        reading = _reading(element, base, recipe, rules, now)
        if rules.date is not None and reading.item is not None:
            # The printed date as read at `now` (a missing one is the URL's: no `now` in it).
            found = None if "date" in reading.missing else reading.item.published_at
            shifted = _list_date(element, rules, recipe, now + memo.NOW_SHIFT, 0, {})
            if shifted != found:
                return reading  # a relative, yearless or time-less date: read it every poll
    readings[key] = reading
    return reading


def _reading(
    element: Node, base: str, recipe: Recipe, rules: ListRules, now: datetime
) -> memo.Reading:
    """One item element read: its Item (or None) and the fields it lacked."""
    lacked: dict[str, list[int]] = {}
    item = _scrape_item(element, base, recipe, rules, now, 0, lacked)
    return memo.Reading(item, tuple(lacked))


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


def document_base(root: Node, page_url: str) -> str:
    """The URL relative links resolve against: `<base href>` if the page has one."""
    base = dom.select_one(root, "base[href]")
    href = dom.attr_of(base, "href") if base is not None else None
    return (absolute_url(href, page_url) or page_url) if href else page_url


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
    title_node = _first(element, rules.title)
    title = _text_or_attr(title_node, rules.title) if title_node is not None else ""
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
        node = _first(element, pick)
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
    node = _first(element, pick)
    text = _text_or_attr(node, pick) if node is not None else ""
    if not text:
        problems.setdefault(field, []).append(position)
    return text


def _image(
    element: Node, pick: Pick | None, base: str, position: int, problems: dict[str, list[int]]
) -> str | None:
    if pick is None:
        return None
    node = _first(element, pick)
    url = image_url(node, pick.attr, base) if node is not None else None
    if url is None:
        problems.setdefault("image", []).append(position)
    return url


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
    node = _first(element, rules.date)
    found = None
    if node is not None:
        found = _date_of(node, rules.date.attr, now, recipe.timezone, rules.date_formats)
    if found is None:
        problems.setdefault("date", []).append(position)
    return found


def _date_of(
    node: Node, attr: str | None, now: datetime, tz: str, formats: tuple[str, ...] = ()
) -> datetime | None:
    """A date from an element: the named attribute, else `datetime=`, else its text."""
    if attr:
        texts = [dom.attr_of(node, attr)]
    else:
        texts = [dom.attr_of(node, "datetime"), dom.text_of(node, _TEXT_LIMIT)]
    for text in texts:
        if text:
            parsed = dates.parse_date(text, now, tz, formats)
            if parsed is not None:
                return parsed.at
    return None


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


# --- article pages -----------------------------------------------------------------------------


def scrape_article(
    html: str, url: str, rules: ArticleRules | None, *, tz: str, now: datetime
) -> ArticleInfo:
    """Title, date, author, image and content of an article page: recipe rules, then metadata."""
    rules = rules or ArticleRules()
    root = dom.parse_html(html)
    base = document_base(root, url)
    meta = _meta_tags(root)
    ld = _json_ld_article(root)
    title_node = _first(root, rules.title) if rules.title else None
    title = ""
    if title_node is not None and rules.title is not None:
        title = _text_or_attr(title_node, rules.title)
    title = title or _without_site_name(meta.get("og:title", ""), root, meta, ld)
    title = title or _ld_text(ld.get("headline")) or _heading(root)
    attachments = _article_attachments(root, rules, base)  # before the content is cleaned
    return ArticleInfo(
        title=title or None,
        published_at=_article_date(root, rules, meta, ld, url, tz, now, title_node),
        author=_article_author(root, rules, meta, ld),
        image=_article_image(root, rules, meta, ld, base),
        content_html=(
            readable.main_content(html, base) if rules.content_auto
            else _article_content(root, rules, base)
        ),
        attachments=attachments,
    )


def _article_attachments(root: Node, rules: ArticleRules, base: str) -> tuple[Attachment, ...]:
    """Files in the article's content (the whole page without a content rule), and the CMS's
    explicit download links and document viewers anywhere on the page."""
    scope = _select(root, rules.content.css) if rules.content and rules.content.css else [root]
    marked = [
        attachments.find_attachments(node, base)
        for node in _select(root, "a.link-download, iframe[src*='file='], embed[src*='file=']")
    ]
    return documents.merge_attachments(
        *(attachments.find_attachments(node, base) for node in scope), *marked
    )


def _article_date(
    root: Node,
    rules: ArticleRules,
    meta: dict[str, str],
    ld: dict[str, object],
    url: str,
    tz: str,
    now: datetime,
    title_node: Node | None,
) -> datetime | None:
    if rules.date is not None:
        node = _first(root, rules.date)
        found = _date_of(node, rules.date.attr, now, tz) if node is not None else None
        if found is not None:
            return found
    stated = (
        meta.get("article:published_time"),
        meta.get("datepublished"),
        _ld_text(ld.get("datePublished")),
        meta.get("pubdate"),
    )
    # A date with its own offset beats one read in the recipe's zone: sites print naive
    # article:published_time in UTC or in their zone alike (a 2-4 h error on real pages).
    found = next(filter(None, (_aware_iso(text) for text in stated)), None)
    for text in stated:
        found = found or _iso_or_text(text, now, tz)
    if found is not None:
        return found
    time_node = dom.select_one(root, "time[datetime]")
    if time_node is not None:
        found = _date_of(time_node, None, now, tz)
        if found is not None:
            return found
    near = title_node if title_node is not None else _heading_node(root)
    # Plain `<meta name="date">` comes last: CMSes fill it with the render time (tagesschau.de
    # says 29.04 11:52 on an article printed, archived and tracked as 28.04 18:00).
    return (
        dates.date_from_url(url, tz)
        or _date_near(near, now, tz)
        or _iso_or_text(meta.get("date"), now, tz)
    )


def _aware_iso(text: str | None) -> datetime | None:
    """An ISO 8601 timestamp that states its offset, in UTC; None otherwise."""
    try:
        at = datetime.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None
    return at.astimezone(UTC) if at is not None and at.tzinfo is not None else None


def _without_site_name(
    title: str, root: Node, meta: dict[str, str], ld: dict[str, object]
) -> str:
    """og:title without a trailing `| Yonhap News Agency` / `- BBC News`: a separator followed by
    the site's name (og:site_name, JSON-LD publisher), or preceded by the page's h1, ends it."""
    if not title:
        return title
    publisher = ld.get("publisher")
    names = {
        meta.get("og:site_name", ""), meta.get("application-name", ""),
        _ld_text(publisher.get("name")) if isinstance(publisher, dict) else "",
    }  # fmt: skip
    names = {name.casefold() for name in names if name}
    headings = {dom.text_of(node, _TEXT_LIMIT) for node in dom.select(root, "h1")}
    for match in reversed(list(_TITLE_SEPARATOR.finditer(title))):
        head, tail = title[: match.start()], title[match.end() :]
        if len(head) >= _MIN_TITLE and (tail.casefold() in names or head in headings):
            return head
    return title


def _iso_or_text(text: str | None, now: datetime, tz: str) -> datetime | None:
    """An ISO 8601 timestamp (naive: in `tz`), else whatever parse_date makes of the text."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text.strip())
    except ValueError:
        parsed = dates.parse_date(text, now, tz)
        return parsed.at if parsed else None
    if at.tzinfo is None:
        at = at.replace(tzinfo=ZoneInfo(tz))
    return at.astimezone(UTC)


def _date_near(title_node: Node | None, now: datetime, tz: str) -> datetime | None:
    """The first short visible text after the title that reads as a date."""
    if title_node is None:
        return None
    for node in dom.following_elements(title_node, _NEAR_TITLE_ELEMENTS):
        text = dom.text_of(node, _DATE_TEXT_MAX + 1)
        if 0 < len(text) <= _DATE_TEXT_MAX:
            parsed = dates.parse_date(text, now, tz)
            if parsed is not None:
                return parsed.at
    return None


def _article_author(
    root: Node, rules: ArticleRules, meta: dict[str, str], ld: dict[str, object]
) -> str | None:
    if rules.author is not None:
        node = _first(root, rules.author)
        text = _text_or_attr(node, rules.author) if node is not None else ""
        if text:
            return text
    return meta.get("author") or meta.get("article:author") or _ld_author(ld.get("author"))


def _article_image(
    root: Node, rules: ArticleRules, meta: dict[str, str], ld: dict[str, object], base: str
) -> str | None:
    if rules.image is not None:
        node = _first(root, rules.image)
        url = image_url(node, rules.image.attr, base) if node is not None else None
        if url:
            return url
    for value in (meta.get("og:image"), meta.get("twitter:image"), _ld_image(ld.get("image"))):
        url = absolute_url(value, base)
        if url:
            return url
    return None


def _article_content(root: Node, rules: ArticleRules, base: str) -> str | None:
    """The matched content elements as HTML, scripts and forms removed, links absolute."""
    if rules.content is None:
        return None
    nodes = _select(root, rules.content.css) if rules.content.css else [root]
    nodes = [n for n in nodes if not any(_is_inside(n, other) for other in nodes)]
    if not nodes:
        return None
    parts = []
    for node in nodes:
        dom.drop(dom.select(node, _CONTENT_NOISE))
        dom.absolutize_links(node, base)
        parts.append(dom.outer_html(node))
    return "\n".join(parts)


def _is_inside(node: Node, other: Node) -> bool:
    return node is not other and any(a is other for a in dom.ancestors_of(node))


def _meta_tags(root: Node) -> dict[str, str]:
    """`<meta property|name|itemprop=… content=…>` by lower-cased key; first one wins."""
    found: dict[str, str] = {}
    for node in dom.select(root, "meta[content]"):
        key = dom.attr_of(node, "property") or dom.attr_of(node, "name")
        key = key or dom.attr_of(node, "itemprop")
        content = dom.attr_of(node, "content")
        if key and content:
            found.setdefault(key.lower(), dom.normalize_text(content))
    return found


def _json_ld_article(root: Node) -> dict[str, object]:
    """The first NewsArticle-like object in the page's JSON-LD blocks, or {}."""
    for node in dom.select(root, 'script[type="application/ld+json"]'):
        try:
            data = json.loads(dom.raw_text_of(node))
        except (ValueError, RecursionError):
            continue
        for candidate in _ld_objects(data):
            kind = candidate.get("@type")
            kinds = set(kind) if isinstance(kind, list) else {kind}
            if kinds & _ARTICLE_TYPES:
                return candidate
    return {}


def _ld_objects(data: object) -> Iterator[dict[str, object]]:
    pending = [data]
    while pending:
        current = pending.pop(0)
        if isinstance(current, list):
            pending.extend(current)
        elif isinstance(current, dict):
            yield current
            graph = current.get("@graph")
            if isinstance(graph, list):
                pending.extend(graph)


def _ld_text(value: object) -> str:
    return dom.normalize_text(value) if isinstance(value, str) else ""


def _ld_author(value: object) -> str | None:
    values = value if isinstance(value, list) else [value]
    names = [_ld_text(v.get("name")) if isinstance(v, dict) else _ld_text(v) for v in values]
    joined = ", ".join(name for name in names if name)
    return joined or None


def _ld_image(value: object) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("url")
    return value if isinstance(value, str) else None


def _heading_node(root: Node) -> Node | None:
    """The headline element: an h1 that starts the page <title>, else the element printing the
    <title> up to a separator (`Headline - Section - Site`), else the first h1."""
    headings = dom.select(root, "h1")
    page = dom.select_one(root, "title")
    page_title = dom.text_of(page, _TEXT_LIMIT) if page is not None else ""
    if not page_title:
        return headings[0] if headings else None
    for node in headings:
        text = dom.text_of(node, _TEXT_LIMIT)
        if text and page_title.startswith(text):
            return node
    printed = _printed_title(root, page_title)
    if printed is not None:
        return printed
    return headings[0] if headings else None


def _printed_title(root: Node, page_title: str) -> Node | None:
    """The first element outside links whose text is the page <title> or a leading part of it."""
    wanted = {page_title[: m.start()] for m in _TITLE_SEPARATOR.finditer(page_title)}
    wanted = {text for text in wanted if len(text) >= _MIN_TITLE} | {page_title}
    longest = max(len(text) for text in wanted)
    body = dom.select_one(root, "body")
    for node in dom.iter_elements(body if body is not None else root):
        if not (node.text or "").strip() or dom.tag_of(node) in ("a", "script", "style"):
            continue  # a title prints its own text; links are other articles
        if dom.text_of(node, longest + 1) in wanted and not any(
            dom.tag_of(a) == "a" for a in dom.ancestors_of(node)
        ):
            return node
    return None


def _heading(root: Node) -> str:
    node = _heading_node(root)
    if node is None:
        node = dom.select_one(root, "title")
    return dom.text_of(node, _TEXT_LIMIT) if node is not None else ""


# --- shared helpers ----------------------------------------------------------------------------


def _select(node: Node, css: str) -> list[Node]:
    try:
        return dom.select(node, css)
    except ValueError as exc:  # config validates selectors; a hand-built Recipe may not
        raise ScrapeError(f"bad selector {css!r}: {exc}", hint="fix the recipe") from None


def _first(element: Node, pick: Pick) -> Node | None:
    """The first element the pick selects under `element`; an empty css is the element itself."""
    if not pick.css:
        return element
    found = _select(element, pick.css)
    return found[0] if found else None


def _text_or_attr(node: Node, pick: Pick) -> str:
    if pick.attr:
        return dom.normalize_text((dom.attr_of(node, pick.attr) or "")[:_TEXT_LIMIT])
    return dom.text_of(node, _TEXT_LIMIT)
