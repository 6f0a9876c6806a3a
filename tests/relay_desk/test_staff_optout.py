"""Opt-outs staff record (`POST /v1/conversations/{sid}/opt-out`) and the stored
"not an opt-out" of the possible-opt-out banner (`PATCH ... {"possibleOptOut": false}`):
a real relay on DynamoDB Local, the Twilio simulator."""

from __future__ import annotations

import uuid

import httpx
import pytest

from app.relay import consent_log
from app.sandbox.twilio_sim import SimHandle
from tests.relay_desk.helpers import (
    STORE_PHONE,
    conversation_of,
    current_lead,
    headers,
    lead_status,
    new_lead,
    new_phone,
    send,
    texts,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, issue_staff_key, seed_location, tables_for

pytestmark = pytest.mark.dynamodb


def _opt_out(
    relay: RelayHandle, key: str, sid: str, reason: object, idem: str | None = None
) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/conversations/{sid}/opt-out",
        json={"reason": reason},
        headers=headers(key, idem),
        timeout=30,
    )


def _started(relay: RelayHandle, sim: SimHandle, seed: Seed) -> tuple[str, str, str]:
    """(lead id, conversation sid, customer phone) of a conversation staff started and
    texted once."""
    phone = new_phone()
    lead = new_lead(relay, seed.staff_key, seed.location_id, phone).json()
    sid = conversation_of(relay, seed.lead_key, lead["leadId"])
    assert send(relay, seed.staff_key, sid, "Hi, it's Sam.").status_code == 202
    wait_for(lambda: texts(sim, phone), what="the first text")
    return lead["leadId"], sid, phone


def test_staff_opt_out_records_closes_and_texts_nobody(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    lead_id, sid, phone = _started(relay, sim, seed)
    store_texts = len(texts(sim, STORE_PHONE))
    r = _opt_out(relay, seed.staff_key, sid, "Asked on the phone", idem="k-opt")
    assert r.status_code == 200, r.text
    assert r.json()["optedOut"] is True
    # recorded as a STOP of that pool number would be, naming who and why
    conv = tables_for(relay).conversations.get_item(Key={"ConversationSid": sid})["Item"]
    item = tables_for(relay).optouts.get_item(Key={"PhoneNumber": phone})["Item"]
    entry = item["OptedOutNumbers"][conv["CustomerProxy"]]
    assert "Sam Staff" in entry["OptOutRequest"] and "Asked on the phone" in entry["OptOutRequest"]
    # and in the consent record of the compliance export, once
    recorded = [
        e
        for e in consent_log.events(tables_for(relay), seed.retailer_id, "0", "9")
        if e["Kind"] == "STAFF_OPT_OUT" and e["Phone"] == phone
    ]
    assert [(e["StaffName"], e["Reason"], e["Source"]) for e in recorded] == [
        ("Sam Staff", "Asked on the phone", "staff")
    ]
    # the lead closed; the customer got nothing more
    wait_for(
        lambda: lead_status(relay, seed.lead_key, lead_id)["Status"] == "CLOSED",
        what="the lead closed",
    )
    shown = current_lead(relay, seed.staff_key, lead_id)  # what every desktop hears
    assert shown["optedOut"] is True and shown["status"] == "CLOSED"
    sim.wait_idle()
    assert texts(sim, phone) == ["Hi, it's Sam."]
    assert len(texts(sim, STORE_PHONE)) >= store_texts  # the store may hear of the close
    # every later send is refused
    refused = send(relay, seed.staff_key, sid, "one more offer")
    assert refused.status_code in (409, 422), refused.text
    assert refused.json()["reason"] in ("recipient_opted_out", "conversation_closed")
    # the same key again: the first answer, nothing recorded twice
    again = _opt_out(relay, seed.staff_key, sid, "Asked on the phone", idem="k-opt")
    assert again.status_code == 200 and again.json() == r.json()


def test_staff_cannot_start_a_conversation_with_an_opted_out_customer(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    """The new-conversation door runs the website create's opt-out check."""
    lead_id, sid, phone = _started(relay, sim, seed)
    r = _opt_out(relay, seed.staff_key, sid, "Told the receptionist")
    assert r.status_code == 200, r.text
    wait_for(
        lambda: lead_status(relay, seed.lead_key, lead_id)["Status"] == "CLOSED",
        what="the lead closed",
    )
    again = new_lead(relay, seed.staff_key, seed.location_id, phone)
    assert again.status_code == 400 and again.json()["reason"] == "recipient_opted_out", again.text


def test_opt_out_input_and_scope(relay: RelayHandle, sim: SimHandle, seed: Seed) -> None:
    _, sid, _ = _started(relay, sim, seed)
    assert _opt_out(relay, seed.staff_key, sid, "  ").status_code == 400
    assert _opt_out(relay, seed.staff_key, sid, 7).status_code == 400
    long = _opt_out(relay, seed.staff_key, sid, "x" * 501)
    assert long.status_code == 422 and long.json()["reason"] == "reason_too_long"
    bidi = _opt_out(relay, seed.staff_key, sid, "stop \u202e")
    assert bidi.status_code == 400 and bidi.json()["reason"] == "invalid_field"
    other_loc = seed_location(relay, seed.retailer_id, "+13125550144", name="Other")
    stranger = issue_staff_key(relay, seed.retailer_id, [other_loc], staff_id="elsewhere")
    assert _opt_out(relay, stranger, sid, "x").status_code == 403
    assert _opt_out(relay, seed.staff_key, "CH" + uuid.uuid4().hex, "x").status_code == 404


def test_dismissing_a_possible_opt_out_is_stored(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    lead_id, sid, phone = _started(relay, sim, seed)
    conv = tables_for(relay).conversations.get_item(Key={"ConversationSid": sid})["Item"]
    sim.inbound(phone, str(conv["CustomerProxy"]), "please stop texting me")
    flagged = wait_for(
        lambda: (lead := current_lead(relay, seed.staff_key, lead_id))["possibleOptOut"] and lead,
        what="the possible opt-out flag",
    )
    r = httpx.patch(
        f"{relay.url}/v1/leads/{lead_id}",
        json={"possibleOptOut": False},
        headers=headers(seed.staff_key, **{"If-Match": f'"{flagged["version"]}"'}),
        timeout=10,
    )
    assert r.status_code == 200, r.text
    assert r.json()["possibleOptOut"] is False
    assert r.json()["activity"][-1]["text"] == "Sam Staff: not an opt-out request"
    # every desktop hears it through the feed
    assert current_lead(relay, seed.staff_key, lead_id)["possibleOptOut"] is False
    # only dismissing is allowed: the flag is the relay's to set
    bad = httpx.patch(
        f"{relay.url}/v1/leads/{lead_id}",
        json={"possibleOptOut": True},
        headers=headers(seed.staff_key, **{"If-Match": f'"{r.json()["version"]}"'}),
        timeout=10,
    )
    assert bad.status_code == 400
