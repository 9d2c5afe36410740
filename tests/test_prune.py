"""Pruning forgets an item's text, never that it was seen (issue 12, item 5): a pruned item that
comes back on its page is stored again and never announced twice. Real fake site on loopback, real
fetcher, real SQLite, the real poll.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html import escape
from pathlib import Path

import pytest
from fakes.site import FakeSite
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import Chat, Item, ListRules, Pick, PollReport, Recipe
from bot.pipeline import PollDeps, poll_source
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store
from bot.store.items import PRUNED_IDS_KEPT

T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
RETENTION = timedelta(days=180)  # the config's default schedule.retention
PATH = "/thong-bao"
CHAT = 4242


def listing(numbers: list[int]) -> str:
    """Undated items (no date on the page: their order is all that tells their age)."""
    rows = "".join(f'<li><a href="{PATH}/tb-{n}">{escape(f"Thông báo số {n}")}</a></li>'
                   for n in numbers)
    return f'<html><head><meta charset="utf-8"></head><body><ul class="tb">{rows}</ul></body>'


@dataclass
class World:
    site: FakeSite
    store: Store
    deps: PollDeps
    recipe: Recipe

    async def poll(self, numbers: list[int], now: datetime) -> PollReport:
        self.site.set_page(PATH, listing(numbers))
        report = await poll_source(self.recipe, self.deps, now)
        assert report.outcome in ("new", "unchanged"), report
        return report

    def prune(self, now: datetime) -> int:
        """What the daemon's prune job does."""
        return self.store.prune_items(self.recipe.feed_id, unseen_since=now - RETENTION,
                                      keep=self.recipe.max_items, now=now)

    def outbox(self) -> list[str]:
        return sorted(d.item.item_id for d in self.store.pending(T0 + timedelta(days=999),
                                                                  limit=1000))


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeSite() as site:
        recipe = Recipe("tb", "Thông báo", (site.url_for(PATH),),
                        rules=ListRules(item="ul.tb li", title=Pick("a")), max_items=10)
        fetcher = Fetcher(FetchPolicy(min_host_gap=0, respect_robots=False))
        store = Store.open(tmp_path / "newsbot.db")
        store.upsert_chat(Chat(CHAT))
        store.subscribe(CHAT, "tb")
        deps = PollDeps(store=store, fetcher=fetcher, public_dir=tmp_path / "public",
                        public_url="http://feeds.test", feeds={"tb": recipe})
        try:
            yield World(site, store, deps, recipe)
        finally:
            store.close()
            await fetcher.aclose()


async def test_pruned_undated_items_that_come_back_are_not_announced_again(
    world: World,
) -> None:
    page = list(range(20))
    await world.poll(page, T0)  # the first poll stores the 20 silently
    # Items 0-2 drop off the page; ten new ones come on top and are announced.
    later = T0 + timedelta(days=200)
    page = list(range(100, 110)) + page[3:]
    assert len((await world.poll(page, later)).new_items) == 10
    announced = world.outbox()
    assert len(announced) == 10
    assert world.prune(later) == 3  # 0-2: unseen for 200 days, not among the 10 newest
    assert world.store.item_count("tb") == 27
    # They come back (a notice re-pinned on top of the page).
    back = await world.poll([0, 1, 2, *page], later + timedelta(hours=1))
    assert back.new_items == ()
    assert world.outbox() == announced  # no outbox row for them
    assert world.store.item_count("tb") == 30  # stored again: the feed shows them
    first = next(i for i in world.store.items("tb", limit=50) if i.title == "Thông báo số 0")
    assert first.first_seen_at == T0  # in their old place, not as today's news


async def test_a_pruned_id_is_forgotten_after_the_long_horizon(world: World) -> None:
    await world.poll(list(range(20)), T0)
    zero = [i.item_id for i in world.store.items("tb", limit=50) if i.title.endswith(" 0")]
    later = T0 + timedelta(days=200)
    page = list(range(100, 110)) + list(range(3, 20))
    await world.poll(page, later)
    assert world.prune(later) == 3
    world.prune(later + PRUNED_IDS_KEPT - timedelta(days=1))
    assert world.store.known_ids("tb", zero) == set(zero)  # still remembered
    world.prune(later + PRUNED_IDS_KEPT + timedelta(days=1))
    assert world.store.known_ids("tb", zero) == set()  # forgotten: a long absence is news
    back = await world.poll([0, *page], later + PRUNED_IDS_KEPT + timedelta(days=2))
    assert [i.title for i in back.new_items] == ["Thông báo số 0"]


# --- the class: no sequence of pages and prunes announces an item twice ------------------------

Step = tuple[frozenset[int], int | None]  # (ids on the page, keep for a prune after it, or none)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.frozensets(st.integers(0, 11), min_size=1),
                          st.one_of(st.none(), st.integers(0, 4))), min_size=2, max_size=12))
def test_no_sequence_of_polls_and_prunes_announces_an_item_twice(steps: list[Step]) -> None:
    assert len(steps) * timedelta(days=30) < PRUNED_IDS_KEPT
    announced: list[str] = []

    def route(new: Item) -> list[tuple[int, str | None]]:
        announced.append(new.item_id)
        return [(CHAT, None)]

    with Store.open(":memory:") as store:
        store.upsert_chat(Chat(CHAT))
        now = T0
        for on_page, keep in steps:
            # Past the retention for anything off the page; all within the ids' horizon.
            now += timedelta(days=30)
            items = [Item("tb", f"tb-{n}", f"https://tb.test/{n}", f"Thông báo {n}")
                     for n in sorted(on_page)]
            store.add_items("tb", items, now, route=route)
            for delivery in store.pending(now, limit=100):  # sent: prunable
                store.mark_sent(delivery.delivery_id, now)
            if keep is not None:
                store.prune_items("tb", unseen_since=now - timedelta(days=20),
                                  keep=keep, now=now)
    assert len(announced) == len(set(announced)), announced
    assert set(announced) == {f"tb-{n}" for on_page, _ in steps for n in on_page}
