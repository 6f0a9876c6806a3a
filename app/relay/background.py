"""Periodic work of a relay process: the lead sweeper, the inbound-text sweeper (texts
whose routing a crash interrupted), the pool refresh, the reconcile of
conversations against Twilio and the close of idle conversations (`app.relay.idle`).

Each runs in its own daemon thread. Several relay instances may run them at
once: the sweeper takes a per-lead lease (conditional write) before resuming a
lead, and the reconcile takes a global lease item so only one instance runs it
per interval.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from app.relay import message_store, versioned
from app.relay.ddb import all_items, is_conditional_failure
from app.relay.versioned import Item

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.background")


class BackgroundWorkers:
    def __init__(self, ctx: RelayContext) -> None:
        self.ctx = ctx
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        s = self.ctx.settings
        jobs: list[tuple[str, float, Callable[[], Any]]] = [
            ("sweeper", s.sweeper_interval_s, self.ctx.leads.sweep),
            ("inbound-sweeper", s.sweeper_interval_s, self._route_due_texts),
            ("pool-refresh", s.pool_refresh_s, self.ctx.pool.refresh),
            ("scheduled", s.schedule_interval_s, self.ctx.scheduler.run_due),
        ]
        if self.ctx.twilio is not None:
            jobs.append(("reconcile", s.reconcile_interval_s, lambda: reconcile(self.ctx)))
            if s.idle_close_after_s > 0:
                jobs.append(("idle-close", s.idle_close_interval_s, self._close_idle))
        for name, interval, fn in jobs:
            t = threading.Thread(
                target=self._loop, args=(name, interval, fn), name=f"w2t-{name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def _close_idle(self) -> None:
        from app.relay.idle import close_idle_conversations

        if _take_lease(self.ctx, "idle-close", self.ctx.settings.idle_close_interval_s * 0.9):
            close_idle_conversations(self.ctx)

    def _route_due_texts(self) -> None:
        from app.relay.inbound.routing import resume_due

        resume_due(self.ctx)

    def _loop(self, name: str, interval: float, fn: Callable[[], Any]) -> None:
        while not self._stop.wait(interval):
            try:
                fn()
            except Exception:
                log.exception("background job failed", extra={"job": name})

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)


def _take_lease(ctx: RelayContext, name: str, seconds: float) -> bool:
    now = int(time.time())
    try:
        ctx.tables.events.put_item(
            Item={"EventKey": f"lease:{name}", "ExpiresAt": now + int(max(seconds, 1))},
            ConditionExpression="attribute_not_exists(EventKey) OR ExpiresAt <= :now",
            ExpressionAttributeValues={":now": now},
        )
        return True
    except ClientError as exc:
        if is_conditional_failure(exc):
            return False
        raise


def reconcile(ctx: RelayContext, *, force: bool = False, message_limit: int = 30) -> dict[str, int]:
    """Repair what missed webhooks left behind, for every non-closed conversation:
    the conversation's state (closed/inactive at Twilio), messages never stored,
    and receipts of messages whose status is not final."""
    stats = {"conversations": 0, "messages": 0, "states": 0, "receipts": 0}
    if not force and not _take_lease(ctx, "reconcile", ctx.settings.reconcile_interval_s * 0.9):
        return stats
    open_conversations = all_items(
        ctx.tables.conversations.scan,
        FilterExpression="#s <> :closed",
        ExpressionAttributeNames={"#s": "State"},
        ExpressionAttributeValues={":closed": "closed"},
    )
    for conv in list(open_conversations):
        sid = str(conv["ConversationSid"])
        stats["conversations"] += 1
        try:
            _reconcile_conversation(ctx, conv, message_limit, stats)
        except Exception:
            log.exception("reconcile of a conversation failed", extra={"conversation": sid})
    return stats


def _reconcile_conversation(
    ctx: RelayContext, conv: Item, message_limit: int, stats: dict[str, int]
) -> None:
    """One conversation: its recent messages and their receipts, then its state."""
    from app.relay.webhooks import handle_state_event

    sid = str(conv["ConversationSid"])
    remote = ctx.require_twilio().fetch_conversation(sid)
    if remote is None:
        return
    leads: dict[str, Item | None] = {}  # read at most once per conversation
    for msg in reversed(ctx.require_twilio().recent_messages(sid, message_limit)):
        _reconcile_message(ctx, conv, msg, leads, stats)
    if str(remote.state) != conv.get("State"):
        handle_state_event(
            ctx,
            {
                "EventType": "onConversationStateUpdated",
                "ConversationSid": sid,
                "StateTo": str(remote.state),
                "StateUpdated": f"reconcile-{int(time.time())}",
            },
        )
        stats["states"] += 1


def _reconcile_message(
    ctx: RelayContext,
    conv: Item,
    msg: Any,
    leads: dict[str, Item | None],
    stats: dict[str, int],
) -> None:
    """Store a message Twilio has and we lack (or whose effects were lost), then
    replay the receipts of one whose status is not final."""
    from app.relay.webhooks import (
        delivery_updated,
        effects_missing,
        effects_stale,
        message_added,
    )

    sid = str(conv["ConversationSid"])
    known = message_store.get_message(ctx.tables, sid, str(msg.sid))
    if (
        known is None
        or known.get("Placeholder")
        or (effects_stale(known) and effects_missing(ctx, conv, known, leads))
    ):
        message_added(ctx, conv, message_form(sid, msg))
        stats["messages"] += 1
        known = message_store.get_message(ctx.tables, sid, str(msg.sid))
    if known is not None and known.get("Status") not in ("failed", "undelivered", "read"):
        for receipt in _receipts(ctx, sid, str(msg.sid)):
            delivery_updated(ctx, conv, receipt)
            stats["receipts"] += 1


def message_form(sid: str, msg: Any) -> dict[str, str]:
    created = getattr(msg, "date_created", None)
    form = {
        "EventType": "onMessageAdded",
        "ConversationSid": sid,
        "MessageSid": str(msg.sid),
        "Index": str(msg.index) if getattr(msg, "index", None) is not None else "",
        "Author": str(msg.author or ""),
        "Body": str(msg.body or ""),
        "Attributes": msg.attributes if isinstance(msg.attributes, str) else "{}",
        "DateCreated": created.isoformat().replace("+00:00", "Z")
        if created
        else versioned.now_iso(),
    }
    media = getattr(msg, "media", None)
    if media:
        form["Media"] = json.dumps(
            [
                {
                    "Sid": m.get("sid"),
                    "Filename": m.get("filename"),
                    "ContentType": m.get("content_type"),
                    "Size": m.get("size"),
                }
                for m in media
                if isinstance(m, dict)
            ]
        )
    return form


def _receipts(ctx: RelayContext, sid: str, message_sid: str) -> list[dict[str, str]]:
    tw = ctx.require_twilio()
    receipts = tw.call(
        "list_receipts",
        lambda: tw.conversations(sid).messages(message_sid).delivery_receipts.list(limit=20),
    )
    out = []
    for r in receipts:
        form = {
            "EventType": "onDeliveryUpdated",
            "ConversationSid": sid,
            "MessageSid": message_sid,
            "DeliveryReceiptSid": str(r.sid),
            "Status": str(r.status),
        }
        if getattr(r, "error_code", None):
            form["ErrorCode"] = str(r.error_code)
        out.append(form)
    return out
