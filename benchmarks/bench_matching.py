"""Per-item costs on the hot path of every poll: date parsing and keyword filtering.

Baselines measured in the same run: `datetime.strptime` of a bare `dd/mm/YYYY HH:MM` (what a parser
that knows one format costs), and a plain casefolded substring test (what matching without accent
folding or whole words costs). The target from the reliability plan (C11): ≤ 20 ms per item for
1,000 subscribers × 20 keywords.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.filters import matched_keyword
from bot.model import KeywordFilter
from bot.source.dates import parse_date

NOW = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)
DATES = [
    "28/11/2024", "28/11/2024 12:15", "Thời gian: 11/05/2022 12:15", "Thứ Bảy, 26/01/2019 19:26",
    "Sáng 28/11", "Chiều 11/1", "Ngày đăng 24/08/2022 | 04:30 PM | View count: 8",
    "2024-11-28T12:15:00+07:00", "Thu, 28 Nov 2024 05:15:00 +0000", "2 giờ trước",
    "Hải Phòng, ngày 08 tháng 12 năm 2019", "no date here at all",
]  # fmt: skip
TEXT = (
    "hải phòng an dương thủy nguyên kiến an đồ sơn lê chân ngô quyền hồng bàng dương kinh "
    "giao thông xây dựng đất đai giải phóng mặt bằng ngân sách thi đua khen thưởng cảng biển "
    "du lịch văn hóa giáo dục y tế nông nghiệp thủy lợi bão lũ mất điện công an"
)
WORDS = TEXT.split()


def median_us(work: Callable[[], object], runs: int = 30) -> float:
    work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


def filters(count: int, per_filter: int) -> list[KeywordFilter]:
    made = []
    for n in range(count):
        words = [WORDS[(n * 7 + k * 3) % len(WORDS)] for k in range(per_filter)]
        phrases = [f"{w} {n % 97}" if k % 4 == 0 else w for k, w in enumerate(words)]
        made.append(KeywordFilter(include=tuple(phrases[:-2]), exclude=tuple(phrases[-2:])))
    return made


def main() -> None:
    parse = median_us(lambda: [parse_date(text, NOW) for text in DATES]) / len(DATES)
    strptime = median_us(
        lambda: [datetime.strptime("28/11/2024 12:15", "%d/%m/%Y %H:%M") for _ in DATES]
    ) / len(DATES)
    print(f"parse_date, {len(DATES)} forms: {parse:.1f} µs per text; "
          f"strptime of one known format: {strptime:.1f} µs; ratio {parse / strptime:.1f}")

    subscribers = filters(1000, 20)
    items = [f"Tin số {i}: UBND thành phố Hải Phòng họp bàn " + " ".join(WORDS[i : i + 30])
             for i in range(20)]
    for kf in subscribers:  # warm the per-filter cache, as a running daemon has
        matched_keyword(kf, items[0])
    folded = median_us(
        lambda: [matched_keyword(kf, text) for text in items for kf in subscribers], runs=5
    ) / len(items)
    plain = median_us(
        lambda: [any(k in text.casefold() for k in kf.include)
                 for text in items for kf in subscribers], runs=5
    ) / len(items)
    print(f"filters, 1,000 subscribers x 20 keywords: {folded / 1000:.2f} ms per item "
          f"(target ≤ 20 ms); plain casefold substring: {plain / 1000:.2f} ms; "
          f"ratio {folded / plain:.1f}")


if __name__ == "__main__":
    main()
