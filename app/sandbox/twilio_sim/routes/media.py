"""Media: the Media Content Service (`/v1/Services/{IS}/Media`: upload a raw body, fetch
its JSON with a temporary content URL), that temporary URL itself (no auth, signed and
expiring, like media.us1.twilio.com), the media of a received MMS
(`/2010-04-01/Accounts/{AC}/Messages/{SM}/Media/{ME}`) and the Conversations
`/v1/Configuration` that names the default chat service."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from app.sandbox.twilio_sim import views
from app.sandbox.twilio_sim.clock import iso
from app.sandbox.twilio_sim.errors import not_found
from app.sandbox.twilio_sim.models import Media
from app.sandbox.twilio_sim.routes.common import (
    TwilioForm,
    TwilioRawBody,
    base_url,
    runtime,
)

router = APIRouter()

_FILENAME = re.compile(r'filename="?([^";]+)"?')


def _filename(request: Request) -> str | None:
    """The upload's name: `?Filename=` or a Content-Disposition filename."""
    name = request.query_params.get("Filename")
    if name:
        return name[:255]
    match = _FILENAME.search(request.headers.get("content-disposition", ""))
    return match.group(1)[:255] if match else None


def _media_json(request: Request, media: Media) -> dict[str, Any]:
    rt = runtime(request)
    query = rt.state.media.temporary_query(media.sid)
    return views.media(media, rt.config.account_sid, base_url(request), query)


@router.post("/v1/Services/{service_sid}/Media", status_code=201)
async def upload_media(service_sid: str, request: Request, body: TwilioRawBody) -> dict[str, Any]:
    rt = runtime(request)
    content_type = request.headers.get("content-type", "")
    media = rt.state.upload_media(service_sid, content_type, _filename(request), body)
    return _media_json(request, media)


@router.get("/v1/Services/{service_sid}/Media/{sid}")
async def fetch_media(
    service_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    return _media_json(request, runtime(request).state.get_media(service_sid, sid))


@router.get("/v1/Services/{service_sid}/Media/{sid}/Content")
async def media_content(service_sid: str, sid: str, request: Request, form: TwilioForm) -> Response:
    """Twilio redirects to the temporary URL."""
    rt = runtime(request)
    media = rt.state.get_media(service_sid, sid)
    location = f"{base_url(request)}/media/{media.sid}?{rt.state.media.temporary_query(sid)}"
    return Response(status_code=302, headers={"Location": location})


@router.get("/media/{sid}")
async def temporary_media(sid: str, request: Request) -> Response:
    """The temporary content URL: no auth, but a valid, unexpired signature."""
    q = request.query_params
    media = runtime(request).state.media.by_temporary_url(
        sid, q.get("Expires", ""), q.get("Signature", "")
    )
    return Response(media.data, media_type=media.content_type)


def _message_media(request: Request, account: str, message: str, sid: str) -> Media:
    rt = runtime(request)
    media = rt.state.inbound_texts.message_media(message, sid)
    if account != rt.config.account_sid or media is None:
        raise not_found(request.url.path)
    return media


@router.get("/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{sid}.json")
async def message_media_json(
    account_sid: str, message_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    media = _message_media(request, account_sid, message_sid, sid)
    path = f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{sid}"
    return {
        "sid": media.sid,
        "account_sid": account_sid,
        "parent_sid": message_sid,
        "content_type": media.content_type,
        "date_created": iso(media.date_created),
        "date_updated": iso(media.date_created),
        "uri": f"{path}.json",
    }


@router.get("/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{sid}")
async def message_media_content(
    account_sid: str, message_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    media = _message_media(request, account_sid, message_sid, sid)
    return Response(media.data, media_type=media.content_type)


@router.get("/v1/Configuration")
async def configuration(request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = runtime(request)
    base = base_url(request)
    return {
        "account_sid": rt.config.account_sid,
        "default_chat_service_sid": rt.config.chat_service_sid,
        "default_messaging_service_sid": rt.config.messaging_service_sid,
        "default_inactive_timer": None,
        "default_closed_timer": None,
        "url": f"{base}/v1/Configuration",
        "links": {
            "service": f"{base}/v1/Services/{rt.config.chat_service_sid}",
            "webhooks": f"{base}/v1/Configuration/Webhooks",
        },
    }
