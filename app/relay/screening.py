"""Who the public lead API may text: the checks of a new lead's phone number.

A lead form names any phone, so the relay texts only numbers that can be a
customer of that retailer (docs/relay.md, "Abuse limits"):

1. **Country**: the number's region (`app.core.phones.region_of`) must be one
   of the retailer's `Countries` (default US, CA) → 400 `country_not_allowed`.
   +1 covers the Caribbean too: +1 876 is Jamaica, not the US.
2. **Line type** (Twilio Lookup v2): only the types the original accepted,
   `mobile`, `nonFixedVoip`, `fixedVoip`, `personal` → 400 `line_type`
   otherwise (landline, tollFree, premium, satellite, sharedCost, voicemail,
   unknown ...); a number Lookup calls invalid → 400 `invalid_phone`. When
   Lookup cannot answer, the lead is kept with `LineTypeCheck = "pending"`:
   the Twilio integration asks again before it does anything
   (`require_checked_line`), the lead waits (the sweeper retries it), and after
   `W2T_LOOKUP_WAIT` without an answer it is given up (Twilio `ERROR`). Nobody
   is texted unchecked.
3. **Open leads per conversation**: a customer's conversation with a store
   holds at most `MAX_OPEN_LEADS` leads (its `LeadIds`, also copied into the
   Twilio attributes) → 422 `too_many_open_leads`.
4. **New leads per phone**: at most `W2T_PHONE_LEADS_PER_DAY` (5) per retailer
   in any 24 h (slots in the Limits table, `app.relay.ratelimit`) → 429
   `too_many_leads_for_phone` with `Retry-After`. Taken last, once every other
   check passed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Final

from app.core.errors import ErrorReason
from app.core.phones import region_of
from app.relay import conversation_store, directory, lead_store, versioned
from app.relay.dealer_status import (
    TEXTABLE_LINE_TYPES,
    Check,
    line_type_refused,
    lookup_invalid,
)
from app.relay.errors import ApiError
from app.relay.ratelimit import Refusal
from app.relay.twilio_client import LookupUnavailable

if TYPE_CHECKING:
    from app.relay.context import RelayContext

log = logging.getLogger("app.relay.screening")

#: the Lookup line types the original service accepted
ALLOWED_LINE_TYPES: Final = frozenset(TEXTABLE_LINE_TYPES)
#: leads one conversation holds at once (a lead leaves it when it closes)
MAX_OPEN_LEADS: Final = 20
DAY_S: Final = 24 * 3600.0
PENDING: Final = "pending"

def _invalid(text: str, reason: str) -> ApiError:
    """The original's form of a phone check's failure."""
    return Check("Phone Number", "INVALID", text, reason).error()


def line_type_refusal(kind: str) -> ApiError | None:
    """The 400 for a Lookup answer the relay does not text (in the original's
    words), or None."""
    if kind in ALLOWED_LINE_TYPES:
        return None
    if kind.startswith("invalid"):
        errors = [e for e in kind.partition(":")[2].split(",") if e]
        return _invalid(lookup_invalid(errors), ErrorReason.INVALID_PHONE)
    return _invalid(line_type_refused(kind), ErrorReason.LINE_TYPE)


def check_country(retailer: directory.Retailer, phone: str) -> None:
    region = region_of(phone)
    if region is None or region not in retailer.countries:
        where = region or "an unknown country"
        raise _invalid(
            f"Phone number is in {where}, outside the countries this retailer texts: "
            f"{', '.join(retailer.countries)}",
            ErrorReason.COUNTRY_NOT_ALLOWED,
        )


def check_line_type(ctx: RelayContext, phone: str) -> versioned.Updates:
    """Raise the line-type 400, or return the lead attributes to store: the checked
    type, or `LineTypeCheck = pending` when Lookup cannot answer now."""
    if ctx.twilio is None:
        return {}
    try:
        kind = ctx.twilio.classify_line(phone)
    except LookupUnavailable:
        log.warning("Lookup unavailable: the lead waits for its line type")
        return {"LineTypeCheck": PENDING, "LineTypeSince": int(ctx.clock())}
    refusal = line_type_refusal(kind)
    if refusal is not None:
        raise refusal
    return {"LineType": kind}


def check_conversation_room(ctx: RelayContext, phone: str, web2text_number: str) -> None:
    """422 when the customer's open conversation with this number is full of leads."""
    pair = ctx.tables.pairs.get_item(
        Key={"PairKey": f"{phone}|{web2text_number}"}, ConsistentRead=True
    ).get("Item")
    if not pair or pair.get("State") == "CLOSED" or not pair.get("ConversationSid"):
        return
    conv = conversation_store.get_conversation(ctx.tables, str(pair["ConversationSid"]))
    if conv is None or conv.get("State") == "closed":
        return
    if len(conv.get("LeadIds") or []) >= MAX_OPEN_LEADS:
        raise ApiError(
            422,
            ErrorReason.TOO_MANY_OPEN_LEADS,
            f"Phone Number is INVALID - this customer already has {MAX_OPEN_LEADS} open "
            "leads with this store; close some first",
        )


def take_phone_slot(ctx: RelayContext, retailer_id: str, phone: str) -> None:
    """One of the phone's daily new-lead slots at this retailer, or 429."""
    per_day = ctx.settings.phone_leads_per_day
    limits = ctx.limits
    if limits is None:
        return
    taken = limits.take_slot(f"phone:{retailer_id}:{phone}", per_day, DAY_S)
    if isinstance(taken, Refusal):
        raise taken.error(
            ErrorReason.TOO_MANY_LEADS_FOR_PHONE,
            f"Phone Number is INVALID - it already got {per_day} new leads from this "
            "retailer in the last 24 hours",
        )


def screen_phone(
    ctx: RelayContext, retailer: directory.Retailer | None, location: directory.Location,
    phone: str,
) -> versioned.Updates:
    """Country, line type, open leads (in that order); the attributes to store."""
    if retailer is not None:
        check_country(retailer, phone)
    updates = check_line_type(ctx, phone)
    if location.web2text_number:
        check_conversation_room(ctx, phone, location.web2text_number)
    return updates


class PhoneRefused(Exception):
    """A waiting lead's number turned out not to be textable (or Lookup never answered)."""


def require_checked_line(ctx: RelayContext, lead: versioned.Item) -> None:
    """Before the Twilio integration texts anyone: a lead created while Lookup could
    not answer asks again. Raises RetryLater while it waits, PhoneRefused when the
    answer (or the lack of one for `W2T_LOOKUP_WAIT`) refuses the number."""
    if lead.get("LineTypeCheck") != PENDING:
        return
    from app.relay.integrations import RetryLater

    phone = str((lead.get("Lead") or {}).get("PhoneNumber", ""))
    try:
        # one attempt: retried by the sweeper, and never longer than the processing
        # lease (a second worker taking the lease over must not find it still asking)
        kind = ctx.require_twilio().classify_line(phone, retry=False)
    except LookupUnavailable:
        waited = ctx.clock() - float(lead.get("LineTypeSince") or ctx.clock())
        if waited > ctx.settings.lookup_wait_s:
            raise PhoneRefused(
                "PhoneNumber could not be checked: Twilio Lookup did not answer"
            ) from None
        raise RetryLater("waiting for Twilio Lookup to answer") from None
    refusal = line_type_refusal(kind)
    if refusal is not None:
        raise PhoneRefused(refusal.message)

    def checked(cur: versioned.Item) -> versioned.Updates | None:
        if cur.get("LineTypeCheck") != PENDING:
            return None
        return {"LineTypeCheck": None, "LineTypeSince": None, "LineType": kind}

    lead_store.update_lead(ctx.tables, str(lead["LeadId"]), checked)

