"""Server-side request forgery (issue 12, item 3): a page on the internet cannot make newsbot
fetch from this machine or its network.

The fake site runs on 127.0.0.1. "news.example" plays a site on the internet: the fetcher's
resolver seam makes that name resolve to 127.0.0.1, and `[fetch] allow_private` lets the
recipe's own host through, exactly as an operator would for an intranet site. Links and
redirects to 127.0.0.1 itself must then still be refused: they are not the recipe's host.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.site import FakeSite, Redirect

from bot.errors import FetchError
from bot.model import PollReport
from bot.pipeline import PollDeps, poll_source
from bot.recipes import load_recipe
from bot.source.connect import system_resolver
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store

PUBLIC_NAME = "news.example"
NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
SECRET = "db_password=hunter2"
ADMIN_PAGE = f"<html><body><div class='content'>{SECRET}</div><ul class='news'>" + "".join(
    f"<li><a href='/admin/{n}'>Quản trị {n}</a></li>" for n in range(3)
) + "</ul></body></html>"
POLICY = FetchPolicy(min_host_gap=0, respect_robots=False, deadline=10)
ALLOW_NAME = (PUBLIC_NAME,)


class Resolver:
    """The resolver seam: PUBLIC_NAME (and any name in `answers`) -> fixed addresses; counts."""

    def __init__(self, answers: dict[str, Sequence[str]] | None = None) -> None:
        self.answers = {PUBLIC_NAME: ["127.0.0.1"], **(answers or {})}
        self.calls: list[str] = []

    async def __call__(self, host: str) -> Sequence[str]:
        self.calls.append(host)
        if host in self.answers:
            return self.answers[host]
        return await system_resolver(host)


@dataclass
class World:
    site: FakeSite
    resolver: Resolver
    stores: list[Store] = field(default_factory=list)

    def public_url(self, path: str) -> str:
        return f"http://{PUBLIC_NAME}:{self.site.port}{path}"

    def fetcher(self, *allow_private: str) -> Fetcher:
        policy = FetchPolicy(**{**POLICY.__dict__, "allow_private": allow_private})
        return Fetcher(policy, resolver=self.resolver)


@pytest.fixture
async def world() -> AsyncIterator[World]:
    async with FakeSite() as site:
        site.set_page("/admin", ADMIN_PAGE)
        site.set_page("/admin/secret-article", ADMIN_PAGE)
        world = World(site, Resolver())
        yield world
        for store in world.stores:
            store.close()


def listing(links: Sequence[str]) -> str:
    items = "".join(f"<li><a href='{href}'>Tin số {n}</a></li>" for n, href in enumerate(links))
    return f"<html><body><ul class='news'>{items}</ul></body></html>"


def write_recipe(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "feeds" / "news.toml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        f'title = "Tin"\nurl = "{url}"\n'
        '[list]\nitem = "ul.news li"\ntitle = "a"\nlink = "a@href"\n'
        '[article]\ncontent = "div.content"\n',
        encoding="utf-8",
    )
    return path


async def poll(
    world: World, tmp_path: Path, fetcher: Fetcher, recipe_url: str
) -> tuple[Store, PollReport, str]:
    """One full poll of a recipe at `recipe_url`: the store, the report, the RSS (or '')."""
    recipe = load_recipe(write_recipe(tmp_path, recipe_url))
    store = Store.open(tmp_path / "newsbot.db")
    world.stores.append(store)
    deps = PollDeps(store=store, fetcher=fetcher, public_dir=tmp_path / "public",
                    public_url="http://feeds.test", feeds={recipe.feed_id: recipe})
    report = await poll_source(recipe, deps, NOW)
    feed = tmp_path / "public" / "feeds" / "news.xml"
    return store, report, feed.read_text(encoding="utf-8") if feed.exists() else ""


# --- the attacks of the issue, as a full poll -------------------------------------------------


async def test_a_listing_redirecting_to_loopback_is_refused_and_nothing_is_stored(
    world: World, tmp_path: Path
) -> None:
    world.site.set_route("/list", Redirect(world.site.url_for("/admin")))
    async with world.fetcher(*ALLOW_NAME) as fetcher:
        store, report, feed = await poll(world, tmp_path, fetcher, world.public_url("/list"))

    error = report.error
    assert world.site.count("/list") == 1  # the recipe's own host was fetched...
    assert world.site.count("/admin") == 0  # ...its redirect to 127.0.0.1 never was
    assert error is not None and "127.0.0.1 is a loopback address" in error, error
    assert f"redirected from {world.public_url('/list')}" in error and "allow_private" in error
    assert store.items("news", limit=10) == [] and feed == ""
    assert store.health("news").consecutive_failures == 1  # a failed poll: backoff


async def test_an_item_linking_to_loopback_is_stored_without_fetching_the_link(
    world: World, tmp_path: Path
) -> None:
    world.site.set_page("/list", listing([world.site.url_for("/admin/secret-article"),
                                          "/a/1"]))
    world.site.set_page("/a/1", "<html><div class='content'>Bài báo công khai</div></html>")
    async with world.fetcher(*ALLOW_NAME) as fetcher:
        store, _, feed = await poll(world, tmp_path, fetcher, world.public_url("/list"))

    assert world.site.count("/admin/secret-article") == 0
    assert world.site.count("/a/1") == 1  # enrichment works where it may go
    assert len(store.items("news", limit=10)) == 2  # the listing is not blocked by the link
    assert "Bài báo công khai" in feed and SECRET not in feed


async def test_a_recipe_on_loopback_reaches_loopback_as_before(
    world: World, tmp_path: Path
) -> None:
    """The 'recipe's own url is in that range' rule: tests and intranet portals keep working."""
    world.site.set_page("/list", listing(["/admin/secret-article"]))
    async with world.fetcher() as fetcher:
        _, _, feed = await poll(world, tmp_path, fetcher, world.site.url_for("/list"))

    assert world.site.count("/admin/secret-article") == 1 and SECRET in feed


# --- the guard on resolved addresses -----------------------------------------------------------


async def test_a_public_name_resolving_to_loopback_is_refused(world: World) -> None:
    async with world.fetcher() as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(world.public_url("/admin"))
    assert "news.example (127.0.0.1) is a loopback address" in str(caught.value)
    assert world.site.count("/admin") == 0


async def test_the_name_is_resolved_once_per_connection_and_that_address_is_used(
    world: World,
) -> None:
    """No second lookup between check and connect (DNS rebinding): the system resolver knows
    nothing of news.example, so a page arriving proves the checked answer was connected to."""
    async with world.fetcher(*ALLOW_NAME) as fetcher:
        page = await fetcher.fetch(world.public_url("/admin"))
    assert page.status == 200 and world.resolver.calls == [PUBLIC_NAME]


async def test_one_private_answer_among_public_ones_refuses_the_name(world: World) -> None:
    world.resolver.answers["mixed.example"] = ["93.184.216.34", "10.0.0.7"]
    async with world.fetcher() as fetcher:
        with pytest.raises(FetchError, match=r"mixed.example \(10.0.0.7\) is a private address"):
            await fetcher.fetch("http://mixed.example/news",
                                recipe_urls=["http://mixed.example/news"])


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped IPv6
        ("[::1]", "loopback"),
        ("0.0.0.0", "unspecified"),  # reaches this machine on Linux
        ("2130706433", "loopback"),  # 127.0.0.1 as one number, resolved by the system
        ("169.254.169.254", "link-local"),  # cloud metadata
        ("10.1.2.3", "private"),
        ("[fd00::1]", "unique-local"),
        ("224.0.0.1", "multicast"),
        ("localhost", "loopback"),
    ],
)
async def test_every_spelling_of_an_internal_address_is_refused_for_a_public_recipe(
    world: World, host: str, kind: str
) -> None:
    async with world.fetcher() as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(f"http://{host}:{world.site.port}/admin",
                                recipe_urls=["https://news.example/list"])
    assert f"is a {kind} address" in str(caught.value) or f"is an {kind} address" in str(
        caught.value
    ), caught.value
    assert world.site.count("/admin") == 0


async def test_a_kept_alive_connection_is_not_shared_with_a_fetch_allowed_less(
    world: World,
) -> None:
    """A loopback recipe's open connection to 127.0.0.1 must not carry a public recipe's
    request there: pools are kept apart by what their fetches may reach."""
    url = world.site.url_for("/admin")
    async with world.fetcher() as fetcher:
        assert (await fetcher.fetch(url, recipe_urls=[world.site.url])).status == 200
        with pytest.raises(FetchError, match="loopback address"):
            await fetcher.fetch(url, recipe_urls=["https://news.example/list"])
    assert world.site.count("/admin") == 1


async def test_allow_private_networks_and_names(world: World) -> None:
    url = world.public_url("/admin")
    for allowed in (("127.0.0.0/8",), ("127.0.0.1",), (PUBLIC_NAME,), ("NEWS.example.",)):
        async with world.fetcher(*allowed) as fetcher:
            assert (await fetcher.fetch(url)).status == 200, allowed
    for other in (("10.0.0.0/8",), ("other.example",), ("::1",)):
        async with world.fetcher(*other) as fetcher:
            with pytest.raises(FetchError, match="loopback"):
                await fetcher.fetch(url)
