"""`newsbot poll|check|feeds` end to end: bot.cli.main in-process (and the console script in a
subprocess) against the fake haiphong site on loopback, with a real config, store and feed files."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import feedparser
import pytest
from conftest import FIXTURES, ROOT
from fakes import listings
from fakes.site import Behaviour, FakeSite, Garbage, Status

from bot.cli import main
from bot.model import Chat, KeywordFilter
from bot.store.db import Store

PATH = "/tin-tuc-su-kien"
LISTING_FILE = FIXTURES / "haiphong" / "listing.html"
TOKEN = "123456789:AAHfakefakefakefakefakefakefake_ab"  # lets `poll` queue messages; never used
NEWSBOT = Path(sys.executable).parent / "newsbot"


def today() -> str:
    """The site's date for an article published now (older ones are not announced)."""
    return datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@dataclass
class Cli:
    """A newsbot installation in a temporary folder, polling the fake site."""

    tmp: Path
    site: FakeSite
    capsys: pytest.CaptureFixture[str]

    @property
    def config(self) -> Path:
        return self.tmp / "config.toml"

    @property
    def data_dir(self) -> Path:
        return self.tmp / "data"

    @property
    def recipe(self) -> Path:
        return self.tmp / "feeds" / "haiphong.toml"

    @property
    def feeds_dir(self) -> Path:
        return self.data_dir / "public" / "feeds"

    def run(self, *args: str) -> Run:
        self.capsys.readouterr()
        code = main(["--config", str(self.config), *args])
        captured = self.capsys.readouterr()
        return Run(code, captured.out, captured.err)

    def subprocess(self, *args: str) -> Run:
        done = subprocess.run([str(NEWSBOT), "--config", str(self.config), *args],
                              capture_output=True, text=True, timeout=60, check=False)
        return Run(done.returncode, done.stdout, done.stderr)

    def serve(self, html: str, *, validators: bool = True) -> None:
        extra: dict[str, Any] = {} if validators else {"etag": "", "last_modified": ""}
        self.site.set_page(PATH, html, **extra)

    def set_fallback(self, value: str) -> None:
        text = self.recipe.read_text(encoding="utf-8")
        self.recipe.write_text(text.replace('fallback = "auto"', f'fallback = "{value}"'),
                               encoding="utf-8")

    def store(self) -> Store:
        self.data_dir.mkdir(exist_ok=True)
        return Store.open(self.data_dir / "newsbot.db")

    def subscribe(self, chat_id: int, *include: str) -> None:
        with self.store() as store:
            store.upsert_chat(Chat(chat_id))
            store.subscribe(chat_id, "haiphong")
            store.set_keyword_filter(chat_id, KeywordFilter(include=include), "haiphong")

    def pending(self) -> list[tuple[int, str]]:
        with self.store() as store:
            return [(d.chat_id, d.item.item_id)
                    for d in store.pending(datetime.max.replace(tzinfo=ZoneInfo("UTC")))]

    def snapshot(self) -> tuple[Any, ...]:
        """Stored rows and published bytes (with mtimes): what a failed poll must not touch."""
        with self.store() as store:
            items = [(i.item_id, i.url, i.title, i.first_seen_at, i.updated_at)
                     for i in store.items(None, limit=1000)]
            outbox = store.outbox_counts()
        # Section feeds live in feeds/<feed>/: compare them too.
        files = {str(p.relative_to(self.feeds_dir)): (p.read_bytes(), p.stat().st_mtime_ns)
                 for p in sorted(self.feeds_dir.rglob("*")) if p.is_file()}
        return items, outbox, files


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """main() installs its own log handler on the root logger: put pytest's back."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def site() -> Iterator[FakeSite]:
    with FakeSite.start_in_thread() as fake:
        fake.set_page(PATH, listings.listing_html())
        yield fake


@pytest.fixture
def cli(tmp_path: Path, site: FakeSite, capsys: pytest.CaptureFixture[str]) -> Cli:
    (tmp_path / "feeds").mkdir()
    recipe = (ROOT / "feeds" / "haiphong.toml").read_text(encoding="utf-8")
    recipe = re.sub(r"^url = .*$", f'url = "{site.url_for(PATH)}"', recipe, count=1, flags=re.M)
    (tmp_path / "feeds" / "haiphong.toml").write_text(recipe, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        f'[fetch]\nmin_host_gap = 0.001\nrespect_robots = false\n'
        f'[server]\npublic_url = "http://feeds.test"\n[telegram]\ntoken = "{TOKEN}"\n',
        encoding="utf-8",
    )
    return Cli(tmp_path, site, capsys)


def assert_one_clean_error(run: Run, *needles: str) -> None:
    assert run.code == 1
    assert len(run.error_lines) == 1, run.err
    assert run.error_lines[0].startswith("newsbot: error: ")
    for needle in needles:
        assert needle in run.err
    assert "Traceback" not in run.err and TOKEN not in run.err + run.out


# --- poll --------------------------------------------------------------------------------------


def test_poll_seeds_silently_then_announces_exactly_the_new_article(cli: Cli) -> None:
    cli.subscribe(1, "hai an")
    cli.subscribe(2, "thủy nguyên")

    seed = cli.run("poll")

    assert seed.code == 0, seed.err
    assert "haiphong: 12 new (first poll: stored silently, nothing announced)" in seed.out
    assert "749312" in seed.out and cli.pending() == []
    cli.serve(listings.with_article(listings.listing_html(), 749400, "Quận Hải An mở đường",
                                    today()))

    second = cli.run("poll")

    assert second.code == 0, second.err
    assert "haiphong: 1 new\n" in second.out and "Quận Hải An mở đường" in second.out
    assert second.out.count("id=") == 1
    assert cli.pending() == [(1, "749400")]
    third = cli.run("poll", "haiphong")
    assert third.code == 0 and "haiphong: 0 new (page not modified" in third.out
    assert cli.pending() == [(1, "749400")]


def test_poll_json_holds_the_same_fields(cli: Cli) -> None:
    seed = cli.run("poll", "--json")
    cli.serve(listings.with_article(listings.listing_html(), 749400, "Bài mới", today()))
    second = cli.run("poll", "--json")

    assert seed.code == second.code == 0
    first_doc, doc = seed.json(), second.json()
    assert first_doc["feeds"][0]["seeded"] is True and len(first_doc["feeds"][0]["new_items"]) == 12
    assert doc["dry_run"] is False and doc["alerts"] == []
    feed = doc["feeds"][0]
    assert (feed["feed_id"], feed["outcome"], feed["seeded"], feed["flood"], feed["error"]) == (
        "haiphong", "new", False, False, None)
    [item] = feed["new_items"]
    assert item["item_id"] == "749400" and item["title"] == "Bài mới"
    assert item["url"] == cli.site.url_for("/tin-tuc-su-kien/bai-viet-moi-749400")
    assert datetime.fromisoformat(item["published_at"]).tzinfo is not None
    assert datetime.fromisoformat(item["first_seen_at"]).tzinfo is not None


def test_changed_markup_fails_clearly_and_keeps_the_feed(cli: Cli) -> None:
    cli.set_fallback("none")
    cli.subscribe(1)
    assert cli.run("poll").code == 0
    before = cli.snapshot()
    cli.serve(listings.with_changed_markup(listings.listing_html()))

    run = cli.run("poll")

    assert_one_clean_error(run, "haiphong:", "has the markup changed?")
    assert run.out == ""
    assert cli.snapshot() == before
    assert cli.pending() == []


@pytest.mark.parametrize(
    ("behaviour", "needle"),
    [
        (Status(500), "HTTP 500 Internal Server Error"),
        (Garbage(), "invalid response"),
        (Status(200, {"Content-Type": "text/html"}, b"\x00\x00\xff\xfe\x89PNG"), "not HTML"),
    ],
    ids=["500", "not-http", "binary-200"],
)
def test_fetch_failures_print_one_line_and_change_nothing(
    cli: Cli, behaviour: Behaviour, needle: str
) -> None:
    assert cli.run("poll").code == 0
    before = cli.snapshot()
    cli.site.set_route(PATH, behaviour)

    run = cli.run("poll")

    assert_one_clean_error(run, needle)
    assert cli.snapshot() == before


def test_https_links_and_an_article_coming_back_are_not_new(cli: Cli) -> None:
    cli.subscribe(1)
    assert cli.run("poll").code == 0
    for page in (
        listings.with_https_links(listings.listing_html(), cli.site.base_url),
        listings.without_article(listings.listing_html(), "749205"),
        listings.listing_html(),
    ):
        cli.serve(page)
        run = cli.run("poll")
        assert run.code == 0 and "haiphong: 0 new" in run.out, run.out + run.err
    assert cli.pending() == []


def test_ten_restarts_send_nothing_and_leave_the_feed_byte_identical(cli: Cli) -> None:
    cli.serve(listings.listing_html(), validators=False)  # every poll parses and republishes
    cli.subscribe(1)
    assert cli.run("poll").code == 0
    before = cli.snapshot()

    for _ in range(10):
        run = cli.run("poll")
        assert run.code == 0 and "haiphong: 0 new\n" in run.out

    assert cli.snapshot() == before
    assert cli.pending() == []


def test_published_feeds_parse_in_feedparser(cli: Cli) -> None:
    cli.run("poll")
    title = "Giá < 100 triệu & “hay”"
    cli.serve(listings.with_article(listings.listing_html(), 749400, title, today()))
    cli.run("poll")

    for name in ("haiphong.xml", "haiphong.atom", "all.xml", "all.atom"):
        parsed = feedparser.parse((cli.feeds_dir / name).read_bytes())
        assert parsed.bozo == 0, (name, parsed.get("bozo_exception"))
        assert len(parsed.entries) == 13, name
        assert parsed.entries[0].title == title, name
        assert parsed.entries[0].link.endswith("-749400"), name
    for name in ("haiphong.json", "all.json"):  # feedparser 6.0 reads no JSON Feed
        doc = json.loads((cli.feeds_dir / name).read_bytes())
        assert doc["version"] == "https://jsonfeed.org/version/1.1"
        assert len(doc["items"]) == 13 and doc["items"][0]["title"] == title


def test_dry_run_creates_and_stores_nothing(cli: Cli) -> None:
    run = cli.run("poll", "--dry-run")

    assert run.code == 0 and "haiphong: 12 would be new" in run.out
    assert not cli.data_dir.exists()
    assert cli.run("poll").code == 0
    cli.subscribe(1)
    before = cli.snapshot()
    cli.serve(listings.with_article(listings.listing_html(), 749400, "Bài mới", today()))

    preview = cli.run("poll", "--dry-run", "--json")

    doc = preview.json()
    assert preview.code == 0 and doc["dry_run"] is True
    assert [item["item_id"] for item in doc["feeds"][0]["new_items"]] == ["749400"]
    assert cli.snapshot() == before and cli.pending() == []
    assert "haiphong: 1 new" in cli.run("poll").out  # still new for the real poll


def test_unknown_feed_names_the_known_ones(cli: Cli) -> None:
    run = cli.run("poll", "nope")

    assert_one_clean_error(run, "unknown feed nope", "known feeds: haiphong")


@pytest.mark.parametrize("args", [[], ["poll", "--bogus"], ["check"], ["feeds", "extra"]])
def test_usage_errors_exit_2(cli: Cli, args: list[str]) -> None:
    run = cli.run(*args)

    assert run.code == 2
    assert "usage:" in run.err and "Traceback" not in run.err


def test_a_missing_config_is_one_line(cli: Cli) -> None:
    cli.capsys.readouterr()
    code = main(["--config", str(cli.tmp / "nowhere.toml"), "feeds"])
    err = cli.capsys.readouterr().err

    assert code == 1 and err.count("\n") == 1 and "nowhere.toml: file not found" in err
    # a path was given: the fix is the path, not copying the example
    assert err.rstrip().endswith("(check the path given to --config)"), err
    assert "config.example.toml" not in err


def test_a_missing_config_from_the_environment_names_the_variable(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSBOT_CONFIG", str(cli.tmp / "nowhere.toml"))
    cli.capsys.readouterr()
    code = main(["feeds"])
    err = cli.capsys.readouterr().err

    assert code == 1 and err.count("\n") == 1
    assert "nowhere.toml: file not found (check $NEWSBOT_CONFIG, or unset it)" in err


def test_no_config_here_points_to_init(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = cli.tmp / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    monkeypatch.delenv("NEWSBOT_CONFIG", raising=False)
    cli.capsys.readouterr()
    code = main(["feeds"])
    err = cli.capsys.readouterr().err

    assert code == 1
    assert err == ("newsbot: error: config.toml: file not found (run `newsbot init` to write "
                   "config.toml and feeds/ here, or give --config PATH)\n")  # fmt: skip


def test_init_writes_the_shipped_files_then_refuses_to_overwrite(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cli.tmp)
    cli.capsys.readouterr()
    assert main(["init", "site"]) == 0
    site = cli.tmp / "site"
    assert (site / "config.toml").read_bytes() == (ROOT / "config.example.toml").read_bytes()
    assert sorted(p.name for p in (site / "feeds").iterdir()) == sorted(
        p.name for p in (ROOT / "feeds").glob("*.toml")
    )
    (site / "config.toml").write_text("# mine\n")
    cli.capsys.readouterr()
    assert main(["init", "site"]) == 1
    assert "already there, nothing written (newsbot init --force overwrites them)" in (
        cli.capsys.readouterr().err
    )
    assert (site / "config.toml").read_text() == "# mine\n"  # untouched
    assert main(["init", "site", "--force"]) == 0
    assert (site / "config.toml").read_bytes() == (ROOT / "config.example.toml").read_bytes()
    # the folder it wrote is one `newsbot feeds` runs in
    monkeypatch.chdir(site)
    cli.capsys.readouterr()
    assert main(["feeds"]) == 0
    assert "haiphong" in cli.capsys.readouterr().out


# --- check -------------------------------------------------------------------------------------


def test_check_file_prints_the_items_and_touches_no_database(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(cli.tmp)
    cli.capsys.readouterr()

    code = main(["check", "feeds/haiphong.toml", "--file", str(LISTING_FILE)])

    out = cli.capsys.readouterr().out
    assert code == 0
    assert out.count("id=") == 12 and "id=749312" in out and "id=748835" in out
    assert "Hội thảo khoa học “Kinh tế biển & logistics Hải Phòng”" in out
    assert "12 items found" in out and "warning: 1 of 12 items have no usable image" in out
    assert cli.site.url_for("/tin-tuc-su-kien/bo-nhiem") in out  # links resolve on the recipe URL
    assert sorted(p.name for p in cli.tmp.iterdir()) == ["config.toml", "feeds"]
    assert cli.site.count(PATH) == 0


def test_check_json_and_markup_errors(cli: Cli) -> None:
    ok = cli.run("check", str(cli.recipe), "--file", str(LISTING_FILE), "--json")
    doc = ok.json()
    assert ok.code == 0 and doc["error"] is None and doc["auto_detected"] is False
    assert len(doc["items"]) == 12 and doc["items"][0]["item_id"] == "749312"
    assert set(doc["items"][0]) >= {"item_id", "title", "url", "published_at", "summary"}
    assert doc["warnings"] and doc["url"] == cli.site.url_for(PATH)
    changed = cli.tmp / "changed.html"
    changed.write_text(listings.with_changed_markup(listings.listing_html()), encoding="utf-8")
    cli.set_fallback("none")

    failed = cli.run("check", str(cli.recipe), "--file", str(changed))
    failed_json = cli.run("check", str(cli.recipe), "--file", str(changed), "--json")

    assert_one_clean_error(failed, "has the markup changed?")
    assert failed_json.code == 1 and "has the markup changed?" in failed_json.json()["error"]
    assert not cli.data_dir.exists()


def test_check_fetches_the_recipe_url(cli: Cli) -> None:
    run = cli.run("check", str(cli.recipe))

    assert run.code == 0 and run.out.count("id=") == 12
    assert cli.site.count(PATH) == 1 and not cli.data_dir.exists()


# --- feeds -------------------------------------------------------------------------------------


def test_feeds_lists_counts_newest_item_and_last_poll(cli: Cli) -> None:
    never = cli.run("feeds", "--json").json()["feeds"][0]
    assert (never["items"], never["status"], never["last_poll_at"]) == (0, "never polled", None)
    assert not cli.data_dir.exists()
    cli.run("poll")

    table = cli.run("feeds")
    doc = cli.run("feeds", "--json").json()

    assert table.code == 0
    row = table.out.splitlines()[1]
    assert row.startswith("haiphong") and " 12 " in row and " ok " in row and "Bổ nhiệm" in row
    [feed] = doc["feeds"]
    assert (feed["feed_id"], feed["items"], feed["status"], feed["last_error"]) == (
        "haiphong", 12, "ok", None)
    assert feed["newest"]["item_id"] == "749312"
    assert datetime.fromisoformat(feed["last_poll_at"]).tzinfo is not None
    cli.site.set_route(PATH, Status(500))
    cli.run("poll")
    failing = cli.run("feeds", "--json").json()["feeds"][0]
    assert failing["status"] == "failing" and "HTTP 500" in failing["last_error"]
    assert "failing ×1" in cli.run("feeds").out


# --- the console script ------------------------------------------------------------------------


@pytest.mark.skipif(not NEWSBOT.exists(), reason="the newsbot console script is not installed")
def test_console_script_exit_codes_and_no_traceback(cli: Cli) -> None:
    seed = cli.subprocess("poll")
    assert seed.code == 0 and "haiphong: 12 new" in seed.out, seed.err
    cli.serve(listings.with_article(listings.listing_html(), 749400, "Bài mới", today()))
    new = cli.subprocess("poll", "--json")
    assert new.code == 0 and len(new.json()["feeds"][0]["new_items"]) == 1
    cli.site.set_route(PATH, Status(500))

    failed = cli.subprocess("poll")
    usage = cli.subprocess("poll", "--bogus")
    debug = cli.subprocess("poll", "nope", "--debug")

    assert_one_clean_error(failed, "HTTP 500")
    assert usage.code == 2 and "usage:" in usage.err and "Traceback" not in usage.err
    assert debug.code == 1 and "Traceback" in debug.err and "ConfigError" in debug.err


# --- start-up: what each command imports --------------------------------------------------------

# The daemon's stack: a one-shot command that needs none of it must not pay for importing it
# (0.35 s for bot.app alone; see bot/cli.py).
DAEMON = ("bot.app", "bot.daemonbot", "bot.scheduler", "bot.publish.web", "bot.telegram",
          "apscheduler", "telegram", "starlette", "uvicorn", "prometheus_client")


def imported_by(*argv: str) -> set[str]:
    """The modules `newsbot ARGV` has imported when it is done, in a fresh interpreter."""
    code = ("import sys; from bot.cli import main; code = main(sys.argv[1:]); "
            "print(' '.join(sorted(sys.modules)), file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    return set(done.stderr.split()[-1000:])


@pytest.mark.parametrize("argv", [
    ("--help",),
    ("check", "feeds/haiphong.toml", "--file", str(LISTING_FILE)),
])  # fmt: skip
def test_one_shot_commands_do_not_import_the_daemon(argv: tuple[str, ...]) -> None:
    assert sorted(m for m in imported_by(*argv) if m.startswith(DAEMON)) == []


def test_check_on_a_page_with_rules_imports_only_what_it_reads() -> None:
    """`check --file` scrapes with the recipe's rules: no fetching, no store, no feed writer,
    and none of the libraries only other pages need (issue 13 row 5b)."""
    modules = imported_by("check", "feeds/haiphong.toml", "--file", str(LISTING_FILE))
    unneeded = ("httpx", "httpcore", "sqlite3", "bot.store", "bot.publish", "bot.pipeline",
                "readability", "feedparser", "charset_normalizer", "bot.source.detect")
    assert sorted(m for m in modules if m.startswith(unneeded)) == []
    assert {"lxml", "bot.source.scrape", "pydantic"} <= modules  # it did read the page


def test_help_imports_no_library() -> None:
    modules = imported_by("--help")
    assert {"pydantic", "lxml", "httpx", "bot.config", "bot.pipeline"}.isdisjoint(modules)
    assert "bot.model" not in modules  # its ~25 dataclasses were a quarter of --help's imports
