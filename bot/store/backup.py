"""`newsbot backup PATH`: a consistent copy of the database, also while the daemon runs.

The copy is SQLite's online backup (bot.store.db.Store.backup) from a read-only connection, so
neither the instance lock nor the daemon's writes are in the way, and the database is never
written. It goes to a hidden temporary file beside PATH, passes `PRAGMA quick_check`, is synced,
and only then gets its name: an interrupted backup never leaves a half file named like a good one.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.errors import DatabaseDamaged, StoreError
from bot.store.db import Store


@dataclass(frozen=True)
class BackupReport:
    """What `backup_database` wrote."""

    path: Path
    size: int  # bytes
    items: int
    chats: int  # active chats


def backup_database(db_path: Path, dest: Path, now: datetime) -> BackupReport:
    """Copy `db_path` to `dest` (a new file, or a directory to put a time-stamped one in)."""
    target = dest / f"newsbot-{now:%Y%m%d-%H%M%S}.db" if dest.is_dir() else dest
    if target.exists():
        raise StoreError(f"{target} already exists", hint="give a new file name or a directory; "
                         "newsbot backup never overwrites a file")
    if not target.parent.is_dir():
        raise StoreError(f"{target.parent} is not a directory",
                         hint="create it first, or give another path")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)  # left by an interrupted backup to the same name
    if not db_path.is_file():
        raise StoreError(f"{db_path} does not exist: nothing to back up",
                         hint="check data_dir in the config")
    try:
        with Store.open_readonly(db_path) as store:
            store.backup(partial)
        _check(partial, db_path)
        _sync(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    with Store.open_readonly(target) as copy:
        return BackupReport(target, target.stat().st_size, copy.item_count(), len(copy.chats()))


def _check(copy_path: Path, db_path: Path) -> None:
    with Store.open_readonly(copy_path) as copy:
        try:
            copy.refuse_damage()
        except DatabaseDamaged as exc:
            raise DatabaseDamaged(f"{db_path} is damaged, no backup written ({exc.message})",
                                  hint=exc.hint) from exc


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
