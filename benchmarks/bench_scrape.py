"""Recipe scraping of one page from its bytes, next to a bare lxml parse + select of the same bytes.

    .venv/bin/python benchmarks/bench_scrape.py [--runs N]

`scrape ms` times `listing.scrape_page`, what a poll runs on a fetched page: the HTML check,
decoding (`dom.decode_html`), parsing, selecting, dates and ids, every item read (a new, empty
`ItemMemo`, as in a feed's first poll: the digests and date checks of keeping, no item from it).
`1 new ms` (the real listing only) is what a changed poll reads: the page alternates between two
versions that differ in their first item, read with one `ItemMemo` as the daemon's, so 19 of the
20 items were on the page read before (from memory). The floor (`parse+sel ms`) is what
any scraper must do at least: `lxml.html.fromstring` of the bytes, then the recipe's own CSS
selectors (precompiled once) for the items and, in each item, for each of its fields. `ratio` =
scrape / floor, interleaved so both see the same load; `parse ms` (the parse alone) and
`bs4 ms` (BeautifulSoup+lxml) are for scale. Then why bot/ scrapes with lxml + cssselect: one
extraction (title and date of the real listing's 20 items) done with both libraries, interleaved
(README.md cites the ratio).

Pages: every recipe fixture in tests/fixtures/<feed>/ and the real gov.vn listings in
tests/fixtures/realpages/capstone2/ (with the selectors benchmarks/peers-baseline.md gave
RSS-Bridge and morss; the first of them is the page of issue 13's goal, a ratio of at most 2).
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import bs4
import lxml.html
from benchlib import QUICK, REAL_PAGE, ROOT, row, with_new_first_item
from fakes.realpages import realpage
from lxml.cssselect import CSSSelector

from bot.model import FetchResult, ListRules, Pick, Recipe
from bot.recipes import load_recipes
from bot.source.listing import scrape_page
from bot.source.memo import ItemMemo

NOW = datetime(2022, 8, 27, 4, 0, tzinfo=UTC)
GOAL_RATIO = 2.0
REAL = Recipe(
    feed_id="sotttt",
    title="Sở TT&TT Hà Nội",
    urls=("https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien",),
    rules=ListRules(
        item="div.asset-abstract",
        title=Pick("h3.asset-title > a"),
        date=Pick("div.assetPublishDate.block_timer"),
        summary=Pick("div.asset-summary"),
    ),
    timezone="Asia/Ho_Chi_Minh",
)


def floor_for(rules: ListRules) -> Callable[[bytes], int]:
    """Parse + the recipe's selections with precompiled selectors: the least a scraper does."""
    items = CSSSelector(rules.item)
    picks = [rules.title, rules.link, rules.summary, rules.date, rules.image]
    fields = [CSSSelector(pick.css) for pick in picks if pick is not None and pick.css]

    def floor(body: bytes) -> int:
        found = 0
        for element in items(lxml.html.fromstring(body)):
            for field in fields:
                found += len(field(element)[:1])
        return found

    return floor


def pages() -> list[tuple[str, Recipe, bytes]]:
    found = []
    for recipe in load_recipes(ROOT / "feeds"):
        for page in sorted((ROOT / "tests" / "fixtures" / recipe.feed_id).glob("*.html")):
            found.append((f"{recipe.feed_id}/{page.name}", recipe, page.read_bytes()))
    found.append((f"realpages/{REAL_PAGE.name}", REAL, REAL_PAGE.read_bytes()))
    for name in ("tin-tuc-su-kien511b.html", "cong-nghe-thong-tin.html"):
        found.append((f"capstone2/{name}", REAL, realpage(f"capstone2/{name}").read_bytes()))
    return found


def interleaved_ms(works: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median ms of each work, timed round-robin (after one warm-up call of each)."""
    times: dict[str, list[float]] = {name: [] for name in works}
    for work in works.values():
        work()  # warm: compiled selectors, caches
    for _ in range(runs):
        for name, work in works.items():
            started = time.perf_counter()
            work()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def scrape_or_none(page: FetchResult, recipe: Recipe, memo: ItemMemo | None = None) -> object:
    """`memo=None`: a new, empty one (a feed's first poll: every item read and kept)."""
    memo = memo if memo is not None else ItemMemo()
    try:
        return scrape_page(page, recipe, NOW, memo=memo)
    except Exception:  # a fixture may be an article page with no list: still timed
        return None


def one_new_item(page: FetchResult, recipe: Recipe) -> Callable[[], object]:
    """Scrapes of the page and of a version with another first item, in turn, with one memo:
    each finds one item it did not read the time before, as a changed poll does."""
    other = replace(page, body=with_new_first_item(page.body, 1))
    turns = itertools.cycle((page, other))
    memo = ItemMemo()
    return lambda: scrape_or_none(next(turns), recipe, memo)


def extraction_vs_bs4(runs: int) -> None:
    """Title and date of every item of the real listing: lxml + cssselect (precompiled, as
    bot.source.dom does) against BeautifulSoup with the lxml parser and soupsieve."""
    body = REAL_PAGE.read_bytes()
    item, title, date = "div.asset-abstract", "h3.asset-title > a", "div.assetPublishDate"
    compiled = CSSSelector(item), CSSSelector(title), CSSSelector(date)

    def with_lxml() -> list[tuple[str, str]]:
        rows = compiled[0](lxml.html.fromstring(body))
        return [(compiled[1](r)[0].text_content(), compiled[2](r)[0].text_content()) for r in rows]

    def with_bs4() -> list[tuple[str, str]]:
        rows = bs4.BeautifulSoup(body, "lxml").select(item)
        return [(r.select_one(title).get_text(), r.select_one(date).get_text()) for r in rows]

    assert len(with_lxml()) == len(with_bs4()) == 20
    med = interleaved_ms({"lxml": with_lxml, "bs4": with_bs4}, runs)
    print(f"title+date of the real listing's 20 items: lxml+cssselect {med['lxml']:.2f} ms, "
          f"BeautifulSoup(lxml)+soupsieve {med['bs4']:.2f} ms, x{med['bs4'] / med['lxml']:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20 if QUICK else 60)
    args = parser.parse_args()
    print(f"{'page':<40} {'KB':>5} {'items':>5} {'parse ms':>8} {'parse+sel':>9} "
          f"{'scrape ms':>9} {'ratio':>6} {'bs4 ms':>7} {'1 new ms':>8} {'ratio':>6}")  # fmt: skip
    ratios, real = [], None
    for name, recipe, body in pages():
        page = FetchResult(url=recipe.urls[0], status=200, body=body,
                           content_type="text/html; charset=utf-8")  # fmt: skip
        listing = scrape_or_none(page, recipe)
        count = len(getattr(listing, "items", ()))
        assert recipe.rules is not None
        floor = floor_for(recipe.rules)
        works: dict[str, Callable[[], object]] = {
            "parse": lambda body=body: lxml.html.fromstring(body),
            "floor": lambda body=body, floor=floor: floor(body),
            "scrape": lambda page=page, recipe=recipe: scrape_or_none(page, recipe),
        }  # fmt: skip
        if name == f"realpages/{REAL_PAGE.name}":
            works["1 new"] = one_new_item(page, recipe)
        med = interleaved_ms(works, args.runs)
        soup = interleaved_ms({"bs4": lambda body=body: bs4.BeautifulSoup(body, "lxml")}, 5)
        ratio = med["scrape"] / med["floor"]
        ratios.append(ratio)
        if "1 new" in med:
            real = (med["1 new"] / med["floor"], med)
        print(f"{name:<40} {len(body) / 1024:>5.0f} {count:>5} {med['parse']:>8.2f} "
              f"{med['floor']:>9.2f} {med['scrape']:>9.2f} {ratio:>6.2f} "
              f"{soup['bs4']:>7.2f}" + (f" {med['1 new']:>8.2f} {med['1 new'] / med['floor']:>6.2f}"
                                        if "1 new" in med else ""))  # fmt: skip
    print(f"median ratio scrape / (parse + select): {statistics.median(ratios):.2f}; "
          "scrape = check + decode + parse + select + dates + ids")
    extraction_vs_bs4(max(10, args.runs // 2))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.1f} MiB")
    assert real is not None
    ratio, med = real
    row("2", "recipe scrape of the real listing, one new item (listing.scrape_page) / bare "
        "lxml parse+select", ratio, GOAL_RATIO, "x",
        note=f"{med['1 new']:.2f} ms vs {med['floor']:.2f} ms (parse alone {med['parse']:.2f}); "
        f"every item read: {med['scrape']:.2f} ms = {med['scrape'] / med['floor']:.2f}x")


if __name__ == "__main__":
    main()
