"""Named crash points for the crash tests (reliability plan C1).

`failpoint("after_send_before_mark")` ends the process at once, as `kill -9` would (no cleanup,
no flush, no commit), when NEWSBOT_FAILPOINT names it; `NAME@3` ends it at the third time the
point is reached (the crash suite's kill schedule uses this to land inside later polls). The
variable is read once at import, so an unarmed failpoint costs one string comparison.
"""

from __future__ import annotations

import os
import threading

FAILPOINT_ENV = "NEWSBOT_FAILPOINT"
EXIT_CODE = 137  # what a shell reports for a process killed by SIGKILL
# Where bot.pipeline, bot.feedfiles and bot.telegram.delivery call failpoint(), in the order a
# poll meets them.
NAMES = (
    "after_fetch",
    "after_diff_before_commit",  # inside the poll's write transaction
    "after_commit_before_send",
    "during_publish",  # the feed's own files written; its sections' and the `all` feed not yet
    "after_send_before_mark",
)
# The points inside a poll: fetch, store (mid-transaction), publish.
POLL_POINTS = ("after_fetch", "after_diff_before_commit", "during_publish")


def _armed(value: str) -> tuple[str, int]:
    name, _, nth = value.partition("@")
    return name, int(nth) if nth.isdigit() and int(nth) > 0 else 1


_ARMED, _NTH = _armed(os.environ.get(FAILPOINT_ENV, ""))
_hits = 0
_hits_lock = threading.Lock()  # a feed is published in a worker thread


def failpoint(name: str) -> None:
    """Die here, now, with exit code 137 if NEWSBOT_FAILPOINT names this point (and its
    `@N`-th time has come)."""
    global _hits
    if name == _ARMED:
        with _hits_lock:
            _hits += 1
            if _hits < _NTH:
                return
        os.write(2, f"failpoint {name}: exiting\n".encode())
        os._exit(EXIT_CODE)
