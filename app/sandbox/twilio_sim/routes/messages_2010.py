"""Programmable Messaging (2010-04-01): fetching a text by its sid (an inbound one for
the time Twilio received it: the relay refuses a replayed STOP/START older than the
opt-out state it already holds), sending a text outside any conversation, and listing
the texts sent (`To`/`From` filters: how the relay looks for a reply it may have sent
before a crash)."""

from __future__ import annotations

from datetime import datetime
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandbox.twilio_sim.errors import TwilioApiError, bad_param, not_found
from app.sandbox.twilio_sim.routes.common import TwilioForm, runtime

router = APIRouter()


def _rfc2822(value: str | None) -> str | None:
    """The 2010-04-01 API's dates: 'Thu, 30 Jul 2015 20:12:31 +0000'."""
    if not value:
        return None
    return format_datetime(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _account(request: Request, account_sid: str) -> None:
    if account_sid != runtime(request).config.account_sid:
        raise TwilioApiError(
            401, 20003, "Authenticate", detail="The account does not match the credentials"
        )


@router.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
async def create_message(account_sid: str, request: Request, form: TwilioForm) -> JSONResponse:
    _account(request, account_sid)
    body = form.get("Body")
    if not isinstance(body, str):
        raise TwilioApiError(400, 21602, "Message body is required.")
    to, from_, service = (form.get(k) for k in ("To", "From", "MessagingServiceSid"))
    record = runtime(request).state.send_text(
        str(to or ""),
        str(from_) if from_ else None,
        str(service) if service else None,
        body,
    )
    return JSONResponse(_view(account_sid, record, runtime(request)), status_code=201)


@router.get("/2010-04-01/Accounts/{account_sid}/Messages.json")
async def list_messages(account_sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    """The sent texts, newest first, one page at a time (`PageSize`, `Page`)."""
    _account(request, account_sid)
    q = request.query_params
    try:
        size, number = int(q.get("PageSize", "50")), int(q.get("Page", "0"))
    except ValueError:
        raise bad_param("PageSize and Page must be integers") from None
    if not 1 <= size <= 1000 or number < 0:
        raise bad_param("PageSize must be between 1 and 1000, Page not negative")
    sim = runtime(request)
    found = sim.state.sent_texts(q.get("To"), q.get("From"))
    chunk = found[number * size : (number + 1) * size]
    path = f"/2010-04-01/Accounts/{account_sid}/Messages.json"
    filters = {k: v for k, v in (("To", q.get("To")), ("From", q.get("From"))) if v}

    def uri(n: int) -> str:
        return f"{path}?{urlencode({**filters, 'PageSize': size, 'Page': n})}"

    more = (number + 1) * size < len(found)
    return {
        "messages": [_view(account_sid, r, sim) for r in chunk],
        "page": number,
        "page_size": size,
        "start": number * size,
        "end": number * size + max(len(chunk) - 1, 0),
        "first_page_uri": uri(0),
        "previous_page_uri": uri(number - 1) if number > 0 else None,
        "next_page_uri": uri(number + 1) if more else None,
        "uri": uri(number),
    }


@router.get("/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json")
async def fetch_message(
    account_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    sim = runtime(request)
    if account_sid != sim.config.account_sid:
        raise not_found(request.url.path)
    sent = sim.state.sent_text(sid)
    if sent is not None:
        return _view(account_sid, sent, sim)
    record = sim.state.inbound_message(sid)
    if record is None:
        raise not_found(request.url.path)
    return _view(account_sid, {**record, "status": "received", "direction": "inbound"}, sim)


def _view(account_sid: str, record: dict[str, Any], sim: Any) -> dict[str, Any]:
    sid = record["sid"]
    created = _rfc2822(record.get("date_created"))
    return {
        "sid": sid,
        "account_sid": account_sid,
        "messaging_service_sid": sim.config.messaging_service_sid,
        "from": record["from"],
        "to": record["to"],
        "body": record["body"],
        "status": record["status"],
        "direction": record["direction"],
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
