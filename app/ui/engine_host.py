"""The sync engine on its own thread and asyncio loop, behind the same `Engine` interface.

The engine's network side runs Python for every byte the relay sends: httpx and h11
parse the stream, httpx-sse splits it into events, the outbox builds requests. On the
Qt thread (the qasync loop) a burst of stream events meant tens of milliseconds at a
time without a repaint: an async generator parsing a buffered chunk never yields. So
the desktop runs the engine on a loop of its own in a worker thread (point 9 of the
desktop issue: store *and network* work stay off the UI thread):

- every command and query is a coroutine submitted to the engine's loop
  (`run_coroutine_threadsafe`) and awaited on the Qt loop (`wrap_future`); cancelling
  the awaiting task cancels the engine-side one;
- engine events are handed to the Qt loop (`call_soon_threadsafe`) in order, and the
  listeners (the EngineBridge) see them there, as before;
- `status()` and `me` read the engine's current values (plain attribute reads);
- queries of an engine whose queries only read its store on the store's own reader
  thread (`SyncEngine`: `reads_anywhere=True`) are awaited right here, on the Qt loop:
  the read goes to the reader thread and its answer comes back, without two trips
  through the engine's loop, which may be busy with the stream meanwhile.

What is left on the Qt thread is the UI's own work; the engine thread competes only for
the interpreter lock, which the Qt thread gets back within the switch interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Coroutine, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from app.sync.api import (
    UNSET,
    ChangesApplied,
    Engine,
    EngineEvent,
    EngineListener,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    NewConversation,
    SearchHit,
    SharedTemplate,
    SharedTemplates,
    StaffMember,
    SyncStatus,
    ThreadMessage,
    WaitingLead,
    _Unset,
)

log = logging.getLogger(__name__)

T = TypeVar("T")


class ThreadedEngine:
    """Runs `inner` on a dedicated thread's asyncio loop; implements `Engine`."""

    def __init__(
        self, inner: Engine, name: str = "w2t-engine", *, reads_anywhere: bool = False
    ) -> None:
        """`reads_anywhere`: `inner`'s queries may be awaited from any thread's loop (they
        read its store on a thread of its own and touch nothing bound to its loop)."""
        self.inner = inner
        self._name = name
        self._reads_anywhere = reads_anywhere
        self._listeners: list[EngineListener] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ui_loop: asyncio.AbstractEventLoop | None = None
        inner.add_listener(self)  # events arrive on the engine's loop: see on_event

    # ---- the engine's thread

    def _ensure_thread(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                try:
                    loop.run_forever()
                finally:
                    with contextlib.suppress(Exception):
                        loop.run_until_complete(loop.shutdown_asyncgens())
                        loop.run_until_complete(loop.shutdown_default_executor())
                    loop.close()

            self._thread = threading.Thread(target=run, name=self._name, daemon=True)
            self._thread.start()
            ready.wait(10)
            self._loop = loop
        return self._loop

    async def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._ensure_thread()
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))

    async def _read(self, coro: Coroutine[Any, Any, T]) -> T:
        """A query: here when the engine's reads may run on any loop, else on its own."""
        return await (coro if self._reads_anywhere else self._call(coro))

    # ---- events: engine loop → Qt loop

    def on_event(self, event: EngineEvent) -> None:
        ui = self._ui_loop
        if ui is None or ui.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the UI loop closed meanwhile (quitting)
            ui.call_soon_threadsafe(self._dispatch, event)

    def _dispatch(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener.on_event(event)
            except Exception:  # like the engine: a faulty listener must not stop the rest
                log.exception("engine listener failed on %s", type(event).__name__)

    def add_listener(self, listener: EngineListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: EngineListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    # ---- lifecycle

    async def start(self) -> None:
        self._ui_loop = asyncio.get_running_loop()
        await self._call(self.inner.start())

    async def stop(self) -> None:
        try:
            if self._loop is not None:
                await self._call(self.inner.stop())
        finally:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            if loop is not None and thread is not None:
                loop.call_soon_threadsafe(loop.stop)
                await asyncio.to_thread(thread.join, 10)

    def status(self) -> SyncStatus:
        return self.inner.status()

    @property
    def me(self) -> Me | None:
        return self.inner.me

    # ---- commands

    async def send_message(
        self, conversation_sid: str, body: str, attachment: Path | None = None,
        send_at: datetime | None = None,
    ) -> ThreadMessage:
        return await self._call(
            self.inner.send_message(conversation_sid, body, attachment, send_at=send_at))

    async def media_file(self, sid: str) -> Path:
        return await self._call(self.inner.media_file(sid))

    async def cancel_scheduled(self, message_sid: str) -> None:
        await self._call(self.inner.cancel_scheduled(message_sid))

    async def update_lead(
        self,
        lead_id: str,
        *,
        status: str | _Unset = UNSET,
        assignee_id: str | _Unset | None = UNSET,
        note: str | None = None,
    ) -> LeadDetail:
        return await self._call(
            self.inner.update_lead(lead_id, status=status, assignee_id=assignee_id, note=note)
        )

    async def mark_read(self, conversation_sid: str) -> None:
        await self._call(self.inner.mark_read(conversation_sid))

    async def sync_lead(self, lead_id: str) -> None:
        await self._call(self.inner.sync_lead(lead_id))

    async def waiting_for_reply(
        self, among: ChangesApplied | None = None
    ) -> Sequence[WaitingLead]:
        return await self._call(self.inner.waiting_for_reply(among))

    async def shared_templates(self, location_id: str) -> SharedTemplates:
        return await self._call(self.inner.shared_templates(location_id))

    async def save_shared_templates(
        self, location_id: str, templates: Sequence[SharedTemplate], version: int
    ) -> SharedTemplates:
        return await self._call(self.inner.save_shared_templates(location_id, templates, version))

    async def set_presence(self, conversation_sid: str, state: str) -> None:
        await self._call(self.inner.set_presence(conversation_sid, state))

    async def dismiss_possible_opt_out(self, lead_id: str) -> None:
        await self._call(self.inner.dismiss_possible_opt_out(lead_id))

    async def opt_out(self, conversation_sid: str, reason: str) -> None:
        await self._call(self.inner.opt_out(conversation_sid, reason))

    async def close_lead(self, lead_id: str, reason: str) -> None:
        await self._call(self.inner.close_lead(lead_id, reason))

    async def create_lead(self, new: NewConversation) -> str:
        return await self._call(self.inner.create_lead(new))

    async def list_staff(self) -> Sequence[StaffMember]:
        return await self._call(self.inner.list_staff())

    async def retry(self, outbox_id: str) -> None:
        await self._call(self.inner.retry(outbox_id))

    async def discard(self, outbox_id: str) -> None:
        await self._call(self.inner.discard(outbox_id))

    async def acknowledge_repair(self) -> None:
        await self._call(self.inner.acknowledge_repair())

    # ---- queries

    async def list_locations(self) -> Sequence[LocationRow]:
        return await self._read(self.inner.list_locations())

    async def list_leads(
        self, filter: LeadFilter, offset: int = 0, limit: int = 100
    ) -> Sequence[LeadRow]:
        return await self._read(self.inner.list_leads(filter, offset, limit))

    async def count_leads(self, filter: LeadFilter) -> int:
        return await self._read(self.inner.count_leads(filter))

    async def get_lead(self, lead_id: str) -> LeadDetail | None:
        return await self._read(self.inner.get_lead(lead_id))

    async def thread(
        self, conversation_sid: str, limit: int = 200, before: datetime | None = None
    ) -> Sequence[ThreadMessage]:
        return await self._read(self.inner.thread(conversation_sid, limit, before))

    async def search(self, query: str, limit: int = 50) -> Sequence[SearchHit]:
        return await self._read(self.inner.search(query, limit))


if __debug__:

    def _implements_engine(engine: ThreadedEngine) -> Engine:
        return engine  # mypy checks ThreadedEngine against the Engine protocol
