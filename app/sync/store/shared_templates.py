"""The location's shared templates as the feed last brought them (kept for offline use).

One `meta` entry per location (`templates:<LocationId>`), the relay's
`TemplatesView` JSON; a version not newer than the stored one is ignored, as for
every mirrored entity.
"""

from __future__ import annotations

import sqlite3

from pydantic import ValidationError

from app.core.wire_team import TemplatesView
from app.sync.store.access import write_tx
from app.sync.store.meta import get_meta, put_meta

_PREFIX = "templates:"


def _stored(cur: sqlite3.Cursor, location_id: str) -> TemplatesView | None:
    row = cur.execute("SELECT value FROM meta WHERE key = ?", (_PREFIX + location_id,)).fetchone()
    return _parse(row[0]) if row else None


def _parse(raw: str | None) -> TemplatesView | None:
    if not raw:
        return None
    try:
        return TemplatesView.model_validate_json(raw)
    except ValidationError:
        return None


def put_shared_templates(cur: sqlite3.Cursor, view: TemplatesView) -> bool:
    """Store `view` unless an equal or newer version is stored; True when written."""
    known = _stored(cur, view.location_id)
    if known is not None and known.version >= view.version:
        return False
    put_meta(cur, _PREFIX + view.location_id, view.model_dump_json(by_alias=True))
    return True


def get_shared_templates(conn: sqlite3.Connection, location_id: str) -> TemplatesView | None:
    return _parse(get_meta(conn, _PREFIX + location_id))


def save_shared_templates(conn: sqlite3.Connection, view: TemplatesView) -> bool:
    """`put_shared_templates` in a transaction of its own (a relay's answer)."""
    with write_tx(conn) as cur:
        return put_shared_templates(cur, view)
