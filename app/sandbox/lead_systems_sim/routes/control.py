"""The `/_sim` control plane: seed Nexus and Botpress, inject faults, read what each
system received. No auth: keep it on loopback."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.sandbox.fault_fields import FaultError
from app.sandbox.lead_systems_sim.faults import SYSTEMS, parse_faults
from app.sandbox.lead_systems_sim.routes.common import ControlError, json_body, sim

router = APIRouter(prefix="/_sim")

BOTPRESS_TABLE = "Int_Connor_Conversations_Table"


async def _object(request: Request, what: str) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_request", f"Expected a JSON object ({what})")
    return body


@router.post("/faults")
async def set_faults(request: Request) -> dict[str, Any]:
    try:
        faults = parse_faults(await json_body(request))
    except FaultError as err:
        raise ControlError(400, "invalid_faults", str(err)) from None
    request.app.state.lead_faults.set(faults)
    return {"faults": request.app.state.lead_faults.snapshot()}


@router.get("/faults")
async def get_faults(request: Request) -> dict[str, Any]:
    return {"faults": request.app.state.lead_faults.snapshot()}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    sim(request).reset()
    request.app.state.lead_faults.set({})
    return {"reset": True}


@router.get("/received/{system}")
async def received(system: str, request: Request) -> dict[str, Any]:
    if system not in SYSTEMS:
        raise ControlError(404, "unknown_system", f"Known systems: {', '.join(SYSTEMS)}")
    return {"requests": sim(request).received.of(system)}


@router.post("/nexus/retailers")
async def put_retailer(request: Request) -> dict[str, Any]:
    body = await _object(request, "a Nexus retailer with an id")
    if not isinstance(body.get("id"), str):
        raise ControlError(400, "invalid_request", "A retailer needs a string id")
    return sim(request).nexus.put_retailer(body)


@router.post("/nexus/stores")
async def put_store(request: Request) -> dict[str, Any]:
    body = await _object(request, "a Nexus store with location_id and retailer_id")
    if not isinstance(body.get("location_id"), str) or not isinstance(body.get("retailer_id"), str):
        raise ControlError(400, "invalid_request", "A store needs location_id and retailer_id")
    return sim(request).nexus.put_store(body)


@router.post("/cognito")
async def cognito(request: Request) -> dict[str, Any]:
    """`{"ttl_s": N}` sets the lifetime of new tokens; `{"revoke": true}` voids all."""
    body = await _object(request, "ttl_s and/or revoke")
    tokens = sim(request).cognito
    ttl = body.get("ttl_s")
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
            raise ControlError(400, "invalid_request", "ttl_s must be a positive integer")
        tokens.set_ttl(ttl)
    if body.get("revoke") is True:
        tokens.revoke_all()
    return {"issued": tokens.issued, "ttl_s": tokens.ttl_s}


@router.get("/cognito")
async def cognito_state(request: Request) -> dict[str, Any]:
    tokens = sim(request).cognito
    return {"issued": tokens.issued, "ttl_s": tokens.ttl_s}


@router.post("/botpress/rows")
async def add_row(request: Request) -> dict[str, Any]:
    body = await _object(request, "a table row")
    table = str(body.pop("_table", BOTPRESS_TABLE))
    return sim(request).botpress.add_row(table, body)


@router.post("/rlm/mappings")
async def rlm_mappings(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, list) or not all(isinstance(m, dict) for m in body):
        raise ControlError(400, "invalid_request", "Expected a list of mapping objects")
    state = sim(request)
    state.rlm.mappings[:] = body
    return {"mappings": len(body)}


@router.post("/rlm/keys")
async def rlm_keys(request: Request) -> dict[str, Any]:
    body = await json_body(request)
    if not isinstance(body, list) or not all(isinstance(k, str) for k in body):
        raise ControlError(400, "invalid_request", "Expected a list of API keys")
    sim(request).rlm.api_keys.update(body)
    return {"keys": len(body)}


@router.get("/rlm/leads")
async def rlm_leads(request: Request) -> dict[str, Any]:
    return {"leads": sim(request).rlm.snapshot()}


@router.get("/dhq/inquiries")
async def dhq_inquiries(request: Request) -> dict[str, Any]:
    return {"inquiries": sim(request).dhq.snapshot()}


@router.get("/acton/records")
async def acton_records(request: Request) -> dict[str, Any]:
    state = sim(request).acton
    return {"records": state.snapshot(), "tokensIssued": state.tokens_issued}


@router.get("/floorforce/posts")
async def floorforce_posts(request: Request) -> dict[str, Any]:
    return {"posts": sim(request).floorforce.snapshot()}
