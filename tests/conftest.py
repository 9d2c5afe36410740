"""Shared test setup. Fixtures that only one test module needs live in that module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
