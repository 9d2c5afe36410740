"""The shape of lists on a page, for `bot.detect`: headline links, the sibling blocks that hold
them, and the CSS that picks those blocks out.

Articles are printed as sibling blocks of one shape, each with one dominant link to an article
of the same site. `Page` finds the links that look like headlines (several words, not "Xem
thêm"/menus) to article-like paths (a long slug, a trailing numeric id, a date or dantri's
timestamp); `candidate_selectors` groups the blocks holding them by (parent, tag) at every
level above each link and writes CSS for each group: a strict `#ctx parent > item` and a
page-wide `item.class`. `select` and `first_in` run that CSS with a small matcher for the
subset we write (the same CSS through `bot.dom.select` gives the same elements; tests check).

Pure: no I/O. HTML goes through `bot.dom`; the matcher walks the Nodes it returns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from urllib.parse import urlsplit

from bot import dates, diff, dom
from bot.dom import Node
from bot.scrape import absolute_url, document_base

MAX_LEVELS = 8  # how far above a link an item block may be
_STABLE_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_CSS_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
_HASHED_PART = re.compile(r"^[A-Za-z]{4,7}$")  # with an inner capital: kFnjUG, HEhan, FyrdD
# Words of an id or class name (whitespace separates names).
_BOILERPLATE = re.compile(
    r"(?:^|[-_\s])(?:nav|navi|navbar|menu|submenu|subnav|header|footer|sidebar|aside|breadcrumbs?|"
    r"social|share|most|popular|mostread|trending|widget|banner|ads|advert|toolbar|topbar|"
    r"copyright|login|pager|pagination|tags|doc-?nhieu|xem-?nhieu|nhieu|carousel|slider)"
    r"(?:$|[-_\d\s])",
    re.IGNORECASE,
)
_BOILERPLATE_TAGS = frozenset({"header", "nav", "footer", "aside", "menu"})
_MAIN = re.compile(
    r"(?:^|[-_\s])(?:main|content|primary|center|list)(?:$|[-_\d\s])", re.IGNORECASE
)
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
_HEADING = re.compile(r"h[1-6]")


@dataclass
class Link:
    """A same-site link that looks like a headline."""

    node: Node
    url: str
    strength: float  # 0..1: headline-like text x article-like path


class Page:
    """A parsed page with the indexes and memos the detector needs (one detection's lifetime)."""

    def __init__(self, root: Node, base_url: str, now: datetime, tz: str) -> None:
        self.root = root
        self.base_url = document_base(root, base_url)
        self.now = now
        self.tz = tz
        self.site = site_of(base_url)
        base = urlsplit(self.base_url)
        self.origin = f"{base.scheme.lower()}://{base.netloc}"
        self.directory = self.origin + (base.path or "/").rpartition("/")[0] + "/"
        self._by_tag: dict[str, list[Node]] = {}
        self._by_class: dict[str, list[Node]] | None = None
        self._by_id: dict[str, list[Node]] | None = None
        self._classes: dict[Node, frozenset[str]] = {}
        self._texts: dict[Node, str] = {}
        self._urls: dict[str, str | None] = {}
        self._url_dates: dict[str, datetime | None] = {}
        self._ids: dict[str, str] = {}
        self._zone: dict[Node, int] = {}
        self._anchors: dict[Node, list[Node]] = {}
        self._contexts: dict[Node, Step | None] = {}
        self._selected: dict[str, list[Node]] = {}
        self._first: dict[tuple[Node, str], Node | None] = {}
        self._above: dict[tuple[Node, str, int], bool] = {}
        self.memo: dict[tuple[str, Node, Node], Node | None] = {}  # the detector's finders'
        self.links: dict[Node, Link] = {}
        for anchor in self.tagged("a"):
            link = self._headline_link(anchor)
            if link is not None:
                self.links[anchor] = link

    # --- indexes (built on first use: C-level iteration, proxies only for what we touch) ---

    def tagged(self, tag: str) -> list[Node]:
        """Every element with this tag, in document order."""
        found = self._by_tag.get(tag)
        if found is None:
            found = self._by_tag[tag] = list(self.root.iter(tag))
        return found

    def with_class(self, name: str) -> list[Node]:
        """Every element with this class name, in document order."""
        if self._by_class is None:
            self._by_class = {}
            for element in dom.select(self.root, "[class]"):
                for value in element.get("class").split():
                    found = self._by_class.setdefault(value, [])
                    if not found or found[-1] is not element:  # `class="a a"` is one match
                        found.append(element)
        return self._by_class.get(name, [])

    def with_id(self, ident: str) -> list[Node]:
        """Every element with this id (pages repeat ids), in document order."""
        if self._by_id is None:
            self._by_id = {}
            for element in dom.select(self.root, "[id]"):
                self._by_id.setdefault(element.get("id"), []).append(element)
        return self._by_id.get(ident, [])

    def classes(self, element: Node) -> frozenset[str]:
        """The element's class names (memoised: matching asks for them again and again)."""
        names = self._classes.get(element)
        if names is None:
            value = element.get("class")
            names = self._classes[element] = frozenset(value.split()) if value else frozenset()
        return names

    def anchors_in(self, element: Node) -> list[Node]:
        """The <a> elements at or below `element`, in document order."""
        found = self._anchors.get(element)
        if found is None:
            found = self._anchors[element] = list(element.iter("a"))
        return found

    # --- values, memoised: candidates share their elements and links ---

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
        """`dom.text_of`, memoised (a link with no child elements: its normalised text)."""
        text = self._texts.get(node)
        if text is None:
            if node.tag == "a" and not len(node):
                text = dom.normalize_text(node.text or "")
            else:
                text = dom.text_of(node)
            self._texts[node] = text
        return text

    def url_date(self, url: str) -> datetime | None:
        if url not in self._url_dates:
            self._url_dates[url] = dates.date_from_url(url, self.tz)
        return self._url_dates[url]

    def item_id(self, url: str, title: str, published: datetime | None) -> str:
        """`diff.item_id` (which, given a URL, depends on nothing else)."""
        found = self._ids.get(url)
        if found is None:
            found = self._ids[url] = diff.item_id(url, title=title, published_at=published)
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
        path: list[Node] = []  # up to the nearest ancestor already known (no recursion: deep)
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
        words = " ".join(anchor.itertext()).split()
        if len(words) < 3:
            return None  # stripping can only remove words: no headline (the common case)
        text = " ".join(words)
        headline = headline_score(text)  # first: cheaper than resolving the URL
        url = self.absolute(anchor.get("href")) if headline else None
        if url is None:
            return None
        parts = _HOST_PATH.match(url)
        host = parts.group(1).rpartition("@")[2].partition(":")[0] if parts else ""
        if _host_site(host) != self.site or parts is None:
            return None
        strength = headline * (0.4 + 0.6 * article_score(parts.group(2)))
        return Link(anchor, url, strength) if strength >= 0.3 else None


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
    """The zone an id and class names say (sites repeat them: the regexes are slow on long ones)."""
    if _BOILERPLATE.search(names):
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


def headline_score(text: str) -> float:
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


def article_score(path: str) -> float:
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


# --- CSS: the subset the detector writes --------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One compound selector: tag, classes, id."""

    tag: str
    classes: frozenset[str] = frozenset()
    ident: str | None = None
    css: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        css = f"{self.tag}#{self.ident}" if self.ident else self.tag + "".join(
            f".{name}" for name in sorted(self.classes)
        )
        object.__setattr__(self, "css", css)  # written many times over: once is enough


class Selector:
    """Steps joined by ' ' (descendant) or ' > ' (child); equal when their CSS is."""

    __slots__ = ("steps", "child", "css")

    def __init__(self, steps: tuple[Step, ...], child: tuple[bool, ...] = ()) -> None:
        self.steps = steps
        self.child = child  # child[i]: steps[i] and steps[i+1] are joined by '>'
        parts = [steps[0].css]
        for is_child, step in zip(child, steps[1:], strict=True):
            parts.append((" > " if is_child else " ") + step.css)
        self.css = "".join(parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Selector) and other.css == self.css

    def __hash__(self) -> int:
        return hash(self.css)

    def __repr__(self) -> str:
        return f"Selector({self.css!r})"


@lru_cache(maxsize=1024)
def parse_css(css: str) -> Selector:
    """Parse CSS in the subset the detector writes (`a.b#c > d e`)."""
    tokens = css.replace(">", " > ").split()
    steps: list[Step] = []
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
            Step(
                tag or "*",
                frozenset(re.findall(r"\.([^.#]+)", token)),
                ident_match.group(1) if ident_match else None,
            )
        )
    return Selector(tuple(steps), tuple(child))


def stable_classes(element: Node) -> frozenset[str]:
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


# --- candidate item selectors -------------------------------------------------------------------


def candidate_selectors(page: Page) -> list[Selector]:
    """Item selectors worth scoring, from sibling blocks that each hold a headline link."""
    groups: dict[tuple[Node, str], dict[Node, set[str]]] = {}
    for link in page.links.values():
        block: Node = link.node
        for _ in range(MAX_LEVELS):
            parent = block.getparent()
            if parent is None or block.tag in ("body", "html"):
                break
            members = groups.get((parent, block.tag))
            if members is None:
                members = groups[(parent, block.tag)] = {}
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
    elif parent_step.ident or parent_step.classes:
        yield Selector((parent_step, item), (True,))
    if item.classes:
        yield Selector((item,))


def _context(page: Page, element: Node) -> Step | None:
    """The nearest ancestor with a stable id, else the nearest with stable classes."""
    if element in page._contexts:
        return page._contexts[element]
    classed: Step | None = None
    current = dom.parent_of(element)
    while current is not None and dom.tag_of(current) not in ("body", "html"):
        ident = _stable_id(current)
        if ident:
            classed = Step(dom.tag_of(current), ident=ident)
            break
        if classed is None and (names := stable_classes(current)):
            classed = Step(dom.tag_of(current), _item_classes(names))
        current = dom.parent_of(current)
    page._contexts[element] = classed
    return classed


def title_options(item: Node, anchor: Node) -> Iterator[Selector]:
    """CSS inside an item that may pick its headline link: `a`, `a.x`, `h3 a`, `div.x a`…"""
    yield _A
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
    """`a.x` (no tag), or `tag.x a`: built once, pages repeat them."""
    if tag is None:
        return Selector((Step("a", classes),))
    return Selector((Step(tag, classes), Step("a")), (False,))


_A = Selector((Step("a"),))


# --- matching -----------------------------------------------------------------------------------


def select(page: Page, selector: Selector) -> list[Node]:
    """Elements of the page matching a selector, in document order (memoised)."""
    found = page._selected.get(selector.css)
    if found is None:
        last = len(selector.steps) - 1
        found = [e for e in _pool(page, selector) if _match_from(page, e, selector, last, None)]
        page._selected[selector.css] = found
    return found


def first_in(page: Page, item: Node, selector: Selector) -> Node | None:
    """What `select(item, css)[0]` gives: the first match at or below `item` (memoised)."""
    key = (item, selector.css)
    if key in page._first:
        return page._first[key]
    tag = selector.steps[-1].tag
    last = len(selector.steps) - 1
    candidates = page.anchors_in(item) if tag == "a" else item.iter(tag)
    found = None
    for element in candidates:
        if _match_from(page, element, selector, last, item):
            found = element
            break
    page._first[key] = found
    return found


def _pool(page: Page, selector: Selector) -> list[Node]:
    """Elements that may match: by a class or the parent's id/class when there is one."""
    last = selector.steps[-1]
    if last.classes:
        return min((page.with_class(name) for name in last.classes), key=len)
    if len(selector.steps) > 1 and selector.child[-1]:
        parent = selector.steps[-2]
        if parent.ident:
            parents = page.with_id(parent.ident)
        elif parent.classes:
            parents = min((page.with_class(name) for name in parent.classes), key=len)
        else:
            return _inside_context(page, selector)
        return [child for p in parents for child in p.iterchildren(last.tag)]
    return _inside_context(page, selector)


def _inside_context(page: Page, selector: Selector) -> list[Node]:
    """Elements with the last step's tag, below the first step's element when it has an id."""
    first, tag = selector.steps[0], selector.steps[-1].tag
    contexts = page.with_id(first.ident) if first.ident and len(selector.steps) > 1 else []
    if len(contexts) == 1:  # one subtree, in document order (an id used twice: the whole page)
        return list(contexts[0].iter(tag))
    return page.tagged(tag)


def _match_from(
    page: Page, element: Node, selector: Selector, index: int, scope: Node | None
) -> bool:
    """Whether `element` matches steps[:index + 1]; ancestors are looked for up to `scope`."""
    step = selector.steps[index]
    if element.tag != step.tag or (step.ident and element.get("id") != step.ident):
        return False
    if step.classes and not step.classes <= page.classes(element):
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


def _above(page: Page, element: Node, selector: Selector, index: int) -> bool:
    """Whether `element` or an ancestor matches steps[:index + 1] (memoised: lists share them)."""
    key = (element, selector.css, index)
    cached = page._above.get(key)
    if cached is None:
        cached = _match_from(page, element, selector, index, None)
        parent = element.getparent()
        if not cached and parent is not None:
            cached = _above(page, parent, selector, index)
        page._above[key] = cached
    return cached
