"""Adapter to the change feed (`app.relay.changes.record_change`).

Every lead, conversation or message the relay changes is announced here so the
desktop sees it. A failure to record is logged, never raised: the entity itself
is already stored, and the next change of it carries its full state again.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("app.relay.feed")


def make_change_log(tables: Any) -> Any:
    try:
        from app.relay.changes import ChangeLog
    except ImportError:  # pragma: no cover
        return None
    from app.relay.tables import CHANGE_LOG

    return ChangeLog(tables.client, tables.name(CHANGE_LOG))


def publish(
    change_log: Any,
    location_ids: list[str] | tuple[str, ...] | str,
    entity: str,
    entity_id: str,
    version: int,
    data: dict[str, Any],
) -> None:
    if change_log is None:
        return
    try:
        from app.relay.changes import record_change
    except ImportError:  # pragma: no cover
        return
    locs = [location_ids] if isinstance(location_ids, str) else list(dict.fromkeys(location_ids))
    for loc in locs:
        try:
            record_change(change_log, loc, entity, entity_id, int(version), data)
        except Exception:
            log.exception("change feed write failed", extra={"entity": entity, "id": entity_id})
