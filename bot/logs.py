"""Logging set-up: one line per event, and the bot token never written anywhere.

Redaction knows two things: the shape of any Telegram token (`<bot id>:<secret>`, the colon also
percent-encoded), and the secrets this process was given (`remember_secret`), which are found in
any spelling a client or server may echo them in: raw, any letter case, each character possibly
percent-encoded (either hex case, even twice), as an HTML or JSON escape, and the secret half of
a token alone.
"""

from __future__ import annotations

import logging
import re
import sys

# A Telegram token is `<bot id>:<35-ish url-safe chars>`; it shows up in API URLs (`/bot<token>/`).
TOKEN_PATTERN = re.compile(r"\d{5,}(?::|%(?:25)*3a)[A-Za-z0-9_-]{20,}", re.IGNORECASE)
REDACTED = "<redacted-token>"
MIN_SECRET = 16  # shorter strings are not secrets worth a pattern (and would redact words)
MAX_REMEMBERED = 8  # the token and the webhook secret; a bound, as tests remember many
_remembered: dict[str, re.Pattern[str]] = {}


def remember_secret(secret: str) -> None:
    """Redact `secret` from now on in any spelling (and, for a token, its secret half alone)."""
    parts = [secret]
    bot_id, colon, half = secret.partition(":")
    if colon and bot_id.isdigit():
        parts.append(half)
    for part in parts:
        if len(part) >= MIN_SECRET and part not in _remembered:
            _remembered[part] = re.compile(_any_spelling(part), re.IGNORECASE)
            while len(_remembered) > MAX_REMEMBERED:
                del _remembered[next(iter(_remembered))]


def _any_spelling(text: str) -> str:
    """A pattern for `text` with each character raw or escaped (case is left to IGNORECASE)."""
    return "".join(_char_spellings(char) for char in text)


def _char_spellings(char: str) -> str:
    code = ord(char)
    escapes = "".join(f"%(?:25)*{byte:02x}" for byte in char.encode("utf-8"))
    return (
        f"(?:{re.escape(char)}|{escapes}|&#x0*{code:x};|&#0*{code};|\\\\u{code:04x})"
    )


def redact(text: str) -> str:
    """Replace every remembered secret (any spelling) and anything shaped like a bot token."""
    for pattern in sorted(_remembered.values(), key=lambda p: -len(p.pattern)):  # longest first
        text = pattern.sub(REDACTED, text)
    return TOKEN_PATTERN.sub(REDACTED, text)


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
