"""Recipes live: what changed in feeds/ since the daemon last looked.

The daemon rescans the folder every `schedule.rescan` (and on SIGHUP). A file is read again only
when its size, modification time or inode changed, so a rescan of a thousand unchanged recipes
costs a thousand stat calls. The view is of the folder only: a recipe the daemon was given from
elsewhere (the demo, tests) is never reported removed.

A file that no longer validates is reported once per distinct problem and changes nothing: the
feed keeps its last good recipe (or, if it is new, is not added) until the file is fixed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import RecipeError
from bot.model import Recipe
from bot.recipes import load_recipe

Signature = tuple[int, int, int]  # (mtime_ns, size, inode)


@dataclass(frozen=True)
class Refusal:
    """A recipe file that does not validate: its id, why, and whether a good recipe of it runs."""

    feed_id: str
    problem: str
    still_running: bool

    def alert(self) -> str:
        """The admin alert: what is wrong, and what newsbot does meanwhile."""
        meanwhile = (f"{self.feed_id} keeps running with its last good recipe"
                     if self.still_running else f"{self.feed_id} is not added")
        return f"⚠️ recipe refused: {self.problem}. {meanwhile} until the file is fixed."


@dataclass(frozen=True)
class Changes:
    """What a rescan found; ids of feeds."""

    added: tuple[Recipe, ...] = ()
    changed: tuple[Recipe, ...] = ()
    removed: tuple[str, ...] = ()
    refused: tuple[Refusal, ...] = ()  # files newly failing to validate

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.refused)

    def summary(self) -> str:
        parts = [f"{name} {', '.join(ids)}" for name, ids in (
            ("added", [r.feed_id for r in self.added]),
            ("changed", [r.feed_id for r in self.changed]),
            ("removed", list(self.removed)),
        ) if ids]
        return "; ".join(parts) or "nothing to apply"


@dataclass
class RecipeFolder:
    """feeds/ as last seen: the recipe of each file that validates, and the problem of each that
    does not."""

    folder: Path
    recipes: dict[str, Recipe] = field(default_factory=dict)  # id -> the last good recipe
    _seen: dict[Path, Signature] = field(default_factory=dict)
    _problems: dict[Path, str] = field(default_factory=dict)

    @classmethod
    def scan(cls, folder: Path) -> RecipeFolder:
        """The folder as it is now (nothing reported: this is the starting point)."""
        view = cls(folder)
        view.rescan()
        return view

    def rescan(self) -> Changes:
        """Read what changed since the last look; update the view; say what to apply."""
        now = _signatures(self.folder)
        added: list[Recipe] = []
        changed: list[Recipe] = []
        refused: list[Refusal] = []
        for path, signature in now.items():
            if self._seen.get(path) == signature:
                continue
            self._seen[path] = signature
            try:
                recipe = load_recipe(path)
            except RecipeError as exc:
                if self._problems.get(path) != str(exc):
                    self._problems[path] = str(exc)
                    refused.append(Refusal(path.stem, str(exc), path.stem in self.recipes))
                continue
            self._problems.pop(path, None)
            old = self.recipes.get(recipe.feed_id)
            if old != recipe:
                self.recipes[recipe.feed_id] = recipe
                (added if old is None else changed).append(recipe)
        removed = []
        for path in [p for p in self._seen if p not in now]:
            del self._seen[path]
            self._problems.pop(path, None)
            if self.recipes.pop(path.stem, None) is not None:
                removed.append(path.stem)
        return Changes(tuple(added), tuple(changed), tuple(sorted(removed)), tuple(refused))

    @property
    def problems(self) -> Mapping[Path, str]:
        return dict(self._problems)


def _signatures(folder: Path) -> dict[Path, Signature]:
    """Each `*.toml` of the folder (a missing folder has none); a file that vanishes between
    listing and stat is simply not there."""
    found: dict[Path, Signature] = {}
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return found
    for entry in entries:
        if not entry.name.endswith(".toml"):
            continue
        try:
            info = entry.stat()
        except OSError:
            continue
        found[Path(entry.path)] = (info.st_mtime_ns, info.st_size, info.st_ino)
    return dict(sorted(found.items()))
