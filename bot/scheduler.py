"""When each feed is polled: one APScheduler 3.x job per feed (the only apscheduler importer).

Jobs coalesce missed runs, never overlap, and fire with jitter; the first run of each feed comes
soon after start. The scheduler owns the tasks it starts rather than letting APScheduler run
them: APScheduler's shutdown cancels running coroutine jobs at once (and logs the cancellation as
a crash), while the daemon wants a poll in flight to get a few seconds to finish (`drain`).
Backoff after failures is not the scheduler's business: the job itself skips a poll until the
feed's `next_poll_at` (see pipeline), which keeps the policy in one place. A job that crashes
(raises) cannot have recorded anything, though, so the scheduler itself then skips its runs for
a while, doubling per crash in a row: a bug must not turn into a request every tick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]
FIRST_POLL_WITHIN = timedelta(seconds=5)
CRASH_PAUSE = timedelta(seconds=30)  # runs skipped after a crash; doubled per crash in a row
MAX_CRASH_PAUSE = timedelta(hours=1)


class FeedScheduler:
    """Runs one job per feed on the running asyncio loop; at most one run of a job at a time."""

    def __init__(self, *, jitter: timedelta, first_poll_within: timedelta = FIRST_POLL_WITHIN,
                 rng: random.Random | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._jitter = jitter
        self._first_within = first_poll_within.total_seconds()
        self._rng = rng or random.Random()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._accepting = False
        self._crashes = CrashPauses(clock)

    def add_feed(self, feed_id: str, interval: timedelta, job: Job) -> None:
        """Run `job` every `interval` (plus up to `jitter`), the first time soon after start."""
        # Spread the first polls so a restart with many feeds does not fire them all at once.
        first_at = datetime.now(UTC) + timedelta(seconds=self._rng.uniform(0, self._first_within))
        self._scheduler.add_job(
            self._launcher(feed_id, job),
            IntervalTrigger(
                seconds=interval.total_seconds(),
                jitter=int(self._jitter.total_seconds()) or None,
                timezone=UTC,
            ),
            id=_feed_job(feed_id),
            name=f"poll {feed_id}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(interval.total_seconds())),
            next_run_time=first_at,
            replace_existing=True,  # a changed recipe: its new job takes the old one's place
        )

    def remove_feed(self, feed_id: str) -> None:
        """Poll the feed no more (a run in flight finishes)."""
        with contextlib.suppress(JobLookupError):  # never scheduled, or already removed
            self._scheduler.remove_job(_feed_job(feed_id))

    def add_every(self, name: str, interval: timedelta, job: Job) -> None:
        """A housekeeping job (pruning) at a fixed interval, first run one interval after start."""
        trigger = IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC)
        self._scheduler.add_job(self._launcher(name, job), trigger, id=name, name=name,
                                coalesce=True, max_instances=1)

    def _launcher(self, name: str, job: Job) -> Callable[[], Awaitable[None]]:
        """What APScheduler runs: start `job` as our own task unless its last run is still going."""

        async def launch() -> None:
            if not self._accepting:
                return
            if name in self._running:
                log.debug("%s: previous run still in progress; this one skipped", name)
                return
            if self._crashes.paused(name):
                log.debug("%s: paused after a crash; this run skipped", name)
                return
            task = asyncio.create_task(self._crashes.watch(name, job), name=f"job {name}")
            self._running[name] = task
            task.add_done_callback(lambda _: self._running.pop(name, None))

        return launch

    def start(self) -> None:
        self._accepting = True
        self._scheduler.start()

    def stop(self) -> None:
        """Stop taking work; runs in flight go on until `drain`."""
        self._accepting = False
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    async def drain(self, grace: float) -> list[str]:
        """Let runs in flight finish for up to `grace` seconds, then cancel the rest (named)."""
        tasks = dict(self._running)
        if not tasks:
            return []
        _, pending = await asyncio.wait(tasks.values(), timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return sorted(name for name, task in tasks.items() if task in pending)

    @property
    def running(self) -> bool:
        return self._accepting and bool(self._scheduler.running)

    @property
    def in_flight(self) -> list[str]:
        """Names of the jobs running now."""
        return sorted(self._running)

    @property
    def skipped_after_crash(self) -> dict[str, int]:
        """Runs skipped per job because it crashed lately."""
        return dict(self._crashes.skipped)

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}


class CrashPauses:
    """Which jobs crashed lately, and until when their runs are skipped."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._in_a_row: dict[str, int] = {}
        self._until: dict[str, float] = {}
        self.skipped: dict[str, int] = {}  # runs skipped per job, for tests and debugging

    def paused(self, name: str) -> bool:
        """Whether `name` crashed recently enough that this run is to be skipped (counted)."""
        if self._clock() >= self._until.get(name, float("-inf")):
            return False
        self.skipped[name] = self.skipped.get(name, 0) + 1
        return True

    async def watch(self, name: str, job: Job) -> None:
        """Run the job; a crash is logged (a bug must not go unseen, nor stop the other jobs)
        and pauses the job, a clean run ends the pause streak."""
        try:
            await job()
        except Exception:
            crashes = self._in_a_row.get(name, 0) + 1
            self._in_a_row[name] = crashes
            doublings = min(crashes - 1, 16)  # 30 s * 2**16 is past the cap already
            pause = min(CRASH_PAUSE * 2**doublings, MAX_CRASH_PAUSE).total_seconds()
            self._until[name] = self._clock() + pause
            log.exception("%s: job crashed (%d in a row); next run in %.0f s", name, crashes,
                          pause)
        else:
            self._in_a_row.pop(name, None)


def _feed_job(feed_id: str) -> str:
    """APScheduler's id of a feed's job: never one of the housekeeping jobs' (a feed `prune`)."""
    return f"feed:{feed_id}"
