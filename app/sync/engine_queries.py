"""The `SyncEngine`'s reads (a base class of `app.sync.engine.SyncEngine`): the UI's
status, queries of the store, and working together (leads waiting for a reply, colleagues,
shared templates, presence). The engine owns the attributes they use."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.sync import shared_templates, store
from app.sync.api import (
    ChangesApplied,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    SearchHit,
    SharedTemplate,
    SharedTemplates,
    StaffMember,
    SyncState,
    SyncStatus,
    ThreadMessage,
    WaitingLead,
)
from app.sync.client import (
    RelayAuthError,
    RelayClient,
    RelayError,
    RelayFinalError,
    RelayTransientError,
)
from app.sync.history import History
from app.sync.keeper import StoreKeeper
from app.sync.status import EngineStatus

if TYPE_CHECKING:
    from app.sync.db import Database

log = logging.getLogger("app.sync.engine")


class EngineQueries:
    """What `SyncEngine` answers from its store or the relay without an outbox row
    (a shared templates' save is the relay's to decide, so it is here too)."""

    _keeper: StoreKeeper
    _status: EngineStatus
    _client: RelayClient | None
    _me: Me | None
    _history: History

    if TYPE_CHECKING:

        @property
        def db(self) -> Database: ...

    def status(self) -> SyncStatus:
        return self._status.snapshot()

    @property
    def me(self) -> Me | None:
        return self._me

    @property
    def caught_up(self) -> bool:
        return self._status.caught_up.is_set()

    async def waiting_for_reply(
        self, among: ChangesApplied | None = None
    ) -> Sequence[WaitingLead]:
        return await self.db.reader.run(store.waiting_for_reply, self._me, among)

    async def shared_templates(self, location_id: str) -> SharedTemplates:
        return await shared_templates.read(self.db, location_id)

    async def save_shared_templates(
        self, location_id: str, templates: Sequence[SharedTemplate], version: int
    ) -> SharedTemplates:
        online = self._status.state is SyncState.ONLINE
        client = self._client if online else None
        try:
            return await shared_templates.save(self.db, client, location_id, templates, version)
        finally:  # saved, or the current ones a conflict brought back
            self._status.changed_here(location_ids={location_id})

    async def set_presence(self, conversation_sid: str, state: str) -> None:
        client = self._client
        if client is None or self._status.state is not SyncState.ONLINE:
            return
        try:
            await client.post_presence(conversation_sid, state)
        except RelayError as exc:  # best effort: the next renewal tries again
            log.debug("presence not sent: %s", exc)

    async def list_staff(self) -> Sequence[StaffMember]:
        """Asked of the relay each time (colleagues come and go); the last answer is
        kept for when it cannot be reached."""
        client = self._client
        if client is not None:
            try:
                answer = await client.staff()
            except (RelayTransientError, RelayAuthError, RelayFinalError) as exc:
                log.info("staff list not refreshed: %s", exc)
            else:
                await self._keeper.write(store.set_meta, STAFF_META, json.dumps(answer))
        kept = await self._keeper.read(store.get_meta, STAFF_META)
        return staff_members(json.loads(kept) if kept else [])

    async def list_locations(self) -> Sequence[LocationRow]:
        return await self._keeper.read(store.list_locations, self._me)

    async def list_leads(
        self, filter: LeadFilter, offset: int = 0, limit: int = 100
    ) -> Sequence[LeadRow]:
        return await self._keeper.read(store.list_leads, filter, offset, limit, self._me)

    async def count_leads(self, filter: LeadFilter) -> int:
        return await self._keeper.read(store.count_leads, filter, self._me)

    async def get_lead(self, lead_id: str) -> LeadDetail | None:
        return await self._keeper.read(store.get_lead, lead_id)

    async def thread(
        self, conversation_sid: str, limit: int = 200, before: datetime | None = None
    ) -> Sequence[ThreadMessage]:
        """The mirror's messages; older ones the mirror lacks come from the relay
        (`app.sync.history`: in the background when opening, awaited when `before`)."""
        online = self._status.state is SyncState.ONLINE
        return await self._history.thread(
            self._client if online else None,
            lambda: self._keeper.read(store.thread, conversation_sid, limit, before),
            conversation_sid, limit, before)

    async def search(self, query: str, limit: int = 50) -> Sequence[SearchHit]:
        if not query.strip():
            return []
        return await self._keeper.read(store.search, query, limit)


#: meta key of the last `GET /v1/staff` answer
STAFF_META = "staff"


def staff_members(answer: Sequence[Any]) -> list[StaffMember]:
    """`GET /v1/staff` entries as rows (malformed entries are left out)."""
    members: list[StaffMember] = []
    for entry in answer:
        if not isinstance(entry, dict) or not entry.get("staffId"):
            continue
        members.append(StaffMember(
            staff_id=str(entry["staffId"]), name=str(entry.get("name") or entry["staffId"]),
            location_ids=tuple(str(x) for x in entry.get("locationIds") or ())))
    return members
