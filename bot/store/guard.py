"""Open a data dir's database only when it is the one newsbot left there.

The rule for "expected": a data dir is *in use* once it holds `public/` (feeds published from
it), the marker `newsbot.created` (written beside each database newsbot creates or opens), or a
`newsbot.db-wal` journal. In a data dir in use, a missing, zero-length, schema-less or damaged
(`PRAGMA quick_check`) database is refused, and nothing is written: starting afresh would store
every item on the sites again, silently, and forget every subscriber. `--init` is the explicit
way out: a new database, the old file (if any) moved aside, never deleted. A data dir with none of
these signs is new, and its database is created without asking.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import DatabaseDamaged, StoreError
from bot.schema import Config
from bot.store.db import Store

log = logging.getLogger(__name__)

MARKER = "newsbot.created"
SIDECARS = ("-wal", "-shm")  # SQLite's files beside the database, moved with it
REFUSED_HINT = "restore newsbot.db from a backup, or run with --init to start a new one"

Notice = Callable[[str], None]


def signs_of_use(db_path: Path, public_dir: Path) -> list[str]:
    """What shows newsbot used this data dir before (empty: a new data dir)."""
    found = [f"{public_dir.name}/"] if public_dir.exists() else []
    return found + [name for name in (MARKER, f"{db_path.name}-wal")
                    if (db_path.parent / name).exists()]


def open_store(config: Config, *, init: bool = False, notice: Notice = log.warning,
               upgrade: bool = False) -> Store:
    """The configured store: the data dir's SQLite file (guarded as below, migrated), or the
    PostgreSQL database of [store] url. On PostgreSQL an older schema is refused unless
    `upgrade` (`newsbot migrate`): other instances may still run the old version."""
    if config.on_postgres:
        return Store.connect(config.store_url, password=config.store_password, upgrade=upgrade)
    return open_data_store(config.db_path, config.public_dir, init=init, notice=notice)


def open_data_store(db_path: Path, public_dir: Path, *, init: bool = False,
                    notice: Notice = log.warning) -> Store:
    """The data dir's database, checked (`quick_check`) and migrated; StoreError when it is
    missing or unusable where one is expected. `init` starts a new one instead."""
    signs = signs_of_use(db_path, public_dir)
    size = db_path.stat().st_size if db_path.is_file() else None
    if size in (None, 0) and signs and not init:
        state = "missing" if size is None else "empty (0 bytes)"
        raise StoreError(f"{db_path} is {state}, but {db_path.parent} was used before "
                         f"({' and '.join(signs)} there)", hint=REFUSED_HINT)
    if init and not size and any(Path(f"{db_path}{s}").exists() for s in SIDECARS):
        # A journal left by a lost database would be replayed into the new one.
        notice(f"{db_path} was {'empty' if size == 0 else 'missing'}: moved its leftover "
               f"files to {move_aside(db_path)}-wal/-shm; starting a new database")
    try:
        store = Store.open(db_path, must_exist=bool(size and signs and not init), check=True)
    except DatabaseDamaged:
        if not init:
            raise
        aside = move_aside(db_path)
        notice(f"{db_path} was damaged: moved to {aside}; starting a new database")
        store = Store.open(db_path)
    mark(db_path)
    return store


def move_aside(db_path: Path) -> Path:
    """Rename the database and its WAL files to `<name>.damaged-<UTC time>`: kept, not used."""
    aside = db_path.with_name(f"{db_path.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    for suffix in ("", *SIDECARS):
        source = Path(f"{db_path}{suffix}")
        if source.exists():
            os.replace(source, f"{aside}{suffix}")
    return aside


def mark(db_path: Path) -> None:
    """Leave the marker that makes a later missing database a refusal (once per data dir)."""
    marker = db_path.parent / MARKER
    if marker.exists():
        return
    try:
        marker.write_text(
            f"newsbot keeps its database in {db_path.name} here (first opened "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC). If it goes missing, newsbot refuses to "
            f"start: restore it from a backup, or run with --init to start a new one.\n",
            encoding="utf-8")
    except OSError as exc:  # the database works; only the extra safety net is missing
        log.warning("cannot write %s: %s", marker, exc.strerror)
