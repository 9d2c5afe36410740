"""Find the list of articles on a news page that has no recipe: list auto-detection.

`detect_lists(html, base_url, now=...)` returns ranked candidates, each a `ListRules` that
`scrape` can run plus the items it yields. The idea (as in html2rss's auto-source and the
"repeated record" detectors before it): articles are printed as sibling blocks of one shape, each
with one dominant link to an article of the same site. So we

1. keep the links that look like headlines (several words, not "Xem thêm"/menus) to article-like
   paths (a long slug, a trailing numeric id, a date or dantri's timestamp);
2. group the blocks that hold them by (parent, tag) at every level above each link;
3. turn each group into CSS (a strict `#ctx parent > item` and a page-wide `item.class`),
   and run it over the whole page with a small matcher for that CSS subset (fast; the same
   CSS through `bot.dom.select` gives the same elements, which the tests check);
4. find title, date, summary and image picks inside the items and score the list: size,
   headline quality, one link per item, dates, teasers, thumbnails, and whether it sits in the
   main content rather than header, nav, footer, sidebars or "most read" boxes.

Pure: no I/O, `now` is a parameter. HTML goes through `bot.dom` only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from bot import dates, diff, dom
from bot.dom import Node
from bot.model import DEFAULT_TIMEZONE, Item, ListRules, Pick
from bot.scrape import absolute_url, document_base, image_url

MIN_ITEMS = 3  # fewer blocks than this is not a list
MAX_LEVELS = 8  # how far above a link an item block may be
SAMPLE = 8  # items inspected to choose the date/summary/image picks
SHORTLIST = 6  # candidate selectors fully built and scored (the rest are ranked cheaply)
_STABLE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_CSS_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_HASHED_PART = re.compile(r"^[A-Za-z]{4,7}$")  # with an inner capital: kFnjUG, HEhan, FyrdD
_BOILERPLATE = re.compile(
    r"(?:^|[-_])(?:nav|navi|navbar|menu|submenu|subnav|header|footer|sidebar|aside|breadcrumbs?|"
    r"social|share|most|popular|mostread|trending|widget|banner|ads|advert|toolbar|topbar|"
    r"copyright|login|pager|pagination|tags|doc-?nhieu|xem-?nhieu|nhieu|carousel|slider)"
    r"(?:$|[-_\d])",
    re.IGNORECASE,
)
_BOILERPLATE_TAGS = frozenset({"header", "nav", "footer", "aside", "menu"})
_MAIN = re.compile(r"(?:^|[-_])(?:main|content|primary|center|list)(?:$|[-_\d])", re.IGNORECASE)
_NOT_HEADLINES = frozenset(
    {
        "xem thêm", "xem tiếp", "xem chi tiết", "chi tiết", "đọc tiếp", "read more", "more",
        "full story", "continue reading", "see more", "view all", "xem tất cả", "tiếp",
        "trang sau", "trang trước", "next", "previous",
    }
)  # fmt: skip
_ARTICLE_ID = re.compile(r"[-_/](\d{5,})(?:\.[a-z]{2,5})?$")
_TIMESTAMP = re.compile(r"-(\d{14,17})\.[a-z]{2,5}$")
_DATE_PATH = re.compile(r"/(?:19|20)\d\d/\d{1,2}/")
_EXTENSION = re.compile(r"\.(?:s?html?|aspx?|php|jsp)$", re.IGNORECASE)
_TWO_LEVEL_SUFFIXES = frozenset({"com", "gov", "org", "net", "edu", "ac", "co", "int", "info"})
_PLAIN_PATH = re.compile(r"^/(?!/)[^\s]*$")
_PLAIN_ABSOLUTE = re.compile(r"^https?://[^/\s?#]+/[^\s]*$")
_PLAIN_RELATIVE = re.compile(r"^[A-Za-z0-9_~%-][^\s:]*$")
_HOST_PATH = re.compile(r"^[a-z]+://([^/?#]*)([^?#]*)")
_TEXT_TAGS = ("p", "div", "span", "h2", "h3", "h4", "h5", "h6", "li", "dd", "small", "time", "em")


@dataclass(frozen=True)
class Candidate:
    """One list found on a page: rules `scrape` can run, and what they yield now."""

    rules: ListRules
    items: tuple[Item, ...]
    score: float
    reasons: tuple[str, ...]


def detect_lists(
    html: str,
    base_url: str,
    *,
    now: datetime,
    tz: str = DEFAULT_TIMEZONE,
    limit: int = 5,
) -> list[Candidate]:
    """The lists of articles on a page, best first; [] when there is none."""
    if not html or not html.strip():
        return []
    page = _Page(dom.parse_html(html), base_url, now, tz)
    if not page.links:
        return []
    selectors = _shortlist(page, _candidate_selectors(page), max(limit + 2, SHORTLIST))
    scored = [built for sel in selectors if (built := _build(page, sel))]
    scored.sort(key=lambda c: -c.score)
    kept: list[Candidate] = []
    for candidate in scored:
        if candidate.score <= 0:
            break  # everything left sits in menus, footers or sidebars
        if not any(_same_items(candidate, other) for other in kept):
            kept.append(candidate)
        if len(kept) >= limit:
            break
    return kept


def same_list(a: ListRules, b: ListRules) -> bool:
    """Whether two rule sets pick the same list (tolerates class changes on individual items)."""
    return _list_key(a.item) == _list_key(b.item) and _last_tag(a.title.css) == _last_tag(
        b.title.css
    )


def recipe_toml(candidate: Candidate, *, feed_id: str, url: str, title: str) -> str:
    """A ready-to-save `feeds/<feed_id>.toml` for a candidate."""
    rules = candidate.rules
    lines = [
        f"# feeds/{feed_id}.toml: proposed by `newsbot detect` ({len(candidate.items)} items).",
        f"# Signals: {'; '.join(candidate.reasons)}",
        f"title = {_toml_str(title)}",
        f"url = {_toml_str(url)}",
    ]
    pattern = _id_pattern([item.url for item in candidate.items])
    if pattern:
        lines.append(f"id_pattern = {_toml_literal(pattern)}")
    lines += ["", "[list]", f"item = {_toml_str(rules.item)}"]
    lines.append(f"title = {_toml_str(str(rules.title))}")
    for name, pick in (("link", rules.link), ("summary", rules.summary), ("date", rules.date),
                       ("image", rules.image)):  # fmt: skip
        if pick is not None:
            lines.append(f"{name} = {_toml_str(str(pick))}")
    lines.append('fallback = "auto"  # if these selectors stop matching, auto-detect again')
    return "\n".join(lines) + "\n"


# --- the page ----------------------------------------------------------------------------------


@dataclass
class _Link:
    """A same-site link that looks like a headline."""

    node: Node
    url: str
    strength: float  # 0..1: headline-like text x article-like path


class _Page:
    """A parsed page with the indexes the detector needs."""

    def __init__(self, root: Node, base_url: str, now: datetime, tz: str) -> None:
        self.root = root
        self.base_url = document_base(root, base_url)
        self.now = now
        self.tz = tz
        self.site = _site(base_url)
        self.by_tag: dict[str, list[Node]] = {}
        self.by_class: dict[str, list[Node]] = {}
        self.by_id: dict[str, list[Node]] = {}
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            self.by_tag.setdefault(element.tag, []).append(element)
            value = element.get("class")
            if value:
                for name in value.split():
                    self.by_class.setdefault(name, []).append(element)
            ident = element.get("id")
            if ident:
                self.by_id.setdefault(ident, []).append(element)
        self._classes: dict[Node, frozenset[str]] = {}
        self._texts: dict[Node, str] = {}
        self._url_dates: dict[str, datetime | None] = {}
        self._ids: dict[tuple[str, str, datetime | None], str] = {}
        self._urls: dict[str, str | None] = {}
        base = urlsplit(self.base_url)
        self.origin = f"{base.scheme.lower()}://{base.netloc}"
        self.directory = self.origin + (base.path or "/").rpartition("/")[0] + "/"
        self._above: dict[tuple[Node, _Selector, int], bool] = {}
        self.links: dict[Node, _Link] = {}
        for anchor in self.by_tag.get("a", []):
            link = self._headline_link(anchor)
            if link is not None:
                self.links[anchor] = link
        self._zone: dict[Node, int] = {}

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

    def _headline_link(self, anchor: Node) -> _Link | None:
        text = " ".join(" ".join(anchor.itertext()).split())
        headline = _headline_score(text)  # first: cheaper than resolving the URL
        url = self.absolute(anchor.get("href")) if headline else None
        if url is None:
            return None
        parts = _HOST_PATH.match(url)
        host = parts.group(1).rpartition("@")[2].partition(":")[0] if parts else ""
        if _host_site(host) != self.site or parts is None:
            return None
        strength = headline * (0.4 + 0.6 * _article_score(parts.group(2)))
        return _Link(anchor, url, strength) if strength >= 0.3 else None

    def text(self, node: Node) -> str:
        """`dom.text_of`, memoised: candidates share their title elements."""
        text = self._texts.get(node)
        if text is None:
            text = self._texts[node] = dom.text_of(node)
        return text

    def url_date(self, url: str) -> datetime | None:
        if url not in self._url_dates:
            self._url_dates[url] = dates.date_from_url(url, self.tz)
        return self._url_dates[url]

    def item_id(self, url: str, title: str, published: datetime | None) -> str:
        key = (url, title, published)
        if key not in self._ids:
            self._ids[key] = diff.item_id(url, title=title, published_at=published)
        return self._ids[key]

    def classes(self, element: Node) -> frozenset[str]:
        """The element's class names (memoised: matching asks for them again and again)."""
        names = self._classes.get(element)
        if names is None:
            value = element.get("class")
            names = self._classes[element] = frozenset(value.split()) if value else frozenset()
        return names

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
        parent = dom.parent_of(element)
        inherited = self.zone(parent) if parent is not None else 0
        own = _own_zone(element)
        value = -1 if -1 in (inherited, own) else max(inherited, own)
        self._zone[element] = value
        return value


def _own_zone(element: Node) -> int:
    tag = dom.tag_of(element)
    if tag in ("body", "html"):
        return 0  # their classes describe the whole page (`…-headline-nav-variation`)
    if tag in _BOILERPLATE_TAGS:
        return -1
    if tag == "main":
        return 1
    names = " ".join((element.get("id") or "", element.get("class") or "")).split()
    if any(_BOILERPLATE.search(name) for name in names):
        return -1
    return 1 if any(_MAIN.search(name) for name in names) else 0


def _site(url: str) -> str:
    """The registrable part of a URL's host: edition.cnn.com -> cnn.com, dantri.com.vn stays."""
    return _host_site(urlsplit(url).hostname or "")


@lru_cache(maxsize=256)
def _host_site(host: str) -> str:
    labels = host.lower().removeprefix("www.").split(".")
    two_level = len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _TWO_LEVEL_SUFFIXES
    return ".".join(labels[-3:] if two_level else labels[-2:])


def _headline_score(text: str) -> float:
    """How much a link text looks like a headline (0..1)."""
    words = text.strip(" >»›•-–|").split()
    if len(words) < 3:
        return 0.0
    lowered = " ".join(words).lower()
    if lowered in _NOT_HEADLINES or len(text) > 300:
        return 0.0
    if text.isupper() and len(words) < 6:
        return 0.3
    return 0.6 if len(words) == 3 else 1.0


def _article_score(path: str) -> float:
    """How much a URL path looks like one article's (0..1)."""
    path = path.rstrip("/")
    if _TIMESTAMP.search(path) or _ARTICLE_ID.search(path) or _DATE_PATH.search(path):
        return 1.0
    segments = [s for s in path.split("/") if s]
    if not segments:
        return 0.0
    slug = _EXTENSION.sub("", segments[-1])
    if slug in ("index", "default") and len(segments) > 1:
        slug = segments[-2]
    words = len(re.split(r"[-_]+", slug))
    return 1.0 if words >= 4 else 0.5 if words == 3 else 0.1


# --- candidate selectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Step:
    """One compound selector: tag, classes, id."""

    tag: str
    classes: frozenset[str] = frozenset()
    ident: str | None = None

    def css(self) -> str:
        if self.ident:
            return f"{self.tag}#{self.ident}"
        return self.tag + "".join(f".{name}" for name in sorted(self.classes))


@dataclass(frozen=True)
class _Selector:
    """Steps joined by ' ' (descendant) or ' > ' (child): the CSS subset the detector writes."""

    steps: tuple[_Step, ...]
    child: tuple[bool, ...] = ()  # child[i]: steps[i] and steps[i+1] are joined by '>'

    def css(self) -> str:
        parts = [self.steps[0].css()]
        for is_child, step in zip(self.child, self.steps[1:], strict=True):
            parts.append((" > " if is_child else " ") + step.css())
        return "".join(parts)


def _stable_classes(element: Node) -> frozenset[str]:
    """Class names likely to survive a redeploy (not CSS-in-JS hashes such as `sc-kFnjUG`)."""
    return _stable_names(element.get("class") or "")


@lru_cache(maxsize=4096)
def _stable_names(value: str) -> frozenset[str]:
    kept = set()
    for name in value.split():
        if not _CSS_IDENT.match(name) or name.startswith("sc-"):
            continue
        if any(_is_hashed(part) for part in re.split(r"[-_]", name)):
            continue
        kept.add(name)
    return frozenset(kept)


def _is_hashed(part: str) -> bool:
    return bool(_HASHED_PART.match(part)) and any(ch.isupper() for ch in part[1:])


def _item_classes(common: frozenset[str]) -> frozenset[str]:
    """At most two of the classes all items share: block names before BEM modifiers."""
    plain = [name for name in common if "--" not in name] or list(common)
    plain.sort(key=lambda name: (any(ch.isdigit() for ch in name), -len(name), name))
    return frozenset(plain[:2])


def _stable_id(element: Node) -> str | None:
    ident = element.get("id") or ""
    return ident if _STABLE_ID.match(ident) and not re.search(r"\d{4,}", ident) else None


def _candidate_selectors(page: _Page) -> list[_Selector]:
    """Item selectors worth scoring, from sibling blocks that each hold a headline link."""
    groups: dict[tuple[Node, str], dict[Node, set[str]]] = {}
    for link in page.links.values():
        block: Node = link.node
        for _ in range(MAX_LEVELS):
            parent = block.getparent()
            if parent is None or block.tag in ("body", "html"):
                break
            groups.setdefault((parent, block.tag), {}).setdefault(block, set()).add(link.url)
            block = parent
    selectors: dict[str, _Selector] = {}
    for (parent, tag), members in groups.items():
        if len(members) < 2 or sum(len(urls) for urls in members.values()) > 4 * len(members):
            continue  # one block, or blocks holding many articles each: not items
        common = _item_classes(frozenset.intersection(*(_stable_classes(m) for m in members)))
        for selector in _selectors_for(parent, _Step(tag, common)):
            selectors.setdefault(selector.css(), selector)
    return list(selectors.values())


def _selectors_for(parent: Node, item: _Step) -> Iterator[_Selector]:
    """A strict `#ctx parent > item` selector, and a page-wide `item.class` one."""
    ident = _stable_id(parent)
    parent_step = (
        _Step(dom.tag_of(parent), ident=ident)
        if ident
        else _Step(dom.tag_of(parent), _stable_classes(parent))
    )
    context = None if ident else _context(parent)
    if context is not None:
        yield _Selector((context, parent_step, item), (False, True))
    elif parent_step.ident or parent_step.classes:
        yield _Selector((parent_step, item), (True,))
    if item.classes:
        yield _Selector((item,))


def _shortlist(page: _Page, selectors: list[_Selector], keep: int) -> list[_Selector]:
    """The selectors worth building: many blocks holding a headline, few in boilerplate."""
    holders = page.link_holders()
    ranked = []
    for selector in selectors:
        elements = _select(page, selector)
        holding = [e for e in elements if e in holders]
        if len(holding) < MIN_ITEMS:
            continue
        boiler = sum(1 for e in holding if page.zone(e) < 0) / len(holding)
        share = len(holding) / len(elements)
        ranked.append((math.log2(1 + len(holding)) * share * (1 - boiler) ** 2, selector))
    ranked.sort(key=lambda pair: -pair[0])
    return [selector for _, selector in ranked[:keep]]


def _context(element: Node) -> _Step | None:
    """The nearest ancestor with a stable id, else the nearest with stable classes."""
    classed: _Step | None = None
    current = dom.parent_of(element)
    while current is not None and dom.tag_of(current) not in ("body", "html"):
        ident = _stable_id(current)
        if ident:
            return _Step(dom.tag_of(current), ident=ident)
        if classed is None and (names := _stable_classes(current)):
            classed = _Step(dom.tag_of(current), _item_classes(names))
        current = dom.parent_of(current)
    return classed


def _select(page: _Page, selector: _Selector) -> list[Node]:
    """Elements of the page matching a selector, in document order."""
    return [e for e in _pool(page, selector) if _matches(page, e, selector, None)]


def _pool(page: _Page, selector: _Selector) -> list[Node]:
    """Elements that may match: by a class or the parent's id/class when there is one."""
    last = selector.steps[-1]
    if last.classes:
        return min((page.by_class.get(name, []) for name in last.classes), key=len)
    if len(selector.steps) > 1 and selector.child[-1]:
        parent = selector.steps[-2]
        if parent.ident:
            parents = page.by_id.get(parent.ident, [])
        elif parent.classes:
            parents = min((page.by_class.get(name, []) for name in parent.classes), key=len)
        else:
            return page.by_tag.get(last.tag, [])
        return [child for p in parents for child in p.iterchildren(last.tag)]
    return page.by_tag.get(last.tag, [])


def _step_ok(page: _Page, element: Node, step: _Step) -> bool:
    if element.tag != step.tag or (step.ident and element.get("id") != step.ident):
        return False
    return not step.classes or step.classes <= page.classes(element)


def _matches(page: _Page, element: Node, selector: _Selector, scope: Node | None) -> bool:
    """CSS matching of our subset; ancestors are looked for up to `scope` (inclusive)."""
    return _match_from(page, element, selector, len(selector.steps) - 1, scope)


def _match_from(
    page: _Page, element: Node, selector: _Selector, index: int, scope: Node | None
) -> bool:
    if not _step_ok(page, element, selector.steps[index]):
        return False
    if index == 0:
        return True
    if element is scope:
        return False
    ancestor = element.getparent()
    if selector.child[index - 1]:
        return ancestor is not None and _match_from(page, ancestor, selector, index - 1, scope)
    if scope is None and ancestor is not None:
        return _above(page, ancestor, selector, index - 1)
    while ancestor is not None:
        if _match_from(page, ancestor, selector, index - 1, scope):
            return True
        if ancestor is scope:
            return False
        ancestor = ancestor.getparent()
    return False


def _above(page: _Page, element: Node, selector: _Selector, index: int) -> bool:
    """Whether `element` or an ancestor matches steps[:index + 1] (memoised: lists share them)."""
    key = (element, selector, index)
    cached = page._above.get(key)
    if cached is None:
        cached = _match_from(page, element, selector, index, None)
        parent = element.getparent()
        if not cached and parent is not None:
            cached = _above(page, parent, selector, index)
        page._above[key] = cached
    return cached


def _first_in(page: _Page, item: Node, selector: _Selector) -> Node | None:
    """What `select(item, css)[0]` gives: the first match at or below `item`."""
    tag = selector.steps[-1].tag
    for element in item.iter(tag):
        if _matches(page, element, selector, item):
            return element
    return None


# --- building a candidate ------------------------------------------------------------------------


@dataclass
class _Draft:
    """A candidate under construction."""

    elements: list[Node]
    titles: list[Node | None]
    reasons: list[str] = field(default_factory=list)


def _build(page: _Page, selector: _Selector) -> Candidate | None:
    elements = _select(page, selector)
    if len(elements) < MIN_ITEMS:
        return None
    title_pick = _title_pick(page, elements)
    if title_pick is None:
        return None
    titles = [_first_in(page, e, title_pick) for e in elements]
    good = [t for t in titles if t is not None and t in page.links]
    if len(good) < MIN_ITEMS or len(good) < 0.6 * len(elements):
        return None
    rules = ListRules(item=selector.css(), title=Pick(title_pick.css()))
    rules = _with_extra_picks(page, rules, elements, titles)
    items = _items(page, rules, elements, titles)
    if len(items) < MIN_ITEMS:
        return None
    score, reasons = _score(page, elements, titles, items, rules)
    return Candidate(rules, tuple(items), score, tuple(reasons))


def _title_pick(page: _Page, elements: list[Node]) -> _Selector | None:
    """The shortest CSS inside an item whose first match is its headline link, for most items."""
    heads = {e: _dominant_link(page, e) for e in elements[: SAMPLE * 2]}
    options: dict[str, _Selector] = {}
    for element, anchor in heads.items():
        if anchor is None:
            continue
        for option in _title_options(element, anchor):
            options.setdefault(option.css(), option)
    best: tuple[float, int, _Selector] | None = None
    for rank, option in enumerate(options.values()):
        hits = sum(1 for e, a in heads.items() if a is not None and _first_in(page, e, option) is a)
        key = (hits / max(1, len(heads)), -rank, option)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best is not None and best[0] >= 0.5 else None


def _dominant_link(page: _Page, element: Node) -> Node | None:
    """The item's strongest headline link (the first one on a tie)."""
    best: tuple[float, Node] | None = None
    for anchor in element.iter("a"):
        link = page.links.get(anchor)
        if link is not None and (best is None or link.strength > best[0]):
            best = (link.strength, anchor)
    return best[1] if best else None


def _title_options(item: Node, anchor: Node) -> Iterator[_Selector]:
    a_step = _Step("a")
    yield _Selector((a_step,))
    for name in sorted(_stable_classes(anchor)):
        yield _Selector((_Step("a", frozenset({name})),))
    current = dom.parent_of(anchor)
    while current is not None and current is not item:
        tag = dom.tag_of(current)
        classes = _stable_classes(current)
        if re.fullmatch(r"h[1-6]", tag):
            yield _Selector((_Step(tag), a_step), (False,))
            if classes:
                yield _Selector((_Step(tag, classes), a_step), (False,))
        elif classes:
            yield _Selector((_Step(tag, classes), a_step), (False,))
        current = dom.parent_of(current)


def _with_extra_picks(
    page: _Page, rules: ListRules, elements: list[Node], titles: list[Node | None]
) -> ListRules:
    """Add date, summary and image picks that work on most sampled items."""
    sample = [(e, t) for e, t in zip(elements, titles, strict=True) if t is not None][:SAMPLE]
    date = _common_pick(page, sample, _date_node)
    summary = _common_pick(page, sample, _summary_node)
    image = _image_pick(sample)
    return ListRules(
        item=rules.item,
        title=rules.title,
        date=Pick(date.css()) if date else None,
        summary=Pick(summary.css()) if summary else None,
        image=image,
    )


_Finder = Callable[["_Page", Node, Node], "Node | None"]


def _common_pick(page: _Page, sample: list[tuple[Node, Node]], find: _Finder) -> _Selector | None:
    """A one-step selector for the node `find` locates in each item, if it agrees on most."""
    votes: dict[str, tuple[int, _Selector]] = {}
    for item, title in sample:
        node = find(page, item, title)
        if node is None:
            continue
        step = _Step(dom.tag_of(node), _stable_classes(node))
        selector = _Selector((step,))
        if _first_in(page, item, selector) is not node:
            continue
        count, _ = votes.get(selector.css(), (0, selector))
        votes[selector.css()] = (count + 1, selector)
    if not votes:
        return None
    count, best = max(votes.values(), key=lambda v: v[0])
    return best if count >= max(2, len(sample) // 2) else None


def _date_node(page: _Page, item: Node, title: Node) -> Node | None:
    """The smallest element in the item, outside the title, whose text holds a date."""
    around, inside = set(title.iterancestors()), set(title.iter())
    found: Node | None = None
    for element in item.iter(*_TEXT_TAGS):
        if element in around or element in inside or len(element) > 4:
            continue
        if element.tag == "time" and element.get("datetime"):
            return element
        text = " ".join(" ".join(element.itertext()).split())
        if not text or len(text) > 80 or not any(ch.isdigit() for ch in text):
            continue
        if found is not None and found not in set(element.iterancestors()):
            break  # document order: a later match outside the first one is another date
        if dates.parse_date(text, page.now, page.tz) is not None:
            found = element  # keep descending: a smaller element may hold the same date
    return found


def _summary_node(page: _Page, item: Node, title: Node) -> Node | None:
    """The longest teaser-like text block in the item, outside the title."""
    around, inside = set(title.iterancestors()), set(title.iter())
    best: tuple[int, Node] | None = None
    for element in item.iter("p", "div", "span"):
        if element in around or element in inside:
            continue
        words = len(" ".join(element.itertext()).split())
        if words >= 8 and (best is None or words > best[0]):
            best = (words, element)
    return best[1] if best else None


def _image_pick(sample: list[tuple[Node, Node]]) -> Pick | None:
    found = [next(item.iter("img"), None) for item, _ in sample]
    images = [img for img in found if img is not None]
    if len(images) < max(2, len(sample) // 2):
        return None
    return Pick("img")  # `scrape.image_url` reads src, then the lazy-loading attributes


def _items(
    page: _Page, rules: ListRules, elements: list[Node], titles: list[Node | None]
) -> list[Item]:
    """The items the rules yield, built the way `scrape` builds them (same order, same dedup)."""
    date_sel = _parse_css(rules.date.css) if rules.date else None
    summary_sel = _parse_css(rules.summary.css) if rules.summary else None
    items: list[Item] = []
    seen: set[str] = set()
    for element, title_node in zip(elements, titles, strict=True):
        if title_node is None:
            continue
        title = page.text(title_node) or dom.normalize_text(title_node.get("title") or "")
        url = page.absolute(title_node.get("href") or _first_href(element))
        if not title or url is None:
            continue
        summary = ""
        if summary_sel is not None and (node := _first_in(page, element, summary_sel)) is not None:
            summary = dom.text_of(node)
        image = None
        if rules.image is not None and (img := next(element.iter("img"), None)) is not None:
            image = image_url(img, rules.image.attr, page.base_url)
        published = _published(page, element, date_sel, url, image)
        item_id = page.item_id(url, title, published)
        if url in seen or item_id in seen:
            continue
        seen.update((url, item_id))
        items.append(
            Item(
                feed_id="",
                item_id=item_id,
                url=url,
                title=title,
                summary=summary,
                published_at=published,
                image=image,
            )
        )
    return items


def _first_href(element: Node) -> str | None:
    for anchor in element.iter("a"):
        if anchor.get("href"):
            return str(anchor.get("href"))
    return None


def _published(
    page: _Page, element: Node, date_sel: _Selector | None, url: str, image: str | None
) -> datetime | None:
    """The printed date, else the one in the URL (dantri's timestamp) or image, else None."""
    if date_sel is not None and (node := _first_in(page, element, date_sel)) is not None:
        for text in (node.get("datetime"), dom.text_of(node)):
            parsed = dates.parse_date(text, page.now, page.tz) if text else None
            if parsed is not None:
                return parsed.at
    found = page.url_date(url)
    if found is None and image is not None:
        found = page.url_date(image)
    return found


# --- scoring --------------------------------------------------------------------------------------


def _score(
    page: _Page,
    elements: list[Node],
    titles: list[Node | None],
    items: list[Item],
    rules: ListRules,
) -> tuple[float, list[str]]:
    """Score a list by its signals; return the score and a human-readable summary."""
    n = len(items)
    headline = sum(page.links[t].strength for t in titles if t in page.links) / len(elements)
    single = sum(1 for e in elements if _distinct_articles(page, e) == 1) / len(elements)
    zones = [page.zone(e) for e in elements]
    boiler = sum(1 for z in zones if z < 0) / len(zones)
    main = sum(1 for z in zones if z > 0) / len(zones)
    dated = sum(1 for i in items if i.published_at is not None) / n
    teased = sum(1 for i in items if i.summary) / n
    pictured = sum(1 for i in items if i.image) / n
    unique = len({i.url for i in items}) / n
    quality = headline * (0.5 + 0.5 * single) * (1 - boiler) ** 2 * unique
    bonus = 1 + 0.3 * dated + 0.15 * teased + 0.1 * pictured + 0.2 * main
    score = quality * math.log2(1 + n) * bonus
    reasons = [
        f"{n} items",
        f"headlines {headline:.0%}",
        f"one link per item {single:.0%}",
        f"dated {dated:.0%}" + _date_source(rules, dated),
    ]
    if teased:
        reasons.append(f"teasers {teased:.0%}")
    if pictured:
        reasons.append(f"thumbnails {pictured:.0%}")
    if boiler:
        reasons.append(f"in header/nav/footer/sidebar {boiler:.0%}")
    elif main:
        reasons.append("in main content")
    return round(score, 3), reasons


def _date_source(rules: ListRules, dated: float) -> str:
    if rules.date is not None:
        return f" ({rules.date.css})"
    return " (from URLs)" if dated else ""


def _distinct_articles(page: _Page, element: Node) -> int:
    return len({page.links[a].url for a in element.iter("a") if a in page.links})


def _same_items(a: Candidate, b: Candidate) -> bool:
    """Two candidates that yield (nearly) the same links are one list."""
    urls_a, urls_b = {i.url for i in a.items}, {i.url for i in b.items}
    return len(urls_a & urls_b) >= 0.9 * max(len(urls_a), len(urls_b))


# --- helpers --------------------------------------------------------------------------------------


def _parse_css(css: str) -> _Selector:
    """Parse CSS in the subset the detector writes (`a.b#c > d e`)."""
    tokens = css.replace(">", " > ").split()
    steps: list[_Step] = []
    child: list[bool] = []
    pending_child = False
    for token in tokens:
        if token == ">":
            pending_child = True
            continue
        if steps:
            child.append(pending_child)
        pending_child = False
        tag = re.split(r"(?=[.#])", token, maxsplit=1)[0]
        ident_match = re.search(r"#([^.#]+)", token)
        steps.append(
            _Step(
                tag or "*",
                frozenset(re.findall(r"\.([^.#]+)", token)),
                ident_match.group(1) if ident_match else None,
            )
        )
    return _Selector(tuple(steps), tuple(child))


def _list_key(css: str) -> tuple[str, frozenset[str], frozenset[str]]:
    selector = _parse_css(css)
    last = selector.steps[-1]
    idents = frozenset(s.ident for s in selector.steps if s.ident)
    return last.tag, last.classes, idents


def _last_tag(css: str) -> str:
    return _parse_css(css).steps[-1].tag


def _id_pattern(urls: Iterable[str]) -> str | None:
    """An `id_pattern` for the recipe when most item URLs end in a numeric id."""
    urls = list(urls)
    if not urls:
        return None
    for pattern in (r"-(\d{14,17})\.htm", r"-(\d{5,})(?:\.html?)?$"):
        if sum(1 for url in urls if re.search(pattern, url)) >= 0.9 * len(urls):
            return pattern
    return None


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def _toml_literal(value: str) -> str:
    return f"'{value}'" if "'" not in value and "\n" not in value else _toml_str(value)
