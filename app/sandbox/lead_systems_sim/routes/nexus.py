"""Nexus: the Basic-auth retailer API (`/nexus/...`), the AWS API behind Cognito
tokens (`/nexus-aws/nexus/...`) and the Cognito token endpoint (`/cognito/...`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.routes.common import (
    basic,
    bearer,
    form_body,
    sim,
    unauthorized,
)

router = APIRouter()


def _basic_ok(request: Request) -> bool:
    config = sim(request).config
    return basic(request) == (config.nexus_username, config.nexus_password)


@router.get("/nexus/retailers/{retailer_id}")
async def retailer(retailer_id: str, request: Request) -> Any:
    if not _basic_ok(request):
        return unauthorized()
    found = sim(request).nexus.retailer(retailer_id)
    return found if found is not None else JSONResponse({"message": "Not Found"}, 404)


@router.get("/nexus/retailers/{retailer_id}/subscriptions")
async def subscriptions(retailer_id: str, request: Request) -> Any:
    if not _basic_ok(request):
        return unauthorized()
    found = sim(request).nexus.subscriptions_of(retailer_id)
    return found if found is not None else JSONResponse({"message": "Not Found"}, 404)


@router.get("/nexus-aws/nexus/location")
async def location(request: Request, location_id: str = "") -> Any:
    if not sim(request).cognito.valid(bearer(request)):
        return unauthorized({"message": "The incoming token has expired"})
    store = sim(request).nexus.store(location_id)
    if store is None:
        return JSONResponse({"data": [], "message": "Location not found"}, 404)
    return {"data": [store]}


@router.get("/nexus-aws/nexus/retailerLocations")
async def retailer_locations(request: Request, retailer_id: str = "") -> Any:
    if not sim(request).cognito.valid(bearer(request)):
        return unauthorized({"message": "The incoming token has expired"})
    stores = sim(request).nexus.stores_of(retailer_id)
    if stores is None:
        return JSONResponse({"data": [], "message": "Retailer not found"}, 404)
    return {"data": stores}


@router.post("/cognito/oauth2/token")
async def token(request: Request) -> Any:
    """Cognito's client-credentials grant (form fields, or the client in Basic auth)."""
    form = await form_body(request)
    config = sim(request).config
    client = basic(request) or (str(form.get("client_id", "")), str(form.get("client_secret", "")))
    if form.get("grant_type") != "client_credentials":
        return JSONResponse({"error": "unsupported_grant_type"}, 400)
    if client != (config.cognito_client_id, config.cognito_client_secret):
        return JSONResponse({"error": "invalid_client"}, 400)
    access, ttl = sim(request).cognito.issue()
    return {"access_token": access, "expires_in": ttl, "token_type": "Bearer"}
