"""bot.failpoints: armed by NEWSBOT_FAILPOINT at import, ends the process like kill -9."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot import failpoints

SCRIPT = (
    "from bot.failpoints import failpoint\n"
    "print('before', flush=True)\n"
    "failpoint('after_fetch')\n"
    "print('after')\n"
)


def run(armed: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != failpoints.FAILPOINT_ENV}
    if armed is not None:
        env[failpoints.FAILPOINT_ENV] = armed
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                          text=True, timeout=30)


def test_an_armed_failpoint_ends_the_process_at_once_with_137() -> None:
    done = run("after_fetch")
    assert done.returncode == failpoints.EXIT_CODE == 137
    assert done.stdout == "before\n"
    assert done.stderr == "failpoint after_fetch: exiting\n"


@pytest.mark.parametrize("armed", [None, "", "after_send_before_mark", "AFTER_FETCH"])
def test_other_failpoints_and_no_failpoint_do_nothing(armed: str | None) -> None:
    done = run(armed)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "before\nafter\n" and done.stderr == ""


def test_every_named_failpoint_is_placed_in_the_code() -> None:
    from pathlib import Path

    bot_dir = Path(failpoints.__file__).parent
    code = "".join(p.read_text(encoding="utf-8") for p in bot_dir.rglob("*.py")
                   if p.name != "failpoints.py")
    for name in failpoints.NAMES:
        assert code.count(f'failpoint("{name}")') == 1, name


def test_a_failpoint_armed_at_its_nth_time_lets_the_earlier_ones_pass() -> None:
    script = ("from bot.failpoints import failpoint\n"
              "for n in range(1, 6):\n"
              "    print(n, flush=True)\n"
              "    failpoint('after_fetch')\n")
    env = {**os.environ, failpoints.FAILPOINT_ENV: "after_fetch@3"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 137 and done.stdout == "1\n2\n3\n", done
    assert done.stderr == "failpoint after_fetch: exiting\n"
