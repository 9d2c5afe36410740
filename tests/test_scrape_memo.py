"""bot.source.memo: a listing's unchanged items are not read again, and reading them from memory
gives what reading them again would."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from conftest import FIXTURES

from bot.model import ListRules, Pick, Recipe
from bot.source import dom
from bot.source.memo import ItemMemo, Reading
from bot.source.scrape import scrape

NOW = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)  # 15:00 in Hải Phòng
BASE = "https://haiphong.gov.vn/tin-tuc-su-kien"
REALPAGE = FIXTURES / "realpages" / "sotttt-tin-tuc-su-kien.html"
REALPAGE_URL = "https://sotttt.hanoi.gov.vn/vi/tin-tuc-su-kien.html"


def recipe(feed_id: str, **picks: Pick | None) -> Recipe:
    rules = ListRules(item="li.row", title=Pick("h2 a"), **picks)  # type: ignore[arg-type]
    return Recipe(feed_id=feed_id, title="Test", urls=(BASE,), rules=rules)


def li(n: int, extra: str = "") -> str:
    return f"<li class='row'><h2><a href='/tin/{n}.html'>Tin số {n}</a></h2>{extra}</li>"


def page(*items: str) -> str:
    return f"<html><body><ul>{''.join(items)}</ul></body></html>"


def test_the_real_page_read_again_and_with_a_new_item_gives_what_a_fresh_read_gives() -> None:
    memo = ItemMemo()
    body = REALPAGE.read_bytes()
    real = Recipe(
        feed_id="memo-real", title="Sở TTTT", urls=(REALPAGE_URL,), timezone="Asia/Ho_Chi_Minh",
        rules=ListRules(item="div.asset-abstract", title=Pick("h3.asset-title > a"),
                        date=Pick("div.assetPublishDate.block_timer"),
                        summary=Pick("div.asset-summary")),
    )  # fmt: skip
    html = dom.decode_html(body)
    changed = dom.decode_html(body.replace(b"4430301-", b"9000001-"))
    first = scrape(html, REALPAGE_URL, real, NOW, memo=memo)
    again = scrape(html, REALPAGE_URL, real, NOW + timedelta(minutes=10), memo=memo)
    after = scrape(changed, REALPAGE_URL, real, NOW + timedelta(minutes=20), memo=memo)
    fresh = scrape(changed, REALPAGE_URL, real, NOW)  # no memo: every item read
    assert len(first.items) == 20 and again == first
    assert after.items[0].url != first.items[0].url and after.items[1:] == first.items[1:]
    assert fresh.items == after.items


def test_missing_fields_are_warned_at_each_items_new_position() -> None:
    memo = ItemMemo()
    feed = recipe("memo-warn", summary=Pick("p"))
    scrape(page(li(1), li(2, "<p>Tóm tắt</p>")), BASE, feed, NOW, memo=memo)
    changed = page(li(3, "<p>Mới</p>"), li(1), li(2, "<p>Tóm tắt</p>"))
    result = scrape(changed, BASE, feed, NOW, memo=memo)
    assert result.warnings == ("1 of 3 items have no usable summary ([list] summary = 'p'): 2",)


def test_a_relative_date_is_read_again_at_every_poll() -> None:
    memo = ItemMemo()
    feed = recipe("memo-relative", date=Pick("span"))
    html = page(li(1, "<span>2 giờ trước</span>"), li(2, "<span>24/08/2022 16:30</span>"))
    first = scrape(html, BASE, feed, NOW, memo=memo)
    later = scrape(html, BASE, feed, NOW + timedelta(hours=1), memo=memo)
    assert first.items[0].published_at == NOW - timedelta(hours=2)
    assert later.items[0].published_at == NOW - timedelta(hours=1)
    assert later.items[1] == first.items[1]


def test_a_yearless_date_is_read_again_when_the_year_turns() -> None:
    memo = ItemMemo()
    feed = recipe("memo-yearless", date=Pick("span"))
    html = page(li(1, "<span>30/12 10:00</span>"))
    december = scrape(html, BASE, feed, datetime(2024, 12, 30, 12, 0, tzinfo=UTC), memo=memo)
    next_year = scrape(html, BASE, feed, datetime(2025, 12, 31, 12, 0, tzinfo=UTC), memo=memo)
    assert december.items[0].published_at is not None
    assert next_year.items[0].published_at is not None
    assert (december.items[0].published_at.year, next_year.items[0].published_at.year) == (
        2024,
        2025,
    )


def test_picks_that_look_beside_the_item_are_never_taken_from_memory() -> None:
    memo = ItemMemo()
    # `li:first-child p` depends on where the item stands, not only on its bytes.
    feed = recipe("memo-sibling", summary=Pick("li:first-child p"))
    before = scrape(page(li(1, "<p>Đầu</p>"), li(2)), BASE, feed, NOW, memo=memo)
    after = scrape(page(li(3), li(1, "<p>Đầu</p>"), li(2)), BASE, feed, NOW, memo=memo)
    assert before.items[0].summary == "Đầu"
    assert [item.summary for item in after.items] == ["", "", ""]


def test_a_changed_recipe_reads_the_page_again() -> None:
    memo = ItemMemo()
    feed = recipe("memo-recipe")
    html = page(li(1))
    scrape(html, BASE, feed, NOW, memo=memo)
    by_pattern = scrape(html, BASE, replace(feed, id_pattern=r"/tin/(\d+)"), NOW, memo=memo)
    assert by_pattern.items[0].item_id == "1"


def test_a_changed_base_url_reads_the_page_again() -> None:
    memo = ItemMemo()
    feed = recipe("memo-base")
    html = page(li(1))
    scrape(html, BASE, feed, NOW, memo=memo)
    elsewhere = scrape(html, "https://example.vn/", feed, NOW, memo=memo)
    assert elsewhere.items[0].url == "https://example.vn/tin/1.html"


def test_the_caller_owns_the_memo_and_without_one_every_item_is_read() -> None:
    feed = recipe("memo-owner")
    html = page(li(1), li(2))
    mine, other = ItemMemo(), ItemMemo()
    first = scrape(html, BASE, feed, NOW, memo=mine)
    assert len(mine.recall(feed, BASE)) == 2 and other.recall(feed, BASE) == {}
    again = scrape(html, BASE, feed, NOW, memo=mine)
    unmemoed = scrape(html, BASE, feed, NOW)
    elsewhere = scrape(html, BASE, feed, NOW, memo=other)
    assert again.items[0] is first.items[0]  # from `mine`, not read again
    assert unmemoed.items == first.items and unmemoed.items[0] is not first.items[0]
    assert elsewhere.items[0] is not first.items[0]  # another owner's memo knows nothing of it


def test_each_section_page_of_a_feed_is_remembered_apart() -> None:
    memo = ItemMemo()
    feed = recipe("memo-sections")
    news, notices = page(li(1), li(2)), page(li(3), li(4))
    first = scrape(news, BASE, feed, NOW, memo=memo)
    scrape(notices, "https://haiphong.gov.vn/thong-bao", feed, NOW, memo=memo)
    again = scrape(news, BASE, feed, NOW, memo=memo)
    assert again.items[0] is first.items[0]  # the notices page did not replace it


def test_the_memory_keeps_the_most_recently_read_pages() -> None:
    memo = ItemMemo(max_pages=2)
    feeds = [recipe(f"f{n}") for n in range(3)]
    for feed in feeds:
        memo.keep(feed, BASE, {b"k": Reading(None, ("title",))})
    assert memo.recall(feeds[0], BASE) == {}
    assert memo.recall(feeds[2], BASE) == {b"k": Reading(None, ("title",))}
