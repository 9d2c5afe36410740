"""Run every benchmark (benchmarks/bench_*.py), each in its own process so peak RSS is its own.

Each script prints its figures next to a baseline measured in the same run, and the ratio:
ratios compare across machines, raw milliseconds do not. Usage: `make bench` or
`python benchmarks/run.py [NAME ...]` (e.g. `scrape store`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(names: list[str]) -> int:
    scripts = sorted(HERE.glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    failures = 0
    for script in scripts:
        print(f"\n=== {script.stem} " + "=" * (70 - len(script.stem)), flush=True)
        started = time.monotonic()
        result = subprocess.run([sys.executable, str(script)], check=False)
        print(f"--- {script.stem}: {time.monotonic() - started:.1f} s, exit {result.returncode}")
        failures += result.returncode != 0
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
