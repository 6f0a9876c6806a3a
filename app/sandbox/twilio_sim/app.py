"""The simulator's FastAPI app: the routers of routes/, the API faults middleware and
the error handlers of both planes (Twilio's shape on Twilio's paths, ours on /_sim)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import ControlError, TwilioApiError, bad_param, not_found
from app.sandbox.twilio_sim.routes import CONTROL_ROUTERS, TWILIO_ROUTERS
from app.sandbox.twilio_sim.routes.common import runtime
from app.sandbox.twilio_sim.runtime import SimRuntime

CONTROL_PREFIX = "/_sim"
TEMPORARY_MEDIA_PREFIX = "/media/"


def _is_control(request: Request) -> bool:
    return request.url.path.startswith(CONTROL_PREFIX)


def _twilio_error(err: TwilioApiError) -> JSONResponse:
    return JSONResponse(err.body(), err.status, headers=err.headers)


def _control_error(err: ControlError) -> JSONResponse:
    return JSONResponse(err.body(), err.status)


async def inject_faults(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """The API faults of `/_sim/faults`, on Twilio's paths only."""
    rt = runtime(request)
    rt.state.note_public_url(str(request.base_url).rstrip("/"))
    if _is_control(request) or request.url.path == "/healthz":
        return await call_next(request)
    if request.url.path.startswith(TEMPORARY_MEDIA_PREFIX):
        return await call_next(request)  # the media host, not the API
    faults = rt.faults.snapshot()
    if faults.latency_ms:
        await asyncio.sleep(faults.latency_ms / 1000)
    if rt.faults.roll(faults.rate_429):
        return _twilio_error(
            TwilioApiError(429, 20429, "Too Many Requests", headers={"Retry-After": "1"})
        )
    if rt.faults.roll(faults.rate_5xx):
        status = rt.faults.choice([500, 503])
        message = "Internal Server Error" if status == 500 else "Service Unavailable"
        return _twilio_error(TwilioApiError(status, 20000 + status, message))
    if rt.faults.roll(faults.rate_5xx_after_commit):
        await call_next(request)  # the change happens; the caller never hears of it
        return _twilio_error(TwilioApiError(500, 20500, "Internal Server Error"))
    return await call_next(request)


async def on_twilio_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, TwilioApiError)
    return _twilio_error(err)


async def on_control_error(request: Request, err: Exception) -> JSONResponse:
    assert isinstance(err, ControlError)
    return _control_error(err)


async def on_validation(request: Request, err: Exception) -> JSONResponse:
    if _is_control(request):
        return _control_error(ControlError(400, "invalid_request", "The request is not valid"))
    return _twilio_error(bad_param("The request is not valid"))


async def on_http(request: Request, err: Exception) -> JSONResponse:
    """Starlette's own 404/405 and friends, in the shape of the plane asked."""
    assert isinstance(err, StarletteHTTPException)
    if _is_control(request):
        reason = "not_found" if err.status_code == 404 else "http_error"
        return _control_error(ControlError(err.status_code, reason, str(err.detail)))
    if err.status_code == 404:
        return _twilio_error(not_found(request.url.path))
    if err.status_code == 405:
        return _twilio_error(TwilioApiError(405, 20004, "Method not allowed"))
    return _twilio_error(TwilioApiError(err.status_code, 20000 + err.status_code, str(err.detail)))


async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def create_sim_app(config: SimConfig) -> FastAPI:
    """The simulator as an ASGI app; its lifespan starts and stops the worker threads."""
    sim = SimRuntime(config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        sim.start()
        try:
            yield
        finally:
            sim.stop()

    app = FastAPI(title="Twilio simulator", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.sim = sim
    app.middleware("http")(inject_faults)
    app.add_exception_handler(TwilioApiError, on_twilio_error)
    app.add_exception_handler(ControlError, on_control_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_api_route("/healthz", healthz, methods=["GET"])
    for router in (*TWILIO_ROUTERS, *CONTROL_ROUTERS):
        app.include_router(router)
    return app
