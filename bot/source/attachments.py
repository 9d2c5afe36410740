"""The files a page attaches, found in its markup.

Pure. `find_attachments` collects the files a listing item or an article page links to: links to
.pdf/.doc(x)/.xls(x)/.zip/.rar…, `a.link-download`, the portal's CDN, and document viewers
(`iframe src="…viewer?file=…"`), with absolute URLs, readable names and no duplicates.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import parse_qsl, unquote, urlsplit

from bot.documents import merge_attachments
from bot.filters import fold
from bot.model import Attachment
from bot.source import dom
from bot.source.dom import Node
from bot.urls import absolute_url

NAME_LIMIT = 200
FILE_KINDS = frozenset(
    {"pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "odt", "ods", "rtf", "zip", "rar", "7z"}
)
OTHER_KIND = "file"
_IMAGE_KINDS = frozenset({"jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "bmp"})
_FILE_PARAMS = ("file", "url", "filename", "path", "src")  # viewers and download handlers
_SOURCES = "a[href], iframe[src], embed[src], object[data]"

# Names links give that say nothing about the file: the file name is better.
_GENERIC_NAMES = frozenset(
    {"tai ve", "tai xuong", "tai", "download", "xem", "xem file", "tai day", "tai file",
     "file dinh kem", "dinh kem", "tep dinh kem", "tai lieu dinh kem", "xem chi tiet",
     "click here", "here", "xem toan van", "toan van", "van ban", "tai van ban", "xem van ban"}
)  # fmt: skip



# --- attachments -------------------------------------------------------------------------------


def find_attachments(node: Node, base_url: str) -> tuple[Attachment, ...]:
    """The files linked or embedded under `node`, in page order, de-duplicated by URL."""
    found = []
    for element in dom.select(node, _SOURCES):  # the node itself included, in document order
        if dom.tag_of(element) == "a":
            found.append(_linked_file(element, base_url))
        else:
            found.append(_embedded_file(element, base_url))
    return merge_attachments(a for a in found if a is not None)


def file_kind(url: str) -> str:
    """The extension of the URL's file name (`pdf`), or "file" when it has none we know."""
    name = unquote(urlsplit(url).path).rsplit("/", 1)[-1].lower()
    _, dot, extension = name.rpartition(".")
    return extension if dot and extension in FILE_KINDS | _IMAGE_KINDS else OTHER_KIND


def _linked_file(anchor: Node, base_url: str) -> Attachment | None:
    href = dom.attr_of(anchor, "href") or ""
    has_download = dom.attr_of(anchor, "download") is not None  # <a download>: a file
    marked = has_download or "link-download" in dom.classes_of(anchor)
    if not (marked or _may_name_a_file(href)):
        return None  # most links are articles: `/tin-tuc-su-kien/slug-749312`
    url = absolute_url(href, base_url)
    if url is None:
        return None
    # A viewer or download handler naming its file (`viewer.html?file=/upload/a.pdf`): the
    # file itself is what a reader or Telegram can fetch.
    url = _file_in_query(url) or url
    kind = file_kind(url)
    if kind in _IMAGE_KINDS and not marked:
        return None  # a photo opened full size
    if not (kind in FILE_KINDS or marked or _on_portal_cdn(url)):
        return None
    text = dom.text_of(anchor, NAME_LIMIT + 1)
    return Attachment(url, _name(text, dom.attr_of(anchor, "title") or "", url), kind)


def _embedded_file(embed: Node, base_url: str) -> Attachment | None:
    src = absolute_url(dom.attr_of(embed, "src") or dom.attr_of(embed, "data"), base_url)
    url = (_file_in_query(src) or src) if src else None  # a viewer shows its query's file=
    if url is None or file_kind(url) not in FILE_KINDS:
        return None
    return Attachment(url, _name("", dom.attr_of(embed, "title") or "", url), file_kind(url))


def _may_name_a_file(href: str) -> bool:
    """A cheap first look, before resolving the URL: a file name with a file's extension (not
    `.html`: most links are articles), a query naming one, or the portal's CDN."""
    path, _, query = href.partition("#")[0].partition("?")
    name = path.rsplit("/", 1)[-1]
    extension = unquote(name).rpartition(".")[2].lower() if "." in unquote(name) else ""
    return extension in FILE_KINDS or "=" in query or "/gov-hpg/" in path.lower()


def _file_in_query(url: str) -> str | None:
    """The file a viewer or download handler names in its query (`?file=/upload/a.pdf`)."""
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=False):
        if key.lower() in _FILE_PARAMS and ("/" in value or "." in value):
            resolved = absolute_url(value, url)
            if resolved is not None and file_kind(resolved) in FILE_KINDS:
                return resolved
    return None


def _on_portal_cdn(url: str) -> bool:
    """A file on haiphong.gov.vn's CDN (`cdn.haiphong.gov.vn/gov-hpg/…`) that is no picture."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return host.startswith("cdn.") and "/gov-hpg/" in parts.path.lower()


def _name(text: str, title: str, url: str) -> str:
    """The link's text unless it says nothing (`Tải về`), else its title, else the file name."""
    for candidate in (text, title):
        candidate = dom.normalize_text(candidate)
        if candidate and fold(candidate) not in _GENERIC_NAMES and "://" not in candidate:
            return _clip(candidate)
    path = urlsplit(url).path.rstrip("/")
    file_name = unicodedata.normalize("NFC", unquote(path.rsplit("/", 1)[-1])).strip()
    return _clip(file_name) or file_kind(url).upper()


def _clip(text: str) -> str:
    return text if len(text) <= NAME_LIMIT else text[: NAME_LIMIT - 1].rstrip() + "…"
