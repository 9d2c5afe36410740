"""The shape of lists on a page, for `detect`: headline links, the sibling blocks that hold
them, and the CSS that picks those blocks out.

Articles are printed as sibling blocks of one shape, each with one dominant link to an article
of the same site. `Page` finds the links that look like headlines (several words, not "Xem
thêm"/menus) to article-like paths (a long slug, a trailing numeric id, a date or dantri's
timestamp); `candidate_selectors` groups the blocks holding them by (parent, tag) at every
level above each link and writes CSS for each group: a strict `#ctx parent > item` and a
page-wide `item.class` (`bot.source.detect.cssmatch` runs it).

Pure: no I/O, `now` is a parameter. HTML goes through `bot.source.dom`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from urllib.parse import urlsplit

from bot import diff
from bot.model import Attachment
from bot.source import dates, dom
from bot.source.detect.cssmatch import Index, Selector, Step, stable_classes
from bot.source.detect.headlines import CJK, article_score, headline_score
from bot.source.dom import Node
from bot.source.picks import TEXT_LIMIT, document_base
from bot.urls import absolute_url

MAX_LEVELS = 8  # how far above a link an item block may be
PAGE_DATE_SLACK = timedelta(days=31)  # items a page lists after its newest dated address
_UNKNOWN = object()
CARD_TEXT = 300  # a link's text longer than this is a card (headline, teaser…), not a headline
_STABLE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
# Words inside an id or class name; whitespace separates the names.
_BOILERPLATE = re.compile(
    r"(?:^|[-_\s])(?:nav|navi|navbar|menu|submenu|subnav|header|footer|sidebar|aside|breadcrumbs?|"
    r"social|share|most|popular|mostread|trending|widget|banner|ads|advert|toolbar|topbar|"
    r"copyright|login|pager|pagination|tags|doc-?nhieu|xem-?nhieu|nhieu|carousel|slider|"
    r"slides?|swiper|slick|owl)"
    r"(?:$|[-_\d\s])",
    re.IGNORECASE,
)
_CAROUSEL_CAMEL = re.compile(r"[a-z](?:Slides?|Slider|Carousel|Swiper)(?![a-z])")
_BOILERPLATE_TAGS = frozenset({"header", "nav", "footer", "aside", "menu"})
_MAIN = re.compile(r"(?:^|[-_\s])(?:main|content|primary|center|list)(?:$|[-_\d\s])", re.I)
_TWO_LEVEL_SUFFIXES = frozenset({"com", "gov", "org", "net", "edu", "ac", "co", "int", "info"})
_PLAIN_PATH = re.compile(r"^/(?!/)[^\s]*$")
_PLAIN_ABSOLUTE = re.compile(r"^https?://[^/\s?#]+/[^\s]*$")
_PLAIN_RELATIVE = re.compile(r"^[A-Za-z0-9_~%-][^\s:]*$")
_HOST_PATH = re.compile(r"^[a-z]+://([^/?#]*)([^?#]*)")
_HEADING = re.compile(r"h[1-6]")


@dataclass
class Link:
    """A same-site link that looks like a headline."""

    node: Node
    url: str
    strength: float  # 0..1: headline-like text x article-like path


class Page(Index):
    """A parsed page, its headline links, and the memos one detection needs."""

    def __init__(
        self, root: Node, base_url: str, now: datetime, tz: str, language: str | None = None
    ) -> None:
        super().__init__(root)
        self.language = language  # of the page: which order its numeric dates are read in
        self.base_url = document_base(root, base_url)
        self.now = now
        self.tz = tz
        self.site = site_of(base_url)
        base = urlsplit(self.base_url)
        self.origin = f"{base.scheme.lower()}://{base.netloc}"
        self.directory = self.origin + (base.path or "/").rpartition("/")[0] + "/"
        self._texts: dict[Node, str] = {}
        self._urls: dict[str, str | None] = {}
        self._url_dates: dict[str, datetime | None] = {}
        self._parsed: dict[tuple[str, tuple[str, ...]], datetime | None] = {}
        self._page_date: datetime | object | None = _UNKNOWN
        self._ids: dict[str, str] = {}
        self._zone: dict[Node, int] = {}
        self._link_stats: dict[Node, tuple[float, int]] = {}
        self._contexts: dict[Node, Step | None] = {}
        # The detector's own: a list's placement by its CSS, a finder's node by (finder, item,
        # title).
        self.placements: dict[str, tuple[float, float, float]] = {}
        self.found: dict[tuple[str, Node, Node], Node | None] = {}
        self.attached: dict[Node, tuple[Attachment, ...]] = {}  # an item's files, by element
        self.links: dict[Node, Link] = {}
        for anchor in self.tagged("a"):
            link = self._headline_link(anchor)
            if link is not None:
                self.links[anchor] = link

    def absolute(self, href: str | None) -> str | None:
        """An absolute http(s) URL without fragment, or None (as `scrape` makes it)."""
        if not href:
            return None
        url = self._urls.get(href, "")
        if url == "":
            if _PLAIN_PATH.match(href) and "/." not in href:
                url = self.origin + href.split("#", 1)[0]  # what urljoin would do, faster
            elif _PLAIN_ABSOLUTE.match(href) and "/." not in href:
                url = href.split("#", 1)[0]
            elif _PLAIN_RELATIVE.match(href) and "/." not in href:
                url = self.directory + href.split("#", 1)[0]
            else:
                url = absolute_url(href, self.base_url)
            self._urls[href] = url
        return url

    def text(self, node: Node) -> str:
        """`dom.text_of` cut at `scrape`'s limit, memoised (a link with no child elements: its
        normalised text)."""
        text = self._texts.get(node)
        if text is None:
            if node.tag == "a" and not len(node):
                text = dom.normalize_text((node.text or "")[:TEXT_LIMIT])
            else:
                text = dom.text_of(node, TEXT_LIMIT)
            self._texts[node] = text
        return text

    def parse_date(self, text: str, formats: tuple[str, ...] = ()) -> datetime | None:
        """`dates.parse_date(text, now, tz, formats).at`, memoised (items print dates again and
        again); a date without a year takes it from the page's date."""
        key = (text, formats)
        if key in self._parsed:
            return self._parsed[key]
        parsed = dates.parse_date(text, self.now, self.tz, formats, reference=self.page_date)
        self._parsed[key] = found = parsed.at if parsed is not None else None
        return found

    @property
    def page_date(self) -> datetime | None:
        """Up to when the page can be dated: a month after the newest date in its links' and
        images' addresses (Yonhap's `/2025/12/01/` thumbnails). A yearless `12-01` on a page
        saved in 2025 and read in 2026 is then 2025's, not the clock's year."""
        if self._page_date is _UNKNOWN:
            found = [self.url_date(link.url) for link in self.links.values()]
            found += [self.url_date(src) for img in self.tagged("img")
                      if (src := self.absolute(img.get("src")))]  # fmt: skip
            newest = max((d for d in found if d is not None), default=None)
            self._page_date = newest + PAGE_DATE_SLACK if newest is not None else None
        return self._page_date if isinstance(self._page_date, datetime) else None

    def time_only(self, text: str) -> bool:
        """Whether the text is only a time of day (read through a recipe format, not built in)."""
        return dates.parse_time_only(text, self.now, self.tz) is not None

    def url_date(self, url: str) -> datetime | None:
        """`dates.date_from_url`, memoised."""
        if url not in self._url_dates:
            self._url_dates[url] = dates.date_from_url(url, self.tz)
        return self._url_dates[url]

    def item_id(self, url: str) -> str:
        """`diff.item_id` of an item with this URL (given a URL, it depends on nothing else)."""
        found = self._ids.get(url)
        if found is None:
            found = self._ids[url] = diff.item_id(url)
        return found

    def link_stats(self, element: Node) -> tuple[float, int]:
        """The strength of the strongest headline link in an element, and how many articles
        its headline links point to (memoised: lists share elements)."""
        found = self._link_stats.get(element)
        if found is None:
            links = [self.links[a] for a in self.anchors_in(element) if a in self.links]
            strongest = max((link.strength for link in links), default=0.0)
            found = self._link_stats[element] = (strongest, len({link.url for link in links}))
        return found

    def link_holders(self) -> set[Node]:
        """Every element that holds a headline link."""
        holders: set[Node] = set()
        for anchor in self.links:
            current: Node | None = anchor
            while current is not None and current not in holders:
                holders.add(current)
                current = current.getparent()
        return holders

    def zone(self, element: Node) -> int:
        """-1 inside header/nav/footer/sidebar/most-read, +1 in a main-content block, else 0."""
        cached = self._zone.get(element)
        if cached is not None:
            return cached
        path: list[Node] = []  # up to the nearest ancestor already known (a loop: pages nest deep)
        current: Node | None = element
        inherited = 0
        while current is not None:
            known = self._zone.get(current)
            if known is not None:
                inherited = known
                break
            path.append(current)
            current = dom.parent_of(current)
        for node in reversed(path):
            own = _own_zone(node)
            inherited = -1 if -1 in (inherited, own) else max(inherited, own)
            self._zone[node] = inherited
        return inherited

    def _headline_link(self, anchor: Node) -> Link | None:
        words = (" ".join(anchor.itertext()) if len(anchor) else anchor.text or "").split()
        if not words and not len(anchor):  # an empty link laid over a card (AINOW)
            words = _overlaid_heading(anchor).split()
        if len(words) < 3 and not any(CJK.search(word) for word in words):
            return None  # stripping can only remove words: no headline (the common case)
        text = " ".join(words)
        headline = headline_score(text)  # first: cheaper than resolving the URL
        if not headline and len(text) > CARD_TEXT:  # a whole card is the link: its title says
            headline = headline_score(" ".join((anchor.get("title") or "").split()))
        url = self.absolute(anchor.get("href")) if headline else None
        if url is None:
            return None
        parts = _HOST_PATH.match(url)
        host = parts.group(1).rpartition("@")[2].partition(":")[0] if parts else ""
        if _host_site(host) != self.site or parts is None:
            return None
        strength = headline * (0.4 + 0.6 * article_score(parts.group(2)))
        return Link(anchor, url, strength) if strength >= 0.3 else None


def overlaid_heading_node(anchor: Node) -> Node | None:
    """The heading of the card an empty link is laid over: the first h1-h6 beside it."""
    parent = anchor.getparent()
    if parent is None or not anchor.get("href"):
        return None
    return next((h for h in parent.iter("h1", "h2", "h3", "h4", "h5", "h6")), None)


def _overlaid_heading(anchor: Node) -> str:
    heading = overlaid_heading_node(anchor)
    return " ".join(heading.itertext()) if heading is not None else ""


def _own_zone(element: Node) -> int:
    tag = dom.tag_of(element)
    if tag in ("body", "html"):
        return 0  # their classes describe the whole page (`…-headline-nav-variation`)
    if tag in _BOILERPLATE_TAGS:
        return -1
    if tag == "main":
        return 1
    return _names_zone(f"{element.get('id') or ''} {element.get('class') or ''}")


@lru_cache(maxsize=4096)
def _names_zone(names: str) -> int:
    """The zone an id and class names say (sites repeat them; the regexes are slow on long ones).
    A camelCase carousel counts too (asahi's `VideosSlide`); other camelCase words do not:
    haiphong.gov.vn's article list sits in a `UIArticleInMenu_Default` box."""
    if _BOILERPLATE.search(names) or _CAROUSEL_CAMEL.search(names):
        return -1
    return 1 if _MAIN.search(names) else 0


def site_of(url: str) -> str:
    """The registrable part of a URL's host: edition.cnn.com -> cnn.com, dantri.com.vn stays."""
    return _host_site(urlsplit(url).hostname or "")


@lru_cache(maxsize=256)
def _host_site(host: str) -> str:
    labels = host.lower().removeprefix("www.").split(".")
    two_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _TWO_LEVEL_SUFFIXES
    return ".".join(labels[-3:] if two_level else labels[-2:])


# --- candidate item selectors -------------------------------------------------------------------


def candidate_selectors(page: Page) -> list[Selector]:
    """Item selectors worth scoring, from sibling blocks that each hold a headline link."""
    groups: dict[tuple[Node, str], dict[Node, set[str]]] = {}
    above: dict[Node, tuple[Node, str]] = {}  # block -> (parent, block's tag): links share them
    for link in page.links.values():
        block: Node = link.node
        for _ in range(MAX_LEVELS):
            key = above.get(block)
            if key is None:
                key = above[block] = (block.getparent(), block.tag)
            parent, tag = key
            if parent is None or tag in ("body", "html"):
                break
            members = groups.get(key)
            if members is None:
                members = groups[key] = {}
            urls = members.get(block)
            if urls is None:
                members[block] = {link.url}
            else:
                urls.add(link.url)
            block = parent
    selectors: dict[str, Selector] = {}
    for (parent, tag), members in groups.items():
        if len(members) < 2 or sum(len(urls) for urls in members.values()) > 4 * len(members):
            continue  # one block, or blocks holding many articles each: not items
        common = _item_classes(frozenset.intersection(*(stable_classes(m) for m in members)))
        for selector in _selectors_for(page, parent, Step(tag, common)):
            selectors.setdefault(selector.css, selector)
    return list(selectors.values())


def _selectors_for(page: Page, parent: Node, item: Step) -> Iterator[Selector]:
    """A strict `#ctx parent > item` selector, and a page-wide `item.class` one."""
    ident = _stable_id(parent)
    parent_step = (
        Step(dom.tag_of(parent), ident=ident)
        if ident
        else Step(dom.tag_of(parent), stable_classes(parent))
    )
    context = None if ident else _context(page, parent)
    if context is not None:
        yield Selector((context, parent_step, item), (False, True))
        near = _classed_context(parent) if context.ident else None
        if near is not None and parent_step.classes:
            # Yonhap: `div#container ul.list01 > li` also takes the carousels' `ul.list01`;
            # the nearest named block, `div.list-type212 ul.list01 > li`, takes the list alone.
            yield Selector((near, parent_step, item), (False, True))
    elif parent_step.ident or parent_step.classes:
        yield Selector((parent_step, item), (True,))
    if item.classes:
        yield Selector((item,))


def _classed_context(element: Node) -> Step | None:
    """The nearest ancestor with stable classes, within a few levels."""
    current = dom.parent_of(element)
    for _ in range(3):
        if current is None or dom.tag_of(current) in ("body", "html"):
            return None
        if names := stable_classes(current):
            return Step(dom.tag_of(current), _item_classes(names))
        current = dom.parent_of(current)
    return None


def _context(page: Page, element: Node) -> Step | None:
    """The nearest ancestor with a stable id, else the nearest with stable classes."""
    path: list[Node] = []  # memoised per ancestor, from the nearest known one down
    current = dom.parent_of(element)
    found: Step | None = None
    while current is not None and dom.tag_of(current) not in ("body", "html"):
        if current in page._contexts:
            found = page._contexts[current]
            break
        path.append(current)
        current = dom.parent_of(current)
    for node in reversed(path):  # each one is nearer than what is above it
        ident = _stable_id(node)
        if ident:
            found = Step(dom.tag_of(node), ident=ident)
        elif (found is None or not found.ident) and (names := stable_classes(node)):
            found = Step(dom.tag_of(node), _item_classes(names))
        page._contexts[node] = found
    return found


def _item_classes(common: frozenset[str]) -> frozenset[str]:
    """At most two of the classes all items share: block names before BEM modifiers."""
    plain = [name for name in common if "--" not in name] or list(common)
    plain.sort(key=lambda name: (any(ch.isdigit() for ch in name), -len(name), name))
    return frozenset(plain[:2])


def _stable_id(element: Node) -> str | None:
    ident = element.get("id") or ""
    return ident if _STABLE_ID.match(ident) and not re.search(r"\d{4,}", ident) else None


def title_options(item: Node, anchor: Node) -> Iterator[Selector]:
    """CSS inside an item that may pick its headline link: `a`, `a.x`, `h3 a`, `div.x a`…"""
    yield _link_option(None, frozenset())
    for name in sorted(stable_classes(anchor)):
        yield _link_option(None, frozenset({name}))
    current = dom.parent_of(anchor)
    while current is not None and current is not item:
        tag = dom.tag_of(current)
        classes = stable_classes(current)
        if _HEADING.fullmatch(tag):
            yield _link_option(tag, frozenset())
            if classes:
                yield _link_option(tag, classes)
        elif classes:
            yield _link_option(tag, classes)
        current = dom.parent_of(current)


@lru_cache(maxsize=4096)
def _link_option(tag: str | None, classes: frozenset[str]) -> Selector:
    """`a.x` (no tag), or `tag.x a` (built once: pages repeat them)."""
    if tag is None:
        return Selector((Step("a", classes),))
    return Selector((Step(tag, classes), Step("a")), (False,))
