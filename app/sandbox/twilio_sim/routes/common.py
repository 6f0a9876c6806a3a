"""What every route shares: the runtime, Twilio's authentication and request log,
paging, and the JSON body of a `/_sim` request."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import Depends, Request
from starlette.datastructures import FormData, UploadFile

from app.sandbox.twilio_sim import views
from app.sandbox.twilio_sim.errors import ControlError, TwilioApiError, bad_param
from app.sandbox.twilio_sim.models import RecordedRequest
from app.sandbox.twilio_sim.runtime import SimRuntime
from app.sandbox.twilio_sim.state.media import MAX_MEDIA_BYTES

MAX_BODY = 256 * 1024
MAX_MEDIA_BODY = MAX_MEDIA_BYTES


def runtime(request: Request) -> SimRuntime:
    sim: SimRuntime = request.app.state.sim
    return sim


def base_url(request: Request) -> str:
    """The simulator's own address, for the absolute URLs in every resource."""
    return str(request.base_url).rstrip("/")


def webhook_header(request: Request) -> str | None:
    return request.headers.get("x-twilio-webhook-enabled")


def _paging(request: Request) -> tuple[int, int]:
    q = request.query_params
    try:
        size = int(q.get("PageSize", "50"))
        number = int(q.get("Page", "0"))
    except ValueError:
        raise bad_param("PageSize and Page must be integers") from None
    if not 1 <= size <= 1000:
        raise bad_param("PageSize must be between 1 and 1000")
    if number < 0:
        raise bad_param("Page must not be negative")
    return size, number


def page_of(
    request: Request, items: list[dict[str, Any]], key: str, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """The page of `items` the request's PageSize and Page ask for."""
    size, number = _paging(request)
    return views.page(items, key, base_url(request), request.url.path, size, number, extra)


def _authenticated(request: Request, rt: SimRuntime) -> bool:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return False
    # Bytes, not str: compare_digest refuses str with non-ASCII characters.
    user_ok = hmac.compare_digest(user.encode(), rt.config.account_sid.encode())
    return user_ok and hmac.compare_digest(password.encode(), rt.config.auth_token.encode())


async def _form(request: Request) -> FormData:
    if request.method != "POST":
        return FormData()
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise TwilioApiError(413, 20001, "Request body too large")
    try:
        pairs: list[tuple[str, str | UploadFile]] = list(
            parse_qsl(raw.decode(), keep_blank_values=True)
        )
    except UnicodeDecodeError:
        raise bad_param("The request body must be UTF-8 form data") from None
    return FormData(pairs)


def _record(request: Request, rt: SimRuntime, form: FormData) -> None:
    route = request.scope.get("route")
    rt.state.record_request(
        RecordedRequest(
            method=request.method,
            path=request.url.path,
            route=getattr(route, "path", request.url.path),
            query=list(request.query_params.multi_items()),
            form=[(k, v) for k, v in form.multi_items() if isinstance(v, str)],
            headers={
                k.lower(): v for k, v in request.headers.items() if k.lower() != "authorization"
            },
        )
    )


def _require_auth(request: Request, rt: SimRuntime) -> None:
    if not _authenticated(request, rt):
        raise TwilioApiError(
            401,
            20003,
            "Authenticate",
            headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            detail="Your AccountSid or AuthToken was incorrect.",
        )


async def twilio_request(request: Request) -> FormData:
    """Authenticate like Twilio (HTTP basic, account SID + auth token), parse the
    form body and record the request for conformance checks."""
    rt = runtime(request)
    _require_auth(request, rt)
    form = await _form(request)
    _record(request, rt, form)
    return form


async def twilio_raw_body(request: Request) -> bytes:
    """Like `twilio_request` for a raw (non-form) body, such as an MCS upload."""
    rt = runtime(request)
    _require_auth(request, rt)
    _record(request, rt, FormData())
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_MEDIA_BODY:
            raise TwilioApiError(413, 20001, "Media too large")
        chunks.append(chunk)
    return b"".join(chunks)


TwilioForm = Annotated[FormData, Depends(twilio_request)]
TwilioRawBody = Annotated[bytes, Depends(twilio_raw_body)]


async def json_body(request: Request) -> Any:
    """A `/_sim` request's JSON body; an empty body is `{}`."""
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ControlError(413, "body_too_large", "The request body is too large")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise ControlError(400, "invalid_json", "The body must be JSON") from None
