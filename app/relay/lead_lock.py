"""One lead, one step at a time: a lease lock kept on the lead item itself.

Every handler that moves a lead through its integrations (create's processing,
sync, close, the webhooks' closes, admin bulk, the sweeper) holds this lock
while it works, whichever relay instance it runs on. The lock is two relay-owned
attributes of the lead item, `LockOwner` (a random token per holding) and
`LockUntil` (epoch seconds), taken with a conditional UpdateItem: free, expired,
or already ours. A holder keeps its lease alive from a heartbeat thread for as
long as it holds the lock, so the lock changes hands only when the holder lets
go or its process dies (the lease then runs out).

Right before a side effect that reaches a person (a conversation created, a
text sent) the holder calls `guard`: one conditional write that passes only
while it still holds the lock and the lead is neither CLOSED nor asked to close
(`CloseRequested`). A close asked meanwhile therefore stops a running create or
sync before its next text, and `Status = CLOSED` is written only by a holder of
the lock: no text can follow it.

The lock writes do not bump the item's `Version` (they change nothing a reader
of the lead sees); the writes that must not outlive a holding carry the
`LockOwner = :me` condition themselves (`app.relay.lead_runner`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from decimal import Decimal
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from app.relay.ddb import is_conditional_failure

log = logging.getLogger("app.relay.lead_lock")

#: the longest pause between two looks at a busy lock held by another process
MAX_POLL_S = 0.25
#: lost tokens remembered (a holder asks about its own token soon after losing it)
MAX_LOST = 1000


class Preempted(Exception):
    """The running operation must stop before its next side effect."""


class LockLost(Preempted):
    """The lease ran out and another holder took the lead: stop, write nothing more."""


class CloseAsked(Preempted):
    """A close was asked for the lead: the running create/sync stops here."""


def _dec(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))


class LeadLock:
    """The per-lead lock of one relay process (its heartbeat renews what it holds)."""

    def __init__(self, tables: Any, lease_s: float) -> None:
        self.tables = tables
        self.lease_s = max(lease_s, 1.0)
        self._held: dict[str, str] = {}  # token -> lead id
        self._lost: dict[str, None] = {}  # insertion-ordered: the oldest go first
        self._mutex = threading.Lock()
        self._released = threading.Condition(self._mutex)
        self._heartbeat: threading.Thread | None = None

    # ------------------------------------------------------------------ taking

    def try_acquire(self, lead_id: str, token: str) -> bool:
        """Take the lock if it is free, expired or already `token`'s (one write)."""
        now = time.time()
        try:
            self.tables.leads.update_item(
                Key={"LeadId": lead_id},
                UpdateExpression="SET LockOwner = :me, LockUntil = :until",
                ConditionExpression=(
                    "attribute_exists(LeadId) AND (attribute_not_exists(LockOwner)"
                    " OR LockUntil < :now OR LockOwner = :me)"
                ),
                ExpressionAttributeValues={
                    ":me": token,
                    ":now": _dec(now),
                    ":until": _dec(now + self.lease_s),
                },
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        self.hold(lead_id, token)
        return True

    def acquire(self, lead_id: str, wait_s: float) -> str | None:
        """A new holding of the lead's lock (its token), waiting up to `wait_s`; None if
        it stayed busy. A release in this process wakes the waiters at once; another
        process's release is seen at the next look."""
        token = new_token()
        deadline = time.monotonic() + max(wait_s, 0.0)
        pause = 0.02
        while True:
            if self.try_acquire(lead_id, token):
                return token
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            with self._released:
                self._released.wait(min(pause, left))
            pause = min(pause * 2, MAX_POLL_S)

    def hold(self, lead_id: str, token: str) -> None:
        """Keep `token`'s lease on `lead_id` alive until it is released (or lost).
        Called by `try_acquire`, and by a creator that wrote the lock into a new item."""
        with self._mutex:
            self._held[token] = lead_id
            self._lost.pop(token, None)
            if self._heartbeat is None or not self._heartbeat.is_alive():
                self._heartbeat = threading.Thread(
                    target=self._beat, name="w2t-lead-lock", daemon=True
                )
                self._heartbeat.start()

    # ------------------------------------------------------------------ holding

    def guard(self, lead_id: str, token: str, *, closing: bool = False) -> None:
        """Right before a side effect: still ours (and, unless `closing`, no close asked
        or done)? Raises `LockLost` or `CloseAsked` otherwise."""
        if token in self._lost:
            raise LockLost(lead_id)
        cond = "LockOwner = :me"
        values: dict[str, Any] = {":me": token, ":until": _dec(time.time() + self.lease_s)}
        names: dict[str, str] = {}
        if not closing:
            cond += " AND attribute_not_exists(CloseRequested) AND #s <> :closed"
            names["#s"] = "Status"
            values[":closed"] = "CLOSED"
        try:
            kwargs: dict[str, Any] = {
                "Key": {"LeadId": lead_id},
                "UpdateExpression": "SET LockUntil = :until",
                "ConditionExpression": cond,
                "ExpressionAttributeValues": values,
            }
            if names:
                kwargs["ExpressionAttributeNames"] = names
            self.tables.leads.update_item(**kwargs)
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            self._raise_preempted(lead_id, token)

    def check(self, lead_id: str, token: str) -> None:
        """After a side effect: raise `LockLost` if the heartbeat found the lease gone."""
        if token in self._lost:
            raise LockLost(lead_id)

    def _raise_preempted(self, lead_id: str, token: str) -> None:
        item = self.tables.leads.get_item(Key={"LeadId": lead_id}, ConsistentRead=True).get("Item")
        if not item or item.get("LockOwner") != token:
            self.forget(token, lost=True)
            raise LockLost(lead_id)
        raise CloseAsked(lead_id)

    # ------------------------------------------------------------------ letting go

    def release(
        self, lead_id: str, token: str, *, pending_seq: Any = None, due_at: float | None = None
    ) -> bool:
        """Let go, unless work was asked for since the holder last looked.

        `due_at` None: the holder saw nothing pending, and releases only if that is
        still so. Otherwise the lead stays pending (a step to retry) and is due again
        at `due_at`; it releases only if no new request came (`PendingSeq` unchanged).
        False: new work is there (keep holding and run it); `LockLost` if not ours.
        """
        with self._mutex:  # no renewal may race the release (it would read as lost)
            self._held.pop(token, None)
        values: dict[str, Any] = {":me": token}
        if due_at is None:
            expr = "REMOVE LockOwner, LockUntil"
            cond = "LockOwner = :me AND attribute_not_exists(PendingShard)"
        else:
            expr = "SET PendingAt = :due REMOVE LockOwner, LockUntil"
            values[":due"] = _dec(due_at)
            if pending_seq is None:
                cond = "LockOwner = :me AND attribute_not_exists(PendingSeq)"
            else:
                cond = "LockOwner = :me AND PendingSeq = :seq"
                values[":seq"] = pending_seq
        try:
            self.tables.leads.update_item(
                Key={"LeadId": lead_id},
                UpdateExpression=expr,
                ConditionExpression=f"attribute_exists(LeadId) AND {cond}",
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            item = self.tables.leads.get_item(Key={"LeadId": lead_id}, ConsistentRead=True).get(
                "Item"
            )
            if not item or item.get("LockOwner") != token:
                self.forget(token, lost=True)
                if not item:
                    return True
                raise LockLost(lead_id) from None
            self.hold(lead_id, token)  # still ours: new work to run
            return False
        self.forget(token)
        return True

    def forget(self, token: str, *, lost: bool = False) -> None:
        """Stop renewing `token` (released, lost, or its item is gone); wake the waiters."""
        with self._released:
            self._held.pop(token, None)
            if lost:
                self._lost[token] = None
                while len(self._lost) > MAX_LOST:
                    del self._lost[next(iter(self._lost))]
            self._released.notify_all()

    # ------------------------------------------------------------------ heartbeat

    def _beat(self) -> None:
        while True:
            time.sleep(self.lease_s / 3)
            with self._mutex:
                held = dict(self._held)
                if not held:
                    self._heartbeat = None
                    return
            for token, lead_id in held.items():
                try:
                    self._renew(lead_id, token)
                except (BotoCoreError, ClientError) as exc:  # DynamoDB away: tried again
                    log.warning("lead lock renewal failed",  # next beat; no traceback
                                extra={"lead": lead_id, "error": type(exc).__name__})
                except Exception:
                    log.exception("lead lock renewal failed", extra={"lead": lead_id})

    def _renew(self, lead_id: str, token: str) -> None:
        try:
            self.tables.leads.update_item(
                Key={"LeadId": lead_id},
                UpdateExpression="SET LockUntil = :until",
                ConditionExpression="LockOwner = :me",
                ExpressionAttributeValues={
                    ":me": token,
                    ":until": _dec(time.time() + self.lease_s),
                },
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
            with self._mutex:
                still_held = token in self._held
            if still_held:  # not a release racing this renewal: the lease was lost
                log.warning("lead lock lost", extra={"lead": lead_id})
                self.forget(token, lost=True)


def new_token() -> str:
    return uuid.uuid4().hex
