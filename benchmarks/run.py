"""Run every benchmark (benchmarks/bench_*.py), each in its own process so peak RSS is its own,
then print issue 13's table: each figure measured in this run, its goal, and their ratio.

Each script prints its figures next to a baseline measured in the same run, and the ratio:
ratios compare across machines, raw milliseconds do not. Usage: `make bench` or
`python benchmarks/run.py [--quick] [NAME ...]` (e.g. `scrape store`). `--quick` makes every
script smaller and shorter (for development; the figures are noisier).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ROWS_ENV, Row, load_average, read_rows

HERE = Path(__file__).resolve().parent
# The rows of issue 13's table, in its order, and the script that measures each.
TABLE = {
    "1": "poll", "2": "scrape", "3a": "poll", "3b": "poll", "3c": "run", "3d": "run",
    "4": "run", "5a": "poll", "5b": "poll", "6a": "fanout", "6b": "run",
}  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller, shorter runs")
    parser.add_argument("names", nargs="*", help="scripts to run, e.g. poll scrape")
    args = parser.parse_args(argv)
    scripts = sorted(HERE.glob("bench_*.py"))
    if args.names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in args.names]
    failures = 0
    started_at = time.strftime("%Y-%m-%d %H:%M")
    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-rows-") as tmp:
        rows_file = Path(tmp) / "rows.jsonl"
        env = {**os.environ, ROWS_ENV: str(rows_file)}
        if args.quick:
            env["NEWSBOT_BENCH_QUICK"] = "1"
        for script in scripts:
            print(f"\n=== {script.stem} " + "=" * (70 - len(script.stem)), flush=True)
            started = time.monotonic()
            result = subprocess.run([sys.executable, str(script)], check=False, env=env)
            took = time.monotonic() - started
            print(f"--- {script.stem}: {took:.1f} s, exit {result.returncode}")
            failures += result.returncode != 0
        rows = read_rows(rows_file)
    ran = {s.stem.removeprefix("bench_") for s in scripts}
    print_table(rows, ran, quick=args.quick,
                when=f"{started_at}; load {load_before} at start, {load_average()} at end")
    return 1 if failures else 0


def print_table(rows: list[Row], ran: set[str], *, quick: bool, when: str) -> None:
    """Issue 13's table with this run's figures: now, goal, now/goal, met or not."""
    print(f"\n=== issue 13: the hot path, this run ({'quick' if quick else 'full'}; {when})")
    print(f"{'row':<4} {'what':<78} {'now':>9} {'goal':>10} {'now/goal':>8}  verdict")
    by_key = {r.key: r for r in rows}
    for key, script in TABLE.items():
        found = by_key.pop(key, None)
        if found is None:
            why = "not run" if script not in ran else "no figure (the script failed?)"
            print(f"{key:<4} {'(bench_' + script + ': ' + why + ')':<78}")
            continue
        print_row(found)
    for extra in by_key.values():  # a row the table does not know yet
        print_row(extra)
    print("now/goal: ≤ 1 meets a time or CPU goal, ≥ 1 a rate goal; notes say what each "
          "figure includes")


def print_row(r: Row) -> None:
    sign = "≤" if r.better == "lower" else "≥"
    verdict = "met" if r.met else "NOT met"
    print(f"{r.key:<4} {r.what[:78]:<78} {r.now:>9.4g} {sign + ' ' + format(r.goal, 'g'):>10} "
          f"{r.ratio:>8.2f}  {verdict} ({r.unit}){'; ' + r.note if r.note else ''}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
