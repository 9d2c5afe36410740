"""Scrape time per page next to a bare lxml.html parse of the same bytes (the ratio is the figure).

Pages: every recipe fixture in tests/fixtures/<feed>/ and the real government-portal listings in
tests/fixtures/realpages/capstone2/ (with the selectors RSS-Bridge and morss were given in
benchmarks/peers-baseline.md). Also printed: BeautifulSoup+lxml parse of the same bytes, for scale.
"""

from __future__ import annotations

import resource
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import lxml.html

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.realpages import realpage  # noqa: E402

from bot.config import load_recipes  # noqa: E402
from bot.model import ListRules, Pick, Recipe  # noqa: E402
from bot.source import dom, scrape  # noqa: E402

NOW = datetime(2022, 8, 27, 4, 0, tzinfo=UTC)
CAPSTONE = Recipe(
    feed_id="sotttt",
    title="Sở TT&TT Hà Nội",
    urls=("https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien",),
    rules=ListRules(
        item="div.asset-abstract",
        title=Pick("h3.asset-title > a"),
        date=Pick("div.assetPublishDate.block_timer"),
        summary=Pick("div.asset-summary"),
    ),
)


def median_ms(work: Callable[[], object], runs: int = 50) -> float:
    work()  # warm: compiled selectors, imports
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def pages() -> list[tuple[str, Recipe, bytes, str]]:
    found = []
    for recipe in load_recipes(ROOT / "feeds"):
        for page in sorted((ROOT / "tests" / "fixtures" / recipe.feed_id).glob("*.html")):
            name = f"{recipe.feed_id}/{page.name}"
            found.append((name, recipe, page.read_bytes(), recipe.urls[0]))
    for name in ("tin-tuc-su-kien.html", "tin-tuc-su-kien511b.html", "cong-nghe-thong-tin.html"):
        path = realpage(f"capstone2/{name}")
        found.append((f"capstone2/{name}", CAPSTONE, path.read_bytes(), CAPSTONE.urls[0]))
    return found


def main() -> None:
    try:
        import bs4
    except ImportError:  # pragma: no cover - bs4 is a dependency, but the figure is optional
        bs4 = None
    print(f"{'page':<40} {'KB':>5} {'items':>5} {'lxml ms':>8} {'scrape ms':>9} {'ratio':>6}"
          f" {'bs4 ms':>7}")
    ratios = []
    for name, recipe, body, url in pages():
        html = dom.decode_html(body, None)
        try:
            count = len(scrape.scrape(html, url, recipe, NOW).items)
        except Exception as exc:  # a fixture page may be an article page with no list
            count = 0
            print(f"  ({name}: {type(exc).__name__})")
        bare = median_ms(lambda body=body: lxml.html.fromstring(body))
        full = median_ms(
            lambda html=html, recipe=recipe, url=url: _scrape_or_none(html, url, recipe)
        )
        soup = median_ms(lambda body=body: bs4.BeautifulSoup(body, "lxml"), 10) if bs4 else 0.0
        ratios.append(full / bare)
        print(f"{name:<40} {len(body) / 1024:>5.0f} {count:>5} {bare:>8.2f} {full:>9.2f}"
              f" {full / bare:>6.2f} {soup:>7.2f}")
    print(f"median ratio scrape/parse: {statistics.median(ratios):.2f} "
          "(scrape = parse + select + dates + ids)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS: {peak:.1f} MiB")


def _scrape_or_none(html: str, url: str, recipe: Recipe) -> object:
    try:
        return scrape.scrape(html, url, recipe, NOW)
    except Exception:
        return None


if __name__ == "__main__":
    main()
