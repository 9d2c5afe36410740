"""Every recipe in feeds/ against its golden pages in tests/fixtures/<feed_id>/.

A recipe without at least one `<page>.html` + `<page>.expected.json` pair fails: a recipe nobody
checked against a page is a guess. Expected files are written by reading the page, not by
dumping the scraper's output. Their format:

    {"url": page URL, "now": ISO time of the scrape,
     "items": [{"item_id", "url", "title", "summary", "published_at", "image",
                "doc_number", "doc_type", "attachments": [{"url", "name", "kind"}]}, ...],
     "article": {"title", "published_at", "author", "image",
                 "content_contains": [...], "content_excludes": [...]}}   (optional)

`published_at` is an ISO instant, or a bare `YYYY-MM-DD` when the page prints only a day (then
the day in the recipe's timezone is compared), or null.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from conftest import FIXTURES, ROOT

from bot.model import Item, Recipe
from bot.recipes import load_recipe
from bot.source.article import ArticleInfo, scrape_article
from bot.source.scrape import scrape

FEEDS = ROOT / "feeds"
RECIPES = sorted(FEEDS.glob("*.toml"))
ITEM_FIELDS = ("item_id", "url", "title", "summary", "published_at", "image", "doc_number",
               "doc_type", "attachments")  # each compared when the expected item has it


def test_there_is_at_least_one_recipe() -> None:
    assert RECIPES, f"no recipes in {FEEDS}"


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_matches_its_golden_pages(path: Path) -> None:
    recipe = load_recipe(path)
    pairs = _golden_pairs(recipe.feed_id)
    failures: list[str] = []
    for page, expected_path in pairs:
        expected = json.loads(expected_path.read_text(encoding="utf-8"))
        html = page.read_text(encoding="utf-8")
        now = datetime.fromisoformat(expected["now"])
        where = f"{recipe.feed_id}/{page.name}"
        if "items" in expected:
            result = scrape(html, expected["url"], recipe, now)
            failures += _compare_items(where, recipe, result.items, expected["items"])
        if "article" in expected:
            info = scrape_article(
                html, expected["url"], recipe.article, tz=recipe.timezone, now=now
            )
            failures += _compare_article(where, recipe, info, expected["article"])
    assert not failures, "\n".join(failures)


def _golden_pairs(feed_id: str) -> list[tuple[Path, Path]]:
    folder = FIXTURES / feed_id
    assert folder.is_dir(), (
        f"feeds/{feed_id}.toml has no golden pages: create {folder} with a saved page "
        "and its .expected.json (see tests/fixtures/haiphong/README.md)"
    )
    pairs = [
        (page, page.with_name(page.stem + ".expected.json"))
        for page in sorted(folder.glob("*.html"))
        if page.with_name(page.stem + ".expected.json").is_file()
    ]
    assert pairs, f"{folder} has no <page>.html with a <page>.expected.json next to it"
    return pairs


def _compare_items(
    where: str, recipe: Recipe, items: tuple[Item, ...], expected: list[dict[str, Any]]
) -> list[str]:
    failures = []
    if len(items) != len(expected):
        got = "\n    ".join(f"{item.item_id} {item.title}" for item in items)
        failures.append(f"{where}: {len(items)} items, expected {len(expected)}:\n    {got}")
    for index, (item, want) in enumerate(zip(items, expected, strict=False), start=1):
        for field in ITEM_FIELDS:
            if field not in want:
                continue
            got_value = getattr(item, field)
            if field == "attachments":
                got_value = [asdict(attachment) for attachment in got_value]
            if not _same(field, got_value, want[field], recipe.timezone):
                failures.append(
                    f"{where} item {index} ({want.get('title', '')[:40]!r}) {field}:\n"
                    f"    got      {_show(got_value)}\n    expected {want[field]!r}"
                )
    return failures


def _compare_article(
    where: str, recipe: Recipe, info: ArticleInfo, expected: dict[str, Any]
) -> list[str]:
    failures = []
    for field in ("title", "published_at", "author", "image"):
        if field in expected and not _same(
            field, getattr(info, field), expected[field], recipe.timezone
        ):
            failures.append(
                f"{where} article {field}:\n    got      {_show(getattr(info, field))}\n"
                f"    expected {expected[field]!r}"
            )
    content = info.content_html or ""
    for snippet in expected.get("content_contains", []):
        if snippet not in content:
            failures.append(f"{where} article content lacks {snippet!r}")
    for snippet in expected.get("content_excludes", []):
        if snippet in content:
            failures.append(f"{where} article content should not contain {snippet!r}")
    return failures


def _same(field: str, got: object, want: object, tz: str) -> bool:
    if field != "published_at" or want is None:
        return got == want
    if not isinstance(got, datetime) or not isinstance(want, str):
        return False
    if len(want) == 10:  # the page prints a day only: compare the day where the site lives
        return got.astimezone(ZoneInfo(tz)).date().isoformat() == want
    return got == datetime.fromisoformat(want)


def _show(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)
