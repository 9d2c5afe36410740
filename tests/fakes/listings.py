"""Variants of the hand-written haiphong listing (tests/fixtures/haiphong/listing.html).

Each function takes the page's HTML and returns a changed copy, the way the site could change
between two polls: an article published, one dropped, links switched to https, a redesign.
"""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

LISTING = Path(__file__).resolve().parent.parent / "fixtures" / "haiphong" / "listing.html"
LIST_START = '<ul class="ArticleList">'
ITEM_BLOCK = re.compile(r'\s*<li class="row">.*?</li>', re.DOTALL)
ARTICLE_ID = re.compile(r'-(\d{6})"')
FIRST_ID = "749312"  # the newest article of the fixture
IDS = ("749312", "749205", "749187", "749176", "749150", "748964",
       "748951", "748930", "748902", "748877", "748860", "748835")  # fmt: skip


def listing_html() -> str:
    return LISTING.read_text(encoding="utf-8")


def with_article(html: str, article_id: int, title: str, day: str, summary: str = "") -> str:
    """A new article on top of the list, dated `day` (dd/mm/yyyy)."""
    href = f"/tin-tuc-su-kien/bai-viet-moi-{article_id}"
    title, summary = escape(title), escape(summary)
    block = f"""
            <li class="row">
              <div class="col-lg-2 col-md-3 col-4">
                <a href="{href}"><img class="image" src="/sitefolders/Root/6461/tintuc/{article_id}.jpg" alt="" /></a>
              </div>
              <div class="col-lg-10 col-md-9 col-8">
                <h2 class="Title"><a href="{href}" title="{title}">{title}</a></h2>
                <p>{summary or title}</p>
                <div class="Ngaydang"><i class="fa fa-calendar"></i> {day}</div>
              </div>
            </li>"""  # noqa: E501
    return html.replace(LIST_START, LIST_START + block, 1)


def without_article(html: str, article_id: str) -> str:
    """The page with one article's block removed."""
    def drop(match: re.Match[str]) -> str:
        return "" if f"-{article_id}\"" in match.group() else match.group()

    changed = ITEM_BLOCK.sub(drop, html)
    assert changed != html, f"article {article_id} is not on the page"
    return changed


def with_https_links(html: str, origin: str) -> str:
    """Every article link absolute on https (the page itself is served over http)."""
    host = origin.split("://", 1)[1]
    return html.replace('href="/tin-tuc-su-kien/', f'href="https://{host}/tin-tuc-su-kien/')


def with_changed_markup(html: str) -> str:
    """Same articles and links, new class names: the recipe's [list] item matches nothing."""
    return (
        html.replace('class="ArticleList"', 'class="news-list"')
        .replace('<li class="row">', '<li class="news-item">')
        .replace('<h2 class="Title">', '<h3 class="news-title">')
    )


def with_new_ids(html: str, prefix: str = "9") -> str:
    """Same markup, every article id changed (a CMS migration): every item looks new."""
    return ARTICLE_ID.sub(lambda m: f'-{prefix}{m.group(1)}"', html)


def emptied(html: str) -> str:
    """The page with no article in its list."""
    return ITEM_BLOCK.sub("", html)


def with_next_link(html: str, href: str) -> str:
    """A plain "next page" link after the article list."""
    end = html.index("</ul>", html.index(LIST_START)) + len("</ul>")
    return html[:end] + f'<a class="next-page" href="{href}">Trang sau</a>' + html[end:]


def redesigned(html: str) -> str:
    """New markup and new article ids: neither the recipe nor the feed's history fits."""
    return with_new_ids(with_changed_markup(html))


def without_list(html: str) -> str:
    """A page whose article list is gone (maintenance notice in its place)."""
    start = html.index(LIST_START)
    end = html.index("</ul>", start) + len("</ul>")
    return html[:start] + "<p>Trang đang bảo trì.</p>" + html[end:]
