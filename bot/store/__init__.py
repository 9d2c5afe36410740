"""Persistence: the Store on SQLite (store.sqlite) or PostgreSQL (store.postgres), migrations,
the instance lock, the database guard and backups."""
