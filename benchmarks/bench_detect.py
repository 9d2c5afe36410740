"""List auto-detection on the labelled real pages: accuracy, and time next to a plain parse.

    .venv/bin/python benchmarks/bench_detect.py [--runs N]

Per page: top-1 correct (precision and recall of links >= 0.8 against the labelled main list),
precision/recall of links and titles, share of printed dates right, detector time and the time
of a plain `dom.parse_html` of the same page measured in the same run, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from fakes.detect_eval import Label, Scores, load_labels, score  # noqa: E402

from bot import detect, dom  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per page (median kept)")
    args = parser.parse_args(argv)
    labels = load_labels()
    print(f"{'page':<30} {'top1':>4} {'P link':>6} {'R link':>6} {'P tit':>6} {'R tit':>6} "
          f"{'dates':>9} {'detect':>8} {'parse':>7} {'ratio':>5}  best candidate")  # fmt: skip
    rows = [_run(label, args.runs) for label in labels]
    _summary(labels, rows)
    return 0


def _run(label: Label, runs: int) -> tuple[Scores | None, float, float]:
    html = dom.decode_html(label.page.read_bytes())
    now = label.saved_at

    def detect_once() -> list[detect.Candidate]:
        return detect.detect_lists(html, label.base_url, now=now)

    candidates = detect_once()
    detect_ms, parse_ms = _median_ms(detect_once, lambda: dom.parse_html(html), runs)
    scores = score(candidates[0].items, label) if candidates else None
    best = candidates[0].rules.item if candidates else "-"
    if scores is None:
        print(
            f"{label.name:<30} {'no':>4} {'-':>6} {'-':>6} {'-':>6} {'-':>6} {'-':>9} "
            f"{detect_ms:7.1f}ms {parse_ms:5.1f}ms {detect_ms / parse_ms:5.1f}  (none)"
        )
        return None, detect_ms, parse_ms
    dates = "n/a"
    if scores.dates_printed:
        dates = f"{scores.dates_right}/{scores.dates_printed}"
    elif scores.url_dates:
        dates = f"url {scores.url_dates_right}/{scores.url_dates}"
    print(f"{label.name:<30} {'yes' if scores.correct else 'no':>4} {scores.link_precision:6.2f} "
          f"{scores.link_recall:6.2f} {scores.title_precision:6.2f} {scores.title_recall:6.2f} "
          f"{dates:>9} {detect_ms:7.1f}ms {parse_ms:5.1f}ms {detect_ms / parse_ms:5.1f}  "
          f"{best[:60]}")  # fmt: skip
    return scores, detect_ms, parse_ms


def _summary(labels: list[Label], rows: list[tuple[Scores | None, float, float]]) -> None:
    for kind in ("government-portal", "news-home"):
        picked = [row for label, row in zip(labels, rows, strict=True) if label.kind == kind]
        scored = [s for s, _, _ in picked if s is not None]
        correct = sum(1 for s in scored if s.correct)
        right = sum(s.dates_right for s in scored)
        printed = sum(s.dates_printed for s in scored)
        line = (f"{kind}: top-1 correct {correct}/{len(picked)}; "
                f"mean P/R links {_mean([s.link_precision for s in scored]):.2f}/"
                f"{_mean([s.link_recall for s in scored]):.2f}, titles "
                f"{_mean([s.title_precision for s in scored]):.2f}/"
                f"{_mean([s.title_recall for s in scored]):.2f}")  # fmt: skip
        if printed:
            line += f"; printed dates right {right}/{printed} ({right / printed:.0%})"
        print(line)
    scored_all = [s for s, _, _ in rows if s is not None]
    ratios = [d / p for _, d, p in rows]
    print(f"overall: top-1 correct {sum(1 for s in scored_all if s.correct)}/{len(rows)}; "
          f"detector {sum(d for _, d, _ in rows):.1f} ms for {len(rows)} pages vs parse "
          f"{sum(p for _, _, p in rows):.1f} ms; ratio median {statistics.median(ratios):.1f}, "
          f"max {max(ratios):.1f}")  # fmt: skip


def _median_ms(
    work: Callable[[], object], baseline: Callable[[], object], runs: int
) -> tuple[float, float]:
    """Median ms of `work` and of `baseline`, interleaved so both see the same machine load."""
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for task, sink in ((work, times[0]), (baseline, times[1])):
            started = time.perf_counter()
            task()
            sink.append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


if __name__ == "__main__":
    sys.exit(main())
