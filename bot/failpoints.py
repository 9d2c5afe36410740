"""Named crash points for the crash tests (reliability plan C1).

`failpoint("after_send_before_mark")` ends the process at once, as `kill -9` would (no cleanup,
no flush, no commit), when NEWSBOT_FAILPOINT names it. The variable is read once at import, so an
unarmed failpoint costs one string comparison.
"""

from __future__ import annotations

import os

FAILPOINT_ENV = "NEWSBOT_FAILPOINT"
EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL
# Where bot.pipeline and bot.telegram.delivery call failpoint(), in the order a poll meets them.
NAMES = (
    "after_fetch",
    "after_diff_before_commit",
    "after_commit_before_send",
    "after_send_before_mark",
)

_ARMED = os.environ.get(FAILPOINT_ENV, "")


def failpoint(name: str) -> None:
    """Die here, now, with exit code 137 if NEWSBOT_FAILPOINT equals `name`."""
    if name == _ARMED:
        os.write(2, f"failpoint {name}: exiting\n".encode())
        os._exit(EXIT_CODE)
