"""Botpress Cloud's table rows `find` (`/botpress/v1/tables/{table}/rows/find`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.routes.common import bearer, json_body, sim, unauthorized

router = APIRouter()


@router.post("/botpress/v1/tables/{table}/rows/find")
async def find_rows(table: str, request: Request) -> Any:
    config = sim(request).config
    if (
        bearer(request) != config.botpress_token
        or request.headers.get("x-bot-id") != config.botpress_bot_id
        or request.headers.get("x-workspace-id") != config.botpress_workspace_id
    ):
        return unauthorized({"code": 401, "type": "Unauthorized", "message": "Invalid token"})
    body = await json_body(request)
    flt = (body or {}).get("filter") if isinstance(body, dict) else None
    if not isinstance(flt, dict):
        return JSONResponse({"code": 400, "type": "InvalidPayload", "message": "filter"}, 400)
    rows = sim(request).botpress.find(table, flt)
    return {"rows": rows, "hasMore": False, "offset": 0, "limit": 100}
