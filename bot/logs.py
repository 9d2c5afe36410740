"""Logging set-up: one line per event, and the bot token never written anywhere."""

from __future__ import annotations

import logging
import re
import sys

# A Telegram token is `<bot id>:<35-ish url-safe chars>`; it shows up inside API URLs (`/bot<token>/`).
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """Replace anything shaped like a bot token."""
    return TOKEN_PATTERN.sub("<redacted-token>", text)


class RedactToken(logging.Filter):
    """Scrub tokens from a record's message and arguments before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(str(record.msg))
        if record.args:
            record.args = tuple(
                redact(arg) if isinstance(arg, str) else arg for arg in _as_tuple(record.args)
            )
        if record.exc_info and record.exc_info[1] is not None:
            # Exceptions carry URLs (httpx) in their text: render now, redacted, and drop the object.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def _as_tuple(args: object) -> tuple[object, ...]:
    return args if isinstance(args, tuple) else (args,)


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr with token redaction; chatty HTTP client loggers kept at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactToken())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # httpx logs every request URL at INFO, and Telegram URLs contain the token.
    for name in ("httpx", "httpcore", "telegram", "apscheduler", "uvicorn.access"):
        logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
