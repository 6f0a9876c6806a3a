"""Adapter to the change feed (`app.relay.changes.ChangeLog.append`).

Every lead, conversation or message the relay changes is announced here so the
desktop sees it. A failure of a single `publish` is logged, not raised: the entity
itself is already stored, and the next change of it carries its full state again.
A `batched` block (a new message and its effects) raises it instead: a customer's
text may never change again, so its webhook is answered with an error and Twilio's
redelivery, which finds the message's effects still owed, publishes them again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.relay.changes import ChangeLog

from app.core.errors import ErrorReason
from app.relay.bounds import feed_sized
from app.relay.errors import ApiError

log = logging.getLogger("app.relay.feed")


_batch = threading.local()


@contextmanager
def batched(change_log: ChangeLog) -> Iterator[None]:
    """Collect this thread's `publish` calls to `change_log` and record them on exit,
    per location as one `ChangeLog.append` (one group item: seen together). Order
    is kept; the batch is recorded even if the block raises (what was published
    before the failure is announced, as it would have been without batching).
    Nested blocks join the outer one. A location whose group could not be written
    raises `FeedWriteFailed` once every location was tried.
    """
    if getattr(_batch, "log", None) is not None:
        yield
        return
    _batch.log, _batch.changes = change_log, []
    try:
        yield
    finally:
        changes: list[tuple[str, str, str, int, dict[str, Any]]] = _batch.changes
        _batch.log, _batch.changes = None, []
        _record_batch(change_log, changes)


class FeedWriteFailed(ApiError):
    """A batch's changes could not all be written to the change log: 503, so the
    sender (Twilio) tries again."""

    def __init__(self, locations: int) -> None:
        super().__init__(503, ErrorReason.UPSTREAM_UNAVAILABLE,
                         f"the change log did not take the changes of {locations} location(s)")


def _record_batch(
    change_log: ChangeLog, changes: list[tuple[str, str, str, int, dict[str, Any]]]
) -> None:
    by_location: dict[str, list[tuple[str, str, int, dict[str, Any]]]] = {}
    for loc, entity, entity_id, version, data in changes:
        by_location.setdefault(loc, []).append((entity, entity_id, version, data))
    failed: list[str] = []
    for loc, items in by_location.items():
        try:
            change_log.append(loc, items)
        except Exception:
            log.exception("change feed write failed", extra={"location": loc, "count": len(items)})
            failed.append(loc)
    if failed:
        raise FeedWriteFailed(len(failed))


def publish(
    change_log: ChangeLog,
    location_ids: list[str] | tuple[str, ...] | str,
    entity: str,
    entity_id: str,
    version: int,
    data: dict[str, Any],
) -> None:
    data = feed_sized(entity, data)  # a huge lead's change is trimmed, never lost
    locs = [location_ids] if isinstance(location_ids, str) else list(dict.fromkeys(location_ids))
    if change_log is getattr(_batch, "log", None):
        _batch.changes.extend((loc, entity, entity_id, int(version), data) for loc in locs)
        return
    for loc in locs:
        try:
            # group commit: written with what other threads append to `loc` right now
            change_log.append(loc, [(entity, entity_id, int(version), data)])
        except Exception:
            log.exception("change feed write failed", extra={"entity": entity, "id": entity_id})
