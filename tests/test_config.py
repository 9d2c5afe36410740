"""Config and recipes: valid files load; every mistake names the file, the key and the fix."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.config import find_config, load_config
from bot.errors import ConfigError, RecipeError
from bot.model import Pick
from bot.recipes import load_recipe, load_recipes
from bot.schema import parse_duration

ROOT = Path(__file__).resolve().parent.parent


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10m", timedelta(minutes=10)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("45s", timedelta(seconds=45)),
        ("2d", timedelta(days=2)),
        (90, timedelta(seconds=90)),
    ],
)
def test_durations(text: str | int, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["10 phút", "", "0m", "m", "-5m", True])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


def test_example_config_loads_with_paths_relative_to_its_folder() -> None:
    config = load_config(ROOT / "config.example.toml", environ={})
    assert config.data_dir == ROOT / "data"
    assert config.feeds_dir == ROOT / "feeds"
    assert config.schedule.interval == timedelta(minutes=10)
    assert config.server.port == 8080
    assert config.token == ""


def test_the_error_names_file_key_value_and_fix(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[schedule]\ninterval = "10 phút"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    message = str(caught.value)
    assert str(path) in message
    assert 'schedule.interval: "10 phút" is not a duration (write 10m, 1h30m)' in message


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[server]\nprot = 8080\n")
    with pytest.raises(ConfigError, match=r"server\.prot: unknown key"):
        load_config(path, environ={})


def test_wrong_types_say_what_was_given(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", '[server]\nport = "eighty"\n')
    with pytest.raises(ConfigError, match=r'server\.port: "eighty"'):
        load_config(path, environ={})


def test_broken_toml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path / "config.toml", "[server\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path, environ={})


def test_token_from_environment_wins_and_never_shows(tmp_path: Path) -> None:
    token = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
    path = write(tmp_path / "config.toml", '[telegram]\ntoken = "from-file"\n')
    config = load_config(path, environ={"NEWSBOT_TELEGRAM_TOKEN": token})
    assert config.token == token
    assert token not in repr(config)
    assert token not in str(config.model_dump())


def test_find_config_falls_back_to_the_example(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "config.example.toml", "")
    path, notice = find_config(None, {})
    assert path.name == "config.example.toml"
    assert notice and "config.toml not found" in notice
    assert find_config(None, {"NEWSBOT_CONFIG": "x.toml"}) == (Path("x.toml"), None)
    assert find_config("y.toml", {"NEWSBOT_CONFIG": "x.toml"}) == (Path("y.toml"), None)


RECIPE = """
title = "Tin tức"
url = "https://example.vn/tin-tuc"
interval = "15m"
id_pattern = '-(\\d{5,})$'
[list]
item = "li.row"
title = "h2 a"
link = "h2 a@href"
image = "img@data-src"
"""


def test_recipe_loads(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path / "example.toml", RECIPE))
    assert recipe.feed_id == "example"
    assert recipe.urls == ("https://example.vn/tin-tuc",)
    assert recipe.interval == timedelta(minutes=15)
    assert recipe.timezone == "Asia/Ho_Chi_Minh"
    assert recipe.rules is not None
    assert recipe.rules.link == Pick("h2 a", "href")
    assert recipe.rules.image == Pick("img", "data-src")
    assert recipe.rules.title == Pick("h2 a")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('title = "h2 a"', 'title = "h2 >> a"'), r"list\.title: .*not a valid CSS selector"),
        (('interval = "15m"', 'interval = "mỗi 15 phút"'), r"interval: .*not a duration"),
        (("[list]", 'timezone = "Hanoi"\n[list]'), r"timezone: \"Hanoi\" is not a time zone"),
        (("[list]", 'id_pattern2 = "x"\n[list]'), r"id_pattern2: unknown key"),
        (('url = "https://example.vn/tin-tuc"', 'url = "ftp://x"'), r"url: .*not an http"),
        (("-(\\d{5,})$", "-(\\d{5,}$"), r"id_pattern: .*not a regular expression"),
    ],
)
def test_recipe_errors_name_file_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = write(tmp_path / "example.toml", RECIPE.replace(*change))
    with pytest.raises(RecipeError, match=message) as caught:
        load_recipe(path)
    assert str(path) in str(caught.value)


def test_recipe_without_list_is_auto(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path / "auto.toml", 'title = "A"\nurl = "https://a.vn/"\n'))
    assert recipe.rules is None


def test_load_recipes_reports_every_broken_file(tmp_path: Path) -> None:
    write(tmp_path / "good.toml", RECIPE)
    write(tmp_path / "bad1.toml", "title = 1\n")
    write(tmp_path / "bad2.toml", "[list\n")
    with pytest.raises(RecipeError) as caught:
        load_recipes(tmp_path)
    assert "bad1.toml" in str(caught.value) and "bad2.toml" in str(caught.value)


def test_shipped_recipes_load() -> None:
    recipes = load_recipes(ROOT / "feeds")
    assert recipes, "feeds/ must ship at least one recipe"
    assert "haiphong" in {recipe.feed_id for recipe in recipes}
