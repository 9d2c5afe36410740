"""An article page's HTML to `ArticleInfo`: the recipe's [article] rules, then what the page says
about itself (meta tags, JSON-LD, the headline element, a date printed near it).

Pure: text in, values out (`now` a parameter); parsing goes through bot.source.dom, dates through
bot.source.dates, picks through bot.source.picks (shared with the listing scraper). The only
exception raised on purpose is ScrapeError, and hostile HTML raises nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot import documents
from bot.model import ArticleRules, Attachment
from bot.source import attachments, dates, dom, picks, readable
from bot.source.dom import Node
from bot.urls import absolute_url

_ARTICLE_TYPES = frozenset(
    {"NewsArticle", "Article", "BlogPosting", "ReportageNewsArticle", "AnalysisNewsArticle"}
)
_NEAR_TITLE_ELEMENTS = 40  # how far after the title a visible date may sit
_DATE_TEXT_MAX = 80  # longer text is a paragraph that merely mentions a date
_CONTENT_NOISE = "script, style, noscript, template, form, button, input, select"
_TITLE_SEPARATOR = re.compile(r"\s+[-|–—»]\s+")  # `Headline - Section | Site`
_MIN_TITLE = 10  # a shorter leading part of the <title> is a section name


@dataclass(frozen=True)
class ArticleInfo:
    """What an article page says about itself; None where it says nothing usable."""

    title: str | None = None
    published_at: datetime | None = None
    author: str | None = None
    image: str | None = None
    content_html: str | None = None
    attachments: tuple[Attachment, ...] = ()


def scrape_article(
    html: str, url: str, rules: ArticleRules | None, *, tz: str, now: datetime
) -> ArticleInfo:
    """Title, date, author, image and content of an article page: recipe rules, then metadata."""
    rules = rules or ArticleRules()
    root = dom.parse_html(html)
    base = picks.document_base(root, url)
    meta = _meta_tags(root)
    ld = _json_ld_article(root)
    title_node = picks.first(root, rules.title) if rules.title else None
    title = ""
    if title_node is not None and rules.title is not None:
        title = picks.text_or_attr(title_node, rules.title)
    title = title or _without_site_name(meta.get("og:title", ""), root, meta, ld)
    title = title or _ld_text(ld.get("headline")) or _heading(root)
    attachments = _article_attachments(root, rules, base)  # before the content is cleaned
    return ArticleInfo(
        title=title or None,
        published_at=_article_date(root, rules, meta, ld, url, tz, now, title_node),
        author=_article_author(root, rules, meta, ld),
        image=_article_image(root, rules, meta, ld, base),
        content_html=(
            readable.main_content(html, base)
            if rules.content_auto
            else _article_content(root, rules, base)
        ),
        attachments=attachments,
    )


def _article_attachments(root: Node, rules: ArticleRules, base: str) -> tuple[Attachment, ...]:
    """Files in the article's content (the whole page without a content rule), and the CMS's
    explicit download links and document viewers anywhere on the page."""
    scope = picks.select(root, rules.content.css) if rules.content and rules.content.css else [root]
    marked = [
        attachments.find_attachments(node, base)
        for node in picks.select(root, "a.link-download, iframe[src*='file='], embed[src*='file=']")
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
        node = picks.first(root, rules.date)
        found = picks.date_of(node, rules.date.attr, now, tz) if node is not None else None
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
        found = picks.date_of(time_node, None, now, tz)
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


def _without_site_name(title: str, root: Node, meta: dict[str, str], ld: dict[str, object]) -> str:
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
    headings = {dom.text_of(node, picks.TEXT_LIMIT) for node in dom.select(root, "h1")}
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
        node = picks.first(root, rules.author)
        text = picks.text_or_attr(node, rules.author) if node is not None else ""
        if text:
            return text
    return meta.get("author") or meta.get("article:author") or _ld_author(ld.get("author"))


def _article_image(
    root: Node, rules: ArticleRules, meta: dict[str, str], ld: dict[str, object], base: str
) -> str | None:
    if rules.image is not None:
        node = picks.first(root, rules.image)
        url = picks.image_url(node, rules.image.attr, base) if node is not None else None
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
    nodes = picks.select(root, rules.content.css) if rules.content.css else [root]
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
    page_title = dom.text_of(page, picks.TEXT_LIMIT) if page is not None else ""
    if not page_title:
        return headings[0] if headings else None
    for node in headings:
        text = dom.text_of(node, picks.TEXT_LIMIT)
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
    return dom.text_of(node, picks.TEXT_LIMIT) if node is not None else ""
