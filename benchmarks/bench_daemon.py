"""Polling 1,000 feeds: one full cycle of first polls (20 new items each), one all-304, one
all-changed (20 new items each), each as the scheduler runs them (Daemon.poll_if_due, all at once,
bounded by the daemon's own limit and the fetcher's one-request-per-host rule).

    .venv/bin/python benchmarks/bench_daemon.py [--feeds 1000] [--hosts 1[,50]]

The fake site (tests/fakes/site.py) serves one listing per feed from a child process, so its CPU
and GIL are not the daemon's; with H hosts, feeds are spread over 127.0.0.1..H (one site bound to
all of them). min_host_gap is 0 and robots.txt is off; everything else is the daemon's (SQLite
file, feed files written to public/). Figures: wall time, CPU seconds of this process, peak RSS,
and the ratios 304-cycle / changed-cycle. Baseline: the same conditional GETs made by a bare
httpx client with the same concurrency (the floor of a 304 cycle).
Feed requests/s served from cache and 304s/s are in bench_publish.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402

from bot.app import MAX_CONCURRENT_POLLS, Daemon  # noqa: E402
from bot.config import Config, FetchConfig, ServerConfig, load_recipes  # noqa: E402
from bot.model import Recipe  # noqa: E402

ITEMS_PER_FEED = 20
STEP = timedelta(minutes=16)  # the recipe's interval is 15 minutes
NEW_PER_CHANGE = 5  # a changed listing: 5 new items on top, 15 known (20 new would look like
# a redesign to the pipeline, which then alerts and announces nothing)
RECIPE = (ROOT / "feeds" / "haiphong.toml").read_text(encoding="utf-8").split("\n[article]")[0]


# --- the site (child process) ------------------------------------------------------------------


def listing(feed: int, generation: int) -> str:
    """A listing in the Hải Phòng CMS markup (what feeds/haiphong.toml reads), 20 items."""
    rows = []
    newest = generation * NEW_PER_CHANGE + ITEMS_PER_FEED
    for k in range(ITEMS_PER_FEED):
        number = newest - k  # newest first
        aid = 100000 + number * 10000 + feed
        day = 1 + number % 28
        rows.append(
            f'<li class="row"><div class="col-lg-2"><img class="image" src="/img/{aid}.jpg">'
            f'</div><div class="col-lg-10"><h2 class="Title"><a href="/tin/bai-viet-{aid}">'
            f"Nguồn {feed}: Quận Hải An khởi công dự án số {aid}</a></h2>"
            f'<div class="Ngaydang">{day:02d}/11/2024 08:{k:02d}</div>'
            f"<p>Sáng {day}/11, UBND thành phố Hải Phòng tổ chức hội nghị số {aid}.</p></div></li>"
        )
    return ('<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Tin tức</title>'
            '</head><body><div class="UIArticleInMenu_Default"><ul class="ArticleList">'
            f"{''.join(rows)}</ul></div></body></html>")


def serve_child(feeds: int, hosts: int) -> None:
    """Child: serve /feed/N for every feed; 'next' on stdin publishes new listings everywhere."""
    from fakes.site import FakeSite

    site = FakeSite.start_in_thread("0.0.0.0" if hosts > 1 else "127.0.0.1")
    generation = 0
    for n in range(feeds):
        site.set_page(f"/feed/{n}", listing(n, generation))
    print(json.dumps({"port": site.port}), flush=True)
    for line in sys.stdin:
        if line.strip() == "next":
            generation += 1
            for n in range(feeds):
                site.set_page(f"/feed/{n}", listing(n, generation))
        elif line.strip() == "stats":
            conditional = sum(1 for r in site.log if "if-none-match" in r.headers)
            print(json.dumps({"requests": len(site.log), "conditional": conditional}), flush=True)
            continue
        print("ok", flush=True)
    site.stop_thread()


class Child:
    def __init__(self, feeds: int, hosts: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--serve-child", str(feeds), str(hosts)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.port = int(json.loads(self._line())["port"])

    def _line(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the site process exited")
        return line

    def ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._line().strip()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        self.proc.wait(10)


# --- the daemon side ---------------------------------------------------------------------------


@dataclass
class Figures:
    wall: float
    cpu: float
    peak_rss_mb: float
    outcomes: Counter[str]


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def rss_now_mb() -> float:
    status = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return int(found.group(1)) / 1024 if found else float("nan")


class Clock:
    """The daemon's clock, moved one interval ahead per cycle so every feed is due (and no
    12-hourly unconditional refetch is)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def url_of(feed: int, port: int, hosts: int) -> str:
    return f"http://127.0.0.{1 + feed % hosts}:{port}/feed/{feed}"


def write_recipes(feeds_dir: Path, count: int, port: int, hosts: int) -> None:
    feeds_dir.mkdir()
    for n in range(count):
        text = re.sub(r'^url = ".*"', f'url = "{url_of(n, port, hosts)}"', RECIPE, count=1,
                      flags=re.M)
        text = re.sub(r'^title = ".*"', f'title = "Nguồn tin số {n}"', text, count=1, flags=re.M)
        (feeds_dir / f"feed-{n:04d}.toml").write_text(text, encoding="utf-8")


async def cycle(daemon: Daemon, recipes: list[Recipe], clock: Clock) -> Figures:
    clock.offset += STEP
    cpu0, started = cpu_seconds(), time.perf_counter()
    reports = await asyncio.gather(*(daemon.poll_if_due(recipe) for recipe in recipes))
    wall = time.perf_counter() - started
    outcomes: Counter[str] = Counter(r.outcome if r else "skipped" for r in reports)
    return Figures(wall, cpu_seconds() - cpu0, peak_rss_mb(), outcomes)


async def bare_conditional_gets(recipes: list[Recipe], daemon: Daemon) -> Figures:
    """Baseline: the 304 cycle's requests from a bare httpx client, same concurrency rules."""
    validators = {r.feed_id: daemon.store.health(r.feed_id).cache for r in recipes}
    slots = asyncio.Semaphore(MAX_CONCURRENT_POLLS)
    host_locks: dict[str, asyncio.Lock] = {}
    outcomes: Counter[str] = Counter()
    async with httpx.AsyncClient() as client:

        async def get(recipe: Recipe) -> None:
            url = recipe.urls[0]
            cache = validators[recipe.feed_id]
            headers = {"If-None-Match": cache.etag or "", "If-Modified-Since":
                       cache.last_modified or ""}
            async with slots, host_locks.setdefault(httpx.URL(url).host, asyncio.Lock()):
                response = await client.get(url, headers=headers)
            outcomes[str(response.status_code)] += 1

        cpu0, started = cpu_seconds(), time.perf_counter()
        await asyncio.gather(*(get(recipe) for recipe in recipes))
        return Figures(time.perf_counter() - started, cpu_seconds() - cpu0, peak_rss_mb(),
                       outcomes)


def row(name: str, figures: Figures, feeds: int) -> str:
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(figures.outcomes.items()))
    return (f"{name:<30} {figures.wall:8.2f} {figures.cpu:8.2f} {figures.peak_rss_mb:9.0f} "
            f"{feeds / figures.wall:9.0f} {1000 * figures.cpu / feeds:8.2f}  {outcomes}")


async def scenario(feeds: int, hosts: int) -> None:
    child = Child(feeds, hosts)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-daemon-") as tmp:
            base = Path(tmp)
            write_recipes(base / "feeds", feeds, child.port, hosts)
            loaded_at = time.perf_counter()
            recipes = load_recipes(base / "feeds")
            load_s = time.perf_counter() - loaded_at
            (base / "data").mkdir()
            config = Config(
                data_dir=base / "data", feeds_dir=base / "feeds",
                server=ServerConfig(enabled=False),
                fetch=FetchConfig(min_host_gap=timedelta(0), respect_robots=False),
            )
            clock = Clock()
            daemon = Daemon(config, recipes, clock=clock)
            print(f"\n{feeds} feeds on {hosts} host(s), {ITEMS_PER_FEED} items per listing; "
                  f"recipes loaded in {load_s:.2f} s; RSS before polling {rss_now_mb():.0f} MB")
            print(f"{'cycle':<30} {'wall s':>8} {'cpu s':>8} {'peak MB':>9} {'polls/s':>9} "
                  f"{'cpu ms/f':>8}  outcomes")
            try:
                first = await cycle(daemon, recipes, clock)
                print(row("first poll (20 new each)", first, feeds))
                unchanged = await cycle(daemon, recipes, clock)
                print(row("all 304", unchanged, feeds))
                child.ask("next")
                changed = await cycle(daemon, recipes, clock)
                print(row(f"all changed ({NEW_PER_CHANGE} new each)", changed, feeds))
                bare = await bare_conditional_gets(recipes, daemon)
                print(row("baseline: bare httpx 304s", bare, feeds))
                stats = json.loads(child.ask("stats"))
                print(f"site saw {stats['requests']} requests "
                      f"({stats['conditional']} conditional); "
                      f"{daemon.store.item_count()} items stored")
                print(f"ratio all-304 / all-changed: wall {unchanged.wall / changed.wall:.2f}x, "
                      f"cpu {unchanged.cpu / changed.cpu:.2f}x; "
                      f"all-304 / bare 304s: wall {unchanged.wall / bare.wall:.2f}x, "
                      f"cpu {unchanged.cpu / max(bare.cpu, 1e-9):.2f}x")
            finally:
                await daemon.fetcher.aclose()
                daemon.store.close()
    finally:
        child.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--hosts", default="1", help="comma-separated host counts, e.g. 1,50")
    parser.add_argument("--serve-child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_child:
        serve_child(*args.serve_child)
        return 0
    counts = [int(h) for h in args.hosts.split(",")]
    if len(counts) == 1:
        logging.basicConfig(level=logging.ERROR)  # not 1,000 "poll failed"/alert lines
        asyncio.run(scenario(args.feeds, counts[0]))
        return 0
    # One process per scenario, so that each peak RSS is its own.
    for hosts in counts:
        command = [sys.executable, __file__, "--feeds", str(args.feeds), "--hosts", str(hosts)]
        if subprocess.run(command, check=False).returncode != 0:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
