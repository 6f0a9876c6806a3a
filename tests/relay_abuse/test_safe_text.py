"""Text in and out: control and bidi-override characters are refused in names and
texts (400 invalid_field), and the greeting texts back a plain first name or
"there", never a link or a sentence."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import (
    HTTP,
    create,
    greetings,
    lead_body,
    new_id,
    new_phone,
    synced,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay

PHISHING = "Your parcel is held. Pay $1.99 at https://evil.example/p"


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550631", pool=sim.pool)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Name", "Ann\x1b[31m"),
        ("Name", "Ann\u202eevil"),  # right-to-left override
        ("Name", "Ann\u2066x\u2069"),  # isolates
        ("Name", "Ann\nBob"),  # a name is one line
        ("Name", "Ann\u2028Bob"),
        ("CustomerMessage", "hello\x00there"),
        ("CustomerMessage", "open gnp.\u202eexe"),
        ("AssociatedProductInfo", {"Brand": "Acme\x07"}),
        ("Traffic", {"Source": "ads\u202d"}),
    ],
)
def test_control_and_bidi_characters_are_refused(
    relay: RelayHandle, seed: Seed, field: str, value: object
) -> None:
    body = lead_body(seed.retailer_id, seed.location_id, new_phone(), sync=False)
    body["Lead"][field] = value
    r = create(relay, seed.lead_key, body)
    assert r.status_code == 400, r.text
    assert r.json()["reason"] == "invalid_field"
    assert " is INVALID - contains a " in r.json()["message"]


def test_a_message_may_keep_its_line_breaks(relay: RelayHandle, seed: Seed) -> None:
    body = lead_body(seed.retailer_id, seed.location_id, new_phone(), sync=False)
    body["Lead"]["CustomerMessage"] = "Hello,\r\n\tis it in stock?\nThanks"
    assert create(relay, seed.lead_key, body).status_code == 200


@pytest.mark.parametrize(
    ("name", "greeted"),
    [
        (PHISHING.replace(" ", "\u00a0"), "there"),  # non-breaking spaces
        (PHISHING.replace(" ", "\u202f"), "there"),  # narrow no-break spaces
        (PHISHING.replace(" ", "\u3000"), "there"),  # ideographic spaces
        (PHISHING.replace(" ", "\u200b"), "there"),  # zero-width spaces: one "word"
        (PHISHING, "there"),
        ("https://evil.example/p", "there"),
        ("555-0100 call me", "there"),
        ("Sam Q0142", "Sam"),
        ("Zoë O'Brien-Smith", "Zoë"),
        ("José\u00a0García", "José"),
        ("Nguyễn Văn An", "Nguyễn"),
        ("J. R. Smith", "there"),
    ],
)
def test_the_greeting_names_a_plain_word_or_there(
    relay: RelayHandle, seed: Seed, sim: SimHandle, name: str, greeted: str
) -> None:
    phone, lead_id = new_phone(), new_id()
    body = lead_body(seed.retailer_id, seed.location_id, phone, name=name)
    r = create(relay, seed.lead_key, body, lead_id)
    assert r.status_code == 200, r.text
    synced(relay, seed.lead_key, lead_id)
    text = wait_for(lambda: greetings(sim, phone), what="the greeting")[0]
    assert text.startswith(f"Hi {greeted}, thanks for contacting "), text
    assert "http" not in text and "$" not in text


def test_staff_texts_and_notes_refuse_control_characters(
    relay: RelayHandle, seed: Seed, sim: SimHandle
) -> None:
    phone, lead_id = new_phone(), new_id()
    body = lead_body(seed.retailer_id, seed.location_id, phone)
    assert create(relay, seed.lead_key, body, lead_id).status_code == 200
    sid = synced(relay, seed.lead_key, lead_id)
    auth = {"Authorization": seed.staff_key}
    for text in ("pay here \u202egnp.exe", "bell\x07"):
        r = HTTP.post(
            f"{relay.url}/v1/conversations/{sid}/messages",
            json={"body": text},
            headers={**auth, "Idempotency-Key": new_id()},
        )
        assert r.status_code == 400 and r.json()["reason"] == "invalid_field", r.text
    lead = HTTP.get(f"{relay.url}/Lead/{lead_id}/status", headers={"Authorization": seed.lead_key})
    assert lead.status_code == 200
    version = _version(relay, seed, lead_id)
    r = HTTP.patch(
        f"{relay.url}/v1/leads/{lead_id}",
        json={"note": "called\x1b[2J"},
        headers={**auth, "If-Match": f'"{version}"'},
    )
    assert r.status_code == 400 and r.json()["reason"] == "invalid_field", r.text
    sim.wait_idle()
    assert not [m for m in sim.handset(phone) if "gnp" in m["body"] or "bell" in m["body"]]


def _version(relay: RelayHandle, seed: Seed, lead_id: str) -> int:
    item = relay.ctx.tables.leads.get_item(Key={"LeadId": lead_id})["Item"]
    return int(item["Version"])
