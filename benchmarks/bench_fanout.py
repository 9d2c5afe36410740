"""Fan-out of one item to 3,000 private chats, through the fake Bot API enforcing Telegram's limits.

Usage: .venv/bin/python benchmarks/bench_fanout.py [--subscribers 3000] [--scale S] [--rate R]

The real pieces: Store (a SQLite file) queues one outbox row per subscriber in the poll's
transaction, Deliverer paces them, PtbSender sends them with PTB 22 to tests/fakes/telegram_api.py
(strict: a send over a limit gets a 429). Time is scaled: 1 s of Telegram's time lasts `scale`
seconds for both the fake's flood windows and the Deliverer's pacing, so 3,000 messages at
Telegram's ~30/s take well under 100 s. Figures are given in Telegram's time.

Baseline: the same sender with the flood limits off and no pacing (how fast this machine can
send at all), measured first. The default scale is chosen from it so that the paced rate asks
for at most 40 % of that capacity: otherwise the run would measure the CPU, not the pacing.
The default pace is newsbot's own default (`Pacing().overall_per_second`). Goal (issue 13):
≥ 0.95 × 30 msg/s with 0 × 429.
Peak RSS covers the whole process, the fake server's thread included.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from benchlib import QUICK, row  # also puts the repository and tests/ on sys.path
from fakes.telegram_api import FakeBotAPI
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.model import Chat, Item, Recipe
from bot.store.db import Store
from bot.telegram.delivery import Deliverer, Pacing
from bot.telegram.feedinfo import feed_infos
from bot.telegram.ptb import PtbSender

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
FEED = "haiphong"
FEEDS = {FEED: Recipe(FEED, "Cổng TTĐT Hải Phòng", ("https://haiphong.gov.vn/tin-tuc-su-kien",))}
ALLOWED_PER_SECOND = 30  # Telegram's overall limit for bulk messages
GOAL_RATE = 0.95 * ALLOWED_PER_SECOND
CAPACITY_SHARE = 0.4  # the paced rate asks for at most this share of what the machine can send
FIRST_CHAT = 10_000_000
ITEM = Item(
    FEED,
    "680867",
    "https://haiphong.gov.vn/tin-tuc-su-kien/quan-hai-an-tong-ket-680867",
    "Quận Hải An: Tổng kết công tác thi đua khen thưởng năm 2024 <&>",
    summary="Chiều 11/1, UBND quận Hải An tổ chức hội nghị tổng kết. " * 4,
)


def make_bot(base_url: str) -> Bot:
    request = HTTPXRequest(connection_pool_size=16, read_timeout=30, pool_timeout=30)
    return Bot(TOKEN, base_url=base_url, request=request)


def queue_fanout(store: Store, subscribers: int) -> float:
    """Subscribe the chats, then store the item with one outbox row each; returns the seconds
    the add_items transaction took."""
    for n in range(subscribers):
        store.upsert_chat(Chat(FIRST_CHAT + n))
        store.subscribe(FIRST_CHAT + n, FEED)
    chats = [s.chat_id for s in store.subscribers_of(FEED)]
    started = time.perf_counter()
    store.add_items(FEED, [ITEM], datetime.now(UTC), route=lambda item: [(c, None) for c in chats])
    return time.perf_counter() - started


async def baseline(messages: int) -> float:
    """Messages per real second with no flood limits and no pacing."""
    fake = await FakeBotAPI(token=TOKEN, flood=False).start()
    try:
        async with make_bot(fake.base_url) as bot:
            sender = PtbSender(bot)
            slots = asyncio.Semaphore(Pacing().concurrency)

            async def send(n: int) -> None:
                async with slots:
                    await sender.send_text(FIRST_CHAT + n, f"<b>tin {n}</b>", preview=False)

            started = time.perf_counter()
            await asyncio.gather(*(send(n) for n in range(messages)))
            return messages / (time.perf_counter() - started)
    finally:
        await fake.stop()


async def fanout(store: Store, scale: float, rate: float) -> dict[str, float]:
    fake = FakeBotAPI(token=TOKEN, time_scale=scale, strict=True).start_in_thread()
    try:
        async with make_bot(fake.base_url) as bot:
            pacing = Pacing(overall_per_second=rate, time_scale=scale)
            deliverer = Deliverer(store, PtbSender(bot), feed_infos(FEEDS), pacing)
            started = time.perf_counter()
            deferred = 0
            while store.outbox_counts()["pending"]:  # as Deliverer.run: again after a pause
                stats = await deliverer.drain()
                deferred += stats.deferred
                if stats.deferred:
                    await asyncio.sleep(scale)
            elapsed = time.perf_counter() - started
        with fake._lock:
            sent = len(fake.sent)
            errors_429 = len(fake.errors_with(429))
        return {
            "accepted": sent,
            "deferred": deferred,
            "seconds": elapsed,
            "telegram_seconds": elapsed / scale,
            "rate": sent / (elapsed / scale),
            "429s": errors_429,
        }
    finally:
        fake.stop_thread()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000 if QUICK else 3000)
    parser.add_argument("--scale", type=float, default=None,
                        help="real seconds per Telegram second (default: from the capacity)")
    parser.add_argument("--rate", type=float, default=Pacing().overall_per_second,
                        help="Pacing.overall_per_second (default: newsbot's default)")
    args = parser.parse_args()

    capacity = asyncio.run(baseline(500 if QUICK else 1000))
    scale = args.scale or max(0.05, round(args.rate / (CAPACITY_SHARE * capacity), 2))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "newsbot.db")
        queue_seconds = queue_fanout(store, args.subscribers)
        result = asyncio.run(fanout(store, scale, args.rate))
        counts = store.outbox_counts()
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    paced_real = args.rate / scale
    print(f"subscribers            {args.subscribers} private chats")
    print(f"queue (add_items)      {queue_seconds * 1000:.0f} ms for {args.subscribers} rows")
    print(f"baseline capacity      {capacity:.0f} msg/s real (no limits, no pacing)")
    print(f"time scale             {scale:g} real s per Telegram s")
    print(f"paced rate asked       {args.rate:g}/s Telegram time = {paced_real:.0f} msg/s real "
          f"({paced_real / capacity:.0%} of capacity)")  # fmt: skip
    print(f"fan-out                {result['accepted']:.0f} accepted in {result['seconds']:.1f} s "
          f"real = {result['telegram_seconds']:.0f} s Telegram time")  # fmt: skip
    print(f"achieved rate          {result['rate']:.1f}/s Telegram time; "
          f"{result['rate'] / ALLOWED_PER_SECOND:.2f} of the allowed {ALLOWED_PER_SECOND}/s, "
          f"{result['rate'] / args.rate:.2f} of the paced {args.rate:g}/s")  # fmt: skip
    print(f"429s seen              {result['429s']:.0f} (deferred chats {result['deferred']:.0f})")
    print(f"outbox after           {counts}")
    print(f"peak RSS               {peak_mb:.0f} MB (whole process, fake server included)")
    ok = result["429s"] == 0 and counts["pending"] == 0 and result["accepted"] == args.subscribers
    row("6a", f"fan-out to {args.subscribers:,} private chats (bench_fanout, strict fake, time "
        f"scale {scale:g})", result["rate"], GOAL_RATE, "msg/s", better="higher", holds=ok,
        note=f"{result['429s']:.0f} × 429, pace {args.rate:g}/s")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
