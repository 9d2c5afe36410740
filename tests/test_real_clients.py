"""Real feed readers read what bot.publish.web serves: newsboat, rss2email, feedparser (plan D1,
D7, §4).

The web app runs for real (uvicorn on 127.0.0.1:0) over a real Store; the readers are the Debian
binaries, run as subprocesses exactly as in the reliability plan §4. A missing binary is a failure
that says how to install it (CI's .ci/run does), never a skip: a skipped client test proves nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import feedparser
import httpx
import pytest
from fakes.feed_server import FeedServerThread

from bot.model import Item
from bot.publish.feedmeta import FeedMeta
from bot.store.db import Store

T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)
FEEDS = {
    "hp": FeedMeta("hp", "Cổng TTĐT Hải Phòng", "https://haiphong.gov.vn/"),
    "so": FeedMeta("so", "Sở TT&TT Hải Phòng", "https://stttt.haiphong.gov.vn/"),
}
HP_TITLES = [
    "Phường Hải An khởi công cầu mới",
    "Quận Lê Chân: lễ hội mùa xuân",
    "Giải phóng mặt bằng tuyến đường Hồ Sen",
    "Tin tiêu điểm & bình luận <2024>",
    "Bản tin sáng thứ hai",
]
SO_TITLES = ["Hội nghị chuyển đổi số", "Đà Nẵng và Hải Phòng ký kết hợp tác", "Bản tin cuối tuần"]
CLIENT_TIMEOUT = 30


def need(binary: str, package: str) -> str:
    """The binary's path; a clear failure (not a skip) when it is not installed."""
    path = shutil.which(binary)
    if path is None:
        pytest.fail(
            f"{binary} is not installed: run `apt-get install -y {package}` "
            f"(CI installs it in .ci/run); these tests must not be skipped",
            pytrace=False,
        )
    return path


def make_item(feed_id: str, n: int, title: str, *, hours_ago: float | None = None) -> Item:
    return Item(
        feed_id=feed_id,
        item_id=f"{feed_id}-{n}",
        url=f"https://example.vn/{feed_id}/tin-{n}.html",
        title=title,
        summary=f"Tóm tắt: {title}",
        published_at=T0 - timedelta(hours=n + 1 if hours_ago is None else hours_ago),
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "newsbot.db") as db:
        db.add_items("hp", [make_item("hp", n, t) for n, t in enumerate(HP_TITLES)], T0)
        db.add_items("so", [make_item("so", n, t) for n, t in enumerate(SO_TITLES)], T0)
        yield db


@pytest.fixture
def server(store: Store) -> Iterator[FeedServerThread]:
    with FeedServerThread(store, FEEDS) as running:
        yield running


def add_one_item(store: Store, title: str) -> None:
    new = make_item("hp", 99, title, hours_ago=0)
    assert store.add_items("hp", [new], T0 + timedelta(hours=1)) != []


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=CLIENT_TIMEOUT, check=False
    )
    assert done.returncode == 0, f"{cmd[0]} exited {done.returncode}: {done.stderr[-2000:]}"
    return done.stdout


def feed_requests(server: FeedServerThread, *, status: str) -> dict[tuple[str, str], int]:
    """newsbot_feed_requests_total by (feed, format) for one status, from /metrics."""
    pattern = re.compile(
        r'^newsbot_feed_requests_total\{feed="([^"]+)",format="([^"]+)",status="(\d+)"\} (\S+)$',
        re.MULTILINE,
    )
    text = httpx.get(server.url("/metrics")).text
    return {
        (feed, fmt): int(float(value))
        for feed, fmt, code, value in pattern.findall(text)
        if code == status
    }


# --- newsboat ------------------------------------------------------------------------------------


class Newsboat:
    """newsboat in non-interactive mode, with its own HOME, urls, config and cache."""

    def __init__(self, home: Path, urls: list[str]) -> None:
        self.binary = need("newsboat", "newsboat")
        self.home = home
        home.mkdir()
        (home / "urls").write_text("".join(url + "\n" for url in urls))
        (home / "config").write_text("")

    def reload(self) -> str:
        env = {**os.environ, "HOME": str(self.home)}
        cmd = [self.binary, "-u", "urls", "-c", "cache.db", "-C", "config"]
        cmd += ["-l", "4", "-d", "nb.log", "-x", "reload", "print-unread"]
        return run(cmd, self.home, env)

    def items(self) -> list[tuple[str, str, str]]:
        """(feedurl, guid, title) of every item in newsboat's cache."""
        with closing(sqlite3.connect(self.home / "cache.db")) as db:
            rows = db.execute("SELECT feedurl, guid, title FROM rss_item").fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def user_errors(self) -> list[str]:
        log = self.home / "nb.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [line for line in text.splitlines() if "USERERROR" in line]


def test_newsboat_sees_every_item_and_gets_304_from_its_third_reload(
    server: FeedServerThread, store: Store, tmp_path: Path
) -> None:
    paths = ["/feeds/hp.xml", "/feeds/so.atom"]
    reader = Newsboat(tmp_path / "nb", [server.url(p) for p in paths])
    total = len(HP_TITLES) + len(SO_TITLES)
    for _ in range(3):
        out = reader.reload()
        assert f"{total} unread articles" in out, out
    items = reader.items()
    by_feed = {p: sorted(t for url, _, t in items if url == server.url(p)) for p in paths}
    assert by_feed == {"/feeds/hp.xml": sorted(HP_TITLES), "/feeds/so.atom": sorted(SO_TITLES)}
    assert len({guid for _, guid, _ in items}) == total
    assert reader.user_errors() == []
    # newsboat sends validators from its 3rd reload on (1st: feed row, 2nd: stores them).
    for path in paths:
        assert server.statuses(path) == [200, 200, 304], path
    # The server's own metrics agree with its request log.
    assert feed_requests(server, status="304") == {("hp", "rss"): 1, ("so", "atom"): 1}
    assert feed_requests(server, status="200") == {("hp", "rss"): 2, ("so", "atom"): 2}

    # One new item: the next reload fetches (200, not a stale 304) and sees exactly one more.
    add_one_item(store, "Tin mới: khánh thành cầu Hoàng Văn Thụ")
    out = reader.reload()
    assert f"{total + 1} unread articles" in out, out
    assert len(reader.items()) == total + 1
    assert server.statuses("/feeds/hp.xml")[-1] == 200
    assert server.statuses("/feeds/so.atom")[-1] == 304


# --- rss2email -----------------------------------------------------------------------------


class Rss2Email:
    """rss2email with a fake sendmail that appends every mail to mail.log (plan §4)."""

    def __init__(self, home: Path) -> None:
        self.binary = need("r2e", "rss2email")
        self.home = home
        home.mkdir()
        sendmail = home / "fake-sendmail"
        sendmail.write_text('#!/bin/sh\ncat >> "$(dirname "$0")/mail.log"\n')
        sendmail.chmod(0o755)
        self.r2e("new", "to@example.test")
        config = home / "r2e.cfg"
        text = config.read_text()
        text, protocols = re.subn(r"(?m)^email-protocol = .*$", "email-protocol = sendmail", text)
        text, programs = re.subn(r"(?m)^sendmail = .*$", f"sendmail = {sendmail}", text)
        assert protocols == programs == 1, "r2e.cfg layout changed: cannot point it at the stub"
        config.write_text(text)

    def r2e(self, *args: str) -> str:
        return run([self.binary, "-c", "r2e.cfg", "-d", "r2e.json", *args], self.home)

    def subjects(self) -> list[str]:
        log = self.home / "mail.log"
        text = log.read_text(errors="replace") if log.exists() else ""
        return [line for line in text.splitlines() if line.startswith("Subject:")]


def test_rss2email_mails_each_item_once_then_only_the_new_one(
    server: FeedServerThread, store: Store, tmp_path: Path
) -> None:
    mailer = Rss2Email(tmp_path / "r2e")
    mailer.r2e("add", "hp", server.url("/feeds/hp.xml"))
    mailer.r2e("add", "so", server.url("/feeds/so.atom"))
    mailer.r2e("run")
    assert len(mailer.subjects()) == len(HP_TITLES) + len(SO_TITLES)

    mailer.r2e("run")
    assert len(mailer.subjects()) == len(HP_TITLES) + len(SO_TITLES)

    # Forget the validators: an unconditional 200 must still send nothing (ids are stable).
    state = json.loads((mailer.home / "r2e.json").read_text())
    for feed in state["feeds"]:
        feed["etag"] = feed["modified"] = None
    (mailer.home / "r2e.json").write_text(json.dumps(state))
    fetches = len(server.statuses("/feeds/hp.xml"))
    mailer.r2e("run")
    assert server.statuses("/feeds/hp.xml")[fetches:] == [200]
    assert len(mailer.subjects()) == len(HP_TITLES) + len(SO_TITLES)

    add_one_item(store, "Tin mới: khánh thành cầu Hoàng Văn Thụ")
    mailer.r2e("run")
    subjects = mailer.subjects()
    assert len(subjects) == len(HP_TITLES) + len(SO_TITLES) + 1
    mailer.r2e("run")
    assert len(mailer.subjects()) == len(subjects)


# --- feedparser ----------------------------------------------------------------------------

FEEDPARSER_CASES = [
    ("/feeds/hp.xml", "", HP_TITLES),
    ("/feeds/hp.atom", "", HP_TITLES),
    ("/feeds/so.xml", "", SO_TITLES),
    ("/feeds/so.atom", "", SO_TITLES),
    ("/feeds/all.xml", "", None),
    ("/feeds/all.atom", "", None),
    ("/feeds/hp.xml", "include=hai an,le chan", HP_TITLES[:2]),
    ("/feeds/all.atom", "q=hải phòng", [SO_TITLES[1]]),
    ("/feeds/all.xml", "exclude=bản tin&limit=3", None),
    ("/feeds/so.xml", "include=không có gì", []),
]


@pytest.mark.parametrize(("path", "query", "expected"), FEEDPARSER_CASES)
def test_feedparser_reads_every_format_and_filter_with_bozo_0(
    server: FeedServerThread, path: str, query: str, expected: list[str] | None
) -> None:
    url = server.url(path) + (f"?{quote(query, safe='=&,')}" if query else "")
    parsed = feedparser.parse(url)
    assert parsed.get("status") == 200
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    titles = [entry.title for entry in parsed.entries]
    assert len({entry.id for entry in parsed.entries}) == len(titles)
    if expected is not None:
        assert sorted(titles) == sorted(expected)
    elif "exclude" in query:
        assert len(titles) == 3 and not any("Bản tin" in t for t in titles)
    else:
        assert sorted(titles) == sorted(HP_TITLES + SO_TITLES)
    # A second fetch with feedparser's own validators is answered 304 without a body.
    again = feedparser.parse(url, etag=parsed.get("etag"), modified=parsed.get("modified"))
    assert again.get("status") == 304 and again.entries == []


@pytest.mark.parametrize("path", ["/feeds/hp.json", "/feeds/all.json"])
def test_json_feed_is_valid_json_feed_1_1_with_every_item(
    server: FeedServerThread, path: str
) -> None:
    response = httpx.get(server.url(path))
    assert response.status_code == 200
    doc = response.json()
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    titles = [item["title"] for item in doc["items"]]
    expected = HP_TITLES if path.startswith("/feeds/hp") else HP_TITLES + SO_TITLES
    assert sorted(titles) == sorted(expected)
    assert all(item["id"] and item["url"].startswith("https://") for item in doc["items"])
