"""Programmable Messaging (2010-04-01): fetching an inbound text by its sid, for the
time Twilio received it (the relay refuses a replayed STOP/START older than the
opt-out state it already holds)."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request

from app.sandbox.twilio_sim.errors import not_found
from app.sandbox.twilio_sim.routes.common import TwilioForm, runtime

router = APIRouter()


def _rfc2822(value: str | None) -> str | None:
    """The 2010-04-01 API's dates: 'Thu, 30 Jul 2015 20:12:31 +0000'."""
    if not value:
        return None
    return format_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))


@router.get("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json")
async def fetch_message(
    account_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    sim = runtime(request)
    record = sim.state.inbound_message(sid)
    if record is None or account_sid != sim.config.account_sid:
        raise not_found(request.url.path)
    created = _rfc2822(record.get("date_created"))
    return {
        "sid": sid,
        "account_sid": account_sid,
        "messaging_service_sid": sim.config.messaging_service_sid,
        "from": record["from"],
        "to": record["to"],
        "body": record["body"],
        "status": "received",
        "direction": "inbound",
        "num_segments": "1",
        "num_media": "0",
        "date_created": created,
        "date_sent": created,
        "date_updated": created,
        "api_version": "2010-04-01",
        "error_code": None,
        "error_message": None,
        "price": None,
        "price_unit": "USD",
        "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
        "subresource_uris": {},
    }
