"""Recipes: `feeds/<id>.toml` files read into `Recipe` values (their shape is `bot.schema`'s)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, RecipeError
from bot.model import ArticleRules, ListRules, Pick, Recipe
from bot.schema import AUTO_CONTENT, FEED_ID, RecipeFile, read_toml, sections_of, validated

RESERVED_FEED_IDS = frozenset({"all"})  # /feeds/all.xml is every feed together (ALL_FEED)


def parse_pick(value: str | None) -> Pick | None:
    """`h2 a@href` -> Pick("h2 a", "href"); an empty css means the item element itself."""
    if value is None:
        return None
    css, sep, attr = value.rpartition("@")
    if not sep or not re.fullmatch(r"[A-Za-z_:][-\w:.]*", attr):
        return Pick(value.strip())
    return Pick(css.strip(), attr)


def load_recipe(path: Path) -> Recipe:
    """Read and validate `feeds/<id>.toml`; the file name is the feed id."""
    feed_id = _feed_id_of(path)
    raw = read_toml(path, RecipeError, hint=_RECIPE_HINT)
    return _validated_recipe(feed_id, raw, path)


def _feed_id_of(path: Path) -> str:
    feed_id = path.stem
    if not FEED_ID.match(feed_id):
        raise RecipeError(
            f"{path}: {feed_id!r} is not a usable feed id",
            hint="name the file with lower-case letters, digits, - or _ (e.g. feeds/haiphong.toml)",
        )
    if feed_id in RESERVED_FEED_IDS:
        raise RecipeError(
            f"{path}: {feed_id!r} is reserved: /feeds/{feed_id}.xml is every feed together",
            hint=f"rename the file, e.g. feeds/{feed_id}-news.toml",
        )
    return feed_id


def recipe_from_text(text: str, path: Path) -> Recipe:
    """A recipe not saved yet (`newsbot add`), read exactly as `load_recipe(path)` will read it."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not valid TOML: {exc}", hint=_RECIPE_HINT) from None
    return _validated_recipe(_feed_id_of(path), raw, path)


_RECIPE_HINT = "see README.md, 'Writing a recipe'"


def _validated_recipe(feed_id: str, raw: dict[str, Any], path: Path) -> Recipe:
    parsed = validated(RecipeFile, raw, path, RecipeError)
    return _to_recipe(feed_id, parsed, path)


def load_recipes(feeds_dir: Path) -> list[Recipe]:
    """Every recipe in a folder, sorted by id; all problems are reported together."""
    if not feeds_dir.is_dir():
        raise ConfigError(
            f"{feeds_dir}: feeds folder not found", hint="set feeds_dir in the config file"
        )
    recipes, problems = scan_recipes(feeds_dir)
    if problems:
        raise RecipeError("; ".join(problems.values()))
    return recipes


def scan_recipes(feeds_dir: Path) -> tuple[list[Recipe], dict[Path, str]]:
    """Every recipe in a folder that loads, sorted by id, and the one-line problem of each file
    that does not (a missing folder is no recipes)."""
    recipes, problems = [], {}
    for path in sorted(feeds_dir.glob("*.toml")):
        try:
            recipes.append(load_recipe(path))
        except RecipeError as exc:
            problems[path] = str(exc)
    return recipes, problems


def _to_recipe(feed_id: str, parsed: RecipeFile, path: Path) -> Recipe:
    sections = sections_of(parsed)
    if parsed.feed is not None:
        urls: tuple[str, ...] = (parsed.feed,)
    elif sections:
        urls = tuple(section.url for section in sections)
    else:
        urls = (parsed.url,) if isinstance(parsed.url, str) else tuple(parsed.url or ())
    rules = None
    if parsed.list is not None:
        section = parsed.list
        title = parse_pick(section.title)
        assert title is not None
        rules = ListRules(
            item=section.item,
            title=title,
            link=parse_pick(section.link),
            summary=parse_pick(section.summary),
            date=parse_pick(section.date),
            image=parse_pick(section.image),
            date_formats=section.date_formats,
            fallback=section.fallback,
            next_page=parse_pick(section.next_page),
        )
    article = None
    if parsed.article is not None:
        a = parsed.article
        auto = a.content is not None and a.content.strip() == AUTO_CONTENT
        article = ArticleRules(
            content=None if auto else parse_pick(a.content),
            content_auto=auto,
            date=parse_pick(a.date),
            author=parse_pick(a.author),
            image=parse_pick(a.image),
            title=parse_pick(a.title),
        )
    return Recipe(
        feed_id=feed_id,
        title=parsed.title,
        urls=urls,
        rules=rules,
        article=article,
        id_pattern=parsed.id_pattern,
        language=parsed.language,
        timezone=parsed.timezone,
        interval=parsed.interval,
        max_items=parsed.max_items,
        path=path,
        sections=sections,
        feed=parsed.feed is not None,
    )
