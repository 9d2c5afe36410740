"""poll_source end to end: fake haiphong site on loopback, real fetcher, SQLite and files."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest
from conftest import FIXTURES, ROOT
from fakes import listings
from fakes.site import Behaviour, FakeSite, Garbage, Status

from bot.feedfiles import publish_all, repair_feeds
from bot.health import is_flood
from bot.model import (
    ArticleRules,
    Chat,
    FeedHealth,
    KeywordFilter,
    Pick,
    PollReport,
    Recipe,
    Section,
)
from bot.pipeline import PollDeps, poll_source, preview_source
from bot.recipes import load_recipe
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store

PATH = "/tin-tuc-su-kien"
NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)  # 10:00 in Hải Phòng, the day after the newest item
TODAY = "29/11/2024"


@dataclass
class Env:
    """One feed's world: the site, the store, the deps a poll gets, and what was alerted."""

    site: FakeSite
    tmp: Path
    recipe: Recipe
    fetcher: Fetcher
    store: Store
    deps: PollDeps
    alerts: list[str] = field(default_factory=list)

    @property
    def public_dir(self) -> Path:
        return self.tmp / "public"

    def serve(self, html: str, *, validators: bool = True, **page: Any) -> None:
        """Serve `html` at the listing path; without validators every poll is a full fetch."""
        if not validators:
            page.update(etag="", last_modified="")
        self.site.set_page(PATH, html, **page)

    async def poll(self, now: datetime = NOW, recipe: Recipe | None = None) -> PollReport:
        return await poll_source(recipe or self.recipe, self.deps, now)

    def restart(self) -> None:
        """A new process: the store reopened from disk, fresh deps."""
        self.store.close()
        self.store = Store.open(self.tmp / "newsbot.db")
        self.deps = _deps(self.store, self.fetcher, self.tmp, self.recipe, self.alerts)

    def subscribe(self, chat_id: int, *include: str) -> None:
        self.store.upsert_chat(Chat(chat_id))
        self.store.subscribe(chat_id, self.recipe.feed_id)
        self.store.set_keyword_filter(chat_id, KeywordFilter(include=include), self.recipe.feed_id)

    def pending(self) -> list[tuple[int, str]]:
        later = NOW + timedelta(days=30)
        return [(d.chat_id, d.item.item_id) for d in self.store.pending(later, limit=1000)]

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a failed poll must leave alone: items, outbox, published bytes."""
        items = [(i.item_id, i.url, i.title, i.summary, i.first_seen_at, i.updated_at)
                 for i in self.store.items(None, limit=1000)]
        files = {p.name: (p.read_bytes(), p.stat().st_mtime_ns)
                 for p in sorted((self.public_dir / "feeds").glob("*"))}
        return items, self.store.outbox_counts(), self.pending(), files


def _deps(store: Store, fetcher: Fetcher, tmp: Path, recipe: Recipe, alerts: list[str]) -> PollDeps:
    return PollDeps(store=store, fetcher=fetcher, public_dir=tmp / "public",
                    public_url="http://feeds.test", feeds={recipe.feed_id: recipe},
                    alert=alerts.append)


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Env]:
    async with FakeSite() as site:
        site.set_page(PATH, listings.listing_html())
        recipe = load_recipe(ROOT / "feeds" / "haiphong.toml")
        # No [article]: enrichment would fetch twelve (404) article pages per seed.
        recipe = replace(recipe, urls=(site.url_for(PATH),), article=None)
        fetcher = Fetcher(FetchPolicy(min_host_gap=0, respect_robots=False))
        store = Store.open(tmp_path / "newsbot.db")
        alerts: list[str] = []
        world = Env(site, tmp_path, recipe, fetcher, store,
                    _deps(store, fetcher, tmp_path, recipe, alerts), alerts)
        try:
            yield world
        finally:
            world.store.close()
            await fetcher.aclose()


def _no_fallback(recipe: Recipe) -> Recipe:
    assert recipe.rules is not None
    return replace(recipe, rules=replace(recipe.rules, fallback="none"))


# --- diff semantics ----------------------------------------------------------------------------


async def test_first_poll_seeds_silently(env: Env) -> None:
    env.subscribe(1)  # no filter: would get everything

    report = await env.poll()

    assert report.outcome == "new" and report.seeded and not report.flood
    assert len(report.new_items) == 12
    assert env.pending() == []
    assert env.store.health("haiphong").seeded
    assert (env.public_dir / "feeds" / "haiphong.xml").is_file()
    assert (env.public_dir / "feeds" / "all.json").is_file()
    assert env.alerts == []


async def test_a_poll_keeps_the_listings_readings_in_its_own_deps_memo(env: Env) -> None:
    # Dates with a time of day: a date-only one takes `now`'s time, so it is read every poll.
    env.serve(re.sub(r"(\d\d/\d\d/\d{4})<", r"\1 09:30<", listings.listing_html()))
    await env.poll()
    page_url = env.recipe.urls[0]
    assert len(env.deps.item_memo.recall(env.recipe, page_url)) == 12  # the next poll's shortcut
    env.restart()  # new deps, as another daemon: nothing shared
    assert env.deps.item_memo.recall(env.recipe, page_url) == {}


async def test_new_articles_are_announced_once_oldest_first_to_matching_chats(env: Env) -> None:
    env.serve(listings.listing_html(), validators=False)
    env.subscribe(1, "hai an")
    env.subscribe(2, "thủy nguyên")
    env.subscribe(3)
    await env.poll()
    page = listings.with_article(listings.listing_html(), 749400, "Quận Hải An mở đường", TODAY)
    page = listings.with_article(page, 749401, "Hải An khánh thành cầu", TODAY)
    env.serve(page, validators=False)

    report = await env.poll(NOW + timedelta(minutes=15))

    assert report.outcome == "new" and not report.seeded
    assert [item.item_id for item in report.new_items] == ["749400", "749401"]
    assert env.pending() == [(1, "749400"), (3, "749400"), (1, "749401"), (3, "749401")]
    again = await env.poll(NOW + timedelta(minutes=30))
    assert again.outcome == "unchanged" and again.new_items == ()
    env.restart()
    after_restart = await env.poll(NOW + timedelta(minutes=45))
    assert after_restart.outcome == "unchanged" and after_restart.new_items == ()
    assert len(env.pending()) == 4


async def test_ten_restarts_on_an_unchanged_site_send_nothing_and_keep_feed_bytes(env: Env) -> None:
    env.serve(listings.listing_html(), validators=False)  # full fetch, scrape and publish each time
    env.subscribe(1)
    await env.poll()
    before = env.snapshot()

    for restart in range(10):
        env.restart()
        report = await env.poll(NOW + timedelta(minutes=15 * (restart + 1)))
        assert report.outcome == "unchanged" and report.new_items == ()

    assert env.snapshot() == before  # same rows, no outbox, same bytes and mtimes
    assert env.site.count(PATH) == 11


@pytest.mark.parametrize("id_pattern", ["recipe", None], ids=["id_pattern", "canonical-url"])
async def test_https_links_and_an_item_coming_back_are_not_new(
    env: Env, id_pattern: str | None
) -> None:
    recipe = env.recipe if id_pattern else replace(env.recipe, id_pattern=None)
    env.subscribe(1)
    await env.poll(recipe=recipe)
    pages = [
        listings.with_https_links(listings.listing_html(), env.site.base_url),
        listings.without_article(listings.listing_html(), "749187"),
        listings.listing_html(),
    ]
    for step, page in enumerate(pages, start=1):
        env.serve(page)
        report = await env.poll(NOW + timedelta(minutes=15 * step), recipe=recipe)
        assert report.outcome == "unchanged", (step, report)
    assert env.store.item_count("haiphong") == 12
    assert env.pending() == []


async def test_old_new_items_are_stored_but_not_announced(env: Env) -> None:
    env.subscribe(1)
    await env.poll()
    env.serve(listings.with_article(listings.listing_html(), 749400, "Tin cũ", "01/10/2024"))

    report = await env.poll(NOW + timedelta(minutes=15))

    assert [item.item_id for item in report.new_items] == ["749400"]
    assert env.pending() == []  # older than max_age (3 days)


# --- failures change nothing -------------------------------------------------------------------


async def test_markup_change_is_a_scrape_error_that_keeps_the_feed(env: Env) -> None:
    recipe = _no_fallback(env.recipe)
    env.subscribe(1)
    await env.poll(recipe=recipe)
    before = env.snapshot()
    env.serve(listings.with_changed_markup(listings.listing_html()))

    first = await env.poll(NOW + timedelta(minutes=15), recipe=recipe)
    second = await env.poll(NOW + timedelta(minutes=30), recipe=recipe)

    assert first.outcome == "failed" and first.error and "has the markup changed?" in first.error
    assert second.outcome == "failed"
    assert env.snapshot() == before
    assert len(env.alerts) == 1 and "has the markup changed?" in env.alerts[0]  # once, at once
    health = env.store.health("haiphong")
    assert health.consecutive_failures == 2 and health.last_error == first.error


async def test_fallback_finds_the_same_articles_under_new_markup(env: Env) -> None:
    await env.poll()
    env.serve(listings.with_changed_markup(listings.listing_html()))

    report = await env.poll(NOW + timedelta(minutes=15))

    assert report.outcome == "unchanged"
    assert any("auto-detected" in warning for warning in report.warnings)


@pytest.mark.parametrize("change", [listings.redesigned, listings.without_list])
async def test_fallback_refuses_a_list_unrelated_to_the_history(env: Env, change: Any) -> None:
    env.subscribe(1)
    await env.poll()
    before = env.snapshot()
    env.serve(change(listings.listing_html()))

    report = await env.poll(NOW + timedelta(minutes=15))

    assert report.outcome == "failed"
    assert report.error and "has the markup changed?" in report.error
    assert env.snapshot() == before


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (Status(500), "HTTP 500"),
        (Garbage(), "invalid response"),
        (Status(200, {"Content-Type": "application/octet-stream"}, b"\x00\x9c\xffPK<\x00"),
         "not HTML"),
        (Status(200, {"Content-Type": "text/html"}, b""), "not HTML"),
    ],
    ids=["500", "not-http", "binary-200", "empty-200"],
)
async def test_fetch_failures_change_nothing(env: Env, behaviour: Behaviour, expected: str) -> None:
    env.subscribe(1)
    await env.poll()
    cache = env.store.health("haiphong").cache
    before = env.snapshot()
    env.serve(listings.with_article(listings.listing_html(), 749400, "Bài mới", TODAY))
    env.site.set_route(PATH, behaviour)

    report = await env.poll(NOW + timedelta(minutes=15))

    assert report.outcome == "failed" and report.error and expected in report.error
    assert "\n" not in report.error
    assert env.snapshot() == before
    health = env.store.health("haiphong")
    assert health.consecutive_failures == 1 and health.cache == cache
    env.site.set_route(PATH, None)
    recovered = await env.poll(NOW + timedelta(minutes=30))
    assert [item.item_id for item in recovered.new_items] == ["749400"]
    assert env.pending() == [(1, "749400")]


async def test_alerts_after_three_failures_and_on_recovery(env: Env) -> None:
    await env.poll()
    env.site.set_route(PATH, Status(503))
    delays = []
    for minute in range(1, 5):
        now = NOW + timedelta(minutes=15 * minute)
        await env.poll(now)
        next_poll_at = env.store.health("haiphong").next_poll_at
        assert next_poll_at is not None
        delays.append(next_poll_at - now)
    assert len(env.alerts) == 1 and "HTTP 503" in env.alerts[0]
    assert delays == sorted(delays) and delays[-1] > timedelta(hours=1)  # backing off
    env.site.set_route(PATH, None)

    report = await env.poll(NOW + timedelta(hours=3))

    assert report.outcome in ("unchanged", "not_modified")
    assert len(env.alerts) == 2 and "works again" in env.alerts[1]
    assert env.store.health("haiphong").consecutive_failures == 0


async def test_a_failed_publish_is_reported_not_raised(env: Env) -> None:
    env.public_dir.write_text("not a directory")

    report = await env.poll()

    assert report.outcome == "failed"
    assert report.error and "cannot write feed files" in report.error


async def test_a_failed_publish_is_retried_by_the_next_poll(env: Env) -> None:
    env.serve(listings.listing_html(), validators=False)
    await env.poll()
    all_xml = env.public_dir / "feeds" / "all.xml"
    all_xml.unlink()
    (all_xml / "blocker").mkdir(parents=True)  # renaming the new all.xml over it fails
    changed = listings.with_article(listings.listing_html(), 749400, "Tin mới", TODAY)
    env.serve(changed, validators=False)
    failed = await env.poll(NOW + timedelta(minutes=15))
    assert failed.outcome == "failed" and [i.item_id for i in failed.new_items] == []
    (all_xml / "blocker").rmdir()
    all_xml.rmdir()

    retried = await env.poll(NOW + timedelta(minutes=30))  # stored already: nothing new

    assert retried.outcome == "unchanged"
    assert b"749400" in all_xml.read_bytes()


async def test_deferred_all_feed_is_written_once_by_publish_all(env: Env) -> None:
    env.deps.defer_all = True
    all_xml = env.public_dir / "feeds" / "all.xml"

    await env.poll()

    assert (env.public_dir / "feeds" / "haiphong.xml").is_file()
    assert env.deps.all_stale and not all_xml.exists()
    publish_all(env.deps)
    assert not env.deps.all_stale
    assert len(feedparser.parse(all_xml.read_bytes()).entries) == 12
    all_xml.unlink()
    publish_all(env.deps)  # nothing changed since: not written again
    assert not all_xml.exists()


async def test_torn_or_missing_feed_files_are_rewritten_from_the_store(env: Env) -> None:
    await env.poll()
    feeds = env.public_dir / "feeds"
    whole = {path.name: path.read_bytes() for path in feeds.glob("*.*")}
    (feeds / "haiphong.xml").write_bytes(whole["haiphong.xml"][:100])  # cut short
    (feeds / "haiphong.atom").write_bytes(b"\0" * len(whole["haiphong.atom"]))  # data never came
    (feeds / "haiphong.json").write_bytes(b"")  # renamed before its data reached the disk
    (feeds / "all.xml").unlink()

    assert repair_feeds(env.deps) == ["haiphong"]

    assert {path.name: path.read_bytes() for path in feeds.glob("*.*")} == whole
    assert repair_feeds(env.deps) == []  # all whole now: nothing to do


# --- flood guard -------------------------------------------------------------------------------


def test_flood_threshold_is_more_than_five_and_more_than_half_the_page() -> None:
    seeded, fresh = FeedHealth("f", seeded=True), FeedHealth("f")
    assert not is_flood(seeded, 6, 12) and is_flood(seeded, 7, 12)
    assert not is_flood(seeded, 5, 5) and is_flood(seeded, 6, 6)
    assert not is_flood(seeded, 5, 40) and is_flood(seeded, 21, 40) and not is_flood(seeded, 20, 40)
    assert not is_flood(fresh, 12, 12)


async def test_flood_guard_stores_all_announces_none_alerts_once(env: Env) -> None:
    env.subscribe(1)
    await env.poll()
    env.serve(listings.with_new_ids(listings.listing_html()))

    flood = await env.poll(NOW + timedelta(minutes=15))

    assert flood.outcome == "new" and flood.flood and len(flood.new_items) == 12
    assert env.store.item_count("haiphong") == 24
    feed = (env.public_dir / "feeds" / "haiphong.xml").read_text()
    assert "9749312" in feed  # published all the same
    assert env.pending() == []
    assert len(env.alerts) == 1 and "12 of 12 items" in env.alerts[0]
    held = env.store.health("haiphong")  # the index page and /healthz say so
    assert (held.held_back_at, held.held_back_items) == (NOW + timedelta(minutes=15), 12)
    env.serve(listings.with_article(listings.with_new_ids(listings.listing_html()), 749400,
                                    "Bài mới", TODAY))

    normal = await env.poll(NOW + timedelta(minutes=30))

    assert not normal.flood and [item.item_id for item in normal.new_items] == ["749400"]
    assert env.pending() == [(1, "749400")]
    assert len(env.alerts) == 1
    cleared = env.store.health("haiphong")
    assert (cleared.held_back_at, cleared.held_back_items) == (None, 0)


async def test_a_page_with_nothing_known_left_alerts_a_gap(env: Env) -> None:
    small = listings.listing_html()
    for article_id in listings.IDS[4:]:
        small = listings.without_article(small, article_id)  # four items per page
    env.serve(small)
    await env.poll()
    fresh = small
    for article_id in listings.IDS[:4]:
        fresh = listings.without_article(fresh, article_id)
    for n in range(4):
        fresh = listings.with_article(fresh, 749400 + n, f"Tin {n}", TODAY)
    env.serve(fresh)

    report = await env.poll(NOW + timedelta(minutes=15))

    assert len(report.new_items) == 4 and not report.flood
    assert len(env.alerts) == 1 and "may have been missed" in env.alerts[0]


# --- conditional GET and the periodic unconditional one ----------------------------------------


async def test_a_server_answering_304_forever_is_refetched_after_12_hours(env: Env) -> None:
    env.serve(listings.listing_html(), etag='"v1"', last_modified="")
    await env.poll()
    # The site publishes but keeps its ETag: every conditional GET still gets 304.
    env.serve(listings.with_article(listings.listing_html(), 749400, "Bài mới", TODAY),
              etag='"v1"', last_modified="")
    for later in (timedelta(minutes=15), timedelta(hours=6), timedelta(hours=11, minutes=59)):
        env.restart()
        report = await env.poll(NOW + later)
        assert report.outcome == "not_modified", later

    report = await env.poll(NOW + timedelta(hours=12))

    assert [item.item_id for item in report.new_items] == ["749400"]
    sent = [request.headers.get("if-none-match") for request in env.site.requests_for(PATH)]
    assert sent == [None, '"v1"', '"v1"', '"v1"', None]
    assert env.store.health("haiphong").last_full_fetch_at == NOW + timedelta(hours=12)
    assert (await env.poll(NOW + timedelta(hours=12, minutes=15))).outcome == "not_modified"


async def test_not_modified_keeps_the_feed_and_counts_as_success(env: Env) -> None:
    await env.poll()
    before = env.snapshot()

    report = await env.poll(NOW + timedelta(minutes=15))

    assert report.outcome == "not_modified"
    assert env.snapshot() == before
    health = env.store.health("haiphong")
    assert health.last_success_at == NOW + timedelta(minutes=15)
    assert health.last_full_fetch_at == NOW


# --- dry run -----------------------------------------------------------------------------------


async def test_preview_reports_what_a_poll_would_find_and_changes_nothing(env: Env) -> None:
    env.subscribe(1)
    await env.poll()
    health = env.store.health("haiphong")
    before = env.snapshot()
    env.serve(listings.with_article(listings.listing_html(), 749400, "Bài mới", TODAY))

    report = await preview_source(env.recipe, env.deps, NOW + timedelta(minutes=15))

    assert report.outcome == "new" and [i.item_id for i in report.new_items] == ["749400"]
    assert env.snapshot() == before
    assert env.store.health("haiphong") == health


# --- pagination --------------------------------------------------------------------------------


def _paged(recipe: Recipe) -> Recipe:
    assert recipe.rules is not None
    return replace(recipe, rules=replace(recipe.rules, next_page=Pick("a.next-page", "href")))


def _page(env: Env, number: int, html: str) -> None:
    path = PATH if number == 1 else f"{PATH}?page={number}"
    env.site.set_page(path, listings.with_next_link(html, f"{PATH}?page={number + 1}"))


def _with_articles(html: str, ids: range) -> str:
    for article_id in ids:  # each goes on top: the last one is the newest
        html = listings.with_article(html, article_id, f"Tin số {article_id}", TODAY)
    return html


async def test_a_burst_of_news_is_read_back_to_a_known_item(env: Env) -> None:
    recipe = _paged(env.recipe)
    env.subscribe(1)
    _page(env, 1, listings.listing_html())
    _page(env, 2, listings.listing_html())
    seed = await env.poll(recipe=recipe)
    assert len(seed.new_items) == 12 and env.site.count(f"{PATH}?page=2") == 0  # seeds page 1
    # 25 articles published since: twelve per page, the 25th first on page 3 above the old ones.
    empty = listings.emptied(listings.listing_html())
    _page(env, 1, _with_articles(empty, range(750014, 750026)))
    _page(env, 2, _with_articles(empty, range(750002, 750014)))
    _page(env, 3, _with_articles(listings.without_article(listings.listing_html(), "748835"),
                                 range(750001, 750002)))
    _page(env, 4, listings.listing_html())

    report = await env.poll(NOW + timedelta(minutes=15), recipe=recipe)

    expected = [str(article_id) for article_id in range(750001, 750026)]
    assert not report.flood and [item.item_id for item in report.new_items] == expected
    assert env.pending() == [(1, article_id) for article_id in expected]
    assert [env.site.count(f"{PATH}?page={n}") for n in (2, 3, 4)] == [1, 1, 0]
    assert env.alerts == []


async def test_pagination_stops_after_five_pages_and_the_flood_guard_holds(env: Env) -> None:
    recipe = _paged(env.recipe)
    env.subscribe(1)
    await env.poll(recipe=recipe)
    for number in range(1, 8):
        _page(env, number, listings.with_new_ids(listings.listing_html(), prefix=str(number)))

    report = await env.poll(NOW + timedelta(minutes=15), recipe=recipe)

    assert report.flood and len(report.new_items) == 60
    assert [env.site.count(f"{PATH}?page={n}") for n in range(2, 8)] == [1, 1, 1, 1, 0, 0]
    assert env.pending() == []
    assert len(env.alerts) == 1 and "60 of 60 items" in env.alerts[0]


async def test_an_unreadable_next_page_keeps_what_was_read(env: Env) -> None:
    recipe = _paged(env.recipe)
    await env.poll(recipe=recipe)
    fresh = _with_articles(listings.emptied(listings.listing_html()), range(750001, 750004))
    _page(env, 1, fresh)
    env.site.set_route(f"{PATH}?page=2", Status(500))

    report = await env.poll(NOW + timedelta(minutes=15), recipe=recipe)

    assert report.outcome == "new" and len(report.new_items) == 3 and not report.flood
    assert len(env.alerts) == 1 and "may have been missed" in env.alerts[0]


async def test_same_bytes_without_validators_skip_parsing_until_something_changes(
    env: Env,
) -> None:
    env.serve(listings.listing_html(), validators=False)
    await env.poll()
    feed = env.public_dir / "feeds" / "haiphong.xml"
    written_at = feed.stat().st_mtime_ns
    # The recipe's item selector now matches nothing: a parse would fail, a skip cannot.
    rules = replace(env.recipe.rules, item="div.nothing-here", fallback="none")
    broken = replace(env.recipe, rules=rules)
    env.deps.feeds = {broken.feed_id: broken}

    same = await env.poll(NOW + timedelta(minutes=15), recipe=env.recipe)
    assert same.outcome == "unchanged"
    assert same.warnings == ()  # the page was not scraped again (a scrape warns of one image)
    with_broken_recipe = await env.poll(NOW + timedelta(minutes=30), recipe=broken)
    assert with_broken_recipe.outcome == "failed"  # a different recipe is not the same poll
    assert feed.stat().st_mtime_ns == written_at  # nothing changed: no rewrite

    changed = listings.with_article(listings.listing_html(), 749400, "Tin mới", TODAY)
    env.serve(changed, validators=False)
    report = await env.poll(NOW + timedelta(minutes=45))
    assert [item.item_id for item in report.new_items] == ["749400"]
    assert b"749400" in feed.read_bytes()


async def test_deleted_feed_files_are_written_again_on_an_unchanged_poll(env: Env) -> None:
    env.serve(listings.listing_html(), validators=False)
    await env.poll()
    feed = env.public_dir / "feeds" / "haiphong.xml"
    expected = feed.read_bytes()
    feed.unlink()
    env.restart()  # a new process: no fingerprint, so the page is read again

    report = await env.poll(NOW + timedelta(minutes=15))

    assert report.outcome == "unchanged"
    assert feed.read_bytes() == expected


# --- sections and official documents -----------------------------------------------------------

NOTICES_PATH = "/thong-bao"
STEERING_PATH = "/chi-dao-dieu-hanh"
NOTICES = (FIXTURES / "haiphong" / "thong-bao.html").read_text(encoding="utf-8")
NOTICE_IDS = ["749420", "749398", "749371", "749355", "749340", "749322", "749305", "749290"]


def use_sections(env: Env, recipe: Recipe | None = None) -> Recipe:
    """The shipped recipe's three sections, pointed at the fake site (Chỉ đạo điều hành: 404)."""
    base = recipe or env.recipe
    names = {s.section_id: s.name for s in base.sections}
    paths = {"tin-tuc-su-kien": PATH, "thong-bao": NOTICES_PATH, "chi-dao-dieu-hanh": STEERING_PATH}
    sections = tuple(Section(sid, names[sid], env.site.url_for(p)) for sid, p in paths.items())
    env.recipe = replace(base, urls=tuple(s.url for s in sections), sections=sections)
    env.deps = _deps(env.store, env.fetcher, env.tmp, env.recipe, env.alerts)
    env.site.set_page(NOTICES_PATH, NOTICES)
    return env.recipe


def with_notice(html: str, article_id: int, title: str, day: str) -> str:
    """A new notice on top of the Thông báo list, with its PDF."""
    block = (f'<li class="row"><div><h2 class="Title"><a href="/thong-bao/van-ban-{article_id}">'
             f"{title}</a></h2><p>{title}</p><div class=\"Ngaydang\">{day}</div>"
             f'<a class="link-download" href="/files/{article_id}.pdf">Tải về</a></div></li>')
    return html.replace('<ul class="ArticleList">', f'<ul class="ArticleList">{block}', 1)


async def test_sections_are_polled_tagged_and_published_each_in_its_own_feed(env: Env) -> None:
    use_sections(env)

    report = await env.poll()

    assert report.outcome == "new" and len(report.new_items) == 12 + 8
    assert env.site.count(STEERING_PATH) == 1  # 404: skipped, the others go on
    assert ids_of(env.store.items("haiphong", section="thong-bao", limit=50)) == sorted(
        NOTICE_IDS, reverse=True)
    assert len(env.store.items("haiphong", section="tin-tuc-su-kien")) == 12
    decision = next(i for i in env.store.items("haiphong") if i.item_id == "749398")
    assert (decision.doc_number, decision.doc_type) == ("3856/QĐ-UBND", "Quyết định")
    assert [a.kind for a in decision.attachments] == ["pdf", "docx"]
    feeds = env.public_dir / "feeds"
    notices = feedparser.parse((feeds / "haiphong" / "thong-bao.xml").read_bytes())
    assert len(notices.entries) == 8 and notices.feed.title.endswith("– Thông báo")
    assert any(e.enclosures and e.enclosures[0].type == "application/pdf" for e in notices.entries)
    assert (feeds / "haiphong" / "chi-dao-dieu-hanh.json").is_file()  # empty, but there
    assert len(feedparser.parse((feeds / "haiphong.xml").read_bytes()).entries) == 20


async def test_an_item_listed_in_two_sections_belongs_to_the_first(env: Env) -> None:
    use_sections(env)
    env.site.set_page(NOTICES_PATH, listings.listing_html())  # the same twelve items

    report = await env.poll()

    assert len(report.new_items) == 12
    assert {i.section for i in env.store.items("haiphong")} == {"tin-tuc-su-kien"}


async def test_the_first_section_failing_fails_the_poll(env: Env) -> None:
    use_sections(env)
    env.site.set_route(PATH, Status(500))

    report = await env.poll()

    assert report.outcome == "failed" and "500" in (report.error or "")
    assert env.store.item_count("haiphong") == 0 and env.site.count(NOTICES_PATH) == 0


async def test_a_later_section_with_changed_markup_is_a_warning(env: Env) -> None:
    recipe = use_sections(env, _no_fallback(env.recipe))
    env.site.set_page(NOTICES_PATH, listings.with_changed_markup(NOTICES))

    report = await env.poll(recipe=recipe)

    assert report.outcome == "new" and len(report.new_items) == 12
    assert any("section 'Thông báo' skipped" in w and "markup" in w for w in report.warnings)


async def test_new_notices_reach_type_and_section_filters_with_the_main_page_unchanged(
    env: Env,
) -> None:
    use_sections(env)
    env.subscribe(1, "type:quyết định")
    env.subscribe(2, "section:thông báo")
    env.subscribe(3, "hai an")
    await env.poll()
    env.site.set_page(NOTICES_PATH, with_notice(
        NOTICES, 749500, "Quyết định số 4001/QĐ-UBND về giá đất", TODAY))

    report = await env.poll(NOW + timedelta(minutes=15))

    assert [(i.item_id, i.doc_type, i.section) for i in report.new_items] == [
        ("749500", "Quyết định", "thong-bao")]
    assert env.pending() == [(1, "749500"), (2, "749500")]
    main_requests = env.site.requests_for(PATH)
    assert "if-none-match" in main_requests[-1].headers  # the main page: a conditional GET
    stored = next(i for i in env.store.items("haiphong") if i.item_id == "749500")
    assert [a.url for a in stored.attachments] == [env.site.url_for("/files/749500.pdf")]


async def test_enrichment_adds_the_article_pages_files_to_the_listings(env: Env) -> None:
    oldest = listings.IDS[-1]  # enriched first: new items are read oldest first
    article_path = next(p for p in re_hrefs(listings.listing_html()) if p.endswith(oldest))
    start = listings.listing_html().index(f'href="{article_path}"')
    end = listings.listing_html().index("</li>", start)
    env.serve(listings.listing_html()[:end] + '<a href="/files/danh-sach.xlsx">Danh sách</a>'
              + listings.listing_html()[end:])
    env.site.set_page(article_path, (
        "<html><body><div class='ArticleContent'><p>Nội dung</p>"
        "<a href='/files/quyet-dinh.pdf'>Toàn văn quyết định</a>"
        "<a href='/files/danh-sach.xlsx'>Danh sách (bản khác)</a></div></body></html>"))
    recipe = replace(env.recipe, article=ArticleRules(content=Pick("div.ArticleContent")))

    await env.poll(recipe=recipe)

    stored = next(i for i in env.store.items("haiphong") if i.item_id == oldest)
    assert [(a.name, a.kind) for a in stored.attachments] == [
        ("Danh sách", "xlsx"), ("Toàn văn quyết định", "pdf")]


def ids_of(items: list[Any]) -> list[str]:
    return [item.item_id for item in items]


def re_hrefs(html: str) -> list[str]:
    return re.findall(r'href="(/tin-tuc-su-kien/[^"]+)"', html)
