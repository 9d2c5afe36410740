"""Fan-out of one item to 10,000 subscribers, through the fake Bot API enforcing Telegram's limits.

Usage: .venv/bin/python benchmarks/bench_fanout.py [--subscribers 10000] [--scale 0.1]

The real pieces: Store (a SQLite file) queues one outbox row per subscriber in the poll's
transaction, Deliverer paces them, PtbSender sends them with PTB 22 to tests/fakes/telegram_api.py
(strict: a send over a limit gets a 429). Time is scaled: 1 s of Telegram's time lasts `scale`
seconds for both the fake's flood windows and the Deliverer's pacing, so 10,000 messages at
Telegram's ~30/s run in well under a minute. Figures are given in Telegram's time.

Baseline: the same sender with the flood limits off and no pacing (how fast this machine can
send at all). If it is not well above the paced rate, the run measures the CPU, not the pacing.
Peak RSS covers the whole process, the fake server's thread included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("PTB_TIMEDELTA", "1")
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

from fakes.telegram_api import FakeBotAPI  # noqa: E402
from telegram import Bot  # noqa: E402
from telegram.request import HTTPXRequest  # noqa: E402

from bot.model import Chat, Item, Recipe  # noqa: E402
from bot.store.db import Store  # noqa: E402
from bot.telegram.delivery import Deliverer, Pacing  # noqa: E402
from bot.telegram.ptb import PtbSender  # noqa: E402

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
FEED = "haiphong"
FEEDS = {FEED: Recipe(FEED, "Cổng TTĐT Hải Phòng", ("https://haiphong.gov.vn/tin-tuc-su-kien",))}
ALLOWED_PER_SECOND = 30  # Telegram's overall limit for bulk messages
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
            deliverer = Deliverer(store, PtbSender(bot), FEEDS, pacing)
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
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--scale", type=float, default=0.1, help="real seconds per Telegram second")
    parser.add_argument("--rate", type=float, default=25, help="Pacing.overall_per_second")
    args = parser.parse_args()

    capacity = asyncio.run(baseline(1000))
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "newsbot.db")
        queue_seconds = queue_fanout(store, args.subscribers)
        result = asyncio.run(fanout(store, args.scale, args.rate))
        counts = store.outbox_counts()
        store.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    paced_real = args.rate / args.scale
    print(f"subscribers            {args.subscribers}")
    print(f"queue (add_items)      {queue_seconds * 1000:.0f} ms for {args.subscribers} rows")
    print(f"baseline capacity      {capacity:.0f} msg/s real (no limits, no pacing)")
    print(f"paced rate asked       {args.rate:.0f}/s Telegram time = {paced_real:.0f} msg/s real "
          f"({paced_real / capacity:.0%} of capacity)")
    print(f"fan-out                {result['accepted']:.0f} accepted in {result['seconds']:.1f} s "
          f"real = {result['telegram_seconds']:.0f} s Telegram time")
    print(f"achieved rate          {result['rate']:.1f}/s Telegram time; "
          f"{result['rate'] / ALLOWED_PER_SECOND:.2f} of the allowed {ALLOWED_PER_SECOND}/s, "
          f"{result['rate'] / args.rate:.2f} of the paced {args.rate:.0f}/s")
    print(f"429s seen              {result['429s']:.0f} (deferred chats {result['deferred']:.0f})")
    print(f"outbox after           {counts}")
    print(f"peak RSS               {peak_mb:.0f} MB (whole process, fake server included)")
    ok = result["429s"] == 0 and counts["pending"] == 0 and result["accepted"] == args.subscribers
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
