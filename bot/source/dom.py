"""HTML bytes to text to a tree, and CSS selection over it: the only module that imports lxml.

Decoding follows what browsers and Miniflux do for real Vietnamese pages: a BOM wins, then the
declared charset (HTTP header, then `<meta>`), except that a body which is valid UTF-8 is read as
UTF-8 whatever the label says; with no usable label, charset_normalizer guesses. A UTF-8 page
with a few broken bytes (a truncated character) stays UTF-8, with U+FFFD in those spots: another
charset wins only on strong evidence (see bot.source.charsets, which reads the labels and
guesses). Text comes out NFC, because Python's cp1258 codec yields decomposed tone marks.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from cssselect import HTMLTranslator, SelectorError
from lxml import etree
from lxml import html as lxml_html
from lxml.html import HtmlElement as Node  # untyped: lxml ships no stubs

from bot.source import charsets

_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")
# C0 controls are invalid in XML feeds and never meant as text; zero-width marks only hide words.
_INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\u00ad]")
_SKIPPED_TAGS = frozenset({"script", "style", "noscript", "template"})
# Elements that separate words even when the markup puts no space between them.
_BREAKING_TAGS = frozenset(
    {
        "br", "p", "div", "li", "ul", "ol", "tr", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6",
        "section", "article", "header", "footer", "blockquote", "dd", "dt", "figcaption", "table",
    }
)  # fmt: skip
# Marks that compose with the letter before them; a page without any is NFC as far as it matters
# (lone compatibility singletons are left to text_of, which normalises what it returns).
_COMBINING = re.compile(
    "[\u0300-\u036f\u1100-\u11ff\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\u3099\u309a\ufe20-\ufe2f]"
)
_LOCAL_NFC_LIMIT = 200
_CSS_IDENT = re.compile(r"^-?[A-Za-z_][A-Za-z0-9_-]*$")
# huge_tree: depth 2048 instead of 256 (sloppy pages nest unclosed <font>s deep).
_PARSER = lxml_html.HTMLParser(huge_tree=True, encoding="utf-8")
_HTML_TRANSLATOR = HTMLTranslator()
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Character references to those same characters (`&#1;`, `&#x1b`, `&#00011;`, `&#xFFFE;`): the
# parser would turn them into the raw characters the pass above removes. The semicolon is
# optional in HTML; the lookahead keeps `&#12` from matching inside `&#123;`.
_XML_ILLEGAL_REF = re.compile(
    r"&#0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|6553[45])(?![0-9]);?"
    r"|&#[xX]0*(?:[0-8bcefBCEF]|1[0-9a-fA-F]|[fF]{3}[eEfF])(?![0-9a-fA-F]);?"
)
# The same characters in UTF-8: C0 controls are single bytes (never inside a longer sequence),
# U+FFFE and U+FFFF three; and the references, whose pattern is ASCII, as bytes.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])
_NONCHARACTER_BYTES = ("\ufffe".encode(), "\uffff".encode())
_XML_ILLEGAL_REF_BYTES = re.compile(_XML_ILLEGAL_REF.pattern.encode("ascii"))
_FOLLOWING = etree.XPath("following::*[position() <= $n]")


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Decode a page's bytes to NFC text (BOM, header, meta, valid UTF-8, then detection)."""
    for bom, encoding in charsets.BOMS:
        if body.startswith(bom):
            return _nfc_document(body[len(bom) :].decode(encoding, errors="replace"))
    utf8 = charsets.try_decode(body, "utf-8")
    if utf8 is not None:
        return _nfc_document(utf8)
    labels = [charsets.python_codec(charsets.header_charset(content_type)),
              charsets.python_codec(charsets.meta_charset(body))]
    declared = {codec for codec in labels if codec is not None}
    if charsets.reads_as_utf8(body, declared):
        return _nfc_document(body.decode("utf-8", errors="replace"))
    for codec in labels:  # header first, then meta
        if codec is None or codec == "utf-8":
            continue  # a utf-8 label on a body that is not UTF-8 is a lie: keep looking
        text = charsets.try_decode(body, codec)
        if text is not None:
            return _nfc_document(text)
    return _nfc_document(charsets.decode_by_guess(body))


def parse_html(text: str) -> Node:
    """Parse HTML leniently; never raises (an empty or hopeless document gives an empty root)."""
    data = _xml_legal_utf8(_XML_DECLARATION.sub("", text, count=1))
    try:
        return lxml_html.document_fromstring(data, parser=_PARSER)
    except (etree.ParserError, ValueError, TypeError):
        return lxml_html.document_fromstring(b"<html><body></body></html>")


def without_xml_illegal(html: str) -> str:
    """The page without the characters lxml refuses in a tree, written raw or as references.

    They would make later lxml edits (drop_tree, links, a library's own rewriting) raise, and
    lxml turns NULs into U+FFFD: none belongs in news text. Whatever parses a page goes first.
    """
    html = _XML_ILLEGAL.sub("", html)
    return _XML_ILLEGAL_REF.sub("", html) if "&#" in html else html


def _xml_legal_utf8(html: str) -> bytes:
    """`without_xml_illegal(html)` as UTF-8, which lxml parses faster than str (and lone
    surrogates cannot trip it). Looking for the illegal characters in the bytes (`translate`,
    `in`) costs 0.05 ms per 80 KB, the str pattern 0.4 ms: it runs only when they have one."""
    data = html.encode("utf-8", errors="replace")
    controls = len(data.translate(None, _CONTROL_BYTES)) != len(data)
    if controls or any(mark in data for mark in _NONCHARACTER_BYTES):
        data = _XML_ILLEGAL.sub("", html).encode("utf-8", errors="replace")
    return _XML_ILLEGAL_REF_BYTES.sub(b"", data) if b"&#" in data else data


def compile_selector(css: str) -> None:
    """Check a CSS selector; raises ValueError naming the problem if it is invalid."""
    _compiled(css)


def select(node: Node, css: str) -> list[Node]:
    """Elements under `node` (in document order) matching a CSS selector or selector list."""
    return list(_compiled(css)(node))  # CSS compiles to element-only XPath


def select_one(node: Node, css: str) -> Node | None:
    """The first element matching `css` under `node`, or None."""
    found = select(node, css)
    return found[0] if found else None


def text_of(node: Node, limit: int | None = None) -> str:
    """Visible text of an element: whitespace collapsed, NFC, without script/style contents.

    `limit` stops collecting after about that many characters (hostile pages nest everything).
    """
    if limit is None:
        return normalize_text("".join(_text_parts(node)))
    parts: list[str] = []
    size = 0
    for part in _text_parts(node):
        parts.append(part)
        size += len(part)
        if size >= limit:
            break
    return normalize_text("".join(parts)[:limit])


def raw_text_of(node: Node) -> str:
    """All text inside an element as written (for <script type=application/ld+json>)."""
    return str(node.text_content())


def attr_of(node: Node, name: str) -> str | None:
    """An attribute's value, stripped; None when absent."""
    value = node.get(name)
    return None if value is None else _INVISIBLE.sub("", str(value)).strip()


def normalize_text(text: str) -> str:
    """Collapse whitespace (NBSP included), drop zero-width characters, NFC."""
    return _nfc(" ".join(_INVISIBLE.sub("", text).split()))


def tag_of(node: Node) -> str:
    """Lower-case tag name; '' for comments and processing instructions."""
    tag = node.tag
    return tag.lower() if isinstance(tag, str) else ""


def parent_of(node: Node) -> Node | None:
    """The parent element, or None at the root."""
    parent = node.getparent()
    return parent if isinstance(parent, Node) else None


def children_of(node: Node) -> list[Node]:
    """Child elements (no comments, no text)."""
    return [child for child in node.iterchildren() if isinstance(child.tag, str)]


def ancestors_of(node: Node) -> Iterator[Node]:
    """The parent, grandparent... up to the root."""
    yield from node.iterancestors()


def following_elements(node: Node, limit: int) -> list[Node]:
    """Up to `limit` elements after `node` in document order, outside it."""
    return [n for n in _FOLLOWING(node, n=limit) if isinstance(n, Node)]


def iter_elements(node: Node) -> Iterator[Node]:
    """`node` and every element below it, in document order."""
    for element in node.iter():
        if isinstance(element.tag, str):
            yield element


def classes_of(node: Node) -> tuple[str, ...]:
    """The element's class names in order."""
    return tuple((node.get("class") or "").split())


def css_path(node: Node, stop: Node | None = None) -> str:
    """A readable selector from the root (or `stop`) down to `node`: `div.A > ul.B > li.row`."""
    steps: list[str] = []
    current: Node | None = node
    while current is not None and current is not stop and tag_of(current) not in ("", "html"):
        step, unique = _css_step(current)
        steps.append(step)
        if unique:
            break
        current = parent_of(current)
    return " > ".join(reversed(steps))


def inner_html(node: Node) -> str:
    """The element's children serialised as HTML (its own tag left out)."""
    parts = [_escape_text(node.text or "")]
    for child in node.iterchildren():
        parts.append(lxml_html.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts)


def outer_html(node: Node) -> str:
    """The element serialised as HTML, tail text excluded."""
    return str(lxml_html.tostring(node, encoding="unicode", with_tail=False))


def outer_bytes(node: Node) -> bytes:
    """The element and its subtree as bytes, tail text excluded: equal bytes, equal elements
    (3x cheaper than `outer_html`, for comparing elements, not for showing them)."""
    return bytes(etree.tostring(node, with_tail=False))


def path_of(node: Node) -> str:
    """The element's path from the root (`/html/body/div[2]/ul/li[3]`): the path of an element
    inside another starts with the other's path and a slash."""
    return str(node.getroottree().getpath(node))


def drop(nodes: list[Node]) -> None:
    """Remove elements from their tree, keeping the text that follows them."""
    for node in nodes:
        if node.getparent() is not None:
            node.drop_tree()


def absolutize_links(node: Node, base_url: str) -> None:
    """Rewrite href/src/srcset inside `node` to absolute URLs (mutates the tree)."""
    with contextlib.suppress(ValueError):
        node.make_links_absolute(base_url, resolve_base_href=False, handle_failures="discard")


# --- helpers ---------------------------------------------------------------------------------


@lru_cache(maxsize=512)
def _compiled(css: str) -> Any:
    """Compile a CSS selector to an XPath callable (cached: recipes repeat the same few)."""
    if not css or not css.strip():
        raise ValueError("empty CSS selector")
    try:
        xpath = _HTML_TRANSLATOR.css_to_xpath(css)
    except SelectorError as exc:
        raise ValueError(f"invalid CSS selector {css!r}: {exc}") from None
    try:
        return etree.XPath(xpath, smart_strings=False)
    except etree.XPathSyntaxError as exc:  # pragma: no cover - cssselect emits valid XPath
        raise ValueError(f"CSS selector {css!r} gave unusable XPath: {exc}") from None


def _text_parts(root: Node) -> Iterator[str]:
    """Text pieces of a subtree, skipping script/style, with breaks around block elements."""
    if tag_of(root) in _SKIPPED_TAGS:
        return
    if root.text:
        yield root.text
    open_elements: list[Node] = [root]
    pending: list[Iterator[Node]] = [root.iterchildren()]
    while pending:
        child = next(pending[-1], None)
        if child is None:  # an element closes: its tail follows it
            pending.pop()
            closed = open_elements.pop()
            if closed is not root:
                if tag_of(closed) in _BREAKING_TAGS:
                    yield " "
                if closed.tail:
                    yield closed.tail
            continue
        name = tag_of(child)
        if not name or name in _SKIPPED_TAGS:  # comment, script...: only the tail is text
            if child.tail:
                yield child.tail
            continue
        if name in _BREAKING_TAGS:
            yield " "
        if child.text:
            yield child.text
        open_elements.append(child)
        pending.append(child.iterchildren())


def _css_step(node: Node) -> tuple[str, bool]:
    """One step of a css_path, and whether it is unique on the page (an id)."""
    ident = node.get("id")
    if ident and _CSS_IDENT.match(ident):
        return f"{tag_of(node)}#{ident}", True
    names = [name for name in classes_of(node) if _CSS_IDENT.match(name)]
    return tag_of(node) + "".join(f".{name}" for name in names), False


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _nfc_document(text: str) -> str:
    """NFC for a whole page. The pass over all of it costs 1.6 ms per 80 KB, while a page in NFC
    with a few decomposed letters is the common case: then only each letter and the marks after
    it are normalised (NFC composes a mark with the character before it, nothing further)."""
    if text.isascii():
        return text
    runs: list[list[int]] = []  # [first, end) of each run of marks
    for count, mark in enumerate(_COMBINING.finditer(text)):
        if count == _LOCAL_NFC_LIMIT:  # a page decomposed throughout: one pass is cheaper
            return unicodedata.normalize("NFC", text)
        if runs and runs[-1][1] == mark.start():
            runs[-1][1] = mark.end()
        else:
            runs.append([mark.start(), mark.end()])
    pieces: list[str] = []
    done = 0
    for first, end in runs:
        start = max(done, first - 1)  # the character the marks belong to
        pieces += (text[done:start], unicodedata.normalize("NFC", text[start:end]))
        done = end
    pieces.append(text[done:])
    return "".join(pieces) if runs else text


def _nfc(text: str) -> str:
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


__all__ = [
    "Node",
    "absolutize_links",
    "ancestors_of",
    "attr_of",
    "children_of",
    "classes_of",
    "compile_selector",
    "css_path",
    "decode_html",
    "drop",
    "following_elements",
    "inner_html",
    "iter_elements",
    "normalize_text",
    "outer_html",
    "parent_of",
    "parse_html",
    "raw_text_of",
    "select",
    "select_one",
    "tag_of",
    "text_of",
    "without_xml_illegal",
]
