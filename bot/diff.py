"""Stable item ids, canonical URLs, and the order items are stored and announced in.

An item's id must survive the ways one article's link varies between polls (http/https, tracking
parameters, parameter order, percent-encoding case, NFC/NFD slugs) and never merge two articles.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import string
import unicodedata
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from urllib.parse import quote, unquote, urlsplit

from bot.model import Item

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "igshid",
    "mc_cid", "mc_eid", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok",
})  # fmt: skip
TRACKING_PREFIXES = ("utm_",)
DEFAULT_PORTS = (80, 443)  # http and https are one identity, so either default port is noise

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_ESCAPE_RUN = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_PATH_SAFE = "/!$&'()*+,;=:@%"
_KEY_SAFE = "!$'()*+,;:@/?%"  # `&` and `=` delimit parameters: inside a key they stay escaped
_VALUE_SAFE = _KEY_SAFE + "="
_WHITESPACE = re.compile(r"\s+")


def canonical_url(url: str) -> str:
    """One spelling per http(s) URL: `https://`, lower-case host, no trackers, sorted query."""
    url = url.strip()
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a bad port or IPv6 literal: leave it alone rather than guess
        return url
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return url
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = (userinfo + "@" if userinfo else "") + _host(parts.hostname)
    if port is not None and port not in DEFAULT_PORTS:
        netloc += f":{port}"
    path = _remove_dot_segments(_normalise(parts.path, _PATH_SAFE)) or "/"
    query = _canonical_query(parts.query)
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


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


def _host(hostname: str) -> str:
    host = hostname.rstrip(".")
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # not a valid IDN: keep it as written
            host = host.encode("idna").decode("ascii")
    return f"[{host}]" if ":" in host else host


def _normalise(component: str, safe: str) -> str:
    """Escapes in upper case, unreserved and non-ASCII characters decoded, NFC, re-encoded."""
    component = _STRAY_PERCENT.sub("%25", component)
    component = _ESCAPE_RUN.sub(_decode_escapes, component)
    return quote(unicodedata.normalize("NFC", component), safe=safe)


def _decode_escapes(match: re.Match[str]) -> str:
    raw = bytes.fromhex(match.group().replace("%", ""))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # not UTF-8: decode only the unreserved ASCII bytes
        return "".join(_escape_unless_unreserved(chr(byte)) for byte in raw)
    # A reserved character (`/`, `?`, `&`, `%`) must stay escaped: decoding it changes the URL.
    return "".join(ch if not ch.isascii() else _escape_unless_unreserved(ch) for ch in text)


def _escape_unless_unreserved(ch: str) -> str:
    return ch if ch in _UNRESERVED else f"%{ord(ch):02X}"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: `/a/./b/../c` -> `/a/c`."""
    segments = path.split("/")
    out: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and len(out) > 1:
                out.pop()
            if index == last:
                out.append("")  # `/a/b/..` is the directory `/a/`
            continue
        out.append(segment)
    return "/".join(out)


def _canonical_query(query: str) -> str:
    params = []
    for piece in query.split("&"):
        if not piece:
            continue
        key, has_value, value = piece.partition("=")
        key = _normalise(key, _KEY_SAFE)
        if _is_tracker(unquote(key).lower()):
            continue
        params.append((key, f"{key}={_normalise(value, _VALUE_SAFE)}" if has_value else key))
    return "&".join(param for _, param in sorted(params, key=itemgetter(0)))


def _is_tracker(key: str) -> bool:
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


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
