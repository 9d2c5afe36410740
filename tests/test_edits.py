"""Edit tracking: an item edited upstream keeps its id, gets a new `updated` time in the feeds, and
chats that were sent the original get one "Cập nhật / Updated" notice, never the original again."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import feedparser
import pytest
from fakes.delivery_kit import Recorder, Wall, make_deliverer
from fakes.telegram_api import parse_telegram_html

from bot.model import Chat, ChatSettings, Item, Recipe
from bot.publish.feedmeta import FeedMeta
from bot.publish.render import RENDERERS
from bot.store.db import MIGRATIONS, Store
from bot.store.items import MAX_EDIT_NOTICES_PER_POLL, Route
from bot.telegram.notices import format_edit

pytestmark = pytest.mark.backends

T0 = datetime(2024, 11, 28, 7, 0, tzinfo=UTC)
FEEDS = {"hp": Recipe("hp", "Hải Phòng", ("https://haiphong.gov.vn/tin",))}
ALICE, BOB = 1, 2
ORIGINAL = Item("hp", "a1", "https://haiphong.gov.vn/a1.html", "Khởi công cầu Hải An",
                "Sáng nay, thành phố khởi công.", published_at=T0)


def to(*chats: int) -> Route:
    return lambda item: [(chat, None) for chat in chats]


@pytest.fixture
def store(store: Store) -> Store:
    db = store
    for chat in (ALICE, BOB):
        db.upsert_chat(Chat(chat))
        db.subscribe(chat, "hp")
    return db


def deliver_all(store: Store, at: datetime) -> None:
    for row in store.pending(at):
        store.mark_sent(row.delivery_id, at)


def edit(store: Store, at: datetime, *items: Item, route: bool = True) -> None:
    store.add_items("hp", items, at, route=to(ALICE, BOB) if route else None)


def test_an_edit_after_delivery_queues_one_notice_per_chat(store: Store) -> None:
    store.add_items("hp", [ORIGINAL], T0, route=to(ALICE, BOB))
    deliver_all(store, T0)
    edited_at = T0 + timedelta(hours=1)
    edit(store, edited_at, replace(ORIGINAL, title="Khởi công cầu Hải An mới"))
    rows = store.pending(edited_at)
    assert [(r.chat_id, r.kind, r.previous_title, r.item.title) for r in rows] == [
        (ALICE, "edit", "Khởi công cầu Hải An", "Khởi công cầu Hải An mới"),
        (BOB, "edit", "Khởi công cầu Hải An", "Khởi công cầu Hải An mới"),
    ]
    assert rows[0].previous_summary == "Sáng nay, thành phố khởi công."
    assert rows[0].item.updated_at == edited_at and rows[0].item.first_seen_at == T0


def test_no_notice_while_the_original_is_still_pending(store: Store) -> None:
    store.add_items("hp", [ORIGINAL], T0, route=to(ALICE))
    edit(store, T0 + timedelta(minutes=5), replace(ORIGINAL, title="Tiêu đề mới"))
    [row] = store.pending(T0 + timedelta(minutes=5))
    assert (row.kind, row.item.title) == ("item", "Tiêu đề mới")  # the original, new text


def test_edits_off_unsubscribed_inactive_and_paused_chats_get_nothing(store: Store) -> None:
    for chat in (3, 4, 5):
        store.upsert_chat(Chat(chat))
        store.subscribe(chat, "hp")
    store.add_items("hp", [ORIGINAL], T0, route=to(ALICE, BOB, 3, 4, 5))
    deliver_all(store, T0)
    store.set_chat_settings(ChatSettings(ALICE, edits=False))
    store.unsubscribe(BOB, "hp")
    store.set_chat(3, active=False)
    store.set_chat(4, paused=True)
    edit(store, T0 + timedelta(hours=1), replace(ORIGINAL, summary="Tóm tắt đã sửa"))
    assert [(r.chat_id, r.kind) for r in store.pending(T0 + timedelta(hours=2))] == [(5, "edit")]


def test_two_edits_before_sending_make_one_notice_then_a_later_edit_another(
    store: Store,
) -> None:
    store.add_items("hp", [ORIGINAL], T0, route=to(ALICE))
    deliver_all(store, T0)
    edit(store, T0 + timedelta(hours=1), replace(ORIGINAL, title="Bản sửa 1"))
    edit(store, T0 + timedelta(hours=2), replace(ORIGINAL, title="Bản sửa 2"))
    [row] = store.pending(T0 + timedelta(hours=2))
    assert (row.previous_title, row.item.title) == ("Khởi công cầu Hải An", "Bản sửa 2")
    store.mark_sent(row.delivery_id, T0 + timedelta(hours=2))
    edit(store, T0 + timedelta(hours=3), replace(ORIGINAL, title="Bản sửa 3"))
    [again] = store.pending(T0 + timedelta(hours=3))
    assert (again.kind, again.previous_title, again.item.title) == ("edit", "Bản sửa 2",
                                                                     "Bản sửa 3")
    assert store.outbox_counts() == {"pending": 1, "sent": 2, "failed": 0}


def test_no_notice_for_image_only_changes_silent_polls_or_a_redesign(store: Store) -> None:
    many = [replace(ORIGINAL, item_id=f"b{n}", url=f"https://haiphong.gov.vn/b{n}.html",
                    title=f"Tin {n}") for n in range(MAX_EDIT_NOTICES_PER_POLL + 1)]
    store.add_items("hp", [ORIGINAL, *many], T0, route=to(ALICE))
    deliver_all(store, T0)
    later = T0 + timedelta(hours=1)
    edit(store, later, replace(ORIGINAL, image="https://haiphong.gov.vn/a.jpg"))
    edit(store, later, replace(ORIGINAL, title="Sửa khi không báo tin"), route=False)
    edit(store, later, *[replace(item, title=f"[Mới] {item.title}") for item in many])
    assert store.pending(later) == []
    # every edit is stored all the same
    assert store.items("hp", limit=1)[0].title.startswith(("[Mới]", "Sửa"))


async def test_the_notice_shows_old_and_new_and_the_original_is_never_resent(
    store: Store,
) -> None:
    wall = Wall(T0)
    store.add_items("hp", [ORIGINAL], T0, route=to(ALICE))
    sender = Recorder()
    await make_deliverer(store, sender, wall, FEEDS).drain()
    wall.at = T0 + timedelta(hours=1)
    edit(store, wall.at, replace(ORIGINAL, title="Khởi công cầu <Hải An> mới",
                                 summary="Tóm tắt mới & đầy đủ"))
    await make_deliverer(store, sender, wall, FEEDS).drain()
    await make_deliverer(store, sender, wall, FEEDS).drain()
    original, notice = sender.texts_to(ALICE)
    assert original.startswith("<b>Khởi công cầu Hải An</b>")
    assert notice.splitlines()[:3] == [
        "<b>✏️ Cập nhật</b> · <i>Hải Phòng</i>",
        "<s>Khởi công cầu Hải An</s>",
        "→ <b>Khởi công cầu &lt;Hải An&gt; mới</b>",
    ]
    visible = parse_telegram_html(notice)  # Telegram accepts it
    assert "Tóm tắt mới: Tóm tắt mới & đầy đủ" in visible
    assert '<a href="https://haiphong.gov.vn/a1.html">Xem chi tiết</a>' in notice


def test_format_edit_in_english_with_only_the_summary_changed() -> None:
    text = format_edit(feed_title="Hà Nội", url="javascript:alert(1)", title="Same title",
                       summary="New summary", previous_title="Same title",
                       previous_summary="Old summary", language="en")
    assert text.splitlines() == ["<b>✏️ Updated</b> · <i>Hà Nội</i>", "<b>Same title</b>",
                                 "New summary: New summary"]  # no javascript: link


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feeds_show_the_new_text_with_a_new_updated_time_and_the_same_id(
    store: Store, fmt: str
) -> None:
    meta = FeedMeta("hp", "Hải Phòng", "https://haiphong.gov.vn/")
    store.add_items("hp", [ORIGINAL], T0)
    before = feedparser.parse(RENDERERS[fmt](meta, store.items("hp"), "http://feeds.test"))
    edited_at = T0 + timedelta(hours=3)
    store.add_items("hp", [replace(ORIGINAL, title="Khởi công cầu Hải An (cập nhật)")], edited_at)
    after = feedparser.parse(RENDERERS[fmt](meta, store.items("hp"), "http://feeds.test"))
    [old], [new] = before.entries, after.entries
    assert new.id == old.id and new.link == old.link
    assert (old.title, new.title) == ("Khởi công cầu Hải An", "Khởi công cầu Hải An (cập nhật)")
    if fmt == "atom":  # RSS 2.0 items have no updated element; readers key on the guid
        assert datetime(*old.updated_parsed[:6], tzinfo=UTC) == T0
        assert datetime(*new.updated_parsed[:6], tzinfo=UTC) == edited_at
    assert store.last_change_at("hp") == edited_at


def test_json_feed_shows_date_modified_with_the_same_id(store: Store) -> None:
    meta = FeedMeta("hp", "Hải Phòng", "https://haiphong.gov.vn/")
    store.add_items("hp", [ORIGINAL], T0)
    [old] = json.loads(RENDERERS["json"](meta, store.items("hp"), "http://feeds.test"))["items"]
    edited_at = T0 + timedelta(hours=3)
    store.add_items("hp", [replace(ORIGINAL, summary="Tóm tắt đã sửa")], edited_at)
    [new] = json.loads(RENDERERS["json"](meta, store.items("hp"), "http://feeds.test"))["items"]
    assert new["id"] == old["id"]
    assert datetime.fromisoformat(old["date_modified"]) == T0
    assert datetime.fromisoformat(new["date_modified"]) == edited_at
    assert "Tóm tắt đã sửa" in json.dumps(new, ensure_ascii=False)


def test_migrating_a_version_3_database_keeps_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    db = sqlite3.connect(path, isolation_level=None)
    for migration in MIGRATIONS[:3]:
        for statement in migration.statements:
            db.execute(statement)
        db.execute("INSERT INTO schema_migrations VALUES (?, ?, ?)",
                   (migration.version, migration.name, T0.isoformat()))
    stamp = T0.isoformat(timespec="microseconds")
    db.execute("INSERT INTO chats (chat_id) VALUES (1)")
    db.execute("INSERT INTO subscriptions VALUES (1, 'hp')")
    for item_id, delivery_id, sent_at in (("a0", 7, stamp), ("a1", 9, None)):
        db.execute("INSERT INTO items (feed_id, item_id, url, title, first_seen_at, updated_at, "
                   "last_seen_at) VALUES ('hp', ?, 'https://x/1', 'Tin', ?, ?, ?)",
                   (item_id, stamp, stamp, stamp))
        db.execute("INSERT INTO outbox (delivery_id, chat_id, feed_id, item_id, created_at, "
                   "not_before, sent_at) VALUES (?, 1, 'hp', ?, ?, ?, ?)",
                   (delivery_id, item_id, stamp, stamp, sent_at))
    db.close()
    old = sqlite3.connect(path)
    with pytest.raises(sqlite3.IntegrityError):  # v3: one row per (chat, item), edits impossible
        old.execute("INSERT INTO outbox (chat_id, feed_id, item_id, created_at, not_before) "
                    "VALUES (1, 'hp', 'a1', '', '')")
    old.close()

    with Store.open(path) as store:
        assert store.schema_version() >= 5
        [pending] = store.pending(T0 + timedelta(days=1))
        assert (pending.delivery_id, pending.kind, pending.thread_id) == (9, "item", None)
        assert store.subscription_threads(1) == {"hp": 0}
        assert store.outbox_counts() == {"pending": 1, "sent": 1, "failed": 0}
        store.add_items("hp", [Item("hp", "a3", "https://x/3", "Tin mới")], T0, route=to(1))
        newest = max(r.delivery_id for r in store.pending(T0 + timedelta(days=1)))
        assert newest > 9  # ids keep counting from the old table's
        assert store.integrity_ok()
