"""Templates a dealership shares per location: `GET/PUT /v1/templates?locationId=`.

Stored in the Directory table as one item per location (`Id` =
`TEMPLATES#<LocationId>`, `Kind` TEMPLATES, `LocationId`, `Templates` (a list of
`{templateId, name, body}`), `Version`, `UpdatedAt`, `UpdatedBy`). A `PUT`
replaces the whole list if the item is still at the `If-Match` version (`"0"`:
none saved yet); otherwise 412 `version_conflict` with the current list. Every
saved version is announced on the location's change feed as the entity
`templates`, so every desktop keeps a copy for offline use. Personal templates
never come here: they stay on the staff member's PC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import ulid
from botocore.exceptions import ClientError
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.core import templates as core_templates
from app.core.safe_text import unsafe_character
from app.core.wire import ErrorBody
from app.core.wire_team import MAX_SHARED_TEMPLATES, TemplatesPut, TemplatesView
from app.relay.auth import Principal
from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.idempotency import Begin, BeginState, IdempotencyStore, fingerprint, run_idempotent
from app.relay.staff_api import (
    ERRORS,
    Staff,
    _ctx,
    _error_response,
    _forbidden,
    _if_match_version,
    _parse_json_object,
    staff_locations,
)

router = APIRouter(prefix="/v1", tags=["staff"])

KIND = "TEMPLATES"
ENTITY = "templates"
LocationId = Annotated[str, Query(alias="locationId", min_length=1, max_length=128)]


def _item_id(location_id: str) -> str:
    return f"TEMPLATES#{location_id}"


def templates_view(location_id: str, item: dict[str, Any] | None) -> dict[str, Any]:
    """`TemplatesView` JSON of a stored item (or of none saved yet)."""
    if item is None:
        return TemplatesView(location_id=location_id).to_dict()
    return {
        "locationId": location_id,
        "templates": [
            {"templateId": str(t["templateId"]), "name": str(t["name"]), "body": str(t["body"])}
            for t in item.get("Templates") or []
        ],
        "version": int(item.get("Version", 0)),
        "updatedAt": item.get("UpdatedAt") or None,
        "updatedBy": item.get("UpdatedBy") or None,
    }


def read_templates(tables: Any, location_id: str) -> dict[str, Any]:
    item = tables.directory.get_item(Key={"Id": _item_id(location_id)}, ConsistentRead=True).get(
        "Item"
    )
    return templates_view(location_id, dict(item) if item else None)


class VersionConflict(Exception):
    def __init__(self, current: dict[str, Any]) -> None:
        super().__init__("version conflict")
        self.current = current


def save_templates(
    tables: Any, location_id: str, templates: list[dict[str, str]], expected: int, by: str
) -> dict[str, Any]:
    """Replace the list if it is at `expected`; raises VersionConflict otherwise."""
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    values = {":t": templates, ":now": now, ":by": by, ":k": KIND, ":loc": location_id}
    try:
        if expected == 0:
            item = {
                "Id": _item_id(location_id),
                "Kind": KIND,
                "LocationId": location_id,
                "Templates": templates,
                "Version": 1,
                "UpdatedAt": now,
                "UpdatedBy": by,
            }
            tables.directory.put_item(Item=item, ConditionExpression="attribute_not_exists(Id)")
            return templates_view(location_id, item)
        resp = tables.directory.update_item(
            Key={"Id": _item_id(location_id)},
            UpdateExpression=(
                "SET Templates = :t, UpdatedAt = :now, UpdatedBy = :by, Kind = :k, "
                "LocationId = :loc ADD Version :one"
            ),
            ConditionExpression="Version = :v",
            ExpressionAttributeValues={**values, ":one": 1, ":v": expected},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        raise VersionConflict(read_templates(tables, location_id)) from None
    return templates_view(location_id, dict(resp["Attributes"]))


def _check_location(request: Request, staff: Principal, location_id: str) -> None:
    if location_id not in staff_locations(request, staff):
        raise _forbidden()


def _parse_put(raw: bytes, current: dict[str, Any]) -> list[dict[str, str]]:
    """The new list, each template checked; new ones get an id."""
    data = _parse_json_object(raw)
    if isinstance(data.get("templates"), list) and len(data["templates"]) > MAX_SHARED_TEMPLATES:
        raise ApiError(
            422,
            "too_many_templates",
            f"A location shares at most {MAX_SHARED_TEMPLATES} templates",
            maxTemplates=MAX_SHARED_TEMPLATES,
        )
    try:
        put = TemplatesPut.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first.get("loc", ())) or "body"
        raise ApiError(400, "invalid_request", f"{where}: {first.get('msg', 'invalid')}") from None
    known = {t["templateId"] for t in current["templates"]}
    out = []
    for t in put.templates:
        for field, text, multiline in (("name", t.name, False), ("body", t.body, True)):
            bad = unsafe_character(text, multiline=multiline)
            if bad is not None:
                raise ApiError(400, "invalid_field", f"{field} is INVALID - contains a {bad}")
        try:
            core_templates.fields(t.body)
        except core_templates.TemplateError as exc:
            raise ApiError(400, "invalid_template", f"“{t.name}”: {exc}") from None
        ident = t.template_id if t.template_id and t.template_id in known else str(ulid.ULID())
        out.append({"templateId": ident, "name": t.name, "body": t.body})
    return out


@router.get("/templates", response_model=TemplatesView, responses=ERRORS)
async def get_templates(request: Request, staff: Staff, location_id: LocationId) -> JSONResponse:
    """The location's shared templates, with their version (`ETag`)."""
    _check_location(request, staff, location_id)
    view = await run_in_threadpool(read_templates, _ctx(request).tables, location_id)
    return JSONResponse(view, headers={"ETag": f'"{view["version"]}"'})


@router.put(
    "/templates",
    response_model=TemplatesView,
    responses={**ERRORS, 412: {"model": ErrorBody}, 428: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TemplatesPut.model_json_schema()}},
        }
    },
)
async def put_templates(
    request: Request,
    staff: Staff,
    location_id: LocationId,
    if_match: Annotated[str | None, Header(max_length=64)] = None,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JSONResponse:
    """Replace the location's shared templates if they are still at `If-Match`."""
    ctx = _ctx(request)
    _check_location(request, staff, location_id)
    expected = _if_match_version(if_match)
    raw = await request.body()
    current = await run_in_threadpool(read_templates, ctx.tables, location_id)
    templates = _parse_put(raw, current)
    by = staff.name or staff.staff_id or ""

    async def attempt(begin: Begin) -> JSONResponse:
        try:
            view = await run_in_threadpool(
                save_templates, ctx.tables, location_id, templates, expected, by
            )
        except VersionConflict as exc:
            return _error_response(
                ApiError(
                    412,
                    "version_conflict",
                    "The shared templates changed since you loaded them; here they are now",
                    current=exc.current,
                )
            )
        await run_in_threadpool(
            publish, ctx.change_log, location_id, ENTITY, location_id, view["version"], view
        )
        return JSONResponse(view, headers={"ETag": f'"{view["version"]}"'})

    idem = ctx.idempotency
    if idempotency_key is None or not isinstance(idem, IdempotencyStore):
        return await attempt(Begin(BeginState.NEW))
    response = await run_idempotent(
        idem,
        scope=f"staff:{staff.retailer_id}:{staff.staff_id}:templates",
        key=idempotency_key,
        request_fingerprint=fingerprint(location_id, str(expected), raw),
        call=attempt,
    )
    return response  # type: ignore[return-value]
