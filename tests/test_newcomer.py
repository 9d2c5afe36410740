"""The CLI as a new user meets it while writing a recipe and a config: `detect` proposes a
whole recipe (title, language, time zone, id_pattern) and saves it; every mistake on the way is
one line naming the file, the key and the fix."""

from __future__ import annotations

import socket
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fakes.realpages import realpage
from hypothesis import given
from hypothesis import strategies as st

from bot import cli
from bot.config import ensure_data_dir, load_config
from bot.errors import ConfigError, RecipeError
from bot.recipes import load_recipe
from bot.schema import Config
from bot.source import dom, scrape

SOTTTT = "capstone2/tin-tuc-su-kien.html"
SOTTTT_URL = "https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# --- detect ------------------------------------------------------------------------------------


def test_recipe_only_proposes_title_language_zone_and_id_pattern(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "detect", str(realpage(SOTTTT)), "--base-url", SOTTTT_URL,
                         "--recipe-only")  # fmt: skip
    assert code == 0, err
    recipe = tomllib.loads(out)  # nothing but TOML
    # from <title>: "Tin tức sự kiện - Sở Thông Tin Và Truyền Thông"
    assert "sở thông tin và truyền thông" in recipe["title"].lower()
    assert recipe["url"] == SOTTTT_URL
    assert (recipe["language"], recipe["timezone"]) == ("vi", "Asia/Ho_Chi_Minh")
    # links like …/tin-tuc-su-kien/-/view_content/4418033-slug.html carry a numeric id
    assert recipe["id_pattern"] == r"/(\d{5,})-[^/]*$"
    # the items' own class, not the layout path `section#portlet_101 div.portlet-body > div`
    # (which selects the same 20 items, and 3 other blocks that give none)
    assert recipe["list"]["item"] == "div.asset-bounddary"


def test_save_writes_a_recipe_that_checks_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "feeds" / "sotttt.toml"
    code, out, err = run(capsys, "detect", str(realpage(SOTTTT)), "--base-url", SOTTTT_URL,
                         "--save", str(target))  # fmt: skip
    assert code == 0, err
    assert f"wrote {target}" in out
    recipe = load_recipe(target)
    assert recipe.feed_id == "sotttt" and recipe.language == "vi"
    code, out, err = run(capsys, "check", str(target), "--file", str(realpage(SOTTTT)),
                         "--base-url", SOTTTT_URL)  # fmt: skip
    assert code == 0 and "20 items found" in out, err
    before = target.read_bytes()
    code, _, err = run(capsys, "detect", str(realpage(SOTTTT)), "--base-url", SOTTTT_URL,
                       "--save", str(target))  # fmt: skip
    assert code == 1 and err.count("\n") == 1 and "already exists, nothing written" in err
    assert target.read_bytes() == before


def test_a_saved_page_without_base_url_says_links_would_be_wrong(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "detect", str(realpage(SOTTTT)))
    assert code == 0
    assert "no --base-url, so the links below are wrong" in err
    assert "# Save as" not in out and "url = " not in out  # no recipe with file:/// links
    code, out, err = run(capsys, "detect", str(realpage(SOTTTT)), "--save",
                         str(tmp_path / "x.toml"))  # fmt: skip
    assert code == 1 and err.count("\n") == 1 and "needs --base-url" in err
    assert not (tmp_path / "x.toml").exists()


YONHAP = "daily-news-gravity/yonhap.html"
YONHAP_URL = "https://www.yna.co.kr/international/asia-australia"


def test_detect_timezone_reads_the_dates_and_goes_into_the_recipe(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "feeds" / "yna.toml"
    code, _, err = run(capsys, "detect", str(realpage(YONHAP)), "--base-url", YONHAP_URL,
                         "--timezone", "Asia/Tokyo", "--save", str(target))  # fmt: skip
    assert code == 0, err
    recipe = load_recipe(target)
    assert (recipe.language, recipe.timezone) == ("ko", "Asia/Tokyo")  # not the language's
    assert recipe.rules is not None and recipe.rules.date_formats == ("%m-%d %H:%M",)
    html = dom.decode_html(realpage(YONHAP).read_bytes())
    saved = datetime(2025, 12, 2, tzinfo=UTC)  # the page's own day (its newest item: 1 Dec)
    first = scrape.scrape(html, YONHAP_URL, recipe, saved).items[0]
    # printed `12-01 23:26`: 1 December, 23:26 in Tokyo (UTC+9, as Seoul)
    assert first.published_at == datetime(2025, 12, 1, 14, 26, tzinfo=UTC)


def test_detect_without_timezone_takes_the_languages_zone(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "detect", str(realpage(YONHAP)), "--base-url", YONHAP_URL,
                         "--recipe-only")  # fmt: skip
    assert code == 0, err
    recipe = tomllib.loads(out)
    assert (recipe["language"], recipe["timezone"]) == ("ko", "Asia/Seoul")
    assert recipe["list"]["date_formats"] == ["%m-%d %H:%M"]


def test_a_bad_timezone_is_one_line_naming_it_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "detect", str(realpage(SOTTTT)), "--base-url", SOTTTT_URL,
                       "--timezone", "Mars/Olympus", "--save", str(tmp_path / "x.toml"))
    assert code == 1 and err.count("\n") == 1
    assert "--timezone Mars/Olympus: not a time zone" in err and "Asia/Seoul" in err
    assert not (tmp_path / "x.toml").exists()


# --- config and recipe mistakes ---------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_an_unknown_key_suggests_the_nearest_known_one(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[schedule]\nintervall = "10m"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert str(caught.value) == (
        f"{path}: schedule.intervall: unknown key (did you mean interval?)")
    far = write(tmp_path / "far.toml", "[schedule]\nbanana = 1\n")
    with pytest.raises(ConfigError, match=r"banana: unknown key \(remove it or check its spelling"):
        load_config(far, environ={})


def test_a_misspelt_recipe_key_is_one_line_without_a_python_dict(tmp_path: Path) -> None:
    path = write(tmp_path / "site.toml", 'title = "t"\nurl = "https://x.vn/"\n'
                 '[list]\nitem = "li"\ntitel = "a"\n')  # fmt: skip
    with pytest.raises(RecipeError) as caught:
        load_recipe(path)
    message = str(caught.value)
    assert "list.titel: unknown key (did you mean title?)" in message
    assert "list.title: missing (add title = ...)" in message
    assert "{" not in message and "\n" not in message


@given(st.sampled_from(["debug", "Info", "WARNING", " error "]))
def test_log_level_accepts_any_case(level: str) -> None:
    assert Config.model_validate({"log_level": level}).log_level == level.strip().upper()


def test_an_unusable_data_dir_is_one_line_naming_the_key(tmp_path: Path) -> None:
    a_file = write(tmp_path / "data", "not a folder")
    config = Config(path=tmp_path / "config.toml", data_dir=a_file)
    with pytest.raises(ConfigError) as caught:
        ensure_data_dir(config)
    assert str(caught.value) == (f"{tmp_path / 'config.toml'}: data_dir: {a_file} is a file, "
                                 "not a folder (set data_dir to a folder newsbot may write in)")
    kernel = Config(path=tmp_path / "config.toml", data_dir=Path("/proc/newsbot"))
    with pytest.raises(ConfigError, match=r"data_dir: /proc/newsbot is in a kernel file system"):
        ensure_data_dir(kernel)
    inside_a_file = Config(path=tmp_path / "config.toml", data_dir=a_file / "sub")
    with pytest.raises(ConfigError, match=r"data_dir: cannot write in .*/data/sub: "):
        ensure_data_dir(inside_a_file)


def test_poll_with_an_unusable_data_dir_fails_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / "data", "not a folder")
    (tmp_path / "feeds").mkdir()
    config = write(tmp_path / "config.toml", 'data_dir = "data"\n')
    code, _, err = run(capsys, "--config", str(config), "poll")
    assert code == 1 and err.count("\n") == 1
    assert f"{config}: data_dir: " in err and "is a file, not a folder" in err
    assert "unexpected" not in err


def test_port_in_use_names_the_config_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        (tmp_path / "feeds").mkdir()
        config = write(tmp_path / "config.toml", f"[server]\nport = {port}\n")
        code, _, err = run(capsys, "--config", str(config), "run")
    last = err.splitlines()[-1]  # after the daemon's own log lines
    assert code == 1 and last.startswith("newsbot: error: ")
    assert f"{config}: server.port: the feed server cannot listen on 127.0.0.1:{port}" in last
