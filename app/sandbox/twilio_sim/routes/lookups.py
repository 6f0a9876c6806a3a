"""Lookup v2: /v2/PhoneNumbers/{number}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.sandbox.twilio_sim.routes.common import TwilioForm, base_url, runtime

router = APIRouter()


@router.get("/v2/PhoneNumbers/{phone_number}")
async def lookup_phone_number(
    phone_number: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    fields = (request.query_params.get("Fields") or "").split(",")
    country = request.query_params.get("CountryCode")
    body = runtime(request).state.lookup(phone_number, fields, country)
    body["url"] = f"{base_url(request)}/v2/PhoneNumbers/{body['phone_number']}"
    return body
