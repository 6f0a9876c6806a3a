"""Act-On (password-grant token, list records) and FloorForce (form posts)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.routes.common import (
    bearer,
    form_body,
    json_body,
    sim,
    unauthorized,
)

router = APIRouter()


@router.post("/acton/token")
async def acton_token(request: Request) -> Any:
    if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return JSONResponse({"error": "invalid_request"}, 400)
    form = await form_body(request)
    config = sim(request).config
    expected = {
        "grant_type": "password",
        "username": config.acton_username,
        "password": config.acton_password,
        "client_id": config.acton_client_id,
        "client_secret": config.acton_client_secret,
    }
    if any(form.get(k) != v for k, v in expected.items()):
        return JSONResponse({"error": "invalid_grant"}, 401)
    token = sim(request).acton.issue_token()
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": 3600,
        "refresh_token": "r-" + token,
    }


@router.post("/acton/api/1/list/{list_id}/record")
async def acton_record(list_id: str, request: Request) -> Any:
    state = sim(request)
    if not state.acton.token_ok(bearer(request)):
        return unauthorized({"status": "failure", "message": "Invalid token"})
    if list_id in ("", "undefined", "null"):
        return JSONResponse({"status": "failure", "message": "List not found"}, 404)
    body = await json_body(request)
    if not isinstance(body, dict):
        return JSONResponse({"status": "failure", "message": "JSON object expected"}, 400)
    return state.acton.add_record(list_id, body)


@router.post("/floorforce/external/postactonformdata")
async def floorforce_post(request: Request) -> Any:
    if "x-www-form-urlencoded" not in request.headers.get("content-type", ""):
        return JSONResponse({"status": "failure", "message": "form data expected"}, 415)
    form = await form_body(request)
    if not form.get("First Name") or not form.get("Last Name"):
        return JSONResponse({"status": "failure", "message": "First/Last Name required"}, 400)
    sim(request).floorforce.add(form)
    return {"status": "success"}
