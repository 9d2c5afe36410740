"""The HTML index page of the feed server: every feed, its newest items and subscribe links.

Pure: takes feeds and items, returns a string. Vietnamese by default, English on request.
Every piece of text that came from a site or a recipe is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Literal
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from bot import urls
from bot.model import DEFAULT_TIMEZONE, Item
from bot.publish.feedmeta import FeedMeta, feed_urls
from bot.publish.sanitize import plain_text
from bot.publish.status import FeedState, describe

Language = Literal["vi", "en"]
TELEGRAM_DEEP_LINK = "https://t.me/{bot}?start={feed}"  # /start <feed> follows that feed

TEXTS: dict[Language, dict[str, str]] = {
    "vi": {
        "title": "Tin tức dạng RSS",
        "intro": "Nguồn tin từ các trang không có RSS, cập nhật tự động. "
        "Dán một liên kết dưới đây vào trình đọc tin (RSS/Atom/JSON Feed).",
        "all": "Tất cả nguồn",
        "empty": "Chưa có tin nào.",
        "subscribe": "Theo dõi:",
        "opml": "Tải danh sách nguồn (OPML)",
        "filters": "Lọc theo từ khoá (có dấu hay không dấu đều được):",
        "source": "Trang gốc",
        "sections": "Theo dõi từng chuyên mục:",
        "search": "Tìm trong các tin đã lưu (có dấu hay không dấu đều được)",
        "search_button": "Tìm",
        "search_title": "Tìm tin",
        "search_results": "Kết quả cho “{query}” · trang {page}",
        "search_none": "Không có tin nào khớp “{query}”.",
        "search_prev": "← Trang trước",
        "search_next": "Trang sau →",
        "search_home": "← Tất cả nguồn tin",
        "bot": "Nhận tin mới qua Telegram: bot {bot}.",
        "telegram": "Nhận qua Telegram",
    },
    "en": {
        "title": "News as feeds",
        "intro": "Feeds for sites that publish none, updated automatically. "
        "Paste a link below into your feed reader (RSS/Atom/JSON Feed).",
        "all": "All sources",
        "empty": "No items yet.",
        "subscribe": "Subscribe:",
        "opml": "Download the feed list (OPML)",
        "filters": "Filter by keywords (with or without Vietnamese diacritics):",
        "source": "Original site",
        "sections": "Subscribe to one section:",
        "search": "Search stored items (with or without Vietnamese diacritics)",
        "search_button": "Search",
        "search_title": "Search",
        "search_results": "Results for “{query}” · page {page}",
        "search_none": "No item matches “{query}”.",
        "search_prev": "← Previous page",
        "search_next": "Next page →",
        "search_home": "← All feeds",
        "bot": "New items on Telegram: bot {bot}.",
        "telegram": "Get it on Telegram",
    },
}

FEED_TYPES = (
    ("rss", "RSS", "application/rss+xml"),
    ("atom", "Atom", "application/atom+xml"),
    ("json", "JSON", "application/feed+json"),
)

STYLE = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1f;
background:#f6f6f8}main{max-width:46rem;margin:0 auto;padding:1rem}h1{font-size:1.5rem}
section{background:#fff;border-radius:.5rem;padding:.75rem 1rem;margin:1rem 0;
box-shadow:0 1px 2px #0002}h2{font-size:1.15rem;margin:.25rem 0}ul{padding-left:1.1rem}
li{margin:.35rem 0}time,.sub{color:#666;font-size:.85rem}a{color:#0b57d0}
.links a{display:inline-block;margin-right:.75rem}code{word-break:break-all}
form.search{display:flex;gap:.5rem}form.search input{flex:1;font:inherit;padding:.3rem .5rem}
form.search button{font:inherit}.error{color:#b00020}
.state{border-radius:.35rem;padding:.4rem .6rem;font-size:.9rem;margin:.4rem 0}
.state-ok{background:#e3f4e8;color:#0d4d23}.state-held{background:#fff4d6;color:#5c4300}
.state-waiting{background:#eceff3;color:#30343a}
.state-retrying,.state-never{background:#fde7e9;color:#8a0012}
"""
SEARCH_MAX_CHARS = 200  # bot.search.MAX_QUERY_CHARS (pages stays free of non-page imports)


@dataclass(frozen=True)
class FeedListing:
    """One feed on the index page: what it is and its newest items."""

    meta: FeedMeta
    items: Sequence[Item]
    state: FeedState | None = None  # how its polling goes; None: not known here


def pick_language(accept_language: str | None) -> Language:
    """Vietnamese unless the Accept-Language header prefers English over Vietnamese."""
    best: tuple[float, Language] = (0.0, "vi")
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        base = tag.strip().lower().split("-")[0]
        if base not in ("vi", "en"):
            continue
        quality = _quality(params) - position * 1e-6  # earlier wins a tie
        if quality > best[0]:
            best = (quality, "vi" if base == "vi" else "en")
    return best[1]


def render_index(
    listings: Sequence[FeedListing], all_meta: FeedMeta, public_url: str, lang: Language,
    *, bot: str | None = None,
) -> str:
    """The whole page, escaped, with autodiscovery links for every feed; with `bot` (the running
    Telegram bot's username) a link per feed that starts the bot on that feed."""
    text = TEXTS[lang]
    heads = [_autodiscovery(all_meta, public_url, f"{text['all']}: ")]
    heads += [_autodiscovery(listing.meta, public_url, "") for listing in listings]
    sections = [_section(listing, public_url, text, lang, bot) for listing in listings]
    bot_line = f"<p>{escape(text['bot'].format(bot='@' + bot))}</p>" if bot else ""
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="{lang}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(text['title'])}</title>",
            *heads,
            f"<style>{STYLE}</style>",
            "</head>",
            "<body><main>",
            f"<h1>{escape(text['title'])}</h1>",
            f"<p>{escape(text['intro'])}</p>",
            bot_line,
            _search_box(public_url, text, ""),
            *sections,
            _all_section(all_meta, public_url, text),
            "</main></body>",
            "</html>",
            "",
        ]
    )


def _section(
    listing: FeedListing, public_url: str, text: dict[str, str], lang: Language, bot: str | None
) -> str:
    meta = listing.meta
    zone = ZoneInfo(meta.timezone)
    rows = [_item_row(item, zone) for item in listing.items]
    items_html = f"<ul>{''.join(rows)}</ul>" if rows else f"<p>{escape(text['empty'])}</p>"
    site = _safe_href(meta.site_url)
    source = f' · <a href="{site}" rel="noopener">{escape(text["source"])}</a>' if site else ""
    telegram = ""
    if bot:
        href = escape(TELEGRAM_DEEP_LINK.format(bot=quote(bot), feed=quote(meta.feed_id)))
        label = escape(text["telegram"])
        telegram = f' · <a class="telegram" href="{href}" rel="noopener">{label}</a>'
    state = ""
    if listing.state is not None:
        words = escape(describe(listing.state, lang, zone))
        state = f'<p class="state state-{listing.state.kind}" role="status">{words}</p>'
    return (
        f'<section id="{escape(meta.feed_id)}">'
        f"<h2>{escape(plain_text(meta.title) or meta.feed_id)}</h2>{state}"
        f'<p class="links">{escape(text["subscribe"])} {_subscribe_links(meta, public_url)}'
        f"{source}{telegram}</p>{_sections_links(meta, public_url, text)}{items_html}</section>"
    )


def _sections_links(meta: FeedMeta, public_url: str, text: dict[str, str]) -> str:
    """Each section's own feed links (`/feeds/<feed>/<section>.xml`)."""
    if not meta.sections:
        return ""
    rows = []
    for section in meta.sections:
        urls = feed_urls(public_url, meta.feed_id, section.section_id)
        links = " ".join(
            f'<a href="{escape(urls[fmt])}" type="{mime}">{label}</a>'
            for fmt, label, mime in FEED_TYPES
        )
        rows.append(f'<li>{escape(plain_text(section.name) or section.section_id)}: {links}</li>')
    return f'<p class="sub">{escape(text["sections"])}</p><ul class="links">{"".join(rows)}</ul>'


def _all_section(all_meta: FeedMeta, public_url: str, text: dict[str, str]) -> str:
    example = feed_urls(public_url, all_meta.feed_id)["rss"] + "?include=" + quote("hai an")
    opml = escape(f"{public_url.rstrip('/')}/feeds.opml")
    return (
        f'<section id="{escape(all_meta.feed_id)}"><h2>{escape(text["all"])}</h2>'
        f'<p class="links">{escape(text["subscribe"])} {_subscribe_links(all_meta, public_url)}'
        f'</p><p><a href="{opml}">{escape(text["opml"])}</a></p>'
        f"<p>{escape(text['filters'])}<br><code>{escape(example)}</code></p></section>"
    )


def _item_row(item: Item, zone: ZoneInfo) -> str:
    title = escape(plain_text(item.title) or item.url)
    href = _safe_href(item.url)
    link = f'<a href="{href}" rel="noopener">{title}</a>' if href else title
    moment = item.date
    when = ""
    if moment is not None:
        local = moment.astimezone(zone)
        when = f' <time datetime="{local.isoformat()}">{local:%d/%m/%Y %H:%M}</time>'
    return f"<li>{link}{when}</li>"


def _subscribe_links(meta: FeedMeta, public_url: str) -> str:
    urls = feed_urls(public_url, meta.feed_id)
    return " ".join(
        f'<a href="{escape(urls[fmt])}" type="{mime}">{label}</a>'
        for fmt, label, mime in FEED_TYPES
    )


def _autodiscovery(meta: FeedMeta, public_url: str, prefix: str) -> str:
    urls = feed_urls(public_url, meta.feed_id)
    title = escape(prefix + (plain_text(meta.title) or meta.feed_id))
    return "\n".join(
        f'<link rel="alternate" type="{mime}" title="{title} ({label})" href="{escape(urls[fmt])}">'
        for fmt, label, mime in FEED_TYPES[:2]
    )


def _safe_href(url: str) -> str | None:
    """An escaped http(s) URL for href, or None (no javascript: links on our page)."""
    href = urls.safe_href(url)
    return escape(href) if href else None


def _quality(params: str) -> float:
    for param in params.split(";"):
        name, _, value = param.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                return max(0.0, min(1.0, float(value)))
            except ValueError:
                return 0.0
    return 1.0


@dataclass(frozen=True)
class SearchPage:
    """What a `/search?q=` page shows: the query, one page of results, or why it was refused."""

    query: str
    items: Sequence[Item] = ()
    page: int = 1
    has_more: bool = False
    error: str = ""


def render_search(
    result: SearchPage, feeds: Mapping[str, FeedMeta], public_url: str, lang: Language
) -> str:
    """The search page: the box (filled in), the results newest first, and page links."""
    text = TEXTS[lang]
    base = public_url.rstrip("/")
    body = [f'<p><a href="{escape(base)}/">{escape(text["search_home"])}</a></p>',
            f"<h1>{escape(text['search_title'])}</h1>", _search_box(public_url, text, result.query)]
    if result.error:
        body.append(f'<p class="error">{escape(result.error)}</p>')
    elif result.query.strip():
        body.append(_results(result, feeds, base, text))
    return "\n".join(
        [
            "<!doctype html>",
            f'<html lang="{lang}">',
            "<head>",
            '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="robots" content="noindex">',
            f"<title>{escape(text['search_title'])}</title>",
            f"<style>{STYLE}</style>",
            "</head>",
            "<body><main>",
            *body,
            "</main></body>",
            "</html>",
            "",
        ]
    )


def _search_box(public_url: str, text: dict[str, str], query: str) -> str:
    action = escape(f"{public_url.rstrip('/')}/search")
    return (
        f'<form class="search" action="{action}" method="get" role="search">'
        f'<input type="search" name="q" value="{escape(query)}" maxlength="{SEARCH_MAX_CHARS}" '
        f'aria-label="{escape(text["search"])}" placeholder="{escape(text["search"])}">'
        f'<button type="submit">{escape(text["search_button"])}</button></form>'
    )


def _results(result: SearchPage, feeds: Mapping[str, FeedMeta], base: str,
             text: dict[str, str]) -> str:
    heading = text["search_results"].format(query=result.query.strip(), page=result.page)
    if not result.items:
        return f"<p>{escape(text['search_none'].format(query=result.query.strip()))}</p>"
    rows = []
    for item in result.items:
        meta = feeds.get(item.feed_id)
        zone = ZoneInfo(meta.timezone if meta else DEFAULT_TIMEZONE)
        feed = escape(plain_text(meta.title) if meta else item.feed_id)
        rows.append(_item_row(item, zone).removesuffix("</li>") + f' <span class="sub">· {feed}'
                    "</span></li>")
    links = []
    if result.page > 1:
        links.append(_page_link(base, result.query, result.page - 1, text["search_prev"]))
    if result.has_more:
        links.append(_page_link(base, result.query, result.page + 1, text["search_next"]))
    nav = f'<p class="links">{" ".join(links)}</p>' if links else ""
    return f"<section><h2>{escape(heading)}</h2><ul>{''.join(rows)}</ul>{nav}</section>"


def _page_link(base: str, query: str, page: int, label: str) -> str:
    href = f"{base}/search?" + urlencode({"q": query, "page": page})
    return f'<a href="{escape(href)}">{escape(label)}</a>'
