"""Messaging v1: the Messaging Service (/v1/Services/{MG}) and its sender pool."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from app.sandbox.twilio_sim.clock import iso
from app.sandbox.twilio_sim.errors import not_found
from app.sandbox.twilio_sim.routes.common import TwilioForm, base_url, page_of, runtime
from app.sandbox.twilio_sim.runtime import SimRuntime

router = APIRouter(prefix="/v1/Services/{service_sid}")


def _service(request: Request, sid: str) -> SimRuntime:
    """The runtime, once `sid` is known to be its Messaging Service (another is a 404)."""
    rt = runtime(request)
    if sid != rt.config.messaging_service_sid:
        raise not_found(f"/v1/Services/{sid}")
    return rt


def _pool_number(rt: SimRuntime, base: str, number: str, pn_sid: str) -> dict[str, Any]:
    service = rt.config.messaging_service_sid
    created = iso(rt.state.messaging.created)
    return {
        "sid": pn_sid,
        "account_sid": rt.config.account_sid,
        "service_sid": service,
        "date_created": created,
        "date_updated": created,
        "phone_number": number,
        "country_code": "US",
        "capabilities": ["SMS"],
        "url": f"{base}/v1/Services/{service}/PhoneNumbers/{pn_sid}",
    }


@router.get("")
async def fetch_service(service_sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _service(request, service_sid)
    base = base_url(request)
    created = iso(rt.state.messaging.created)
    return {
        "sid": service_sid,
        "account_sid": rt.config.account_sid,
        "friendly_name": "Web2Text simulator pool",
        "date_created": created,
        "date_updated": created,
        "inbound_request_url": rt.state.messaging.webhook_url,
        "inbound_method": "POST",
        "use_inbound_webhook_on_number": False,
        "sticky_sender": True,
        "area_code_geomatch": True,
        "url": f"{base}/v1/Services/{service_sid}",
        "links": {"phone_numbers": f"{base}/v1/Services/{service_sid}/PhoneNumbers"},
    }


@router.get("/PhoneNumbers")
async def list_pool(service_sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _service(request, service_sid)
    base = base_url(request)
    items = [_pool_number(rt, base, n, pn) for n, pn in rt.state.messaging.pool.items()]
    return page_of(request, items, "phone_numbers")


@router.get("/PhoneNumbers/{sid}")
async def fetch_pool_number(
    service_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    """By PN sid or by the number itself."""
    rt = _service(request, service_sid)
    for number, pn in rt.state.messaging.pool.items():
        if sid in (pn, number):
            return _pool_number(rt, base_url(request), number, pn)
    raise not_found(f"/v1/Services/{service_sid}/PhoneNumbers/{sid}")
