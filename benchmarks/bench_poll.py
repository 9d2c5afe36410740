"""One poll of the real listing page, end to end, next to the floors and peers it has to beat.

    .venv/bin/python benchmarks/bench_poll.py [--runs N] [--cold-runs N]

Page: tests/fixtures/realpages/sotttt-tin-tuc-su-kien.html (77.8 KB, 20 items; the page
peers-baseline.md measured the peers on) served by tests/fakes/site.py's FakeSite on 127.0.0.1 in
a child process (benchmarks/site_child.py), so that the CPU this process uses is newsbot's and
the client's, not the server's. The recipe is the one peers-baseline.md gave RSS-Bridge and morss,
with timezone Asia/Ho_Chi_Minh.

1. Correctness, read back with feedparser from the RSS and Atom files newsbot writes, judged as the
   peers were: item right = title and link; date right = a zoned timestamp at the printed instant.
2. Warm per-poll wall and CPU time of `pipeline.poll_source` (real Fetcher with min_host_gap=0
   and no robots, real Store on a tmp file, feed files in a tmp dir), median of N, for: a new
   item on the page, a changed HTML comment only, 304 to If-None-Match, the same bytes as 200
   without validators.
3. Floors measured in the same rounds (interleaved): a bare httpx GET of the page (200 and 304),
   lxml.html parse + the 4 precompiled CSS selections, sha256 of the body; ratios against them and
   against RSS-Bridge's warm request (a constant from peers-baseline.md, another run).
   Whole process: `python -m bot --help` and `python -m bot check RECIPE --file PAGE` next to
   `python -c pass`.
4. Peak RSS of this process and of each child.
"""

from __future__ import annotations

import argparse
import asyncio
import email.utils
import hashlib
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin
from zoneinfo import ZoneInfo

import feedparser
import httpx
import lxml.html
from benchlib import (
    QUICK,
    REAL_ITEMS,
    REAL_PAGE,
    REAL_RECIPE_TOML,
    ROOT,
    load_average,
    row,
)
from lxml.cssselect import CSSSelector
from site_child import SiteChild

from bot.feedfiles import feed_meta, publish_all, publish_feed
from bot.model import Chat, ListRules, Pick, Recipe
from bot.pipeline import PollDeps, poll_source
from bot.publish.render import render_feeds
from bot.source.fetch import Fetcher, FetchPolicy
from bot.source.listing import read_listing
from bot.store.db import Store

PAGE = REAL_PAGE
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
SAVED_AT = datetime(2022, 8, 27, 4, 7, 44, tzinfo=UTC)  # HTTrack's stamp: polls happen "then"
PUBLIC_URL = "http://127.0.0.1:8080"
# Items per published feed: the page's 20, as in the peers' feeds (the default is 50). Without
# it the new-item case would render a feed that grows to 50 items while the others render 20.
FEED_ITEMS = 20
# From benchmarks/peers-baseline.md: another machine run, not measured here.
PEERS_MS = {
    "RSS-Bridge warm request (php -S, incl. loopback fetch)": 8.3,
    "RSS-Bridge Complex bridge warm request": 11.8,
    "floor lxml.html + cssselect (peers' run)": 1.68,
}
PEERS_PROCESS_MS = {"RSS-Bridge CLI": 38.0, "RSS-Bridge Complex CLI": 44.0, "lxml floor": 60.0,
                    "python3 -c pass": 10.0}  # fmt: skip
RULES = ListRules(
    item="div.asset-abstract",
    title=Pick("h3.asset-title > a"),
    date=Pick("div.assetPublishDate.block_timer"),
    summary=Pick("div.asset-summary"),
)
# Goals of issue 13 (ms of CPU per warm poll; ms of wall per whole process).
GOAL_CHANGED_CPU = 8.0
GOAL_UNCHANGED_CPU = 1.0
GOAL_CHECK_MS = 150.0
GOAL_HELP_MS = 100.0


# --- the page and what it should give --------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    title: str
    link: str
    at: datetime


def expected_items(page_url: str) -> list[Expected]:
    listing = json.loads(REAL_ITEMS.read_text("utf-8"))
    return [
        Expected(
            title=collapse(row["title"]),
            link=urljoin(page_url, row["href_in_file"]),
            at=datetime.strptime(f"{row['date']} {row['time']}", "%d/%m/%Y %I:%M %p")
            .replace(tzinfo=TZ),
        )
        for row in listing["items"]
    ]


def collapse(text: str) -> str:
    return " ".join(text.split())


# --- correctness ---------------------------------------------------------------------------------


def judge_feed(path: Path, expected: list[Expected], date_key: str) -> tuple[str, int, int]:
    """Items right, dates right and one summary line for one feed file, read with feedparser."""
    parsed = feedparser.parse(path.read_bytes())
    entries = {entry.get("link"): entry for entry in parsed.entries}
    items_ok = dates_ok = local = 0
    for want in expected:
        entry = entries.get(want.link)
        if entry is None or collapse(entry.get("title", "")) != want.title:
            continue
        items_ok += 1
        at = feed_time(entry.get(date_key, ""))
        if at is not None and at == want.at:
            dates_ok += 1
            local += at.utcoffset() == want.at.utcoffset()
    sample = parsed.entries[0].get(date_key, "-") if parsed.entries else "-"
    line = (f"{path.name:<14} {len(parsed.entries):>7} {items_ok:>5}/20 {dates_ok:>5}/20 "
            f"{local:>8}/20  {'no' if not parsed.bozo else 'YES'}    {sample}")  # fmt: skip
    return line, items_ok, dates_ok


def feed_time(text: str) -> datetime | None:
    """A feed timestamp (RFC 822 or RFC 3339); None when absent, unreadable or without a zone."""
    if not text:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        try:
            at = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
    return at if at.tzinfo is not None else None


# --- the floor: lxml.html + precompiled CSS, as in the peers' "Floor" row -----------------------

FLOOR_ITEM = CSSSelector("div.asset-abstract")
FLOOR_TITLE = CSSSelector("h3.asset-title > a")
FLOOR_DATE = CSSSelector("div.assetPublishDate.block_timer")
FLOOR_SUMMARY = CSSSelector("div.asset-summary")
FLOOR_DATE_TEXT = re.compile(r"(\d{2})/(\d{2})/(\d{4}) \| (\d{2}):(\d{2}) ([AP]M)")


def floor_scrape(body: bytes, url: str) -> list[tuple[str, str, datetime | None, str]]:
    """Title, link, date and summary of each item: parse, 4 selections, urljoin, regex+zoneinfo."""
    found = []
    for element in FLOOR_ITEM(lxml.html.fromstring(body)):
        anchor = FLOOR_TITLE(element)[0]
        match = FLOOR_DATE_TEXT.search(FLOOR_DATE(element)[0].text_content())
        at = None
        if match:
            day, month, year, hour, minute, half = match.groups()
            hour24 = int(hour) % 12 + (12 if half == "PM" else 0)
            at = datetime(int(year), int(month), int(day), hour24, int(minute), tzinfo=TZ)
        summary = collapse(FLOOR_SUMMARY(element)[0].text_content())
        found.append((collapse(anchor.text_content()), urljoin(url, anchor.get("href")), at,
                      summary))
    return found


# --- warm polls ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One way the page can look at the next poll; its own path, store and feed files."""

    label: str
    recipe: Recipe
    deps: PollDeps
    times: list[float] = field(default_factory=list)  # wall ms per poll
    cpu: list[float] = field(default_factory=list)  # CPU ms per poll (this process, all threads)
    outcomes: Counter[str] = field(default_factory=Counter)


def make_case(site: SiteChild, tmp: Path, fetcher: Fetcher, key: str, label: str,
              mode: str) -> Case:  # fmt: skip
    path = f"/{key}/vi/tin-tuc-su-kien"
    recipe = Recipe(feed_id=key, title=f"Sở TT&TT Hà Nội ({label})", urls=(site.url_for(path),),
                    rules=RULES, timezone="Asia/Ho_Chi_Minh", max_items=FEED_ITEMS)  # fmt: skip
    store = Store.open(tmp / f"{key}.db")
    store.upsert_chat(Chat(1))  # one subscriber, so a new item is routed and queued
    store.subscribe(1, key)
    # As in the daemon, a poll leaves the `all` feed to the next tick (see the breakdown).
    deps = PollDeps(store=store, fetcher=fetcher, public_dir=tmp / key, public_url=PUBLIC_URL,
                    feeds={key: recipe}, defer_all=True)  # fmt: skip
    site.serve(path, mode)
    return Case(label, recipe, deps)


def cases_for(site: SiteChild, tmp: Path, fetcher: Fetcher) -> list[Case]:
    """The site child changes the rolling pages itself, before answering each request."""
    return [
        make_case(site, tmp, fetcher, "newitem", "(a) changed: a new item", "newitem"),
        make_case(site, tmp, fetcher, "comment", "(a') changed: comment only", "comment"),
        make_case(site, tmp, fetcher, "notmod", "(b) unchanged: 304", "static"),
        make_case(site, tmp, fetcher, "samebytes", "(c) unchanged: same bytes 200", "plain"),
    ]


@dataclass
class Floor:
    work: Callable[[], Awaitable[Any]]
    times: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


async def timed(work: Callable[[], Awaitable[Any]], wall: list[float], cpu: list[float]) -> Any:
    cpu0, started = time.process_time(), time.perf_counter()
    result = await work()
    wall.append((time.perf_counter() - started) * 1000)
    cpu.append((time.process_time() - cpu0) * 1000)
    return result


async def run_rounds(cases: list[Case], floors: dict[str, Floor], runs: int, warmup: int) -> None:
    """Polls of every case and every floor, round-robin so all see the same machine load."""
    for n in range(warmup + runs):
        for case in cases:
            now = SAVED_AT + timedelta(minutes=n + 1)
            keep = n >= warmup
            report = await timed(lambda case=case, now=now: poll_source(case.recipe, case.deps,
                                                                        now),
                                 case.times if keep else [], case.cpu if keep else [])  # fmt: skip
            if keep:
                case.outcomes[report.outcome] += 1
            if report.outcome == "failed":
                raise SystemExit(f"{case.label}: poll failed: {report.error}")
        for floor in floors.values():
            await timed(floor.work, floor.times if n >= warmup else [],
                        floor.cpu if n >= warmup else [])  # fmt: skip


def print_polls(cases: list[Case], floors: dict[str, Floor], runs: int) -> None:
    med = {name: statistics.median(floor.times) for name, floor in floors.items()}
    med_cpu = {name: statistics.median(floor.cpu) for name, floor in floors.items()}
    get200, get304, scrape = med["GET 200"], med["GET 304"], med["lxml floor"]
    page_floor = get200 + scrape
    print(f"\n2-3. warm process, median of {runs} polls each, interleaved: wall ms, and CPU ms "
          "of this process (the site runs in a child)")
    print("floors measured here, same rounds:                          wall ms   CPU ms")
    for name in floors:
        print(f"  {FLOOR_LABELS[name]:<58} {med[name]:7.2f} {med_cpu[name]:7.2f}")
    print(f"  {'floor of a changed poll = GET 200 + lxml floor':<58} {page_floor:7.2f} "
          f"{med_cpu['GET 200'] + med_cpu['lxml floor']:7.2f}")
    rsb = PEERS_MS["RSS-Bridge warm request (php -S, incl. loopback fetch)"]
    print(f"\n{'newsbot pipeline.poll_source':<32} {'median':>7} {'p90':>7} {'CPU':>7} "
          f"{'floor':>6} {'x floor':>8} {'x RSS-Br':>8}  outcomes")  # fmt: skip
    floors_of = {"newitem": page_floor, "comment": page_floor, "notmod": get304,
                 "samebytes": page_floor}  # fmt: skip
    for case in cases:
        median = statistics.median(case.times)
        p90 = statistics.quantiles(case.times, n=10)[-1]
        floor = floors_of[case.recipe.feed_id]
        outcomes = ", ".join(f"{k}×{v}" for k, v in sorted(case.outcomes.items()))
        print(f"{case.label:<32} {median:7.2f} {p90:7.2f} {statistics.median(case.cpu):7.2f} "
              f"{floor:6.2f} {median / floor:7.2f}x {median / rsb:7.2f}x  {outcomes}")  # fmt: skip
    print("floor column: (a),(a'),(c) = GET 200 + lxml floor; (b) = GET 304 (wall)")
    print("x RSS-Br: newsbot median / RSS-Bridge 8.3 ms (a constant from peers-baseline.md, "
          "other run; < 1 is faster)")
    for name, value in PEERS_MS.items():
        print(f"  from peers-baseline.md, other run: {name:<54} {value:6.2f} ms")
    by_key = {case.recipe.feed_id: statistics.median(case.times) for case in cases}
    peers_floor = PEERS_MS["floor lxml.html + cssselect (peers' run)"]
    print(f"in units of each run's own lxml floor: newsbot (a) {by_key['newitem'] / scrape:.1f}x, "
          f"(a') {by_key['comment'] / scrape:.1f}x here; RSS-Bridge {rsb / peers_floor:.1f}x, "
          f"Complex {PEERS_MS['RSS-Bridge Complex bridge warm request'] / peers_floor:.1f}x there "
          "(both floors: parse, 4 precompiled selections, urljoin, regex date)")
    print(f"same bytes / changed (new item): {by_key['samebytes'] / by_key['newitem']:.2f}; "
          f"same bytes / changed (comment): {by_key['samebytes'] / by_key['comment']:.2f}; "
          f"304 / same bytes: {by_key['notmod'] / by_key['samebytes']:.2f}")  # fmt: skip


def report_rows(cases: list[Case], floors: dict[str, Floor], all_ms: float) -> None:
    """Rows 1 and 3 of issue 13's table."""
    med_cpu = {name: statistics.median(floor.cpu) for name, floor in floors.items()}
    by_key = {case.recipe.feed_id: statistics.median(case.times) for case in cases}
    cpu = {case.recipe.feed_id: statistics.median(case.cpu) for case in cases}
    row("1", "changed poll, one new item, end to end (bench_poll a), CPU", cpu["newitem"],
        GOAL_CHANGED_CPU, "ms", note=f"wall {by_key['newitem']:.1f} ms; + {all_ms:.1f} ms CPU "
        "for the `all` feed, written once per 5 s tick for all feeds changed in it; bare GET "
        f"200 + lxml floor {med_cpu['GET 200'] + med_cpu['lxml floor']:.1f} ms CPU")
    row("3a", "unchanged poll, 304 (bench_poll b), CPU", cpu["notmod"], GOAL_UNCHANGED_CPU, "ms",
        note=f"bare httpx GET 304: {med_cpu['GET 304']:.2f} ms CPU")
    row("3b", "unchanged poll, same bytes 200 (bench_poll c), CPU", cpu["samebytes"],
        GOAL_UNCHANGED_CPU, "ms", note=f"bare httpx GET 200: {med_cpu['GET 200']:.2f} ms CPU")


FLOOR_LABELS = {
    "GET 200": "bare httpx GET, 200 with the 77.8 KB body (keep-alive)",
    "GET 304": "bare httpx GET with If-None-Match, 304",
    "lxml floor": "lxml.html parse + 4 precompiled CSS selections + dates",
    "lxml parse": "lxml.html parse alone",
    "sha256": "sha256 of the body (what a same-bytes skip would cost)",
}


async def stage_breakdown(case: Case, runs: int) -> float:
    """Where a full poll of this case spends its time: the pipeline's steps, timed one by one."""
    recipe, deps = case.recipe, case.deps
    steps = ("fetch", "read_listing", "store", "render", "publish_feed", "all")
    sinks: dict[str, list[float]] = {name: [] for name in steps}
    for n in range(runs + 2):
        now = SAVED_AT + timedelta(days=1, minutes=n)
        marks = [time.process_time()]
        page = await deps.fetcher.fetch(recipe.urls[0])
        marks.append(time.process_time())
        listing = read_listing([page], recipe, now, memo=deps.item_memo)  # as a poll reads
        marks.append(time.process_time())
        known = deps.store.known_ids(recipe.feed_id, [item.item_id for item in listing.items])
        deps.store.add_items(recipe.feed_id, listing.items, now)
        marks.append(time.process_time())
        render_feeds(feed_meta(recipe), deps.store.items(recipe.feed_id, limit=recipe.max_items),
                     PUBLIC_URL)  # fmt: skip
        marks.append(time.process_time())
        publish_feed(recipe, deps)  # renders again, compares, writes what changed
        marks.append(time.process_time())
        publish_all(deps, force=True)  # the daemon's tick: once for every feed changed in it
        marks.append(time.process_time())
        if n >= 2:  # 2 warm-up rounds
            for name, start, end in zip(steps, marks[:-1], marks[1:], strict=True):
                sinks[name].append((end - start) * 1000)
        assert len(listing.items) == 20 and len(known) >= 19, (len(listing.items), len(known))
    medians = {name: statistics.median(times) for name, times in sinks.items()}
    write = medians["publish_feed"] - medians["render"]
    print(f"{case.label:<32} " + " ".join(f"{medians[name]:>8.2f}" for name in steps[:5])
          + f" {write:>8.2f} {medians['all']:>8.2f}")  # fmt: skip
    return medians["all"]


async def print_breakdown(cases: list[Case], runs: int) -> float:
    """The steps' medians per case; returns the `all` feed's write in the first case."""
    print(f"\nby step (median of {runs}, CPU ms of this process): fetch = Fetcher.fetch, "
          "listing = read_listing\n(decode, parse, select, dates, ids), store = known_ids + "
          "add_items, render = RSS, Atom and JSON\nof the feed (`render_feeds`), publish = "
          "publish_feed (render again, compare with the files,\nwrite the changed ones), "
          "pub-rend = publish - render (compare + write; noise can make it < 0),\nall = "
          "the `all` feed's files (`publish_all`), which the daemon writes once per 5 s tick "
          "for\nevery feed that changed in it (here: the only feed)")
    print(f"{'':<32} {'fetch':>8} {'listing':>8} {'store':>8} {'render':>8} {'publish':>8} "
          f"{'pub-rend':>8} {'all':>8}")  # fmt: skip
    all_ms = [await stage_breakdown(case, runs) for case in cases]
    return all_ms[0]


# --- whole process -------------------------------------------------------------------------------


GNU_TIME = Path("/usr/bin/time")


def run_child(argv: list[str], cwd: Path) -> tuple[float, float, float, str]:
    """Wall ms, CPU ms (user+sys) and peak RSS MiB of one child process, and its stdout."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path, err_path, peak_path = (Path(tmp) / name for name in ("out", "err", "peak"))
        # Our own wait4 would report this process's RSS as the child's peak (vfork+exec keeps the
        # parent's high-water mark); GNU time forks from a 2 MB process, so its %M is the child's.
        wrapper = [str(GNU_TIME), "-f", "%M", "-o", str(peak_path)] if GNU_TIME.exists() else []
        with out_path.open("wb") as out, err_path.open("wb") as err:
            started = time.perf_counter()
            child = subprocess.Popen([*wrapper, *argv], cwd=cwd, stdout=out, stderr=err)
            _, status, usage = os.wait4(child.pid, 0)  # CPU of the child and what it waited for
            wall = (time.perf_counter() - started) * 1000
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({child.returncode}): "
                             f"{err_path.read_text('utf-8', 'replace')[-500:]}")  # fmt: skip
        cpu = (usage.ru_utime + usage.ru_stime) * 1000
        peak = int(peak_path.read_text().split()[-1]) / 1024 if wrapper else float("nan")
        return wall, cpu, peak, out_path.read_text("utf-8", "replace")


def cold_process(tmp: Path, site_url: str, runs: int) -> None:
    recipe = tmp / "sotttt.toml"
    recipe.write_text(REAL_RECIPE_TOML.format(title="Sở TT&TT Hà Nội – Tin tức sự kiện",
                                              url=site_url, extra=""), "utf-8")
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python -c 'import bot.cli'": [sys.executable, "-c", "import bot.cli"],
        "python -m bot --help": [sys.executable, "-m", "bot", "--help"],
        "python -m bot check RECIPE --file PAGE": [
            sys.executable, "-m", "bot", "check", str(recipe), "--file", str(PAGE)],
    }  # fmt: skip
    results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
    out = ""
    for n in range(runs + 1):  # 1 warm-up (OS cache), then round-robin
        for name, argv in commands.items():
            wall, cpu, peak, text = run_child(argv, ROOT)
            if n:
                results[name].append((wall, cpu, peak))
            out = text if "check" in name else out
    found = re.search(r"(\d+) items found", out)
    base = statistics.median(r[0] for r in results["python -c pass"])
    base_cpu = statistics.median(r[1] for r in results["python -c pass"])
    print(f"\nwhole process, median of {runs} (1 warm-up), round-robin; check found "
          f"{found.group(1) if found else '?'} items; peak = max over runs (GNU time %M)")
    print(f"{'command':<42} {'wall ms':>8} {'CPU ms':>7} {'peak MiB':>9} {'wall x pass':>12} "
          f"{'CPU x pass':>11}")  # fmt: skip
    for name, rows in results.items():
        wall = statistics.median(r[0] for r in rows)
        cpu = statistics.median(r[1] for r in rows)
        peak = max(r[2] for r in rows)
        print(f"{name:<42} {wall:8.1f} {cpu:7.1f} {peak:9.1f} {wall / base:11.1f}x "
              f"{cpu / base_cpu:10.1f}x")  # fmt: skip
    check = statistics.median(r[0] for r in results["python -m bot check RECIPE --file PAGE"])
    print("from peers-baseline.md, other run (wall ms): " + ", ".join(
        f"{name} {ms:g}" for name, ms in PEERS_PROCESS_MS.items()))  # fmt: skip
    pass_ms = PEERS_PROCESS_MS["python3 -c pass"]
    print(f"check minus python start-up: {check - base:.1f} ms here; check / RSS-Bridge CLI 38 ms "
          f"(other run): {check / 38.0:.2f}x; in units of each run's `python -c pass`: check "
          f"{check / base:.1f}x here, RSS-Bridge CLI {38.0 / pass_ms:.1f}x and lxml floor "
          f"{60.0 / pass_ms:.1f}x there")  # fmt: skip
    print_imports()
    help_ms = statistics.median(r[0] for r in results["python -m bot --help"])
    help_cpu = statistics.median(r[1] for r in results["python -m bot --help"])
    check_cpu = statistics.median(r[1] for r in results["python -m bot check RECIPE --file PAGE"])
    row("5a", "`newsbot --help` as a process, wall", help_ms, GOAL_HELP_MS, "ms",
        note=f"CPU {help_cpu:.0f} ms; `python -c pass` {base:.0f} ms wall, {base_cpu:.0f} CPU")
    row("5b", "`newsbot check RECIPE --file PAGE` as a process, wall", check, GOAL_CHECK_MS, "ms",
        note=f"CPU {check_cpu:.0f} ms; `python -c pass` {base:.0f} ms wall, {base_cpu:.0f} CPU")


def print_imports() -> None:
    """Cumulative import time of each bot module under `import bot.cli` (python -X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import bot.cli"], cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    rows = []
    for line in done.stderr.splitlines():
        parts = [part.strip() for part in line.removeprefix("import time:").split("|")]
        if len(parts) == 3 and parts[2].startswith("bot") and parts[1].isdigit():
            rows.append((int(parts[1]) / 1000, int(parts[0]) / 1000, parts[2]))
    rows.sort(reverse=True)
    print("import bot.cli, one run of -X importtime, cumulative ms (own ms) per bot module: "
          + ", ".join(f"{name} {cum:.0f} ({own:.0f})" for cum, own, name in rows[:10]))


# --- main ----------------------------------------------------------------------------------------


async def bench(runs: int, cold_runs: int) -> None:
    body = PAGE.read_bytes()
    print(f"load average at start: {load_average()} (a busy machine slows every figure; "
          "the ratios, measured in the same rounds, move less)\n")
    with tempfile.TemporaryDirectory(prefix="bench-poll-") as tmp_name:
        tmp = Path(tmp_name)
        with SiteChild(PAGE) as site:
            policy = FetchPolicy(min_host_gap=0, respect_robots=False)
            fetcher = Fetcher(policy)
            client = httpx.AsyncClient()
            try:
                cases = cases_for(site, tmp, fetcher)
                await seed(cases)  # the first poll stores silently and writes the feeds
                judge(cases[2])
                floors = await floor_work(client, cases[2], cases[3], body)
                await run_rounds(cases, floors, runs, warmup=3)
                print_polls(cases, floors, runs)
                all_ms = await print_breakdown([cases[0], cases[3]], runs)
                report_rows(cases, floors, all_ms)
            finally:
                await client.aclose()
                await fetcher.aclose()
                for case in cases:
                    case.deps.store.close()
        print(f"\npeak RSS of this process (warm polls, feedparser, httpx client): "
              f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
        if cold_runs > 0:
            cold_process(tmp, site.url_for("/vi/tin-tuc-su-kien"), cold_runs)
    print(f"\nload average at end: {load_average()}")


async def seed(cases: list[Case]) -> None:
    for case in cases:
        report = await poll_source(case.recipe, case.deps, SAVED_AT)
        if report.outcome == "failed" or len(report.new_items) != 20:
            raise SystemExit(f"{case.label}: seeding poll gave {report}")


def judge(case: Case) -> None:
    expected = expected_items(case.recipe.urls[0])
    assert case.deps.public_dir is not None
    feeds = case.deps.public_dir / "feeds"
    print(f"1. correctness: {PAGE.relative_to(ROOT)} served at {case.recipe.urls[0]}, "
          f"read back from newsbot's feed files with feedparser {feedparser.__version__}")
    print(f"{'file':<14} {'entries':>7} {'items':>8} {'dates':>8} {'at +07:00':>11}  bozo  "
          f"first entry's date as written")  # fmt: skip
    scores = [judge_feed(feeds / f"{case.recipe.feed_id}.{ext}", expected, key)
              for ext, key in (("xml", "published"), ("atom", "published"))]  # fmt: skip
    for line, _, _ in scores:
        print(line)
    met = all(items == dates == 20 for _, items, dates in scores)
    print(f"goal 20/20 items and 20/20 zoned dates in both feeds: {'met' if met else 'NOT met'}")
    floor = floor_scrape(PAGE.read_bytes(), case.recipe.urls[0])
    floor_ok = sum(
        1 for want, got in zip(expected, floor, strict=False)
        if (got[0], got[1], got[2]) == (want.title, want.link, want.at)
    )  # fmt: skip
    print(f"(lxml floor, same page: {floor_ok}/20 items with title, link and date right; "
          f"peers: best 19/20 items + 20/20 dates, RSS-Bridge Complex with an instance-wide zone)")


async def floor_work(
    client: httpx.AsyncClient, static: Case, plain: Case, body: bytes
) -> dict[str, Floor]:
    url = static.recipe.urls[0]
    etag = (await client.get(url)).headers["ETag"]

    async def get_200() -> None:
        response = await client.get(plain.recipe.urls[0])
        assert response.status_code == 200 and len(response.content) == len(body)

    async def get_304() -> None:
        response = await client.get(url, headers={"If-None-Match": etag})
        assert response.status_code == 304

    async def lxml_floor() -> None:
        floor_scrape(body, url)

    async def lxml_parse() -> None:
        lxml.html.fromstring(body)

    async def sha256() -> None:
        hashlib.sha256(body).digest()

    return {"GET 200": Floor(get_200), "GET 304": Floor(get_304), "lxml floor": Floor(lxml_floor),
            "lxml parse": Floor(lxml_parse), "sha256": Floor(sha256)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15 if QUICK else 60,
                        help="timed polls per case (median kept)")
    parser.add_argument("--cold-runs", type=int, default=3 if QUICK else 5,
                        help="runs per whole-process command (0: skip that part)")
    args = parser.parse_args(argv)
    asyncio.run(bench(args.runs, args.cold_runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
