"""The lead service (compatible with the original): create, status, sync, close,
dealer status and admin bulk operations.

One lead, one step at a time: every handler that moves a lead through its
integrations runs under the lead's lock (`app.relay.lead_lock`), taken in the
lead item itself so that it holds across every relay instance, and through
`app.relay.lead_runner`, which records each request in the lead item before it
runs. `sync` and `close` answer after the integrations ran, with the resulting
state (the `/send` suffix answers at once instead); a close that meets a running
create or sync stops it before its next text and then closes the lead.
"""

from __future__ import annotations

import functools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from app.core.acton_schema import (
    ActOnCreate,
    initial_acton_state,
    is_acton,
    parse_acton_request,
)
from app.core.errors import ErrorReason
from app.core.lead_schema import (
    LeadCreate,
    LeadValidationError,
    initial_lead_state,
    parse_create_request,
    parse_lead_id,
)
from app.core.statuses import LeadHandler, LeadStatus, check_handler, handler_refusal
from app.relay import lead_store, screening, versioned
from app.relay.auth import Principal
from app.relay.connectors.http import CallFailed
from app.relay.dealer_status import (
    LOCATION_NO_NUMBER,
    LOCATION_NONEXISTANT,
    LOCATION_NOT_IN_RETAILER,
    Check,
    dealer_status,
    location_unparsable,
    retailer_check,
)
from app.relay.errors import ApiError
from app.relay.feed import publish
from app.relay.lead_bulk import bulk
from app.relay.lead_lock import new_token
from app.relay.lead_runner import DEFAULT_CLOSE_REASON, PENDING, LeadRunner, Refused
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.leads")

SAME_AS_STORE = "Customer phone number is the same as the store's phone number"
OPTED_OUT = "Phone number is opted-out from our text messaging pool"


def _err(e: LeadValidationError) -> ApiError:
    return ApiError(400, e.code, e.message)


class LeadService:
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.tables = ctx.tables
        self.executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="w2t-lead")
        self.lock = ctx.lead_lock
        self.runner = LeadRunner(ctx, self._publish_lead)

    @property
    def wait_s(self) -> float:
        """How long `sync` and `close` wait for a lead another request is working on:
        past a lease (its holder may have died) and one Twilio call."""
        return max(2 * self.lock.lease_s, 10.0) + self.ctx.settings.twilio_timeout_s

    # ------------------------------------------------------------------ helpers

    def _lead_id(self, raw: str) -> str:
        try:
            return parse_lead_id(raw)
        except LeadValidationError as e:
            raise _err(e) from None

    def _check_access(self, principal: Principal, item: Item) -> None:
        if not principal.may_access_retailer(str(item.get("UniversalRetailerId", ""))):
            raise ApiError(403, "forbidden", "API key is not authorized for this retailer")
        if principal.is_staff and not principal.may_access_location(lead_store.lead_location(item)):
            raise ApiError(403, "forbidden", "API key is not authorized for this location")

    def _allow(self, handler: LeadHandler, item: Item | None, lead_id: str) -> None:
        status = LeadStatus(item["Status"]) if item else None
        decision = check_handler(handler, status, lead_id)
        if not decision.allowed:
            raise ApiError(
                decision.http_status, decision.reason or "invalid_status", decision.message or ""
            )

    def _busy(self, lead_id: str, what: str) -> ApiError:
        return ApiError(
            503,
            ErrorReason.LEAD_BUSY,
            f"Lead ID '{lead_id}' is busy - {what}; try again",
            headers={"Retry-After": str(max(1, int(self.lock.lease_s)))},
        )

    def _publish_lead(self, item: Item) -> None:
        loc = lead_store.lead_location(item)
        if loc:
            publish(
                self.ctx.change_log,
                loc,
                "lead",
                str(item["LeadId"]),
                int(item.get("Version", 0)),
                lead_store.lead_view(item),
            )

    def update_lead(self, lead_id: str, fn: Any, **kw: Any) -> Item | None:
        item = lead_store.update_lead(self.tables, lead_id, fn, **kw)
        if item is not None:
            self._publish_lead(item)
        return item

    # ------------------------------------------------------------------ create

    def create(
        self, raw_id: str, body: Any, principal: Principal, *, idempotency_key: str | None = None
    ) -> Item:
        lead_id = self._lead_id(raw_id)
        req: LeadCreate | ActOnCreate
        try:
            if is_acton(body):
                req = parse_acton_request(lead_id, body)
            else:
                req = parse_create_request(lead_id, body)
        except LeadValidationError as e:
            raise _err(e) from None
        if not principal.may_access_retailer(req.retailer_id):
            raise ApiError(403, "forbidden", "API key is not authorized for this retailer")
        # Without an idempotency key the existence check waits: the conditional put
        # below refuses a taken LeadId anyway, and a request that fails a check is
        # looked up then, so a taken LeadId still answers 409 before any other
        # reason (one read fewer per creation).
        existing = lead_store.get_lead(self.tables, lead_id) if idempotency_key else None
        marker = _create_marker(principal, idempotency_key) if idempotency_key else None
        if (
            existing is not None
            and existing.get("CreateIdempotencyKey") == marker
            and existing.get("UniversalRetailerId") == req.retailer_id
        ):
            # The same request retried after a crash that lost its first answer:
            # answer the lead, and make sure its processing goes on.
            if existing.get("PendingShard") == PENDING:
                self.submit(lead_id)
            return lead_store.lead_state(existing)
        self._refuse_existing(existing, lead_id)
        screened: versioned.Updates = {}
        if isinstance(req, LeadCreate):  # the original's ACTON validator: always VALID
            try:
                screened = self._check_create(req)
            except ApiError:
                if not idempotency_key:
                    self._refuse_existing(lead_store.get_lead(self.tables, lead_id), lead_id)
                raise
        return self._store_new(req, marker, screened)

    def create_screened(
        self, req: LeadCreate, principal: Principal, idempotency_key: str, extra: versioned.Updates
    ) -> versioned.Item:
        """A WEB2TEXT lead made by another door than the website (a conversation staff
        start): the website create's checks (`_check_create`: directory, store number,
        opt-out, line type, country, leads per phone), then stored with `extra` over
        the new item and processed like any other. A retry of the same request (same
        key, same caller) answers the lead its first attempt stored."""
        marker = _create_marker(principal, idempotency_key)
        existing = lead_store.get_lead(self.tables, req.lead_id)
        if existing is not None and existing.get("CreateIdempotencyKey") == marker:
            if existing.get("PendingShard") == PENDING:
                self.submit(req.lead_id)
            return existing
        self._refuse_existing(existing, req.lead_id)
        screened = self._check_create(req)
        self._store_new(req, marker, {**screened, **extra})
        return lead_store.get_lead(self.tables, req.lead_id) or {}

    def _store_new(
        self, req: LeadCreate | ActOnCreate, marker: str | None, screened: versioned.Updates
    ) -> versioned.Item:
        item = {**self._new_item(req), **screened}
        if marker:
            item["CreateIdempotencyKey"] = marker
        token = self.lock_new(item) if req.sync_immediately else None
        try:
            lead_store.put_new_lead(self.tables, item)
        except versioned.AlreadyExists:
            taken = lead_store.get_lead(self.tables, req.lead_id) or {"Status": "ACTIVE"}
            raise ApiError(
                409, ErrorReason.LEAD_EXISTS, handler_refusal(req.lead_id, taken.get("Status"))
            ) from None
        self._publish_lead(item)
        log.info("lead created", extra={"lead": req.lead_id, "type": req.lead_type})
        if token is not None:
            self.lock.hold(req.lead_id, token)
            self.submit(req.lead_id, token)
        return lead_store.lead_state(item)

    def lock_new(self, item: Item) -> str:
        """Make a new lead item created locked (the processing that follows holds it
        from its first moment, and the sweeper resumes it if that dies); the token."""
        token = new_token()
        until = _dec(time.time() + self.lock.lease_s)
        item.update(
            PendingShard=PENDING,
            PendingAt=until,
            PendingOp="create",
            PendingSeq=1,
            LockOwner=token,
            LockUntil=until,
        )
        return token

    def _new_item(self, req: LeadCreate | ActOnCreate) -> Item:
        iso = versioned.now_iso()
        if isinstance(req, ActOnCreate):
            return {**initial_acton_state(req, iso), "Version": 1, "Progress": {}}
        state = initial_lead_state(req, datetime.now(UTC)).to_dict()
        return {
            **state,
            "LocationId": req.location_id,
            "Version": 1,
            "PipelineStatus": "new",
            "Notes": [],
            "Activity": [lead_store.activity("created", "Lead submitted on the website", iso)],
            "LastActivityAt": iso,
            "PossibleOptOut": False,
            "OptedOut": False,
            "Progress": {},
        }

    def _refuse_existing(self, existing: Item | None, lead_id: str) -> None:
        if existing is not None:
            self._allow(LeadHandler.CREATE, existing, lead_id)

    def _check_create(self, req: LeadCreate) -> versioned.Updates:
        """The original's checks of a WEB2TEXT lead, in its order and words (plus ours:
        the location must belong to the retailer; Lookup's answer is cached), then the
        abuse screening (`app.relay.screening`); the attributes it adds to the lead.
        Retailers and locations are read through a short in-process cache
        (W2T_CACHE_TTL), from Nexus when it is configured (NEXUS_*)."""
        source = self.ctx.connectors.directory
        try:
            retailer = source.retailer(self.tables, req.retailer_id)
            failed = retailer_check(retailer)
            if failed is not None:
                raise failed.error()
            location = source.location(self.tables, req.location_id)
        except CallFailed:
            raise ApiError(
                503, "directory_unavailable", "Nexus is unavailable - try again later"
            ) from None
        if location is None:
            raise _check("Location", "NONEXISTANT", LOCATION_NONEXISTANT, "unknown_location")
        if location.retailer_id != req.retailer_id:
            raise _check(
                "Location", "INVALID", LOCATION_NOT_IN_RETAILER, "location_not_in_retailer"
            )
        number = location.web2text_number
        if not number or not number.strip():
            raise _check("Location", "INVALID", LOCATION_NO_NUMBER, "location_without_number")
        if not _usable_number(number):
            unparsable = location_unparsable(number)
            raise _check("Location", "INVALID", unparsable, "location_without_number")
        if req.phone in {_as_e164(number), _as_e164(location.store_number)}:
            raise _check("Phone Number", "INVALID", SAME_AS_STORE, "same_as_store_number")
        if opted_out_numbers(self.tables, req.phone):
            raise _check("Phone Number", "INVALID", OPTED_OUT, "recipient_opted_out")
        # country, the original's Lookup line types, open leads; last the phone's
        # daily new-lead slot (429)
        screened = screening.screen_phone(self.ctx, retailer, location, req.phone)
        screening.take_phone_slot(self.ctx, req.retailer_id, req.phone)
        return screened

    # ------------------------------------------------------------------ status/sync/close

    def status(self, raw_id: str, principal: Principal) -> Item:
        lead_id = self._lead_id(raw_id)
        item = lead_store.get_lead(self.tables, lead_id)
        if item is None:
            return {"Status": "NONEXISTANT"}
        self._check_access(principal, item)
        return lead_store.lead_state(item)

    def sync(self, raw_id: str, principal: Principal) -> Item:
        """Run the integrations and answer the lead as they left it (as the original)."""
        lead_id = self._lead_id(raw_id)
        item = lead_store.get_lead(self.tables, lead_id)
        if item is not None:
            self._check_access(principal, item)
        self._allow(LeadHandler.SYNC, item, lead_id)
        token = self.lock.acquire(lead_id, self.wait_s)
        if token is None:
            raise self._busy(lead_id, "another request on this lead is still running")
        refused = False
        try:
            self.runner.request_sync(lead_id)
        except (Refused, versioned.NotFound):
            refused = True  # closed or closing: the close owed runs first
        except Exception:
            self.runner.drive(lead_id, token)
            raise
        final = self.runner.drive(lead_id, token)
        if final is None:
            refusal = handler_refusal(lead_id, None)
            raise ApiError(409, ErrorReason.LEAD_NOT_FOUND, refusal)
        if refused:
            refusal = handler_refusal(lead_id, final.get("Status"))
            raise ApiError(409, ErrorReason.INVALID_STATUS, refusal)
        return lead_store.lead_state(final)

    def close(self, raw_id: str, body: Any, principal: Principal) -> Item:
        """Close the lead and its integrations; answer the closed lead (as the original:
        a closed lead answers as it is, after closing what was left open)."""
        lead_id = self._lead_id(raw_id)
        reason = _close_reason(body)
        item = lead_store.get_lead(self.tables, lead_id)
        if item is not None:
            self._check_access(principal, item)
        self._allow(LeadHandler.CLOSE, item, lead_id)
        assert item is not None
        try:
            requested = self.runner.request_close(lead_id, reason)
        except versioned.NotFound:
            refusal = handler_refusal(lead_id, None)
            raise ApiError(409, ErrorReason.LEAD_NOT_FOUND, refusal) from None
        if requested is None:  # closed, nothing left open
            return lead_store.lead_state(lead_store.get_lead(self.tables, lead_id) or item)
        token = self.lock.acquire(lead_id, self.wait_s)
        if token is None:
            raise self._busy(lead_id, "the close is recorded and runs when its current step ends")
        final = self.runner.drive(lead_id, token)
        return lead_store.lead_state(final or item)

    # ------------------------------------------------------------------ running

    def submit(self, lead_id: str, token: str | None = None) -> None:
        """Drive the lead in the background (with `token`, a lock already held)."""
        self.executor.submit(self.drive_quietly, lead_id, token)

    def drive_quietly(self, lead_id: str, token: str | None = None, wait_s: float = 0.0) -> None:
        try:
            if token is not None:
                self.runner.drive(lead_id, token)
            else:
                self.runner.drive_if_free(lead_id, wait_s)
        except Exception:
            log.exception("lead processing failed", extra={"lead": lead_id})

    def sync_connectors(self, lead_id: str) -> None:
        """A new message of the lead's conversation: the connectors note it (queued; a
        holder at work runs it when its current pass ends)."""
        try:
            requested = self.runner.request_connectors(lead_id)
        except versioned.NotFound:
            return
        if requested is not None:
            self.submit(lead_id)

    def close_owed(self, lead_ids: list[str], reason: str) -> None:
        """Record a close of each lead (webhooks), then run each now if the lead is free;
        a holder at work runs it when its current step ends (or, if it died, the sweeper)."""
        for lead_id in lead_ids:
            try:
                self.runner.request_close(lead_id, reason)
            except versioned.NotFound:
                continue
        for lead_id in lead_ids:
            self.drive_quietly(lead_id)

    def sweep(self, limit: int = 25) -> int:
        """Resume leads whose work is due and whose holder let go or died."""
        return self.runner.sweep(limit)

    # ------------------------------------------------------------------ dealer / bulk

    def dealer_status(self, raw_id: str, principal: Principal) -> Item:
        return dealer_status(self.ctx, raw_id, principal)

    def bulk(self, body: Any, principal: Principal) -> Item:
        return bulk(self, body, principal)


def _create_marker(principal: Principal, idempotency_key: str) -> str:
    """The creating request's idempotency key as the lead remembers it: the caller's
    own (another key reusing it is another request, answered on its own)."""
    return f"{principal.key_ref[:16]}:{idempotency_key}"[:255]


def _check(name: str, status: str, reason: str, code: str) -> ApiError:
    return Check(name, status, reason, code).error()


def _close_reason(body: Any) -> str:
    if isinstance(body, dict) and body.get("reason") is not None:
        if not isinstance(body["reason"], str) or len(body["reason"]) > 500:
            raise ApiError(
                400,
                "invalid_field",
                "reason is INVALID - must be a string of at most 500 characters",
            )
        return body["reason"].strip() or DEFAULT_CLOSE_REASON
    if body not in (None, {}) and not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "Body is INVALID - must be a JSON object")
    return DEFAULT_CLOSE_REASON


def opted_out_numbers(tables: Any, phone: str) -> dict[str, Any]:
    """The pool numbers `phone` opted out of (`OptedOutNumbers` map), or {}."""
    item = tables.optouts.get_item(Key={"PhoneNumber": phone}, ConsistentRead=True).get("Item")
    if not item:
        return {}
    return dict(item.get("OptedOutNumbers") or {})


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
