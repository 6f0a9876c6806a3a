"""Helpers of the simulated systems' routes: the state, bodies, credentials."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.responses import JSONResponse

from app.sandbox.lead_systems_sim.state import LeadSystemsState


class ControlError(Exception):
    """A bad `/_sim` request: answered `{code, message, reason}`."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message

    def response(self) -> JSONResponse:
        body = {"code": self.status, "message": self.message, "reason": self.reason}
        return JSONResponse(body, self.status)


def sim(request: Request) -> LeadSystemsState:
    state: LeadSystemsState = request.app.state.lead_systems
    return state


async def json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def form_body(request: Request) -> dict[str, str]:
    """An `application/x-www-form-urlencoded` body (stdlib parsing: no multipart)."""
    raw = (await request.body()).decode("utf-8", "replace")
    return dict(parse_qsl(raw, keep_blank_values=True))


def bearer(request: Request) -> str:
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def basic(request: Request) -> tuple[str, str] | None:
    value = request.headers.get("authorization", "")
    scheme, _, encoded = value.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(encoded.strip()).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user, password


def unauthorized(body: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(body or {"message": "Unauthorized"}, 401)
