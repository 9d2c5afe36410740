"""Find the list of articles on a news page that has no recipe: list auto-detection.

`detect_lists(html, base_url, now=...)` returns ranked candidates, each a `ListRules` that
`scrape` can run plus the items it yields. The idea (as in html2rss's auto-source and the
"repeated record" detectors before it): articles are printed as sibling blocks of one shape,
each with one dominant link to an article of the same site. `listshape` finds those links,
groups the blocks that hold them and writes CSS for each group (`cssmatch` runs it); here

1. the CSS is ranked cheaply (blocks holding a headline, few in boilerplate) to a shortlist;
2. each list's score is bounded from above by its blocks alone; outlining it (title, date,
   summary and image picks: `listitems`) tightens the bound; building its items (as
   `scrape` would) makes it exact;
3. the list with the highest bound is always the one worked on, until no bound left can change
   the lists kept. The result is what scoring every list would give; on a poll (limit=1) one
   list is usually outlined and built.

The score weighs size, headline quality, one link per item, dates, teasers, thumbnails, and
whether the list sits in the main content rather than header, nav, footer, sidebars or "most
read" boxes. Pure: no I/O, `now` is a parameter. HTML goes through `bot.source.dom` only.
"""

from __future__ import annotations

import heapq
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from bot.model import DEFAULT_TIMEZONE, Item, ListRules, Pick
from bot.source import dom
from bot.source.detect import listitems
from bot.source.detect.cssmatch import Selector, first_in, parse_css, select
from bot.source.detect.listshape import CARD_TEXT, Page, candidate_selectors
from bot.source.dom import Node
from bot.source.picks import MAX_ELEMENTS

MIN_ITEMS = 3  # fewer blocks than this is not a list
SHORTLIST = 6  # candidate selectors worth a closer look (the rest are ranked cheaply)
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
    language: str | None = None,
) -> list[Candidate]:
    """The lists of articles on a page, best first; [] when there is none. Dates are read in
    `tz`, all-numeric ones in the order the list's dates and the page's `language` (else its
    `<html lang>`) say."""
    if not html or not html.strip() or limit < 1:
        return []
    root = dom.parse_html(html)
    page = Page(root, base_url, now, tz, language or dom.attr_of(root, "lang"))
    if not page.links:
        return []
    selectors = _shortlist(page, candidate_selectors(page), max(limit + 2, SHORTLIST))
    # Best first: work on the list with the highest bound, which gets lower (and exact, once
    # built) as the work is done; stop when no bound left can change what is kept.
    pending: list[tuple[float, int, Selector | _Outline]] = [
        (-_rough_bound(page, sel), rank, sel) for rank, sel in enumerate(selectors)
    ]
    heapq.heapify(pending)
    built: list[_Built] = []
    while pending:
        negative_bound, rank, work = heapq.heappop(pending)
        bound, kept = -negative_bound, _keep(built, limit)
        if bound <= 0 or (len(kept) >= limit and bound + _ROUNDING < kept[-1].score):
            break  # no list left can score above zero, or above the ones kept
        if isinstance(work, Selector):
            if (outline := _outline(page, work, rank)) is not None:
                heapq.heappush(pending, (-outline.bound, rank, outline))
        elif (done := _build(page, work)) is not None:
            built.append(done)
    return _finish(page, _keep(built, limit))


def same_list(a: ListRules, b: ListRules) -> bool:
    """Whether two rule sets pick the same list (tolerates class changes on individual items)."""
    return _list_key(a.item) == _list_key(b.item) and _last_tag(a.title.css) == _last_tag(
        b.title.css
    )


def recipe_toml(
    candidate: Candidate,
    *,
    feed_id: str,
    url: str,
    title: str,
    by: str = "newsbot detect",
    settings: Sequence[tuple[str, str]] = (),
    article_auto: bool = False,
) -> str:
    """A ready-to-save `feeds/<feed_id>.toml` for a candidate; `settings` are more top-level
    string keys (language, timezone), `article_auto` adds `[article] content = "auto"`."""
    rules = candidate.rules
    lines = [
        f"# feeds/{feed_id}.toml: proposed by `{by}` ({len(candidate.items)} items).",
        f"# Signals: {'; '.join(candidate.reasons)}",
        f"title = {_toml_str(title)}",
        f"url = {_toml_str(url)}",
        *(f"{key} = {_toml_str(value)}" for key, value in settings),
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
    if rules.date_formats:  # the list's numeric dates read month first (bot.source.datelists)
        lines.append(f"date_formats = [{', '.join(map(_toml_str, rules.date_formats))}]")
    lines.append('fallback = "auto"  # if these selectors stop matching, auto-detect again')
    if article_auto:
        lines += ["", "[article]", 'content = "auto"  # the full text of each new article']
    return "\n".join(lines) + "\n"


def _keep(built: list[_Built], limit: int) -> list[_Built]:
    """The best lists with a positive score, one per list (ties in shortlist order)."""
    kept: list[_Built] = []
    for done in sorted(built, key=lambda done: (-done.score, done.rank)):
        if done.score <= 0 or len(kept) >= limit:
            break  # the rest sits in menus, footers or sidebars, or is not wanted
        if not any(_same_items(done, other) for other in kept):
            kept.append(done)
    return kept


def _finish(page: Page, kept: list[_Built]) -> list[Candidate]:
    """The lists kept as candidates, their items with the document fields `scrape` adds."""
    return [
        Candidate(_stable(page, done.rules, [draft.element for draft in done.drafts]),
                  listitems.finish(page, done.drafts), done.score, done.reasons)
        for done in kept
    ]


_CLASS_NAME = re.compile(r"-?[A-Za-z_][\w-]*")


def _stable(page: Page, rules: ListRules, nodes: list[Node]) -> ListRules:
    """`div.asset-abstract` rather than `section#portlet_101 div.portlet-body > div` when a
    class of the elements that gave the items selects exactly those elements (so the same
    items): a recipe naming what the items are survives the site moving its blocks around; a
    path through the layout does not. Classes without digits (not generated), short ones first."""
    css = rules.item
    if "," in css or " " not in css.strip():
        return rules  # a list of selectors, or already one simple selector
    tags = {dom.tag_of(node) for node in nodes}
    if not nodes or len(tags) != 1:
        return rules
    shared = set.intersection(*(set((dom.attr_of(n, "class") or "").split()) for n in nodes))
    tag = tags.pop()
    for name in sorted(shared, key=lambda c: (any(ch.isdigit() for ch in c), len(c), c)):
        simple = f"{tag}.{name}"
        if _CLASS_NAME.fullmatch(name) and dom.select(page.root, simple) == nodes:
            return replace(rules, item=simple)
    return rules


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


# --- 2. bounding and outlining a list --------------------------------------------------------


@dataclass
class _Outline:
    """A list before its items are built: its rules, and an upper bound of its score."""

    rank: int  # in the shortlist: breaks ties between equal scores
    elements: list[Node]
    titles: list[Node | None]
    rules: ListRules
    shape: tuple[float, float, float, float]  # what `_score` needs but the items
    bound: float = 0.0


def _outline(page: Page, selector: Selector, rank: int) -> _Outline | None:
    """The list's rules and signals, and a tighter bound; None when it is no list of headlines."""
    elements = _as_scrape_takes(select(page, selector))
    if len(elements) < MIN_ITEMS:
        return None
    title_pick = listitems.title_pick(page, elements)
    if title_pick is None:
        return None
    titles = [first_in(page, e, title_pick) for e in elements]
    good = [t for t in titles if t is not None and t in page.links]
    if len(good) < MIN_ITEMS or len(good) < 0.6 * len(elements):
        return None
    rules = ListRules(item=selector.css, title=_title(page, title_pick, good))
    shape = _shape(page, selector, titles)
    if sum(1 for t in good if not page.text(t)) > len(good) / 2:  # empty links over cards
        heading = listitems.heading_pick(page, elements, titles)
        if heading is None:
            return None
        titles = [first_in(page, e, heading) for e in elements]
        rules = ListRules(item=selector.css, title=Pick(heading.css), link=Pick(title_pick.css))
    rules = listitems.with_extra_picks(page, rules, elements, titles)
    outline = _Outline(rank, elements, titles, rules, shape)
    outline.bound = _upper_bound(page, outline)
    return outline


def _title(page: Page, pick: Selector, titles: list[Node]) -> Pick:
    """The headline link's text, or its `title` attribute when most links are whole cards
    (chip.de: category, date, headline and teaser in one link, the headline in `title`)."""
    cards = sum(1 for t in titles if len(page.text(t)) > CARD_TEXT and t.get("title"))
    return Pick(pick.css, "title") if cards > len(titles) / 2 else Pick(pick.css)


def _as_scrape_takes(elements: list[Node]) -> list[Node]:
    """The matches `scrape` builds items from: none nested in another match (asahi's menus nest
    `ul > li` in `ul > li`), and at most its first MAX_ELEMENTS."""
    if len(elements) > 1:
        matched = set(elements)
        elements = [e for e in elements if not any(a in matched for a in e.iterancestors())]
    return elements[:MAX_ELEMENTS]


def _rough_bound(page: Page, selector: Selector) -> float:
    """An upper bound of the score before the title pick: each item's strongest link is its
    title, every item is kept, dated, teased and pictured."""
    elements = select(page, selector)
    headline = sum(page.link_stats(e)[0] for e in elements) / len(elements)
    single, boiler, main = _placement(page, selector)
    quality = headline * (0.5 + 0.5 * single) * (1 - boiler) ** 2
    return quality * math.log2(1 + len(elements)) * (1 + 0.3 + 0.15 + 0.1 + 0.2 * main)


def _shape(
    page: Page, selector: Selector, titles: list[Node | None]
) -> tuple[float, float, float, float]:
    """Signals of the items but their fields: headline strength, one link per item, boilerplate,
    main content."""
    elements = select(page, selector)
    headline = sum(page.links[t].strength for t in titles if t in page.links) / len(elements)
    return (headline, *_placement(page, selector))


def _placement(page: Page, selector: Selector) -> tuple[float, float, float]:
    """Share of items linking one article, of items in boilerplate, of items in main content."""
    found = page.placements.get(selector.css)
    if found is None:
        elements = select(page, selector)
        single = sum(1 for e in elements if page.link_stats(e)[1] == 1) / len(elements)
        zones = [page.zone(e) for e in elements]
        boiler = sum(1 for z in zones if z < 0) / len(zones)
        main = sum(1 for z in zones if z > 0) / len(zones)
        found = page.placements[selector.css] = (single, boiler, main)
    return found


def _upper_bound(page: Page, outline: _Outline) -> float:
    """The most `_score` can give: every item kept, dated, teased and pictured where it can be."""
    headline, single, boiler, main = outline.shape
    link = parse_css(outline.rules.link.css) if outline.rules.link else None
    urls = {
        url
        for element, title in zip(outline.elements, outline.titles, strict=True)
        if title is not None and (url := listitems.item_url(page, element, title, link)) is not None
    }
    rules = outline.rules
    datable = rules.date is not None or rules.image is not None
    datable = datable or any(page.url_date(url) for url in urls)
    quality = headline * (0.5 + 0.5 * single) * (1 - boiler) ** 2
    bonus = (1 + 0.3 * datable + 0.15 * (rules.summary is not None)
             + 0.1 * (rules.image is not None) + 0.2 * main)  # fmt: skip
    return quality * math.log2(1 + len(urls)) * bonus


# --- 3. building the items and the exact score ------------------------------------------------


@dataclass(frozen=True)
class _Built:
    """A list with its items built and its exact score."""

    rank: int
    rules: ListRules
    drafts: list[listitems.Draft]
    score: float
    reasons: tuple[str, ...]


def _build(page: Page, outline: _Outline) -> _Built | None:
    drafts = listitems.drafts(page, outline.rules, outline.elements, outline.titles)
    if len(drafts) < MIN_ITEMS:
        return None
    score, reasons = _score(outline, drafts)
    return _Built(outline.rank, outline.rules, drafts, score, tuple(reasons))


def _score(outline: _Outline, items: list[listitems.Draft]) -> tuple[float, list[str]]:
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


def _same_items(a: _Built, b: _Built) -> bool:
    """Two lists that yield (nearly) the same links are one."""
    urls_a, urls_b = {i.url for i in a.drafts}, {i.url for i in b.drafts}
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
    # dantri's timestamp, an id ending the slug (-749312.html), an id starting it (/4418033-slug)
    for pattern in (r"-(\d{14,17})\.htm", r"-(\d{5,})(?:\.html?)?$", r"/(\d{5,})-[^/]*$"):
        if sum(1 for url in urls if re.search(pattern, url)) >= 0.9 * len(urls):
            return pattern
    return None


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON's escapes are valid TOML)."""
    return json.dumps(value, ensure_ascii=False)


def _toml_literal(value: str) -> str:
    return f"'{value}'" if "'" not in value and "\n" not in value else _toml_str(value)
