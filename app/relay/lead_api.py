"""HTTP routes of the lead service (compatible paths and answers).

Authorization runs first (a dependency), the body is read and parsed only
after it. Every POST accepts an `idempotency-key` header (same answer for
24 h, via `app.relay.idempotency`) and a `/send` suffix (202 at once, the
handler runs in the background).
"""

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from app.relay.auth import Principal, authenticate_async, check_key_rate, require_endpoint
from app.relay.context import context_of
from app.relay.errors import ApiError

log = logging.getLogger("app.relay.lead_api")
router = APIRouter()

_LEAD_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["UniversalRetailerId", "Lead"],
    "properties": {
        "LeadType": {"type": "string", "enum": ["WEB2TEXT", "ACTON"]},
        "UniversalRetailerId": {"type": "string", "format": "uuid"},
        "SyncImmediately": {"type": "boolean"},
        "LocationId": {"type": "string", "format": "uuid"},
        "Lead": {
            "type": "object",
            "required": ["PageUrl", "Name", "PhoneNumber", "CustomerMessage"],
            "properties": {
                "LocationId": {"type": "string", "format": "uuid"},
                "PageUrl": {"type": "string"},
                "IPAddress": {"type": "string"},
                "Name": {"type": "string"},
                "PhoneNumber": {"type": "string"},
                "PreferredMethodOfContact": {"type": "string", "enum": ["text", "phone"]},
                "CustomerMessage": {"type": "string"},
                "AssociatedProductInfo": {"type": "object"},
                "Traffic": {"type": "object"},
            },
        },
    },
}


def _body_doc(schema: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"content": {"application/json": {"schema": schema}}, "required": False}}


async def _json_body(request: Request, *, optional: bool = False) -> Any:
    raw = await request.body()
    if not raw.strip():
        if optional:
            return None
        raise ApiError(400, "invalid_request", "Body is NONEXISTANT - a JSON body is required")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # deep nesting: RecursionError
        raise ApiError(400, "invalid_request", "Body is INVALID - not valid JSON") from None


def _error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _run(
    request: Request,
    principal: Principal,
    handler: Callable[[], Any],
    *,
    background: bool,
) -> Response:
    """Run `handler` (blocking) honouring idempotency-key and /send."""
    ctx = context_of(request)

    async def call(_begin: Any = None) -> Response:
        if background:
            invocation = str(uuid.uuid4())

            def job() -> None:
                try:
                    handler()
                except ApiError as exc:
                    log.info("background request rejected", extra={"reason": exc.reason})
                except Exception:
                    log.exception("background request failed")

            ctx.leads.executor.submit(job)
            return JSONResponse({"invocationId": invocation, "status": "Accepted"}, status_code=202)
        try:
            result = await run_in_threadpool(handler)
        except ApiError as exc:
            return _error_response(exc)
        return JSONResponse(result)

    key = request.headers.get("idempotency-key")
    if key is None:
        return await call()
    from app.relay.idempotency import fingerprint, run_idempotent

    body = await request.body()
    path = request.url.path
    return await run_idempotent(
        ctx.idempotency,
        scope=_idempotency_scope(principal, path, body),
        key=key,
        request_fingerprint=fingerprint(request.method, path, body),
        call=call,
    )


def _idempotency_scope(principal: Principal, path: str, body: bytes) -> str:
    """Records are the key's own (every legacy key has its own hash) and, for a body
    naming a retailer, that retailer's: one key serving several retailers never
    gets one retailer's answer for another's request."""
    retailer = "-"
    try:
        parsed = json.loads(body) if body.strip() else None
    except (ValueError, UnicodeDecodeError, RecursionError):
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("UniversalRetailerId"), str):
        retailer = parsed["UniversalRetailerId"].strip().lower()[:64] or "-"
    return f"lead:{principal.key_ref or principal.key_id}:{retailer}:{path}"


def _route(
    endpoint_dep: Callable[[Request], Awaitable[Principal]],
    make: Callable[[Request, Principal], Any],
    background: bool,
) -> Callable[..., Any]:
    async def handle(
        request: Request, principal: Annotated[Principal, Depends(endpoint_dep)]
    ) -> Response:
        handler = await make(request, principal)
        return await _run(request, principal, handler, background=background)

    return handle


def _register(
    path: str, endpoint: str, make: Callable[[Request, Principal], Any], *, body: bool
) -> None:
    schema = _LEAD_BODY_SCHEMA if path.endswith("create") else {"type": "object"}
    doc = _body_doc(schema) if body else {}
    # The handlers read LeadId from request.path_params: declare it, or the
    # document is invalid OpenAPI (a template parameter with no definition).
    doc["parameters"] = [
        {"name": "LeadId", "in": "path", "required": True, "schema": {"type": "string"}}
    ]
    for background in (False, True):
        router.add_api_route(
            path + ("/send" if background else ""),
            _route(require_endpoint(endpoint), make, background),
            methods=["POST"],
            openapi_extra=doc,
            name=f"{endpoint}{'/send' if background else ''}",
        )


async def _create(request: Request, principal: Principal) -> Callable[[], Any]:
    body = await _json_body(request)
    lead_id = request.path_params["LeadId"]
    key = request.headers.get("idempotency-key")
    return lambda: context_of(request).leads.create(lead_id, body, principal, idempotency_key=key)


async def _sync(request: Request, principal: Principal) -> Callable[[], Any]:
    lead_id = request.path_params["LeadId"]
    return lambda: context_of(request).leads.sync(lead_id, principal)


async def _close(request: Request, principal: Principal) -> Callable[[], Any]:
    body = await _json_body(request, optional=True)
    lead_id = request.path_params["LeadId"]
    return lambda: context_of(request).leads.close(lead_id, body, principal)


async def _status_post(request: Request, principal: Principal) -> Callable[[], Any]:
    lead_id = request.path_params["LeadId"]
    return lambda: context_of(request).leads.status(lead_id, principal)


async def _bulk(request: Request, principal: Principal) -> Callable[[], Any]:
    body = await _json_body(request)
    return lambda: context_of(request).leads.bulk(body, principal)


_register("/Lead/{LeadId}/create", "Lead/create", _create, body=True)
_register("/Lead/{LeadId}/sync", "Lead/sync", _sync, body=False)
_register("/Lead/{LeadId}/close", "Lead/close", _close, body=True)
_register("/Lead/{LeadId}/status", "Lead/status", _status_post, body=False)


StatusKey = Annotated[Principal, Depends(require_endpoint("Lead/status"))]
DealerKey = Annotated[Principal, Depends(require_endpoint("Dealer/status"))]


@router.get("/Lead/{LeadId}/status")
def lead_status(LeadId: str, request: Request, principal: StatusKey) -> Any:
    return context_of(request).leads.status(LeadId, principal)


@router.get("/Dealer/{UniversalRetailerId}/status")
def dealer_status(
    UniversalRetailerId: str,
    request: Request,
    principal: DealerKey,
) -> Any:
    return context_of(request).leads.dealer_status(UniversalRetailerId, principal)


async def _require_bulk(request: Request) -> Principal:
    principal = await authenticate_async(request)
    if not any(principal.allows(f"Admin/bulk/{op}") for op in ("SYNC", "CLOSE", "FIND")):
        raise ApiError(403, "forbidden", "API key is not authorized for Admin/bulk")
    await run_in_threadpool(check_key_rate, context_of(request), principal)
    return principal


_BULK_DOC = _body_doc(
    {
        "type": "object",
        "required": ["Operation"],
        "properties": {
            "Operation": {"type": "string", "enum": ["SYNC", "CLOSE", "FIND"]},
            "Filter": {},
            "Reason": {"type": "string"},
            "Verbose": {"type": "boolean"},
            "Async": {"type": "boolean"},
        },
    }
)
for _bg in (False, True):
    router.add_api_route(
        "/Admin/bulk" + ("/send" if _bg else ""),
        _route(_require_bulk, _bulk, _bg),
        methods=["POST"],
        openapi_extra=_BULK_DOC,
        name="Admin/bulk" + ("/send" if _bg else ""),
    )
