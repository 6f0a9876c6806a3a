"""`POST /TwilioWebhooks/checkOptInStatus` (API key, not signed): is a phone opted
out, and of which pool numbers."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from app.relay.auth import Principal, require_endpoint
from app.relay.context import context_of
from app.relay.errors import ApiError

router = APIRouter()

OptInKey = Annotated[Principal, Depends(require_endpoint("TwilioWebhooks/getOptInNumber"))]


@router.post("/checkOptInStatus")
async def check_opt_in_status(request: Request, principal: OptInKey) -> JSONResponse:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise ApiError(400, "invalid_request", "Body is INVALID - not valid JSON") from None
    if not isinstance(body, dict) or "PhoneNumber" not in body:
        raise ApiError(400, "invalid_request", "PhoneNumber is NONEXISTANT - required")
    from app.core.phones import PhoneError, parse_phone

    value = body["PhoneNumber"]
    try:
        phone = parse_phone(value) if isinstance(value, str) else parse_phone("")
    except PhoneError:
        raise ApiError(
            400, "invalid_phone", "PhoneNumber is INVALID - not a valid phone number"
        ) from None
    ctx = context_of(request)
    from app.relay.leads import opted_out_numbers

    numbers = await run_in_threadpool(opted_out_numbers, ctx.tables, phone)
    if not numbers:
        return JSONResponse({"Status": "OPTED-IN"})
    return JSONResponse({"Status": "OPTED-OUT", "OptInNumbers": sorted(numbers)})
