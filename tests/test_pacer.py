"""bot.telegram.pacer: Telegram's overall limit kept whatever the loop and the network do."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.telegram.pacer import SendPacer

RATE = 29.0


def run(pacer: SendPacer, lateness: list[float], latency: list[float] | None = None,
        concurrency: int = 8) -> list[tuple[float, float]]:  # fmt: skip
    """(start, answer) of len(lateness) sends, `concurrency` in flight at most, each answered
    `latency` after its start. A send that had to wait wakes up `late` seconds after the pacer
    allowed it (the event loop was busy: a poll parsing a page, a database write)."""
    latency = latency or [0.01] * len(lateness)
    now, sends, pending = 0.0, [], []  # pending: answer times of sends in flight
    for late, takes in zip(lateness, latency, strict=True):
        while pending and (len(pending) >= concurrency or pending[0] <= now):
            now = max(now, pending[0])
            pacer.answered(pending.pop(0))
        while (wait := pacer.delay(now)) > 0:
            if pending and pending[0] <= now + wait:  # an answer comes first
                now = pending[0]
                pacer.answered(pending.pop(0))
                continue
            now = max(now + wait + late, now + 1e-9)  # floats: always move on
        pacer.started(now)
        sends.append((now, now + takes))
        pending = sorted([*pending, now + takes])
    return sends


def busiest(moments: list[float], window: float) -> int:
    moments = sorted(moments)
    return max(sum(1 for t in moments if s <= t < s + window) for s in moments)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 0.2), min_size=40, max_size=120),
       st.lists(st.floats(0.001, 0.5), min_size=120, max_size=120), st.randoms())  # fmt: skip
def test_never_thirty_one_arrivals_in_a_second(lateness: list[float], latency: list[float],
                                               rng: random.Random) -> None:  # fmt: skip
    """A request arrives anywhere between its start and its answer (held back by a busy loop,
    by the network): whatever the spread, Telegram never sees a 31st in a second."""
    sends = run(SendPacer.per_second(RATE), lateness, latency[: len(lateness)])
    arrivals = [rng.uniform(start, answer) for start, answer in sends]
    assert busiest(arrivals, 1.0) <= 30


@settings(max_examples=150, deadline=None)
@given(st.lists(st.floats(0, 0.05), min_size=100, max_size=300))
def test_a_late_loop_loses_no_rate(delays: list[float]) -> None:
    """Up to 50 ms late at one wake-up in four (a busy loop): the lost time is caught up, so the
    rate stays within 3 % of the asked one. A pacer waiting a fixed gap after each start lost it
    all (25/s asked became 13/s inside `newsbot run` while 1,000 sources polled)."""
    lateness = [late if n % 4 == 0 else 0.0 for n, late in enumerate(delays)]
    starts = [start for start, _ in run(SendPacer.per_second(RATE), lateness)]
    span = starts[-1] - starts[0]
    ideal = (len(starts) - 1) / RATE + max(lateness)
    assert span <= ideal * 1.03 + 0.1, (span, ideal)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 0.2), min_size=40, max_size=100))
def test_catching_up_sends_one_at_a_time(lateness: list[float]) -> None:
    """Starts at one instant arrive together; catching up goes at twice the rate at most."""
    starts = [start for start, _ in run(SendPacer.per_second(RATE), lateness)]
    assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.5 / RATE - 1e-6


def test_time_scale_stretches_the_window() -> None:
    sends = run(SendPacer.per_second(RATE, time_scale=0.1), [0.0] * 100, [0.001] * 100)
    assert busiest([answer for _, answer in sends], 0.1) <= 30
    assert sends[-1][0] - sends[0][0] >= 99 / RATE * 0.1 * 0.95


def test_steady_sends_are_evenly_spaced() -> None:
    starts = [start for start, _ in run(SendPacer.per_second(25), [0.0] * 60)]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= 1 / 25 - 1e-6 and max(gaps) <= 1 / 25 + 1e-6


def test_slow_answers_hold_the_thirty_first_back() -> None:
    """30 sends answered after 2 s each: the 31st waits for an answer, then for the second
    after it (a window over start times would have let it go at 1 s)."""
    pacer = SendPacer.per_second(1000)  # the rate does not bind: only the window does
    for n in range(30):
        now = n * 0.002
        assert pacer.delay(now) == 0
        pacer.started(now)
    assert pacer.delay(1.5) > 0  # all 30 in flight
    pacer.answered(2.0)
    assert pacer.delay(2.0) == 1.0  # that answer leaves the window at 3.0
    assert pacer.delay(3.0) == 0
