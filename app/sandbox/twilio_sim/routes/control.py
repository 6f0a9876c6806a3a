"""The `/_sim` control plane: what tests and the demo do to the simulated world
(phones texting, line types, faults, the clock). No auth: keep it on loopback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.sandbox.fault_fields import FaultError
from app.sandbox.twilio_sim.clock import iso
from app.sandbox.twilio_sim.errors import ControlError, TwilioApiError
from app.sandbox.twilio_sim.faults import parse_faults
from app.sandbox.twilio_sim.routes.common import json_body, runtime
from app.sandbox.twilio_sim.state import LineTypeError, is_e164
from app.sandbox.twilio_sim.state.media import parse_media_inputs

router = APIRouter(prefix="/_sim")


@router.post("/inbound")
async def sim_inbound(request: Request) -> dict[str, Any]:
    """`{"from", "to", "body", "media"?: [{"contentType", "filename", "dataBase64"}]}`."""
    body = await json_body(request)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("from", "to", "body")
    ):
        raise ControlError(400, "invalid_inbound", 'Expected {"from", "to", "body"} strings')
    try:
        media = parse_media_inputs(body.get("media"))
        return runtime(request).state.inbound(body["from"], body["to"], body["body"], media)
    except TwilioApiError as err:
        raise ControlError(400, "invalid_inbound", err.message) from None


@router.get("/handset/{phone}")
async def sim_handset(phone: str, request: Request) -> dict[str, Any]:
    if not is_e164(phone):
        raise ControlError(400, "invalid_phone", "The phone must be an E.164 number")
    state = runtime(request).state
    return {"messages": state.handset(phone), "calls": state.call_log(phone)}


@router.post("/lookup")
async def sim_lookup(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_lookup", "Expected an object of number: line type")
    state = runtime(request).state
    try:
        state.set_line_types(body)
    except LineTypeError as err:
        raise ControlError(400, err.reason, str(err)) from None
    return {"line_types": dict(state.line_types)}


@router.post("/faults")
async def sim_faults(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    try:
        faults = parse_faults(body)
    except FaultError as err:
        raise ControlError(400, "invalid_faults", str(err)) from None
    runtime(request).faults.set(faults)
    return {"faults": faults.__dict__}


@router.get("/faults")
async def sim_get_faults(request: Request) -> dict[str, Any]:
    return {"faults": runtime(request).faults.snapshot().__dict__}


@router.post("/reset")
async def sim_reset(request: Request) -> dict[str, Any]:
    runtime(request).state.reset()
    return {"reset": True}


@router.post("/tick")
async def sim_tick(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    seconds = body.get("seconds", 0) if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise ControlError(400, "invalid_tick", '"seconds" must be a non-negative number')
    rt = runtime(request)
    now = rt.clock.advance(float(seconds))
    changed = rt.state.run_timers()
    return {"now": iso(now), "changed": changed}


@router.post("/webhook-url")
async def sim_webhook_url(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    url = body.get("url") if isinstance(body, dict) else None
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise ControlError(400, "invalid_url", '"url" must be an http(s) URL or null')
    runtime(request).state.set_webhook_url(url)
    return {"url": url}


@router.get("/idle")
async def sim_idle(request: Request) -> dict[str, Any]:
    return {"idle": runtime(request).idle()}
