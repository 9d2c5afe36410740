"""The saved real pages in tests/fixtures/realpages/ (SOURCES.md there says where each comes from).

Every test and benchmark reads them through `realpage()`, so a missing file is one clear line
naming it and the fix, raised when the test runs (never at collection, never a skip).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent
REALPAGES = TESTS / "fixtures" / "realpages"


class MissingTestData(FileNotFoundError):
    """A file the tests need is not in the checkout (tests/conftest.py reports it in one line)."""


def realpage(relative: str) -> Path:
    """The saved page `relative` (e.g. "capstone2/tin-tuc-su-kien.html"), which must exist."""
    path = REALPAGES / relative
    if not path.is_file():
        shown = path.relative_to(TESTS.parent)
        raise MissingTestData(
            f"{shown}: test data missing from the checkout; restore it with "
            f"`git checkout -- {shown}` (provenance: tests/fixtures/realpages/SOURCES.md)"
        )
    return path


def expected_listings() -> dict[str, Any]:
    """expected-listings.json: the items visible on each saved listing page, by page."""
    listings: dict[str, Any] = json.loads(
        realpage("expected-listings.json").read_text(encoding="utf-8")
    )
    return listings
