"""bot.telegram.rounds, pure: rows, chats, feeds and `now` in, a Round out."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model import ChatSettings, Delivery, Item
from bot.telegram.feedinfo import FeedInfo
from bot.telegram.rounds import ChatView, Round, plan_round

NOW = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)  # 15:00 in Hải Phòng
FEEDS = {
    "hp": FeedInfo("hp", "Hải Phòng", site_url="https://haiphong.gov.vn/"),
    "hn": FeedInfo("hn", "Hà Nội", site_url="https://hanoi.gov.vn/"),
}
QUIET_NOW = ChatSettings(1, quiet_start=14 * 60, quiet_end=16 * 60)  # 14:00-16:00 local
QUIET_ENDED = ChatSettings(1, quiet_start=13 * 60, quiet_end=14 * 60)  # ended at 14:00 local


def row(
    delivery_id: int,
    chat_id: int = 1,
    feed_id: str = "hp",
    *,
    age: timedelta = timedelta(minutes=5),
    title: str = "tin",
    matched: str | None = None,
) -> Delivery:
    created = NOW - age
    item = Item(feed_id, f"i{delivery_id}", f"https://x.vn/{delivery_id}", title,
                published_at=created)
    return Delivery(delivery_id, chat_id, item, created_at=created, matched=matched)


def plan(rows: list[Delivery], *views: ChatView, max_per_feed: int = 10,
         max_age: timedelta | None = timedelta(days=3), **kw: object) -> Round:
    chats = {view.chat_id: view for view in views}
    return plan_round(rows, chats, FEEDS, NOW, max_per_feed=max_per_feed, max_age=max_age,
                      **kw)  # type: ignore[arg-type]


def ids(result: Round) -> list[list[tuple[int, ...]]]:
    return [[tuple(r.delivery_id for r in job.rows) for job in chat.jobs]
            for chat in result.chats]


def test_rows_go_one_by_one_per_chat_in_the_order_of_each_chats_oldest_row() -> None:
    result = plan([row(1, 2), row(2, 1), row(3, 2)], ChatView(1, "private"),
                  ChatView(2, "group"))
    assert [c.chat.chat_id for c in result.chats] == [2, 1]
    assert ids(result) == [[(1,), (3,)], [(2,)]]


def test_rows_over_the_cap_fold_into_one_message_per_chat_and_feed() -> None:
    rows = [row(n, feed_id="hp" if n <= 5 else "hn") for n in range(1, 9)]
    result = plan(rows, ChatView(1, "private"), max_per_feed=2)
    (chat,) = result.chats
    assert [(tuple(r.delivery_id for r in j.rows), j.fold) for j in chat.jobs] == [
        ((1,), False), ((2,), False), ((6,), False), ((7,), False),
        ((3, 4, 5), True), ((8,), True),
    ]
    assert result.counted == Counter({(1, "hp"): 5, (1, "hn"): 3})


def test_the_cap_counts_across_batches_of_one_drain() -> None:
    first = plan([row(1), row(2)], ChatView(1, "private"), max_per_feed=2)
    second = plan([row(3)], ChatView(1, "private"), max_per_feed=2, counted=first.counted)
    assert [j.fold for j in second.chats[0].jobs] == [True]


def test_stale_rows_are_listed_and_never_planned() -> None:
    result = plan([row(1, age=timedelta(days=4)), row(2)], ChatView(1, "private"))
    assert result.stale == (1,)
    assert ids(result) == [[(2,)]]
    assert plan([row(1, age=timedelta(days=400))], ChatView(1, "private"),
                max_age=None).stale == ()


def test_a_paused_chats_rows_wait() -> None:
    result = plan([row(1)], ChatView(1, "private", paused=True))
    assert result.chats == () and result.held == 0 and result.stale == ()


def test_quiet_hours_hold_rows_but_an_urgent_one_goes_showing_its_keyword() -> None:
    settings = ChatSettings(1, quiet_start=QUIET_NOW.quiet_start,
                            quiet_end=QUIET_NOW.quiet_end, urgent=("bão",))
    through = row(2, title="Cơn bão số 3 vào Hải An", matched="Hải An")  # the filter's word
    result = plan([row(1), through], ChatView(1, "private", settings=settings))
    assert result.held == 1
    (chat,) = result.chats
    (job,) = chat.jobs
    # Issue 14: the message names the urgent word that let it through, not the filter's.
    assert job.rows[0].delivery_id == 2 and job.rows[0].matched == "bão"


def test_after_quiet_hours_what_they_held_goes_first_as_one_digest() -> None:
    held = row(1, age=timedelta(hours=2))  # created 13:00 local, inside the window
    new = row(2, age=timedelta(minutes=5))
    result = plan([held, new], ChatView(1, "private", "en", settings=QUIET_ENDED))
    (chat,) = result.chats
    digest, single = chat.jobs
    assert digest.digest is not None and "quiet hours" in digest.digest
    assert [r.delivery_id for r in digest.rows] == [1]
    assert single.digest is None and single.rows[0].delivery_id == 2


def test_after_resume_what_came_during_the_pause_goes_first_as_one_digest() -> None:
    resumed = ChatSettings(1, missed_before=NOW - timedelta(minutes=1))
    result = plan([row(1, age=timedelta(hours=3)), row(2, age=timedelta(minutes=2)),
                   row(3, age=timedelta(0))],
                  ChatView(1, "private", "en", settings=resumed))
    digest, single = result.chats[0].jobs
    assert digest.digest is not None and digest.digest.startswith("<b>⏸ News while you were")
    assert [r.delivery_id for r in digest.rows] == [1, 2] and single.rows[0].delivery_id == 3


def test_an_unknown_chat_is_planned_as_a_vietnamese_private_or_group_chat() -> None:
    result = plan([row(1, chat_id=-5)])
    assert result.chats[0].chat == ChatView(-5, "group", "vi")


CHAT_SETTINGS = st.sampled_from([None, QUIET_NOW, QUIET_ENDED,
                                 ChatSettings(1, missed_before=NOW - timedelta(hours=5)),
                                 ChatSettings(1, digest="hourly"),
                                 ChatSettings(1, digest="daily", digest_at=9 * 60)])


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(st.tuples(st.sampled_from([1, 2, -3]), st.sampled_from(["hp", "hn", "gone"]),
                             st.integers(0, 60 * 24 * 5)), max_size=40),
    chat_settings=CHAT_SETTINGS,
    paused=st.booleans(),
    cap=st.integers(1, 4),
)
def test_every_row_is_sent_folded_digested_held_stale_or_paused_exactly_once(
    specs: list[tuple[int, str, int]], chat_settings: ChatSettings | None, paused: bool, cap: int
) -> None:
    rows = [row(n, chat_id, feed_id, age=timedelta(minutes=minutes))
            for n, (chat_id, feed_id, minutes) in enumerate(specs, start=1)]
    views = [ChatView(1, "private", settings=chat_settings), ChatView(2, "private", paused=paused)]
    result = plan(rows, *views, max_per_feed=cap)
    planned = [r.delivery_id for chat in result.chats for job in chat.jobs for r in job.rows]
    waiting = [r.delivery_id for r in rows if r.chat_id == 2 and paused
               and r.delivery_id not in result.stale]
    assert len(planned) == len(set(planned))
    assert len(planned) + result.held + len(result.stale) + len(waiting) == len(rows)
    for chat in result.chats:
        assert chat.jobs and all(job.rows for job in chat.jobs)
        assert all(r.chat_id == chat.chat.chat_id for job in chat.jobs for r in job.rows)
        singles = Counter(job.rows[0].item.feed_id for job in chat.jobs
                          if not job.fold and job.digest is None)
        assert max(singles.values(), default=0) <= cap
