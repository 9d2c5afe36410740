"""The one thread that runs the polls' CPU-heavy steps: reading a listing, rendering feed files.

Inside `newsbot run` the event loop paces Telegram sends while up to 16 polls are in flight, and
every thread shares one GIL. Each extra thread that wants the CPU is one more the loop queues
behind whenever it wakes up (a send's answer, the pacer's timer): with asyncio's default pool (up
to 6 threads) parsing pages at once, sends fell from 29 to 21 msg/s while 400 changed sources
polled (benchmarks/bench_run.py `--sources 400`); with these steps one at a time in this one
thread, 28.4 msg/s, and the cycle took less CPU (25 instead of 29 ms per changed poll: fewer
switches). A second thread would buy nothing: the GIL runs one of them at a time anyway.
Lowering `sys.setswitchinterval` instead (0.5 ms) made it worse (14 msg/s: more switches).

Blocking I/O (DNS, a slow disk read) stays on asyncio's default pool: queued behind it here, a
stalled resolver would stall every poll's parsing.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Started at the first call; its thread ends with the process (idle, it holds nothing).
_CPU = ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-cpu")


async def run_cpu(work: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """`work(*args, **kwargs)` in the CPU thread, after the work queued before it; like
    `asyncio.to_thread` (context variables included), but one at a time."""
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    return await loop.run_in_executor(_CPU, partial(context.run, work, *args, **kwargs))
