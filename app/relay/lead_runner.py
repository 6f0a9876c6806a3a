"""Running what a lead owes, one holder at a time (`app.relay.lead_lock`).

A request to act on a lead is first recorded in the lead item, without the lock
(an *intent*): `PendingShard = "P"` with `PendingAt` (when it is due; the sparse
GSI `Pending` lets the sweeper find due leads whose holder died), `PendingOp`
(create | sync | close | connectors: only the lead-tracking connectors, for a new
message) and `PendingSeq` (+1 per request); a close also records
`CloseRequested` (its reason), which stops a running create or sync at its next
guard. The holder of the lead's lock then `drive`s it: it runs what is pending (a
close before anything else), clears the pending marks only when no request came
meanwhile (`PendingSeq` unchanged) and lets go of the lock only when nothing is
left, so no request is ever left behind by a holder that was just finishing.

Integrations run as in the original: a sync pass skips CLOSED integrations and
runs `create` for one NOT SYNCED (or ERROR that never synced) and `sync`
otherwise; a close pass records `Status: CLOSED` and `CloseReason` first (the
first reason given, default "Not specified"), then closes every applicable
integration that is not CLOSED yet, NOT SYNCED ones included, so every
integration of a closed lead ends CLOSED (or ERROR when its close failed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.statuses import LeadStatus, SyncStatus
from app.relay import lead_store, versioned
from app.relay.connectors.base import IntegrationError
from app.relay.ddb import is_conditional_failure
from app.relay.integrations import Integration, RetryLater
from app.relay.lead_lock import CloseAsked, LockLost, Preempted
from app.relay.twilio_client import is_transient
from app.relay.versioned import Item, Updates

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.lead_runner")

PENDING = "P"
#: a connectors-only sync (a new message for RLM and DHQ to note)
CONNECTORS_OP = "connectors"
#: the original's close reason when none is given
DEFAULT_CLOSE_REASON = "Not specified"
#: transient failures (Twilio 429/5xx, timeouts) retried by the sweeper before giving up
MAX_TRANSIENT_ATTEMPTS = 5
#: rounds of one holding (new requests keep coming); the rest is left to the sweeper
MAX_ROUNDS = 8


class Outcome(Enum):
    DONE = "done"  # nothing pending any more
    RETRY = "retry"  # a step must wait: stays pending, due again after a lease
    AGAIN = "again"  # preempted by a close, or a request came meanwhile: look again


class Refused(Exception):
    """A request the lead's status does not allow (the lead as it is now)."""

    def __init__(self, item: Item) -> None:
        super().__init__(str(item.get("Status")))
        self.item = item


class LeadRunner:
    """Runs the leads of one relay process, under its lock (`ctx.lead_lock`), through
    its integrations (`ctx.integrations`); `publish` makes each lead change visible."""

    def __init__(self, ctx: RelayContext, publish: Callable[[Item], None]) -> None:
        self.ctx = ctx
        self.tables = ctx.tables
        self.lock = ctx.lead_lock
        self.publish = publish

    # ------------------------------------------------------------------ intents

    def request_sync(self, lead_id: str) -> Item | None:
        """Record a sync (Status SYNCING); `Refused` when CLOSED or closing."""

        def fn(cur: Item) -> Updates | None:
            if cur.get("Status") == LeadStatus.CLOSED or cur.get("CloseRequested"):
                raise Refused(cur)
            return {
                "Status": LeadStatus.SYNCING.value,
                **_pending("sync", cur),
            }

        return self._update(lead_id, fn)

    def request_connectors(self, lead_id: str) -> Item | None:
        """A new message for the connectors to note (no status change). A request
        already pending is widened to cover them: a create becomes a sync (which runs
        the connectors' sync too); a close flushes them anyway. None: nothing asked
        (closed or closing)."""

        def fn(cur: Item) -> Updates | None:
            if cur.get("Status") == LeadStatus.CLOSED or cur.get("CloseRequested"):
                return None
            pending = cur.get("PendingOp") if cur.get("PendingShard") == PENDING else None
            op = {None: CONNECTORS_OP, CONNECTORS_OP: CONNECTORS_OP}.get(pending, "sync")
            return _pending(op, cur)

        return lead_store.update_lead(self.tables, lead_id, fn)

    def request_close(self, lead_id: str, reason: str) -> Item | None:
        """Record a close (None: the lead is CLOSED and nothing is left to close)."""

        def fn(cur: Item) -> Updates | None:
            if cur.get("Status") == LeadStatus.CLOSED and not self.close_left(cur):
                return None
            return {"CloseRequested": cur.get("CloseRequested") or reason, **_pending("close", cur)}

        updated = self._update(lead_id, fn)
        self.ctx.checkpoint("close_requested")
        return updated

    def close_left(self, item: Item) -> bool:
        """Some applicable integration of `item` is not CLOSED yet."""
        states = item.get("Integrations") or {}
        return any(
            (states.get(i.name) or {}).get("SyncStatus") != SyncStatus.CLOSED
            for i in self.ctx.integrations
            if i.applies(self.ctx, item)
        )

    def _update(self, lead_id: str, fn: Callable[[Item], Any]) -> Item | None:
        item = lead_store.update_lead(self.tables, lead_id, fn)
        if item is not None:
            self.publish(item)
        return item

    # ------------------------------------------------------------------ driving

    def drive_if_free(self, lead_id: str, wait_s: float = 0.0) -> Item | None:
        """Drive the lead if its lock can be had within `wait_s`; else its holder (or,
        if that one died, the sweeper) runs what was asked. None: it stayed busy."""
        token = self.lock.acquire(lead_id, wait_s)
        if token is None:
            return None
        return self.drive(lead_id, token)

    def drive(self, lead_id: str, token: str) -> Item | None:
        """Holding the lock (`token`): run everything the lead owes, then let go."""
        try:
            for _ in range(MAX_ROUNDS):
                item = lead_store.get_lead(self.tables, lead_id)
                if item is None:
                    self.lock.forget(token)
                    return None
                if item.get("LockOwner") != token:
                    raise LockLost(lead_id)
                if item.get("PendingShard") != PENDING:
                    if self.lock.release(lead_id, token):
                        return item
                    continue
                if self._run(item, token) is Outcome.RETRY and self.lock.release(
                    lead_id, token, pending_seq=item.get("PendingSeq"), due_at=self._later()
                ):
                    return lead_store.get_lead(self.tables, lead_id)
            self._let_go(lead_id, token)
        except LockLost:
            log.warning("lead lock lost: another holder goes on", extra={"lead": lead_id})
        except Exception:
            self._let_go(lead_id, token)
            raise
        return lead_store.get_lead(self.tables, lead_id)

    def _let_go(self, lead_id: str, token: str) -> None:
        """Leave what is pending to the sweeper (due after a lease)."""
        try:
            item = lead_store.get_lead(self.tables, lead_id) or {}
            if self.lock.release(
                lead_id, token, pending_seq=item.get("PendingSeq"), due_at=self._later()
            ):
                return
        except Exception:
            log.exception("lead lock release failed", extra={"lead": lead_id})
        self.lock.forget(token)  # the lease runs out; the sweeper resumes the lead

    def _later(self) -> float:
        return time.time() + self.lock.lease_s

    def _run(self, item: Item, token: str) -> Outcome:
        closing = item.get("Status") == LeadStatus.CLOSED or bool(item.get("CloseRequested"))
        try:
            return self._close(item, token) if closing else self._sync(item, token)
        except CloseAsked:
            log.info("close asked: the running sync stops", extra={"lead": item["LeadId"]})
            return Outcome.AGAIN

    # ------------------------------------------------------------------ passes

    def _sync(self, item: Item, token: str) -> Outcome:
        lead_id = str(item["LeadId"])
        op = str(item.get("PendingOp") or "create")
        retry = False
        for integ in self.ctx.integrations:
            cur = lead_store.get_lead(self.tables, lead_id) or item
            if not integ.applies(self.ctx, cur):
                continue
            state = (cur.get("Integrations") or {}).get(integ.name) or {}
            status = state.get("SyncStatus")
            if status == SyncStatus.CLOSED or (op == "create" and status == SyncStatus.SYNCED):
                continue
            if op == CONNECTORS_OP and not self._is_connector(integ):
                continue
            self.lock.guard(lead_id, token)  # no close asked: go on
            first = status in (None, SyncStatus.NOT_SYNCED) or (
                status == SyncStatus.ERROR and not state.get("LastSynced")
            )
            try:
                data = integ.create(self.ctx, cur) if first else integ.sync(self.ctx, cur)
                self._record(lead_id, token, integ.name, SyncStatus.SYNCED, data, None)
            except Preempted:
                raise
            except Exception as exc:
                retry = self._failed(lead_id, token, integ.name, exc) or retry
        if retry:
            return Outcome.RETRY
        return self._finish(item, token)

    def _close(self, item: Item, token: str) -> Outcome:
        lead_id = str(item["LeadId"])
        if item.get("Status") != LeadStatus.CLOSED:
            item = self._mark_closed(item, token)
        reason = str(item.get("CloseReason") or DEFAULT_CLOSE_REASON)
        retry = False
        for integ in self.ctx.integrations:
            cur = lead_store.get_lead(self.tables, lead_id) or item
            if not integ.applies(self.ctx, cur):
                continue
            state = (cur.get("Integrations") or {}).get(integ.name) or {}
            if state.get("SyncStatus") == SyncStatus.CLOSED:
                continue
            self.lock.guard(lead_id, token, closing=True)
            try:
                data = integ.close(self.ctx, cur, reason)
                self._record(lead_id, token, integ.name, SyncStatus.CLOSED, data, None)
            except Preempted:
                raise
            except Exception as exc:
                retry = self._failed(lead_id, token, integ.name, exc, closing=True) or retry
        if retry:
            return Outcome.RETRY
        return self._finish(item, token)

    def _is_connector(self, integ: Integration) -> bool:
        return integ in self.ctx.connectors.integrations

    def _mark_closed(self, item: Item, token: str) -> Item:
        reason = str(item.get("CloseReason") or item.get("CloseRequested") or DEFAULT_CLOSE_REASON)

        def fn(cur: Item) -> Updates | None:
            if cur.get("Status") == LeadStatus.CLOSED:
                return None
            entry = lead_store.activity("closed", reason)
            return {
                "Status": LeadStatus.CLOSED.value,
                "CloseReason": str(cur.get("CloseReason") or reason),
                "LastActivityAt": versioned.now_iso(),
                "Activity": lead_store.bounded_activity([*list(cur.get("Activity") or []), entry]),
            }

        return self._locked_update(str(item["LeadId"]), token, fn) or item

    def _failed(
        self, lead_id: str, token: str, name: str, exc: Exception, *, closing: bool = False
    ) -> bool:
        """Record an integration's failure; True when the sweeper should retry it."""
        if isinstance(exc, RetryLater):
            log.info("lead step postponed", extra={"lead": lead_id, "why": str(exc)})
            return True
        transient = is_transient(exc) or getattr(exc, "transient", False) is True
        retry = transient and self._bump_attempts(lead_id) < MAX_TRANSIENT_ATTEMPTS
        log.warning(
            "integration failed",
            extra={"lead": lead_id, "integration": name, "error": type(exc).__name__},
        )
        if isinstance(exc, IntegrationError):  # a connector: the original's ErrorInfo
            self._record(lead_id, token, name, SyncStatus.ERROR, exc.data, exc.error_info())
        else:
            self._record(lead_id, token, name, SyncStatus.ERROR, None, _error_info(exc, closing))
        return retry

    def _finish(self, item: Item, token: str) -> Outcome:
        """Nothing pending any more, unless a request came since `item` was read."""
        seq = item.get("PendingSeq")

        def fn(cur: Item) -> Updates | None:
            if cur.get("PendingSeq") != seq:
                raise _NewRequest
            updates: Updates = {
                "PendingShard": None,
                "PendingAt": None,
                "PendingOp": None,
                "PendingSeq": None,
                "ProcessAttempts": None,
                "CloseRequested": None,
            }
            if cur.get("Status") == LeadStatus.SYNCING:
                updates["Status"] = LeadStatus.ACTIVE.value
            return updates

        try:
            self._locked_update(str(item["LeadId"]), token, fn)
        except _NewRequest:
            return Outcome.AGAIN
        return Outcome.DONE

    def _record(
        self,
        lead_id: str,
        token: str,
        name: str,
        status: SyncStatus,
        data: dict[str, Any] | None,
        error: Any,
    ) -> None:
        def fn(cur: Item) -> Updates | None:
            integrations = dict(cur.get("Integrations") or {})
            state = dict(integrations.get(name) or {})
            state["SyncStatus"] = status.value
            state["Data"] = {**dict(state.get("Data") or {}), **(data or {})}
            if not state["Data"]:
                del state["Data"]  # as the original: no Data until there is some
            if error is None:
                state["LastSynced"] = versioned.now_iso()
                state.pop("ErrorInfo", None)
            else:  # as the original: an error keeps the last successful sync's time
                state["ErrorInfo"] = error
            integrations[name] = state
            return {"Integrations": integrations}

        self._locked_update(lead_id, token, fn)

    def _bump_attempts(self, lead_id: str) -> int:
        resp = self.tables.leads.update_item(
            Key={"LeadId": lead_id},
            UpdateExpression="ADD ProcessAttempts :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return int(resp["Attributes"]["ProcessAttempts"])

    def _locked_update(
        self, lead_id: str, token: str, fn: Callable[[Item], Updates | None]
    ) -> Item | None:
        """`lead_store.update_lead`, with the write also conditioned on still holding the lock
        (a holder whose lease ran out must not overwrite what the next one wrote)."""
        for attempt in range(20):
            item = lead_store.get_lead(self.tables, lead_id)
            if item is None or item.get("LockOwner") != token:
                self.lock.forget(token, lost=item is not None)
                raise LockLost(lead_id)
            updates = fn(item)
            if not updates:
                return None
            try:
                updated = self._write_if_held(lead_id, token, item, updates)
            except ClientError as exc:
                if not is_conditional_failure(exc):
                    raise
                time.sleep(min(0.005 * (attempt + 1), 0.05))
                continue
            self.publish(updated)
            return updated
        raise RuntimeError(f"could not update lead {lead_id} (contention)")

    def _write_if_held(self, lead_id: str, token: str, item: Item, updates: Updates) -> Item:
        seen = int(item.get("Version", 0))
        names = {"#ver": "Version"}
        values: dict[str, Any] = {":next": seen + 1, ":seen": seen, ":me": token}
        sets, removes = ["#ver = :next"], []
        for i, (attr, value) in enumerate(updates.items()):
            names[f"#a{i}"] = attr
            if value is None:
                removes.append(f"#a{i}")
            else:
                values[f":v{i}"] = value
                sets.append(f"#a{i} = :v{i}")
        expr = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        version = "(attribute_not_exists(#ver) OR #ver = :seen)" if seen == 0 else "#ver = :seen"
        resp = self.tables.leads.update_item(
            Key={"LeadId": lead_id},
            UpdateExpression=expr,
            ConditionExpression=f"LockOwner = :me AND {version}",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
        return dict(resp["Attributes"])

    # ------------------------------------------------------------------ sweeper

    def sweep(self, limit: int = 25) -> int:
        """Drive the leads whose work is due and whose lock is free (a holder that
        died, a step to retry, a request whose requester did not wait)."""
        resp = self.tables.leads.query(
            IndexName="Pending",
            KeyConditionExpression=Key("PendingShard").eq(PENDING)
            & Key("PendingAt").lt(Decimal(str(round(time.time(), 3)))),
            Limit=limit,
        )
        done = 0
        for item in resp.get("Items", []):
            lead_id = str(item["LeadId"])
            token = self.lock.acquire(lead_id, 0.0)
            if token is None:
                continue  # a live holder has it
            log.info("sweeper resumes lead", extra={"lead": lead_id})
            try:
                self.drive(lead_id, token)
            except Exception:
                log.exception("sweeper: lead processing failed", extra={"lead": lead_id})
            done += 1
        return done


class _NewRequest(Exception):
    """A request came while the pass ran: look again instead of clearing it."""


def _pending(op: str, cur: Item) -> Updates:
    return {
        "PendingShard": PENDING,
        "PendingAt": Decimal(str(round(time.time(), 3))),
        "PendingOp": op,
        "PendingSeq": int(cur.get("PendingSeq") or 0) + 1,
    }


def _error_info(exc: BaseException, closing: bool) -> dict[str, Any]:
    info: dict[str, Any] = {
        "Message": str(exc)[:500],
        "Type": type(exc).__name__,
        "At": versioned.now_iso(),
        "During": "close" if closing else "sync",
    }
    code = getattr(exc, "code", None)
    if code is not None:
        info["Code"] = code
    codes = getattr(exc, "codes", None)
    if codes:
        info["Codes"] = list(codes)
    return info
