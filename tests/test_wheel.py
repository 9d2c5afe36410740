"""newsbot as a stranger installs it: `python -m build` makes an sdist and a wheel (from that
sdist) carrying the recipes and the example config; the wheel, installed with its dependencies
into a fresh venv outside the checkout, runs `init`, `check`, `demo` and `run`.

Dependencies come from the package index as configured for pip (its cache makes repeats quick);
nothing of the checkout or of our .venv is visible to the installed newsbot.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from conftest import FIXTURES, ROOT
from fakes.site import FakeSite

SHIPPED = ("bot/shipped/config.example.toml", "bot/shipped/feeds/haiphong.toml")


def _clean_copy(target: Path) -> Path:
    """The checkout as a fresh clone has it (no .venv, no egg-info left by an editable install:
    stale build metadata could supply files the package configuration forgot)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, capture_output=True, check=True).stdout  # fmt: skip
    for name in filter(None, listed.decode().split("\0")):
        source, copy = ROOT / name, target / name
        if not source.is_symlink() and not source.is_file():
            continue  # deleted in the work tree
        copy.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            copy.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, copy)
    return target


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist and the wheel (built from that sdist) `python -m build` makes of a clean copy."""
    source = _clean_copy(tmp_path_factory.mktemp("checkout"))
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                           capture_output=True, text=True, timeout=600, check=False)  # fmt: skip
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert "license` as a TOML table is deprecated" not in built.stdout + built.stderr
    (sdist,) = out.glob("newsbot-*.tar.gz")
    (wheel,) = out.glob("newsbot-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def newsbot(dists: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The `newsbot` script of a fresh venv (outside the checkout) with the wheel installed."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", str(dists["wheel"])],
        capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv / "bin" / "newsbot"


def _env(newsbot: Path) -> dict[str, str]:
    """A stranger's environment: no newsbot settings, no checkout on the import path."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("NEWSBOT_") and key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{newsbot.parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env  # fmt: skip


def _run(newsbot: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(newsbot), *args], cwd=cwd, env=_env(newsbot), capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def test_sdist_and_wheel_carry_the_recipes_and_the_example(dists: dict[str, Path]) -> None:
    with tarfile.open(dists["sdist"]) as sdist:
        names = sdist.getnames()
        members = {name.split("/", 1)[1]: sdist.getmember(name) for name in names if "/" in name}
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        wheel_names = set(wheel.namelist())
        metadata = next(n for n in wheel_names if n.endswith(".dist-info/METADATA"))
        meta = wheel.read(metadata).decode()
        shipped_example = wheel.read(SHIPPED[0])
    for path in SHIPPED:
        assert path in wheel_names
        assert members[path].isfile(), f"{path} is a link in the sdist"  # not a dangling symlink
    assert shipped_example == (ROOT / "config.example.toml").read_bytes()
    assert "License-Expression: MIT" in meta
    runtime = [line for line in meta.splitlines()
               if line.startswith("Requires-Dist:") and "extra ==" not in line]  # fmt: skip
    assert runtime and not any("beautifulsoup4" in line for line in runtime)  # bot/ never uses it
    assert not any(name.startswith("tests/") for name in wheel_names)


def test_init_writes_config_and_recipes_and_refuses_to_overwrite(
    newsbot: Path, tmp_path: Path
) -> None:
    done = _run(newsbot, tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "config.toml").read_bytes() == (ROOT / "config.example.toml").read_bytes()
    assert (tmp_path / "feeds" / "haiphong.toml").read_bytes() == (
        ROOT / "feeds" / "haiphong.toml"
    ).read_bytes()
    assert "newsbot run" in done.stdout
    again = _run(newsbot, tmp_path, "init")
    assert again.returncode == 1
    assert again.stderr.splitlines() == [
        f"newsbot: error: config.toml, {Path('feeds') / 'haiphong.toml'}: already there, "
        "nothing written (newsbot init --force overwrites them)"
    ]
    elsewhere = _run(newsbot, tmp_path, "init", "site", "--force")
    assert elsewhere.returncode == 0 and (tmp_path / "site" / "config.toml").is_file()
    assert "cd site && newsbot run" in elsewhere.stdout


def test_a_folder_without_config_is_told_about_init(newsbot: Path, tmp_path: Path) -> None:
    done = _run(newsbot, tmp_path, "feeds")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "newsbot: error: config.toml: file not found (run `newsbot init` to write config.toml "
        "and feeds/ here, or give --config PATH)"
    ]


def test_check_reads_a_saved_page_with_the_shipped_recipe(newsbot: Path, tmp_path: Path) -> None:
    assert _run(newsbot, tmp_path, "init").returncode == 0
    page = tmp_path / "listing.html"
    page.write_bytes((FIXTURES / "haiphong" / "listing.html").read_bytes())
    done = _run(newsbot, tmp_path, "check", "feeds/haiphong.toml", "--file", str(page),
                "--base-url", "https://haiphong.gov.vn/tin-tuc-su-kien")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "12 items found on https://haiphong.gov.vn/tin-tuc-su-kien" in done.stdout
    assert "id=749312" in done.stdout


class Running:
    """A long-running newsbot command; its merged output collected line by line."""

    def __init__(self, newsbot: Path, cwd: Path, *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [str(newsbot), *args], cwd=cwd, env=_env(newsbot),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if found := re.search(pattern, line):
                    return found
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}:\n" + "\n".join(self.lines))

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; the exit code."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for process in started:
        if process.proc.poll() is None:
            process.proc.kill()
            process.proc.wait()


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:
        body: bytes = answer.read()
    return body.decode("utf-8")


def test_demo_runs_on_the_shipped_recipe(
    newsbot: Path, tmp_path: Path, running: list[Running]
) -> None:
    demo = Running(newsbot, tmp_path, "demo", "--port", "0")
    running.append(demo)
    port = demo.wait_for(r"demo: open http://localhost:(\d+)/").group(1)
    demo.wait_for(r"demo: \d+ new item")
    assert "(demo)" in _get(f"http://127.0.0.1:{port}/feeds/demo.xml")
    assert demo.stop() == 0


def test_run_polls_serves_and_stops(
    newsbot: Path, tmp_path: Path, running: list[Running]
) -> None:
    assert _run(newsbot, tmp_path, "init").returncode == 0
    with FakeSite.start_in_thread() as site:
        # The hand-written portal page, its links pointing at the fake site (no network).
        listing = (FIXTURES / "haiphong" / "listing.html").read_text(encoding="utf-8")
        site.set_page("/tin-tuc-su-kien", listing.replace("https://haiphong.gov.vn", site.base_url))
        _point_at(tmp_path, site.base_url)
        daemon = Running(newsbot, tmp_path, "run")
        running.append(daemon)
        port = daemon.wait_for(r"serving feeds on http://127\.0\.0\.1:(\d+)/").group(1)
        daemon.wait_for(r"haiphong: 12 new item")
        feed = _get(f"http://127.0.0.1:{port}/feeds/haiphong.xml")
        assert feed.count("<item>") == 12
        assert daemon.stop() == 0
    assert (tmp_path / "data" / "newsbot.db").is_file()


def _point_at(folder: Path, base_url: str) -> None:
    """The config on a free port, polling at once; the recipe at the fake site."""
    config = folder / "config.toml"
    config.write_text(_sub(config.read_text(encoding="utf-8"), [
        ("port = 8080", "port = 0"), ('jitter = "30s"', "jitter = 0.01"),
        ('min_host_gap = "1s"', "min_host_gap = 0.01"),  # 12 article pages are fetched
    ]), encoding="utf-8")  # fmt: skip
    recipe = folder / "feeds" / "haiphong.toml"
    recipe.write_text(_sub(recipe.read_text(encoding="utf-8"), [
        ('url = "https://haiphong.gov.vn/tin-tuc-su-kien"', f'url = "{base_url}/tin-tuc-su-kien"'),
        ('interval = "15m"', 'interval = "1h"'),
    ]), encoding="utf-8")  # fmt: skip


def _sub(text: str, pairs: Sequence[tuple[str, str]]) -> str:
    for old, new in pairs:
        assert old in text, old
        text = text.replace(old, new)
    return text
