"""RLM (Retail Lead Management): location mappings, lead create, SMS notes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.routes.common import json_body, sim, unauthorized

router = APIRouter()

LEAD_KEYS = {
    "location_name",
    "divison_name",
    "source_name",
    "first_name",
    "last_name",
    "phone",
    "mobile_phone",
    "website",
    "note",
}
NOTE_KEYS = {"lead_uuid", "sender_phone", "sender_name", "message", "date"}


@router.get("/rlm/api/v1/dhq_store_rlm_location_mappings.json")
async def mappings(request: Request) -> Any:
    state = sim(request)
    if (
        request.headers.get("x-api-key") != state.config.rlm_god_api_key
        or request.headers.get("x-user-email") != state.config.rlm_god_email
    ):
        return unauthorized()
    return list(state.rlm.mappings)


def _error(status: int, text: str) -> JSONResponse:
    return JSONResponse({"result": "Error", "messages": text}, status)


@router.post("/rlm/api/{api_key}/leads")
async def create_lead(api_key: str, request: Request) -> Any:
    state = sim(request)
    if not state.rlm.key_ok(api_key):
        return _error(401, "Invalid API key")
    body = await json_body(request)
    lead = body.get("lead") if isinstance(body, dict) else None
    if not isinstance(lead, dict) or set(body) != {"lead"}:
        return _error(422, "Body must be {lead: {...}}")
    unknown = set(lead) - LEAD_KEYS
    if unknown:
        return _error(422, f"Unknown lead fields: {', '.join(sorted(unknown))}")
    if not all(isinstance(v, str) for v in lead.values()):
        return _error(422, "Lead fields must be strings")
    return state.rlm.create_lead(api_key, lead)


@router.post("/rlm/api/note_from_sms")
async def add_note(request: Request) -> Any:
    body = await json_body(request)
    if not isinstance(body, dict) or set(body) != NOTE_KEYS:
        return _error(422, f"Body must hold exactly {', '.join(sorted(NOTE_KEYS))}")
    if not all(isinstance(v, str) for v in body.values()):
        return _error(422, "Note fields must be strings")
    result = sim(request).rlm.add_note(body)
    return result if result["result"] == "Success" else JSONResponse(result, 404)
