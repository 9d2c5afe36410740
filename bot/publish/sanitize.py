"""Text and HTML made safe for a feed: code points XML forbids dropped, HTML sanitised (no
scripts, handlers or javascript: URLs), titles reduced to plain text. The only importer of nh3."""

from __future__ import annotations

import re
import unicodedata

import nh3

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_URL_SCHEMES = {"http", "https", "mailto"}
_SCRIPT_BLOCK = re.compile(r"<(script|style)\b.*?(</\1\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>|<!--.*?-->", re.DOTALL)


def strip_xml_illegal(text: str) -> str:
    """Drop code points XML 1.0 forbids; one of them would make lxml refuse the whole feed."""
    return _XML_ILLEGAL.sub("", text)


def sanitize_html(html_text: str) -> str:
    """Safe HTML: no <script>/<style>, no on*= handlers, no javascript:/data: URLs."""
    return str(nh3.clean(strip_xml_illegal(html_text), url_schemes=_URL_SCHEMES))


def plain_text(text: str) -> str:
    """Text without tags (or script bodies), spaces collapsed, NFC.

    Scraped titles are text, and some readers render titles as HTML: real tags go, but a `<` that
    opens no tag stays (`PM2.5<50`, `Tin <mới>`), which an HTML sanitiser would swallow.
    """
    text = _TAG.sub(" ", _SCRIPT_BLOCK.sub(" ", strip_xml_illegal(text)))
    return unicodedata.normalize("NFC", " ".join(text.split()))
