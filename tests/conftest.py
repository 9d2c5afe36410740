"""Shared test setup. Fixtures that only one test module needs live in that module."""

from __future__ import annotations

import os
import random
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest
from fakes.postgres import PostgresMissing, PostgresServer
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


BACKENDS = ("sqlite", "postgresql")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module marked `backends` runs its `store` tests on SQLite and on PostgreSQL (a test
    marked `sqlite_only` looks at SQLite's own catalog or pragmas)."""
    if ("store_backend" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("backends")
            and not metafunc.definition.get_closest_marker("sqlite_only")):
        metafunc.parametrize("store_backend", BACKENDS)


@pytest.fixture
def store_backend() -> str:
    return "sqlite"


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throw-away PostgreSQL server for the whole session (tests/fakes/postgres.py)."""
    try:
        server = PostgresServer.start()
    except PostgresMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def shared_pg_url(postgres: PostgresServer) -> str:
    """A database with the schema, emptied before each test that uses it."""
    url = postgres.create_database()
    Store.connect(url).close()
    return url


@pytest.fixture
def pg_url(postgres: PostgresServer) -> Iterator[str]:
    """A new, empty database of its own (with the password in the URL)."""
    url = postgres.create_database()
    yield url
    postgres.drop_database(url)


@pytest.fixture
def store(request: pytest.FixtureRequest, store_backend: str) -> Iterator[Store]:
    """A real store, all migrations applied: SQLite in memory, or (in modules marked `backends`)
    also an emptied PostgreSQL database. A module may seed it by overriding `store(store)`."""
    if store_backend == "sqlite":
        with Store.open(":memory:") as db:
            yield db
        return
    server: PostgresServer = request.getfixturevalue("postgres")
    url = request.getfixturevalue("shared_pg_url")
    server.empty_database(url)
    with Store.connect(url) as db:
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
