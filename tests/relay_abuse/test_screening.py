"""Who a lead may text: the retailer's countries, Lookup line types as the original
accepted them, and a lead whose number Lookup cannot check waits (retried by the
sweeper) without anybody being texted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.sandbox.twilio_sim import SimHandle
from tests.relay_abuse.helpers import (
    admin,
    create,
    greetings,
    lead_body,
    new_id,
    new_phone,
    synced,
    twilio_state,
    wait_for,
)
from tests.support.relay import RelayHandle, Seed, seed_dealer, seed_location, start_relay


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    # the sweeper retries a waiting lead once its processing lease (2 s) runs out
    handle = start_relay(dynamodb_endpoint, sim, sweeper_interval_s=0.3)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    sim.set_webhook_url(relay.url + "/TwilioWebhooks/onIncomingMessage")
    return seed_dealer(relay, web2text_number="+13125550611", pool=sim.pool)


def _refused(r: object, reason: str) -> dict[str, object]:
    assert getattr(r, "status_code") == 400, getattr(r, "text")  # noqa: B009
    body: dict[str, object] = getattr(r, "json")()  # noqa: B009
    assert body["reason"] == reason, body
    assert str(body["message"]).startswith("Phone Number is INVALID - "), body
    return body


@pytest.mark.parametrize(
    ("phone", "region"),
    [
        ("+447400123456", "GB"),  # a UK mobile
        ("+18765550123", "JM"),  # +1, but Jamaica
        ("+33612345678", "FR"),
    ],
)
def test_numbers_outside_the_retailers_countries_are_refused(
    relay: RelayHandle, seed: Seed, sim: SimHandle, phone: str, region: str
) -> None:
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone))
    body = _refused(r, "country_not_allowed")
    assert region in str(body["message"])
    assert sim.handset(phone) == []


def test_canada_is_allowed_by_default_and_countries_come_from_add_retailer(
    relay: RelayHandle, seed: Seed
) -> None:
    canadian = "+1416555" + new_phone()[-4:]
    body = lead_body(seed.retailer_id, seed.location_id, canadian, sync=False)
    assert create(relay, seed.lead_key, body).status_code == 200
    retailer = new_id()
    done = admin(
        relay, "add-retailer", "--retailer-id", retailer, "--name", "UK", "--countries", "GB,US"
    )
    assert done.returncode == 0, done.stderr
    location = seed_location(relay, retailer, "+13125550612", name="London Road")
    uk = lead_body(retailer, location, "+447400123457", sync=False)
    assert create(relay, seed.lead_key, uk).status_code == 200
    ca = lead_body(retailer, location, "+1416555" + new_phone()[-4:], sync=False)
    _refused(create(relay, seed.lead_key, ca), "country_not_allowed")
    bad = admin(
        relay, "add-retailer", "--retailer-id", retailer, "--name", "X", "--countries", "Britain"
    )
    assert bad.returncode != 0 and "ISO codes" in bad.stderr


@pytest.mark.parametrize("line_type", ["mobile", "nonFixedVoip", "fixedVoip", "personal"])
def test_the_originals_line_types_are_texted(
    relay: RelayHandle, seed: Seed, sim: SimHandle, line_type: str
) -> None:
    phone = new_phone()
    sim.set_line_types({phone: line_type})
    lead_id = new_id()
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone), lead_id)
    assert r.status_code == 200, r.text
    synced(relay, seed.lead_key, lead_id)
    wait_for(lambda: greetings(sim, phone), what="the greeting")


@pytest.mark.parametrize(
    "line_type",
    [
        "landline",
        "tollFree",
        "premium",
        "satellite",
        "sharedCost",
        "uan",
        "voicemail",
        "pager",
        "unknown",
    ],
)
def test_other_line_types_are_refused(
    relay: RelayHandle, seed: Seed, sim: SimHandle, line_type: str
) -> None:
    phone = new_phone()
    sim.set_line_types({phone: line_type})
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone))
    _refused(r, "line_type")
    assert sim.handset(phone) == []


def test_a_number_lookup_calls_invalid_is_refused(
    relay: RelayHandle, seed: Seed, sim: SimHandle
) -> None:
    phone = new_phone()
    sim.set_line_types({phone: "invalid"})
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone))
    _refused(r, "invalid_phone")


@pytest.mark.parametrize("answer", ["unavailable", "undetermined"])
def test_when_lookup_cannot_answer_the_lead_waits_and_nobody_is_texted(
    relay: RelayHandle, seed: Seed, sim: SimHandle, answer: str
) -> None:
    phone = new_phone()
    sim.set_line_types({phone: answer})
    lead_id = new_id()
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone), lead_id)
    assert r.status_code == 200 and r.json()["Status"] == "ACTIVE", r.text
    # the sweeper tries again (the lease runs out every second): still unchecked,
    # still waiting, and neither the customer nor the store got a text
    lookups = len([q for q in sim.state.requests if phone in q.path])
    wait_for(
        lambda: len([q for q in sim.state.requests if phone in q.path]) >= lookups + 2,
        what="the sweeper to ask Lookup again",
    )
    assert twilio_state(relay, seed.lead_key, lead_id)["SyncStatus"] == "NOT SYNCED"
    assert sim.handset(phone) == []
    assert not [m for m in sim.handset(seed.web2text_number) if phone[-4:] in m["body"]]
    # Lookup answers: the waiting lead goes on and the customer is greeted once
    sim.set_line_types({phone: "mobile"})
    synced(relay, seed.lead_key, lead_id)
    wait_for(lambda: greetings(sim, phone), what="the greeting")
    sim.wait_idle()
    assert len(greetings(sim, phone)) == 1


def test_a_waiting_lead_whose_number_turns_out_premium_is_never_texted(
    relay: RelayHandle, seed: Seed, sim: SimHandle
) -> None:
    phone = new_phone()
    sim.set_line_types({phone: "unavailable"})
    lead_id = new_id()
    r = create(relay, seed.lead_key, lead_body(seed.retailer_id, seed.location_id, phone), lead_id)
    assert r.status_code == 200, r.text
    sim.set_line_types({phone: "premium"})

    def failed() -> dict[str, object] | None:
        tw = twilio_state(relay, seed.lead_key, lead_id)
        return tw if tw.get("SyncStatus") == "ERROR" else None

    info = wait_for(failed, what="the lead to be given up")["ErrorInfo"]
    assert info["Type"] == "PhoneRefused"  # type: ignore[index]
    assert "premium" in info["Message"]  # type: ignore[index]
    sim.wait_idle()
    assert sim.handset(phone) == []
