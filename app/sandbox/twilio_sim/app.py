"""The simulator's HTTP face: Twilio's REST paths plus the `/_sim` control plane."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.sandbox.twilio_sim import views
from app.sandbox.twilio_sim.clock import SimClock, iso
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import TwilioApiError, bad_param, not_found
from app.sandbox.twilio_sim.faults import FaultError, FaultState, parse_faults
from app.sandbox.twilio_sim.models import RecordedRequest
from app.sandbox.twilio_sim.scheduler import Scheduler
from app.sandbox.twilio_sim.state import LineTypeError, SimState, is_e164
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher

log = logging.getLogger("app.sandbox.twilio_sim")

MAX_BODY = 256 * 1024


class SimRuntime:
    """One simulator: its state plus the worker threads that act on it."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config.validate()
        self.clock = SimClock(config.time_scale)
        self.faults = FaultState()
        self.dispatcher = WebhookDispatcher(
            config.auth_token,
            self.faults,
            timeout=config.webhook_timeout,
            max_attempts=config.webhook_max_attempts,
            retry_delay=config.webhook_retry_delay,
            workers=config.webhook_workers,
        )
        self.carrier = Scheduler("twilio-sim-carrier")
        self.state = SimState(config, self.clock, self.faults, self.dispatcher, self.carrier)
        self._stop = threading.Event()
        self._timer_thread: threading.Thread | None = None
        self._started = False
        self._start_lock = threading.Lock()

    def start(self) -> None:
        with self._start_lock:
            if self._started:
                return
            self._started = True
            self._stop.clear()
            self.dispatcher.start()
            self.carrier.start()
            self._timer_thread = threading.Thread(
                target=self._timer_loop, name="twilio-sim-timers", daemon=True
            )
            self._timer_thread.start()

    def stop(self) -> None:
        with self._start_lock:
            if not self._started:
                return
            self._started = False
            self._stop.set()
            if self._timer_thread is not None:
                self._timer_thread.join(5)
            self.carrier.stop()
            self.dispatcher.stop()

    def idle(self) -> bool:
        """No carrier work and no webhook delivery queued or running."""
        return self.carrier.idle() and self.dispatcher.idle()

    def _timer_loop(self) -> None:
        while not self._stop.wait(self.config.timer_interval):
            try:
                self.state.run_timers()
            except Exception:  # the loop must survive a bad conversation
                log.exception("timer loop failed")


# --------------------------------------------------------------------- helpers
def _rt(request: Request) -> SimRuntime:
    runtime: SimRuntime = request.app.state.sim
    return runtime


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _sim_error(status: int, reason: str, message: str) -> JSONResponse:
    # The /_sim control plane is ours, so it answers in the project's error shape.
    return JSONResponse({"code": status, "message": message, "reason": reason}, status)


def _twilio_error(err: TwilioApiError) -> JSONResponse:
    return JSONResponse(err.body(), err.status, headers=err.headers)


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


def _list(
    request: Request, items: list[dict[str, Any]], key: str, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    size, number = _paging(request)
    return views.page(items, key, _base(request), request.url.path, size, number, extra)


async def twilio_request(request: Request) -> FormData:
    """Authenticate like Twilio (HTTP basic, account SID + auth token), parse the
    form body and record the request for conformance checks."""
    rt = _rt(request)
    header = request.headers.get("authorization", "")
    ok = False
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            ok = hmac.compare_digest(user, rt.config.account_sid) and hmac.compare_digest(
                password, rt.config.auth_token
            )
        except (binascii.Error, UnicodeDecodeError):
            ok = False
    if not ok:
        raise TwilioApiError(
            401,
            20003,
            "Authenticate",
            headers={"WWW-Authenticate": 'Basic realm="Twilio API"'},
            detail="Your AccountSid or AuthToken was incorrect.",
        )
    form = FormData()
    if request.method == "POST":
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise TwilioApiError(413, 20001, "Request body too large")
        try:
            pairs: list[tuple[str, str | UploadFile]] = list(
                parse_qsl(raw.decode(), keep_blank_values=True)
            )
            form = FormData(pairs)
        except UnicodeDecodeError:
            raise bad_param("The request body must be UTF-8 form data") from None
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
    return form


# ---------------------------------------------------------------- Twilio API
api = APIRouter()
TwilioForm = Annotated[FormData, Depends(twilio_request)]


def _hook(request: Request) -> str | None:
    return request.headers.get("x-twilio-webhook-enabled")


@api.post("/v1/Conversations", status_code=201)
async def create_conversation(request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _rt(request)
    conv = rt.state.create_conversation(form, _hook(request))
    return views.conversation(conv, _base(request))


@api.post("/v1/ConversationWithParticipants", status_code=201)
async def create_conversation_with_participants(
    request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        conv = rt.state.create_conversation_with_participants(form, _hook(request))
        return views.conversation(conv, _base(request))


@api.get("/v1/Conversations")
async def list_conversations(request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _rt(request)
    state = request.query_params.get("State")
    with rt.state.lock:
        items = [views.conversation(c, _base(request)) for c in rt.state.list_conversations(state)]
    extra = {"State": state} if state else None
    return _list(request, items, "conversations", extra)


@api.get("/v1/Conversations/{sid}")
async def fetch_conversation(sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        return views.conversation(rt.state.get_conversation(sid), _base(request))


@api.post("/v1/Conversations/{sid}")
async def update_conversation(sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        conv = rt.state.update_conversation(sid, form, _hook(request))
        return views.conversation(conv, _base(request))


@api.delete("/v1/Conversations/{sid}", status_code=204)
async def delete_conversation(sid: str, request: Request, form: TwilioForm) -> Response:
    _rt(request).state.delete_conversation(sid, _hook(request))
    return Response(status_code=204)


@api.post("/v1/Conversations/{conversation_sid}/Participants", status_code=201)
async def create_participant(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    part = rt.state.add_participant(conversation_sid, form, _hook(request))
    return views.participant(part, rt.config.account_sid, _base(request))


@api.get("/v1/Conversations/{conversation_sid}/Participants")
async def list_participants(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        items = [
            views.participant(p, rt.config.account_sid, _base(request))
            for p in rt.state.list_participants(conversation_sid)
        ]
    return _list(request, items, "participants")


@api.get("/v1/Conversations/{conversation_sid}/Participants/{sid}")
async def fetch_participant(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        part = rt.state.get_participant(conversation_sid, sid)
        return views.participant(part, rt.config.account_sid, _base(request))


@api.post("/v1/Conversations/{conversation_sid}/Participants/{sid}")
async def update_participant(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        part = rt.state.update_participant(conversation_sid, sid, form, _hook(request))
        return views.participant(part, rt.config.account_sid, _base(request))


@api.delete("/v1/Conversations/{conversation_sid}/Participants/{sid}", status_code=204)
async def delete_participant(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    _rt(request).state.delete_participant(conversation_sid, sid, _hook(request))
    return Response(status_code=204)


@api.post("/v1/Conversations/{conversation_sid}/Messages", status_code=201)
async def create_message(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        msg = rt.state.add_message(conversation_sid, form, _hook(request))
        return views.message(msg, rt.config.account_sid, _base(request))


@api.get("/v1/Conversations/{conversation_sid}/Messages")
async def list_messages(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    order = request.query_params.get("Order")
    if order is not None and order.lower() not in ("asc", "desc"):
        raise bad_param("Order must be asc or desc")
    with rt.state.lock:
        items = [
            views.message(m, rt.config.account_sid, _base(request))
            for m in rt.state.list_messages(conversation_sid, order)
        ]
    return _list(request, items, "messages", {"Order": order} if order else None)


@api.get("/v1/Conversations/{conversation_sid}/Messages/{sid}")
async def fetch_message(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        msg = rt.state.get_message(conversation_sid, sid)
        return views.message(msg, rt.config.account_sid, _base(request))


@api.post("/v1/Conversations/{conversation_sid}/Messages/{sid}")
async def update_message(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        msg = rt.state.update_message(conversation_sid, sid, form, _hook(request))
        return views.message(msg, rt.config.account_sid, _base(request))


@api.delete("/v1/Conversations/{conversation_sid}/Messages/{sid}", status_code=204)
async def delete_message(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    _rt(request).state.delete_message(conversation_sid, sid, _hook(request))
    return Response(status_code=204)


@api.get("/v1/Conversations/{conversation_sid}/Messages/{message_sid}/Receipts")
async def list_receipts(
    conversation_sid: str,
    message_sid: str,
    request: Request,
    form: TwilioForm,
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        items = [
            views.receipt(r, rt.config.account_sid, _base(request))
            for r in rt.state.list_receipts(conversation_sid, message_sid)
        ]
    return _list(request, items, "delivery_receipts")


@api.get("/v1/Conversations/{conversation_sid}/Messages/{message_sid}/Receipts/{sid}")
async def fetch_receipt(
    conversation_sid: str,
    message_sid: str,
    sid: str,
    request: Request,
    form: TwilioForm,
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        receipt = rt.state.get_receipt(conversation_sid, message_sid, sid)
        return views.receipt(receipt, rt.config.account_sid, _base(request))


@api.post("/v1/Conversations/{conversation_sid}/Webhooks", status_code=201)
async def create_webhook(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        hook = rt.state.add_webhook(conversation_sid, form)
        return views.webhook(hook, rt.config.account_sid, _base(request))


@api.get("/v1/Conversations/{conversation_sid}/Webhooks")
async def list_webhooks(
    conversation_sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        items = [
            views.webhook(w, rt.config.account_sid, _base(request))
            for w in rt.state.list_webhooks(conversation_sid)
        ]
    return _list(request, items, "webhooks")


@api.get("/v1/Conversations/{conversation_sid}/Webhooks/{sid}")
async def fetch_webhook(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        hook = rt.state.get_webhook(conversation_sid, sid)
        return views.webhook(hook, rt.config.account_sid, _base(request))


@api.post("/v1/Conversations/{conversation_sid}/Webhooks/{sid}")
async def update_webhook(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    with rt.state.lock:
        hook = rt.state.update_webhook(conversation_sid, sid, form)
        return views.webhook(hook, rt.config.account_sid, _base(request))


@api.delete("/v1/Conversations/{conversation_sid}/Webhooks/{sid}", status_code=204)
async def delete_webhook(
    conversation_sid: str, sid: str, request: Request, form: TwilioForm
) -> Response:
    _rt(request).state.delete_webhook(conversation_sid, sid)
    return Response(status_code=204)


@api.get("/v1/ParticipantConversations")
async def participant_conversations(request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _rt(request)
    address = request.query_params.get("Address")
    identity = request.query_params.get("Identity")
    with rt.state.lock:
        items = [
            views.participant_conversation(c, p, _base(request))
            for c, p in rt.state.participant_conversations(address, identity)
        ]
    extra = {k: v for k, v in (("Address", address), ("Identity", identity)) if v}
    return _list(request, items, "conversations", extra)


# Lookup v2 ----------------------------------------------------------------
@api.get("/v2/PhoneNumbers/{phone_number}")
async def lookup_phone_number(
    phone_number: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _rt(request)
    fields = (request.query_params.get("Fields") or "").split(",")
    body = rt.state.lookup(phone_number, fields, request.query_params.get("CountryCode"))
    body["url"] = f"{_base(request)}/v2/PhoneNumbers/{body['phone_number']}"
    return body


# Messaging v1 (the Messaging Service and its sender pool) --------------------
def _service(request: Request, sid: str) -> SimRuntime:
    rt = _rt(request)
    if sid != rt.config.messaging_service_sid:
        raise not_found(f"/v1/Services/{sid}")
    return rt


def _pool_number(rt: SimRuntime, base: str, number: str, pn_sid: str) -> dict[str, Any]:
    service = rt.config.messaging_service_sid
    return {
        "sid": pn_sid,
        "account_sid": rt.config.account_sid,
        "service_sid": service,
        "date_created": iso(rt.state.messaging.created),
        "date_updated": iso(rt.state.messaging.created),
        "phone_number": number,
        "country_code": "US",
        "capabilities": ["SMS"],
        "url": f"{base}/v1/Services/{service}/PhoneNumbers/{pn_sid}",
    }


@api.get("/v1/Services/{service_sid}")
async def fetch_service(service_sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _service(request, service_sid)
    base = _base(request)
    return {
        "sid": service_sid,
        "account_sid": rt.config.account_sid,
        "friendly_name": "Web2Text simulator pool",
        "date_created": iso(rt.state.messaging.created),
        "date_updated": iso(rt.state.messaging.created),
        "inbound_request_url": rt.state.webhook_url,
        "inbound_method": "POST",
        "use_inbound_webhook_on_number": False,
        "sticky_sender": True,
        "area_code_geomatch": True,
        "url": f"{base}/v1/Services/{service_sid}",
        "links": {"phone_numbers": f"{base}/v1/Services/{service_sid}/PhoneNumbers"},
    }


@api.get("/v1/Services/{service_sid}/PhoneNumbers")
async def list_pool(service_sid: str, request: Request, form: TwilioForm) -> dict[str, Any]:
    rt = _service(request, service_sid)
    base = _base(request)
    items = [_pool_number(rt, base, n, pn) for n, pn in rt.state.pool.items()]
    return _list(request, items, "phone_numbers")


@api.get("/v1/Services/{service_sid}/PhoneNumbers/{sid}")
async def fetch_pool_number(
    service_sid: str, sid: str, request: Request, form: TwilioForm
) -> dict[str, Any]:
    rt = _service(request, service_sid)
    for number, pn in rt.state.pool.items():
        if sid in (pn, number):
            return _pool_number(rt, _base(request), number, pn)
    raise not_found(f"/v1/Services/{service_sid}/PhoneNumbers/{sid}")


# ------------------------------------------------------------ control plane
control = APIRouter(prefix="/_sim")


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise _ControlError(413, "body_too_large", "The request body is too large")
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        raise _ControlError(400, "invalid_json", "The body must be JSON") from None


class _ControlError(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


@control.post("/inbound")
async def sim_inbound(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict) or not all(
        isinstance(body.get(k), str) for k in ("from", "to", "body")
    ):
        raise _ControlError(400, "invalid_inbound", 'Expected {"from", "to", "body"} strings')
    try:
        return _rt(request).state.inbound(body["from"], body["to"], body["body"])
    except TwilioApiError as err:
        raise _ControlError(400, "invalid_inbound", err.message) from None


@control.get("/handset/{phone}")
async def sim_handset(phone: str, request: Request) -> dict[str, Any]:
    if not is_e164(phone):
        raise _ControlError(400, "invalid_phone", "The phone must be an E.164 number")
    return {"messages": _rt(request).state.handset(phone)}


@control.post("/lookup")
async def sim_lookup(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    if not isinstance(body, dict):
        raise _ControlError(400, "invalid_lookup", "Expected an object of number: line type")
    try:
        _rt(request).state.set_line_types(body)
    except LineTypeError as err:
        raise _ControlError(400, err.reason, str(err)) from None
    return {"line_types": dict(_rt(request).state.line_types)}


@control.post("/faults")
async def sim_faults(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    try:
        faults = parse_faults(body)
    except FaultError as err:
        raise _ControlError(400, "invalid_faults", str(err)) from None
    _rt(request).faults.set(faults)
    return {"faults": faults.__dict__}


@control.get("/faults")
async def sim_get_faults(request: Request) -> dict[str, Any]:
    return {"faults": _rt(request).faults.snapshot().__dict__}


@control.post("/reset")
async def sim_reset(request: Request) -> dict[str, Any]:
    _rt(request).state.reset()
    return {"reset": True}


@control.post("/tick")
async def sim_tick(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    seconds = body.get("seconds", 0) if isinstance(body, dict) else None
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise _ControlError(400, "invalid_tick", '"seconds" must be a non-negative number')
    rt = _rt(request)
    now = rt.clock.advance(float(seconds))
    changed = rt.state.run_timers()
    return {"now": iso(now), "changed": changed}


@control.post("/webhook-url")
async def sim_webhook_url(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    url = body.get("url") if isinstance(body, dict) else None
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise _ControlError(400, "invalid_url", '"url" must be an http(s) URL or null')
    _rt(request).state.set_webhook_url(url)
    return {"url": url}


@control.get("/idle")
async def sim_idle(request: Request) -> dict[str, Any]:
    return {"idle": _rt(request).idle()}


# --------------------------------------------------------------------- factory
def create_sim_app(config: SimConfig) -> FastAPI:
    runtime = SimRuntime(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime.start()
        try:
            yield
        finally:
            runtime.stop()

    app = FastAPI(title="Twilio simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sim = runtime

    @app.middleware("http")
    async def inject_faults(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if path.startswith("/_sim") or path == "/healthz":
            response: Response = await call_next(request)
            return response
        faults = runtime.faults.snapshot()
        if faults.latency_ms:
            await asyncio.sleep(faults.latency_ms / 1000)
        if runtime.faults.roll(faults.rate_429):
            return _twilio_error(
                TwilioApiError(429, 20429, "Too Many Requests", headers={"Retry-After": "1"})
            )
        if runtime.faults.roll(faults.rate_5xx):
            status = runtime.faults.choice([500, 503])
            message = "Internal Server Error" if status == 500 else "Service Unavailable"
            return _twilio_error(TwilioApiError(status, 20000 + status, message))
        if runtime.faults.roll(faults.rate_5xx_after_commit):
            await call_next(request)  # the change happens; the caller never hears of it
            return _twilio_error(TwilioApiError(500, 20500, "Internal Server Error"))
        response = await call_next(request)
        return response

    @app.exception_handler(TwilioApiError)
    async def on_twilio_error(request: Request, err: TwilioApiError) -> JSONResponse:
        return _twilio_error(err)

    @app.exception_handler(_ControlError)
    async def on_control_error(request: Request, err: _ControlError) -> JSONResponse:
        return _sim_error(err.status, err.reason, err.message)

    @app.exception_handler(RequestValidationError)
    async def on_validation(request: Request, err: RequestValidationError) -> JSONResponse:
        if request.url.path.startswith("/_sim"):
            return _sim_error(400, "invalid_request", "The request is not valid")
        return _twilio_error(bad_param("The request is not valid"))

    @app.exception_handler(StarletteHTTPException)
    async def on_http(request: Request, err: StarletteHTTPException) -> JSONResponse:
        if request.url.path.startswith("/_sim"):
            return _sim_error(
                err.status_code,
                "not_found" if err.status_code == 404 else "http_error",
                str(err.detail),
            )
        if err.status_code == 404:
            return _twilio_error(not_found(request.url.path))
        if err.status_code == 405:
            return _twilio_error(TwilioApiError(405, 20004, "Method not allowed"))
        return _twilio_error(
            TwilioApiError(err.status_code, 20000 + err.status_code, str(err.detail))
        )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api)
    app.include_router(control)
    return app
