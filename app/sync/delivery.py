"""Delivering the outbox: the head row of every idle lane, lanes in parallel, rows in order.

A lane is a conversation (sends, read receipts) or a lead (edits). A row is
marked in flight before its request; transient failures are retried with
backoff, final ones stop the row (`OutboxItemFailed`) until retried or
discarded; a 412 on a lead edit is re-based (`app.sync.conflict`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from app.core.wire import LeadView, MessageView
from app.sync import conflict, store
from app.sync.api import EngineError, OutboxItemDelivered, OutboxItemFailed, SyncState
from app.sync.client import RelayAuthError, RelayClient, RelayFinalError, RelayTransientError
from app.sync.db import Database
from app.sync.feed import (
    LeadChange,
    ReceivedChange,
    accepted_message,
    lead_answer,
    scheduled_answer,
)
from app.sync.follow import AUTH_RETRY_SECONDS
from app.sync.media import MediaCache
from app.sync.retry import Backoff
from app.sync.status import EngineStatus

log = logging.getLogger(__name__)


class OutboxDispatcher:
    def __init__(
        self,
        db: Database,
        status: EngineStatus,
        *,
        backoff: Backoff,
        max_parallel: int,
        apply_lead: Callable[[ReceivedChange], Awaitable[None]],
        refresh_counts: Callable[[], Awaitable[None]],
    ) -> None:
        self._db = db
        self._status = status
        self._backoff = backoff
        self._max_parallel = max_parallel
        self._apply_lead = apply_lead
        self._refresh_counts = refresh_counts
        self._wake = asyncio.Event()
        #: the relay client deliveries use (replaced with a new key)
        self.client: RelayClient | None = None
        #: where a sent photo's copy goes (the engine's media cache)
        self.media: MediaCache | None = None
        #: lane -> its delivery in progress
        self.deliveries: dict[str, asyncio.Task[None]] = {}
        self.stopped = False

    def wake(self) -> None:
        """Look at the outbox again now (a row was queued, the relay came back)."""
        self._wake.set()

    async def run(self) -> None:
        """Start a delivery for every due lane head, until cancelled."""
        while not self.stopped:
            self._wake.clear()
            try:
                next_at = await self._start_due()
                timeout = None if next_at is None else max(0.0, next_at - time.time())
                if timeout is None or timeout > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
            except asyncio.CancelledError:
                raise
            except EngineError as exc:  # (the store's: the keeper pauses this worker)
                log.warning("outbox dispatcher: %s", exc.reason)
                await asyncio.sleep(1.0)
            except Exception:
                log.exception("outbox dispatcher error")
                await asyncio.sleep(1.0)

    async def _start_due(self) -> float | None:
        """Deliveries for the due heads of idle lanes; when the next row falls due."""
        room = self._max_parallel - len(self.deliveries)
        if room <= 0:
            return None
        heads, next_at = await self._db.reader.run(store.due_heads, list(self.deliveries), room)
        for row in heads:
            self.deliveries[row.lane] = asyncio.create_task(
                self._deliver(row), name=f"w2t-deliver:{row.lane}")
        return next_at

    def cancel(self) -> list[asyncio.Task[None]]:
        """Cancel the deliveries in progress; returns them to be awaited."""
        tasks = list(self.deliveries.values())
        for task in tasks:
            task.cancel()
        self.deliveries.clear()
        return tasks

    async def _deliver(self, row: store.OutboxRow) -> None:
        try:
            if not await self._db.writer.run(store.mark_inflight, row.outbox_id):
                return  # discarded or taken meanwhile
            await self._deliver_once(row, row.attempts + 1)
        except asyncio.CancelledError:
            raise
        except EngineError as exc:  # the store's damage or storage problem: the keeper
            # pauses the workers; the row is queued again when the engine carries on
            log.warning("delivery of outbox row %s stopped: %s", row.outbox_id, exc.reason)
        except Exception:
            log.exception("delivery of outbox row %s failed unexpectedly", row.outbox_id)
            with contextlib.suppress(Exception):
                await self._db.writer.run(store.mark_retry, row.outbox_id,
                                          self._backoff.delay(row.attempts + 1), "internal error")
        finally:
            self.deliveries.pop(row.lane, None)
            self._wake.set()
            if not self.stopped:
                with contextlib.suppress(Exception):
                    await self._refresh_counts()

    async def _deliver_once(self, row: store.OutboxRow, attempt: int) -> None:
        """One attempt: the request, then what its answer means for the row."""
        try:
            answer = await self._request(row)
        except RelayTransientError as exc:
            delay = self._backoff.delay(attempt, exc.retry_after)
            await self._db.writer.run(store.mark_retry, row.outbox_id, delay, str(exc))
        except RelayAuthError as exc:
            self._status.set_state(SyncState.AUTH_REQUIRED, str(exc))
            await self._db.writer.run(store.mark_retry, row.outbox_id, AUTH_RETRY_SECONDS,
                                      str(exc))
        except RelayFinalError as exc:
            if exc.status == 412 and row.kind == store.UPDATE_LEAD:
                await self._on_conflict(row, exc, attempt)
            elif exc.status == 412 and row.kind == store.CLOSE_LEAD:
                await self._on_close_conflict(row, exc)
            else:
                await self._fail(row, exc.reason, exc.message)
        except _UnknownKind:
            await self._fail(row, "unknown_operation", f"unknown outbox kind {row.kind}")
        else:
            await self._on_answer(row, answer)

    async def _request(self, row: store.OutboxRow) -> dict[str, Any] | None:
        client = self.client
        assert client is not None
        if row.kind == store.SEND_MESSAGE:
            media_sid = await self._uploaded(client, row)
            send_at = row.payload.get("sendAt")
            return await client.send_message(
                str(row.conversation_sid), str(row.payload["body"]), row.idempotency_key,
                [media_sid] if media_sid else None, str(send_at) if send_at else None)
        if row.kind == store.CANCEL_SCHEDULED:
            await client.cancel_scheduled(str(row.payload["messageSid"]))
            return None  # the feed brings the cancelled text's state
        if row.kind == store.UPDATE_LEAD:
            return await client.patch_lead(
                str(row.lead_id), row.payload["patch"], int(row.payload["baseVersion"]),
                row.idempotency_key)
        if row.kind == store.MARK_READ:
            await client.mark_read(str(row.conversation_sid), row.idempotency_key)
            return None
        if row.kind == store.OPT_OUT:
            await client.opt_out(str(row.conversation_sid), str(row.payload["reason"]),
                                 row.idempotency_key)
            return None  # the feed brings the conversation and its leads
        if row.kind == store.CLOSE_LEAD:
            return await client.close_lead(
                str(row.lead_id), str(row.payload["reason"]), int(row.payload["baseVersion"]),
                row.idempotency_key)
        if row.kind == store.CREATE_LEAD:
            return await client.create_lead(dict(row.payload["body"]), row.idempotency_key)
        raise _UnknownKind(row.kind)

    async def _uploaded(self, client: RelayClient, row: store.OutboxRow) -> str | None:
        """A send's photo at the relay: uploaded once, its sid kept in the row before
        the send, so a retry or a restart sends the same photo with the same key (a
        crash between the upload and keeping its sid leaves an unsent upload, never
        a second message)."""
        attachment = row.payload.get("attachment")
        if not isinstance(attachment, dict):
            return None
        if row.payload.get("mediaSid"):
            return str(row.payload["mediaSid"])
        try:
            data = await asyncio.to_thread(Path(str(attachment["path"])).read_bytes)
        except OSError as exc:
            raise RelayFinalError(0, "attachment_missing", f"the photo is gone: {exc}", {}) from exc
        sid = await client.upload_media(
            data, str(attachment["contentType"]), str(attachment.get("filename") or "photo"))
        await self._db.writer.run(store.keep_media_sid, row.outbox_id, sid)
        row.payload["mediaSid"] = sid
        return sid

    async def _on_answer(self, row: store.OutboxRow, answer: dict[str, Any] | None) -> None:
        """A 2xx: the lead an edit answered with is mirrored, a send takes its message."""
        if row.kind in (store.UPDATE_LEAD, store.CLOSE_LEAD, store.CREATE_LEAD):
            lead = lead_answer(answer)
            if lead is not None:
                await self._apply_lead(lead)
        if row.kind == store.SEND_MESSAGE and row.payload.get("sendAt"):
            later = scheduled_answer(answer)
            if later is not None:
                await self._db.writer.run(store.confirm_scheduled, row, later)
            await self._delivered(row, None)
            return
        accepted = accepted_message(answer) if row.kind == store.SEND_MESSAGE else None
        attachment = row.payload.get("attachment")
        if isinstance(attachment, dict) and row.payload.get("mediaSid") and self.media:
            # our own photo: its copy here becomes the cached file of its sid
            await asyncio.to_thread(
                self.media.adopt, str(attachment["path"]), str(row.payload["mediaSid"]))
        await self._delivered(row, accepted)

    async def _delivered(self, row: store.OutboxRow, accepted: MessageView | None) -> None:
        result = await self._db.writer.run(store.mark_delivered, row, accepted)
        sid = next(iter(result.message_sids), None)
        self._status.emit(OutboxItemDelivered(
            outbox_id=row.outbox_id, kind=row.kind, conversation_sid=row.conversation_sid,
            lead_id=row.lead_id, local_message_id=row.local_message_id, message_sid=sid))
        self._status.changed_here(conversation_sids=(row.conversation_sid,),
                                  lead_ids=(row.lead_id,), message_sids=result.message_sids)

    async def _fail(self, row: store.OutboxRow, reason: str, message: str) -> None:
        await self._db.writer.run(store.mark_failed, row.outbox_id, reason, message)
        self._status.emit(OutboxItemFailed(
            outbox_id=row.outbox_id, kind=row.kind, conversation_sid=row.conversation_sid,
            lead_id=row.lead_id, reason=reason, message=message,
            local_message_id=row.local_message_id))
        self._status.changed_here(conversation_sids=(row.conversation_sid,),
                                  lead_ids=(row.lead_id,))

    async def _on_conflict(self, row: store.OutboxRow, exc: RelayFinalError,
                           attempt: int) -> None:
        """412: someone else changed the lead since our edit was based on it.

        The relay's current lead is mirrored first, then the edit is re-based on
        it or reported as a conflict (`app.sync.conflict`).
        """
        current = await self._current_lead(row, exc.body.get("current"))
        if current is None:
            await self._fail(row, "version_conflict", exc.message)
            return
        outcome = conflict.resolve(row.payload, current, attempt)
        if isinstance(outcome, conflict.Rebased):
            await self._db.writer.run(store.rebase_row, row.outbox_id, outcome.payload)
        elif isinstance(outcome, conflict.AlreadyThere):
            await self._delivered(row, None)
        else:
            await self._fail(row, "version_conflict", outcome.message or exc.message)

    async def _on_close_conflict(self, row: store.OutboxRow, exc: RelayFinalError) -> None:
        """412 on a close: the lead changed meanwhile (the relay's processing, a
        colleague's edit). Closing still stands: closed already, it is done; else
        it goes again against the current version."""
        current = await self._current_lead(row, exc.body.get("current"))
        if current is None:
            await self._fail(row, "version_conflict", exc.message)
        elif current.status.value == "CLOSED":
            await self._delivered(row, None)
        else:
            payload = {**row.payload, "baseVersion": current.version}
            await self._db.writer.run(store.rebase_row, row.outbox_id, payload)

    async def _current_lead(self, row: store.OutboxRow, answered: object) -> LeadView | None:
        """The relay's current lead: from the 412 (mirrored), else the last one mirrored."""
        lead = lead_answer(answered)
        if lead is None:
            return await self._db.reader.run(store.relay_lead, str(row.lead_id))
        await self._apply_lead(lead)
        assert isinstance(lead.change, LeadChange)
        return lead.change.data


class _UnknownKind(Exception):
    """An outbox row of a kind this build does not deliver."""
