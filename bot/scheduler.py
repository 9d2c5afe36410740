"""When each feed is polled: one APScheduler 3.x job per feed (the only apscheduler importer).

Jobs coalesce missed runs and never overlap (max_instances=1), so a slow site cannot pile up polls.
Backoff after failures is not the scheduler's business: the job itself skips a poll until the feed's
`next_poll_at` (see pipeline), which keeps the policy in one place and testable without a clock.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

Job = Callable[[], Awaitable[None]]


class FeedScheduler:
    """Runs one job per feed on the running asyncio loop."""

    def __init__(self, *, jitter: timedelta, first_poll_within: timedelta = timedelta(seconds=5),
                 rng: random.Random | None = None) -> None:
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._jitter = jitter
        self._first_within = first_poll_within.total_seconds()
        self._rng = rng or random.Random()

    def add_feed(self, feed_id: str, interval: timedelta, job: Job) -> None:
        """Poll `feed_id` every `interval` (plus jitter), the first time soon after start."""
        first_at = datetime.now(UTC) + timedelta(seconds=self._rng.uniform(0.5, self._first_within))
        self._scheduler.add_job(
            job,
            IntervalTrigger(
                seconds=interval.total_seconds(),
                jitter=int(self._jitter.total_seconds()) or None,
                timezone=UTC,
            ),
            id=feed_id,
            name=f"poll {feed_id}",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=int(interval.total_seconds()),
            next_run_time=first_at,
        )

    def add_every(self, name: str, interval: timedelta, job: Job) -> None:
        """A housekeeping job (pruning, unconditional refetch) at a fixed interval."""
        self._scheduler.add_job(job, IntervalTrigger(seconds=interval.total_seconds(), timezone=UTC),
                                id=name, name=name, coalesce=True, max_instances=1)

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        """Stop taking work; a poll in flight is awaited (or cancelled) by its owner."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def next_runs(self) -> dict[str, datetime | None]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}
