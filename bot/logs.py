"""Logging set-up: one line per event, and the bot token never written anywhere."""

from __future__ import annotations

import logging
import re
import sys

# A Telegram token is `<bot id>:<35-ish url-safe chars>`; it shows up in API URLs (`/bot<token>/`).
TOKEN_PATTERN = re.compile(r"\d{5,}:[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    """Replace anything shaped like a bot token."""
    return TOKEN_PATTERN.sub("<redacted-token>", text)


class RedactToken(logging.Filter):
    """Scrub tokens from a record before any handler formats it.

    The message is rendered here, with its arguments, and redacted whole: an argument may be an
    exception or a URL object whose str() or repr() holds the token, and may be a mapping.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: keep them visible, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            # Exceptions carry URLs (httpx) in their text: render now and drop the object.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


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
