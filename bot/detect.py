"""Find the list of articles on a news page that has no recipe: list auto-detection.

`detect_lists(html, base_url, now=...)` returns ranked candidates, each a `ListRules` that
`scrape` can run plus the items it yields. The idea (as in html2rss's auto-source and the
"repeated record" detectors before it): articles are printed as sibling blocks of one shape,
each with one dominant link to an article of the same site. `bot.listshape` finds those links,
groups the blocks that hold them and writes CSS for each group; here we

1. rank the CSS cheaply (blocks holding a headline, few in boilerplate) and keep a shortlist;
2. outline each shortlisted list: its title, date, summary and image picks and every signal of
   the score but the items, which bounds the score from above;
3. build the items (as `scrape` would) and the exact score only for lists whose bound can still
   beat the ones kept: on a poll (limit=1) that is usually one list.

The score weighs size, headline quality, one link per item, dates, teasers, thumbnails, and
whether the list sits in the main content rather than header, nav, footer, sidebars or "most
read" boxes. Pure: no I/O, `now` is a parameter. HTML goes through `bot.dom` only.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot import dates, dom
from bot.dom import Node
from bot.listshape import (
    Page,
    Selector,
    Step,
    candidate_selectors,
    first_in,
    parse_css,
    select,
    stable_classes,
    title_options,
)
from bot.model import DEFAULT_TIMEZONE, Item, ListRules, Pick
from bot.scrape import image_url

MIN_ITEMS = 3  # fewer blocks than this is not a list
SAMPLE = 8  # items inspected to choose the date/summary/image picks
SHORTLIST = 6  # candidate selectors outlined (the rest are ranked cheaply)
_TEXT_TAGS = ("p", "div", "span", "h2", "h3", "h4", "h5", "h6", "li", "dd", "small", "time", "em")
_ROUNDING = 0.001  # scores are rounded to 3 decimals: a bound this far below cannot tie


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
    if not html or not html.strip() or limit < 1:
        return []
    page = Page(dom.parse_html(html), base_url, now, tz)
    if not page.links:
        return []
    selectors = _shortlist(page, candidate_selectors(page), max(limit + 2, SHORTLIST))
    outlines = [o for rank, sel in enumerate(selectors) if (o := _outline(page, sel, rank))]
    outlines.sort(key=lambda o: -o.bound)
    built: list[tuple[int, Candidate]] = []
    for outline in outlines:
        kept = _keep(built, limit)
        if outline.bound <= 0 or (
            len(kept) >= limit and outline.bound + _ROUNDING < kept[-1].score
        ):
            break  # no list left can score above zero, or above the ones kept
        candidate = _build(page, outline)
        if candidate is not None:
            built.append((outline.rank, candidate))
    return _keep(built, limit)


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


def _keep(built: list[tuple[int, Candidate]], limit: int) -> list[Candidate]:
    """The best candidates with a positive score, one per list (ties in shortlist order)."""
    kept: list[Candidate] = []
    for _, candidate in sorted(built, key=lambda pair: (-pair[1].score, pair[0])):
        if candidate.score <= 0 or len(kept) >= limit:
            break  # the rest sits in menus, footers or sidebars, or is not wanted
        if not any(_same_items(candidate, other) for other in kept):
            kept.append(candidate)
    return kept


# --- 1. ranking the CSS cheaply --------------------------------------------------------------


def _shortlist(page: Page, selectors: list[Selector], keep: int) -> list[Selector]:
    """The selectors worth outlining: many blocks holding a headline, few in boilerplate."""
    holders = page.link_holders()
    ranked = []
    for selector in selectors:
        elements = select(page, selector)
        holding = [e for e in elements if e in holders]
        if len(holding) < MIN_ITEMS:
            continue
        boiler = sum(1 for e in holding if page.zone(e) < 0) / len(holding)
        share = len(holding) / len(elements)
        ranked.append((math.log2(1 + len(holding)) * share * (1 - boiler) ** 2, selector))
    ranked.sort(key=lambda pair: -pair[0])
    return [selector for _, selector in ranked[:keep]]


# --- 2. outlining a list ---------------------------------------------------------------------


@dataclass
class _Outline:
    """A list before its items are built: its rules, and an upper bound of its score."""

    rank: int  # in the shortlist: breaks ties between equal scores
    elements: list[Node]
    titles: list[Node | None]
    rules: ListRules
    bound: float = 0.0
    shape: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    reasons: list[str] = field(default_factory=list)


def _outline(page: Page, selector: Selector, rank: int) -> _Outline | None:
    elements = select(page, selector)
    if len(elements) < MIN_ITEMS:
        return None
    title_pick = _title_pick(page, elements)
    if title_pick is None:
        return None
    titles = [first_in(page, e, title_pick) for e in elements]
    good = [t for t in titles if t is not None and t in page.links]
    if len(good) < MIN_ITEMS or len(good) < 0.6 * len(elements):
        return None
    rules = ListRules(item=selector.css, title=Pick(title_pick.css))
    outline = _Outline(rank, elements, titles, _with_extra_picks(page, rules, elements, titles))
    outline.shape = _shape(page, elements, titles)
    outline.bound = _upper_bound(page, outline)
    return outline


def _title_pick(page: Page, elements: list[Node]) -> Selector | None:
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


def _dominant_link(page: Page, element: Node) -> Node | None:
    """The item's strongest headline link (the first one on a tie)."""
    best: tuple[float, Node] | None = None
    for anchor in page.anchors_in(element):
        link = page.links.get(anchor)
        if link is not None and (best is None or link.strength > best[0]):
            best = (link.strength, anchor)
    return best[1] if best else None


def _with_extra_picks(
    page: Page, rules: ListRules, elements: list[Node], titles: list[Node | None]
) -> ListRules:
    """Add date, summary and image picks that work on most sampled items."""
    sample = [(e, t) for e, t in zip(elements, titles, strict=True) if t is not None][:SAMPLE]
    date = _common_pick(page, sample, _date_node)
    summary = _common_pick(page, sample, _summary_node)
    image = _image_pick(sample)
    return ListRules(
        item=rules.item,
        title=rules.title,
        date=Pick(date.css) if date else None,
        summary=Pick(summary.css) if summary else None,
        image=image,
    )


_Finder = Callable[[Page, Node, Node], "Node | None"]


def _common_pick(page: Page, sample: list[tuple[Node, Node]], find: _Finder) -> Selector | None:
    """A one-step selector for the node `find` locates in each item, if it agrees on most."""
    votes: dict[str, tuple[int, Selector]] = {}
    for item, title in sample:
        key = (find.__name__, item, title)
        if key not in page.memo:
            page.memo[key] = find(page, item, title)  # lists share items: find once
        node = page.memo[key]
        if node is None:
            continue
        selector = Selector((Step(dom.tag_of(node), stable_classes(node)),))
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


def _summary_node(page: Page, item: Node, title: Node) -> Node | None:
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


# --- 3. building the items and the score ---------------------------------------------------------


def _build(page: Page, outline: _Outline) -> Candidate | None:
    items = _items(page, outline.rules, outline.elements, outline.titles)
    if len(items) < MIN_ITEMS:
        return None
    score, reasons = _score(outline, items)
    return Candidate(outline.rules, tuple(items), score, tuple(reasons))


def _items(
    page: Page, rules: ListRules, elements: list[Node], titles: list[Node | None]
) -> list[Item]:
    """The items the rules yield, built the way `scrape` builds them (same order, same dedup)."""
    date_sel = parse_css(rules.date.css) if rules.date else None
    summary_sel = parse_css(rules.summary.css) if rules.summary else None
    items: list[Item] = []
    seen: set[str] = set()
    for element, title_node in zip(elements, titles, strict=True):
        if title_node is None:
            continue
        title = page.text(title_node) or dom.normalize_text(title_node.get("title") or "")
        url = _item_url(page, element, title_node)
        if not title or url is None:
            continue
        summary = ""
        if summary_sel is not None and (node := first_in(page, element, summary_sel)) is not None:
            summary = page.text(node)
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


def _item_url(page: Page, element: Node, title_node: Node) -> str | None:
    """The title's link, else the item's first (as `scrape` finds it)."""
    href = title_node.get("href")
    if not href:
        href = next((a.get("href") for a in page.anchors_in(element) if a.get("href")), None)
    return page.absolute(href)


def _published(
    page: Page, element: Node, date_sel: Selector | None, url: str, image: str | None
) -> datetime | None:
    """The printed date, else the one in the URL (dantri's timestamp) or image, else None."""
    if date_sel is not None and (node := first_in(page, element, date_sel)) is not None:
        for text in (node.get("datetime"), page.text(node)):
            parsed = dates.parse_date(text, page.now, page.tz) if text else None
            if parsed is not None:
                return parsed.at
    found = page.url_date(url)
    if found is None and image is not None:
        found = page.url_date(image)
    return found


def _shape(
    page: Page, elements: list[Node], titles: list[Node | None]
) -> tuple[float, float, float, float]:
    """Signals of the elements alone: headline strength, one link per item, boilerplate, main."""
    headline = sum(page.links[t].strength for t in titles if t in page.links) / len(elements)
    single = sum(1 for e in elements if _distinct_articles(page, e) == 1) / len(elements)
    zones = [page.zone(e) for e in elements]
    boiler = sum(1 for z in zones if z < 0) / len(zones)
    main = sum(1 for z in zones if z > 0) / len(zones)
    return headline, single, boiler, main


def _upper_bound(page: Page, outline: _Outline) -> float:
    """The most `_score` can give: every item kept, dated, teased and pictured where it can be."""
    headline, single, boiler, main = outline.shape
    urls = {
        url
        for element, title in zip(outline.elements, outline.titles, strict=True)
        if title is not None and (url := _item_url(page, element, title)) is not None
    }
    rules = outline.rules
    datable = rules.date is not None or rules.image is not None
    datable = datable or any(page.url_date(url) for url in urls)
    quality = headline * (0.5 + 0.5 * single) * (1 - boiler) ** 2
    bonus = (1 + 0.3 * datable + 0.15 * (rules.summary is not None)
             + 0.1 * (rules.image is not None) + 0.2 * main)  # fmt: skip
    return quality * math.log2(1 + len(urls)) * bonus


def _score(outline: _Outline, items: list[Item]) -> tuple[float, list[str]]:
    """Score a list by its signals; return the score and a human-readable summary."""
    headline, single, boiler, main = outline.shape
    n = len(items)
    dated = sum(1 for i in items if i.published_at is not None) / n
    teased = sum(1 for i in items if i.summary) / n
    pictured = sum(1 for i in items if i.image) / n
    # items are unique by URL (as `scrape` keeps them): no duplicate factor
    quality = headline * (0.5 + 0.5 * single) * (1 - boiler) ** 2
    bonus = 1 + 0.3 * dated + 0.15 * teased + 0.1 * pictured + 0.2 * main
    score = quality * math.log2(1 + n) * bonus
    reasons = [
        f"{n} items",
        f"headlines {headline:.0%}",
        f"one link per item {single:.0%}",
        f"dated {dated:.0%}" + _date_source(outline.rules, dated),
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


def _distinct_articles(page: Page, element: Node) -> int:
    return len({page.links[a].url for a in page.anchors_in(element) if a in page.links})


def _same_items(a: Candidate, b: Candidate) -> bool:
    """Two candidates that yield (nearly) the same links are one list."""
    urls_a, urls_b = {i.url for i in a.items}, {i.url for i in b.items}
    return len(urls_a & urls_b) >= 0.9 * max(len(urls_a), len(urls_b))


# --- recipes ----------------------------------------------------------------------------------


def _list_key(css: str) -> tuple[str, frozenset[str], frozenset[str]]:
    selector = parse_css(css)
    last = selector.steps[-1]
    idents = frozenset(s.ident for s in selector.steps if s.ident)
    return last.tag, last.classes, idents


def _last_tag(css: str) -> str:
    return parse_css(css).steps[-1].tag


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
