"""A thread's older messages from the relay, when the mirror runs out of them.

A desktop that bootstrapped from the relay's snapshot holds every lead and
conversation but only the newest messages of the threads at the top of the
inbox (the live feed brings every message after). `Engine.thread` reads the
mirror first; when it has fewer messages than asked for, this asks the relay
(`GET /v1/conversations/{sid}/messages?before=`) for the ones before the oldest
it has, stores them like changes of the feed (versions decide), and reads the
mirror again. Opening a thread never waits for the relay (the fetch runs in
the background and the thread model reloads on its `ChangesApplied`);
scrolling up (`before` given) does. A conversation the relay answered short
for is complete: it is not asked again while the engine runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from app.sync import store
from app.sync.api import ThreadMessage
from app.sync.client import RelayClient, RelayError
from app.sync.keeper import StoreKeeper
from app.sync.status import EngineStatus

log = logging.getLogger(__name__)

#: messages asked of the relay per fetch (its page)
FETCH = 50


def relay_time(value: datetime) -> str:
    """A time the way the relay stores `CreatedAt` (ISO, `Z`), for `before=`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class History:
    """Which threads the relay has no more for, and the fetches in flight."""

    def __init__(self, keeper: StoreKeeper, status: EngineStatus) -> None:
        self._keeper = keeper
        self._status = status
        self.complete: set[str] = set()
        self._fetching: dict[str, asyncio.Task[bool]] = {}

    async def thread(
        self,
        client: RelayClient | None,
        read: Callable[[], Awaitable[Sequence[ThreadMessage]]],
        sid: str,
        limit: int,
        before: datetime | None,
    ) -> Sequence[ThreadMessage]:
        rows = await read()
        if len(rows) >= limit or client is None or sid in self.complete:
            return rows
        oldest = rows[0].created_at if rows else before
        task = self._fetching.get(sid)
        if task is None:
            task = asyncio.create_task(self._fetch(client, sid, oldest))
            self._fetching[sid] = task
            task.add_done_callback(lambda _t: self._fetching.pop(sid, None))
        if before is None:
            return rows  # opening: never wait for the relay
        return await read() if await task else rows

    async def close(self) -> None:
        """Cancel the fetches in flight (the engine stops)."""
        tasks = list(self._fetching.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _fetch(self, client: RelayClient, sid: str, oldest: datetime | None) -> bool:
        """Store the relay's messages before `oldest`; whether any arrived."""
        try:
            changes = await client.older_messages(
                sid, relay_time(oldest) if oldest else None, FETCH)
        except RelayError as exc:
            log.info("older messages not fetched: %s", exc)
            return False
        if len(changes) < FETCH:
            self.complete.add(sid)
        if not changes:
            return False
        result = await self._keeper.write(store.apply_changes, changes, None)
        self._status.applied(result, catch_up=True)  # history: no notifications
        return True
