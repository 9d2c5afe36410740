"""What a new poll's copy of a stored item changes: whether it is an edit, which stored text
survives a worse decoding, and which attachments are kept. Pure: the store reads the stored copy
and writes the outcome; the rules are here.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from bot.documents import merge_attachments
from bot.model import Attachment, Item
from bot.mojibake import is_worse_decoding


@dataclass(frozen=True)
class StoredCopy:
    """The parts of a stored item a new copy is compared with."""

    title: str
    summary: str
    image: str | None
    attachments: tuple[Attachment, ...]
    doc_number: str | None
    doc_type: str | None
    section: str | None


def kept_attachments(stored: StoredCopy, item: Item) -> tuple[Attachment, ...]:
    """The stored attachments with the listing's new ones added."""
    return merge_attachments(stored.attachments, item.attachments)


def is_edit(stored: StoredCopy, item: Item) -> bool:
    """Whether `item` changes what is stored (and so is stored again)."""
    # A listing without an image keeps the one stored (it may come from the article page);
    # likewise a section, and attachments (the listing may show fewer than the article did).
    return ((stored.title, stored.summary) != (item.title, item.summary)
            or (item.image is not None and item.image != stored.image)
            or (stored.doc_number, stored.doc_type) != (item.doc_number, item.doc_type)
            or (item.section is not None and item.section != stored.section)
            or kept_attachments(stored, item) != stored.attachments)


def without_worse_decoding(stored: StoredCopy, item: Item) -> Item:
    """The item with its stored title (and the document number read from it) and summary kept
    where the new text is a worse decoding (U+FFFD, mojibake): one broken byte on the page is
    no edit, and must not replace good text in the feeds."""
    if is_worse_decoding(stored.title, item.title):
        item = dataclasses.replace(item, title=stored.title, doc_number=stored.doc_number,
                                   doc_type=stored.doc_type)
    if is_worse_decoding(stored.summary, item.summary):
        item = dataclasses.replace(item, summary=stored.summary)
    return item
