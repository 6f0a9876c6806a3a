"""The relay's FastAPI application: `create_app(settings) -> FastAPI`."""

from __future__ import annotations

import contextlib
import importlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.relay.config import Settings
from app.relay.context import RelayContext
from app.relay.ddb import Tables
from app.relay.errors import ApiError, error_body
from app.relay.logs import configure_logging, request_id_var

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
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
                await _send_error(
                    send_wrapper, 413, "payload_too_large", "Request body is too large"
                )
                return
            chunks: list[bytes] = []
            size = 0
            more = True
            if scope.get("method") in ("POST", "PUT", "PATCH", "DELETE"):
                while more:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_body:
                        await _send_error(
                            send_wrapper, 413, "payload_too_large", "Request body is too large"
                        )
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

                await self.app(scope, replay, send_wrapper)
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


async def _send_error(send: Send, status: int, reason: str, message: str) -> None:
    import json

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


def _optional_router(module: str) -> Any:
    """The router of a module that may not exist yet (built by another engineer)."""
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name == module:
            return None
        raise
    return getattr(mod, "router", None)


def build_context(settings: Settings, twilio_client: Any = None) -> RelayContext:
    from app.relay.feed import make_change_log

    tables = Tables.from_settings(settings)
    ctx = RelayContext(settings=settings, tables=tables)
    ctx.change_log = make_change_log(tables)
    from app.relay.ratelimit import Limits

    ctx.limits = Limits(tables, clock=lambda: ctx.clock())
    try:
        from app.relay.idempotency import IdempotencyStore
        from app.relay.tables import IDEMPOTENCY

        ctx.idempotency = IdempotencyStore(tables.client, tables.name(IDEMPOTENCY))
    except ImportError:  # pragma: no cover
        ctx.idempotency = None
    try:
        from app.relay.twilio_client import TwilioGateway

        ctx.twilio = TwilioGateway(settings, client=twilio_client)
    except ImportError:  # pragma: no cover - before the Twilio module lands
        ctx.twilio = None
    try:
        from app.relay.pool import ProxyPool

        ctx.pool = ProxyPool(tables, low_water=settings.pool_low_water)
    except ImportError:  # pragma: no cover
        ctx.pool = None
    return ctx


def create_app(settings: Settings, *, twilio_client: Any = None) -> FastAPI:
    """The relay app. `twilio_client`: a twilio `Client` to use instead of building one."""
    configure_logging()
    ctx = build_context(settings, twilio_client)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        workers = None
        if ctx.pool is not None:
            with contextlib.suppress(Exception):  # a missing table is reported by /healthz
                await run_in_threadpool(ctx.pool.refresh)
        try:
            from app.relay.background import BackgroundWorkers

            if settings.background:
                workers = BackgroundWorkers(ctx)
                workers.start()
        except ImportError:  # pragma: no cover
            workers = None
        try:
            yield
        finally:
            if workers is not None:
                workers.stop()
            leads = ctx.extras.get("leads")
            if leads is not None:  # queued lead work is resumed by the sweeper anyway
                leads.executor.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(
        title="Web2Text relay",
        version="2.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.settings = settings
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
        "app.relay.lead_api",
        "app.relay.webhooks",
        "app.relay.staff_api",
        "app.relay.metrics",
    ):
        router = _optional_router(module)
        if router is not None:
            app.include_router(router)
    with contextlib.suppress(ImportError, AttributeError):
        from app.relay import metrics as _metrics

        install = getattr(_metrics, "install", None)
        if install is not None:
            install(app)

    app.add_middleware(RelayMiddleware, max_body_bytes=settings.max_body_bytes)
    return app
