"""Stable item ids (from canonical URLs, bot.urls), and the order items are stored and announced in.

An item's id must survive the ways one article's link varies between polls (http/https, tracking
parameters, parameter order, percent-encoding case, NFC/NFD slugs) and never merge two articles.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from urllib.parse import urlsplit

from bot.model import Item
from bot.urls import canonical_url

_WHITESPACE = re.compile(r"\s+")


def item_id(
    url: str,
    *,
    title: str = "",
    published_at: datetime | None = None,
    id_pattern: str | None = None,
) -> str:
    """The id an item keeps across polls: the `id_pattern` match, else the canonical URL, else
    a hash of title and date. An invalid `id_pattern` raises re.error (recipes validate it)."""
    if url.strip():
        canonical = canonical_url(url)
        if id_pattern:
            found = _id_in_url(canonical, _compiled(id_pattern))
            if found:
                return found
        return canonical
    date = published_at.astimezone(UTC).isoformat() if published_at else ""
    title = _WHITESPACE.sub(" ", unicodedata.normalize("NFC", title)).strip()
    return "sha256:" + hashlib.sha256(f"{title}\n{date}".encode()).hexdigest()


def oldest_first(items: Sequence[Item]) -> list[Item]:
    """Items by date, oldest first; undated ones after them, in reversed page order.

    Pages list newest first, so reversing the page is the best guess without dates; an undated
    item will be dated when first seen (now), so it belongs after the dated ones.
    """
    reversed_page = list(reversed(items))
    dated = [(item.date, item) for item in reversed_page if item.date is not None]
    undated = [item for item in reversed_page if item.date is None]
    return [item for _, item in sorted(dated, key=itemgetter(0))] + undated


def select_new(items: Sequence[Item], known_ids: Collection[str]) -> list[Item]:
    """Items whose id is not known, once each (the first occurrence wins), in input order."""
    seen: set[str] = set()
    new = []
    for item in items:
        if item.item_id in known_ids or item.item_id in seen:
            continue
        seen.add(item.item_id)
        new.append(item)
    return new


# --- helpers -----------------------------------------------------------------------------------


@lru_cache(maxsize=128)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _id_in_url(canonical: str, pattern: re.Pattern[str]) -> str | None:
    """The pattern's group 1 (or whole match) in the path+query, else in the path alone."""
    parts = urlsplit(canonical)
    targets = [parts.path + (f"?{parts.query}" if parts.query else "")]
    if parts.query:
        targets.append(parts.path)
    for target in targets:
        match = pattern.search(target)
        if match:
            found = match.group(1) if pattern.groups else match.group(0)
            if found:
                return found
    return None
