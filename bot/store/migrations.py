"""newsbot's database schema as named migrations: pure data (SQL text), applied by bot.store.db."""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    """One schema step; its statements run in one transaction."""

    version: int
    name: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "initial schema", (
        """CREATE TABLE schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)""",
        """CREATE TABLE items (
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, url TEXT NOT NULL, title TEXT NOT NULL,
            summary TEXT NOT NULL DEFAULT '', published_at TEXT, image TEXT, author TEXT,
            content TEXT, first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL, PRIMARY KEY (feed_id, item_id))""",
        # items() lists newest first per feed and across feeds; rowid is implied at the end.
        """CREATE INDEX items_newest ON items
            (feed_id, coalesce(published_at, first_seen_at), first_seen_at)""",
        """CREATE INDEX items_newest_all ON items
            (coalesce(published_at, first_seen_at), first_seen_at)""",
        "CREATE INDEX items_updated ON items (feed_id, updated_at)",
        """CREATE TABLE feed_health (
            feed_id TEXT PRIMARY KEY, last_poll_at TEXT, last_success_at TEXT, last_error TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0, next_poll_at TEXT, etag TEXT,
            last_modified TEXT, seeded INTEGER NOT NULL DEFAULT 0)""",
        """CREATE TABLE chats (
            chat_id INTEGER PRIMARY KEY, kind TEXT NOT NULL DEFAULT 'private',
            language TEXT NOT NULL DEFAULT 'vi', active INTEGER NOT NULL DEFAULT 1,
            paused INTEGER NOT NULL DEFAULT 0, title TEXT NOT NULL DEFAULT '')""",
        """CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL REFERENCES chats ON DELETE CASCADE, feed_id TEXT NOT NULL,
            PRIMARY KEY (chat_id, feed_id))""",
        "CREATE INDEX subscriptions_by_feed ON subscriptions (feed_id)",
        # feed_id '' is the chat-wide filter (NULL would not be unique in the primary key).
        """CREATE TABLE keyword_filters (
            chat_id INTEGER NOT NULL REFERENCES chats ON DELETE CASCADE, feed_id TEXT NOT NULL,
            include TEXT NOT NULL, exclude TEXT NOT NULL, PRIMARY KEY (chat_id, feed_id))""",
        # No foreign key to chats: sent/failed rows outlive a forgotten chat as history.
        """CREATE TABLE outbox (
            delivery_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL,
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, matched TEXT, created_at TEXT NOT NULL,
            not_before TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            sent_at TEXT, failed_at TEXT, UNIQUE (chat_id, feed_id, item_id),
            FOREIGN KEY (feed_id, item_id) REFERENCES items ON DELETE CASCADE)""",
        "CREATE INDEX outbox_item ON outbox (feed_id, item_id)",
        """CREATE INDEX outbox_pending ON outbox (delivery_id)
            WHERE sent_at IS NULL AND failed_at IS NULL""",
    )),
    # The periodic unconditional GET for servers that answer 304 forever needs its last time.
    Migration(2, "feed_health.last_full_fetch_at", (
        "ALTER TABLE feed_health ADD COLUMN last_full_fetch_at TEXT",
    )),
    # One alert per failure streak, and one on recovery, needs to know an alert went out.
    Migration(3, "feed_health.alerted", (
        "ALTER TABLE feed_health ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0",
    )),
    # Edit notices are outbox rows too (kind 'edit', one per item version), and rows carry the
    # forum topic they go to. A table constraint cannot be altered, so the outbox is rebuilt.
    Migration(4, "outbox.kind/version/thread_id, subscriptions.thread_id", (
        """CREATE TABLE outbox_v4 (
            delivery_id INTEGER PRIMARY KEY AUTOINCREMENT, chat_id INTEGER NOT NULL,
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, matched TEXT, created_at TEXT NOT NULL,
            not_before TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT,
            sent_at TEXT, failed_at TEXT, kind TEXT NOT NULL DEFAULT 'item',
            version TEXT NOT NULL DEFAULT '', thread_id INTEGER NOT NULL DEFAULT 0,
            previous_title TEXT, previous_summary TEXT,
            UNIQUE (chat_id, feed_id, item_id, kind, version),
            FOREIGN KEY (feed_id, item_id) REFERENCES items ON DELETE CASCADE)""",
        """INSERT INTO outbox_v4 (delivery_id, chat_id, feed_id, item_id, matched, created_at,
            not_before, attempts, last_error, sent_at, failed_at) SELECT delivery_id, chat_id,
            feed_id, item_id, matched, created_at, not_before, attempts, last_error, sent_at,
            failed_at FROM outbox""",
        # Keep counting delivery ids from where the old table was (ids are never reused).
        "DELETE FROM sqlite_sequence WHERE name = 'outbox_v4'",
        "INSERT INTO sqlite_sequence SELECT 'outbox_v4', seq FROM sqlite_sequence "
        "WHERE name = 'outbox'",
        "DROP TABLE outbox",
        "ALTER TABLE outbox_v4 RENAME TO outbox",
        "CREATE INDEX outbox_item ON outbox (feed_id, item_id)",
        """CREATE INDEX outbox_pending ON outbox (delivery_id)
            WHERE sent_at IS NULL AND failed_at IS NULL""",
        # 0: the chat itself (no topic). One topic per (chat, feed).
        "ALTER TABLE subscriptions ADD COLUMN thread_id INTEGER NOT NULL DEFAULT 0",
    )),
    # Quiet hours, digests, urgent keywords, edit notices; a chat without a row has the defaults.
    Migration(5, "chat_settings", (
        """CREATE TABLE chat_settings (
            chat_id INTEGER PRIMARY KEY REFERENCES chats ON DELETE CASCADE,
            timezone TEXT NOT NULL DEFAULT 'Asia/Ho_Chi_Minh', quiet_start INTEGER,
            quiet_end INTEGER, urgent TEXT NOT NULL DEFAULT '[]',
            digest TEXT NOT NULL DEFAULT 'off', digest_at INTEGER NOT NULL DEFAULT 420,
            edits INTEGER NOT NULL DEFAULT 1)""",
    )),
    # Official documents' files and numbers, and the recipe section an item was listed in.
    Migration(6, "items.attachments_documents_sections", (
        "ALTER TABLE items ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'",  # JSON list
        "ALTER TABLE items ADD COLUMN doc_number TEXT",
        "ALTER TABLE items ADD COLUMN doc_type TEXT",
        "ALTER TABLE items ADD COLUMN section TEXT",
        """CREATE INDEX items_section ON items
            (feed_id, section, coalesce(published_at, first_seen_at), first_seen_at)""",
    )),
    # An undated item that left the page was pruned; if it came back it looked new and was
    # announced again. Pruned ids are remembered (with the item's first sighting, so a returning
    # item keeps its place in the feed) and forgotten only after a long horizon.
    Migration(7, "pruned_items", (
        """CREATE TABLE pruned_items (
            feed_id TEXT NOT NULL, item_id TEXT NOT NULL, first_seen_at TEXT NOT NULL,
            pruned_at TEXT NOT NULL, PRIMARY KEY (feed_id, item_id)) WITHOUT ROWID""",
        "CREATE INDEX pruned_items_age ON pruned_items (feed_id, pruned_at)",
    )),
    # The index page and /healthz say when the flood guard last held back a batch of new items.
    Migration(8, "feed_health.held_back_at/held_back_items", (
        "ALTER TABLE feed_health ADD COLUMN held_back_at TEXT",
        "ALTER TABLE feed_health ADD COLUMN held_back_items INTEGER NOT NULL DEFAULT 0",
    )),
    # Each chat shapes its messages (/format: full, compact, title; link previews on or off),
    # and /resume sends what came during a pause as one digest: the moment it resumed.
    Migration(9, "chat_settings.format/preview/missed_before", (
        "ALTER TABLE chat_settings ADD COLUMN format TEXT NOT NULL DEFAULT 'full'",
        "ALTER TABLE chat_settings ADD COLUMN preview INTEGER",  # NULL: the configured default
        "ALTER TABLE chat_settings ADD COLUMN missed_before TEXT",
    )),
)
