"""Persistence: SQLite (the only sqlite3 importer is store.db), migrations, the lock."""
