"""Signs of a wrong decoding: broken UTF-8 in bytes, U+FFFD and mojibake in text.

Two guards rest on these rules: the page decoder keeps a UTF-8 page UTF-8 when a few of its
bytes are broken (`utf8_evidence`), and the store never takes a worse decoding of a title for
an edit (`is_worse_decoding`). Mojibake is UTF-8 read as a single-byte charset: `ố` (E1 BB 91)
shows as `á»‘` in windows-1252/1258, `à` (C3 A0) as `Ă ` in windows-1258.
"""

from __future__ import annotations

import re

# One well-formed multi-byte UTF-8 sequence (no overlongs, no surrogates, nothing past U+10FFFF).
UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]"
    rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_HIGH_BYTES = re.compile(rb"[\x80-\xff]+")
# The charsets a UTF-8 page is wrongly read as (windows-1252 is what latin-1 labels mean).
_SINGLE_BYTE_CODECS = ("cp1252", "cp1258", "latin-1")
REPLACEMENT = "\ufffd"


def utf8_evidence(body: bytes) -> tuple[int, int]:
    """(well-formed multi-byte UTF-8 sequences, separate spots of bytes that are not UTF-8).

    A UTF-8 page with a truncated character has thousands of the first and one of the second;
    a windows-1258 page has almost none of the first (its letters are single high bytes).
    """
    good = len(UTF8_SEQUENCE.findall(body))
    rest = UTF8_SEQUENCE.sub(b".", body)  # "." keeps two bad spots around a good one apart
    return good, len(_HIGH_BYTES.findall(rest))


def mojibake_pairs(text: str) -> int:
    """How many UTF-8 sequences show through `text` read back as a single-byte charset."""
    if text.isascii():
        return 0
    return max(
        len(UTF8_SEQUENCE.findall(text.encode(codec, errors="replace")))
        for codec in _SINGLE_BYTE_CODECS
    )


def is_worse_decoding(old: str, new: str) -> bool:
    """Whether `new` has more U+FFFD or more mojibake than `old`: the same page read wrong,
    or a change that is no better, never worth replacing `old` with (or announcing)."""
    if new == old or new.isascii():
        return False
    return (new.count(REPLACEMENT) > old.count(REPLACEMENT)
            or mojibake_pairs(new) > mojibake_pairs(old))
