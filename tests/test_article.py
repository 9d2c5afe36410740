"""bot.source.article: an article page's title, date, author, image, content and files, by the
recipe's [article] rules, then the page's metadata (Open Graph, JSON-LD, a <time>, text near the
headline)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.model import ArticleRules, Pick
from bot.source.article import scrape_article

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)  # 15:00 in Hải Phòng
ARTICLE_URL = "https://haiphong.gov.vn/tin-tuc-su-kien/bai-viet-749312"


def test_article_rules_win_over_page_metadata() -> None:
    html = (
        "<html><head><meta property='og:title' content='OG title'>"
        "<meta property='article:published_time' content='2024-01-01T00:00:00Z'></head><body>"
        "<div class='ArticleHeader'>Tiêu đề bài</div><div class='PostDate'>28/11/2024 09:30</div>"
        "<div class='author'>Minh Hảo</div><div class='ArticleContent'><p>Nội dung</p>"
        "<script>track()</script><img src='/anh.jpg'></div></body></html>"
    )
    rules = ArticleRules(
        content=Pick("div.ArticleContent"),
        date=Pick("div.PostDate"),
        author=Pick("div.author"),
        image=Pick("div.ArticleContent img", "src"),
        title=Pick("div.ArticleHeader"),
    )
    info = scrape_article(html, ARTICLE_URL, rules, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert info.title == "Tiêu đề bài"
    assert info.published_at == datetime(2024, 11, 28, 9, 30, tzinfo=HCM)
    assert info.author == "Minh Hảo"
    assert info.image == "https://haiphong.gov.vn/anh.jpg"
    assert info.content_html == (
        '<div class="ArticleContent"><p>Nội dung</p>'
        '<img src="https://haiphong.gov.vn/anh.jpg"></div>'
    )


def test_article_without_rules_uses_open_graph() -> None:
    html = (
        "<html><head><meta property='og:title' content='Tiêu đề OG'>"
        "<meta property='og:image' content='/og.jpg'><meta name='author' content='Đàm Thanh'>"
        "<meta property='article:published_time' content='2024-11-27T10:00:00+07:00'>"
        "</head><body><h1>H1</h1></body></html>"
    )
    info = scrape_article(html, ARTICLE_URL, None, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert info.title == "Tiêu đề OG"
    assert info.published_at == datetime(2024, 11, 27, 10, 0, tzinfo=HCM)
    assert info.author == "Đàm Thanh"
    assert info.image == "https://haiphong.gov.vn/og.jpg"
    assert info.content_html is None


def test_article_without_rules_uses_json_ld() -> None:
    ld = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebPage", "name": "Trang"},
            {
                "@type": ["NewsArticle"],
                "headline": "Tiêu đề JSON-LD",
                "datePublished": "2024-11-27T15:20:00",
                "author": [{"@type": "Person", "name": "Minh Hảo"}, "Đàm Thanh"],
                "image": {"url": "https://cdn.haiphong.gov.vn/x.jpg"},
            },
        ],
    }
    html = (
        "<script type='application/ld+json'>{broken</script>"
        f"<script type='application/ld+json'>{json.dumps(ld)}</script><h1>H1</h1>"
    )
    info = scrape_article(html, ARTICLE_URL, None, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert info.title == "Tiêu đề JSON-LD"
    assert info.published_at == datetime(2024, 11, 27, 15, 20, tzinfo=HCM)  # naive: feed's zone
    assert info.author == "Minh Hảo, Đàm Thanh"
    assert info.image == "https://cdn.haiphong.gov.vn/x.jpg"


def test_article_without_metadata_uses_time_element_then_text_near_the_title() -> None:
    with_time = "<h1>Tiêu đề</h1><time datetime='2024-11-26T08:00:00+07:00'>26/11</time>"
    info = scrape_article(with_time, ARTICLE_URL, None, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert (info.title, info.published_at) == ("Tiêu đề", datetime(2024, 11, 26, 8, tzinfo=HCM))

    visible = (
        "<h1>Tiêu đề</h1><div class='meta'><span>Thời gian: 11/01/2023 17:45</span></div>"
        "<p>Chiều 10/1, một đoạn văn dài nhắc tới ngày khác, đủ dài để không bị coi là dòng ngày "
        "tháng của bài viết vì nó vượt quá tám mươi ký tự.</p>"
    )
    info = scrape_article(visible, ARTICLE_URL, None, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert info.published_at == datetime(2023, 1, 11, 17, 45, tzinfo=HCM)


def test_article_rule_that_matches_nothing_falls_back() -> None:
    html = "<html><head><title>Tiêu đề trang</title></head><body><p>x</p></body></html>"
    rules = ArticleRules(title=Pick("div.ArticleHeader"), date=Pick("div.PostDate"))
    info = scrape_article(html, ARTICLE_URL, rules, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert info.title == "Tiêu đề trang"
    assert info.published_at is None


@pytest.mark.parametrize(
    "html", ["", "\x00", "<div>" * 100_000, "<script type='application/ld+json'>[[[[" * 1000]
)
def test_hostile_article_pages_do_not_raise(html: str) -> None:
    rules = ArticleRules(content=Pick("div"), title=Pick("h1"), date=Pick("p"))
    info = scrape_article(html, ARTICLE_URL, rules, tz="Asia/Ho_Chi_Minh", now=NOW)
    assert info.published_at is None


# --- official documents ------------------------------------------------------------------------


ARTICLE_WITH_FILES = """<html><body>
<div class="ArticleDetailControl">
  <div class="ArticleHeader">Kế hoạch số 298/KH-UBND</div>
  <div class="ArticleContent"><p>Nội dung <a href="/upload/298-KH-UBND.pdf">toàn văn kế hoạch</a>
    và <a href="/tin-tuc-su-kien/bai-khac-749100">bài khác</a>.</p>
    <iframe src="/pdfjs/web/viewer.html?file=/upload/298-phu-luc.pdf" title="Phụ lục"></iframe>
  </div>
  <div class="attachments"><a class="link-download" href="/Download.ashx?id=298">Tải về</a></div>
</div>
<footer><a href="/upload/quy-che-hoat-dong.pdf">Quy chế hoạt động</a></footer>
</body></html>"""


def test_article_attachments_come_from_the_content_and_the_cms_download_links() -> None:
    rules = ArticleRules(content=Pick("div.ArticleContent"), title=Pick("div.ArticleHeader"))

    info = scrape_article(ARTICLE_WITH_FILES, ARTICLE_URL, rules, tz="Asia/Ho_Chi_Minh", now=NOW)

    assert [(a.url.rsplit("/", 1)[1], a.name, a.kind) for a in info.attachments] == [
        ("298-KH-UBND.pdf", "toàn văn kế hoạch", "pdf"),
        ("298-phu-luc.pdf", "Phụ lục", "pdf"),
        ("Download.ashx?id=298", "Download.ashx", "file"),
    ]  # not the footer's site-wide PDF
    assert info.content_html is not None and "/upload/298-KH-UBND.pdf" in info.content_html


def test_article_without_a_content_rule_takes_every_file_on_the_page() -> None:
    info = scrape_article(ARTICLE_WITH_FILES, ARTICLE_URL, None, tz="Asia/Ho_Chi_Minh", now=NOW)

    assert [a.name for a in info.attachments] == [
        "toàn văn kế hoạch",
        "Phụ lục",
        "Download.ashx",
        "Quy chế hoạt động",
    ]
