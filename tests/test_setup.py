"""A stranger's machine: `make test` says what system packages it lacks, in one line, or (as
root with apt-get) installs them; nothing it needs is outside the repository."""

from __future__ import annotations

import glob
import os
import subprocess
from pathlib import Path

from conftest import ROOT

SYSTEM_DEPS = ROOT / ".ci" / "system-deps"
BASH = "/bin/bash"


def _system_deps(path: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([BASH, str(SYSTEM_DEPS)], env={**os.environ, "PATH": path},
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_missing_packages_are_one_line_with_the_command(tmp_path: Path) -> None:
    # A PATH with `id` and nothing else: no browser, no feed readers, no apt-get.
    (tmp_path / "id").symlink_to("/usr/bin/id")
    run = _system_deps(str(tmp_path))
    assert run.returncode == 1
    assert run.stdout == ""
    # PostgreSQL's server is found by its path (any version), not on PATH.
    wanted = " ".join(["chromium", "newsboat", "rss2email",
                       *([] if glob.glob("/usr/lib/postgresql/*/bin/initdb") else ["postgresql"])])
    assert run.stderr.splitlines() == [
        f"newsbot: the tests need these system packages: {wanted}; "
        f"install them with: sudo apt-get install {wanted}"
    ]


def test_present_packages_are_skipped_silently(tmp_path: Path) -> None:
    # Stand-ins for the three binaries: found on PATH, so nothing is installed or updated.
    for binary in ("chromium", "newsboat", "r2e"):
        stub = tmp_path / binary
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
    (tmp_path / "id").symlink_to("/usr/bin/id")
    run = _system_deps(str(tmp_path))
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def test_ci_runs_the_readme_commands() -> None:
    commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines()
                if line and not line.startswith(("#", "set ", "cd "))]  # fmt: skip
    assert commands == ["make test", "make test-crash"]
    makefile = (ROOT / "Makefile").read_text()
    assert "test: system-deps lint" in makefile
    assert "bash .ci/system-deps" in makefile


# The shelf's name is spelled in two pieces so that this file does not match its own pattern.
SHELF = "sha" + "red"
SHELF_PATHS = rf'/ "{SHELF}"|{SHELF}/(realpages|docs|seed)'


def test_nothing_reads_outside_the_repository() -> None:
    # Sources that load files: no path may climb out of the checkout (the reference shelf
    # beside it is not on a stranger's machine).
    found = subprocess.run(
        ["git", "grep", "-n", "-I", "-E", SHELF_PATHS,
         "--", "tests", "benchmarks", "bot", "Makefile", ".ci", ":!tests/test_setup.py",
         ":!tests/fixtures/realpages/htmldate"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert found.stdout == ""
