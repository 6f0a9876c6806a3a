"""The customer's opt-out state (`{P}_Web2Text_OptedOutNumbers`), changed by STOP and
START texts in the order Twilio received them.

Item (compatible): `PhoneNumber`, `OptedOutNumbers`: pool number ->
`{DateOptedOut, OptOutRequest}`; STOP sets an entry, START removes it. The relay
adds `OptOutEvents`: pool number -> `{At, Sid, Kind}`, the last STOP/START it
applied (`At`: epoch seconds when Twilio received that text).

A STOP/START webhook is signed but carries no time, and its dedupe record
(`WebhookEvents`) expires after 7 days: a captured webhook replayed later would
flip the state back. So the relay asks Twilio when it received the text
(`TwilioGateway.message_date`, the Messages API) and applies the event only if
it is newer than the last one applied for that pool number (a conditional
update on `OptOutEvents.<pool>.At`). Twilio's times have whole seconds: another
text of the same second applies in the order it arrives, the same text (sid)
again does not. A text Twilio does not know is not applied either.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from app.relay.ddb import is_conditional_failure
from app.relay.logs import mask_phone

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.optouts")

EVENTS_ATTR = "OptOutEvents"


def received_at(ctx: RelayContext, message_sid: str) -> float | None:
    """When Twilio received `message_sid` (epoch seconds); None when Twilio does not
    know it. Without a Twilio client (tests of the relay alone): now."""
    if ctx.twilio is None:
        return float(ctx.clock())
    if not message_sid:
        return None
    created = ctx.twilio.message_date(message_sid)
    return created.timestamp() if created is not None else None


def _ensure_maps(ctx: RelayContext, phone: str) -> None:
    """Both maps exist, so one pool number's entry can be set on its own (other
    systems and other pool numbers' entries are never overwritten)."""
    ctx.tables.optouts.update_item(
        Key={"PhoneNumber": phone},
        UpdateExpression=(
            "SET OptedOutNumbers = if_not_exists(OptedOutNumbers, :empty), "
            f"{EVENTS_ATTR} = if_not_exists({EVENTS_ATTR}, :empty)"
        ),
        ExpressionAttributeValues={":empty": {}},
    )


def apply_event(
    ctx: RelayContext, phone: str, pool_number: str, kind: str, at: float, sid: str, text: str
) -> bool:
    """Apply STOP or START for (`phone`, `pool_number`) unless a newer (or the same)
    event was applied already; True when the state was changed by this event."""
    _ensure_maps(ctx, phone)
    event = {"At": Decimal(str(round(at, 3))), "Sid": sid, "Kind": kind}
    names = {"#n": pool_number, "#ev": EVENTS_ATTR}
    values: dict[str, Any] = {":ev": event, ":at": event["At"], ":sid": sid}
    # Twilio's times have whole seconds: another text of the same second applies
    # in the order it arrives; the same text again, or an older one, does not
    condition = (
        "attribute_not_exists(#ev.#n) OR #ev.#n.#at < :at "
        "OR (#ev.#n.#at = :at AND #ev.#n.#sid <> :sid)"
    )
    if kind == "STOP":
        moment = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
        values[":e"] = {"DateOptedOut": moment, "OptOutRequest": text[:160]}
        expression = "SET OptedOutNumbers.#n = :e, #ev.#n = :ev"
    else:
        expression = "REMOVE OptedOutNumbers.#n SET #ev.#n = :ev"
    try:
        ctx.tables.optouts.update_item(
            Key={"PhoneNumber": phone},
            UpdateExpression=expression,
            ConditionExpression=condition,
            ExpressionAttributeNames={**names, "#at": "At", "#sid": "Sid"},
            ExpressionAttributeValues=values,
        )
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        log.warning(
            "opt-out event older than the state: ignored (a replay?)",
            extra={"phone": mask_phone(phone), "kind": kind},
        )
        return False
    return True
