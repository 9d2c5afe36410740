"""Official documents: the number and type a title states, and the rules for attached files.

Pure values and rules, shared by every wing: `document_info` reads Vietnamese document numbers
(`Số 123/QĐ-UBND`, `45/2024/NĐ-CP`, `1234/UBND-VP`) and type words (`Quyết định`, `Công văn`, …),
with or without diacritics; `document_label` is how messages name a document; `merge_attachments`
and `media_type` are how every wing combines and labels files. Finding the files a page attaches is
the source wing's job (`bot.source.attachments`).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

from bot.filters import fold
from bot.model import Attachment

MAX_ATTACHMENTS = 20  # per item: a hostile page must not bloat every feed entry
MEDIA_TYPES = {
    "pdf": "application/pdf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "rtf": "application/rtf",
    "zip": "application/zip",
    "rar": "application/vnd.rar",
    "7z": "application/x-7z-compressed",
}

# Display names by folded word (title words) and by document-number code.
TYPE_WORDS = {
    "quyet dinh": "Quyết định",
    "cong van": "Công văn",
    "thong bao": "Thông báo",
    "ke hoach": "Kế hoạch",
    "nghi quyet": "Nghị quyết",
    "chi thi": "Chỉ thị",
    "thong tu": "Thông tư",
    "nghi dinh": "Nghị định",
    "bao cao": "Báo cáo",
    "to trinh": "Tờ trình",
    "huong dan": "Hướng dẫn",
    "cong dien": "Công điện",
    "giay moi": "Giấy mời",
}
# The code after the number (Nghị định 30/2020/NĐ-CP, appendix I). HĐ (hợp đồng) and HD
# (hướng dẫn) differ only by the stroke, so the code is looked up as written first.
_CODES_AS_WRITTEN = {"HĐ": None, "CĐ": "Công điện", "HD": "Hướng dẫn"}
_CODES_FOLDED = {
    "qd": "Quyết định", "cv": "Công văn", "tb": "Thông báo", "kh": "Kế hoạch",
    "nq": "Nghị quyết", "ct": "Chỉ thị", "tt": "Thông tư", "ttlt": "Thông tư",
    "nd": "Nghị định", "bc": "Báo cáo", "ttr": "Tờ trình", "cd": "Công điện",
    "gm": "Giấy mời",
}  # fmt: skip
_CODE_PART = r"[A-ZĐ][A-Za-zĐđ0-9&]+"
_DASH = r"\s*[-–]\s*"
_NUMBER = re.compile(
    r"(?<![\w/.\-–])(\d{1,6})\s*/\s*(?:((?:19|20)\d{2})\s*/\s*)?"
    rf"({_CODE_PART}(?:{_DASH}{_CODE_PART})*)(?![\w/])"
)

# --- numbers and types -------------------------------------------------------------------------


@lru_cache(maxsize=16384)  # pure, and a listing shows the same titles poll after poll
def document_info(title: str) -> tuple[str | None, str | None]:
    """(number, type) an official document's title states: ("123/QĐ-UBND", "Quyết định")."""
    text = unicodedata.normalize("NFC", title)
    match = _NUMBER.search(text)
    number = _number_of(match) if match else None
    doc_type = _type_named(text, match) or (_type_of_code(match) if match else None)
    return number, doc_type


def document_label(doc_type: str | None, doc_number: str | None) -> str | None:
    """How a message names the document: `Quyết định số 123/QĐ-UBND`, `Thông báo`, `Số 5/TB`."""
    if doc_type and doc_number:
        return f"{doc_type} số {doc_number}"
    if doc_number:
        return f"Số {doc_number}"
    return doc_type


def _number_of(match: re.Match[str]) -> str:
    number, year, code = match.groups()
    code = re.sub(_DASH, "-", code)
    return f"{number}/{year}/{code}" if year else f"{number}/{code}"


def _type_named(text: str, number: re.Match[str] | None) -> str | None:
    """A type word where it names the document: first in the title, before `số`, or right
    before the number. Elsewhere (`Trao quyết định bổ nhiệm`) the title is news about one."""
    folded = f" {fold(text)} "
    best: tuple[int, str] | None = None
    for word, name in TYPE_WORDS.items():
        start = folded.find(f" {word} ")
        while start >= 0:
            after = folded[start + len(word) + 2 :]
            if start == 0 or after.startswith("so "):
                if best is None or start < best[0]:
                    best = (start, name)
                break
            start = folded.find(f" {word} ", start + 1)
    if best is not None:
        return best[1]
    if number is not None:
        words = fold(text[: number.start()]).split()
        if words and words[-1] == "so":
            words.pop()
        before = f" {' '.join(words)}"
        for word, name in TYPE_WORDS.items():
            if before.endswith(f" {word}"):
                return name
    return None


def _type_of_code(match: re.Match[str]) -> str | None:
    """The type a number's code says: QĐ -> Quyết định; an office's code (UBND-VP) -> Công văn."""
    _, year, code = match.groups()
    first = re.split(_DASH, code)[0]
    if first in _CODES_AS_WRITTEN:
        return _CODES_AS_WRITTEN[first]
    known = _CODES_FOLDED.get(fold(first))
    if known:
        return known
    # Công văn carry no type code, only the issuing office's (1234/UBND-VP); legal documents
    # carry a year (45/2024/NĐ-CP): a year with an unknown code is no công văn.
    return None if year else "Công văn"


# --- files ---------------------------------------------------------------------------------------


def merge_attachments(*groups: Iterable[Attachment]) -> tuple[Attachment, ...]:
    """The attachments of every group in order, the first of each URL kept, at most 20."""
    merged: dict[str, Attachment] = {}
    for group in groups:
        for attachment in group:
            if len(merged) >= MAX_ATTACHMENTS:
                return tuple(merged.values())
            merged.setdefault(attachment.url, attachment)
    return tuple(merged.values())


def media_type(kind: str) -> str:
    """The MIME type of an attachment kind (`pdf` -> application/pdf)."""
    return MEDIA_TYPES.get(kind, "application/octet-stream")
