"""bot.worker: the polls' CPU-heavy steps run one at a time, in one thread, like to_thread."""

from __future__ import annotations

import asyncio
import contextvars
import threading

import pytest

from bot.worker import run_cpu

WHO = contextvars.ContextVar("WHO", default="nobody")


def where(tag: str) -> tuple[str, int, str]:
    return tag, threading.get_ident(), WHO.get()


async def test_steps_run_in_one_thread_off_the_loop_with_the_callers_context() -> None:
    WHO.set("poll")
    results = await asyncio.gather(*(run_cpu(where, str(n)) for n in range(8)))
    assert [tag for tag, _, _ in results] == [str(n) for n in range(8)]
    assert len({ident for _, ident, _ in results}) == 1
    assert results[0][1] != threading.get_ident()
    assert {who for _, _, who in results} == {"poll"}


async def test_an_exception_reaches_the_caller_and_the_thread_goes_on() -> None:
    def fail() -> None:
        raise ValueError("bad page")

    with pytest.raises(ValueError, match="bad page"):
        await run_cpu(fail)
    assert (await run_cpu(where, "after"))[0] == "after"


async def test_steps_never_overlap() -> None:
    active, most = 0, 0
    lock = threading.Lock()
    two_at_once = threading.Event()

    def step() -> None:
        nonlocal active, most
        with lock:
            active += 1
            most = max(most, active)
            if active > 1:
                two_at_once.set()
        two_at_once.wait(0.2)  # a pool of threads would run the next step meanwhile
        with lock:
            active -= 1

    await asyncio.gather(*(run_cpu(step) for _ in range(3)))
    assert most == 1
