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
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

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
    """Which threads the relay has no more for, and the fetches in flight.

    `thread` may be awaited on another thread's loop (the desktop reads the store from
    the Qt loop: `EngineHost`, `reads_anywhere`); a fetch uses the relay client and
    the store's writer, which belong to the engine's loop, so it always runs there
    (`bind`)."""

    def __init__(self, keeper: StoreKeeper, status: EngineStatus) -> None:
        self._keeper = keeper
        self._status = status
        self.complete: set[str] = set()
        self._fetching: dict[str, asyncio.Task[bool]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The engine's loop, where every fetch runs."""
        self._loop = loop

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
        fetched = self._on_engine_loop(self._fetch_once(client, sid, oldest))
        if before is None:
            return rows  # opening: never wait for the relay
        return await read() if await fetched else rows

    def _on_engine_loop(self, coro: Coroutine[Any, Any, bool]) -> asyncio.Future[bool]:
        here = asyncio.get_running_loop()
        loop = self._loop
        if loop is None or loop is here:
            return asyncio.ensure_future(coro)
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def _fetch_once(
        self, client: RelayClient, sid: str, oldest: datetime | None
    ) -> bool:
        """One fetch per thread at a time (on the engine's loop); whether any arrived."""
        task = self._fetching.get(sid)
        if task is None:
            task = asyncio.create_task(self._fetch(client, sid, oldest))
            self._fetching[sid] = task
            task.add_done_callback(lambda _t: self._fetching.pop(sid, None))
        return await asyncio.shield(task)

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
        try:
            result = await self._keeper.write(store.apply_changes, changes, None)
        except Exception as exc:  # e.g. a full disk: the keeper reports it; the thread
            log.warning("older messages not stored: %s", exc)  # just lacks them
            self.complete.discard(sid)
            return False
        self._status.applied(result, catch_up=True)  # history: no notifications
        return True
