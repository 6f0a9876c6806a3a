"""The relay's FastAPI application: `create_app(settings) -> FastAPI`."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from app.relay import (
    lead_api,
    lead_sync_api,
    metrics,
    presence_api,
    scheduled_api,
    snapshot_api,
    staff_api,
    staff_leads,
    staff_media,
    staff_optout,
    stream_api,
    templates_api,
    webhooks,
)
from app.relay.background import BackgroundWorkers
from app.relay.cache import RelayCaches
from app.relay.changes import ChangeLog
from app.relay.config import Settings
from app.relay.connectors.registry import Connectors
from app.relay.context import RelayContext
from app.relay.ddb import Tables
from app.relay.errors import ApiError, error_body
from app.relay.idempotency import IdempotencyStore
from app.relay.integrations import REGISTRY
from app.relay.lead_lock import LeadLock
from app.relay.leads import LeadService
from app.relay.logs import configure_logging, request_id_var
from app.relay.metrics import RelayMetrics
from app.relay.pool import ProxyPool
from app.relay.presence import PresenceStore, PresenceWatch
from app.relay.ratelimit import Limits
from app.relay.scheduled_dispatch import ScheduleDispatcher
from app.relay.staff_media import UPLOAD_MAX_BYTES, UPLOAD_PATH
from app.relay.stream import HeadWatch
from app.relay.tables import CHANGE_LOG, IDEMPOTENCY
from app.relay.twilio_client import TwilioGateway

log = logging.getLogger("app.relay.http")

_RID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

_HTTP_REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "too_many_requests",
}


class RelayMiddleware:
    """Request id, body size cap (413 before the app sees a byte), access log."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body = max_body_bytes

    def _limit(self, scope: Scope) -> tuple[int, str]:
        """The body cap of this request, and the reason a larger body gets."""
        if scope.get("path") == UPLOAD_PATH and scope.get("method") == "POST":
            return UPLOAD_MAX_BYTES, "media_too_large"
        return self.max_body, "payload_too_large"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rid = headers.get("x-request-id", "")
        if not _RID_RE.match(rid):
            rid = uuid.uuid4().hex
        token = request_id_var.set(rid)
        started = time.perf_counter()
        status_holder = {"status": 0}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            limit, reason = self._limit(scope)
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > limit):
                await _too_large(send_wrapper, reason)
            elif scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
                await self._with_whole_body(scope, receive, send_wrapper, limit, reason)
            else:
                await self.app(scope, receive, send_wrapper)
        finally:
            if scope.get("path") not in ("/healthz", "/metrics"):
                log.info(
                    "request",
                    extra={
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status_holder["status"],
                        "ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
            request_id_var.reset(token)

    async def _with_whole_body(
        self, scope: Scope, receive: Receive, send: Send, limit: int, reason: str
    ) -> None:
        """Read the body up to the cap (413 past it, before the app sees a byte),
        then hand it to the app as one message."""
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await _too_large(send, reason)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _too_large(send: Send, reason: str = "payload_too_large") -> None:
    await _send_error(send, 413, reason, "Request body is too large")


async def _send_error(send: Send, status: int, reason: str, message: str) -> None:
    payload = json.dumps(error_body(status, message, reason)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path"))
        parts.append(f"{loc or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "Request is invalid"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        reason = _HTTP_REASONS.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else reason.replace("_", " ")
        return JSONResponse(
            error_body(exc.status_code, message, reason),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            error_body(400, _validation_message(exc), "invalid_request"), status_code=400
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return JSONResponse(error_body(500, "Internal error", "internal_error"), status_code=500)


def build_context(settings: Settings, twilio_client: Client | None = None) -> RelayContext:
    """The relay's services, built once per app. `twilio_client`: a twilio `Client`
    to use instead of building one."""
    tables = Tables.from_settings(settings)
    change_log = ChangeLog(
        tables.client,
        tables.name(CHANGE_LOG),
        retention_s=settings.change_retention_days * 86400,
    )
    twilio = TwilioGateway(settings, client=twilio_client)
    pool = ProxyPool(tables, low_water=settings.pool_low_water)
    caches = RelayCaches()
    connectors = Connectors(
        settings.connectors, directory_cache=caches.directory, cache_ttl_s=settings.cache_ttl_s
    )
    metrics = RelayMetrics(tables, twilio, pool)
    # w2t_connector_calls_total{system, result}
    metrics.registry.register(connectors.stats.collector())
    ctx = RelayContext(
        settings=settings,
        tables=tables,
        twilio=twilio,
        change_log=change_log,
        idempotency=IdempotencyStore(
            tables.client, tables.name(IDEMPOTENCY), lease_seconds=settings.idempotency_lease_s
        ),
        pool=pool,
        metrics=metrics,
        # streams poll every `stream_poll_s`: heads a little younger than that are fresh
        head_watch=HeadWatch(change_log, settings.stream_poll_s * 0.9),
        presence=PresenceWatch(PresenceStore(tables), settings.presence_max_age_s),
        caches=caches,
        # Twilio, then the configured connectors in the original's order
        integrations=[*REGISTRY, *connectors.integrations],
        connectors=connectors,
        webhook_validator=RequestValidator(settings.twilio_auth_token),
        lead_lock=LeadLock(tables, settings.stuck_after_s),
    )
    ctx.leads = LeadService(ctx)
    ctx.limits = Limits(tables, clock=lambda: ctx.clock())
    ctx.scheduler = ScheduleDispatcher(ctx)
    return ctx


def _lifespan(ctx: RelayContext) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Start-up (the pool, the background workers) and shut-down of the app."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.suppress(Exception):  # a missing table is reported by /healthz
            await run_in_threadpool(ctx.pool.refresh)
        workers = BackgroundWorkers(ctx) if ctx.settings.background else None
        if workers is not None:
            workers.start()
        try:
            yield
        finally:
            if workers is not None:
                workers.stop()
            # queued lead work is resumed by the sweeper anyway
            ctx.leads.executor.shutdown(wait=False, cancel_futures=True)

    return lifespan


def create_app(settings: Settings, *, twilio_client: Client | None = None) -> FastAPI:
    """The relay app. `twilio_client`: a twilio `Client` to use instead of building one."""
    configure_logging()
    ctx = build_context(settings, twilio_client)
    app = FastAPI(
        title="Web2Text relay",
        version="2.0.0",
        lifespan=_lifespan(ctx),
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    _install_error_handlers(app)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> JSONResponse:
        try:
            ctx.tables.ping()
        except Exception as exc:
            log.warning("healthz: DynamoDB unreachable", extra={"error": type(exc).__name__})
            return JSONResponse(
                error_body(503, "DynamoDB is unreachable", "dynamodb_unavailable"), status_code=503
            )
        return JSONResponse({"status": "ok", "dynamodb": "ok", "prefix": settings.table_prefix})

    for module in (
        lead_api,
        webhooks,
        staff_api,
        stream_api,
        snapshot_api,
        presence_api,
        templates_api,
        lead_sync_api,
        staff_media,
        staff_leads,
        staff_optout,
        scheduled_api,
        metrics,
    ):
        app.include_router(module.router)
    metrics.install(app, ctx.metrics)

    app.add_middleware(RelayMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
