"""`newsbot run` as a subprocess against the fake site and the fake Telegram, for end-to-end,
crash and kill -9 tests.

    page = NewsPage(site, "/tin")                       # a listing of numbered articles
    config = write_setup(tmp_path, {"tin": page.url}, telegram_url=fake.base_url)
    daemon = NewsbotProcess(config, failpoint="after_fetch").start()
    ...
    daemon.kill()                                       # SIGKILL, like `kill -9`

Article titles carry their number (`Tin số 00042: ...`), so `article_numbers` can tell which item
a message the fake Telegram received announces.
"""

from __future__ import annotations

import html
import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

import psycopg

from bot.model import Chat, ChatKind
from bot.store.db import Store
from fakes.site import FakeSite
from fakes.telegram_api import FakeBotAPI

# Real-shaped (bot id, colon, 35 url-safe characters) so a leak would match the redaction pattern.
TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
TITLE_NUMBER = re.compile(r"Tin số (\d{5,})")
_NUMBERS = itertools.count(1)
HEADLINES = (
    "Quận Hải An tổ chức hội nghị tổng kết công tác năm",
    "Huyện Tiên Lãng ra quân làm thủy lợi nội đồng",
    "Cảng Hải Phòng đón chuyến tàu container lớn nhất",
    "Đồ Sơn chuẩn bị cho mùa du lịch biển",
)


class NewsPage:
    """A listing of numbered articles, newest first, served by a FakeSite at `path`."""

    def __init__(self, site: FakeSite, path: str = "/tin", *, shown: int = 500) -> None:
        self.site = site
        self.path = path
        self.shown = shown  # the listing shows the newest `shown` articles, like a real site
        self.titles: dict[int, str] = {}  # article number -> title; numbers are unique per process
        self._lock = threading.Lock()
        self._render()

    @property
    def url(self) -> str:
        return self.site.url_for(self.path)

    def publish(self, headlines: Iterable[str]) -> list[int]:
        """Add articles (oldest first); returns their numbers."""
        with self._lock:
            numbers = []
            for headline in headlines:
                number = next(_NUMBERS)
                self.titles[number] = f"Tin số {number:05d}: {headline}"
                numbers.append(number)
            self._render()
            return numbers

    def publish_many(self, count: int) -> list[int]:
        return self.publish(HEADLINES[1 + n % (len(HEADLINES) - 1)] for n in range(count))

    def _render(self) -> None:
        newest = sorted(self.titles, reverse=True)[: self.shown]
        rows = "".join(
            f'<li><a href="{self.path}/bai-{n}">{html.escape(self.titles[n])}</a>'
            f"<p>Tóm tắt bài {n}.</p></li>"
            for n in newest
        )
        self.site.set_page(
            self.path,
            '<!DOCTYPE html><html lang="vi"><head><meta charset="utf-8"><title>Tin</title></head>'
            f'<body><ul class="news">{rows}</ul></body></html>',
        )


def article_numbers(text: str) -> list[int]:
    return [int(n) for n in TITLE_NUMBER.findall(text)]


def write_setup(
    tmp_path: Path,
    feeds: Mapping[str, str],
    *,
    telegram_url: str,
    pacing_scale: float = 1.0,
    messages_per_second: float = 25,
    interval: float = 0.5,
    server: bool = True,
    admins: Iterable[int] = (),
    rescan: str = "45s",
    store_url: str | None = None,
) -> Path:
    """config.toml (web server on port 0 when enabled) and one recipe per feed id -> listing URL."""
    feeds_dir = tmp_path / "feeds"
    feeds_dir.mkdir(exist_ok=True)
    for feed_id, url in feeds.items():
        (feeds_dir / f"{feed_id}.toml").write_text(
            recipe_text(f"Tin thử {feed_id}", url, interval), encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        'data_dir = "data"\nfeeds_dir = "feeds"\n'
        f'[schedule]\ninterval = {interval}\njitter = 0.1\nrescan = "{rescan}"\n'  # seconds
        f'[server]\nenabled = {"true" if server else "false"}\nport = 0\n'
        'public_url = "http://127.0.0.1:8080"\n'
        '[fetch]\nmin_host_gap = 0.01\nrespect_robots = false\n'
        f'[telegram]\napi_base_url = "{telegram_url}"\n'
        f"admins = [{', '.join(str(a) for a in admins)}]\n"
        f"messages_per_second = {messages_per_second}\npacing_scale = {pacing_scale}\n"
        "max_per_chat_per_round = 100000\n"
        + (f'[store]\nurl = "{store_url}"\n' if store_url else ""),
        encoding="utf-8",
    )
    return config


def recipe_text(title: str, url: str, interval: float = 0.5) -> str:
    """A recipe for a NewsPage listing."""
    return (f'title = "{title}"\nurl = "{url}"\ninterval = {interval}\nmax_items = 500\n'
            '[list]\nitem = "ul.news li"\ntitle = "a"\nlink = "a@href"\nsummary = "p"\n')


def add_subscribers(config: Path, chats: Mapping[int, ChatKind], feed_ids: Iterable[str],
                    *, store_url: str | None = None) -> None:
    """Chats that follow feeds, as /start would leave them (creates the database if needed);
    `store_url`: a PostgreSQL database (with its password) instead of the data dir's file."""
    data = config.parent / "data"
    data.mkdir(exist_ok=True)
    feed_ids = list(feed_ids)
    with (Store.connect(store_url) if store_url else Store.open(data / "newsbot.db")) as store:
        for chat_id, kind in chats.items():
            store.upsert_chat(Chat(chat_id, kind, title=f"Chat {chat_id}"))
            for feed_id in feed_ids:
                store.subscribe(chat_id, feed_id)


def seed(config: Path, **env: str) -> None:
    """`newsbot poll` once: a feed's first poll stores what the page lists, silently."""
    done = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(config), "poll"],
        cwd=config.parent, env=clean_env(**env), capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "first poll" in done.stdout, done.stdout


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env["PTB_TIMEDELTA"] = "1"
    env["NEWSBOT_TELEGRAM_TOKEN"] = TOKEN
    env.update(extra)
    return env


class NewsbotProcess:
    """`python -m bot --config CONFIG run` with its merged output collected line by line."""

    def __init__(self, config: Path, *, failpoint: str | None = None,
                 env: Mapping[str, str] | None = None) -> None:
        self.config = config
        self.failpoint = failpoint
        self.env = dict(env or {})
        self.lines: list[str] = []
        self.proc: subprocess.Popen[str] | None = None
        self.started_at = 0.0
        self._reader: threading.Thread | None = None

    def start(self) -> NewsbotProcess:
        env = clean_env(**({"NEWSBOT_FAILPOINT": self.failpoint} if self.failpoint else {}),
                        **self.env)
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(self.config), "run"],
            cwd=self.config.parent,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_for(self, pattern: str, timeout: float = 20) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            assert self.running, f"newsbot exited ({self.returncode}):\n{self.output}"
            time.sleep(0.02)
        raise AssertionError(f"no {pattern!r} within {timeout} s:\n{self.output}")

    def wait_exit(self, timeout: float = 20) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout)
        if self._reader is not None:
            self._reader.join(5)
        return code

    @property
    def returncode(self) -> int | None:
        return None if self.proc is None else self.proc.poll()

    def kill(self) -> None:
        """SIGKILL, then reap."""
        if self.running:
            assert self.proc is not None
            self.proc.kill()
        self.wait_exit()

    def terminate(self, timeout: float = 10) -> tuple[int, float]:
        """SIGTERM; returns (exit code, seconds it took)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.wait_exit(timeout)
        return code, time.monotonic() - started


def wait_until(check: Callable[[], object], timeout: float, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not met within {timeout} s")
        time.sleep(0.01)


# --- reading the outcome ----------------------------------------------------------------------


def received(fake: FakeBotAPI, chats: Iterable[int] | None = None) -> Counter[tuple[int, int]]:
    """How many times each (chat, article number) reached the fake Telegram."""
    wanted = None if chats is None else set(chats)
    with fake._lock:
        messages = list(fake.sent)
    counts: Counter[tuple[int, int]] = Counter()
    for message in messages:
        if wanted is None or message.chat_id in wanted:
            for number in article_numbers(message.body)[:1]:
                counts[(message.chat_id, number)] += 1
    return counts


def sends_since(fake: FakeBotAPI, index: int) -> list[tuple[int, int]]:
    """(chat, article number) of every item message the fake accepted after the first `index`."""
    with fake._lock:
        messages = fake.sent[index:]
    return [
        (m.chat_id, numbers[0]) for m in messages if (numbers := article_numbers(m.body))
    ]


def sent_count(fake: FakeBotAPI) -> int:
    with fake._lock:
        return len(fake.sent)


class Ledger:
    """Read-only looks into a daemon's SQLite file (plain sqlite3: the daemon may be running)."""

    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        conn = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return [tuple(row) for row in conn.execute(sql, params)]
        finally:
            conn.close()

    def exists(self) -> bool:
        return self.db_path.exists()

    def integrity(self) -> str:
        conn = sqlite3.connect(self.db_path, timeout=10)  # rw: a crashed WAL may need recovery
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
        return "; ".join(str(row[0]) for row in rows)

    def outbox(self) -> dict[tuple[int, int], bool]:
        """(chat, article number) -> sent, for every outbox row."""
        rows = self._query(
            "SELECT o.chat_id, i.title, o.sent_at IS NOT NULL FROM outbox o "
            "JOIN items i ON i.feed_id = o.feed_id AND i.item_id = o.item_id"
        )
        table: dict[tuple[int, int], bool] = {}
        for chat_id, title, sent in rows:
            numbers = article_numbers(str(title))
            if numbers:
                table[(int(str(chat_id)), numbers[0])] = bool(sent)
        return table

    def counts(self) -> dict[str, int]:
        if not self.exists():
            return {"rows": 0, "pending": 0, "sent": 0, "failed": 0}
        rows = self._query(
            "SELECT count(*), coalesce(sum(sent_at IS NULL AND failed_at IS NULL), 0), "
            "coalesce(sum(sent_at IS NOT NULL), 0), coalesce(sum(failed_at IS NOT NULL), 0) "
            "FROM outbox"
        )
        total, pending, sent, failed = (int(str(v)) for v in rows[0])
        return {"rows": total, "pending": pending, "sent": sent, "failed": failed}

    def titles(self, feed_id: str | None, *, limit: int) -> list[str]:
        """Stored titles newest first, as a feed lists them (`None`: every feed)."""
        where, params = ("WHERE feed_id = ?", (feed_id,)) if feed_id else ("", ())
        rows = self._query(f"SELECT title FROM items {where} ORDER BY coalesce(published_at, "
                           f"first_seen_at) DESC, first_seen_at DESC, rowid DESC LIMIT ?",
                           (*params, limit))
        return [str(row[0]) for row in rows]

    def last_poll(self, feed_id: str) -> datetime | None:
        """When the feed was last polled (successfully or not), by the feed_health row."""
        if not self.exists():
            return None
        rows = self._query("SELECT last_poll_at FROM feed_health WHERE feed_id = ?", (feed_id,))
        return datetime.fromisoformat(str(rows[0][0])) if rows and rows[0][0] else None

    def seeded(self, feed_id: str) -> bool:
        if not self.exists():
            return False
        try:
            rows = self._query("SELECT seeded FROM feed_health WHERE feed_id = ?", (feed_id,))
        except sqlite3.OperationalError:  # the schema is not created yet
            return False
        return bool(rows and rows[0][0])


class PgLedger(Ledger):
    """The same looks into a PostgreSQL database (a connection of the test's own)."""

    def __init__(self, url: str) -> None:
        super().__init__(Path("/nonexistent"))
        self.url = url

    def _query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        sql = sql.replace("?", "%s")
        with psycopg.connect(self.url, autocommit=True) as conn:
            return [tuple(row) for row in conn.execute(sql, params)]

    def exists(self) -> bool:
        return True

    def integrity(self) -> str:
        return "ok"  # PostgreSQL's own crash safety is not what these tests look at

    def counts(self) -> dict[str, int]:
        rows = self._query(
            "SELECT count(*), count(*) FILTER (WHERE sent_at IS NULL AND failed_at IS NULL), "
            "count(*) FILTER (WHERE sent_at IS NOT NULL), count(*) FILTER (WHERE failed_at IS "
            "NOT NULL) FROM outbox")
        total, pending, sent, failed = (int(str(v)) for v in rows[0])
        return {"rows": total, "pending": pending, "sent": sent, "failed": failed}
