"""Which charset a page's bytes are in: a BOM, the labels (HTTP header, `<meta>`), the evidence
that a body is UTF-8 with a few broken bytes, and a guess (charset_normalizer) when nothing else
tells. bot.source.dom.decode_html applies them in the order browsers do.
"""

from __future__ import annotations

import codecs
import re

from bot.mojibake import utf8_evidence

_META_SCAN_BYTES = 4096
# Broken UTF-8 is still read as UTF-8 when well-formed sequences outnumber the bad spots this
# many times (a windows-1258 page has almost none), or when UTF-8 is the only charset declared
# and the bad spots are this few, or no more than the good sequences.
UTF8_MAJORITY = 4
FEW_BAD_SPOTS = 3
_META_CHARSET = re.compile(
    rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE
)
_HEADER_CHARSET = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_.:\-]+)""", re.IGNORECASE)
# WHATWG maps these labels to windows-1252; Python's latin-1 would turn 0x80-0x9F into controls.
_LABEL_ALIASES = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "x-user-defined": "cp1252",
    "unicode-1-1-utf-8": "utf-8",
    "utf8": "utf-8",
}
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def try_decode(body: bytes, encoding: str) -> str | None:
    try:
        return body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def reads_as_utf8(body: bytes, declared: set[str]) -> bool:
    """Whether a body that is not valid UTF-8 is still best read as UTF-8 (see UTF8_MAJORITY)."""
    good, bad = utf8_evidence(body)
    if good >= UTF8_MAJORITY * bad:
        return True
    return declared == {"utf-8"} and bad <= max(FEW_BAD_SPOTS, good)


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = _HEADER_CHARSET.search(content_type)
    return match.group(1) if match else None


def meta_charset(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_META_SCAN_BYTES])
    return match.group(1).decode("ascii", errors="replace") if match else None


def python_codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None if unknown or not ASCII-compatible."""
    if not label:
        return None
    cleaned = label.strip().lower()
    try:
        name = codecs.lookup(_LABEL_ALIASES.get(cleaned, cleaned)).name
    except LookupError:
        return None
    if name.startswith(("utf-16", "utf-32")):
        return "utf-8"  # a meta can't truthfully declare these (WHATWG): treat as UTF-8
    return name


def decode_by_guess(body: bytes) -> str:
    """Guess the encoding; on a tie prefer windows-1258, the legacy Vietnamese charset."""
    # Imported here: charset_normalizer is a tenth of `newsbot check`'s start-up, and only a page
    # with no usable encoding label needs it (tests/test_architecture.py, LATE_IMPORTS).
    import charset_normalizer

    matches = charset_normalizer.from_bytes(body)
    best = matches.best()
    if best is None:
        return body.decode("cp1258", errors="replace")
    for match in matches:
        if match.encoding == "cp1258" and match.chaos <= best.chaos:
            return str(match)
    return str(best)
