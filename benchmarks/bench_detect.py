"""List auto-detection on the labelled real pages: accuracy, and time next to a plain parse.

    .venv/bin/python benchmarks/bench_detect.py [--runs N]

Per page: top-1 correct (precision and recall of links >= 0.8 against the labelled main list),
precision/recall of links and titles, share of printed dates right; then the same figures over
the tuning part and over the HELD-OUT part of the labelled set (tests/fakes/detect_eval.py),
whose pages were never tuned on; then the detector's time as
a poll runs it (limit=1, `pipeline`) and as `newsbot detect --all` does (limit=5), the time of a
plain `dom.parse_html` of the same page, and their ratios (x1, x5). For scale, `scrape` with the
rules found (what a poll of a feed with a recipe costs) is timed too. Times are medians of
interleaved runs of this process's CPU time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.detect_eval import Label, Scores, load_labels, score  # noqa: E402

from bot.model import Recipe  # noqa: E402
from bot.source import dom, scrape  # noqa: E402
from bot.source.detect import detect  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per page (median kept)")
    args = parser.parse_args(argv)
    labels = load_labels()
    print(f"{'page':<30} {'part':>4} {'top1':>4} {'P link':>6} {'R link':>6} {'P tit':>6} "
          f"{'R tit':>6} {'dates':>9} {'detect@1':>8} {'@5':>7} {'parse':>7} {'scrape':>7} "
          f"{'x1':>4} {'x5':>4}  best candidate")  # fmt: skip
    rows = [_run(label, args.runs) for label in labels]
    _summary(labels, rows)
    return 0


@dataclass(frozen=True)
class _Row:
    scores: Scores | None
    dated: int  # labelled items with a date (printed, attribute or URL)
    poll_ms: float  # limit=1
    all_ms: float  # limit=5
    parse_ms: float
    scrape_ms: float


def _run(label: Label, runs: int) -> _Row:
    html = dom.decode_html(label.page_bytes())
    now = label.saved_at
    zone = label.zone  # as `newsbot detect` without --timezone
    candidates = detect.detect_lists(html, label.base_url, now=now, tz=zone)
    rules = candidates[0].rules if candidates else None
    recipe = Recipe(feed_id="", title="t", urls=(label.base_url,), rules=rules, timezone=zone)
    poll_ms, all_ms, parse_ms, scrape_ms = _median_ms(
        lambda: detect.detect_lists(html, label.base_url, now=now, tz=zone, limit=1),
        lambda: detect.detect_lists(html, label.base_url, now=now, tz=zone, limit=5),
        lambda: dom.parse_html(html),
        (lambda: scrape.scrape(html, label.base_url, recipe, now)) if rules else (lambda: None),
        runs=runs,
    )
    times = (f"{poll_ms:7.1f}ms {all_ms:5.1f}ms {parse_ms:5.1f}ms {scrape_ms:5.1f}ms "
             f"{poll_ms / parse_ms:4.1f} {all_ms / parse_ms:4.1f}")  # fmt: skip
    if not candidates:
        print(f"{label.name:<30} {label.part[:4]:>4} {'no':>4} {'-':>6} {'-':>6} {'-':>6} "
              f"{'-':>6} {'-':>9} {times}  (none)")  # fmt: skip
        return _Row(None, _dated(label), poll_ms, all_ms, parse_ms, scrape_ms)
    scores = score(candidates[0].items, label)
    dates = "n/a"
    if scores.dates_printed:
        dates = f"{scores.dates_right}/{scores.dates_printed}"
    elif scores.url_dates:
        dates = f"url {scores.url_dates_right}/{scores.url_dates}"
    print(f"{label.name:<30} {label.part[:4]:>4} {'yes' if scores.correct else 'no':>4} "
          f"{scores.link_precision:6.2f} {scores.link_recall:6.2f} "
          f"{scores.title_precision:6.2f} {scores.title_recall:6.2f} {dates:>9} {times}  "
          f"{candidates[0].rules.item[:50]}")  # fmt: skip
    return _Row(scores, _dated(label), poll_ms, all_ms, parse_ms, scrape_ms)


def _dated(label: Label) -> int:
    return sum(1 for entry in label.items if entry["date_source"] is not None)


def _summary(labels: list[Label], rows: list[_Row]) -> None:
    pairs = list(zip(labels, rows, strict=True))
    groups = {
        "tuning part": [row for label, row in pairs if label.part == "tuning"],
        "  of which government portals": [
            row for label, row in pairs if label.kind == "government-portal"
        ],
        "HELD-OUT part": [row for label, row in pairs if label.part == "held-out"],
    }
    for name, picked in groups.items():
        print(_figures(name, picked))
    correct = sum(1 for row in rows if row.scores is not None and row.scores.correct)
    print(
        f"overall: top-1 correct {correct}/{len(rows)}; "
        f"parse {sum(row.parse_ms for row in rows):.1f} ms for {len(rows)} pages"
    )
    timings = {
        "poll (limit=1)": [row.poll_ms for row in rows],
        "detect --all (limit=5)": [row.all_ms for row in rows],
        "scrape with the rules found": [row.scrape_ms for row in rows],
    }
    for name, times in timings.items():
        ratios = [t / row.parse_ms for t, row in zip(times, rows, strict=True)]
        print(
            f"  {name}: {sum(times):.1f} ms; x parse median {statistics.median(ratios):.1f}, "
            f"max {max(ratios):.1f}"
        )


def _figures(name: str, picked: list[_Row]) -> str:
    """Top-1 accuracy, mean item precision/recall (a page with no candidate counts 0) and the
    share of dates read right (printed, or in dantri's URLs) over one part of the labelled set."""
    scores = [row.scores for row in picked]
    correct = sum(1 for s in scores if s is not None and s.correct)
    right = sum(s.dates_right + s.url_dates_right for s in scores if s is not None)
    dated = sum(row.dated for row in picked)  # a page with no candidate has all its dates wrong
    link_p = _mean([s.link_precision if s else 0.0 for s in scores])
    link_r = _mean([s.link_recall if s else 0.0 for s in scores])
    title_p = _mean([s.title_precision if s else 0.0 for s in scores])
    title_r = _mean([s.title_recall if s else 0.0 for s in scores])
    line = (f"{name}: top-1 correct {correct}/{len(picked)}; mean P/R links {link_p:.2f}/"
            f"{link_r:.2f}, titles {title_p:.2f}/{title_r:.2f}")  # fmt: skip
    if dated:
        line += f"; dates right {right}/{dated} ({right / dated:.0%})"
    return line


def _median_ms(*tasks: Callable[[], object], runs: int) -> tuple[float, ...]:
    """Median CPU ms of each task (this process only: other work on a shared machine does not
    count), interleaved so all see the same caches and clock."""
    times: list[list[float]] = [[] for _ in tasks]
    for _ in range(runs):
        for task, sink in zip(tasks, times, strict=True):
            started = time.process_time()
            task()
            sink.append((time.process_time() - started) * 1000)
    return tuple(statistics.median(sink) for sink in times)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


if __name__ == "__main__":
    sys.exit(main())
