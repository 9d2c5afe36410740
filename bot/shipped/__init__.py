"""What the package ships beside the code: the commented example config and the recipes.

In a checkout `config.example.toml` and `feeds/` here are symlinks to the files at the top of the
repository (the ones `make run` uses); a wheel or sdist carries them as plain files (package data,
pyproject.toml), so an installed `newsbot` finds them here, wherever it was installed.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parent


def example_config() -> Path:
    """config.example.toml: every key, commented."""
    return SHIPPED / "config.example.toml"


def recipes() -> list[Path]:
    """The recipes newsbot comes with (feeds/<id>.toml), sorted by id."""
    return sorted((SHIPPED / "feeds").glob("*.toml"))


def recipe(feed_id: str) -> Path:
    """One shipped recipe, e.g. recipe("haiphong")."""
    return SHIPPED / "feeds" / f"{feed_id}.toml"
