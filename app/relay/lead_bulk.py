"""`POST /Admin/bulk`: find, sync or close the leads a filter matches.

`Filter` is `"*"` or an object of conditions (`BULK_FILTER_KEYS`, each a value or
a list of values; `SubmittedBefore`/`SubmittedAfter` ISO strings). `FIND` answers
lead ids (`Verbose`: states); `SYNC` and `CLOSE` record their request on each
non-closed match (through the lead's lock, as the single-lead handlers) and run
them, synchronously or, with `Async: true`, in the background.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.core.statuses import LeadStatus
from app.relay import lead_store, versioned
from app.relay.auth import Principal
from app.relay.ddb import all_items
from app.relay.errors import ApiError
from app.relay.lead_runner import Refused
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.leads import LeadService

BULK_FILTER_KEYS = (
    "Status",
    "UniversalRetailerId",
    "LocationId",
    "LeadId",
    "PhoneNumber",
    "SyncStatus",
    "SubmittedBefore",
    "SubmittedAfter",
)
BULK_CLOSE_REASON = "Closed by bulk operation"


@dataclass(frozen=True)
class BulkRequest:
    op: str
    conditions: dict[str, Any]
    reason: str
    verbose: bool
    run_async: bool


def parse_bulk(body: Any, principal: Principal) -> BulkRequest:
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "Body is INVALID - must be a JSON object")
    op = body.get("Operation")
    if op not in ("SYNC", "CLOSE", "FIND"):
        raise ApiError(
            400, "invalid_field", 'Operation is INVALID - must be "SYNC", "CLOSE" or "FIND"'
        )
    if not principal.allows(f"Admin/bulk/{op}"):
        raise ApiError(403, "forbidden", f"API key is not authorized for Admin/bulk/{op}")
    flt = body.get("Filter", "*")
    if flt != "*" and not (isinstance(flt, dict) and all(isinstance(k, str) for k in flt)):
        raise ApiError(
            400, "invalid_field", 'Filter is INVALID - must be "*" or an object of conditions'
        )
    conditions = {} if flt == "*" else dict(flt)
    for key, value in conditions.items():
        if key not in BULK_FILTER_KEYS:
            raise ApiError(
                400,
                "invalid_field",
                f"Filter is INVALID - unknown condition {key!r} "
                f"(allowed: {', '.join(BULK_FILTER_KEYS)})",
            )
        if not isinstance(value, str | list):
            raise ApiError(
                400, "invalid_field", f"Filter is INVALID - {key} must be a string or a list"
            )
    reason = body.get("Reason", BULK_CLOSE_REASON)
    if not isinstance(reason, str):
        raise ApiError(400, "invalid_field", "Reason is INVALID - must be a string")
    return BulkRequest(
        op=str(op),
        conditions=conditions,
        reason=reason,
        verbose=body.get("Verbose", False) is True,
        run_async=body.get("Async", False) is True,
    )


def bulk(svc: LeadService, body: Any, principal: Principal) -> Item:
    req = parse_bulk(body, principal)
    matches = [
        item
        for item in all_items(svc.tables.leads.scan)
        if _matches(item, req.conditions)
        and principal.may_access_retailer(str(item.get("UniversalRetailerId", "")))
    ]
    if req.op == "FIND":
        found = [lead_store.lead_state(i) if req.verbose else str(i["LeadId"]) for i in matches]
        return {"Count": len(found), "Result": found}
    ids = [str(i["LeadId"]) for i in matches if _requested(svc, req, i)]
    for lead_id in ids:
        if req.run_async:
            svc.submit(lead_id)
        else:
            svc.drive_quietly(lead_id, wait_s=svc.wait_s)
    results: list[Any] = list(ids)
    if req.verbose and not req.run_async:
        results = [lead_store.lead_state(lead_store.get_lead(svc.tables, i) or {}) for i in ids]
    return {"Count": len(results), "Result": results}


def _requested(svc: LeadService, req: BulkRequest, item: Item) -> bool:
    """Record the operation on a non-closed lead (True), or skip it."""
    if item.get("Status") == LeadStatus.CLOSED:
        return False
    lead_id = str(item["LeadId"])
    try:
        if req.op == "CLOSE":
            return svc.runner.request_close(lead_id, req.reason) is not None
        return svc.runner.request_sync(lead_id) is not None
    except (Refused, versioned.NotFound):
        return False


def _matches(item: Item, conditions: dict[str, Any]) -> bool:
    lead = item.get("Lead") or {}
    twilio = (item.get("Integrations") or {}).get("Twilio") or {}
    values = {
        "Status": item.get("Status"),
        "UniversalRetailerId": item.get("UniversalRetailerId"),
        "LocationId": lead_store.lead_location(item),
        "LeadId": item.get("LeadId"),
        "PhoneNumber": lead.get("PhoneNumber"),
        "SyncStatus": twilio.get("SyncStatus"),
    }
    for key, wanted in conditions.items():
        if key == "SubmittedBefore":
            if not str(item.get("DateSubmitted", "")) < str(wanted):
                return False
            continue
        if key == "SubmittedAfter":
            if not str(item.get("DateSubmitted", "")) > str(wanted):
                return False
            continue
        options = wanted if isinstance(wanted, list) else [wanted]
        if values.get(key) not in options:
            return False
    return True
