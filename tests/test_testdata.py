"""Test data lives in the checkout: a missing file fails its tests in one clear line, when they
run (never at collection, never as a skip), and nothing reads outside the repository."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT
from fakes.realpages import REALPAGES, MissingTestData, realpage


def test_a_missing_page_is_one_line_naming_it_and_the_fix() -> None:
    with pytest.raises(MissingTestData) as missing:
        realpage("capstone2/no-such-page.html")
    message = str(missing.value)
    assert "\n" not in message
    assert message.startswith("tests/fixtures/realpages/capstone2/no-such-page.html: ")
    assert "git checkout -- tests/fixtures/realpages/capstone2/no-such-page.html" in message


def test_every_saved_page_has_its_provenance() -> None:
    table = (REALPAGES / "SOURCES.md").read_text(encoding="utf-8")
    # the first column names each file; long names are shortened with … in the middle
    listed = [re.escape(name).replace("…", ".*")
              for name in re.findall(r"^\| `([^`]+)` \|", table, flags=re.M)]  # fmt: skip
    ours = {"README.md", "SOURCES.md", "sotttt-tin-tuc-su-kien.items.json"}
    saved = [
        path.relative_to(REALPAGES).as_posix()
        for path in REALPAGES.rglob("*")
        if path.is_file() and path.parent.name != "labels" and path.name not in ours
    ]
    assert len(saved) >= 18
    for page in saved:
        assert any(re.fullmatch(name, page) for name in listed), page


def _copy_of_the_tests(tmp_path: Path, *missing: str) -> Path:
    """The test tree and its configuration in a fresh folder, less the `missing` data files."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "tests", tmp_path / "tests",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    for name in missing:
        (tmp_path / "tests" / "fixtures" / "realpages" / name).unlink()
    return tmp_path


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", *args],
        cwd=folder, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_missing_data_fails_the_tests_that_need_it_not_collection(tmp_path: Path) -> None:
    folder = _copy_of_the_tests(
        tmp_path, "expected-listings.json", "htmldate/VnExpress.net-Kinh-doanh.html",
        "labels/wired-home-2024.json",
    )  # fmt: skip
    run = _pytest(
        folder, "tests/test_articles.py", "tests/test_dates.py", "tests/test_detect.py",
        "-k", "real_listing_dates or real_article_page_date or every_article or matcher",
    )  # fmt: skip
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    assert "skipped" not in out and "during collection" not in out, out
    lines = out.splitlines()
    for name in ("expected-listings.json", "htmldate/VnExpress.net-Kinh-doanh.html",
                 "labels/wired-home-2024.json"):  # fmt: skip
        shown = f"tests/fixtures/realpages/{name}"
        assert (f"{shown}: test data missing from the checkout; restore it with "
                f"`git checkout -- {shown}` (provenance: tests/fixtures/realpages/SOURCES.md)"
                in lines), name  # fmt: skip
    # a test fails, or its fixture does (ERROR at setup), never a module at collection
    assert "FAILED tests/test_dates.py::test_real_article_page_date - Failed: " in out
    assert "test_the_matcher_selects_what_dom_select_selects[wired-home-2024]" in out
    assert "Traceback" not in out and "During handling" not in out
    # the tests whose data is there still pass
    assert re.search(r"\b\d+ passed", out), out
