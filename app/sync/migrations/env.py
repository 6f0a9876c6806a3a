"""Alembic environment: always runs on the connection the store hands over.

The store opens the SQLite file itself (pragmas, file mode) and passes its
connection in `config.attributes["connection"]`; there is no URL-based mode.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable by running `alembic` by hand
    raise RuntimeError("run migrations through app.sync.store.migrate(connection)")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
