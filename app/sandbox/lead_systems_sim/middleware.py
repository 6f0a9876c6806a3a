"""The simulated systems' front door: which system a path belongs to, its faults
(`faults.py`), and the received log (every request, with its parsed body)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.sandbox.lead_systems_sim.faults import Decision, FaultState
from app.sandbox.lead_systems_sim.state import LeadSystemsState

#: first path segment -> system (each system is mounted under its own prefix, so
#: one simulator stands in for every base URL the relay is given)
PREFIXES = {
    "nexus": "nexus",
    "nexus-aws": "nexus",
    "cognito": "cognito",
    "botpress": "botpress",
    "rlm": "rlm",
    "dhq": "dhq",
    "acton": "acton",
    "floorforce": "floorforce",
}


def system_of(path: str) -> str | None:
    first = path.lstrip("/").split("/", 1)[0]
    return PREFIXES.get(first)


def parse_body(content_type: str, raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if "json" in content_type:
        try:
            return json.loads(text)
        except ValueError:
            return text
    if "x-www-form-urlencoded" in content_type:
        return dict(parse_qsl(text, keep_blank_values=True))
    return text


class LeadSystemsMiddleware:
    def __init__(self, app: ASGIApp, state: LeadSystemsState, faults: FaultState) -> None:
        self.app = app
        self.state = state
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        system = system_of(scope.get("path", "")) if scope["type"] == "http" else None
        if system is None:
            await self.app(scope, receive, send)
            return
        raw = await _read_body(receive)
        decision = self.faults.decide(system, scope.get("path", ""))
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        entry = _entry(scope, raw, decision)
        if decision.action == "error":
            self._record(system, entry, decision.status)
            await _answer(send, decision.status, {"error": "simulated fault"})
            return
        if decision.action == "hang":
            self._record(system, entry, None)
            await _hang(receive, self.state.config.hang_s)
            await _answer(send, 504, {"error": "simulated timeout"})
            return
        status: dict[str, int] = {}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            if decision.action != "hang_after":
                await send(message)

        await self.app(scope, _replay(raw, receive), capture)
        self._record(system, entry, status.get("code"))
        if decision.action == "hang_after":
            await _hang(receive, self.state.config.hang_s)
            await _answer(send, 504, {"error": "simulated timeout"})

    def _record(self, system: str, entry: dict[str, Any], status: int | None) -> None:
        self.state.received.add(system, {**entry, "status": status})


def _entry(scope: Scope, raw: bytes, decision: Decision) -> dict[str, Any]:
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    content_type = headers.get("content-type", "")
    auth = headers.get("authorization", "")
    return {
        "method": scope.get("method"),
        "path": scope.get("path"),
        "query": scope.get("query_string", b"").decode("latin-1"),
        "content_type": content_type,
        "auth": auth.split(" ", 1)[0] if auth else None,  # the scheme only, never the secret
        "body": parse_body(content_type, raw),
        "fault": None if decision.action == "pass" else decision.action,
    }


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(raw: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        return await receive()

    return replay


async def _hang(receive: Receive, seconds: float) -> None:
    """Until the caller gives up (disconnects) or `seconds` pass."""

    async def disconnected() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(disconnected(), seconds)


async def _answer(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": payload})
