"""Hostile listings end to end: scrape -> store -> publish -> served (plan D2, D3, D4, D6, D8, D10).

A fake site serves a listing and article pages full of what breaks feeds: XML-illegal code points,
markup characters, scripts, event-handler attributes, javascript: links. The real pipeline polls
it into a real Store and writes feed files; the real web app serves them. Every output (files and
HTTP bodies: RSS, Atom, JSON Feed, OPML, index page) is parsed strictly and searched for active
content, both as raw bytes and as the text a reader gets after XML/JSON decoding.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from urllib.parse import quote

import feedparser
import httpx
import pytest
import pytest_asyncio
from fakes.feed_server import FeedServerThread
from fakes.site import FakeSite
from lxml import etree

from bot.feedfiles import feed_meta, publish_feed
from bot.model import ArticleRules, Item, ListRules, Pick, Recipe
from bot.pipeline import PollDeps, poll_source
from bot.publish.render import MAX_FEED_BYTES
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store

NOW = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
RULES = ListRules(
    item="ul.ArticleList li.row",
    title=Pick("h2.Title a"),
    link=Pick("h2.Title a", "href"),
    summary=Pick("p"),
    date=Pick("div.Ngaydang"),
    date_formats=("%d/%m/%Y",),
)
ARTICLE = ArticleRules(content=Pick("div.ArticleContent"))
SCRIPT = re.compile(r"<\s*script", re.IGNORECASE)
HANDLER = re.compile(r"\bon[a-z]+\s*=", re.IGNORECASE)
JS_URL = re.compile(r"javascript\s*:", re.IGNORECASE)
RFC822_PLUS7 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} \+0700$"
)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")

# (title markup as it appears inside <a>, the title a reader must see, date on the page)
HOSTILE_TITLES = [
    ("Tin \x0bdọc\x00 đường\ufffe Hải An", "Tin dọc đường Hải An", "28/11/2024"),
    (
        "A &amp; B &lt; C &gt; D &quot;E&quot; ]]&gt; &lt;script&gt;alert(1)&lt;/script&gt;Lê Chân",
        'A & B < C > D "E" ]]> Lê Chân',
        "27/11/2024",
    ),
    (
        "Cầu <script>alert(2)</script>Rào <img src=x onerror=alert(3)>mới",
        "Cầu Rào mới",
        "26/11/2024",
    ),
    (  # the nested <a> closes the title link: "x" falls outside it
        "Chợ <b onmouseover=alert(4)>Sắt</b> <a href=javascript:alert(5)>x</a>",
        "Chợ Sắt",
        "25/11/2024",
    ),
]
ARTICLE_BODY = """
<div class="ArticleContent">
  <p onclick="alert(6)">Nội dung <b>chính</b> &amp; ảnh:</p>
  <img src="/anh/1.jpg" onerror="alert(7)" alt="ảnh">
  <a href="javascript:alert(8)">bấm vào đây</a> <a href="JaVaScRiPt&#58;alert(9)">nữa</a>
  <a href="/tin/khac.html">tin khác</a>
  <script>alert(10)</script><iframe src="javascript:alert(11)"></iframe>
  <svg onload="alert(12)"><circle r="1"/></svg><style>p{}</style>
  <form action="javascript:alert(13)"><input onfocus="alert(14)" autofocus></form>
  Ký tự lạ: ]]&gt; hết.
</div>
"""


# Real portals put ~5-50 KB of head and menus before the first item (see tests/fixtures/haiphong).
MENU = "".join(f'<li><a href="/muc-{n}">Chuyên mục số {n}</a></li>' for n in range(120))


def listing_html(entries: Iterable[tuple[str, str, str]], *, menu: bool = True) -> str:
    """A listing page in the markup of tests/fixtures/haiphong: (title markup, href, date)."""
    rows = "".join(
        f'<li class="row"><h2 class="Title"><a href="{href}">{title}</a></h2>'
        f"<p>Tóm tắt &lt;i&gt;in nghiêng&lt;/i&gt; <i onmouseover=alert(0)>thật</i></p>"
        f'<div class="Ngaydang">{date}</div></li>'
        for title, href, date in entries
    )
    return (
        '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Tin</title></head>'
        f"<body><nav><ul>{MENU if menu else ''}</ul></nav>"
        f'<div class="UIArticleInMenu_Default"><ul class="ArticleList">{rows}</ul></div>'
        "</body></html>"
    )


def article_html(body: str = ARTICLE_BODY) -> str:
    return f'<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>{body}</body></html>'


def recipe(feed_id: str, url: str, title: str) -> Recipe:
    return Recipe(feed_id=feed_id, title=title, urls=(url,), rules=RULES, article=ARTICLE)


@dataclass
class Polled:
    store: Store
    deps: PollDeps
    public_dir: Path
    recipes: dict[str, Recipe]
    shared_url: str  # an article both feeds list


@pytest_asyncio.fixture
async def polled(tmp_path: Path) -> AsyncIterator[Polled]:
    """Both feeds polled once from the hostile fake site, stored and published."""
    async with FakeSite() as site:
        shared = site.url_for("/tin/chung-749000.html")
        hp_rows = [
            (t, site.url_for(f"/tin/hp-{n}.html"), d) for n, (t, _, d) in enumerate(HOSTILE_TITLES)
        ]
        hp_rows.append(("Tin chung hai cổng", shared, "24/11/2024"))
        hp_rows.append(("Liên kết độc", "javascript:alert('listing')", "24/11/2024"))
        so_rows = [
            ("Tin chung hai cổng", shared, "24/11/2024"),
            ("Hội nghị chuyển đổi số", site.url_for("/so/1.html"), "23/11/2024"),
        ]
        site.set_page("/hp", listing_html(hp_rows))
        site.set_page("/so", listing_html(so_rows))
        for path in [f"/tin/hp-{n}.html" for n in range(len(HOSTILE_TITLES))]:
            site.set_page(path, article_html())
        site.set_page("/tin/chung-749000.html", article_html())
        site.set_page("/so/1.html", article_html())
        recipes = {
            "hp": recipe("hp", site.url_for("/hp"), "Cổng <b>TTĐT</b> Hải Phòng & \x0b"),
            "so": recipe("so", site.url_for("/so"), "Sở TT&TT <script>x()</script>"),
        }
        store = Store.open(tmp_path / "newsbot.db")
        public_dir = tmp_path / "public"
        policy = FetchPolicy(min_host_gap=0, respect_robots=False, deadline=10)
        async with Fetcher(policy) as fetcher:
            deps = PollDeps(
                store=store,
                fetcher=fetcher,
                public_dir=public_dir,
                public_url="http://feeds.test",
                feeds=recipes,
            )
            for feed_recipe in recipes.values():
                report = await poll_source(feed_recipe, deps, NOW)
                assert report.outcome == "new", report.error
        try:
            yield Polled(store, deps, public_dir, recipes, shared)
        finally:
            store.close()


@pytest.fixture
def served(polled: Polled) -> Iterator[FeedServerThread]:
    metas = {feed_id: feed_meta(r) for feed_id, r in polled.recipes.items()}
    with FeedServerThread(polled.store, metas) as server:
        yield server


# --- checks ------------------------------------------------------------------------------------


def xml_strings(body: bytes) -> list[str]:
    """Every text, tail and attribute value of a document, parsed strictly (no recovery)."""
    root = etree.fromstring(body, etree.XMLParser(recover=False, resolve_entities=False))
    found: list[str] = []
    for element in root.iter():
        found += [element.text or "", element.tail or "", *element.attrib.values()]
    return found


def json_strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from json_strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from json_strings(inner)


def assert_inert(name: str, body: bytes, kind: str) -> None:
    """No script, no on*= handler, no javascript: URL: neither in the bytes nor once decoded."""
    texts = [body.decode("utf-8")]
    if kind == "xml":
        texts += xml_strings(body)
    elif kind == "json":
        texts += list(json_strings(json.loads(body)))
    for text in texts:
        for pattern in (SCRIPT, HANDLER, JS_URL):
            match = pattern.search(text)
            where = text[max(0, match.start() - 60) : match.end() + 60] if match else ""
            assert match is None, f"{name}: {pattern.pattern} in {where!r}"
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", texts[0]), name


def parse_xml_feed(name: str, body: bytes) -> feedparser.FeedParserDict:
    """feedparser's view, without its own sanitiser: we check what we send, not its repairs."""
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    assert parsed.bozo == 0, f"{name}: {parsed.get('bozo_exception')}"
    return parsed


def feed_paths() -> list[str]:
    paths = [f"/feeds/{f}.{ext}" for f in ("hp", "so", "all") for ext in ("xml", "atom", "json")]
    paths += [
        "/feeds/hp.xml?include=" + quote("hải an,lê chân"),
        "/feeds/all.atom?exclude=" + quote("cầu") + "&limit=3",
        "/feeds/all.json?q=" + quote("chợ"),
    ]
    return paths


def kind_of(path: str) -> str:
    return "json" if ".json" in path else "xml"


# --- tests ---------------------------------------------------------------------------------------


async def test_hostile_items_are_stored_and_every_served_output_is_valid_and_inert(
    polled: Polled, served: FeedServerThread
) -> None:
    stored = polled.store.items("hp", limit=100)
    assert len(stored) == len(HOSTILE_TITLES) + 1  # the javascript: link is not an item
    async with httpx.AsyncClient(base_url=served.base_url) as client:
        for path in [*feed_paths(), "/feeds.opml", "/", "/healthz"]:
            response = await client.get(path)
            assert response.status_code == 200, (path, response.text)
            assert response.headers["x-content-type-options"] == "nosniff"
            kind = "json" if path == "/healthz" else kind_of(path) if path != "/" else "html"
            assert_inert(path, response.content, kind)
            if kind == "xml":
                parse_xml_feed(path, response.content)
        hp = parse_xml_feed("hp.xml", (await client.get("/feeds/hp.xml")).content)
    titles = [entry.title for entry in hp.entries]
    for _, expected, _ in HOSTILE_TITLES:
        assert expected in titles, (expected, titles)
    # The article body kept its harmless markup and its real link, absolutised.
    body = hp.entries[0].content[0].value
    assert "<b>chính</b>" in body and "/tin/khac.html" in body and "bấm vào đây" in body


async def test_published_files_are_valid_and_inert(polled: Polled) -> None:
    files = sorted((polled.public_dir / "feeds").iterdir())
    assert [f.name for f in files] == sorted(
        f"{feed}.{ext}" for feed in ("all", "hp", "so") for ext in ("atom", "json", "xml")
    )
    for path in files:
        kind = "json" if path.suffix == ".json" else "xml"
        body = path.read_bytes()
        assert_inert(path.name, body, kind)
        if kind == "xml":
            parsed = parse_xml_feed(path.name, body)
            assert parsed.entries, path.name


async def test_rss_dates_are_rfc822_plus0700_and_atom_json_dates_rfc3339(
    served: FeedServerThread,
) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as client:
        rss = (await client.get("/feeds/hp.xml")).content
        atom = (await client.get("/feeds/hp.atom")).content
        feed_json = (await client.get("/feeds/hp.json")).json()
    root = etree.fromstring(rss)
    rss_dates = [e.text or "" for e in root.iter("pubDate", "lastBuildDate")]
    assert len(rss_dates) == len(HOSTILE_TITLES) + 2
    for text in rss_dates:
        assert RFC822_PLUS7.match(text), text
        assert parsedate_to_datetime(text).utcoffset() == timedelta(hours=7)
    # Day first: 28/11/2024 on the page is 28 November.
    # (A date without a time takes the poll's wall-clock time: 12:00 in Hải Phòng.)
    first = next(i for i in root.iter("item"))
    assert first.findtext("pubDate") == "Thu, 28 Nov 2024 12:00:00 +0700"

    ns = {"a": "http://www.w3.org/2005/Atom"}
    atom_root = etree.fromstring(atom)
    atom_dates = [e.text or "" for e in atom_root.iterfind(".//a:updated", ns)]
    atom_dates += [e.text or "" for e in atom_root.iterfind(".//a:published", ns)]
    assert len(atom_dates) == 2 * len(HOSTILE_TITLES) + 3
    json_dates = [i[k] for i in feed_json["items"] for k in ("date_published", "date_modified")]
    for text in atom_dates + json_dates:
        assert RFC3339.match(text), text
        assert datetime.fromisoformat(text).utcoffset() is not None
    published = atom_root.find(".//a:entry/a:published", ns)
    assert published is not None and published.text == "2024-11-28T12:00:00+07:00"


async def test_ids_are_unique_across_feeds_and_stable_across_formats(
    polled: Polled, served: FeedServerThread
) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as client:
        parsed = {
            path: parse_xml_feed(path, (await client.get(path)).content)
            for path in ("/feeds/hp.xml", "/feeds/hp.atom", "/feeds/so.xml", "/feeds/all.xml")
        }
        hp_json = (await client.get("/feeds/hp.json")).json()
    ids = {path: [e.id for e in feed.entries] for path, feed in parsed.items()}
    # Two feeds list the same article URL: same link, different guids.
    shared = {
        path: [e.id for e in feed.entries if e.link == polled.shared_url]
        for path, feed in parsed.items()
    }
    assert len(shared["/feeds/hp.xml"]) == len(shared["/feeds/so.xml"]) == 1
    assert shared["/feeds/hp.xml"] != shared["/feeds/so.xml"]
    assert sorted(shared["/feeds/all.xml"]) == sorted(
        shared["/feeds/hp.xml"] + shared["/feeds/so.xml"]
    )
    everything = ids["/feeds/hp.xml"] + ids["/feeds/so.xml"]
    assert len(set(everything)) == len(everything)
    assert sorted(ids["/feeds/all.xml"]) == sorted(everything)
    # One item keeps one id in every format (a reader switching formats sees no duplicates).
    assert ids["/feeds/hp.atom"] == ids["/feeds/hp.xml"] == [i["id"] for i in hp_json["items"]]


def huge_item(n: int) -> Item:
    hostile = '<p onclick="alert(1)">x</p><script>alert(2)</script><a href="javascript:x">y</a>'
    return Item(
        feed_id="hp",
        item_id=f"huge-{n}",
        url=f"https://haiphong.gov.vn/tin/huge-{n}.html",
        title=f"Tin rất dài số {n} " + "Hải Phòng " * 300,
        summary="Tóm tắt & <b>đậm</b> " * 400,
        content=(hostile + "<p>Đoạn văn bản rất dài về Hải Phòng.</p>" * 600),
        published_at=NOW - timedelta(minutes=n),
    )


async def test_feeds_stay_under_1_mib_with_500_huge_items(
    polled: Polled, served: FeedServerThread
) -> None:
    polled.store.add_items("hp", [huge_item(n) for n in range(500)], NOW + timedelta(hours=1))
    publish_feed(polled.recipes["hp"], polled.deps)  # what the next poll writes
    for file in sorted((polled.public_dir / "feeds").glob("*")):
        assert file.stat().st_size <= MAX_FEED_BYTES, file.name
    async with httpx.AsyncClient(base_url=served.base_url, timeout=30) as client:
        for path in [
            "/feeds/hp.xml",
            "/feeds/hp.atom",
            "/feeds/hp.json",
            "/feeds/all.xml",
            "/feeds/all.atom",
            "/feeds/all.json",
            "/feeds/hp.xml?include=" + quote("hải phòng"),
        ]:
            response = await client.get(path, headers={"Accept-Encoding": "identity"})
            assert response.status_code == 200
            assert len(response.content) <= MAX_FEED_BYTES, (path, len(response.content))
            assert_inert(path, response.content, kind_of(path))  # also parses it strictly
            if path in ("/feeds/hp.xml", "/feeds/all.atom"):  # feedparser: ~0.5 s per MiB
                entries = parse_xml_feed(path, response.content).entries
                # Trimmed from the oldest end: the newest item is always there.
                assert entries and entries[0].link.endswith("/tin/huge-0.html"), path


async def test_a_stray_nul_near_the_top_of_a_listing_does_not_stop_the_feed(
    tmp_path: Path,
) -> None:
    async with FakeSite() as site:
        rows = [
            ("Tin có\x00 ký tự NUL", site.url_for("/tin/1.html"), "28/11/2024"),
            ("Tin thường", site.url_for("/tin/2.html"), "27/11/2024"),
        ]
        site.set_page("/hp", listing_html(rows, menu=False))
        hp = Recipe(feed_id="hp", title="Hải Phòng", urls=(site.url_for("/hp"),), rules=RULES)
        policy = FetchPolicy(min_host_gap=0, respect_robots=False, deadline=10)
        with Store.open(tmp_path / "newsbot.db") as store:
            async with Fetcher(policy) as fetcher:
                deps = PollDeps(
                    store=store,
                    fetcher=fetcher,
                    public_dir=None,
                    public_url="http://feeds.test",
                    feeds={"hp": hp},
                )
                report = await poll_source(hp, deps, NOW)
            assert report.outcome == "new", report.error
            assert sorted(i.title for i in store.items("hp")) == ["Tin có ký tự NUL", "Tin thường"]


@pytest.mark.parametrize("char", ["\x0b", "\x01", "\ufffe"])
async def test_control_characters_in_an_article_page_do_not_crash_the_poll(
    tmp_path: Path, char: str
) -> None:
    async with FakeSite() as site:
        site.set_page("/hp", listing_html([("Tin mới", site.url_for("/tin/1.html"), "28/11/2024")]))
        body = f'<div class="ArticleContent"><p>Đoạn</p><script>x()</script>đuôi{char} hết</div>'
        site.set_page("/tin/1.html", article_html(body))
        hp = Recipe(
            feed_id="hp",
            title="Hải Phòng",
            urls=(site.url_for("/hp"),),
            rules=RULES,
            article=ARTICLE,
        )
        policy = FetchPolicy(min_host_gap=0, respect_robots=False, deadline=10)
        with Store.open(tmp_path / "newsbot.db") as store:
            async with Fetcher(policy) as fetcher:
                deps = PollDeps(
                    store=store,
                    fetcher=fetcher,
                    public_dir=tmp_path / "public",
                    public_url="http://feeds.test",
                    feeds={"hp": hp},
                )
                report = await poll_source(hp, deps, NOW)
            assert report.outcome == "new", report.error
            [item] = store.items("hp")
            assert item.content is not None and "đuôi hết" in item.content.replace(char, "")
