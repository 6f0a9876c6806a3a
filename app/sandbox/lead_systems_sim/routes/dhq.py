"""DealerHQ's retailer REST API: store inquiries (create, and a lookup by
`external_id`) and lead comments."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.routes.common import bearer, json_body, sim

router = APIRouter()


def _failure(status: int, *errors: str) -> JSONResponse:
    return JSONResponse({"status": "failure", "errors": list(errors)}, status)


def _authorized(request: Request) -> bool:
    return bearer(request) == sim(request).config.dhq_api_key


def _inquiry_errors(body: Any) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("inquiry"), dict):
        return ["inquiry is required"]
    inquiry = body["inquiry"]
    errors = [
        f"inquiry.{k} is required"
        for k in ("external_id", "email", "name", "contact_method")
        if not isinstance(inquiry.get(k), str) or not inquiry.get(k)
    ]
    if not isinstance(body.get("occurred_at"), str):
        errors.append("occurred_at is required")
    return errors


@router.post("/dhq/retailer/rest/{retailer_id}/store_inquiries")
async def submit(retailer_id: str, request: Request) -> Any:
    if not _authorized(request):
        return _failure(401, "Unauthorized")
    body = await json_body(request)
    errors = _inquiry_errors(body)
    if errors:
        return _failure(422, *errors)
    return sim(request).dhq.submit(retailer_id, body)


@router.get("/dhq/retailer/rest/{retailer_id}/store_inquiries")
async def find(retailer_id: str, request: Request, external_id: str = "") -> Any:
    if not _authorized(request):
        return _failure(401, "Unauthorized")
    if not external_id:
        return _failure(422, "external_id is required")
    found = sim(request).dhq.find(retailer_id, external_id)
    return {"status": "success", "data": {"store_inquiries": found}}


@router.post("/dhq/retailer/rest/leads/{lead_id}/comments")
async def comment(lead_id: str, request: Request) -> Any:
    if not _authorized(request):
        return _failure(401, "Unauthorized")
    body = await json_body(request)
    entry = body.get("comment") if isinstance(body, dict) else None
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("body"), str)
        or not isinstance(entry.get("author_id"), int)
    ):
        return _failure(422, "comment.body and comment.author_id are required")
    stored = sim(request).dhq.comment(lead_id, entry)
    if stored is None:
        return _failure(404, f"Lead '{lead_id}' not found")
    return {"status": "success", "data": {"comment": stored, "lead": {"id": lead_id}}}
