"""Config edges (issue 12, item 7): values that used to crash or break every poll later are
refused when the file is loaded, in one line naming the file, the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError, RecipeError
from bot.publish import feedmeta
from bot.recipes import RESERVED_FEED_IDS, load_recipe, load_recipes

RECIPE = 'title = "Tin"\nurl = "https://haiphong.gov.vn/tin"\n'


def refusal(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: ")
    assert "Error" not in message  # no exception class names: a sentence for a person
    return message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[schedule]\ninterval = 1e20\n", "schedule.interval: 1e+20 is too long: at most 3650d"),
        ("[schedule]\ninterval = inf\n", "schedule.interval: inf is too long"),
        ("[schedule]\ninterval = nan\n", "schedule.interval: nan is not a duration"),
        ('[schedule]\nretention = "99999999999d"\n', "schedule.retention: \"99999999999d\" is too"),
        ('[telegram]\nmax_age = 1e300\n', "telegram.max_age: 1e+300 is too long"),
        ("[fetch]\ntimeout = 1e-9\n", "fetch.timeout: 0 s is out of bounds: a page gets 1s to 10m"),
        ('[fetch]\ntimeout = "2h"\n', "fetch.timeout: 7200 s is out of bounds"),
        ('[fetch]\nuser_agent = "newsbot\\r\\nX-Injected: 1"\n',
         "fetch.user_agent: 'newsbot\\r\\nX-Injected: 1' is not a usable User-Agent: write one"),
        ('[fetch]\nuser_agent = "tab\\there"\n', "fetch.user_agent: 'tab\\there' is not a usable"),
        ('[fetch]\nuser_agent = "Trình thu thập"\n', "fetch.user_agent: 'Trình thu thập' is not"),
        ('[fetch]\nallow_private = ["10.1.2.0/33"]\n',
         "fetch.allow_private: '10.1.2.0/33' is not an address or network"),
        ('[server]\nmetrics = "yes"\n', "server.metrics: \"yes\": input should be 'local', 'off'"),
    ],
)
def test_out_of_bounds_values_are_refused_in_one_line(
    tmp_path: Path, text: str, expected: str
) -> None:
    assert expected in refusal(tmp_path, text)


def test_sensible_values_still_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[schedule]\ninterval = "3650d"\n[fetch]\ntimeout = 1\nuser_agent = "newsbot (+https://'
        'example.vn/lien-he)"\nallow_private = ["10.1.2.0/24", "intranet.example", "fd00::/8"]\n'
        '[server]\nmetrics = "public"\n',
        encoding="utf-8",
    )
    config = load_config(path, {})
    assert config.schedule.interval.days == 3650 and config.fetch.timeout.total_seconds() == 1
    assert config.fetch.allow_private == ("10.1.2.0/24", "intranet.example", "fd00::/8")
    assert config.server.metrics == "public"
    path.write_text("", encoding="utf-8")
    assert load_config(path, {}).server.metrics == "local"  # the default


def test_a_recipe_interval_is_bounded_too(tmp_path: Path) -> None:
    path = tmp_path / "news.toml"
    path.write_text(RECIPE + "interval = 1e20\n", encoding="utf-8")
    with pytest.raises(RecipeError, match=r"news.toml: interval: 1e\+20 is too long"):
        load_recipe(path)


def test_a_recipe_named_like_the_combined_feed_is_refused(tmp_path: Path) -> None:
    (tmp_path / "all.toml").write_text(RECIPE, encoding="utf-8")
    (tmp_path / "hp.toml").write_text(RECIPE, encoding="utf-8")
    with pytest.raises(RecipeError) as caught:
        load_recipes(tmp_path)
    message = str(caught.value)
    assert f"{tmp_path / 'all.toml'}: 'all' is reserved" in message
    assert "rename the file, e.g. feeds/all-news.toml" in message and "\n" not in message


def test_the_reserved_ids_are_the_ones_the_feeds_use() -> None:
    assert feedmeta.ALL_FEED in RESERVED_FEED_IDS
