"""Alembic migrations of the desktop's local store (applied by `app.sync.store.open_store`)."""
