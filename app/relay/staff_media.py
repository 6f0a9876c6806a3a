"""Photos for staff: `POST /v1/media` (a raw JPEG, PNG or GIF body, at most 5 MB) →
`{"sid"}`, attached to a send by `mediaSids`; `GET /v1/media/{MediaSid}` serves a
photo of a conversation of the key's locations (or the key's own upload). The bytes
come from Twilio's Media Content Service (`app.relay.twilio_media`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.relay import conversation_store, media
from app.relay.auth import Principal, require_staff
from app.relay.context import RelayContext, context_of
from app.relay.errors import ApiError
from app.relay.twilio_media import MediaError
from app.relay.versioned import Item

router = APIRouter(prefix="/v1", tags=["staff"])
Staff = Annotated[Principal, Depends(require_staff())]
#: the one path whose body may be larger than W2T_MAX_BODY_BYTES
UPLOAD_PATH = "/v1/media"
UPLOAD_MAX_BYTES = media.MAX_UPLOAD_BYTES


def _refused(exc: media.MediaRefused) -> ApiError:
    return ApiError(exc.status, exc.reason, exc.message)


def media_sid_of(data: dict[str, Any]) -> str | None:
    """The send's `mediaSids` (at most one: a Twilio message carries one attachment)."""
    sids = data.get("mediaSids")
    if sids is None or sids == []:
        return None
    if not isinstance(sids, list) or not all(isinstance(s, str) for s in sids):
        raise ApiError(400, "invalid_request", "mediaSids: a list of media sids is required")
    if len(sids) > 1:
        raise ApiError(
            422, "too_many_media", "mediaSids: one photo per message; send the others apart"
        )
    if not sids[0].startswith("ME") or len(sids[0]) != 34:
        raise ApiError(422, "unknown_media", "mediaSids: not a media sid from POST /v1/media")
    return str(sids[0])


def attach_to_send(
    ctx: RelayContext, media_sid: str | None, staff_id: str, conv: Item
) -> list[Item] | None:
    """The photo joins the conversation it is sent in; the message's media entries."""
    if media_sid is None:
        return None
    try:
        item = media.attach_upload(
            ctx.tables,
            media_sid,
            staff_id,
            str(conv["ConversationSid"]),
            conversation_store.conversation_locations(conv),
        )
    except media.MediaRefused as exc:
        raise _refused(exc) from None
    return [
        {
            "Sid": media_sid,
            "ContentType": item.get("ContentType", ""),
            "Filename": item.get("Filename", ""),
            "Size": int(item.get("Size") or 0),
        }
    ]


@router.post("/media", status_code=201)
async def upload_media(request: Request, staff: Staff) -> JSONResponse:
    ctx = context_of(request)
    data = await request.body()
    try:
        kind = media.check_upload(request.headers.get("content-type", ""), data)
    except media.MediaRefused as exc:
        raise _refused(exc) from None
    if ctx.twilio is None:
        raise ApiError(503, "upstream_unavailable", "Twilio is not configured")
    filename = request.headers.get("x-filename") or None
    try:
        uploaded = await run_in_threadpool(ctx.twilio.media.upload, data, kind, filename)
    except MediaError:
        raise ApiError(502, "upstream_error", "Twilio did not take the image; try again") from None
    await run_in_threadpool(
        media.remember_upload, ctx.tables, uploaded, staff.staff_id or "", list(staff.locations)
    )
    return JSONResponse({"sid": uploaded["sid"]}, status_code=201)


@router.get("/media/{sid}")
async def get_media(
    request: Request, staff: Staff, sid: Annotated[str, Path(max_length=64)]
) -> Response:
    ctx = context_of(request)
    item = await run_in_threadpool(media.get_media, ctx.tables, sid) if sid.isalnum() else None
    if item is None:
        raise ApiError(404, "media_not_found", "No photo with this sid")
    mine = item.get("UploadedBy") == staff.staff_id and not item.get("ConversationSid")
    if not mine and not set(item.get("LocationIds") or []) & set(staff.locations):
        raise ApiError(403, "forbidden", "This staff key has no access to that photo")
    if ctx.twilio is None:
        raise ApiError(503, "upstream_unavailable", "Twilio is not configured")
    try:
        content = await run_in_threadpool(ctx.twilio.media.content, sid)
    except MediaError:
        raise ApiError(502, "upstream_error", "Twilio did not serve the photo; try again") from None
    kind = str(item.get("ContentType") or content.content_type or "application/octet-stream")
    return Response(
        content.data,
        media_type=kind,
        headers={"Cache-Control": "private, max-age=86400, immutable"},
    )
