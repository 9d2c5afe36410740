"""Article pages with no selectors: main text (`[article] content = "auto"`), title and date.

    .venv/bin/python benchmarks/bench_article.py

On the 29 labelled news pages of tests/fixtures/articles (trafilatura's evaluation set, see its
SOURCES.md): share of the snippets a reader needs that the auto content holds, share of the
boilerplate snippets it leaves out, pages with both perfect; titles equal to the label; dates on
the label's day (the label is the local day: the UTC day or the day after/before counts as a
near miss, reported apart). Then the same for `content = None` (what a recipe without a
selector got before). Times are this process's CPU time.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from bot.model import ArticleRules  # noqa: E402
from bot.source import dom  # noqa: E402
from bot.source.article import scrape_article  # noqa: E402

ARTICLES = ROOT / "tests" / "fixtures" / "articles"
NOW_TZ = "UTC"


def _norm(text: str) -> str:
    return " ".join(text.split())


def measure(rules: ArticleRules) -> dict[str, float]:
    labels = json.loads((ARTICLES / "labels.json").read_text(encoding="utf-8"))
    wanted = got = unwanted = left_out = perfect = titles = days = near = dated = 0
    started = time.process_time()
    for name, label in labels.items():
        html = (ARTICLES / name).read_bytes().decode("utf-8", errors="replace")
        info = scrape_article(html, label["url"], rules, tz=NOW_TZ,
                              now=datetime(2030, 1, 1, tzinfo=UTC))
        text = dom.text_of(dom.parse_html(info.content_html)) if info.content_html else ""
        hit = sum(_norm(s) in text for s in label["with"])
        clean = sum(_norm(s) not in text for s in label["without"])
        wanted, got = wanted + len(label["with"]), got + hit
        unwanted, left_out = unwanted + len(label["without"]), left_out + clean
        perfect += hit == len(label["with"]) and clean == len(label["without"])
        titles += _norm(info.title or "") == _norm(label.get("title") or "")
        if label.get("date"):
            dated += 1
            if info.published_at is not None:
                day = info.published_at.date().isoformat()
                around = {(info.published_at + timedelta(hours=h)).date().isoformat()
                          for h in (-12, 12)}
                days += day == label["date"]
                near += day != label["date"] and label["date"] in around
    return {
        "pages": len(labels), "needed": got / wanted, "boilerplate_out": left_out / unwanted,
        "perfect": perfect, "titles": titles, "dated": dated, "date_day": days,
        "date_near": near, "cpu_s": time.process_time() - started,
    }


def main() -> int:
    for name, rules in (("auto", ArticleRules(content_auto=True)), ("none", ArticleRules())):
        r = measure(rules)
        print(f"content={name}: {r['pages']:.0f} pages, needed snippets {r['needed']:.0%}, "
              f"boilerplate left out {r['boilerplate_out']:.0%}, perfect {r['perfect']:.0f}; "
              f"titles {r['titles']:.0f}/{r['pages']:.0f}; dates on the day "
              f"{r['date_day']:.0f}/{r['dated']:.0f} (+{r['date_near']:.0f} a day off); "
              f"{r['cpu_s']:.1f} s CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
