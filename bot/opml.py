"""OPML 2.0 subscription lists: the one writer for the web's /feeds.opml and Telegram's /export.

Pure: outlines in, bytes out (UTF-8, XML declaration, indented). Text that XML cannot carry
(control characters, lone surrogates) is dropped, so a scraped title never breaks the file.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class Outline:
    """One subscription: a feed's name, its RSS address and the site it mirrors."""

    title: str
    xml_url: str
    html_url: str
    language: str = "vi"


def render_opml(title: str, outlines: Iterable[Outline]) -> bytes:
    """An OPML 2.0 document with one `rss` outline per subscription, in order."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _safe(title)
    body = ET.SubElement(root, "body")
    for outline in outlines:
        name = _safe(outline.title)
        ET.SubElement(body, "outline", type="rss", text=name, title=name,
                      xmlUrl=_safe(outline.xml_url), htmlUrl=_safe(outline.html_url),
                      language=_safe(outline.language))
    ET.indent(root)
    return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"


def _safe(text: str) -> str:
    return _XML_ILLEGAL.sub("", text)
