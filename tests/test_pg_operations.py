"""Operating newsbot on PostgreSQL: [store] url and its password, `newsbot migrate`,
`newsbot export --to URL` (SQLite -> PostgreSQL -> SQLite loses nothing), and the commands that
refuse what would be wrong on a shared database."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fakes.postgres import PASSWORD

from bot.cli import main
from bot.config import load_config
from bot.errors import ConfigError
from bot.model import Attachment, Chat, ChatSettings, FeedHealth, Item, KeywordFilter
from bot.store.db import MIGRATIONS, Store

T0 = datetime(2024, 11, 28, 5, 0, tzinfo=UTC)


def write_config(folder: Path, url: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "feeds").mkdir(exist_ok=True)
    config = folder / "config.toml"
    config.write_text('data_dir = "data"\nfeeds_dir = "feeds"\n'
                      + (f'[store]\nurl = "{url}"\n' if url else ""), encoding="utf-8")
    return config


def bare(url: str) -> str:
    return url.replace(f":{PASSWORD}@", "@")


# -- [store] url --------------------------------------------------------------------------------


def test_the_url_loses_its_password_on_loading_and_the_environment_wins(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, "postgresql://nb:s3cr%40t@db:5432/newsbot"), {})
    assert config.on_postgres and config.store_url == "postgresql://nb@db:5432/newsbot"
    assert config.store_password == "s3cr@t" and "s3cr" not in repr(config)
    from_env = load_config(tmp_path / "config.toml", {"NEWSBOT_STORE_PASSWORD": "other"})
    assert from_env.store_password == "other"


def test_sqlite_urls_are_files_relative_to_the_config_and_the_default_is_the_data_dir(
    tmp_path: Path,
) -> None:
    default = load_config(write_config(tmp_path / "one"), {})
    assert not default.on_postgres and default.db_path == tmp_path / "one" / "data" / "newsbot.db"
    named = load_config(write_config(tmp_path / "two", "sqlite:///db/news.db"), {})
    assert named.db_path == tmp_path / "two" / "db" / "news.db"
    assert named.store_url == f"sqlite:///{tmp_path / 'two' / 'db' / 'news.db'}"


def test_a_url_of_another_kind_is_one_line_without_its_password(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as bad:
        load_config(write_config(tmp_path, "mysql://nb:hunter2@db/newsbot"), {})
    message = str(bad.value)
    assert "store.url" in message and "postgresql://" in message and "\n" not in message
    assert "hunter2" not in message


# -- newsbot migrate ------------------------------------------------------------------------------


def test_migrate_brings_an_older_postgresql_schema_up_and_run_would_not(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NEWSBOT_STORE_PASSWORD", PASSWORD)
    with Store.connect(pg_url) as store:  # as an older newsbot left it
        store._write("DELETE FROM schema_migrations WHERE version = ?", (MIGRATIONS[-1].version,))
        store._write("ALTER TABLE outbox DROP COLUMN claimed_by, DROP COLUMN claimed_until")
    config = write_config(tmp_path, bare(pg_url))
    assert main(["--config", str(config), "feeds"]) == 1
    refused = capsys.readouterr().err
    assert "older than this newsbot's" in refused and "newsbot migrate" in refused
    assert PASSWORD not in refused
    assert main(["--config", str(config), "migrate"]) == 0
    assert f"schema version {MIGRATIONS[-1].version}" in capsys.readouterr().out
    with Store.connect(pg_url, upgrade=False) as store:
        assert "claimed_by" in store.tables()["outbox"]


# -- newsbot export ------------------------------------------------------------------------------


def fill(store: Store) -> None:
    """A bit of everything a store holds."""
    for chat_id in (1, -1001234567890):
        store.upsert_chat(Chat(chat_id, "private" if chat_id > 0 else "supergroup", title="C"))
        store.subscribe(chat_id, "hp", thread_id=0 if chat_id > 0 else 42)
    store.set_keyword_filter(1, KeywordFilter(("bão",), ("quảng cáo",)))
    store.set_keyword_filter(1, KeywordFilter(("cảng",)), "hp")
    store.set_chat_settings(ChatSettings(1, quiet_start=22 * 60, quiet_end=6 * 60,
                                         urgent=("khẩn",), digest="daily"))
    store.save_health(FeedHealth("hp", last_poll_at=T0, consecutive_failures=1, seeded=True))
    items = [Item("hp", f"id-{n}", f"https://hp.gov.vn/{n}", f"Tin số {n}", "Tóm tắt",
                  published_at=T0 - timedelta(hours=n) if n % 2 else None,
                  attachments=(Attachment(f"https://hp.gov.vn/{n}.pdf", "QĐ", "pdf"),))
             for n in range(12)]
    store.add_items("hp", items[:6], T0)
    store.add_items("hp", items[6:], T0 + timedelta(minutes=1),
                    route=lambda i: [(1, None), (-1001234567890, "bão")])
    store.add_items("hp", [dataclasses.replace(items[7], title="Tin số 7 (sửa)")],
                    T0 + timedelta(minutes=2), route=lambda i: [])
    due = store.pending(T0 + timedelta(hours=1))
    store.mark_sent(due[0].delivery_id, T0)
    store.mark_failed(due[1].delivery_id, "chat not found", now=T0)
    store.prune_items("hp", unseen_since=T0 + timedelta(minutes=5), keep=8,
                      now=T0 + timedelta(minutes=6))


def snapshot(store: Store) -> dict[str, object]:
    later = T0 + timedelta(days=1)
    pending = [(d.chat_id, d.item, d.matched, d.thread_id, d.kind) for d in store.pending(later)]
    return {
        "items": store.items("hp", limit=100),
        "chats": store.chats(active_only=False),
        "subscriptions": [store.subscription_threads(c.chat_id) for c in store.chats()],
        "filters": [store.keyword_filter(1), store.keyword_filter(1, "hp")],
        "settings": store.chat_settings(1),
        "health": store.all_health(),
        "outbox": store.outbox_counts(),
        "pending": pending,
        "pruned": store.known_ids("hp", [f"id-{n}" for n in range(12)]),
    }


def test_export_sqlite_to_postgresql_and_back_loses_nothing(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NEWSBOT_STORE_PASSWORD", PASSWORD)
    lite = write_config(tmp_path / "lite")
    (tmp_path / "lite" / "data").mkdir()
    with Store.open(tmp_path / "lite" / "data" / "newsbot.db") as store:
        fill(store)
        before = snapshot(store)
        assert before["outbox"] == {"pending": 10, "sent": 1, "failed": 1}
        assert len(before["items"]) < 12 and before["pruned"] == {f"id-{n}" for n in range(12)}
    assert main(["--config", str(lite), "export", "--to", bare(pg_url)]) == 0
    said = capsys.readouterr().out
    assert "12 items" not in said and "12 outbox" in said and PASSWORD not in said
    with Store.connect(pg_url) as pg:
        assert snapshot(pg) == before
    # A second export into the same database is refused: newsbot never merges two stores.
    assert main(["--config", str(lite), "export", "--to", bare(pg_url)]) == 1
    assert "is not empty" in capsys.readouterr().err
    # And back: the PostgreSQL store exported into a new SQLite file.
    on_pg = write_config(tmp_path / "on-pg", bare(pg_url))
    back = tmp_path / "back.db"
    assert main(["--config", str(on_pg), "export", "--to", f"sqlite:///{back}"]) == 0
    with Store.open(back, must_exist=True) as again:
        assert snapshot(again) == before
        again.upsert_chat(Chat(5))
        again.add_items("hp", [Item("hp", "new", "https://hp.gov.vn/new", "Mới")], later := T0
                        + timedelta(days=2), route=lambda i: [(5, None)])
        newest = max(d.delivery_id for d in again.pending(later))
        assert newest > max(d.delivery_id for d in again.pending(later) if d.chat_id != 5)
    with Store.connect(pg_url) as pg:  # PostgreSQL's id counter went past the copied ids
        pg.upsert_chat(Chat(5))
        pg.add_items("hp", [Item("hp", "new", "https://hp.gov.vn/new", "Mới")], T0,
                     route=lambda i: [(5, None)])
        ids = [d.delivery_id for d in pg.pending(T0 + timedelta(days=2))]
        assert len(ids) == len(set(ids)) == 11


# -- commands that refuse -------------------------------------------------------------------------


def test_backup_poll_and_a_second_poller_on_a_shared_database_are_refused(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("NEWSBOT_STORE_PASSWORD", PASSWORD)
    config = write_config(tmp_path, bare(pg_url))
    assert main(["--config", str(config), "backup", str(tmp_path / "copy.db")]) == 1
    assert "pg_dump" in capsys.readouterr().err
    with Store.connect(pg_url) as leader:
        lock = leader.leadership()
        assert lock.try_acquire()
        assert main(["--config", str(config), "poll"]) == 1
        assert "another newsbot leads" in capsys.readouterr().err
        lock.release()
    assert main(["--config", str(config), "poll"]) == 0  # no feeds, but allowed now
