"""`/_sim` voice verbs: a phone calls a pool number, and where the pool's voice webhook
points."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request

from app.sandbox.twilio_sim.errors import ControlError, TwilioApiError
from app.sandbox.twilio_sim.routes.common import json_body, runtime

router = APIRouter(prefix="/_sim")

_CALL_FIELDS = {"from", "to", "answer", "duration"}


def _call_args(body: Any) -> tuple[str, str, bool, int]:
    if (
        not isinstance(body, dict)
        or not set(body) <= _CALL_FIELDS
        or not all(isinstance(body.get(k), str) for k in ("from", "to"))
    ):
        raise ControlError(
            400, "invalid_call", 'Expected {"from", "to"} strings (+ "answer", "duration")'
        )
    answer = body.get("answer", True)
    duration = body.get("duration", 30)
    if not isinstance(answer, bool):
        raise ControlError(400, "invalid_call", '"answer" must be true or false')
    if isinstance(duration, bool) or not isinstance(duration, int) or not 0 <= duration <= 86400:
        raise ControlError(400, "invalid_call", '"duration" must be whole seconds, 0 to 86400')
    return body["from"], body["to"], answer, duration


@router.post("/call")
async def sim_call(request: Request) -> dict[str, Any]:
    """`{"from", "to", "answer"?, "duration"?}` → `{"twiml", "dialed", "callerId", ...}`."""
    from_, to, answer, duration = _call_args(await json_body(request))
    state = runtime(request).state
    try:
        # the voice webhook is a blocking HTTP call: keep it off the event loop
        return await asyncio.to_thread(state.call, from_, to, answer, duration)
    except TwilioApiError as err:
        raise ControlError(400, "invalid_call", err.message) from None


@router.post("/voice-url")
async def sim_voice_url(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    url = body.get("url") if isinstance(body, dict) else None
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise ControlError(400, "invalid_url", '"url" must be an http(s) URL or null')
    runtime(request).state.set_voice_url(url)
    return {"url": url}
