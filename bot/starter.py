"""`newsbot init [DIR]`: a folder to run newsbot from, outside a checkout.

It gets `config.toml` (the commented example, every key explained) and `feeds/` with the recipes
newsbot ships; `newsbot run` in that folder then works as `make run` does in a checkout. Nothing
is overwritten unless asked: a config someone edited is worth more than a fresh copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bot import shipped
from bot.errors import ConfigError


def plan(folder: Path) -> list[tuple[Path, Path]]:
    """(shipped file, where it goes) for everything `init` writes into `folder`."""
    files = [(shipped.example_config(), folder / "config.toml")]
    files += [(recipe, folder / "feeds" / recipe.name) for recipe in shipped.recipes()]
    return files


def write_starter(folder: Path, *, force: bool = False) -> list[Path]:
    """Copy the example config and the shipped recipes into `folder`; the paths written."""
    files = plan(folder)
    existing = [target for _, target in files if target.exists()]
    if existing and not force:
        names = ", ".join(str(path) for path in existing)
        raise ConfigError(f"{names}: already there, nothing written",
                          hint="newsbot init --force overwrites them")  # fmt: skip
    try:
        for source, target in files:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    except OSError as exc:
        where = exc.filename or folder
        raise ConfigError(f"{where}: cannot write: {exc.strerror}",
                          hint="choose a folder you can write to: newsbot init DIR") from None
    return [target for _, target in files]
