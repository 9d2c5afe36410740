"""Shared test setup. Fixtures that only one test module needs live in that module."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from fakes.realpages import REALPAGES, MissingTestData

from bot.store.db import Store

# PTB 22: RetryAfter.retry_after as timedelta, without a deprecation warning.
os.environ.setdefault("PTB_TIMEDELTA", "1")
# Tests talk to 127.0.0.1 only; a proxy in the environment must not get in the way.
os.environ["NO_PROXY"] = "127.0.0.1,localhost"
os.environ["no_proxy"] = "127.0.0.1,localhost"

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
__all__ = ["FIXTURES", "REALPAGES", "ROOT"]


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def store() -> Iterator[Store]:
    """A real SQLite store in memory, all migrations applied; a module may seed it by overriding
    `store(store)`."""
    with Store.open(":memory:") as db:
        yield db


# A test whose data file is missing fails with the one line MissingTestData carries (which file,
# how to restore it) instead of a traceback; collection never reads those files.
@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _one_line_when_data_is_missing())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    return (yield from _one_line_when_data_is_missing())


def _one_line_when_data_is_missing() -> Generator[None, object, object]:
    try:
        return (yield)
    except MissingTestData as missing:
        message = str(missing)
    pytest.fail(message, pytrace=False)  # outside `except`: no "during handling" chain
