"""Shared test setup. Fixtures that only one test module needs live in that module."""

from __future__ import annotations

import os
import random
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


# The kill schedule of the crash suite (`make test-crash`): new points every run, replayable.
CRASH_SEED_ENV = "NEWSBOT_CRASH_SEED"
CRASH_SEED = pytest.StashKey[int]()


def pytest_configure(config: pytest.Config) -> None:
    value = os.environ.get(CRASH_SEED_ENV, "").strip()
    if value and not value.isdigit():
        raise pytest.UsageError(f"{CRASH_SEED_ENV}={value!r}: write the whole number a crash run "
                                f"printed, e.g. {CRASH_SEED_ENV}=12345")
    config.stash[CRASH_SEED] = int(value) if value else random.SystemRandom().randrange(1, 10**6)


def pytest_sessionstart(session: pytest.Session) -> None:
    if "not slow" in (session.config.option.markexpr or ""):
        return  # the default suite's crash tests use fixed seeds
    seed = session.config.stash[CRASH_SEED]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # shown even with -q: a failure must be replayable from the log
        reporter.write_line(f"crash seed {seed} (replay this kill schedule: "
                            f"{CRASH_SEED_ENV}={seed} make test-crash)")


@pytest.fixture
def crash_seed(request: pytest.FixtureRequest) -> int:
    return request.config.stash[CRASH_SEED]


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
