"""`newsbot add URL` and `newsbot import FILE.opml` (issue 15, item 2) end to end: bot.cli.main
in-process (and the console script on a real terminal) against fake sites on loopback that serve
RSS, Atom and JSON feeds, a page linking a feed, a site with a feed at a usual path, and a page
with none; the recipes written are then polled by `newsbot poll`."""

from __future__ import annotations

import gc
import logging
import os
import pty
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from xml.sax.saxutils import quoteattr
from zoneinfo import ZoneInfo

import pytest
from fakes import feedfiles, listings
from fakes.feed_server import FeedServerThread
from fakes.site import FakeSite

from bot.add import guess_id
from bot.cli import main
from bot.feedfiles import feed_meta
from bot.recipes import load_recipes
from bot.store.db import Store

NEWSBOT = Path(sys.executable).parent / "newsbot"
LINKING_PAGE = (
    '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Tin tức | Báo thử</title>'
    '<link rel="alternate" type="application/rss+xml" title="Bình luận" href="/comments.xml">'
    '<link rel="alternate" type="application/atom+xml" title="Tin mới" href="/tin/atom.xml">'
    "</head><body><p>Trang tin</p></body></html>"
)
NO_LIST_PAGE = "<html><head><title>Giới thiệu</title></head><body><p>Chào bạn.</p></body></html>"


@dataclass
class Run:
    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@dataclass
class Install:
    """A newsbot installation in a folder: config, feeds/, data/."""

    root: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def config(self) -> Path:
        return self.root / "config.toml"

    @property
    def feeds(self) -> Path:
        return self.root / "feeds"

    def run(self, *args: str) -> Run:
        # Earlier tests' fake sites, collected while main()'s log handler is installed, would
        # log "Task was destroyed" into this run's stderr: collect them first.
        gc.collect()
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def recipe_files(self) -> list[str]:
        return sorted(path.name for path in self.feeds.glob("*"))


def make_install(root: Path, capsys: pytest.CaptureFixture[str]) -> Install:
    (root / "feeds").mkdir(parents=True)
    (root / "config.toml").write_text(
        '[fetch]\nmin_host_gap = 0.001\nrespect_robots = false\n'
        '[server]\npublic_url = "http://feeds.test"\n', encoding="utf-8")
    return Install(root, capsys)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() installs its own log handler on the root logger: put pytest's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Install:
    return make_install(tmp_path / "a", capsys)


@pytest.fixture
def feeds_site() -> Iterator[FakeSite]:
    """A news site with feeds: /rss.xml, /atom.xml, /feed.json, and /tin linking /tin/atom.xml
    (after a comments feed)."""
    with FakeSite.start_in_thread() as site:
        serve_feeds(site, 12)
        site.set_page("/tin", LINKING_PAGE)
        site.set_page("/comments.xml", feedfiles.rss20(feedfiles.entries(3, site.base_url + "/c"),
                                                       title="Bình luận"),
                      content_type=feedfiles.RSS_TYPE)
        yield site


def serve_feeds(site: FakeSite, count: int) -> None:
    entries = feedfiles.entries(count, site.base_url)
    site.set_page("/rss.xml", feedfiles.rss20(entries), content_type=feedfiles.RSS_TYPE)
    site.set_page("/atom.xml", feedfiles.atom(entries), content_type=feedfiles.ATOM_TYPE)
    site.set_page("/feed.json", feedfiles.json_feed(entries), content_type=feedfiles.JSON_TYPE)
    site.set_page("/tin/atom.xml", feedfiles.atom(entries), content_type=feedfiles.ATOM_TYPE)
    site.set_page("/feed", feedfiles.rss20(entries), content_type=feedfiles.RSS_TYPE)


@pytest.fixture
def usual_site() -> Iterator[FakeSite]:
    """A site whose page links no feed, with a feed at /feed (found by trying usual paths)."""
    with FakeSite.start_in_thread() as site:
        site.set_page("/trang", listings.listing_html())
        serve_feeds(site, 12)
        del site.pages["/rss.xml"], site.pages["/atom.xml"], site.pages["/feed.json"]
        yield site


@pytest.fixture
def page_site() -> Iterator[FakeSite]:
    """A site with no feed anywhere: a listing page to scrape, and a page with no list."""
    with FakeSite.start_in_thread() as site:
        site.set_page("/tin-tuc", listings.listing_html())
        site.set_page("/gioi-thieu", NO_LIST_PAGE)
        yield site


# --- add: each kind of source ------------------------------------------------------------------


CASES = {
    # case: (site fixture, path given, how it is found, the recipe line it writes)
    "rss": ("feeds_site", "/rss.xml", "Found a feed", 'feed = "{base}/rss.xml"'),
    "atom": ("feeds_site", "/atom.xml", "Found a feed", 'feed = "{base}/atom.xml"'),
    "json": ("feeds_site", "/feed.json", "Found a feed", 'feed = "{base}/feed.json"'),
    "linking page": ("feeds_site", "/tin", "Found the feed the page links",
                     'feed = "{base}/tin/atom.xml"'),
    "usual path": ("usual_site", "/trang", "Found the site's feed at /feed",
                   'feed = "{base}/feed"'),
    "no feed": ("page_site", "/tin-tuc", "Found the list of articles auto-detected",
                'url = "{base}/tin-tuc"'),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_add_writes_a_recipe_that_poll_then_uses(
    case: str, install: Install, request: pytest.FixtureRequest
) -> None:
    fixture, path, how, line = CASES[case]
    site: FakeSite = request.getfixturevalue(fixture)

    added = install.run("add", site.url_for(path), "--id", "src", "--yes")

    assert added.code == 0, added.err
    assert how in added.out
    assert "the first 5 of 12 items" in added.out
    recipe = (install.feeds / "src.toml").read_text(encoding="utf-8")
    assert line.format(base=site.base_url) in recipe.splitlines()
    assert install.recipe_files() == ["src.toml"]  # no temporary file left behind

    first = install.run("poll", "src")
    assert first.code == 0, first.err
    assert "src: 12 new (first poll: stored silently" in first.out

    if case == "no feed":
        site.set_page(path, listings.with_article(listings.listing_html(), 900001,
                                                  "Tin mới nhất của thành phố", listings_today()))
        news = ["Tin mới nhất của thành phố"]
    else:
        serve_feeds(site, 14)
        news = ["Tin số 12: Hải Phòng khởi công cầu mới", "Tin số 13: Hải Phòng khởi công cầu mới"]
    second = install.run("poll", "src")
    assert second.code == 0, second.err
    assert f"src: {len(news)} new\n" in second.out
    for title in news:
        assert title in second.out


def listings_today() -> str:
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")


def test_a_page_linking_feeds_skips_its_comments_feed(install: Install,
                                                      feeds_site: FakeSite) -> None:
    added = install.run("add", feeds_site.url_for("/tin"), "--yes")
    assert added.code == 0, added.err
    assert feeds_site.count("/comments.xml") == 0
    assert install.recipe_files() == ["bao-thu.toml"]  # named after the feed's own title


def test_a_page_with_no_feed_and_no_list_is_one_line_and_writes_nothing(
    install: Install, page_site: FakeSite
) -> None:
    run = install.run("add", page_site.url_for("/gioi-thieu"), "--yes")
    assert run.code == 1
    assert len(run.error_lines) == 1, run.err
    assert "no feed and no list of articles found" in run.err
    assert install.recipe_files() == []


def test_an_existing_id_or_a_source_already_followed_is_refused(
    install: Install, feeds_site: FakeSite
) -> None:
    assert install.run("add", feeds_site.url_for("/rss.xml"), "--id", "a", "--yes").code == 0
    before = (install.feeds / "a.toml").read_bytes()

    same_id = install.run("add", feeds_site.url_for("/atom.xml"), "--id", "a", "--yes")
    assert same_id.code == 1 and len(same_id.error_lines) == 1
    assert "feeds/a.toml already exists" in same_id.err
    assert feeds_site.count("/atom.xml") == 0  # refused before fetching anything

    same_feed = install.run("add", feeds_site.url_for("/rss.xml"), "--id", "b", "--yes")
    assert same_feed.code == 1 and len(same_feed.error_lines) == 1
    assert "is already followed as feeds/a.toml" in same_feed.err

    assert install.recipe_files() == ["a.toml"]
    assert (install.feeds / "a.toml").read_bytes() == before


def test_dry_run_shows_the_recipe_and_writes_nothing(install: Install,
                                                     feeds_site: FakeSite) -> None:
    run = install.run("add", feeds_site.url_for("/rss.xml"), "--dry-run")
    assert run.code == 0
    assert f'feed = "{feeds_site.url_for("/rss.xml")}"' in run.out
    assert "not written" in run.out
    assert install.recipe_files() == []


def test_with_no_terminal_and_no_yes_it_refuses_in_one_line_before_fetching(
    install: Install, feeds_site: FakeSite
) -> None:
    done = subprocess.run([str(NEWSBOT), "--config", str(install.config), "add",
                           feeds_site.url_for("/rss.xml")], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert [line for line in done.stderr.splitlines() if line] == [
        "newsbot: error: add: no terminal to ask on: run it with --yes to save without asking "
        "(or --dry-run to only look)"]
    assert feeds_site.count("/rss.xml") == 0
    assert install.recipe_files() == []


@pytest.mark.parametrize(("answer", "saved"), [("n", False), ("y", True)])
def test_on_a_terminal_it_asks_before_writing(
    answer: str, saved: bool, install: Install, feeds_site: FakeSite
) -> None:
    main_fd, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            [str(NEWSBOT), "--config", str(install.config), "add",
             feeds_site.url_for("/rss.xml"), "--id", "asked"],
            stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(main_fd, f"{answer}\n".encode())
        out, err = proc.communicate(timeout=60)
    finally:
        os.close(main_fd)
        os.close(terminal)
    assert proc.returncode == 0, err
    assert "Save as " in out and "asked.toml? [y/N]" in out
    assert (install.feeds / "asked.toml").exists() is saved
    assert ("nothing written" in out) is not saved


def test_feed_ids_come_from_the_site_name_then_the_title() -> None:
    assert guess_id("https://vnexpress.net/rss/the-gioi.rss", "VnExpress - Thế giới",
                    set()) == "vnexpress"
    assert guess_id("https://vnexpress.net/rss/the-gioi.rss", "VnExpress - Thế giới",
                    {"vnexpress"}) == "vnexpress-the-gioi"
    assert guess_id("https://feeds.bbci.co.uk/news/rss.xml", "BBC News", set()) == "bbci"
    assert guess_id("http://127.0.0.1:8080/rss", "Báo Hải Phòng", set()) == "bao-hai-phong"
    assert guess_id("http://127.0.0.1:8080/rss", "Báo Hải Phòng",
                    {"bao-hai-phong", "bao-hai-phong-2"}) == "bao-hai-phong-3"
    assert guess_id("http://127.0.0.1/rss", "연합뉴스", set()) == "feed"
    assert guess_id("https://all.example/rss", "All", set()) != "all"  # the combined feed's


# --- import ------------------------------------------------------------------------------------


def opml(outlines: list[tuple[str, str]], *, nested: bool = True) -> str:
    rows = [f"<outline type=\"rss\" text={quoteattr(title)} xmlUrl={quoteattr(url)}/>"
            for title, url in outlines]
    if nested:  # readers group feeds in folders
        rows = [*rows[:3], f'<outline text="Thư mục">{"".join(rows[3:])}</outline>']
    return ('<?xml version="1.0" encoding="utf-8"?>\n<opml version="2.0"><head><title>Tin'
            f"</title></head><body>{''.join(rows)}</body></opml>")


def twenty_feeds(site: FakeSite) -> list[tuple[str, str]]:
    outlines = []
    for n in range(20):
        fmt = sorted(feedfiles.FORMATS)[n % len(feedfiles.FORMATS)]
        render, content_type = feedfiles.FORMATS[fmt]
        entries = feedfiles.entries(3, f"{site.base_url}/b{n}")
        site.set_page(f"/f/{n}.xml", render(entries, title=f"Báo {n}"), content_type=content_type)
        outlines.append((f"Báo số {n}", site.url_for(f"/f/{n}.xml")))
    return outlines


def test_import_of_an_opml_with_20_feeds_adds_each_once(install: Install, tmp_path: Path,
                                                        feeds_site: FakeSite) -> None:
    outlines = twenty_feeds(feeds_site)
    path = tmp_path / "feeds.opml"
    path.write_text(opml(outlines), encoding="utf-8")

    done = install.run("import", str(path))

    assert done.code == 0, done.err
    assert done.out.count("\nadded ") + done.out.startswith("added ") == 20
    assert "20 added, 0 already followed, 0 failed" in done.out
    recipes = load_recipes(install.feeds)
    assert sorted(r.urls[0] for r in recipes) == sorted(url for _, url in outlines)
    assert {r.title for r in recipes} == {title for title, _ in outlines}  # the OPML's titles
    assert all(r.feed for r in recipes)
    polled = install.run("poll")
    assert polled.code == 0, polled.err
    assert polled.out.count("3 new (first poll: stored silently") == 20

    fetched = sum(feeds_site.count(f"/f/{n}.xml") for n in range(20))
    again = install.run("import", str(path))
    assert again.code == 0
    assert "0 added, 20 already followed, 0 failed" in again.out
    assert sum(feeds_site.count(f"/f/{n}.xml") for n in range(20)) == fetched  # none fetched
    assert len(load_recipes(install.feeds)) == 20


def test_import_reports_each_failure_in_one_line_and_adds_the_rest(
    install: Install, tmp_path: Path, feeds_site: FakeSite
) -> None:
    outlines = [("RSS", feeds_site.url_for("/rss.xml")),
                ("Gone", feeds_site.url_for("/gone.xml")),
                ("A page", feeds_site.url_for("/tin")),
                ("RSS again", feeds_site.url_for("/rss.xml"))]
    path = tmp_path / "list.opml"
    path.write_text(opml(outlines, nested=False), encoding="utf-8")

    done = install.run("import", str(path))

    assert done.code == 1
    assert done.error_lines == [
        f"newsbot: error: not added: {feeds_site.url_for('/gone.xml')}: "
        f"{feeds_site.url_for('/gone.xml')}: HTTP 404 Not Found (the page does not exist; check "
        "the URL in the recipe)",
        f"newsbot: error: not added: {feeds_site.url_for('/tin')}: {feeds_site.url_for('/tin')}: "
        "not a feed (text/html; charset=utf-8) (an OPML outline's xmlUrl must be an RSS, Atom or "
        "JSON feed)",
    ]
    assert "1 added, 1 already followed, 2 failed" in done.out
    assert install.recipe_files() == ["rss.toml"]


@pytest.mark.parametrize("text", [
    '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body>'
    '<outline xmlUrl="http://x.test/&a;"/></body></opml>',
    "<opml><body><outline xmlUrl=",
    "<opml><body><outline text='no url'/></body></opml>",
])
def test_an_unreadable_opml_is_one_line(install: Install, tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.opml"
    path.write_text(text, encoding="utf-8")
    run = install.run("import", str(path))
    assert run.code == 1
    assert len(run.error_lines) == 1 and str(path) in run.err, run.err
    assert install.recipe_files() == []


def test_the_web_servers_opml_round_trips_through_import(
    install: Install, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    feeds_site: FakeSite, page_site: FakeSite,
) -> None:
    """Feeds one newsbot publishes, listed in its /feeds.opml, are what another one imports."""
    assert install.run("add", feeds_site.url_for("/rss.xml"), "--id", "rss", "--yes").code == 0
    assert install.run("add", feeds_site.url_for("/feed.json"), "--id", "json", "--yes").code == 0
    assert install.run("add", page_site.url_for("/tin-tuc"), "--id", "trang", "--yes").code == 0
    assert install.run("poll").code == 0
    recipes = load_recipes(install.feeds)
    with (Store.open(install.root / "data" / "newsbot.db") as store,
          FeedServerThread(store, {r.feed_id: feed_meta(r) for r in recipes}) as server):
        with urllib.request.urlopen(server.url("/feeds.opml"), timeout=10) as response:
            listed = response.read()
        published = {r.feed_id: [i.title for i in store.items(r.feed_id, limit=100)]
                     for r in recipes}
        other = make_install(tmp_path / "b", capsys)
        (tmp_path / "feeds.opml").write_bytes(listed)

        done = other.run("import", str(tmp_path / "feeds.opml"))
        assert done.code == 0, done.err
        assert "3 added, 0 already followed, 0 failed" in done.out
        assert other.run("poll").code == 0
        imported = load_recipes(other.feeds)
        assert sorted(r.urls[0] for r in imported) == sorted(
            server.url(f"/feeds/{feed_id}.xml") for feed_id in published)
        assert sorted(r.title for r in imported) == sorted(r.title for r in recipes)
        with Store.open(other.root / "data" / "newsbot.db") as copy:
            for recipe in imported:
                origin = recipe.urls[0].rsplit("/", 1)[1].removesuffix(".xml")
                titles = [i.title for i in copy.items(recipe.feed_id, limit=100)]
                assert sorted(titles) == sorted(published[origin])
