"""Sending scheduled texts when they are due, exactly once with any number of relay
instances (`app.relay.scheduled` holds the items).

Every instance looks for due texts (the sparse GSI `Due`, every
`W2T_SCHEDULE_INTERVAL`) and **claims** each with a conditional write: status
scheduled → sending, `ClaimOwner` = this instance, `ClaimUntil` = now + the lease
(`W2T_SCHEDULE_LEASE`), `Attempts` + 1. Only the holder sends, and right before
the Twilio call it checks, in one conditional write, that the claim is still its
own (and extends it). A holder that dies leaves its claim to run out; the next
claimant (`Attempts` > 1) first looks for the text in the conversation's recent
messages (the scheduled text's id travels in the message's attributes, as a
staff send's Idempotency-Key does) and only sends when it is not there: a crash
at any step ends with one text. The lease is longer than a send can take, so a
live holder is never overtaken between its check and its call.

At send time the send's own checks apply again: quiet hours move the text to the
customer's next allowed moment (shown as moved), a closed conversation or an
opt-out fails it with that reason; a Twilio outage puts it back for a later try.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import ulid
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from app.core.wire_staff import ScheduledStatus
from app.relay import conversation_store, scheduled, sends
from app.relay.ddb import is_conditional_failure
from app.relay.errors import ApiError
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.scheduled")

#: Twilio outages a scheduled text waits out before it is given up
MAX_ATTEMPTS = 6
RETRY_AFTER_S = 30.0


class ClaimLost(Exception):
    """Another instance holds the scheduled text now (this one was too slow)."""


class ScheduleDispatcher:
    """Claims due texts and sends them (one per process, run by the background loop)."""

    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{ulid.ULID()}"

    @property
    def lease_s(self) -> float:
        return max(1.0, self.ctx.settings.schedule_lease_s)

    def run_due(self, limit: int = 25) -> int:
        """Claim and send the texts that are due now; how many this instance sent."""
        now = time.time()
        page = scheduled.table(self.ctx).query(
            IndexName="Due",
            KeyConditionExpression=Key("DueShard").eq(scheduled.DUE) & Key("DueAt").lte(_dec(now)),
            Limit=limit,
        )
        sent = 0
        for due in page.get("Items", []):
            item = self.claim(str(due["MessageSid"]), now)
            if item is None:
                continue  # another instance has it, or it was cancelled
            try:
                sent += self.dispatch(item)
            except ClaimLost:
                log.warning("scheduled text taken over", extra={"scheduled": item["MessageSid"]})
            except Exception:
                log.exception("scheduled text failed", extra={"scheduled": item["MessageSid"]})
                self._release(item, "internal_error")
        return sent

    # ------------------------------------------------------------------ claim

    def claim(self, sid: str, now: float) -> Item | None:
        try:
            resp = scheduled.table(self.ctx).update_item(
                Key={"MessageSid": sid},
                UpdateExpression=(
                    "SET #s = :sending, ClaimOwner = :me, ClaimUntil = :until, "
                    "Attempts = if_not_exists(Attempts, :zero) + :one, Version = Version + :one"
                ),
                ConditionExpression=(
                    "DueShard = :d AND DueAt <= :now AND "
                    "(#s = :scheduled OR (#s = :sending AND ClaimUntil < :now))"
                ),
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={
                    ":sending": ScheduledStatus.SENDING.value,
                    ":scheduled": ScheduledStatus.SCHEDULED.value,
                    ":me": self.owner,
                    ":until": _dec(now + self.lease_s),
                    ":now": _dec(now),
                    ":d": scheduled.DUE,
                    ":zero": 0,
                    ":one": 1,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        item = dict(resp["Attributes"])
        scheduled.announce(self.ctx, item)
        return item

    def _guard(self, item: Item) -> None:
        """Still ours, extended by a lease: the Twilio call may follow."""
        self._write(
            item,
            "SET ClaimUntil = :until",
            {":until": _dec(time.time() + self.lease_s)},
            bump=False,
        )

    # ------------------------------------------------------------------ sending

    def dispatch(self, item: Item) -> int:
        """Send one claimed text (1), or move, fail or put it back (0)."""
        ctx = self.ctx
        sid = str(item["MessageSid"])
        conv = conversation_store.get_conversation(ctx.tables, str(item["ConversationSid"]))
        if conv is None:
            self._fail(item, "conversation_not_found", "The conversation no longer exists")
            return 0
        sender = sends.Sender(str(item.get("StaffId") or ""), str(item.get("StaffName") or ""))
        body = str(item.get("Body", ""))
        taken_over = int(item.get("Attempts", 1)) > 1
        # the relay's hour for the customer's quiet hours (`RelayContext.clock`)
        now = datetime.fromtimestamp(ctx.clock(), UTC)
        if taken_over and ctx.twilio is not None:
            found = sends.find_sent(ctx, str(conv["ConversationSid"]), sid)
            if found is not None:  # an earlier holder sent it before it died
                leads = sends.conversation_leads(ctx.tables, conv)
                sends.record_sent(ctx, conv, leads, sender, found, body, sid, now)
                self._finish(item, str(found.sid))
                return 1
        try:
            leads = sends.check_sendable(ctx, conv, now)
        except ApiError as exc:
            if exc.reason == "quiet_hours" and exc.extra.get("nextAllowedAt"):
                self._move(item, str(exc.extra["nextAllowedAt"]))
            else:
                self._fail(item, exc.reason, exc.message)
            return 0
        if ctx.twilio is None:
            self._fail(item, "upstream_unavailable", "Twilio is not configured")
            return 0
        self._guard(item)
        ctx.checkpoint("scheduled.before_send")
        try:
            msg = sends.send_via_twilio(ctx, conv, sender, body, sid, look_first=taken_over)
        except sends.TWILIO_ERRORS as exc:
            answer = sends.failure_answer(None, exc)
            if answer.status >= 500:
                self._release(item, answer.reason)
            else:
                self._fail(item, answer.reason, answer.message)
            return 0
        ctx.checkpoint("scheduled.after_send")
        sends.record_sent(ctx, conv, leads, sender, msg, body, sid, now)
        self._finish(item, str(msg.sid))
        log.info(
            "scheduled text sent", extra={"scheduled": sid, "conversation": conv["ConversationSid"]}
        )
        return 1

    # ------------------------------------------------------------------ outcomes

    def _finish(self, item: Item, message_sid: str) -> None:
        self._settle(
            item,
            "SET #s = :sent, SentMessageSid = :m REMOVE DueShard, ClaimOwner, ClaimUntil",
            {":sent": ScheduledStatus.SENT.value, ":m": message_sid},
        )

    def _fail(self, item: Item, reason: str, message: str) -> None:
        self._settle(
            item,
            "SET #s = :failed, ErrorReason = :r, ErrorMessage = :m "
            "REMOVE DueShard, ClaimOwner, ClaimUntil",
            {":failed": ScheduledStatus.FAILED.value, ":r": reason, ":m": message[:500]},
        )
        log.info("scheduled text not sent", extra={"scheduled": item["MessageSid"], "why": reason})

    def _move(self, item: Item, next_allowed: str) -> None:
        """Quiet hours at the customer's now: the text goes at their next allowed moment."""
        at = datetime.fromisoformat(next_allowed.replace("Z", "+00:00")).astimezone(UTC)
        self._settle(
            item,
            "SET #s = :scheduled, SendAt = :at, DueAt = :due, MovedForQuietHours = :t, "
            "Attempts = :zero REMOVE ClaimOwner, ClaimUntil",
            {
                ":scheduled": ScheduledStatus.SCHEDULED.value,
                ":at": sends.iso(at),
                ":due": scheduled.epoch(at),
                ":t": True,
                ":zero": 0,
            },
        )

    def _release(self, item: Item, reason: str) -> None:
        """A try that could not finish: again later, or failed after MAX_ATTEMPTS."""
        attempts = int(item.get("Attempts", 1))
        if attempts >= MAX_ATTEMPTS:
            self._fail(item, reason, "Twilio did not take the text; it was not sent")
            return
        later = datetime.now(UTC) + timedelta(seconds=RETRY_AFTER_S * attempts)
        self._settle(
            item,
            "SET #s = :scheduled, DueAt = :due REMOVE ClaimOwner, ClaimUntil",
            {":scheduled": ScheduledStatus.SCHEDULED.value, ":due": scheduled.epoch(later)},
        )

    def _settle(self, item: Item, expression: str, values: dict[str, Any]) -> None:
        try:
            settled = self._write(item, expression, values, bump=True)
        except ClaimLost:
            return  # the instance that took over settles it
        scheduled.announce(self.ctx, settled)

    def _write(self, item: Item, expression: str, values: dict[str, Any], *, bump: bool) -> Item:
        if bump:
            expression = expression.replace("SET ", "SET Version = Version + :one, ", 1)
            values = {**values, ":one": 1}
        try:
            resp = scheduled.table(self.ctx).update_item(
                Key={"MessageSid": item["MessageSid"]},
                UpdateExpression=expression,
                ConditionExpression="ClaimOwner = :me AND #s = :sending",
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={
                    **values,
                    ":me": self.owner,
                    ":sending": ScheduledStatus.SENDING.value,
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise ClaimLost(str(item["MessageSid"])) from None
            raise
        return dict(resp["Attributes"])


def _dec(value: float) -> Decimal:
    return Decimal(str(round(value, 3)))
