"""Crash safety of the outbox (reliability plan C1, C2): `newsbot run` as a subprocess, killed at
named failpoints (bot.failpoints) or by SIGKILL at random moments, then restarted.

Each (chat, item) must reach the fake Telegram at least once (0 lost). A send can be duplicated
only when the process died between Telegram accepting it and the outbox marking it: those sends
are counted at every kill from the fake's records and the database ("in flight at the kill").
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from fakes.newsbot_proc import (
    TOKEN,
    Ledger,
    NewsbotProcess,
    NewsPage,
    add_subscribers,
    received,
    seed,
    sends_since,
    sent_count,
    wait_until,
    write_setup,
)
from fakes.site import FakeSite
from fakes.telegram_api import FakeBotAPI

from bot.failpoints import EXIT_CODE, NAMES, POLL_POINTS
from bot.model import ChatKind
from bot.telegram.delivery import Pacing

CONCURRENCY = Pacing().concurrency  # requests the daemon has in flight at most


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite.start_in_thread() as fake_site:
        yield fake_site


@pytest.fixture
def processes() -> Iterator[list[NewsbotProcess]]:
    started: list[NewsbotProcess] = []
    yield started
    for process in started:
        process.kill()


@dataclass
class World:
    """A fake site whose feeds the chats follow, a fake Telegram, and a seeded data dir."""

    config: Path
    fake: FakeBotAPI
    pages: dict[str, NewsPage]
    chats: dict[int, ChatKind]
    processes: list[NewsbotProcess]
    expected: set[tuple[int, int]] = field(default_factory=set)
    extra_room: int = 0  # new articles a feed may get on top of the first burst (flood guard)
    extras: Counter[str] = field(default_factory=Counter)

    @property
    def ledger(self) -> Ledger:
        return Ledger(self.config.parent / "data" / "newsbot.db")

    def publish(self, per_feed: int) -> None:
        """New articles on every feed; every chat is to get each of them."""
        for page in self.pages.values():
            for number in page.publish_many(per_feed):
                self.expected.update((chat_id, number) for chat_id in self.chats)

    def publish_extra(self, rng: random.Random) -> int:
        """One or two new articles on one feed, while the flood guard's margin lasts."""
        feed_id = rng.choice(sorted(self.pages))
        count = min(rng.randint(1, 2), self.extra_room - self.extras[feed_id])
        if count <= 0:
            return 0
        self.extras[feed_id] += count
        for number in self.pages[feed_id].publish_many(count):
            self.expected.update((chat_id, number) for chat_id in self.chats)
        return count

    def start(self, failpoint: str | None = None) -> NewsbotProcess:
        process = NewsbotProcess(self.config, failpoint=failpoint).start()
        self.processes.append(process)
        return process

    def check_no_token_leak(self) -> None:
        for process in self.processes:
            assert TOKEN not in process.output and TOKEN.split(":")[1] not in process.output


def make_world(
    tmp_path: Path,
    site: FakeSite,
    fake: FakeBotAPI,
    processes: list[NewsbotProcess],
    *,
    chats: dict[int, ChatKind],
    feeds: int = 1,
    old_per_feed: int = 5,
    scale: float,
    messages_per_second: float = 25,
) -> World:
    pages = {f"f{n}": NewsPage(site, f"/f{n}-{tmp_path.name}") for n in range(feeds)}
    for page in pages.values():
        page.publish_many(old_per_feed)
    config = write_setup(
        tmp_path,
        {feed_id: page.url for feed_id, page in pages.items()},
        telegram_url=fake.base_url,
        pacing_scale=scale,
        messages_per_second=messages_per_second,
        server=False,
    )
    add_subscribers(config, chats, pages)
    seed(config)  # the feeds' first polls store the old articles silently
    return World(config, fake, pages, chats, processes)


def settle(fake: FakeBotAPI, quiet: float = 0.05) -> None:
    """Wait until the fake has handled what a killed process had already written to it."""
    last, since = sent_count(fake), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.005)
        if (now := sent_count(fake)) != last:
            last, since = now, time.monotonic()


def unmarked(world: World, accepted: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sends Telegram accepted whose outbox rows are still unsent: they will go out again."""
    table = world.ledger.outbox()
    return sorted({pair for pair in accepted if not table.get(pair, False)})


def finish(world: World, timeout: float = 60) -> None:
    """Run a last life to the end of the broadcast, then stop it with SIGTERM."""
    started = datetime.now(UTC)
    process = world.start()
    process.wait_for(r"newsbot \S+: \d+ feeds")  # up, so SIGTERM finds its handler

    def polled(feed_id: str) -> bool:
        return (world.ledger.last_poll(feed_id) or started) > started

    def done() -> bool:
        return (world.expected <= set(received(world.fake))
                and world.ledger.counts()["pending"] == 0 and all(map(polled, world.pages)))

    wait_until(done, timeout, "every (chat, item) delivered")
    code, took = process.terminate()
    assert code == 0 and took < 10, process.output


def duplicates(world: World) -> int:
    return sum(count - 1 for count in received(world.fake).values())


def check_delivered_exactly(world: World) -> None:
    """0 lost, nothing unexpected (no old article announced), integrity ok, outbox drained, and
    the feed files show what is stored."""
    got = received(world.fake)
    assert world.expected - set(got) == set(), "lost"
    assert set(got) - world.expected == set(), "sent what nobody should get"
    assert world.ledger.integrity() == "ok"
    assert world.ledger.counts() == {
        "rows": len(world.expected), "pending": 0, "sent": len(world.expected), "failed": 0,
    }
    world.check_no_token_leak()
    check_feeds_published(world)


def check_feeds_published(world: World) -> None:
    """Each feed file (and `all`) lists the newest stored items: a crash while publishing left
    no stale file behind once the daemon ran again."""
    feeds = world.config.parent / "data" / "public" / "feeds"
    for feed_id in [*world.pages, "all"]:
        parsed = feedparser.parse((feeds / f"{feed_id}.xml").read_bytes())
        assert parsed.bozo == 0, (feed_id, parsed.bozo_exception)
        stored = world.ledger.titles(None if feed_id == "all" else feed_id, limit=500)
        assert [entry.title for entry in parsed.entries] == stored, f"{feed_id}.xml is stale"


# --- failpoints (issue 6, plan C1) --------------------------------------------------------------


@dataclass
class FailpointRun:
    """What one failpoint did: the crash, then a restart that finished the broadcast."""

    name: str
    exit_code: int
    announced: bool  # "failpoint NAME: exiting" was written
    counts_at_crash: dict[str, int]  # outbox rows right after the crash
    accepted_at_crash: int  # item messages Telegram had accepted by then
    in_flight: int  # of those, sent but not marked sent
    duplicates: int
    in_order: bool  # every chat got its items oldest first


def crash_at(name: str, tmp_path: Path, site: FakeSite) -> FailpointRun:
    """Publish 3 articles for 3 private chats, crash at `name`, restart, finish, check."""
    # Sends are spaced 125 ms apart overall, so one request is in flight at a time and the
    # failpoint after a send catches exactly one accepted, unmarked message.
    scale = 0.25
    tmp_path.mkdir()
    fake = FakeBotAPI(token=TOKEN, time_scale=scale).start_in_thread()
    processes: list[NewsbotProcess] = []
    try:
        chats: dict[int, ChatKind] = {7001: "private", 7002: "private", 7003: "private"}
        world = make_world(tmp_path, site, fake, processes, chats=chats, scale=scale,
                           messages_per_second=2)
        world.publish(per_feed=3)
        crashed = world.start(failpoint=name)
        code = crashed.wait_exit(timeout=30)
        settle(fake)
        assert world.ledger.integrity() == "ok"
        counts = world.ledger.counts()
        accepted = sends_since(fake, 0)
        in_flight = unmarked(world, accepted)
        finish(world)
        check_delivered_exactly(world)
        order = all(
            (numbers := [n for c, n in sends_since(fake, 0) if c == chat_id]) == sorted(numbers)
            for chat_id in chats
        )
        return FailpointRun(name, code, f"failpoint {name}: exiting" in crashed.output, counts,
                            len(accepted), len(in_flight), duplicates(world), order)
    finally:
        for process in processes:
            process.kill()
        fake.stop_thread()


def test_a_crash_at_any_failpoint_loses_nothing_and_duplicates_only_an_accepted_send(
    tmp_path: Path, site: FakeSite
) -> None:
    # The four crashes run side by side: each waits for its daemon's first polls.
    with ThreadPoolExecutor(len(NAMES)) as pool:
        futures = {name: pool.submit(crash_at, name, tmp_path / name, site) for name in NAMES}
        runs = {name: future.result() for name, future in futures.items()}
    for run in runs.values():
        assert run.exit_code == EXIT_CODE and run.announced and run.in_order, run
    untouched = {"rows": 0, "pending": 0, "sent": 0, "failed": 0}
    # Died before the poll's transaction committed: nothing of it is stored; the next poll
    # finds the articles new again.
    assert runs["after_fetch"].counts_at_crash == untouched
    assert runs["after_diff_before_commit"].counts_at_crash == untouched
    # Committed, nothing sent: the restart sends it all.
    queued = {"rows": 9, "pending": 9, "sent": 0, "failed": 0}
    assert runs["after_commit_before_send"].counts_at_crash == queued
    assert runs["after_send_before_mark"].counts_at_crash == queued
    assert runs["during_publish"].counts_at_crash == queued
    assert [run.accepted_at_crash for run in runs.values()] == [0, 0, 0, 0, 1]
    # The one send whose outcome the crash left unknown goes out again: one duplicate.
    assert {name: (run.in_flight, run.duplicates) for name, run in runs.items()} == {
        "after_fetch": (0, 0),
        "after_diff_before_commit": (0, 0),
        "after_commit_before_send": (0, 0),
        "during_publish": (0, 0),
        "after_send_before_mark": (1, 1),
    }


# --- random kill -9 (issue 4 and plan C2), and kills inside polls (issue 12) -------------------


@dataclass
class Campaign:
    kills: int = 0
    in_flight: list[int] = field(default_factory=list)  # per kill
    integrity: list[str] = field(default_factory=list)  # per kill
    kills_while_starting: int = 0  # before the life's first item message
    kills_before_the_end: int = 0  # with (chat, item) pairs still to deliver after the kill
    kills_in_polls: Counter[str] = field(default_factory=Counter)  # poll point -> lives ended
    life_seconds: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0


def kill_schedule(kills: int, rng: random.Random, *, in_polls: float) -> list[str]:
    """What ends each life: "sends" (kill -9 after a number of sends), "start" (kill -9 at a
    random moment of its start), or a point of POLL_POINTS (the process dies there, mid-poll).
    With `in_polls` > 0 every poll point is in the schedule at least once."""
    plan = [rng.choice(POLL_POINTS) if rng.random() < in_polls
            else "start" if rng.random() < 0.15 else "sends" for _ in range(kills)]
    for point in POLL_POINTS if in_polls else ():
        if point not in plan:
            others = [n for n, mode in enumerate(plan) if mode not in POLL_POINTS]
            plan[rng.choice(others)] = point
    return plan


def wait_for_sends(
    fake: FakeBotAPI, process: NewsbotProcess, total: int, deadline: float = 30.0
) -> None:
    """Until the fake has accepted `total` messages, or `deadline` seconds of this life passed
    (a life that cannot reach `total` within 30 s is stuck: that fails the test)."""
    give_up_at = process.started_at + deadline
    while sent_count(fake) < total and process.running:
        if time.monotonic() > give_up_at:
            if deadline < 30:
                return
            raise AssertionError(
                f"{total} sends not reached within {deadline} s; Telegram errors "
                f"{fake.errors[-5:]}; newsbot said:\n{process.output}"
            )
        time.sleep(0.005)


def life_ending_in_a_poll(world: World, point: str, rng: random.Random) -> NewsbotProcess:
    """A life armed to die at `point` of a poll, with fresh articles so its polls have work:
    store (the armed route of the Nth new item, mid-transaction), publish, fetch."""
    published = world.publish_extra(rng)
    if point == "after_diff_before_commit" and not published:
        point = "during_publish"  # no room left for new articles: nothing would be routed
    times = {"after_fetch": 3, "after_diff_before_commit": published,  # once per new item
             "during_publish": len(world.pages)}  # each feed's first poll publishes
    process = world.start(failpoint=f"{point}@{rng.randint(1, times[point])}")
    give_up_at = process.started_at + 20  # polls come every 0.5 s
    while process.running and time.monotonic() < give_up_at:
        time.sleep(0.01)
    return process


def kill_at_random(world: World, plan: list[str], rng: random.Random) -> Campaign:
    """Start the daemon, end it as `plan` says, restart it each time.

    A "sends" life is killed after a random number of sends (about what remains divided by the
    kills left, so the broadcast lasts through all kills) plus a few milliseconds; a "start"
    life at a random moment of its start (loading, joining Telegram, polling, first sends); a
    poll point's life dies there by itself (bot.failpoints), else it is killed after 20 s."""
    campaign = Campaign()
    started = time.monotonic()
    for k, mode in enumerate(plan):
        mark = sent_count(world.fake)
        if mode in POLL_POINTS:
            process = life_ending_in_a_poll(world, mode, rng)
            if not process.running:
                died = re.search(r"failpoint (\w+): exiting", process.output)
                assert died, f"the daemon died by itself:\n{process.output}"
                campaign.kills_in_polls[died.group(1)] += 1
        else:
            left = len(plan) - k
            remaining = len(world.expected - set(received(world.fake)))
            spare = remaining - left
            target = rng.randint(1, max(1, min(spare, 2 * spare // left)))
            # Lives that died in polls sent too: once all is sent, a life is killed while
            # starting (or polling) instead.
            short = mode == "start" or remaining == 0
            deadline = rng.uniform(0.0, 1.5) if short else 30.0
            process = world.start()
            wait_for_sends(world.fake, process, mark + target, deadline)
            time.sleep(rng.uniform(0.0, 0.01))
            assert process.running, f"the daemon died by itself:\n{process.output}"
        process.kill()
        settle(world.fake)
        campaign.life_seconds[mode if mode in POLL_POINTS else "other"] += (
            time.monotonic() - process.started_at)
        campaign.kills += 1
        accepted = sends_since(world.fake, mark)
        campaign.kills_while_starting += not accepted
        campaign.kills_before_the_end += bool(world.expected - set(received(world.fake)))
        campaign.in_flight.append(len(unmarked(world, accepted)))
        campaign.integrity.append(world.ledger.integrity())
    campaign.seconds = time.monotonic() - started
    return campaign


def run_campaign(
    tmp_path: Path,
    site: FakeSite,
    processes: list[NewsbotProcess],
    *,
    chats: int,
    feeds: int,
    old_per_feed: int,
    new_per_feed: int,
    kills: int,
    seed_value: int,
    in_polls: float = 0.0,
) -> tuple[World, Campaign]:
    rng = random.Random(seed_value)
    plan = kill_schedule(kills, rng, in_polls=in_polls)
    print(f"\ncrash seed {seed_value}: {plan.count('sends')} kills after sends, "
          f"{plan.count('start')} while starting, "
          + ", ".join(f"{plan.count(p)} at {p}" for p in POLL_POINTS))
    scale = 0.02  # 1 s of Telegram's time (and of the daemon's pacing) lasts 20 ms
    fake = FakeBotAPI(token=TOKEN, time_scale=scale).start_in_thread()
    try:
        world = make_world(
            tmp_path, site, fake, processes,
            chats={8000 + n: "private" for n in range(chats)},
            feeds=feeds, old_per_feed=old_per_feed, scale=scale,
        )
        # At most as many new as old on a page: below the flood guard's half of the page.
        world.extra_room = old_per_feed - new_per_feed
        world.publish(new_per_feed)
        campaign = kill_at_random(world, plan, rng)
        finish(world, timeout=120)
        check_delivered_exactly(world)
        dup = duplicates(world)
        print(
            f"kill -9: {campaign.kills} kills ({campaign.kills_while_starting} while starting, "
            f"{campaign.kills_before_the_end} before the broadcast ended, in polls "
            f"{dict(campaign.kills_in_polls)}) during {len(world.expected)} messages to {chats} "
            f"chats in {campaign.seconds:.0f} s; lost 0; duplicates {dup}; in flight at the "
            f"kills {sum(campaign.in_flight)} (max {max(campaign.in_flight)} per kill); "
            f"integrity ok {campaign.integrity.count('ok')}/{campaign.kills}; "
            f"429s {len(fake.errors_with(429))}; seconds of life "
            f"{ {k: round(v) for k, v in campaign.life_seconds.items()} }"
        )
        assert campaign.integrity == ["ok"] * kills
        assert max(campaign.in_flight) <= CONCURRENCY
        assert dup <= sum(campaign.in_flight)
        return world, campaign
    finally:
        fake.stop_thread()


def test_kill_9_during_a_500_message_broadcast_loses_nothing(
    tmp_path: Path, site: FakeSite, processes: list[NewsbotProcess]
) -> None:
    world, campaign = run_campaign(
        tmp_path, site, processes, chats=10, feeds=1, old_per_feed=50, new_per_feed=50,
        kills=4, seed_value=4,
    )
    assert len(world.expected) == 500 and campaign.kills == 4


@pytest.mark.slow
def test_100_kill_9_during_broadcasts_and_polls_lose_nothing(
    tmp_path: Path, site: FakeSite, processes: list[NewsbotProcess], crash_seed: int
) -> None:
    # Two feeds of 125 new articles each over 150 old (a listing shows at most 500 items, and
    # more than half of a page new at once is held back as a flood); lives that die inside a
    # poll add up to 25 more per feed first, so their polls fetch, store and publish.
    world, campaign = run_campaign(
        tmp_path, site, processes, chats=10, feeds=2, old_per_feed=150, new_per_feed=125,
        kills=100, seed_value=crash_seed, in_polls=0.2,
    )
    assert len(world.expected) >= 2500 and campaign.kills == 100
    # Every kind of poll kill happened at least once (a point that never fires fails here).
    assert set(campaign.kills_in_polls) == set(POLL_POINTS), campaign.kills_in_polls
