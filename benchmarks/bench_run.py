"""The real `newsbot run` process: 1,000 sources of real-size pages and 10,000 subscribers, against
the fake site and the fake Bot API; its CPU read from /proc.

    .venv/bin/python benchmarks/bench_run.py [--sources 1000] [--subscribers 10000]
                                             [--interval 120] [--hosts 50]

Each source is the real 20-item gov.vn listing (77.8 KB, tests/fixtures/realpages), served by
tests/fakes/site.py in a child process (benchmarks/site_child.py) on 127.0.0.1..H (H hosts, so
the fetcher's one-request-per-host rule works as on the web). Each subscriber is a private chat
following one source (10 per source). The fake Bot API (tests/fakes/telegram_api.py, strict:
a send over Telegram's limits gets a 429) runs in this process. newsbot runs as it would in
production (`python -m bot --config C run`: scheduler, web server, Telegram bot, deliverer),
with every source due every `interval` seconds.

Cycles, each found from the site's request count and the feeds' `last_poll_at` in the database:
1. first polls (each source stores 20 items silently);
2. all 304: CPU per 304 poll;
3. every page changed (one new item each, announced to its 10 subscribers): CPU of the cycle,
   CPU per changed poll, and the msg/s the fake Bot API accepted meanwhile;
4. sending only (no poll due): CPU per message, subtracted from cycle 3 to give the polls' CPU.
CPU = utime + stime of the newsbot process (/proc/PID/stat), minus its idle CPU (measured
between cycles 1 and 2) over the same time. Goals (issue 13): < 12 CPU-s per cycle of 1,000
changed sources, < 1 ms per 304 poll, ≤ 8 ms per changed poll, ≥ 0.95 × 30 msg/s with 0 × 429.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from benchlib import QUICK, REAL_PAGE, REAL_RECIPE_TOML, load_average, proc_cpu_seconds, row
from fakes.newsbot_proc import TOKEN, NewsbotProcess
from fakes.telegram_api import FakeBotAPI
from site_child import SiteChild

from bot.store.db import Store

GOAL_CYCLE_CPU = 12.0  # CPU-s for 1,000 changed sources
GOAL_304_MS = 1.0
GOAL_CHANGED_MS = 8.0
GOAL_RATE = 0.95 * 30
SAMPLE = 0.25  # seconds between two looks at the process, the site and the database
SETTLE = 3.0  # seconds after the last poll of a cycle (the `all` feed, the last writes)


@dataclass
class Sample:
    t: float
    cpu: float  # newsbot's CPU seconds
    requests: int  # requests the site has answered
    sent: int  # messages the fake Bot API accepted


class Bench:
    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.site = SiteChild(REAL_PAGE, host="0.0.0.0" if args.hosts > 1 else "127.0.0.1")
        self.fake = FakeBotAPI(token=TOKEN, strict=True).start_in_thread()
        self.config = self._write_setup()
        self.proc = NewsbotProcess(self.config)
        self.db = tmp / "data" / "newsbot.db"

    def _write_setup(self) -> Path:
        args, tmp = self.args, self.tmp
        self.site.ask("many", "/s", args.sources)
        feeds = tmp / "feeds"
        feeds.mkdir()
        for n in range(args.sources):
            host = f"127.0.0.{1 + n % args.hosts}"
            url = f"http://{host}:{self.site.port}/s/{n}"
            (feeds / f"s{n:04d}.toml").write_text(REAL_RECIPE_TOML.format(
                title=f"Nguồn {n}", url=url, extra=f"interval = {args.interval}"), "utf-8")
        config = tmp / "config.toml"
        config.write_text(
            'data_dir = "data"\nfeeds_dir = "feeds"\nlog_level = "WARNING"\n'
            f"[schedule]\ninterval = {args.interval}\njitter = 1\n"
            '[server]\nenabled = true\nport = 0\npublic_url = "http://127.0.0.1:8080"\n'
            "[fetch]\nmin_host_gap = 0.01\nrespect_robots = false\n"
            f'[telegram]\napi_base_url = "{self.fake.base_url}"\n'
            'max_age = "3650d"\n',  # the page's items date from 2022: announce them anyway
            encoding="utf-8",
        )
        (tmp / "data").mkdir()
        Store.open(tmp / "data" / "newsbot.db").close()  # the schema
        with sqlite3.connect(tmp / "data" / "newsbot.db") as db:  # 10,000 chats in one go
            chats = range(1_000_000, 1_000_000 + args.subscribers)
            db.executemany("INSERT INTO chats (chat_id, kind, title) VALUES (?, 'private', ?)",
                           ((c, f"Chat {c}") for c in chats))  # fmt: skip
            db.executemany("INSERT INTO subscriptions (chat_id, feed_id) VALUES (?, ?)",
                           ((c, f"s{c % args.sources:04d}") for c in chats))  # fmt: skip
        return config

    def sample(self) -> Sample:
        assert self.proc.proc is not None
        with self.fake._lock:
            sent = len(self.fake.sent)
        return Sample(time.monotonic(), proc_cpu_seconds(self.proc.proc.pid),
                      int(self.site.stats()["requests"]), sent)  # fmt: skip

    def polled_since(self, moment: datetime) -> int:
        """Feeds whose last poll (the end of it: health is saved last) is after `moment`."""
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            rows = conn.execute("SELECT last_poll_at FROM feed_health").fetchall()
        finally:
            conn.close()
        return sum(1 for (at,) in rows if at and datetime.fromisoformat(at) >= moment)

    def wait_cycle(self, since: datetime, before: Sample, what: str) -> tuple[Sample, Sample]:
        """The first sample after the cycle's first request and the one SETTLE s after its last
        poll; the previous sample stands for the start (the process was idle until then)."""
        deadline = time.monotonic() + 3 * self.args.interval + 600
        start = None
        last = before
        while time.monotonic() < deadline:
            assert self.proc.running, f"newsbot exited:\n{self.proc.output[-3000:]}"
            time.sleep(SAMPLE)
            now = self.sample()
            if start is None and now.requests > before.requests:
                start = last
            last = now
            if start is not None and self.polled_since(since) >= self.args.sources:
                time.sleep(SETTLE)
                return start, self.sample()
        raise SystemExit(f"{what}: not done within {deadline:.0f} s: "
                         f"{self.polled_since(since)}/{self.args.sources} polled")  # fmt: skip

    def sends_between(self, start: float, end: float) -> list[float]:
        with self.fake._lock:
            return [m.t for m in self.fake.sent if start <= m.t <= end]

    def close(self) -> None:
        if self.proc.running:
            assert self.proc.proc is not None
            self.proc.proc.send_signal(signal.SIGTERM)
            self.proc.wait_exit(30)
        self.fake.stop_thread()
        self.site.close()


def run(args: argparse.Namespace) -> None:
    print(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp_name:
        bench = Bench(args, Path(tmp_name))
        try:
            measure(bench, args)
        finally:
            bench.close()
    print(f"load average at end: {load_average()}")


def measure(bench: Bench, args: argparse.Namespace) -> None:
    n = args.sources
    print(f"{n} sources ({REAL_PAGE.stat().st_size / 1024:.1f} KB real page each) on "
          f"{args.hosts} host(s), {args.subscribers} private chats (one source each), every "
          f"source due every {args.interval} s; newsbot runs as `python -m bot run`")
    started = datetime.now(UTC)
    bench.proc.start()
    zero = Sample(time.monotonic(), 0.0, 0, 0)
    _, seeded = bench.wait_cycle(started, zero, "first polls")
    print(f"1. first polls: {seeded.cpu:.1f} CPU-s from start (start-up included), "
          f"{seeded.t - bench.proc.started_at:.0f} s; {seeded.requests} requests")
    # Idle: between the first polls and the next cycle nothing is due.
    idle_from = seeded
    since = datetime.now(UTC)
    start304, end304 = bench.wait_cycle(since, seeded, "304 cycle")
    idle_rate = (start304.cpu - idle_from.cpu) / max(start304.t - idle_from.t, 1e-9)
    cpu304 = end304.cpu - start304.cpu - idle_rate * (end304.t - start304.t)
    print(f"   idle: {idle_rate * 1000:.1f} ms CPU per second over "
          f"{start304.t - idle_from.t:.0f} s")
    print(f"2. all 304: {cpu304:.2f} CPU-s in {end304.t - start304.t:.1f} s = "
          f"{cpu304 / n * 1000:.2f} ms per poll; {end304.requests - start304.requests} requests")
    bench.site.ask("bump", "/s", n, 1)  # one new item on every page
    since = datetime.now(UTC)
    start_c, end_c = bench.wait_cycle(since, end304, "changed cycle")
    sends = bench.sends_between(start_c.t, end_c.t)
    # Sending only: from the end of the changed cycle until the window ends or a poll starts.
    send_window = args.send_window
    before = end_c
    after = before
    while after.t - before.t < send_window:
        time.sleep(SAMPLE)
        now = bench.sample()
        if now.requests > before.requests:
            break
        after = now
    sent_only = after.sent - before.sent
    per_message = ((after.cpu - before.cpu) - idle_rate * (after.t - before.t)) / max(sent_only, 1)
    cycle_total = end_c.cpu - start_c.cpu - idle_rate * (end_c.t - start_c.t)
    cycle_polls = cycle_total - per_message * (end_c.sent - start_c.sent)
    with bench.fake._lock:
        errors_429 = len(bench.fake.errors_with(429))
    rate, span = send_rate(sends, end_c.t)
    print(f"3. every page changed: {cycle_total:.2f} CPU-s in {end_c.t - start_c.t:.1f} s, of "
          f"which sending {end_c.sent - start_c.sent} messages ≈ "
          f"{per_message * (end_c.sent - start_c.sent):.2f} CPU-s; polls {cycle_polls:.2f} CPU-s = "
          f"{cycle_polls / n * 1000:.2f} ms per changed poll")
    print(f"   messages accepted by the fake Bot API during the cycle: {len(sends)} in "
          f"{span:.1f} s (first send to end of cycle) = {rate:.1f} msg/s; 429s so far: "
          f"{errors_429}")
    print(f"4. sending only: {sent_only} messages in {after.t - before.t:.1f} s = "
          f"{sent_only / max(after.t - before.t, 1e-9):.1f} msg/s, "
          f"{per_message * 1000:.2f} ms CPU per message")
    scale = 1000 / n
    scaled = f" (measured on {n} sources, × {scale:g})" if n != 1000 else ""
    row("3c", "unchanged poll, 304, inside `newsbot run` (bench_run), CPU per poll",
        cpu304 / n * 1000, GOAL_304_MS, "ms", note=f"{n} sources, idle CPU subtracted")
    row("3d", "changed poll, one new item, inside `newsbot run` (bench_run), CPU per poll",
        cycle_polls / n * 1000, GOAL_CHANGED_MS, "ms",
        note="sending CPU (ms/message × messages) and idle CPU subtracted")
    row("4", f"1,000 sources, every page changed, one cycle (bench_run){scaled}, CPU",
        cycle_polls * scale, GOAL_CYCLE_CPU, "CPU-s",
        note=f"whole cycle with sending: {cycle_total * scale:.1f} CPU-s; wall "
        f"{end_c.t - start_c.t:.0f} s")
    row("6b", "msg/s accepted while 1,000 sources poll, inside `newsbot run` (bench_run)",
        rate, GOAL_RATE, "msg/s", better="higher", holds=errors_429 == 0,
        note=f"{errors_429} × 429; {len(sends)} messages during the cycle")


def send_rate(sends: list[float], end: float) -> tuple[float, float]:
    """Messages per second from the first send of the window to its end."""
    if len(sends) < 2:
        return 0.0, 0.0
    span = end - min(sends)
    return len(sends) / span, span


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100 if QUICK else 1000)
    parser.add_argument("--subscribers", type=int, default=1000 if QUICK else 10_000)
    parser.add_argument("--interval", type=int, default=30 if QUICK else 120,
                        help="seconds between two polls of a source (longer than a cycle)")
    parser.add_argument("--hosts", type=int, default=10 if QUICK else 50)
    parser.add_argument("--send-window", type=float, default=8 if QUICK else 20,
                        help="seconds of sending only, after the changed cycle")
    args = parser.parse_args()
    run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
