"""Shared test setup. Fixtures that only one test module needs live in that module."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.store.db import Store

# PTB 22: RetryAfter.retry_after as timedelta, without a deprecation warning (see shared docs).
os.environ.setdefault("PTB_TIMEDELTA", "1")
# Tests talk to 127.0.0.1 only; a proxy in the environment must not get in the way.
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
REALPAGES = ROOT.parent / "shared" / "realpages"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def store() -> Iterator[Store]:
    """A real SQLite store in memory, all migrations applied; a module may seed it by overriding
    `store(store)`."""
    with Store.open(":memory:") as db:
        yield db
