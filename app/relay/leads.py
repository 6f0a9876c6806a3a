"""The lead service (compatible with the original): create, status, sync, close,
dealer status and admin bulk operations, plus the resumable processing of a
lead's integrations and the lease that keeps two relay instances from
processing one lead at the same time.

Processing state in the lead item (relay-owned attributes):
- `PendingShard` = "P" and `PendingAt` (epoch seconds: the processing lease's
  expiry) while an operation (`PendingOp`: create|sync|close) is unfinished;
  the sparse GSI `Pending` lets the sweeper find leads whose lease ran out.
- `Progress`: step -> "sending"|"sent" for steps with side effects (system
  messages), written before and after each side effect.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.errors import ErrorReason
from app.core.lead_schema import (
    LeadValidationError,
    ValidationKind,
    initial_lead_state,
    parse_create_request,
    parse_lead_id,
)
from app.core.statuses import LeadHandler, LeadStatus, SyncStatus, check_handler
from app.relay import directory, store
from app.relay.auth import Principal
from app.relay.ddb import all_items, is_conditional_failure
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.integrations import REGISTRY, Integration, RetryLater
from app.relay.twilio_client import is_transient

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.leads")

PENDING = "P"
#: transient failures (Twilio 429/5xx, timeouts) retried by the sweeper before giving up
MAX_TRANSIENT_ATTEMPTS = 5
INVALID = ValidationKind.INVALID
NONEXISTANT = ValidationKind.NONEXISTANT


def _err(e: LeadValidationError) -> ApiError:
    return ApiError(400, e.code, e.message)


def _invalid(what: str, kind: ValidationKind, text: str, reason: str) -> ApiError:
    return _err(LeadValidationError(what, kind, text, reason))


class LeadService:
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.tables = ctx.tables
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="w2t-lead")

    @property
    def integrations(self) -> list[Integration]:
        extra = self.ctx.extras.get("integrations")
        return list(extra) if extra is not None else list(REGISTRY)

    # ------------------------------------------------------------------ helpers

    def _lead_id(self, raw: str) -> str:
        try:
            return parse_lead_id(raw)
        except LeadValidationError as e:
            raise _err(e) from None

    def _check_access(self, principal: Principal, item: store.Item) -> None:
        if not principal.may_access_retailer(str(item.get("UniversalRetailerId", ""))):
            raise ApiError(403, "forbidden", "API key is not authorized for this retailer")
        if principal.is_staff and not principal.may_access_location(store.lead_location(item)):
            raise ApiError(403, "forbidden", "API key is not authorized for this location")

    def _publish_lead(self, item: store.Item) -> None:
        loc = store.lead_location(item)
        if loc:
            publish(
                self.ctx.change_log,
                loc,
                "lead",
                str(item["LeadId"]),
                int(item.get("Version", 0)),
                store.lead_view(item),
            )

    def update_lead(self, lead_id: str, fn: Any, **kw: Any) -> store.Item | None:
        item = store.update_lead(self.tables, lead_id, fn, **kw)
        if item is not None:
            self._publish_lead(item)
        return item

    # ------------------------------------------------------------------ create

    def create(
        self, raw_id: str, body: Any, principal: Principal, *, idempotency_key: str | None = None
    ) -> store.Item:
        lead_id = self._lead_id(raw_id)
        try:
            req = parse_create_request(lead_id, body)
        except LeadValidationError as e:
            raise _err(e) from None
        if not principal.may_access_retailer(req.retailer_id):
            raise ApiError(403, "forbidden", "API key is not authorized for this retailer")
        # Without an idempotency key the existence check waits: the conditional put
        # below refuses a taken LeadId anyway, and a request that fails a check is
        # looked up then, so a taken LeadId still answers 409 before any other
        # reason (one read fewer per creation).
        existing = store.get_lead(self.tables, lead_id) if idempotency_key else None
        if (
            existing is not None
            and idempotency_key
            and existing.get("CreateIdempotencyKey") == idempotency_key
        ):
            # The same request retried after a crash that lost its first answer:
            # answer the lead, and make sure its processing goes on.
            if existing.get("PendingShard") == PENDING:
                self.submit(lead_id)
            return store.lead_state(existing)
        self._refuse_existing(existing)
        try:
            self._check_create(req)
        except ApiError:
            if not idempotency_key:
                self._refuse_existing(store.get_lead(self.tables, lead_id))
            raise

        now = datetime.now(UTC)
        state = initial_lead_state(req, now).to_dict()
        iso = store.now_iso()
        item: store.Item = {
            **state,
            "LocationId": req.location_id,
            "Version": 1,
            "PipelineStatus": "new",
            "Notes": [],
            "Activity": [store.activity("created", "Lead submitted on the website", iso)],
            "LastActivityAt": iso,
            "PossibleOptOut": False,
            "OptedOut": False,
            "Progress": {},
        }
        if idempotency_key:
            item["CreateIdempotencyKey"] = idempotency_key[:255]
        if req.sync_immediately:
            item.update(
                PendingShard=PENDING, PendingAt=_lease_until(self._lease_s()), PendingOp="create"
            )
        try:
            store.put_new_lead(self.tables, item)
        except store.AlreadyExists:
            raise ApiError(
                409, "lead_exists", "LeadId is INVALID - a lead with this LeadId already exists"
            ) from None
        self._publish_lead(item)
        log.info("lead created", extra={"lead": lead_id, "location": req.location_id})
        if req.sync_immediately:
            self.submit(lead_id)
        return store.lead_state(item)

    def _refuse_existing(self, existing: store.Item | None) -> None:
        decision = check_handler(
            LeadHandler.CREATE, LeadStatus(existing["Status"]) if existing else None
        )
        if not decision.allowed:
            raise ApiError(
                decision.http_status, decision.reason or "lead_exists", decision.message or ""
            )

    def _check_create(self, req: Any) -> None:
        """The directory and phone checks of a creation, in the documented order."""
        # Directory items are read through a short in-process cache (W2T_CACHE_TTL).
        ttl = self.ctx.settings.cache_ttl_s
        retailer = directory.cached_retailer(self.tables, req.retailer_id, ttl)
        if retailer is None:
            raise _invalid(
                "UniversalRetailerId",
                NONEXISTANT,
                "no retailer with this id",
                ErrorReason.UNKNOWN_RETAILER,
            )
        if retailer.status == "Churned_Customer":
            raise _invalid(
                "UniversalRetailerId",
                INVALID,
                "the retailer is a churned customer",
                ErrorReason.RETAILER_CHURNED,
            )
        if retailer.web2text_opt_out:
            raise _invalid(
                "UniversalRetailerId",
                INVALID,
                "the retailer opted out of Web2Text",
                ErrorReason.RETAILER_OPTED_OUT,
            )
        location = directory.cached_location(self.tables, req.location_id, ttl)
        if location is None:
            raise _invalid(
                "LocationId", NONEXISTANT, "no location with this id", ErrorReason.UNKNOWN_LOCATION
            )
        if location.retailer_id != req.retailer_id:
            raise _invalid(
                "LocationId",
                INVALID,
                "the location does not belong to this retailer",
                ErrorReason.LOCATION_NOT_IN_RETAILER,
            )
        if not location.web2text_number or not _usable_number(location.web2text_number):
            raise _invalid(
                "LocationId",
                INVALID,
                "the location has no usable Web2Text number",
                ErrorReason.LOCATION_WITHOUT_NUMBER,
            )
        if self.ctx.twilio is not None and self.ctx.twilio.line_type(req.phone) == "landline":
            raise _invalid(
                "PhoneNumber",
                INVALID,
                "a landline cannot receive text messages",
                ErrorReason.LANDLINE,
            )
        if req.phone in {_as_e164(location.web2text_number), _as_e164(location.store_number)}:
            raise _invalid(
                "PhoneNumber",
                INVALID,
                "the same as the store's number",
                ErrorReason.SAME_AS_STORE_NUMBER,
            )
        if opted_out_numbers(self.tables, req.phone):
            raise _invalid(
                "PhoneNumber",
                INVALID,
                "the customer opted out of text messaging",
                ErrorReason.RECIPIENT_OPTED_OUT,
            )

    # ------------------------------------------------------------------ status/sync/close

    def status(self, raw_id: str, principal: Principal) -> store.Item:
        lead_id = self._lead_id(raw_id)
        item = store.get_lead(self.tables, lead_id)
        if item is None:
            return {"Status": "NONEXISTANT"}
        self._check_access(principal, item)
        return store.lead_state(item)

    def sync(self, raw_id: str, principal: Principal) -> store.Item:
        lead_id = self._lead_id(raw_id)
        item = store.get_lead(self.tables, lead_id)
        if item is not None:
            self._check_access(principal, item)
        decision = check_handler(LeadHandler.SYNC, LeadStatus(item["Status"]) if item else None)
        if not decision.allowed:
            raise ApiError(
                decision.http_status, decision.reason or "invalid_status", decision.message or ""
            )
        lease = _lease_until(self._lease_s())

        def fn(cur: store.Item) -> store.Updates | None:
            if cur.get("Status") == LeadStatus.CLOSED:
                raise ApiError(
                    409,
                    ErrorReason.INVALID_STATUS,
                    "Lead is INVALID - cannot sync a lead whose status is CLOSED",
                )
            return {
                "Status": LeadStatus.SYNCING.value,
                "PendingShard": PENDING,
                "PendingAt": lease,
                "PendingOp": "sync",
            }

        updated = self.update_lead(lead_id, fn) or item
        assert updated is not None
        self.submit(lead_id)
        return store.lead_state(updated)

    def close(self, raw_id: str, body: Any, principal: Principal) -> store.Item:
        lead_id = self._lead_id(raw_id)
        reason = "Closed by request"
        if isinstance(body, dict) and body.get("reason") is not None:
            if not isinstance(body["reason"], str) or len(body["reason"]) > 500:
                raise ApiError(
                    400,
                    "invalid_field",
                    "reason is INVALID - must be a string of at most 500 characters",
                )
            reason = body["reason"].strip() or reason
        elif body not in (None, {}) and not isinstance(body, dict):
            raise ApiError(400, "invalid_request", "Body is INVALID - must be a JSON object")
        item = store.get_lead(self.tables, lead_id)
        if item is not None:
            self._check_access(principal, item)
        decision = check_handler(LeadHandler.CLOSE, LeadStatus(item["Status"]) if item else None)
        if not decision.allowed:
            raise ApiError(
                decision.http_status, decision.reason or "invalid_status", decision.message or ""
            )
        updated = self.mark_closed(lead_id, reason)
        return store.lead_state(updated or item or {})

    def mark_closed(self, lead_id: str, reason: str, *, run_now: bool = True) -> store.Item | None:
        """Record CLOSED + CloseReason, then close each integration (resumably)."""
        lease = _lease_until(self._lease_s())

        def fn(cur: store.Item) -> store.Updates | None:
            if cur.get("Status") == LeadStatus.CLOSED:
                return None
            return {
                "Status": LeadStatus.CLOSED.value,
                "CloseReason": reason,
                "PendingShard": PENDING,
                "PendingAt": lease,
                "PendingOp": "close",
                "LastActivityAt": store.now_iso(),
                "Activity": [*list(cur.get("Activity") or []), store.activity("closed", reason)],
            }

        updated = self.update_lead(lead_id, fn)
        if updated is not None and run_now:
            self.submit(lead_id)
        return updated

    # ------------------------------------------------------------------ processing

    def _lease_s(self) -> float:
        return max(self.ctx.settings.stuck_after_s, 1.0)

    def submit(self, lead_id: str) -> None:
        self.executor.submit(self._safe_process, lead_id)

    def _safe_process(self, lead_id: str) -> None:
        try:
            self.process(lead_id)
        except Exception:
            log.exception("lead processing failed", extra={"lead": lead_id})

    def acquire(self, lead_id: str, seen_pending_at: Any = None) -> bool:
        """Take the processing lease (conditional write; no Version bump)."""
        now = time.time()
        try:
            cond = "PendingShard = :p AND (PendingAt < :now"
            values: dict[str, Any] = {
                ":p": PENDING,
                ":now": _dec(now),
                ":until": _lease_until(self._lease_s()),
            }
            if seen_pending_at is not None:
                cond += " OR PendingAt = :seen"
                values[":seen"] = seen_pending_at
            cond += ")"
            self.tables.leads.update_item(
                Key={"LeadId": lead_id},
                UpdateExpression="SET PendingAt = :until",
                ConditionExpression=cond,
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def renew(self, lead_id: str) -> None:
        try:
            self.tables.leads.update_item(
                Key={"LeadId": lead_id},
                UpdateExpression="SET PendingAt = :until",
                ConditionExpression="PendingShard = :p",
                ExpressionAttributeValues={":p": PENDING, ":until": _lease_until(self._lease_s())},
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    def process(self, lead_id: str, *, lease_held: bool = False) -> store.Item | None:
        """Run the lead's pending operation to its end; safe to call again after a crash."""
        item = store.get_lead(self.tables, lead_id)
        if item is None or item.get("PendingShard") != PENDING:
            return item
        if not lease_held and not self.acquire(lead_id, item.get("PendingAt")):
            return item  # another worker holds it
        op = str(item.get("PendingOp") or "create")
        retry_later = False
        for integ in self.integrations:
            item = store.get_lead(self.tables, lead_id) or item
            if not integ.applies(self.ctx, item):
                continue
            current = (item.get("Integrations") or {}).get(integ.name) or {}
            status = current.get("SyncStatus")
            closing = item.get("Status") == LeadStatus.CLOSED
            if closing and status == SyncStatus.CLOSED:
                continue
            if not closing and op == "create" and status == SyncStatus.SYNCED:
                continue
            self.renew(lead_id)
            try:
                if closing:
                    data = integ.close(self.ctx, item, str(item.get("CloseReason") or ""))
                    result = SyncStatus.CLOSED
                elif op == "sync":
                    data = integ.sync(self.ctx, item)
                    result = SyncStatus.SYNCED
                else:
                    data = integ.create(self.ctx, item)
                    result = SyncStatus.SYNCED
                self._set_integration(lead_id, integ.name, result, data, None)
            except RetryLater as exc:
                retry_later = True
                log.info("lead step postponed", extra={"lead": lead_id, "why": str(exc)})
            except Exception as exc:
                if is_transient(exc) and self._bump_attempts(lead_id) < MAX_TRANSIENT_ATTEMPTS:
                    retry_later = True  # the sweeper tries again once the lease runs out
                log.warning(
                    "integration failed",
                    extra={"lead": lead_id, "integration": integ.name, "error": type(exc).__name__},
                )
                self._set_integration(lead_id, integ.name, SyncStatus.ERROR, None, _error_info(exc))
        if retry_later:
            return store.get_lead(self.tables, lead_id)

        def finish(cur: store.Item) -> store.Updates | None:
            if cur.get("PendingShard") != PENDING:
                return None
            updates: store.Updates = {
                "PendingShard": None,
                "PendingAt": None,
                "PendingOp": None,
                "ProcessAttempts": None,
            }
            if cur.get("Status") == LeadStatus.SYNCING:
                updates["Status"] = LeadStatus.ACTIVE.value
            return updates

        return self.update_lead(lead_id, finish)

    def _bump_attempts(self, lead_id: str) -> int:
        resp = self.tables.leads.update_item(
            Key={"LeadId": lead_id},
            UpdateExpression="ADD ProcessAttempts :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["ProcessAttempts"])

    def _set_integration(
        self, lead_id: str, name: str, status: SyncStatus, data: dict[str, Any] | None, error: Any
    ) -> None:
        def fn(cur: store.Item) -> store.Updates | None:
            integrations = dict(cur.get("Integrations") or {})
            state = dict(integrations.get(name) or {})
            state["SyncStatus"] = status.value
            if data is not None:
                state["Data"] = {**dict(state.get("Data") or {}), **data}
            state.setdefault("Data", {})
            state["LastSynced"] = store.now_iso()
            if error is not None:
                state["ErrorInfo"] = error
            else:
                state.pop("ErrorInfo", None)
            integrations[name] = state
            return {"Integrations": integrations}

        self.update_lead(lead_id, fn)

    # ------------------------------------------------------------------ sweeper

    def sweep(self, limit: int = 25) -> int:
        """Resume leads whose processing lease ran out (crashed or stuck instance)."""
        resp = self.tables.leads.query(
            IndexName="Pending",
            KeyConditionExpression=Key("PendingShard").eq(PENDING)
            & Key("PendingAt").lt(_dec(time.time())),
            Limit=limit,
        )
        done = 0
        for item in resp.get("Items", []):
            lead_id = str(item["LeadId"])
            if self.acquire(lead_id, None):
                log.info("sweeper resumes lead", extra={"lead": lead_id})
                try:
                    self.process(lead_id, lease_held=True)
                except Exception:
                    log.exception("sweeper: lead processing failed", extra={"lead": lead_id})
                done += 1
        return done

    # ------------------------------------------------------------------ dealer / bulk

    def dealer_status(self, raw_id: str, principal: Principal) -> store.Item:
        from app.core.lead_schema import canonical_uuid

        try:
            retailer_id = canonical_uuid(raw_id, "UniversalRetailerId")
        except LeadValidationError as e:
            raise _err(e) from None
        if not principal.may_access_retailer(retailer_id):
            raise ApiError(403, "forbidden", "API key is not authorized for this retailer")
        retailer = directory.get_retailer(self.tables, retailer_id)
        if retailer is None:
            return {
                "Status": "NONEXISTANT",
                "Reason": "No retailer with this UniversalRetailerId",
                "Locations": [],
            }
        status, reason = "ACTIVE", None
        if retailer.status == "Churned_Customer":
            status, reason = "INACTIVE", "Retailer is a churned customer"
        elif retailer.web2text_opt_out:
            status, reason = "INACTIVE", "Retailer opted out of Web2Text"
        locations = []
        for loc in directory.locations_of_retailer(self.tables, retailer_id):
            entry: dict[str, Any] = {
                "UniversalLocationId": loc.location_id,
                "Name": loc.name,
                "Web2TextPhoneNumber": loc.web2text_number,
                "StorePhoneNumber": loc.store_number,
                "Timezone": loc.timezone,
                "Status": "ACTIVE" if loc.web2text_number and status == "ACTIVE" else "INACTIVE",
            }
            if not loc.web2text_number:
                entry["Reason"] = "No Web2Text phone number"
            elif status != "ACTIVE":
                entry["Reason"] = reason
            locations.append(entry)
        out: dict[str, Any] = {
            "UniversalRetailerId": retailer_id,
            "Name": retailer.name,
            "Status": status,
            "Locations": locations,
        }
        if reason:
            out["Reason"] = reason
        return out

    def bulk(self, body: Any, principal: Principal) -> store.Item:
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
        reason = body.get("Reason", "Closed by bulk operation")
        if not isinstance(reason, str):
            raise ApiError(400, "invalid_field", "Reason is INVALID - must be a string")
        verbose = body.get("Verbose", False) is True
        run_async = body.get("Async", False) is True
        matches = [
            i
            for i in self._scan_leads()
            if _matches(i, conditions)
            and principal.may_access_retailer(str(i.get("UniversalRetailerId", "")))
        ]
        results: list[Any] = []
        for item in matches:
            lead_id = str(item["LeadId"])
            if op == "FIND":
                results.append(store.lead_state(item) if verbose else lead_id)
            elif op == "CLOSE":
                if item.get("Status") == LeadStatus.CLOSED:
                    continue
                self.mark_closed(lead_id, reason, run_now=False)
                results.append(lead_id)
            else:
                if item.get("Status") == LeadStatus.CLOSED:
                    continue
                self._mark_sync(lead_id)
                results.append(lead_id)
        if op != "FIND":
            ids = [r for r in results if isinstance(r, str)]
            if run_async:
                for lead_id in ids:
                    self.submit(lead_id)
            else:
                for lead_id in ids:
                    self._safe_process(lead_id)
                if verbose:
                    results = [store.lead_state(store.get_lead(self.tables, i) or {}) for i in ids]
        return {"Count": len(results), "Result": results}

    def _mark_sync(self, lead_id: str) -> None:
        lease = _lease_until(self._lease_s())
        self.update_lead(
            lead_id,
            lambda cur: (
                None
                if cur.get("Status") == LeadStatus.CLOSED
                else {
                    "Status": LeadStatus.SYNCING.value,
                    "PendingShard": PENDING,
                    "PendingAt": lease,
                    "PendingOp": "sync",
                }
            ),
        )

    def _scan_leads(self) -> list[store.Item]:
        return list(all_items(self.tables.leads.scan))


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


def _matches(item: store.Item, conditions: dict[str, Any]) -> bool:
    lead = item.get("Lead") or {}
    twilio = (item.get("Integrations") or {}).get("Twilio") or {}
    values = {
        "Status": item.get("Status"),
        "UniversalRetailerId": item.get("UniversalRetailerId"),
        "LocationId": store.lead_location(item),
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


def opted_out_numbers(tables: Any, phone: str) -> dict[str, Any]:
    """The pool numbers `phone` opted out of (`OptedOutNumbers` map), or {}."""
    item = tables.optouts.get_item(Key={"PhoneNumber": phone}, ConsistentRead=True).get("Item")
    if not item:
        return {}
    return dict(item.get("OptedOutNumbers") or {})


def _error_info(exc: BaseException) -> dict[str, Any]:
    info: dict[str, Any] = {
        "Message": str(exc)[:500],
        "Type": type(exc).__name__,
        "At": store.now_iso(),
    }
    code = getattr(exc, "code", None)
    if code is not None:
        info["Code"] = code
    codes = getattr(exc, "codes", None)
    if codes:
        info["Codes"] = list(codes)
    return info


# Both parse the same few directory numbers on every lead creation (pure functions
# of the text, so cached: parsing a number costs more than a DynamoDB call's setup).
@functools.lru_cache(maxsize=4096)
def _as_e164(number: str | None) -> str | None:
    """A directory number in E.164 (other systems may store "(312) 555-0100")."""
    from app.core.phones import PhoneError, parse_phone

    try:
        return parse_phone(number) if number else None
    except PhoneError:
        return number


@functools.lru_cache(maxsize=4096)
def _usable_number(number: str) -> bool:
    """Other systems write the directory too: a malformed number cannot reach Twilio."""
    from app.core.phones import PhoneError, parse_phone

    try:
        parse_phone(number)
    except PhoneError:
        return False
    return True


def _dec(value: float) -> Any:
    from decimal import Decimal

    return Decimal(str(round(value, 3)))


def _lease_until(seconds: float) -> Any:
    return _dec(time.time() + seconds)


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def service(ctx: RelayContext) -> LeadService:
    """The process's LeadService (one per RelayContext)."""
    svc = ctx.extras.get("leads")
    if svc is None:
        svc = ctx.extras.setdefault("leads", LeadService(ctx))
    return svc  # type: ignore[no-any-return]
