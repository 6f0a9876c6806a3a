"""The integration framework, and the Twilio integration.

Building the pair's conversation lives in `app.relay.twilio_conversation`;
closing it in `app.relay.twilio_close`.

An integration has a `name` (its key under the lead's `Integrations`), decides
whether it `applies` to a lead, and can `create`, `sync` and `close` it. The
runner (`app.relay.leads.LeadService.process`) runs each applicable integration
on its own: one that fails is marked `ERROR` with `ErrorInfo`, the others still
run. Each integration records its progress in the lead item before each side
effect so that a resumed run never repeats one.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING, Any, Protocol

from app.core.phones import format_phone
from app.core.safe_text import greeting_name
from app.relay import conversation_store, directory, lead_store, message_store, versioned
from app.relay.feed import publish
from app.relay.inbound.pairs import remember_pair
from app.relay.versioned import Item, Updates

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.integrations")


class RetryLater(Exception):
    """The step cannot finish now (e.g. another lead is creating the conversation)."""


class Integration(Protocol):
    name: str

    def applies(self, ctx: RelayContext, lead: Item) -> bool: ...

    def create(self, ctx: RelayContext, lead: Item) -> dict[str, Any]: ...

    def sync(self, ctx: RelayContext, lead: Item) -> dict[str, Any]: ...

    def close(self, ctx: RelayContext, lead: Item, reason: str) -> dict[str, Any]: ...


def _progress(lead: Item) -> dict[str, Any]:
    return dict(lead.get("Progress") or {})


def set_progress(ctx: RelayContext, lead_id: str, **steps: Any) -> Item:
    """Record step states in the lead item (before/after a side effect)."""

    def fn(item: Item) -> Updates | None:
        progress = _progress(item)
        if all(progress.get(k) == v for k, v in steps.items()):
            return None
        progress.update(steps)
        return {"Progress": progress}

    updated = lead_store.update_lead(ctx.tables, lead_id, fn)
    return updated if updated is not None else (lead_store.get_lead(ctx.tables, lead_id) or {})


def _publish_conversation(ctx: RelayContext, conv: Item) -> None:
    for loc in conversation_store.conversation_locations(conv):
        publish(
            ctx.change_log,
            loc,
            "conversation",
            conv["ConversationSid"],
            int(conv.get("Version", 0)),
            conversation_store.conversation_view(conv, loc),
        )


def publish_message(ctx: RelayContext, conv: Item | None, msg: Item) -> None:
    locs = conversation_store.conversation_locations(conv) if conv else [msg.get("LocationId", "")]
    for loc in locs:
        if not loc:
            continue
        view = message_store.message_view(msg)
        view["locationId"] = loc
        publish(ctx.change_log, loc, "message", msg["MessageSid"], int(msg.get("Version", 1)), view)


def _step(ctx: RelayContext, lead: Item, name: str, *, closing: bool = False) -> None:
    """Between two side effects: the named checkpoint, then the lead's lock. Before
    a side effect (`before_*` steps) the lock is guarded: still held, and, unless
    `closing`, no close asked; after one it is only checked."""
    ctx.checkpoint(name)
    token = lead.get("LockOwner")
    if not token:
        return  # not run by a lock holder (a test calling an integration directly)
    if name.startswith("before_"):
        ctx.lead_lock.guard(str(lead["LeadId"]), str(token), closing=closing)
    else:
        ctx.lead_lock.check(str(lead["LeadId"]), str(token))


def started_by_staff(lead: Item) -> bool:
    """A conversation a staff member started (`POST /v1/leads`), not the customer."""
    return (lead.get("Lead") or {}).get("Source") == "staff"


def _first_name(name: str) -> str:
    # a plain word or "there": never a link or a sentence (app.core.safe_text)
    return greeting_name(name)


def inbound_pool_number(lead: Item) -> str | None:
    """The pool number a texted-in customer wrote to (kept for them where free)."""
    text = lead.get("InboundText") or {}
    return str(text["PoolNumber"]) if text.get("PoolNumber") else None


def details_text(lead: Item, location: directory.Location | None) -> str:
    info = lead.get("Lead") or {}
    if info.get("Source") == "inbound_sms":
        return "\n".join(
            [
                f"A customer texted in again{' to ' + location.name if location else ''}:",
                f"Name: {info.get('Name', '') or 'unknown'}",
                f"Phone: {format_phone(str(info.get('PhoneNumber', '')))}",
                "Their text follows. Reply to answer the customer.",
            ]
        )
    lines = [
        f"New Web2Text lead{' for ' + location.name if location else ''}:",
        f"Name: {info.get('Name', '')}",
        f"Phone: {format_phone(str(info.get('PhoneNumber', '')))}",
        f"Prefers: {info.get('PreferredMethodOfContact', 'text')}",
    ]
    product = info.get("AssociatedProductInfo") or {}
    if product:
        lines.append("Product: " + " / ".join(str(v) for v in product.values() if v))
    lines.append(f"Message: {info.get('CustomerMessage', '')}")
    lines.append("Reply to this text to answer the customer.")
    return "\n".join(lines)


def greeting_text(lead: Item, location: directory.Location | None) -> str:
    info = lead.get("Lead") or {}
    store_name = location.name if location else "our store"
    return (
        f"Hi {_first_name(str(info.get('Name', '')))}, thanks for contacting {store_name}! "
        "We got your message and will text you back here shortly. Reply STOP to opt out."
    )


class TwilioIntegration:
    """Conversations between the customer and the store through pool numbers."""

    name = "Twilio"

    def applies(self, ctx: RelayContext, lead: Item) -> bool:
        return str(lead.get("LeadType", "WEB2TEXT")) == "WEB2TEXT" and ctx.twilio is not None

    # ---- create / sync ----

    def create(self, ctx: RelayContext, lead: versioned.Item) -> dict[str, Any]:
        from app.relay.screening import require_checked_line
        from app.relay.twilio_conversation import ensure_conversation

        require_checked_line(ctx, lead)  # nobody is texted unchecked (Lookup)
        # Nexus when configured, else the relay's directory
        location = ctx.connectors.directory.location(ctx.tables, lead_store.lead_location(lead))
        if location is None or not location.web2text_number:
            raise RuntimeError("the lead's location has no Web2Text number")
        customer = str((lead.get("Lead") or {}).get("PhoneNumber"))
        pair_key = f"{customer}|{location.web2text_number}"
        sid = ensure_conversation(ctx, pair_key, lead, location, customer)
        _step(ctx, lead, "before_join")
        conv = self._join(ctx, sid, lead)
        if conv.get("CustomerProxy"):
            remember_pair(
                ctx.tables,
                customer,
                str(conv["CustomerProxy"]),
                location_id=location.location_id,
                lead_id=str(lead["LeadId"]),
                customer_name=str((lead.get("Lead") or {}).get("Name", "")),
                conversation_sid=sid,
            )
        self._system_messages(ctx, sid, lead, location, customer)
        return {"ConversationSID": sid, "ConversationStatus": conv.get("State", "active")}

    def sync(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        data = self.create(ctx, lead)
        remote = ctx.require_twilio().fetch_conversation(data["ConversationSID"])
        if remote is not None:
            data["ConversationStatus"] = remote.state
        return data

    def _join(self, ctx: RelayContext, sid: str, lead: Item) -> Item:
        """Add the lead to the conversation's LeadIds (ours and Twilio's attributes)."""
        lead_id = str(lead["LeadId"])
        loc = lead_store.lead_location(lead)
        remote = ctx.require_twilio().fetch_conversation(sid)
        remote_state = str(remote.state) if remote is not None else "active"

        def fn(item: Item) -> Updates | None:
            ids = list(item.get("LeadIds") or [])
            locs = list(item.get("LocationIds") or [])
            updates: Updates = {}
            if lead_id not in ids:
                updates["LeadIds"] = [*ids, lead_id]
            if loc and loc not in locs:
                updates["LocationIds"] = [*locs, loc]
            if item.get("State") != "active":
                updates["State"] = "active"
            return updates or None

        conv = conversation_store.update_conversation(ctx.tables, sid, fn)
        if conv is not None:
            _publish_conversation(ctx, conv)
        conv = conv or conversation_store.get_conversation(ctx.tables, sid) or {}
        remote_attrs = _json(getattr(remote, "attributes", None)) if remote is not None else {}
        wanted = dict(remote_attrs)
        wanted["LeadIds"] = list(conv.get("LeadIds") or [lead_id])
        kwargs: dict[str, Any] = {}
        if remote_attrs.get("LeadIds") != wanted["LeadIds"]:
            kwargs["attributes"] = wanted
        if remote_state == "inactive":
            kwargs["state"] = "active"  # reactivate: a new lead joined
        if kwargs:
            ctx.require_twilio().update_conversation(sid, **kwargs)
        lead_store.update_lead(
            ctx.tables,
            lead_id,
            lambda item: _with_twilio_data(
                item, {"ConversationSID": sid, "ConversationStatus": "active"}
            ),
        )
        return conv

    def _system_messages(
        self,
        ctx: RelayContext,
        sid: str,
        lead: Item,
        location: directory.Location,
        customer: str,
    ) -> None:
        lead_id = str(lead["LeadId"])
        w2t = str(location.web2text_number)
        if started_by_staff(lead):
            return  # no greeting: the staff member's first text is the first message
        steps: tuple[tuple[str, str, str], ...] = (
            ("details", customer, details_text(lead, location)),  # to the store
            ("greeting", w2t, greeting_text(lead, location)),  # to the customer
        )
        if lead.get("InboundText"):
            # the customer wrote first: no greeting; their text is the first message
            steps = (("details", customer, details_text(lead, location)),)
        for step, author, body in steps:
            current = lead_store.get_lead(ctx.tables, lead_id) or lead
            state = _progress(current).get(step)
            if state == "sent":
                continue
            set_progress(ctx, lead_id, **{step: "sending"})  # before the side effect
            _step(ctx, lead, f"before_{step}")
            msg = ctx.require_twilio().send_message(
                sid,
                author=author,
                body=body,
                key=f"{lead_id}:{step}",
                attributes={"SystemMessage": True},
                look_first=state == "sending",
            )
            _step(ctx, lead, f"after_{step}")
            record_api_message(ctx, sid, msg, author_kind="system", key=f"{lead_id}:{step}")
            set_progress(ctx, lead_id, **{step: "sent"})
        if lead.get("InboundText"):
            self._inbound_text(ctx, sid, lead, customer)

    def _inbound_text(self, ctx: RelayContext, sid: str, lead: Item, customer: str) -> None:
        """The text that made this lead, posted as the customer's own first message
        (authored as the customer: it reaches the store's phone, and the webhook stores
        it as a customer message). Once, like the system texts."""
        from app.relay.inbound.delivery import post_inbound_text

        lead_id = str(lead["LeadId"])
        state = _progress(lead_store.get_lead(ctx.tables, lead_id) or lead).get("inbound")
        if state == "sent":
            return
        set_progress(ctx, lead_id, inbound="sending")
        _step(ctx, lead, "before_inbound_text")
        post_inbound_text(ctx, sid, lead, customer, look_first=state == "sending")
        _step(ctx, lead, "after_inbound_text")
        set_progress(ctx, lead_id, inbound="sent")

    # ---- close ----

    def close(self, ctx: RelayContext, lead: Item, reason: str) -> dict[str, Any]:
        from app.relay.twilio_close import close_lead

        return close_lead(ctx, lead, reason)


def conversation_unique_name(pair_key: str, gen: int) -> str:
    """The Twilio unique name of the pair's conversation of generation `gen` (a
    resumed creator finds the one it made instead of making a second)."""
    return "w2t-" + hashlib.sha256(pair_key.encode()).hexdigest()[:24] + f"-{gen}"


def record_api_message(
    ctx: RelayContext,
    sid: str,
    msg: Any,
    *,
    author_kind: str,
    key: str | None = None,
    staff_id: str | None = None,
    staff_name: str | None = None,
) -> Item:
    """Store a message the relay created through the API (and announce it)."""
    conv = conversation_store.get_conversation(ctx.tables, sid)
    item: Item = {
        "ConversationSid": sid,
        "MessageSid": str(msg.sid),
        "Index": int(msg.index) if getattr(msg, "index", None) is not None else None,
        "Author": str(msg.author or ""),
        "AuthorKind": author_kind,
        "Body": str(msg.body or ""),
        "Status": "sent",
        "LocationId": (conv or {}).get("LocationId", ""),
        "CreatedAt": versioned.now_iso(),
        "Version": 1,
    }
    if key:
        item["IdempotencyKey"] = key
    if staff_id:
        item["StaffId"] = staff_id
        item["StaffName"] = staff_name or staff_id
    item = {k: v for k, v in item.items() if v is not None}
    if message_store.put_message_if_new(ctx.tables, item):
        publish_message(ctx, conv, item)
        return item
    existing = message_store.get_message(ctx.tables, sid, str(msg.sid))
    if existing is not None and existing.get("Placeholder"):
        # a receipt overtook this answer: keep its status, fill in the rest

        def fill(cur: Item) -> Updates | None:
            if not cur.get("Placeholder"):
                return None
            skip = ("Status", "Version", "ConversationSid", "MessageSid")
            updates = {k: v for k, v in item.items() if k not in skip}
            updates["Placeholder"] = None
            return updates

        filled = message_store.update_message(ctx.tables, sid, str(msg.sid), fill)
        if filled is not None:
            publish_message(ctx, conv, filled)
            return filled
    return existing or item


def _with_twilio_data(item: Item, data: dict[str, Any]) -> Updates | None:
    integrations = dict(item.get("Integrations") or {})
    twilio = dict(integrations.get("Twilio") or {"SyncStatus": "NOT SYNCED"})
    merged = dict(twilio.get("Data") or {})
    if all(merged.get(k) == v for k, v in data.items()):
        return None
    merged.update(data)
    twilio["Data"] = merged
    integrations["Twilio"] = twilio
    return {"Integrations": integrations}


def _sms_parts(parts: list[Any]) -> list[Any]:
    return [p for p in parts if getattr(p, "messaging_binding", None)]


def _json(raw: Any) -> dict[str, Any]:
    import json

    if isinstance(raw, dict):
        return dict(raw)
    try:
        value = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


REGISTRY: list[Integration] = [TwilioIntegration()]
