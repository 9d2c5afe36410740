"""Article pages: `newsbot check --article` gets each real page's title and publication time,
by auto-extraction (meta, JSON-LD, visible text) and, for the portal pages, by [article] rules.

Expected values come from the pages themselves (or the labels saved beside them); each one says
where. "Same instant" means equal as aware datetimes, whatever offset the page wrote.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fakes.realpages import expected_listings, realpage

from bot import cli

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
BERLIN = ZoneInfo("Europe/Berlin")
CAPSTONE_ARTICLES = (
    "capstone2/4417996-so-thong-tin-va-truyen-thong-gap-mat-can-bo-la-con-em-gia-dinh-thuong-"
    "binh-chinh-sach.html",
    "capstone2/4430301-thong-bao-danh-sach-du-va-khong-du-tieu-chuan-dieu-kien-du-ky-thi-tuyen-"
    "cong-chuc-nam-2022.html",
)


@dataclass(frozen=True)
class Article:
    """A saved article page and what `check --article` must find in it."""

    page: str  # under tests/fixtures/realpages
    url: str
    title: str
    published_at: datetime
    timezone: str = "Asia/Ho_Chi_Minh"  # the recipe's; only naive or printed times need it


def _capstone(page: str) -> Article:
    """expected-listings.json: title as printed, date as `Ngày đăng 24/08/2022 | 4:30 PM | …`."""
    label = expected_listings()[page]
    date_text = label["date_text"]
    day, clock = (part.strip() for part in date_text.removeprefix("Ngày đăng").split("|")[:2])
    wall = datetime.strptime(f"{day} {clock}", "%d/%m/%Y %I:%M %p")
    return Article(page, label["original_url"], label["title"], wall.replace(tzinfo=HCM))


def _fundus() -> Article:
    """fundus' VnExpress.json: title and `publishing_date` 2025-10-22 19:25:52+07:00."""
    path = realpage("fundus/VnExpress.json")
    label = json.loads(path.read_text(encoding="utf-8"))["V1"]
    return Article(
        "fundus/VnExpress_2025_10_22.html.gz",
        # <meta property="og:url">
        "https://vnexpress.net/dau-bung-keo-dai-phat-hien-ung-thu-lymphoma-ruot-non-4954454.html",
        label["title"],
        datetime.fromisoformat(label["publishing_date"]),
    )


# Labels that live in the test data files are read when a test runs, never at collection.
LAZY_ARTICLES = {
    **{page: partial(_capstone, page) for page in CAPSTONE_ARTICLES},
    "fundus/VnExpress_2025_10_22.html.gz": _fundus,
}
FIXED_ARTICLES = [
    Article(
        "htmldate/VnExpress.net-Kinh-doanh.html",
        "https://vnexpress.net/ong-ho-duc-phoc-se-nang-muc-giam-tru-gia-canh-tinh-thue-ca-nhan-"
        "khi-sua-luat-4672302.html",
        # og:title = JSON-LD headline = <h1 class="title-detail">
        "Ông Hồ Đức Phớc: Sẽ nâng mức giảm trừ gia cảnh tính thuế cá nhân khi sửa luật",
        # <meta name="pubdate" itemprop="datePublished"> = JSON-LD datePublished; printed as
        # `Thứ năm, 2/11/2023, 19:20 (GMT+7)` (htmldate's label: 2023-11-02)
        datetime(2023, 11, 2, 19, 20, 45, tzinfo=timezone(timedelta(hours=7))),
    ),
    Article(
        "htmldate/bbc.com.52241221.html",
        "https://www.bbc.com/news/world-us-canada-52241221",  # og:url
        # og:title (the <h1> and <title> say "Coronavirus: New York ramps up mass burials amid
        # outbreak"; the feed title is the page's declared social/feed title)
        "New York ramps up mass burials amid virus outbreak",
        # JSON-LD NewsArticle datePublished "2020-04-10T17:58:15+01:00"; the visible date
        # `<div class="date" data-seconds="1586537895">10 April 2020</div>` is the same instant
        datetime(2020, 4, 10, 17, 58, 15, tzinfo=timezone(timedelta(hours=1))),
    ),
    Article(
        "htmldate/elpais.com.ciencia.html",
        "https://elpais.com/elpais/2020/02/18/ciencia/1582045946_459487.html",  # og:url
        "¿Ha llegado realmente la Antártida a los 20 grados?",  # og:title = JSON-LD headline = h1
        # article:published_time = JSON-LD datePublished = the only printed time,
        # `<time datetime="2020-02-19T18:37:32+01:00">19 FEB 2020 - 18:37 CET</time>`.
        # (The microdata `<meta itemprop="datePublished">` and the URL say 2020-02-18 18:12:26,
        # the first version; the page declares and prints the 19th.)
        datetime(2020, 2, 19, 18, 37, 32, tzinfo=timezone(timedelta(hours=1))),
    ),
    Article(
        "htmldate/tagesschau.de.rheinmetall.html",
        "https://www.tagesschau.de/investigativ/ndr/rheinmetall-datenleck-101.html",  # og:url
        "Daten von Rheinmetall gehackt - Interne Unterlagen im Netz",  # og:title; no JSON-LD
        # Printed under the <h1> as `Stand: 28.04.2020 18:00 Uhr` (German time), and the page
        # agrees: its "more from the archive of 28.04.2020" box, its analytics tag
        # '2020-04-28T18:00:22'. Its `<meta name="date" content="2020-04-29T11:52:23">` (naive)
        # is a later render time, not the publication.
        datetime(2020, 4, 28, 18, 0, tzinfo=BERLIN),
        timezone="Europe/Berlin",
    ),
]
ARTICLE_PAGES = [*LAZY_ARTICLES, *(article.page for article in FIXED_ARTICLES)]


def _article(page: str) -> Article:
    lazy = LAZY_ARTICLES.get(page)
    return lazy() if lazy else next(a for a in FIXED_ARTICLES if a.page == page)


def _recipe(tmp_path: Path, article: Article, section: str = "") -> Path:
    path = tmp_path / "article.toml"
    path.write_text(
        f'title = "t"\nurl = {json.dumps(article.url)}\ntimezone = "{article.timezone}"\n'
        + section,
        encoding="utf-8",
    )
    return path


def _saved_page(tmp_path: Path, article: Article) -> Path:
    source = realpage(article.page)
    if source.suffix != ".gz":
        return source
    page = tmp_path / source.stem  # VnExpress_2025_10_22.html
    page.write_bytes(gzip.decompress(source.read_bytes()))
    return page


def _check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], article: Article, section: str = ""
) -> dict[str, object]:
    argv = ["check", "--article", "--json", "--file", str(_saved_page(tmp_path, article)),
            "--base-url", article.url, str(_recipe(tmp_path, article, section))]  # fmt: skip
    assert cli.main(argv) == 0, capsys.readouterr().err
    document: dict[str, object] = json.loads(capsys.readouterr().out)
    return document


def _published(document: dict[str, object]) -> datetime | None:
    value = document["published_at"]
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def test_every_article_page_is_labelled() -> None:
    assert len(ARTICLE_PAGES) == 7
    for article in map(_article, ARTICLE_PAGES):
        assert realpage(article.page).is_file(), article.page
        assert article.title and article.url.startswith("https://"), article.page
        assert article.published_at.year >= 2020, article.page  # not a placeholder


@pytest.mark.parametrize("page", ARTICLE_PAGES, ids=lambda page: Path(page).name[:40])
def test_auto_extraction_gets_title_and_publication_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], page: str
) -> None:
    article = _article(page)
    document = _check(tmp_path, capsys, article)
    assert document["url"] == article.url
    assert document["title"] == article.title
    assert _published(document) == article.published_at


# Selectors from expected-listings.json (`selector_title`, `selector_date`).
CAPSTONE_RULES = """
[article]
title = "div.asset-full-content-title"
date = "div.assetPublishDate.block_timer"
"""


@pytest.mark.parametrize("page", CAPSTONE_ARTICLES, ids=lambda page: page.split("-")[0])
def test_article_rules_get_title_and_publication_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], page: str
) -> None:
    article = _capstone(page)
    label = expected_listings()[page]
    assert f'"{label["selector_title"]}"' in CAPSTONE_RULES
    assert f'"{label["selector_date"]}"' in CAPSTONE_RULES
    document = _check(tmp_path, capsys, article, CAPSTONE_RULES)
    assert document["title"] == article.title
    assert _published(document) == article.published_at


def test_portal_page_titles_are_not_the_box_headings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The portal's first <h1> is a sidebar box ("Tin tức nổi bật"); with no og:title the
    # headline is the element that prints the start of <title>.
    article = _capstone(CAPSTONE_ARTICLES[0])
    assert _check(tmp_path, capsys, article)["title"] != "Tin tức nổi bật"
    assert article.published_at == datetime(2022, 7, 26, 2, 50, tzinfo=ZoneInfo("UTC"))
