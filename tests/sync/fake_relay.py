"""A small in-memory stand-in for the relay's staff API (a fake *port* for unit tests).

It follows DESIGN.md's staff API: `/v1/me`, `/v1/changes`, `/v1/stream` (SSE,
`event: change`, `id:` = cursor, heartbeat comments), messages with
Idempotency-Key → 202, PATCH leads with If-Match → 200/412 with `current`,
POST read. Test hooks: `faults` (answers to give next), `down` (503 for all),
`sent` (every message the relay accepted once: the "handset").
Integration tests use the real relay instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

TOKEN = "staff-key-1"
STAFF = {"staffId": "S1", "name": "Sam Staff", "retailerId": "R1"}
LOC = "L1"


def ts(offset_s: float = 0) -> str:
    return (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=offset_s)).isoformat()


def lead_data(lead_id: str, conv: str | None, *, version: int = 1, name: str = "Alice Smith",
              phone: str = "+13125550134", pipeline: str = "new", assignee: str | None = None,
              at: float = 0, status: str = "ACTIVE", location: str = LOC) -> dict[str, Any]:
    return {
        "leadId": lead_id, "retailerId": "R1", "locationId": location,
        "conversationSid": conv, "status": status, "pipelineStatus": pipeline,
        "assigneeId": assignee, "assigneeName": None if assignee is None else "Someone",
        "notes": [], "activity": [{"at": ts(at), "kind": "created", "text": "Lead created"}],
        "customer": {"name": name, "phone": phone, "preferredContact": "text",
                     "message": "Do you have oak flooring?", "pageUrl": "https://x.test/p"},
        "dateSubmitted": ts(at), "lastActivityAt": ts(at), "firstStaffReplyAt": None,
        "possibleOptOut": False, "optedOut": False, "version": version,
    }


def conv_data(conv: str, *, version: int = 1, unread: int = 0, location: str = LOC,
              preview: str | None = None, at: float = 0) -> dict[str, Any]:
    return {
        "conversationSid": conv, "locationId": location, "customerPhone": "+13125550134",
        "web2textNumber": "+13125550100", "state": "active", "leadIds": [],
        "unreadCount": unread, "lastMessageAt": ts(at), "lastMessagePreview": preview,
        "optedOut": False, "version": version,
    }


def msg_data(sid: str, conv: str, body: str, *, kind: str = "customer", version: int = 1,
             status: str = "delivered", at: float = 0, key: str | None = None,
             location: str = LOC) -> dict[str, Any]:
    return {
        "messageSid": sid, "conversationSid": conv, "locationId": location, "index": None,
        "author": "+13125550134" if kind == "customer" else "staff:S1", "authorKind": kind,
        "body": body, "status": status, "createdAt": ts(at), "version": version,
        "idempotencyKey": key,
    }


def change(entity: str, data: dict[str, Any]) -> dict[str, Any]:
    ident = {"lead": "leadId", "conversation": "conversationSid", "message": "messageSid",
             "location": "locationId"}[entity]
    return {"entity": entity, "id": data[ident], "version": data["version"],
            "locationId": data.get("locationId", LOC), "data": data}


class FakeRelay:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []
        self.leads: dict[str, dict[str, Any]] = {}
        self.sent: list[tuple[str, str]] = []  # (conversation, body): the handset
        self.idem: dict[str, tuple[int, dict[str, Any]]] = {}
        self.patch_idem: dict[str, tuple[str, int, Any]] = {}
        self.faults: list[tuple[int, dict[str, Any], dict[str, str]]] = []
        self.down = False
        self.reads: list[str] = []
        self.requests: list[str] = []
        self.stream_connections = 0
        self.last_event_ids: list[str | None] = []  # Last-Event-ID of each stream request
        self.in_flight = 0
        self.max_in_flight = 0
        self.send_delay = 0.0  # seconds each accepted send takes (crash tests)
        self.location = {"locationId": LOC, "retailerId": "R1", "name": "Downtown",
                         "web2textNumber": "+13125550100", "version": 1}
        #: the staff member's other locations (a dealer group's)
        self.other_locations: list[dict[str, Any]] = []
        self.app = self._build()

    # ---------------------------------------------------------------- test helpers

    def publish(self, *changes: dict[str, Any]) -> None:
        with self.lock:
            for c in changes:
                if c["entity"] == "lead":
                    self.leads[c["id"]] = c["data"]
                self.log.append(c)

    def fail_next(self, status: int, reason: str = "x", headers: dict[str, str] | None = None,
                  **extra: Any) -> None:
        body = {"code": status, "message": f"failed {status}", "reason": reason, **extra}
        self.faults.append((status, body, headers or {}))

    # ---------------------------------------------------------------- app

    def _build(self) -> FastAPI:
        app = FastAPI()
        relay = self

        @app.middleware("http")
        async def gate(request: Request, call_next: Any) -> Any:
            relay.requests.append(f"{request.method} {request.url.path}")
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"code": 401, "message": "no", "reason": "unauthorized"},
                                    status_code=401)
            if relay.down:
                return JSONResponse({"code": 503, "message": "down", "reason": "unavailable"},
                                    status_code=503)
            if relay.faults and request.url.path != "/v1/stream" and request.method != "GET":
                status, body, headers = relay.faults.pop(0)
                return JSONResponse(body, status_code=status, headers=headers)
            return await call_next(request)

        @app.get("/v1/me")
        async def me() -> dict[str, Any]:
            return {**STAFF, "locations": [relay.location, *relay.other_locations]}

        def page(cursor: str | None, limit: int) -> dict[str, Any]:
            start = int(cursor or 0)
            with relay.lock:
                items = relay.log[start:start + limit]
                end = start + len(items)
                more = end < len(relay.log)
            return {"changes": items, "cursor": str(end), "hasMore": more}

        @app.get("/v1/changes")
        async def changes(cursor: str | None = None, limit: int = 500) -> dict[str, Any]:
            return page(cursor, limit)

        @app.get("/v1/stream")
        async def stream(cursor: str | None = None,
                         last_event_id: str | None = Header(None)) -> EventSourceResponse:
            relay.stream_connections += 1
            relay.last_event_ids.append(last_event_id)
            position = int(last_event_id or cursor or 0)

            async def events() -> Any:
                nonlocal position
                while True:
                    if relay.down:
                        return
                    with relay.lock:
                        items = relay.log[position:]
                    for item in items:
                        position += 1
                        yield ServerSentEvent(data=json.dumps(item), event="change",
                                              id=str(position))
                    await asyncio.sleep(0.01)

            return EventSourceResponse(events(), ping=0.2)

        @app.post("/v1/conversations/{sid}/messages", status_code=202)
        async def send(sid: str, request: Request,
                       idempotency_key: str = Header(...)) -> JSONResponse:
            body = (await request.json())["body"]
            relay.in_flight += 1
            relay.max_in_flight = max(relay.max_in_flight, relay.in_flight)
            try:
                if relay.send_delay:
                    await asyncio.sleep(relay.send_delay)
            finally:
                relay.in_flight -= 1
            with relay.lock:
                if idempotency_key in relay.idem:
                    status, answer = relay.idem[idempotency_key]
                    return JSONResponse(answer, status_code=status)
                msid = "IM" + uuid.uuid4().hex
                relay.sent.append((sid, body))
                data = msg_data(msid, sid, body, kind="staff", status="queued",
                                key=idempotency_key, at=len(relay.sent))
                relay.idem[idempotency_key] = (202, data)
                relay.log.append(change("message", data))
            return JSONResponse(data, status_code=202)

        @app.patch("/v1/leads/{lead_id}")
        async def patch(lead_id: str, request: Request, if_match: str = Header(...),
                        idempotency_key: str | None = Header(None)) -> JSONResponse:
            patch = await request.json()
            fingerprint = json.dumps([lead_id, if_match, patch], sort_keys=True)
            if idempotency_key is not None:
                # like the relay: a key answers once; the same key for another request
                # (e.g. another If-Match) is refused
                with relay.lock:
                    seen = relay.patch_idem.get(idempotency_key)
                if seen is not None:
                    if seen[0] != fingerprint:
                        return JSONResponse({"code": 422, "message": "key reused",
                                             "reason": "idempotency_conflict"}, status_code=422)
                    return JSONResponse(seen[2], status_code=seen[1])
            answer = await patch_once(lead_id, patch, if_match)
            if idempotency_key is not None:
                with relay.lock:
                    relay.patch_idem[idempotency_key] = (
                        fingerprint, answer.status_code, json.loads(bytes(answer.body)))
            return answer

        async def patch_once(lead_id: str, patch: dict[str, Any],
                             if_match: str) -> JSONResponse:
            with relay.lock:
                lead = relay.leads.get(lead_id)
                if lead is None:
                    return JSONResponse({"code": 404, "message": "no", "reason": "lead_not_found"},
                                        status_code=404)
                if int(if_match.strip('"')) != lead["version"]:
                    return JSONResponse({"code": 412, "message": "changed",
                                         "reason": "version_conflict", "current": lead},
                                        status_code=412)
                lead = {**lead, "version": lead["version"] + 1}
                if "status" in patch:
                    lead["pipelineStatus"] = patch["status"]
                if "assigneeId" in patch:
                    lead["assigneeId"] = patch["assigneeId"]
                if patch.get("note"):
                    lead["notes"] = [*lead["notes"], {
                        "noteId": uuid.uuid4().hex, "authorId": "S1", "authorName": "Sam Staff",
                        "body": patch["note"], "at": ts(0)}]
                relay.leads[lead_id] = lead
                relay.log.append(change("lead", lead))
            return JSONResponse(lead)

        @app.post("/v1/conversations/{sid}/read")
        async def read(sid: str) -> JSONResponse:
            relay.reads.append(sid)
            return JSONResponse({}, status_code=200)

        return app
