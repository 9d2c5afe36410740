"""One invalid byte must not garble a UTF-8 page, nor pass for an edit (issue 12, item 2).

A page declared UTF-8 with a truncated character (`\\xe1\\xbb`, `\\xff`) stays UTF-8 with U+FFFD
in that one spot; another charset wins only on strong evidence. The store never takes a worse
decoding of a title (more U+FFFD, more mojibake) for an edit, nor stores it over the good one.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from conftest import ROOT
from fakes import listings
from fakes.site import FakeSite
from hypothesis import given, settings
from hypothesis import strategies as st
from test_dom import to_cp1258

from bot.model import Chat, Item, Recipe
from bot.mojibake import is_worse_decoding, mojibake_pairs, utf8_evidence
from bot.pipeline import PollDeps, poll_source
from bot.recipes import load_recipe
from bot.source import dom
from bot.source.fetch import Fetcher, FetchPolicy
from bot.store.db import Store

T0 = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
UTF8 = "text/html; charset=utf-8"
META_UTF8 = '<meta charset="utf-8">'
ROWS = 20


def numbered_page(meta: str = '<meta charset="utf-8">') -> bytes:
    rows = "".join(f"<li><a href='/tin-{n:05d}'>Tin số {n:05d}: Thành phố Hải Phòng</a></li>"
                   for n in range(ROWS))
    html = f"<html><head>{meta}<title>Tin</title></head><body><ul>{rows}</ul></body></html>"
    return html.encode()


def titles(body: bytes, content_type: str | None) -> list[str]:
    return [dom.text_of(a) for a in dom.select(dom.parse_html(dom.decode_html(body, content_type)),
                                               "li a")]


def damaged(body: bytes, bad: bytes, number: int = 12) -> bytes:
    """The page with the `ố` of item `number`'s title replaced by `bad` (wherever it is)."""
    good = f"Tin số {number:05d}".encode()
    assert good in body
    return body.replace(good, good.replace("ố".encode(), bad))


# --- decoding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [b"\xe1\xbb", b"\xff", b"\xe1", b"\x80\x80", b"\xed\xa0\x80"])
@pytest.mark.parametrize(("meta", "content_type"), [
    ('<meta charset="utf-8">', UTF8),  # the page: declared in both places
    ('<meta charset="utf-8">', "text/html"),
    ("", UTF8),
    ("", None),  # no label at all: thousands of well-formed sequences against one bad spot
])  # fmt: skip
def test_one_broken_character_stays_utf8_with_u_fffd_in_that_spot(
    bad: bytes, meta: str, content_type: str | None
) -> None:
    got = titles(damaged(numbered_page(meta), bad), content_type)
    expected = [f"Tin số {n:05d}: Thành phố Hải Phòng" for n in range(ROWS)]
    assert got[:12] + got[13:] == expected[:12] + expected[13:]
    assert got[12].startswith("Tin s\ufffd") and got[12].endswith(" 00012: Thành phố Hải Phòng")
    assert mojibake_pairs(" ".join(got)) == 0


def test_a_short_utf8_page_with_a_bad_byte_keeps_its_declared_charset() -> None:
    body = "<html><body><p>Tin ngắn\xff</p></body></html>".encode("utf-8", "surrogateescape")
    body = body.replace(b"\xc3\xbf", b"\xff")  # one raw 0xFF, as sent
    assert dom.decode_html(body, UTF8) == "<html><body><p>Tin ngắn\ufffd</p></body></html>"


def test_a_single_byte_page_still_wins_on_strong_evidence() -> None:
    text = "<html><body><p>Thành phố Hải Phòng tổ chức hội nghị tổng kết công tác</p></body></html>"
    legacy = to_cp1258(text)
    assert utf8_evidence(legacy)[1] > 3  # many bad spots, next to no well-formed sequence
    assert dom.decode_html(legacy, UTF8) == text  # a lying header: detection reads windows-1258
    # A UTF-8 header contradicted by the page's own meta: the meta wins, even for one letter.
    short = to_cp1258('<meta charset="windows-1258"><p>Hải</p>')
    assert dom.decode_html(short, UTF8) == '<meta charset="windows-1258"><p>Hải</p>'


def test_utf8_evidence_counts_sequences_and_separate_bad_spots() -> None:
    assert utf8_evidence("Hải Phòng".encode()) == (2, 0)
    assert utf8_evidence(b"a\xe1\xbbb\xffc\x80\x80d") == (0, 3)
    assert utf8_evidence("ố".encode() + b"\xff" + "ố".encode() + b"\xfe") == (2, 2)


VIETNAMESE = ("aăâbcdđeêghiklmnoôơpqrstuưvxyAĂÂĐÊÔƠƯ"
              "áàảãạấầẩẫậắằẳẵặéèẻẽẹếềểễệíìỉĩịóòỏõọốồổỗộớờởỡợúùủũụứừửữựýỳỷỹỵ")
TEXT = st.text(st.sampled_from(VIETNAMESE + "0123456789 .,:;-()/"), min_size=1, max_size=80)
# Bytes that are not UTF-8 wherever they stand between two characters: truncated characters,
# lone continuation bytes, bytes UTF-8 never uses, an overlong and an encoded surrogate.
INVALID = st.one_of(
    st.sampled_from("ốđàẢ😀").map(lambda ch: ch.encode()).flatmap(
        lambda full: st.integers(1, len(full) - 1).map(lambda cut: full[:cut])),
    st.binary(min_size=1, max_size=3).map(lambda b: bytes(0x80 | (x & 0x3F) for x in b)),
    st.sampled_from([b"\xc0", b"\xc1", b"\xf5", b"\xfe", b"\xff", b"\xc0\xaf", b"\xed\xa0\x80"]),
)


@settings(max_examples=300, deadline=None)
@given(TEXT, INVALID, st.data(), st.sampled_from([(UTF8, ""), ("text/html", META_UTF8)]))
def test_a_bad_byte_sequence_only_changes_its_own_spot(
    text: str, invalid: bytes, data: st.DataObject, label: tuple[str, str]
) -> None:
    content_type, meta = label
    at = data.draw(st.integers(0, len(text)), label="at")
    head, tail = f"<html><head>{meta}</head><body><p>", "</p></body></html>"
    body = (head + text[:at]).encode() + invalid + (text[at:] + tail).encode()
    decoded = dom.decode_html(body, content_type)
    before, after = head + text[:at], text[at:] + tail
    assert decoded.startswith(before) and decoded.endswith(after), decoded
    middle = decoded[len(before):len(decoded) - len(after)]
    assert 1 <= len(middle) <= 3 and set(middle) == {"\ufffd"}


# --- the edit guard ------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(TEXT.filter(lambda t: not t.isascii()), st.sampled_from(["cp1252", "cp1258", "latin-1"]))
def test_utf8_read_as_a_single_byte_charset_is_a_worse_decoding(text: str, codec: str) -> None:
    garbled = unicodedata.normalize("NFC", text.encode().decode(codec, errors="replace"))
    assert is_worse_decoding(text, garbled)
    assert not is_worse_decoding(garbled, text)  # the repaired page is an improvement


@settings(max_examples=200, deadline=None)
@given(TEXT, TEXT)
def test_ordinary_vietnamese_edits_are_not_worse_decodings(old: str, new: str) -> None:
    assert not is_worse_decoding(old, new)


def test_a_title_with_a_new_replacement_character_is_a_worse_decoding() -> None:
    assert is_worse_decoding("Tin số 00012", "Tin s\ufffd 00012")
    assert not is_worse_decoding("Tin s\ufffd 00012", "Tin số 00012")
    assert not is_worse_decoding("Tin s\ufffd 1", "Tin s\ufffd 2")  # no more damage than before


ITEM = Item("hp", "a1", "https://hp.test/a1", "Tin số 00012: Thành phố", "Tóm tắt tin.",
            published_at=T0)


@pytest.mark.parametrize("worse", [
    replace(ITEM, title="Tin s\ufffd 00012: Thành phố"),
    replace(ITEM, title="Tin sá»‘ 00012: ThĂ\xa0nh phá»‘"),
    replace(ITEM, summary="T\ufffdm tắt tin."),
    replace(ITEM, title="Tin s\ufffd 00012: Thành phố", summary="TĂ³m táº¯t tin."),
])  # fmt: skip
def test_the_store_keeps_the_good_text_and_queues_no_edit(store: Store, worse: Item) -> None:
    store.upsert_chat(Chat(1))
    store.subscribe(1, "hp")
    store.add_items("hp", [ITEM], T0, route=lambda item: [(1, None)])
    for row in store.pending(T0):
        store.mark_sent(row.delivery_id, T0)
    later = T0 + timedelta(hours=1)
    store.add_items("hp", [worse], later, route=lambda item: [(1, None)])
    assert store.pending(later) == []
    [kept] = store.items("hp")
    assert (kept.title, kept.summary, kept.updated_at) == (ITEM.title, ITEM.summary, T0)
    # A real edit beside the damage still counts (and the damage is still not taken).
    edited = replace(worse, url=ITEM.url, image="https://hp.test/new.jpg")
    store.add_items("hp", [edited], later, route=lambda item: [(1, None)])
    [kept] = store.items("hp")
    assert (kept.title, kept.summary, kept.image) == (ITEM.title, ITEM.summary, edited.image)


# --- a full poll: the page ----------------------------------------------------------------

PATH = "/tin-tuc-su-kien"


@dataclass
class World:
    site: FakeSite
    recipe: Recipe
    store: Store
    deps: PollDeps


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    async with FakeSite() as site:
        recipe = replace(load_recipe(ROOT / "feeds" / "haiphong.toml"),
                         urls=(site.url_for(PATH),), article=None)
        fetcher = Fetcher(FetchPolicy(min_host_gap=0, respect_robots=False))
        store = Store.open(tmp_path / "newsbot.db")
        deps = PollDeps(store=store, fetcher=fetcher, public_dir=tmp_path / "public",
                        public_url="http://feeds.test", feeds={recipe.feed_id: recipe})
        try:
            yield World(site, recipe, store, deps)
        finally:
            store.close()
            await fetcher.aclose()


async def test_a_truncated_character_on_the_page_announces_no_edit_and_keeps_the_feed(
    world: World, tmp_path: Path
) -> None:
    world.store.upsert_chat(Chat(1))
    world.store.subscribe(1, world.recipe.feed_id)
    world.site.set_page(PATH, listings.listing_html())
    assert (await poll_source(world.recipe, world.deps, T0 - timedelta(hours=1))).seeded
    title = "Tin số 00012: Thành phố Hải Phòng"
    page = listings.with_article(listings.listing_html(), 749400, title, "29/11/2024").encode()
    world.site.set_page(PATH, page)
    assert (await poll_source(world.recipe, world.deps, T0)).outcome == "new"
    [announced] = world.store.pending(T0)
    world.store.mark_sent(announced.delivery_id, T0)  # subscribers saw the good title
    feed = (tmp_path / "public" / "feeds" / "haiphong.xml").read_bytes()
    stored = [(item.item_id, item.title, item.summary) for item in world.store.items(limit=100)]
    for step, body in enumerate([damaged(page, b"\xe1\xbb"), damaged(page, b"\xff"), page], 1):
        world.site.set_page(PATH, body, content_type=UTF8)
        report = await poll_source(world.recipe, world.deps, T0 + timedelta(hours=step))
        assert report.outcome == "unchanged", report
        assert world.store.pending(T0 + timedelta(days=1)) == []  # no "✏️ Cập nhật"
        assert [(i.item_id, i.title, i.summary) for i in world.store.items(limit=100)] == stored
        assert (tmp_path / "public" / "feeds" / "haiphong.xml").read_bytes() == feed
