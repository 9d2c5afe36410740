"""Sources that are feeds (issue 15, item 1): RSS 1.0/2.0, Atom and JSON Feed served on loopback,
polled by poll_source with the real fetcher, SQLite and feed files; feedparser reads our output.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from fakes import feedfiles
from fakes.feedfiles import FORMATS, Entry
from fakes.site import FakeSite
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.errors import RecipeError
from bot.model import ArticleRules, Chat, FetchResult, Pick, PollReport, Recipe
from bot.pipeline import PollDeps, poll_source
from bot.recipes import load_recipe
from bot.source import feeds
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store

PATH = "/rss.xml"
NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)


@dataclass
class Env:
    site: FakeSite
    tmp: Path
    recipe: Recipe
    store: Store
    deps: PollDeps
    fmt: str
    alerts: list[str] = field(default_factory=list)

    def serve(self, items: Sequence[Entry]) -> None:
        render, content_type = FORMATS[self.fmt]
        self.site.set_page(PATH, render(items), content_type=content_type)

    async def poll(self, now: datetime = NOW) -> PollReport:
        return await poll_source(self.recipe, self.deps, now)

    def base(self) -> str:
        return self.site.url_for("")

    def subscribe(self, chat_id: int) -> None:
        self.store.upsert_chat(Chat(chat_id))
        self.store.subscribe(chat_id, self.recipe.feed_id)

    def pending(self) -> list[tuple[int, str, str]]:
        later = NOW + timedelta(days=30)
        return [(d.chat_id, d.kind, d.item.title) for d in self.store.pending(later, limit=1000)]


def write_recipe(folder: Path, text: str, name: str = "bao.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(params=sorted(FORMATS))
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Env]:
    async with FakeSite() as site:
        path = write_recipe(tmp_path, f'title = "Báo thử"\nfeed = "{site.url_for(PATH)}"\n')
        recipe = load_recipe(path)
        fetcher = Fetcher(FetchPolicy(min_host_gap=0, respect_robots=False))
        store = Store.open(tmp_path / "newsbot.db")
        alerts: list[str] = []
        deps = PollDeps(store=store, fetcher=fetcher, public_dir=tmp_path / "public",
                        public_url="http://feeds.test", feeds={recipe.feed_id: recipe},
                        alert=alerts.append)
        world = Env(site, tmp_path, recipe, store, deps, request.param, alerts)
        world.serve(feedfiles.entries(12, site.base_url))
        try:
            yield world
        finally:
            store.close()
            await fetcher.aclose()


# --- the same flow as a scraped page -----------------------------------------------------------


async def test_seeds_silently_then_announces_new_entries_then_sends_a_conditional_get(
    env: Env,
) -> None:
    env.subscribe(1)
    first = await env.poll()
    assert first.outcome == "new" and first.seeded and len(first.new_items) == 12
    assert env.pending() == []

    env.serve(feedfiles.entries(14, env.site.base_url))  # two new entries on top
    second = await env.poll(NOW + timedelta(minutes=10))
    assert [item.title for item in second.new_items] == [
        "Tin số 12: Hải Phòng khởi công cầu mới", "Tin số 13: Hải Phòng khởi công cầu mới"]
    assert [title for _, _, title in env.pending()] == [i.title for i in second.new_items]

    third = await env.poll(NOW + timedelta(minutes=20))
    assert third.outcome == "not_modified"
    assert env.site.requests_for(PATH)[-1].headers.get("if-none-match")


async def test_items_carry_link_date_summary_and_content_and_are_republished(env: Env) -> None:
    await env.poll()
    newest = env.store.items("bao", limit=1)[0]
    assert newest.url == env.site.base_url + "/bai-viet-11"
    assert newest.item_id == "https://127.0.0.1" + newest.url.split("127.0.0.1", 1)[1]
    assert newest.published_at == feedfiles.T0 + timedelta(hours=11)
    assert newest.summary == "Tóm tắt tin 11 & chi tiết"
    if env.fmt != "rss10":  # RSS 1.0 has no content element
        assert newest.content is not None and "Nội dung đầy đủ của tin 11" in newest.content
    published = feedparser.parse((env.tmp / "public" / "feeds" / "bao.xml").read_bytes())
    assert len(published.entries) == 12
    assert published.entries[0].link == newest.url


async def test_flood_of_unseen_entries_is_stored_but_not_announced(env: Env) -> None:
    env.subscribe(1)
    await env.poll()
    env.serve(feedfiles.entries(12, env.site.base_url, start=100))  # every link changed

    report = await env.poll(NOW + timedelta(minutes=10))

    assert report.flood and len(report.new_items) == 12
    assert env.pending() == []
    assert any("new at once" in alert for alert in env.alerts)


async def test_an_edited_entry_keeps_its_id_and_sends_an_edit_notice(env: Env) -> None:
    env.subscribe(1)
    await env.poll()
    env.serve(feedfiles.entries(13, env.site.base_url))
    await env.poll(NOW + timedelta(minutes=10))
    [delivery] = env.store.pending(NOW + timedelta(days=1))
    env.store.mark_sent(delivery.delivery_id, NOW + timedelta(minutes=11))
    edited = feedfiles.entries(13, env.site.base_url)
    edited[0] = {**edited[0], "title": "Tin số 12: đã sửa tiêu đề"}
    env.serve(edited)

    report = await env.poll(NOW + timedelta(minutes=20))

    assert report.outcome == "unchanged"
    assert env.pending() == [(1, "edit", "Tin số 12: đã sửa tiêu đề")]
    assert env.store.item_count("bao") == 13


async def test_article_enrichment_fills_content_from_the_article_page(env: Env) -> None:
    entries = feedfiles.entries(1, env.site.base_url)
    entries[0].pop("content")
    env.serve(entries)
    env.site.set_page("/bai-viet-0", "<html><body><div class='body'><p>Toàn văn bài viết.</p>"
                      "</div></body></html>")
    env.recipe = replace(env.recipe, article=ArticleRules(content=Pick("div.body")))

    await env.poll()

    [item] = env.store.items("bao")
    assert item.content is not None and "Toàn văn bài viết." in item.content


async def test_a_page_that_is_no_feed_fails_the_poll_and_keeps_what_is_stored(env: Env) -> None:
    await env.poll()
    env.site.set_page(PATH, "<html><body>Bảo trì hệ thống</body></html>")

    report = await env.poll(NOW + timedelta(minutes=10))

    assert report.outcome == "failed" and report.error is not None
    assert "not a feed" in report.error and PATH in report.error
    assert env.store.item_count("bao") == 12
    assert env.store.health("bao").consecutive_failures == 1


# --- entries without ids, links or dates -------------------------------------------------------


def _bare(entries: Sequence[Entry], *drop: str) -> list[Entry]:
    return [{k: v for k, v in e.items() if k not in drop} for e in entries]


@pytest.mark.parametrize("drop", [("guid",), ("date",), ("guid", "date"), ("link", "date")])
async def test_entries_lacking_ids_or_dates_keep_their_ids_across_polls(
    env: Env, drop: tuple[str, ...]
) -> None:
    if env.fmt == "rss10":  # an RSS 1.0 item is its link (rdf:about): it cannot lack one
        drop = tuple(key for key in drop if key != "link")
    entries = _bare(feedfiles.entries(5, env.site.base_url), *drop)
    env.serve(entries)
    env.subscribe(1)
    first = await env.poll()
    assert len(first.new_items) == 5
    env.serve(list(reversed(entries)))  # reordered: still the same entries

    again = await env.poll(NOW + timedelta(minutes=10))

    assert again.new_items == () and env.store.item_count("bao") == 5
    if "date" in drop:
        assert all(i.published_at is None and i.date == NOW for i in env.store.items("bao"))


def _render(fmt: str, entries: Sequence[Entry]) -> FetchResult:
    render, content_type = FORMATS[fmt]
    return FetchResult("http://example.test/rss", 200, render(entries).encode(), content_type)


_ENTRY = st.fixed_dictionaries(
    {"title": st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
                      min_size=1, max_size=30).filter(str.strip)},
    optional={
        "link": st.integers(0, 50).map(lambda n: f"http://example.test/a/{n}"),
        "guid": st.integers(0, 50).map(lambda n: f"urn:x:{n}"),
        "date": st.integers(0, 1000).map(lambda h: feedfiles.T0 - timedelta(hours=h)),
    },
)


@settings(max_examples=60, deadline=None)
@given(fmt=st.sampled_from(sorted(FORMATS)), entries=st.lists(_ENTRY, max_size=8),
       order=st.randoms(use_true_random=False))
def test_ids_do_not_depend_on_entry_order_and_dates_are_never_in_the_future(
    fmt: str, entries: list[Entry], order: Any
) -> None:
    recipe = Recipe("bao", "Báo", ("http://example.test/rss",), feed=True)
    shuffled = list(entries)
    order.shuffle(shuffled)

    first = feeds.read_feed(_render(fmt, entries), recipe, NOW).items
    second = feeds.read_feed(_render(fmt, shuffled), recipe, NOW).items

    # Two entries sharing a link are one item (the first listed wins): compare the ids.
    assert {i.item_id for i in first} == {i.item_id for i in second}
    assert len({i.item_id for i in first}) == len(first)
    assert all(i.published_at is None or i.published_at <= NOW + timedelta(days=1) for i in first)


def test_a_date_far_in_the_future_is_dropped() -> None:
    entries = feedfiles.entries(1, "http://example.test")
    entries[0]["date"] = NOW + timedelta(days=30)
    recipe = Recipe("bao", "Báo", ("http://example.test/rss",), feed=True)
    [item] = feeds.read_feed(_render("rss20", entries), recipe, NOW).items
    assert item.published_at is None


def test_a_feed_link_gives_the_id_a_scraped_link_gets() -> None:
    entries = feedfiles.entries(1, "http://Example.test")
    entries[0]["link"] = "http://Example.test/tin/abc-749187.html?utm_source=rss"
    recipe = Recipe("bao", "Báo", ("http://example.test/rss",), feed=True,
                    id_pattern=r"-(\d{5,})(?:\.html?)?$")
    for fmt in FORMATS:
        [item] = feeds.read_feed(_render(fmt, entries), recipe, NOW).items
        assert item.item_id == "749187", fmt
    plain = replace(recipe, id_pattern=None)
    [item] = feeds.read_feed(_render("atom", entries), plain, NOW).items
    assert item.item_id == "https://example.test/tin/abc-749187.html"


def test_feedparser_is_given_bytes_as_a_stream_and_never_opens_a_path(tmp_path: Path) -> None:
    secret = tmp_path / "secret.xml"
    secret.write_text(feedfiles.rss20(feedfiles.entries(1, "http://x.test")), encoding="utf-8")
    page = FetchResult("http://example.test/rss", 200, str(secret).encode(), "application/xml")
    recipe = Recipe("bao", "Báo", ("http://example.test/rss",), feed=True)
    with pytest.raises(Exception, match="not a feed"):
        feeds.read_feed(page, recipe, NOW)


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (feedfiles.rss20([]), "text/xml", True),
    (feedfiles.atom([]), "text/xml", True),
    (feedfiles.rss10([]), None, True),
    (feedfiles.json_feed([]), "application/json", True),
    ('{"version": "1", "items": []}', "application/json", False),
    ("<!doctype html><html><head><title>x</title></head></html>", "text/html", False),
])
def test_looks_like_feed(body: str, content_type: str | None, expected: bool) -> None:
    assert feeds.looks_like_feed(body.encode(), content_type) is expected


# --- recipes -----------------------------------------------------------------------------------


def test_a_feed_recipe_loads_and_refuses_list_rules(tmp_path: Path) -> None:
    ok = load_recipe(write_recipe(tmp_path, 'title = "B"\nfeed = "https://b.vn/rss"\n'))
    assert ok.feed and ok.urls == ("https://b.vn/rss",) and ok.rules is None

    bad = write_recipe(tmp_path, 'title = "B"\nfeed = "https://b.vn/rss"\n'
                       '[list]\nitem = "li"\ntitle = "a"\n', "bad.toml")
    with pytest.raises(RecipeError, match=r"bad\.toml: feed: a feed recipe has no list"):
        load_recipe(bad)
    relative = write_recipe(tmp_path, 'title = "B"\nfeed = "/rss"\n', "rel.toml")
    with pytest.raises(RecipeError, match=r"rel\.toml: feed: \"/rss\" is not an http\(s\) URL"):
        load_recipe(relative)


