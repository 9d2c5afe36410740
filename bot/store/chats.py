"""Store methods for chats: who they are, their settings, subscriptions, topics, keyword filters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from bot.model import (
    Chat,
    ChatKind,
    ChatSettings,
    DigestMode,
    KeywordFilter,
    MessageFormat,
    Subscription,
)
from bot.store.base import PENDING, StoreBase, _iso_or_none, _when

ADD_CHAT = "INSERT INTO chats (chat_id) VALUES (?) ON CONFLICT DO NOTHING"
# A chat's rows in each table, told apart by these columns besides chat_id (move_chat merges).
CHAT_ROW_KEYS = {"subscriptions": ("feed_id",), "keyword_filters": ("feed_id",),
                 "outbox": ("feed_id", "item_id", "kind", "version"), "chat_settings": ()}


def _chat(row: Sequence[Any]) -> Chat:
    return Chat(chat_id=row[0], kind=cast(ChatKind, row[1]), language=row[2],
                active=bool(row[3]), paused=bool(row[4]), title=row[5])


def _filter(include: str | None, exclude: str | None) -> KeywordFilter:
    return KeywordFilter(tuple(json.loads(include or "[]")), tuple(json.loads(exclude or "[]")))


def _merge(wide: KeywordFilter, per_feed: KeywordFilter) -> KeywordFilter:
    return KeywordFilter(tuple(dict.fromkeys(wide.include + per_feed.include)),
                         tuple(dict.fromkeys(wide.exclude + per_feed.exclude)))


class ChatsMixin(StoreBase):
    """Chats, chat settings, subscriptions (with forum topics) and keyword filters."""

    # -- chats ---------------------------------------------------------------------------

    def upsert_chat(self, chat: Chat) -> None:
        """Insert a chat, or refresh kind/title of a known one (its settings are kept)."""
        self._write("INSERT INTO chats VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO "
                    "UPDATE SET kind = excluded.kind, title = excluded.title",
                    (chat.chat_id, chat.kind, chat.language, int(chat.active), int(chat.paused),
                     chat.title))

    def chat(self, chat_id: int) -> Chat | None:
        """One chat, or None."""
        rows = self._read("SELECT * FROM chats WHERE chat_id = ?", [chat_id])
        return _chat(rows[0]) if rows else None

    def set_chat(self, chat_id: int, *, active: bool | None = None, paused: bool | None = None,
                 language: str | None = None) -> None:
        """Change the given settings of a known chat."""
        changes = {"active": active, "paused": paused, "language": language}
        given = {column: value for column, value in changes.items() if value is not None}
        if given:
            assignments = ", ".join(f"{column} = ?" for column in given)
            self._write(f"UPDATE chats SET {assignments} WHERE chat_id = ?",
                        [*given.values(), chat_id])

    def forget_chat(self, chat_id: int) -> None:
        """Delete a chat with its subscriptions, filters and unsent deliveries."""
        with self._tx() as db:
            db.execute(f"DELETE FROM outbox WHERE chat_id = ? AND {PENDING}", (chat_id,))
            db.execute("DELETE FROM chats WHERE chat_id = ?", (chat_id,))

    def move_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: move everything to the new id, merging if it exists."""
        if old_chat_id == new_chat_id:
            return
        with self._tx() as db:
            db.execute("INSERT INTO chats SELECT ?, kind, language, active, paused, title "
                       "FROM chats WHERE chat_id = ? ON CONFLICT DO NOTHING",
                       (new_chat_id, old_chat_id))
            for table, key in CHAT_ROW_KEYS.items():
                # The new id's own rows win; the old id's duplicates go.
                clash = " AND ".join(f"other.{column} = {table}.{column}" for column in key)
                db.execute(f"UPDATE {table} SET chat_id = ?1 WHERE chat_id = ?2 AND NOT EXISTS "
                           f"(SELECT 1 FROM {table} other WHERE other.chat_id = ?1"
                           f"{' AND ' + clash if clash else ''})", (new_chat_id, old_chat_id))
                db.execute(f"DELETE FROM {table} WHERE chat_id = ?", (old_chat_id,))
            db.execute("DELETE FROM chats WHERE chat_id = ?", (old_chat_id,))

    def chats(self, *, active_only: bool = True) -> list[Chat]:
        """Chats by id; only active ones unless told otherwise."""
        where = "WHERE active = 1" if active_only else ""
        return [_chat(row) for row in self._read(f"SELECT * FROM chats {where} ORDER BY chat_id")]

    # -- subscriptions and keyword filters ------------------------------------------------

    def subscribe(self, chat_id: int, feed_id: str, *, thread_id: int = 0) -> bool:
        """Follow a feed (creating a default chat row if needed); True if it was not followed.

        `thread_id` is the forum topic its items go to (0: none); following a feed again from
        another topic moves it there."""
        with self._tx() as db:
            db.execute(ADD_CHAT, (chat_id,))
            added = db.execute("INSERT INTO subscriptions (chat_id, feed_id, thread_id) "
                               "VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                               (chat_id, feed_id, thread_id)).rowcount == 1
            if not added:
                db.execute("UPDATE subscriptions SET thread_id = ? WHERE chat_id = ? AND "
                           "feed_id = ?", (thread_id, chat_id, feed_id))
            return added

    def subscription_threads(self, chat_id: int) -> dict[str, int]:
        """The feeds a chat follows and the forum topic each goes to (0: none)."""
        rows = self._read("SELECT feed_id, thread_id FROM subscriptions WHERE chat_id = ? "
                          "ORDER BY feed_id", [chat_id])
        return {row[0]: int(row[1]) for row in rows}

    def forget_thread(self, chat_id: int, thread_id: int) -> None:
        """A forum topic is gone: its feeds and their unsent rows go to the chat itself."""
        with self._tx() as db:
            db.execute("UPDATE subscriptions SET thread_id = 0 WHERE chat_id = ? AND "
                       "thread_id = ?", (chat_id, thread_id))
            db.execute(f"UPDATE outbox SET thread_id = 0 WHERE chat_id = ? AND thread_id = ? "
                       f"AND {PENDING}", (chat_id, thread_id))

    def unsubscribe(self, chat_id: int, feed_id: str) -> bool:
        """Stop following a feed; True if it was followed."""
        return self._write("DELETE FROM subscriptions WHERE chat_id = ? AND feed_id = ?",
                           (chat_id, feed_id)) == 1

    def subscriptions_of(self, chat_id: int) -> list[str]:
        """The feed ids a chat follows, sorted."""
        rows = self._read("SELECT feed_id FROM subscriptions WHERE chat_id = ? ORDER BY feed_id",
                          [chat_id])
        return [row[0] for row in rows]

    def subscribers_of(self, feed_id: str) -> list[Subscription]:
        """Active chats following a feed, each with its chat-wide + per-feed filter. Paused
        chats too: their rows wait, and /resume sends them as one digest."""
        rows = self._read(
            "SELECT s.chat_id, w.include, w.exclude, f.include, f.exclude FROM subscriptions s "
            "JOIN chats c ON c.chat_id = s.chat_id AND c.active = 1 "
            "LEFT JOIN keyword_filters w ON w.chat_id = s.chat_id AND w.feed_id = '' "
            "LEFT JOIN keyword_filters f ON f.chat_id = s.chat_id AND f.feed_id = s.feed_id "
            "WHERE s.feed_id = ? ORDER BY s.chat_id", [feed_id])
        return [Subscription(row[0], feed_id, _merge(_filter(row[1], row[2]),
                                                     _filter(row[3], row[4]))) for row in rows]

    def keyword_filter(self, chat_id: int, feed_id: str | None = None) -> KeywordFilter:
        """The filter stored for exactly this scope (chat-wide when `feed_id` is None)."""
        rows = self._read("SELECT include, exclude FROM keyword_filters WHERE chat_id = ? AND "
                          "feed_id = ?", [chat_id, feed_id or ""])
        return _filter(rows[0][0], rows[0][1]) if rows else KeywordFilter()

    def set_keyword_filter(self, chat_id: int, kf: KeywordFilter,
                           feed_id: str | None = None) -> None:
        """Replace the filter of one scope; an empty filter removes it."""
        with self._tx() as db:
            db.execute("DELETE FROM keyword_filters WHERE chat_id = ? AND feed_id = ?",
                       (chat_id, feed_id or ""))
            if kf.include or kf.exclude:
                db.execute(ADD_CHAT, (chat_id,))
                db.execute("INSERT INTO keyword_filters VALUES (?, ?, ?, ?)",
                           (chat_id, feed_id or "", json.dumps(list(kf.include)),
                            json.dumps(list(kf.exclude))))

    # -- chat settings -------------------------------------------------------------------

    def chat_settings(self, chat_id: int) -> ChatSettings:
        """Quiet hours, digest, urgent keywords and edit notices of a chat (defaults if unset)."""
        rows = self._read("SELECT timezone, quiet_start, quiet_end, urgent, digest, digest_at, "
                          "edits, format, preview, missed_before FROM chat_settings "
                          "WHERE chat_id = ?", [chat_id])
        if not rows:
            return ChatSettings(chat_id)
        row = rows[0]
        return ChatSettings(chat_id, timezone=row[0], quiet_start=row[1], quiet_end=row[2],
                            urgent=tuple(json.loads(row[3])), digest=cast(DigestMode, row[4]),
                            digest_at=row[5], edits=bool(row[6]),
                            format=cast(MessageFormat, row[7]),
                            preview=None if row[8] is None else bool(row[8]),
                            missed_before=_when(row[9]))

    def set_chat_settings(self, settings: ChatSettings) -> None:
        """Replace a chat's settings (creating a default chat row if needed)."""
        with self._tx() as db:
            db.execute(ADD_CHAT, (settings.chat_id,))
            db.execute("INSERT INTO chat_settings (chat_id, timezone, quiet_start, quiet_end, "
                       "urgent, digest, digest_at, edits, format, preview, missed_before) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id) DO UPDATE "
                       "SET timezone = excluded.timezone, quiet_start = excluded.quiet_start, "
                       "quiet_end = excluded.quiet_end, urgent = excluded.urgent, digest = "
                       "excluded.digest, digest_at = excluded.digest_at, edits = excluded.edits, "
                       "format = excluded.format, preview = excluded.preview, missed_before = "
                       "excluded.missed_before",
                       (settings.chat_id, settings.timezone, settings.quiet_start,
                        settings.quiet_end, json.dumps(list(settings.urgent), ensure_ascii=False),
                        settings.digest, settings.digest_at, int(settings.edits),
                        settings.format, None if settings.preview is None
                        else int(settings.preview), _iso_or_none(settings.missed_before)))
