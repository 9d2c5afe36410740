"""bot.publish.render keeps each feed's rendered items for its next write: what it reuses must
give the bytes a fresh render gives, whatever changed in between (an edit, a new item, a new
section name, an item with no date), and the JSON Feed spliced from per-item text must be the
bytes `json.dumps(doc, indent=2)` gives."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import Attachment, Item, Section
from bot.publish.entries import make_entries
from bot.publish.feedmeta import FeedMeta, feed_urls
from bot.publish.formats import _feed_title, _json_item, json_bytes
from bot.publish.render import render_atom, render_feeds, render_json, render_rss
from bot.publish.sanitize import plain_text

PUBLIC = "https://feeds.example.vn"
T0 = datetime(2024, 11, 28, 3, 15, tzinfo=UTC)
META = FeedMeta("reuse", "Cổng TTĐT Hải Phòng", "https://haiphong.gov.vn/",
                sections=(Section("tb", "Thông báo", "https://haiphong.gov.vn/tb"),))


def item(n: int, **changes: Any) -> Item:
    seen = T0 - timedelta(hours=n)
    made = Item(feed_id="reuse", item_id=f"tin-{n}", url=f"/tin/{n}.html", title=f"Tin số {n}",
                summary=f"<p>Tóm tắt {n} &amp; <b>chi tiết</b></p>", published_at=seen,
                first_seen_at=seen, updated_at=seen, section="tb",
                attachments=(Attachment(f"/f/{n}.pdf", "pdf", f"Tệp {n}"),
                             Attachment(f"/f/{n}.doc", "doc", "Tệp")))
    return replace(made, **changes)


def fresh(meta: FeedMeta, items: list[Item]) -> dict[str, bytes]:
    """Each format rendered on its own, with nothing kept from before."""
    return {"rss": render_rss(meta, items, PUBLIC), "atom": render_atom(meta, items, PUBLIC),
            "json": render_json(meta, items, PUBLIC)}


def test_a_feed_written_again_after_changes_has_the_bytes_of_a_fresh_render() -> None:
    items = [item(n) for n in range(5)]
    assert render_feeds(META, items, PUBLIC) == fresh(META, items)
    edited = [item(9), replace(items[0], title="Tin số 0 (sửa)"), *items[1:4],
              replace(items[4], published_at=None, first_seen_at=None, updated_at=None)]
    assert render_feeds(META, edited, PUBLIC) == fresh(META, edited)
    renamed = replace(META, sections=(Section("tb", "Thông báo mới", "https://x.vn/tb"),))
    after = render_feeds(renamed, edited, PUBLIC)
    assert after == fresh(renamed, edited)
    assert "Thông báo mới".encode() in after["rss"]


def test_an_undated_entry_takes_the_date_of_the_items_written_with_it() -> None:
    undated = item(1, published_at=None, first_seen_at=None, updated_at=None)
    render_feeds(META, [item(0), undated], PUBLIC)
    later = item(0, updated_at=T0 + timedelta(days=3))
    assert render_feeds(META, [later, undated], PUBLIC) == fresh(META, [later, undated])


texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(title=texts, summary=texts, description=texts, count=st.integers(0, 3))
def test_json_feed_is_the_bytes_json_dumps_gives(title: str, summary: str, description: str,
                                                  count: int) -> None:
    meta = replace(META, title=title, description=description)
    entries = make_entries(meta, [item(n, title=title, summary=summary) for n in range(count)])
    self_url = feed_urls(PUBLIC, "reuse")["json"]
    feed_title = _feed_title(meta)
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": feed_title,
           "home_page_url": meta.site_url, "feed_url": self_url,
           "description": plain_text(meta.description) or feed_title, "language": meta.language,
           "authors": [{"name": feed_title}], "items": [_json_item(e) for e in entries]}
    expected = json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n"
    assert json_bytes(meta, entries, self_url) == expected
