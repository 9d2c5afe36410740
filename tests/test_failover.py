"""Failover on PostgreSQL (issue 16): two `newsbot run` processes on one database, the fake site
and the fake Telegram; during a broadcast the leader is killed with SIGKILL at random points and
restarted as a new standby each time. Every kill: the standby takes over within 15 s. At the end:
0 (chat, item) lost, duplicates no more than the sends in flight at the kills (accepted by
Telegram, not yet marked sent), and both processes' /feeds/<id>.xml serve the same items.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import feedparser
import httpx
import pytest
from fakes.newsbot_proc import (
    TOKEN,
    NewsbotProcess,
    NewsPage,
    PgLedger,
    add_subscribers,
    received,
    seed,
    sends_since,
    sent_count,
    wait_until,
    write_setup,
)
from fakes.postgres import PASSWORD
from fakes.site import FakeSite
from fakes.telegram_api import FakeBotAPI

from bot.telegram.delivery import Pacing

TAKEOVER_LIMIT = 15.0  # seconds, the promise
CONCURRENCY = Pacing().concurrency
LEADER = r"leader on postgresql://"
STANDBY = r"standby: another newsbot leads"


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
class Pair:
    """Two data dirs (a, b) on one database, and whichever processes run on them."""

    configs: list[Path]
    url: str  # with the password, for the test's own looks
    fake: FakeBotAPI
    page: NewsPage
    chats: list[int]
    started: list[NewsbotProcess]
    expected: set[tuple[int, int]] = field(default_factory=set)
    takeovers: list[float] = field(default_factory=list)  # seconds from kill to new leader
    in_flight: list[int] = field(default_factory=list)  # per kill

    @property
    def ledger(self) -> PgLedger:
        return PgLedger(self.url)

    def start(self, config: Path) -> NewsbotProcess:
        process = NewsbotProcess(config, env={"NEWSBOT_STORE_PASSWORD": PASSWORD}).start()
        self.started.append(process)
        return process

    def publish(self, count: int) -> None:
        for number in self.page.publish_many(count):
            self.expected.update((chat_id, number) for chat_id in self.chats)


def make_pair(tmp_path: Path, site: FakeSite, fake: FakeBotAPI, url: str,
              started: list[NewsbotProcess], *, chats: int, old: int, scale: float) -> Pair:
    page = NewsPage(site, f"/tin-{tmp_path.name}")
    page.publish_many(old)
    bare = url.replace(f":{PASSWORD}@", "@")  # the password goes by the environment
    configs = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        configs.append(write_setup(tmp_path / name, {"f0": page.url}, telegram_url=fake.base_url,
                                   pacing_scale=scale, store_url=bare))
    chat_ids = [9000 + n for n in range(chats)]
    add_subscribers(configs[0], dict.fromkeys(chat_ids, "private"), ["f0"], store_url=url)
    seed(configs[0], NEWSBOT_STORE_PASSWORD=PASSWORD)  # the first poll stores the old silently
    return Pair(configs, url, fake, page, chat_ids, started)


def settle(fake: FakeBotAPI, quiet: float = 0.05) -> None:
    last, since = sent_count(fake), time.monotonic()
    while time.monotonic() - since < quiet:
        time.sleep(0.005)
        if (now := sent_count(fake)) != last:
            last, since = now, time.monotonic()


def feed_ids(process: NewsbotProcess) -> list[str]:
    port = process.wait_for(r"serving feeds on http://127\.0\.0\.1:(\d+)/").group(1)
    body = httpx.get(f"http://127.0.0.1:{port}/feeds/f0.xml", timeout=10).content
    return [entry.id for entry in feedparser.parse(body).entries]


def fail_over(pair: Pair, kills: int, rng: random.Random) -> None:
    """Leader on a, standby on b; kill the leader `kills` times at random points of the
    broadcast, restarting it as the new standby each time."""
    leader = pair.start(pair.configs[0])
    leader.wait_for(LEADER, timeout=60)
    standby = pair.start(pair.configs[1])
    standby.wait_for(STANDBY, timeout=60)
    for k in range(kills):
        mark = sent_count(pair.fake)
        left = kills - k
        # Keep enough unsent for every kill still to come: each takeover's first round sends one
        # message per chat at once and up to CONCURRENCY more are in flight at a kill, so a
        # reserve of one message per kill ran out when sends got faster (nothing was left to
        # send while the loop waited for the next kill's sends).
        reserve = left * (len(pair.chats) + CONCURRENCY)
        spare = len(pair.expected - set(received(pair.fake))) - reserve
        target = rng.randint(1, max(1, min(spare, 2 * spare // left)))
        deadline = time.monotonic() + 60
        while sent_count(pair.fake) < mark + target:
            assert time.monotonic() < deadline, f"no sends:\n{leader.output}"
            assert leader.running, f"the leader died by itself:\n{leader.output}"
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.01))
        leader.kill()
        killed_at = time.monotonic()
        settle(pair.fake)
        accepted = sends_since(pair.fake, mark)
        table = pair.ledger.outbox()
        pair.in_flight.append(len({p for p in accepted if not table.get(p, False)}))
        standby.wait_for(LEADER, timeout=TAKEOVER_LIMIT + 5)
        pair.takeovers.append(time.monotonic() - killed_at)
        config = leader.config
        leader, standby = standby, pair.start(config)
        standby.wait_for(STANDBY, timeout=60)
    wait_until(lambda: pair.expected <= set(received(pair.fake))
               and pair.ledger.counts()["pending"] == 0, 120, "every (chat, item) delivered")
    assert feed_ids(leader) == feed_ids(standby) != []
    for process in (leader, standby):
        code, took = process.terminate()
        assert code == 0 and took < 10, process.output


def run_failover(tmp_path: Path, site: FakeSite, started: list[NewsbotProcess], url: str, *,
                 chats: int, new: int, kills: int, seed_value: int) -> Pair:
    # Real time: one message a second per private chat, so the broadcast outlasts the kills and
    # the restarts (a process start takes a few seconds).
    scale = 1.0
    fake = FakeBotAPI(token=TOKEN, time_scale=scale).start_in_thread()
    try:
        pair = make_pair(tmp_path, site, fake, url, started, chats=chats, old=new, scale=scale)
        pair.publish(new)
        fail_over(pair, kills, random.Random(seed_value))
        got = received(fake)
        duplicates = sum(count - 1 for count in got.values())
        print(f"\nfailover: {kills} kills of the leader during {len(pair.expected)} messages; "
              f"lost {len(pair.expected - set(got))}; duplicates {duplicates}; in flight at "
              f"the kills {sum(pair.in_flight)}; takeover max {max(pair.takeovers):.1f} s")
        assert pair.expected - set(got) == set(), "lost"
        assert set(got) - pair.expected == set(), "sent what nobody should get"
        assert duplicates <= sum(pair.in_flight) and max(pair.in_flight) <= CONCURRENCY
        assert max(pair.takeovers) <= TAKEOVER_LIMIT
        assert pair.ledger.counts()["sent"] == len(pair.expected)
        for process in started:
            assert TOKEN not in process.output and PASSWORD not in process.output
        return pair
    finally:
        fake.stop_thread()


def test_the_standby_takes_over_from_a_killed_leader_losing_nothing(
    tmp_path: Path, site: FakeSite, processes: list[NewsbotProcess], pg_url: str
) -> None:
    pair = run_failover(tmp_path, site, processes, pg_url, chats=5, new=24, kills=2,
                        seed_value=16)
    assert len(pair.expected) == 120 and len(pair.takeovers) == 2


@pytest.mark.slow
def test_10_kills_of_the_leader_during_a_1000_message_broadcast_lose_nothing(
    tmp_path: Path, site: FakeSite, processes: list[NewsbotProcess], pg_url: str
) -> None:
    pair = run_failover(tmp_path, site, processes, pg_url, chats=10, new=100, kills=10,
                        seed_value=1016)
    assert len(pair.expected) == 1000 and len(pair.takeovers) == 10
