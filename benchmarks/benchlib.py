"""What the benchmark scripts share: paths, the real page and its variants, CPU readings, and the
rows of issue 13's table that `run.py` prints at the end ("now", "goal", their ratio).

Not a benchmark itself (run.py runs `bench_*.py` only). Environment, set by run.py:
- NEWSBOT_BENCH_QUICK=1: smaller, shorter runs for development (the figures are noisier);
- NEWSBOT_BENCH_ROWS=FILE: where `row()` appends one JSON line per figure of the table.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
for _path in (str(TESTS), str(ROOT)):
    if _path not in sys.path:
        sys.path.insert(0, _path)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"  # loopback only
os.environ.setdefault("PTB_TIMEDELTA", "1")

from fakes.realpages import realpage  # noqa: E402 (needs tests/ on sys.path)

# The real 20-item gov.vn listing (77.8 KB) that benchmarks/peers-baseline.md measured RSS-Bridge
# and morss on (tests/fixtures/realpages/SOURCES.md says where it comes from).
REAL_PAGE = realpage("sotttt-tin-tuc-su-kien.html")
REAL_ITEMS = realpage("sotttt-tin-tuc-su-kien.items.json")
QUICK = os.environ.get("NEWSBOT_BENCH_QUICK") == "1"
ROWS_ENV = "NEWSBOT_BENCH_ROWS"

# The recipe given to the peers (peers-baseline.md), with the page's own time zone.
REAL_RECIPE_TOML = """title = "{title}"
url = "{url}"
timezone = "Asia/Ho_Chi_Minh"
{extra}
[list]
item = "div.asset-abstract"
title = "h3.asset-title > a"
date = "div.assetPublishDate.block_timer"
summary = "div.asset-summary"
"""

FIRST_ID = b"4430301-"  # the first item's article id, in both of its links
FIRST_TITLE = "Thông báo danh sách đủ và không đủ tiêu chuẩn".encode()


def with_new_first_item(body: bytes, n: int) -> bytes:
    """The page with its first item replaced by article n: a new link and title, 20 items."""
    return body.replace(FIRST_ID, b"%d-" % (9_000_000 + n)).replace(
        FIRST_TITLE, FIRST_TITLE + b" (%d)" % n
    )


def with_comment(body: bytes, n: int) -> bytes:
    """Other bytes, same items: what a page with a visitor counter or a CSRF token looks like."""
    return body.replace(b"</body>", b"<!-- poll %d --></body>" % n)


# --- CPU ---------------------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """user + system CPU seconds of a running process, from /proc/PID/stat (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (fields 14, 15)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


# --- rows of the table -------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One figure of issue 13's table: what was measured now, next to its goal."""

    key: str  # orders the table: "1a", "1b", ...
    what: str
    now: float
    goal: float
    unit: str
    better: Literal["lower", "higher"] = "lower"
    note: str = ""
    holds: bool = True  # a side condition of the goal (e.g. "0 × 429") held


    @property
    def ratio(self) -> float:
        """now / goal: at most 1 meets a "lower" goal, at least 1 a "higher" one."""
        return self.now / self.goal if self.goal else float("inf")

    @property
    def met(self) -> bool:
        within = self.now <= self.goal if self.better == "lower" else self.now >= self.goal
        return within and self.holds

    def line(self) -> str:
        sign = "≤" if self.better == "lower" else "≥"
        verdict = "met" if self.met else "NOT met"
        return (f"{self.what}: {self.now:.4g} {self.unit} (goal {sign} {self.goal:g} {self.unit}; "
                f"now/goal {self.ratio:.2f}, {verdict})" + (f" — {self.note}" if self.note else ""))


def row(key: str, what: str, now: float, goal: float, unit: str, *,
        better: Literal["lower", "higher"] = "lower", note: str = "",
        holds: bool = True) -> Row:  # fmt: skip
    """Print one figure of the table and hand it to run.py (NEWSBOT_BENCH_ROWS)."""
    found = Row(key, what, now, goal, unit, better, note, holds)
    print(f"  table row {key}: {found.line()}", flush=True)
    path = os.environ.get(ROWS_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as rows:
            rows.write(json.dumps(asdict(found), ensure_ascii=False) + "\n")
    return found


def read_rows(path: Path) -> list[Row]:
    if not path.exists():
        return []
    lines = path.read_text("utf-8").splitlines()
    return [Row(**json.loads(line)) for line in lines if line.strip()]
