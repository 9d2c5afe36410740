"""What a web page says about itself when it is added as a source: the feeds it links
(`<link rel="alternate">` autodiscovery), the paths a site's feed usually lives at, its title and
its language. Pure: HTML in, values out; the fetching is the caller's (bot.add).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from bot.source import dom
from bot.source.picks import document_base
from bot.urls import absolute_url

# Tried in this order, on the page's own origin, when the page links no feed (WordPress: /feed,
# many CMSs: /rss, static sites: /rss.xml, /atom.xml, /feed.json).
COMMON_PATHS = ("/rss", "/feed", "/rss.xml", "/atom.xml", "/feed.json")
# Autodiscovery types. Not plain application/json: WordPress links its REST API with it.
FEED_TYPES = frozenset({
    "application/rss+xml", "application/atom+xml", "application/rdf+xml", "application/feed+json",
})
# A blog's comments feed is linked beside its posts feed; it is never the one wanted.
_COMMENTS = re.compile(r"comment|bình luận|binh luan|kommentar|commentaire|댓글", re.IGNORECASE)
TITLE_LIMIT = 120


@dataclass(frozen=True)
class PageFacts:
    """What a page says about itself."""

    title: str  # <title>, else og:site_name; "" when it has neither
    language: str | None  # <html lang>, primary subtag lower-cased ("vi", "ko")
    feed_links: tuple[str, ...]  # absolute URLs of the feeds it links, in page order


# Languages written in one time zone only: a recipe's `timezone` follows from its `language`.
ZONE_OF_LANGUAGE = {"vi": "Asia/Ho_Chi_Minh", "th": "Asia/Bangkok", "lo": "Asia/Vientiane",
                    "km": "Asia/Phnom_Penh", "ja": "Asia/Tokyo", "ko": "Asia/Seoul"}


def zone_of_language(language: str | None) -> str | None:
    """The time zone a language's sites write dates in, when that is unambiguous."""
    return ZONE_OF_LANGUAGE.get(language or "")


def page_facts(html: str, page_url: str) -> PageFacts:
    root = dom.parse_html(html)
    return PageFacts(_title(root), _language(root), _feed_links(root, page_url))


def common_feed_urls(page_url: str) -> list[str]:
    """The usual feed addresses on the page's origin (the page itself left out)."""
    parts = urlsplit(page_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    return [origin + path for path in COMMON_PATHS if origin + path != page_url]


def _feed_links(root: dom.Node, page_url: str) -> tuple[str, ...]:
    base = document_base(root, page_url)
    found: list[str] = []
    for link in dom.select(root, "link[href]"):
        rel = (dom.attr_of(link, "rel") or "").lower().split()
        kind = (dom.attr_of(link, "type") or "").lower().split(";")[0].strip()
        if "alternate" not in rel or kind not in FEED_TYPES:
            continue
        if _COMMENTS.search(dom.attr_of(link, "title") or ""):
            continue
        url = absolute_url(dom.attr_of(link, "href"), base)
        if url and url.startswith(("http://", "https://")) and url not in found:
            found.append(url)
    return tuple(found)


def _title(root: dom.Node) -> str:
    node = dom.select_one(root, "title")
    title = dom.text_of(node, TITLE_LIMIT) if node is not None else ""
    if not title:
        meta = dom.select_one(root, 'meta[property="og:site_name"][content]')
        title = dom.normalize_text(dom.attr_of(meta, "content") or "") if meta is not None else ""
    return title[:TITLE_LIMIT]


def _language(root: dom.Node) -> str | None:
    value = dom.attr_of(root, "lang") or dom.attr_of(root, "xml:lang") or ""
    primary = value.replace("_", "-").split("-")[0].lower()
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None
