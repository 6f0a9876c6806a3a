"""An in-memory `Engine` for UI unit tests, screenshots and UI-only benchmarks.

It implements the Protocol of `app.sync.api` faithfully (async queries, listener
events, outbox semantics for sends) so the widgets cannot tell it apart from the
real engine; end-to-end tests use `app.sync.engine.SyncEngine` instead.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import sys
import types
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from app.sync.api import (
    MATCH_END,
    MATCH_START,
    UNSET,
    ActivityItem,
    ChangesApplied,
    EngineError,
    EngineEvent,
    EngineListener,
    InboundMessage,
    InboundMessages,
    LeadDetail,
    LeadFilter,
    LeadRow,
    LocationRow,
    Me,
    NewConversation,
    NoteItem,
    OutboxItemDelivered,
    OutboxItemFailed,
    SearchHit,
    SharedTemplate,
    SharedTemplates,
    StaffMember,
    StatusChanged,
    SyncState,
    SyncStatus,
    ThreadMessage,
    WaitingLead,
    _Unset,
)

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}{next(_ids):06d}"


class FakeEngine:
    def __init__(self, me: Me | None = None, delay: float = 0.0) -> None:
        self._me = me or Me("staff-1", "Dana Whitfield", "ret-1", ("loc-1", "loc-2"))
        self.delay = delay
        self.listeners: list[EngineListener] = []
        self._status = SyncStatus(SyncState.STOPPED)
        self.locations: dict[str, LocationRow] = {}
        self.leads: dict[str, LeadDetail] = {}
        self.messages: dict[str, list[ThreadMessage]] = {}
        self.unread: dict[str, int] = {}
        self.sent: list[tuple[str, str]] = []
        self.updates: list[tuple[str, dict[str, object]]] = []
        self.read_marks: list[str] = []
        self.presence_posts: list[tuple[str, str]] = []
        self.shared: dict[str, SharedTemplates] = {}
        self.retried: list[str] = []
        self.discarded: list[str] = []
        self.started = False
        self.stopped = False
        self.fail_next_send: tuple[str, str] | None = None
        self.synced: list[str] = []  # "Sync now" requests
        #: the next "Sync now" refused with this EngineError reason
        self.fail_next_sync: str | None = None
        #: sends stay in the outbox (pending) instead of being delivered at once
        self.hold_sends = False
        self.calls: list[str] = []
        self.dismissed: list[str] = []
        self.scheduled: list[tuple[str, str, datetime]] = []
        self.canceled: list[str] = []
        self.opt_outs: list[tuple[str, str]] = []
        self.closes: list[tuple[str, str]] = []
        self.created: list[NewConversation] = []
        self.staff: list[StaffMember] = []
        #: when set, every engine call waits for it to be set (a store that is slow to
        #: answer, held as long as the test wants)
        self.answers_held: asyncio.Event | None = None

    # ---- seeding helpers (tests)

    def add_location(self, location_id: str, name: str, tz: str = "America/Chicago") -> None:
        self.locations[location_id] = LocationRow(
            location_id, name, "+13125550100", "+13125550199", tz, 0, 0, 0
        )

    def add_lead(
        self,
        name: str,
        phone: str,
        location_id: str = "loc-1",
        *,
        minutes_ago: float = 5,
        pipeline: str = "new",
        assignee: tuple[str, str] | None = None,
        message: str = "Do you have this in stock?",
        opted_out: bool = False,
        possible_opt_out: bool = False,
        replied: bool = False,
        lead_id: str | None = None,
        source: str = "web",
    ) -> LeadDetail:
        at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
        web = source == "web"  # a texted-in lead has no page, product or traffic
        lead_id = lead_id or _id("lead-")
        sid = "CH" + lead_id.replace("-", "")
        detail = LeadDetail(
            lead_id=lead_id,
            retailer_id="ret-1",
            location_id=location_id,
            location_name=self.locations.get(
                location_id, LocationRow(location_id, location_id, "", None, None, 0, 0, 0)
            ).name,
            conversation_sid=sid,
            status="ACTIVE",
            pipeline_status=pipeline,
            assignee_id=assignee[0] if assignee else None,
            assignee_name=assignee[1] if assignee else None,
            name=name,
            phone=phone,
            preferred_contact="text",
            customer_message=message,
            page_url="https://dealer.example.com/flooring/oak-natural" if web else "",
            ip_address=None,
            product={"Brand": "Shaw", "Product": "Oak Natural", "Variant": "7in plank"}
            if web
            else None,
            traffic={"Source": "google", "Medium": "cpc", "Campaign": "spring"} if web else None,
            date_submitted=at,
            last_activity_at=at,
            first_staff_reply_at=at if replied else None,
            opted_out=opted_out,
            possible_opt_out=possible_opt_out,
            close_reason=None,
            version=1,
            activity=(
                ActivityItem(at, "submitted", "Lead submitted on the website")
                if web
                else ActivityItem(at, "created", "The customer texted in"),
            ),
            source=source,
        )
        self.leads[lead_id] = detail
        self.messages[sid] = [
            ThreadMessage(_id("m"), _id("IM"), sid, "customer", name, message, at, "received")
        ]
        self.unread[sid] = 1
        return detail

    def add_message(
        self,
        lead_id: str,
        kind: str,
        author: str,
        body: str,
        at: datetime,
        status: str = "delivered",
        **extra: object,
    ) -> ThreadMessage:
        lead = self.leads[lead_id]
        sid = lead.conversation_sid or ""
        m = ThreadMessage(_id("m"), _id("IM"), sid, kind, author, body, at, status, **extra)  # type: ignore[arg-type]
        self.messages[sid].append(m)
        self.messages[sid].sort(key=lambda x: x.created_at)
        if at > lead.last_activity_at:
            self.leads[lead_id] = replace(lead, last_activity_at=at)
        if kind in ("staff", "store") and lead.first_staff_reply_at is None:
            self.leads[lead_id] = replace(self.leads[lead_id], first_staff_reply_at=at)
        return m

    def emit(self, event: EngineEvent) -> None:
        for listener in list(self.listeners):
            listener.on_event(event)

    def set_status(self, status: SyncStatus) -> None:
        self._status = status
        self.emit(StatusChanged(status))

    def receive(self, lead_id: str, body: str, during_catch_up: bool = False) -> InboundMessage:
        """A customer texts in: store it and raise the events the real engine raises."""
        lead = self.leads[lead_id]
        sid = lead.conversation_sid or ""
        at = datetime.now(UTC)
        m = self.add_message(lead_id, "customer", lead.name, body, at, "received")
        self.unread[sid] = self.unread.get(sid, 0) + 1
        self.emit(
            ChangesApplied(
                lead_ids=frozenset({lead_id}),
                conversation_sids=frozenset({sid}),
                message_sids=frozenset({m.message_sid or ""}),
                location_ids=frozenset({lead.location_id}),
                thread_sids=frozenset({sid}),
            )
        )
        inbound = InboundMessage(
            m.message_sid or "", sid, lead_id, lead.name, lead.location_id, body, at
        )
        self.emit(InboundMessages((inbound,), during_catch_up=during_catch_up))
        return inbound

    async def _tick(self, name: str) -> None:
        self.calls.append(name)
        await asyncio.sleep(self.delay)
        if self.answers_held is not None:
            await self.answers_held.wait()

    # ---- Engine protocol

    async def start(self) -> None:
        await self._tick("start")
        self.started = True
        self.set_status(SyncStatus(SyncState.ONLINE))

    async def stop(self) -> None:
        await self._tick("stop")
        self.stopped = True
        self._status = SyncStatus(SyncState.STOPPED)

    def add_listener(self, listener: EngineListener) -> None:
        self.listeners.append(listener)

    def remove_listener(self, listener: EngineListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)

    def status(self) -> SyncStatus:
        return self._status

    @property
    def me(self) -> Me | None:
        return self._me

    async def send_message(
        self, conversation_sid: str, body: str, attachment: Path | None = None,
        send_at: datetime | None = None,
    ) -> ThreadMessage:
        await self._tick("send_message")
        if send_at is not None:
            self.scheduled.append((conversation_sid, body, send_at))
        if not body.strip():
            raise EngineError("empty_body", "Type a message first.")
        lead = next(d for d in self.leads.values() if d.conversation_sid == conversation_sid)
        outbox = _id("ob")
        m = ThreadMessage(
            _id("m"),
            None,
            conversation_sid,
            "staff",
            self._me.name,
            body,
            datetime.now(UTC),
            "pending",
            outbox_id=outbox,
        )
        self.messages[conversation_sid].append(m)
        self.sent.append((conversation_sid, body))
        self.leads[lead.lead_id] = replace(
            lead,
            last_activity_at=m.created_at,
            first_staff_reply_at=lead.first_staff_reply_at or m.created_at,
        )
        self._status = replace(self._status, pending=self._status.pending + 1)
        # the local effect is reported before the command returns, as SyncEngine does
        self.emit(ChangesApplied(conversation_sids=frozenset({conversation_sid}), local=True))
        if not self.hold_sends:
            asyncio.get_running_loop().call_soon(self._deliver, m, lead.lead_id)
        return m

    def _deliver(self, m: ThreadMessage, lead_id: str) -> None:
        msgs = self.messages[m.conversation_sid]
        i = msgs.index(m)
        if self.fail_next_send:
            reason, text = self.fail_next_send
            self.fail_next_send = None
            msgs[i] = replace(m, status="failed_local", error_reason=reason, error_message=text)
            self._status = replace(
                self._status,
                pending=self._status.pending - 1,
                failed=self._status.failed + 1,
                last_error=text,
            )
            self.emit(
                OutboxItemFailed(
                    m.outbox_id or "",
                    "send_message",
                    m.conversation_sid,
                    lead_id,
                    reason,
                    text,
                    m.local_id,
                )
            )
        else:
            msgs[i] = replace(m, status="sent", message_sid=_id("IM"), outbox_id=None)
            self._status = replace(self._status, pending=max(0, self._status.pending - 1))
            self.emit(
                OutboxItemDelivered(
                    m.outbox_id or "",
                    "send_message",
                    m.conversation_sid,
                    lead_id,
                    m.local_id,
                    msgs[i].message_sid,
                )
            )
        self.emit(
            ChangesApplied(
                lead_ids=frozenset({lead_id}),
                conversation_sids=frozenset({m.conversation_sid}),
                local=True,
            )
        )
        self.emit(StatusChanged(self._status))

    async def update_lead(
        self,
        lead_id: str,
        *,
        status: str | _Unset = UNSET,
        assignee_id: str | _Unset | None = UNSET,
        note: str | None = None,
    ) -> LeadDetail:
        await self._tick("update_lead")
        if lead_id not in self.leads:
            raise EngineError("lead_not_found", "No such lead.")
        lead = self.leads[lead_id]
        changes: dict[str, object] = {}
        if not isinstance(status, _Unset):
            changes["pipeline_status"] = status
        if not isinstance(assignee_id, _Unset):
            changes["assignee_id"] = assignee_id
            changes["assignee_name"] = (
                self._me.name
                if assignee_id == self._me.staff_id
                else (None if assignee_id is None else assignee_id)
            )
        if note:
            changes["notes"] = (
                *lead.notes,
                NoteItem(
                    _id("n"),
                    self._me.staff_id,
                    self._me.name,
                    note,
                    datetime.now(UTC),
                    pending=True,
                ),
            )
        self.updates.append((lead_id, {**changes, "note": note}))
        lead = replace(lead, version=lead.version + 1, **changes)  # type: ignore[arg-type]
        self.leads[lead_id] = lead
        self.emit(ChangesApplied(lead_ids=frozenset({lead_id}), local=True))
        return lead

    async def sync_lead(self, lead_id: str) -> None:
        await self._tick("sync_lead")
        if self.fail_next_sync:
            reason, self.fail_next_sync = self.fail_next_sync, None
            raise EngineError(reason, "the relay cannot take it now")
        self.synced.append(lead_id)

    def _set_lead(self, lead_id: str, **changes: object) -> None:
        lead = self.leads[lead_id]
        self.leads[lead_id] = replace(lead, version=lead.version + 1, **changes)  # type: ignore[arg-type]
        self.emit(ChangesApplied(lead_ids=frozenset({lead_id}), local=True))

    async def cancel_scheduled(self, message_sid: str) -> None:
        await self._tick("cancel_scheduled")
        self.canceled.append(message_sid)

    async def dismiss_possible_opt_out(self, lead_id: str) -> None:
        await self._tick("dismiss_possible_opt_out")
        self.dismissed.append(lead_id)
        self._set_lead(lead_id, possible_opt_out=False)

    async def opt_out(self, conversation_sid: str, reason: str) -> None:
        await self._tick("opt_out")
        self.opt_outs.append((conversation_sid, reason))
        for lead in list(self.leads.values()):
            if lead.conversation_sid == conversation_sid:
                self._set_lead(lead.lead_id, opted_out=True, possible_opt_out=False)

    async def close_lead(self, lead_id: str, reason: str) -> None:
        await self._tick("close_lead")
        self.closes.append((lead_id, reason))
        self._set_lead(lead_id, status="CLOSED", close_reason=reason)

    async def create_lead(self, new: NewConversation) -> str:
        await self._tick("create_lead")
        self.created.append(new)
        lead = self.add_lead(new.name, new.phone, new.location_id, minutes_ago=0)
        self.emit(ChangesApplied(lead_ids=frozenset({lead.lead_id}), local=True))
        return lead.lead_id

    async def list_staff(self) -> Sequence[StaffMember]:
        await self._tick("list_staff")
        return list(self.staff)

    async def mark_read(self, conversation_sid: str) -> None:
        await self._tick("mark_read")
        self.read_marks.append(conversation_sid)
        if self.unread.get(conversation_sid):
            self.unread[conversation_sid] = 0
            self.emit(ChangesApplied(conversation_sids=frozenset({conversation_sid}), local=True))

    async def shared_templates(self, location_id: str) -> SharedTemplates:
        await self._tick("shared_templates")
        return self.shared.get(location_id, SharedTemplates(location_id))

    async def save_shared_templates(
        self, location_id: str, templates: Sequence[SharedTemplate], version: int
    ) -> SharedTemplates:
        await self._tick("save_shared_templates")
        current = self.shared.get(location_id, SharedTemplates(location_id))
        if version != current.version:
            raise EngineError("version_conflict", "the shared templates changed")
        saved = self.share(location_id, templates, by=self._me.name)
        return saved

    def share(
        self, location_id: str, templates: Sequence[SharedTemplate], *, by: str = "Bo Diaz"
    ) -> SharedTemplates:
        """A save of the location's shared templates (here, or by a colleague elsewhere)."""
        current = self.shared.get(location_id, SharedTemplates(location_id))
        saved = SharedTemplates(
            location_id,
            tuple(replace(t, template_id=t.template_id or _id("tpl")) for t in templates),
            current.version + 1,
            by,
            datetime.now(UTC),
        )
        self.shared[location_id] = saved
        self.emit(ChangesApplied(location_ids=frozenset({location_id})))
        return saved

    async def set_presence(self, conversation_sid: str, state: str) -> None:
        self.presence_posts.append((conversation_sid, state))

    async def retry(self, outbox_id: str) -> None:
        await self._tick("retry")
        self.retried.append(outbox_id)
        for sid, msgs in self.messages.items():
            for i, m in enumerate(msgs):
                if m.outbox_id == outbox_id:
                    msgs[i] = replace(m, status="pending", error_reason=None, error_message=None)
                    self.emit(ChangesApplied(conversation_sids=frozenset({sid}), local=True))
                    lead = next(d for d in self.leads.values() if d.conversation_sid == sid)
                    asyncio.get_running_loop().call_soon(self._deliver, msgs[i], lead.lead_id)

    async def discard(self, outbox_id: str) -> None:
        await self._tick("discard")
        self.discarded.append(outbox_id)
        for sid, msgs in self.messages.items():
            self.messages[sid] = [m for m in msgs if m.outbox_id != outbox_id]

    async def acknowledge_repair(self) -> None:
        await self._tick("acknowledge_repair")
        self.set_status(replace(self._status, repair=None))

    async def list_locations(self) -> Sequence[LocationRow]:
        await self._tick("list_locations")
        out = []
        for loc in self.locations.values():
            sids = [
                d.conversation_sid for d in self.leads.values() if d.location_id == loc.location_id
            ]
            unread = sum(self.unread.get(s or "", 0) for s in sids)
            out.append(
                replace(
                    loc,
                    unread=unread,
                    unread_conversations=sum(1 for s in sids if self.unread.get(s or "", 0)),
                    open_leads=len(sids),
                )
            )
        return out

    def _row(self, d: LeadDetail) -> LeadRow:
        sid = d.conversation_sid or ""
        msgs = self.messages.get(sid, [])
        last = msgs[-1] if msgs else None
        return LeadRow(
            d.lead_id,
            d.conversation_sid,
            d.location_id,
            d.name,
            d.phone,
            d.status,
            d.pipeline_status,
            last.body if last else None,
            max(d.last_activity_at, last.created_at) if last else d.last_activity_at,
            self.unread.get(sid, 0),
            d.assignee_id,
            d.assignee_name,
            d.date_submitted if d.first_staff_reply_at is None else None,
            d.opted_out,
            d.possible_opt_out,
            d.source,
        )

    def _matching(self, f: LeadFilter) -> list[LeadRow]:
        rows = [self._row(d) for d in self.leads.values()]
        if f.location_id:
            rows = [r for r in rows if r.location_id == f.location_id]
        if f.unread_only:
            rows = [r for r in rows if r.unread]
        if f.mine:
            rows = [r for r in rows if r.assignee_id == self._me.staff_id]
        if f.unassigned:
            rows = [r for r in rows if r.assignee_id is None]
        if f.pipeline_status:
            rows = [r for r in rows if r.pipeline_status == f.pipeline_status]
        if not f.include_closed:
            rows = [r for r in rows if r.status != "CLOSED"]
        if f.needs_reply_at is not None:
            at = f.needs_reply_at
            due = {w.lead_id for w in self._waiting() if w.due_at <= at}
            rows = [r for r in rows if r.lead_id in due]
        if f.query:
            q = f.query.lower()
            rows = [
                r
                for r in rows
                if q in r.name.lower()
                or q in r.phone
                or any(q in m.body.lower() for m in self.messages.get(r.conversation_sid or "", []))
            ]
        rows.sort(key=lambda r: r.last_activity_at, reverse=True)
        return rows

    def _waiting(self) -> list[WaitingLead]:
        """As the store's query: since the lead while nobody answered, else since the
        first customer text after the last staff or store one."""
        out = []
        for d in self.leads.values():
            if d.status == "CLOSED" or d.opted_out:
                continue
            msgs = self.messages.get(d.conversation_sid or "", [])
            replies = [m.created_at for m in msgs if m.author_kind in ("staff", "store")]
            if not replies and d.first_staff_reply_at is None:
                since: datetime | None = d.date_submitted
            else:
                last = max(replies, default=None)
                after = [
                    m.created_at
                    for m in msgs
                    if m.author_kind == "customer" and (last is None or m.created_at > last)
                ]
                since = min(after, default=None)
            if since is not None:
                loc = self.locations.get(d.location_id)
                target = loc.reply_target_minutes if loc else 5
                out.append(
                    WaitingLead(d.lead_id, d.conversation_sid, d.location_id, d.name, since, target)
                )
        return sorted(out, key=lambda w: w.waiting_since)

    async def waiting_for_reply(
        self, among: ChangesApplied | None = None
    ) -> Sequence[WaitingLead]:
        await self._tick("waiting_for_reply")
        waits = self._waiting()
        if among is None:
            return waits
        threads = among.conversation_sids | among.thread_sids
        return [
            w for w in waits
            if w.lead_id in among.lead_ids or w.conversation_sid in threads
            or w.location_id in among.location_ids
        ]  # fmt: skip

    async def list_leads(
        self, filter: LeadFilter, offset: int = 0, limit: int = 100
    ) -> Sequence[LeadRow]:
        await self._tick("list_leads")
        return self._matching(filter)[offset : offset + limit]

    async def count_leads(self, filter: LeadFilter) -> int:
        await self._tick("count_leads")
        return len(self._matching(filter))

    async def get_lead(self, lead_id: str) -> LeadDetail | None:
        await self._tick("get_lead")
        return self.leads.get(lead_id)

    async def thread(
        self, conversation_sid: str, limit: int = 200, before: datetime | None = None
    ) -> Sequence[ThreadMessage]:
        await self._tick("thread")
        msgs = self.messages.get(conversation_sid, [])
        if before is not None:
            msgs = [m for m in msgs if m.created_at < before]
        return list(msgs[-limit:])

    async def search(self, query: str, limit: int = 50) -> Sequence[SearchHit]:
        await self._tick("search")
        q = query.strip()
        if not q:
            return []
        pat = re.compile(re.escape(q), re.IGNORECASE)
        hits: list[SearchHit] = []
        for d in self.leads.values():
            if pat.search(d.name) or q in d.phone:
                hits.append(
                    SearchHit(
                        d.lead_id,
                        d.conversation_sid,
                        "lead",
                        pat.sub(lambda mt: MATCH_START + mt.group(0) + MATCH_END, d.name),
                        d.name,
                        d.last_activity_at,
                    )
                )
            for m in self.messages.get(d.conversation_sid or "", []):
                if pat.search(m.body):
                    hits.append(
                        SearchHit(
                            d.lead_id,
                            d.conversation_sid,
                            "message",
                            pat.sub(lambda mt: MATCH_START + mt.group(0) + MATCH_END, m.body),
                            d.name,
                            m.created_at,
                            m.message_sid,
                        )
                    )
        return hits[:limit]


def demo_engine() -> FakeEngine:
    """A realistic small dataset (screenshots, manual checks)."""
    e = FakeEngine()
    e.add_location("loc-1", "Naperville Showroom")
    e.add_location("loc-2", "Oak Brook Design Center")
    now = datetime.now(UTC)
    e.add_lead(
        "Maria Gonzalez",
        "+13125550142",
        minutes_ago=3,
        message="Hi! Is the Oak Natural 7in plank in stock? We need about 800 sq ft.",
    )
    b = e.add_lead(
        "James Whitaker",
        "+16305550187",
        minutes_ago=42,
        pipeline="contacted",
        assignee=("staff-1", "Dana Whitfield"),
        replied=True,
        message="Can I get a quote for carpet in 3 bedrooms?",
    )
    e.add_message(
        b.lead_id,
        "staff",
        "Dana Whitfield",
        "Hi James, this is Dana from Naperville Showroom. Happy to help! "
        "Roughly how big are the rooms?",
        now - timedelta(minutes=38),
    )
    e.add_message(
        b.lead_id,
        "customer",
        "James Whitaker",
        "About 12x14, 11x12 and 10x10.",
        now - timedelta(minutes=30),
    )
    e.add_message(
        b.lead_id,
        "store",
        "Store phone",
        "We can measure on Saturday morning if that works?",
        now - timedelta(minutes=25),
    )
    e.add_message(
        b.lead_id,
        "staff",
        "Dana Whitfield",
        "I'll also bring samples of the Shaw Bellera line.",
        now - timedelta(minutes=20),
        status="failed_local",
        error_reason="quiet_hours",
        error_message="Outside the customer's allowed hours",
        outbox_id="ob-demo",
    )
    e.unread[b.conversation_sid or ""] = 0
    c = e.add_lead(
        "Priya Raman",
        "+17735550111",
        "loc-2",
        minutes_ago=60 * 20,
        pipeline="appointment",
        assignee=("staff-2", "Marcus Lee"),
        replied=True,
        message="Do you install on weekends?",
    )
    e.add_message(
        c.lead_id, "staff", "Marcus Lee", "Yes, Saturdays 8am–2pm.", now - timedelta(hours=19)
    )
    e.unread[c.conversation_sid or ""] = 0
    e.add_lead(
        "Tom Becker",
        "+18155550177",
        minutes_ago=60 * 26,
        message="STOP texting me please",
        possible_opt_out=True,
    )
    e.add_lead(
        "Alicia Moore",
        "+12245550123",
        "loc-2",
        minutes_ago=60 * 50,
        pipeline="lost",
        opted_out=True,
        replied=True,
        message="What colors does the vinyl come in?",
    )
    e.add_lead(
        "Kevin O'Brien",
        "+16305550166",
        minutes_ago=9,
        message="Looking for a 2019 Tacoma, still available?",
    )
    return e


def install_fake_demo(
    monkeypatch: Any,
    start_demo: Callable[[Path], tuple[str, str, str]],
    stop_demo: Callable[[], None],
) -> None:
    """Stand `start_demo`/`stop_demo` in for `app.sandbox.demo` (the real one starts a
    relay, a simulator and moto) for the rest of the test."""
    fake = types.ModuleType("app.sandbox.demo")
    fake.start_demo = start_demo  # type: ignore[attr-defined]
    fake.stop_demo = stop_demo  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "app.sandbox.demo", fake)
