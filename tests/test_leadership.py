"""Two daemons on one PostgreSQL database (in one process, each with its own data dir): one leads
(polls, sends), the other serves the same feeds as a standby and takes over when the leader
stops or its database session drops. The kill -9 version with real processes: test_failover.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import feedparser
import httpx
from fakes.postgres import PASSWORD, PostgresServer
from fakes.site import FakeSite
from pydantic import SecretStr
from test_daemon import LISTING, LISTING_ITEMS, PATH, make_config, make_recipe, quick_scheduler
from test_daemon import until as until_true

from bot.app import LOST_LEADERSHIP, Daemon
from bot.schema import Config, StoreConfig


def on_postgres(config: Config, url: str) -> Config:
    """The config with [store] url (no password in it) and the password apart, as loaded."""
    store = StoreConfig(url=url.replace(f":{PASSWORD}@", "@"), password=SecretStr(PASSWORD))
    return config.model_copy(update={"store": store})


async def get(daemon: Daemon, path: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{daemon.web_port}") as web:
        return await web.get(path)


async def entries(daemon: Daemon) -> list[str]:
    feed = feedparser.parse((await get(daemon, "/feeds/haiphong.xml")).content)
    return [entry.id for entry in feed.entries]


async def until(check: object, timeout: float = 15.0) -> None:
    await until_true(check, timeout)  # type: ignore[arg-type]


async def test_one_leads_the_other_serves_the_same_feeds_and_takes_over(
    tmp_path: Path, pg_url: str
) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        recipe = make_recipe(site)
        leader = Daemon(on_postgres(make_config(tmp_path / "a", interval=2), pg_url), [recipe],
                        scheduler=quick_scheduler())
        leading = asyncio.create_task(leader.run())
        await until(lambda: leader.role == "leader" and site.count(PATH) == 1)
        standby = Daemon(on_postgres(make_config(tmp_path / "b", interval=2), pg_url), [recipe],
                         scheduler=quick_scheduler())
        standing = asyncio.create_task(standby.run())
        try:
            await until(lambda: standby.web_port is not None
                        and leader.store.health("haiphong").last_success_at is not None)
            await asyncio.sleep(1.5)  # a standby's retries take nothing and poll nothing
            assert standby.role == "standby" and not standby.scheduler.running
            health = await get(standby, "/healthz")
            assert health.status_code == 200 and health.json()["role"] == "standby"
            assert (await get(leader, "/healthz")).json()["role"] == "leader"
            served = await entries(standby)
            assert len(served) == LISTING_ITEMS and served == await entries(leader)

            leader.stop_event.set()  # a clean stop hands the leadership over at once
            await asyncio.wait_for(leading, 10)
            await until(lambda: standby.role == "leader")
            assert (await get(standby, "/healthz")).json()["role"] == "leader"
            polled = site.count(PATH)
            await until(lambda: site.count(PATH) > polled)  # the new leader polls
            assert await entries(standby) == served
        finally:
            for daemon in (leader, standby):
                daemon.stop_event.set()
            await asyncio.wait_for(asyncio.gather(leading, standing), 10)


async def test_a_leader_whose_session_drops_stops_and_the_standby_takes_over(
    tmp_path: Path, pg_url: str, postgres: PostgresServer
) -> None:
    async with FakeSite() as site:
        site.set_page(PATH, LISTING.read_bytes())
        recipe = make_recipe(site)
        leader = Daemon(on_postgres(make_config(tmp_path / "a"), pg_url), [recipe],
                        scheduler=quick_scheduler())
        leading = asyncio.create_task(leader.run())
        await until(lambda: leader.role == "leader")
        standby = Daemon(on_postgres(make_config(tmp_path / "b"), pg_url), [recipe],
                         scheduler=quick_scheduler())
        standing = asyncio.create_task(standby.run())
        try:
            await until(lambda: standby.web_port is not None)
            with postgres.admin() as admin:  # the leader's lock session drops
                admin.execute("SELECT pg_terminate_backend(pid) FROM pg_locks WHERE "
                              "locktype = 'advisory' AND objsubid = 1")
            await asyncio.wait_for(leading, 15)
            assert leader.exit_code == LOST_LEADERSHIP and leader.role == "standby"
            await until(lambda: standby.role == "leader")
            assert not leader.leads()  # never polls or sends again
        finally:
            for daemon in (leader, standby):
                daemon.stop_event.set()
            await asyncio.wait_for(asyncio.gather(leading, standing), 10)
