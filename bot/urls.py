"""URLs: absolute links from a page's hrefs, one canonical spelling per article, safe hrefs.

The one module every wing uses for URLs, so a link is resolved, compared and written the same
way when it is scraped, stored, published and sent:
- `absolute_url(href, base)`: what a browser would follow, fragment dropped; None unless http(s);
- `canonical_url(url)`: one spelling per article, for ids (http/https, host case, default ports,
  tracking parameters, query order, percent-encoding case, NFC/NFD all ignored);
- `safe_href(url)`: an http(s) URL percent-encoded for an `href` attribute; None otherwise.
Pure: strings in, strings out.
"""

from __future__ import annotations

import contextlib
import re
import string
import unicodedata
from functools import lru_cache
from operator import itemgetter
from urllib.parse import quote, unquote, urljoin, urlsplit, urlunsplit

LINK_SCHEMES = ("http", "https")
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
# Browsers drop tabs and newlines anywhere in an href, other C0 controls at its ends.
_HREF_NOISE = re.compile(r"[\t\n\r\x00-\x1f]")
_HREF_SAFE = "/:@!$&'()*+,;=%~-._"


# Pure functions of their text, called for every link of every poll, and a page lists the same
# links poll after poll: cached (a few MB at most).
URL_CACHE = 16384


@lru_cache(maxsize=URL_CACHE)
def absolute_url(href: str | None, base_url: str) -> str | None:
    """`href` made absolute (dot segments removed, fragment dropped); None if unusable."""
    if not href:
        return None
    href = _HREF_NOISE.sub("", href).strip()
    if not href or href.startswith("#"):
        return None
    try:
        joined = href if href.startswith(("https://", "http://")) else urljoin(base_url, href)
        parts = urlsplit(joined)
    except ValueError:  # e.g. an invalid IPv6 host
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not parts.netloc:
        return None
    path = remove_dot_segments(parts.path) or "/"
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, parts.query, "")).replace(
        " ", "%20"
    )


@lru_cache(maxsize=URL_CACHE)
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
    path = remove_dot_segments(_normalise(parts.path, _PATH_SAFE)) or "/"
    query = _canonical_query(parts.query)
    return f"https://{netloc}{path}" + (f"?{query}" if query else "")


def safe_href(url: str) -> str | None:
    """An http(s) URL fit for `href`, percent-encoding what needs it; None for anything else."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in LINK_SCHEMES or not host:
        return None
    try:
        netloc = parts.netloc if parts.netloc.isascii() else parts.netloc.encode("idna").decode()
    except UnicodeError:
        return None
    return urlunsplit(
        (
            parts.scheme.lower(),
            netloc,
            quote(parts.path, safe=_HREF_SAFE),
            quote(parts.query, safe=_HREF_SAFE + "?"),
            quote(parts.fragment, safe=_HREF_SAFE + "?#"),
        )
    )


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4 for an absolute path: `/a/./b/../c` -> `/a/c` (urljoin skips it when the
    href is already absolute)."""
    if "/." not in path:
        return path
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
