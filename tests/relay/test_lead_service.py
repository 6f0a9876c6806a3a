"""The lead service over HTTP: shapes, validation order and messages, status codes,
auth per endpoint and per retailer, idempotency-key, /send, Dealer status, Admin bulk.
(No Twilio here: see test_twilio_flow.py for the conversations.)"""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

from app.relay import directory
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_key,
    seed_location,
    seed_retailer,
    tables_for,
)


def body(seed: Seed, **lead: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "LeadType": "WEB2TEXT",
        "UniversalRetailerId": seed.retailer_id,
        "SyncImmediately": True,
        "Lead": {
            "LocationId": seed.location_id,
            "PageUrl": "https://acme.example.com/rugs/1",
            "Name": "Pat Shopper",
            "PhoneNumber": "(312) 555-0142",
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is this rug in stock?",
            "AssociatedProductInfo": {"Brand": "Acme", "Product": "Rug", "Variant": "Blue"},
        },
    }
    data["Lead"].update(lead)
    return data


def post(
    relay: RelayHandle, path: str, key: str | None, json: Any = None, **kw: Any
) -> httpx.Response:
    headers = dict(kw.pop("headers", {}))
    if key is not None:
        headers.setdefault("Authorization", f"Bearer {key}")
    return httpx.post(relay.url + path, json=json, headers=headers, timeout=10, **kw)


def new_id() -> str:
    return str(uuid.uuid4())


def test_create_returns_full_state_and_status_reads_table(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    r = post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed))
    assert r.status_code == 200, r.text
    state = r.json()
    assert state["LeadId"] == lead_id and state["Status"] == "ACTIVE"
    assert state["SchemaVersion"] == "2.0.0" and state["LeadType"] == "WEB2TEXT"
    assert state["UniversalRetailerId"] == seed.retailer_id
    assert state["Lead"]["PhoneNumber"] == "+13125550142"
    assert state["Lead"]["AssociatedProductInfo"] == {
        "Brand": "Acme",
        "Product": "Rug",
        "Variant": "Blue",
    }
    assert state["Integrations"]["Twilio"]["SyncStatus"] == "NOT SYNCED"
    assert set(state) <= {
        "LeadId",
        "LeadType",
        "Status",
        "SchemaVersion",
        "UniversalRetailerId",
        "Lead",
        "DateSubmitted",
        "CloseReason",
        "Integrations",
    }
    # GET and POST status; bare key works as well as Bearer
    g = httpx.get(relay.url + f"/Lead/{lead_id}/status", headers={"Authorization": seed.lead_key})
    assert g.status_code == 200 and g.json()["LeadId"] == lead_id
    assert post(relay, f"/Lead/{lead_id}/status", seed.lead_key).json()["LeadId"] == lead_id
    # the item in the compatible table is the lead state
    item = tables_for(relay).leads.get_item(Key={"LeadId": lead_id})["Item"]
    assert item["Status"] == "ACTIVE" and item["Lead"]["Name"] == "Pat Shopper"
    # status reads the table, not a cache: another system changes it
    tables_for(relay).leads.update_item(
        Key={"LeadId": lead_id},
        UpdateExpression="SET #s = :c",
        ExpressionAttributeNames={"#s": "Status"},
        ExpressionAttributeValues={":c": "CLOSED"},
    )
    assert post(relay, f"/Lead/{lead_id}/status", seed.lead_key).json()["Status"] == "CLOSED"


def test_duplicate_lead_id_409(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    assert post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed)).status_code == 200
    r = post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed))
    assert r.status_code == 409 and r.json()["reason"] == "lead_exists"


def test_unknown_lead_status_nonexistant(relay: RelayHandle, seed: Seed) -> None:
    r = post(relay, f"/Lead/{new_id()}/status", seed.lead_key)
    assert r.status_code == 200 and r.json() == {"Status": "NONEXISTANT"}


def test_older_shapes(relay: RelayHandle, seed: Seed) -> None:
    data = body(seed)
    del data["LeadType"]
    data["LocationId"] = data["Lead"].pop("LocationId")
    del data["Lead"]["PreferredMethodOfContact"]
    r = post(relay, f"/Lead/{new_id()}/create", seed.lead_key, data)
    assert r.status_code == 200, r.text
    assert r.json()["LeadType"] == "WEB2TEXT"
    assert r.json()["Lead"]["LocationId"] == seed.location_id
    assert r.json()["Lead"]["PreferredMethodOfContact"] == "text"


@pytest.fixture(scope="module")
def others(relay: RelayHandle, seed: Seed) -> dict[str, str]:
    """Retailers and locations that make each directory check fail."""
    churned = seed_retailer(relay, name="Gone", status="Churned_Customer")
    opted = seed_retailer(relay, name="NoW2T", web2text_opt_out=True)
    other = seed_retailer(relay, name="Other")
    other_loc = seed_location(relay, other, "+13125550177")
    nonumber = seed_location(relay, seed.retailer_id, "+13125550166", name="No number")
    tables_for(relay).directory.update_item(
        Key={"Id": nonumber}, UpdateExpression="REMOVE Web2TextPhoneNumber"
    )
    tables_for(relay).optouts.put_item(
        Item={
            "PhoneNumber": "+13125550143",
            "OptedOutNumbers": {
                "+13125550101": {"DateOptedOut": "2026-01-01T00:00:00Z", "OptOutRequest": "STOP"}
            },
        }
    )
    return {
        "churned": churned,
        "opted": opted,
        "other": other,
        "other_loc": other_loc,
        "nonumber": nonumber,
    }


CASES = [
    # (name, mutate(body, seed, others), reason, message start)
    ("not json", None, "invalid_request", "Body is INVALID"),
    ("array body", lambda b, s, o: [1, 2], "invalid_request", "Body is INVALID"),
    (
        "bad LeadType",
        lambda b, s, o: b.update(LeadType="EMAIL"),
        "invalid_field",
        "LeadType is INVALID",
    ),
    (
        "no retailer",
        lambda b, s, o: b.pop("UniversalRetailerId"),
        "invalid_field",
        "UniversalRetailerId is NONEXISTANT",
    ),
    (
        "retailer not uuid",
        lambda b, s, o: b.update(UniversalRetailerId="x"),
        "invalid_field",
        "UniversalRetailerId is INVALID",
    ),
    ("no Lead", lambda b, s, o: b.pop("Lead"), "invalid_request", "Lead is NONEXISTANT"),
    (
        "no location",
        lambda b, s, o: b["Lead"].pop("LocationId"),
        "invalid_field",
        "LocationId is NONEXISTANT",
    ),
    (
        "bad url",
        lambda b, s, o: b["Lead"].update(PageUrl="ftp://x"),
        "invalid_field",
        "PageUrl is INVALID",
    ),
    ("no name", lambda b, s, o: b["Lead"].update(Name="  "), "invalid_field", "Name is INVALID"),
    (
        "bad phone",
        lambda b, s, o: b["Lead"].update(PhoneNumber="12"),
        "invalid_phone",
        "PhoneNumber is INVALID",
    ),
    (
        "no phone",
        lambda b, s, o: b["Lead"].pop("PhoneNumber"),
        "invalid_phone",
        "PhoneNumber is NONEXISTANT",
    ),
    (
        "bad contact",
        lambda b, s, o: b["Lead"].update(PreferredMethodOfContact="fax"),
        "invalid_field",
        "PreferredMethodOfContact is INVALID",
    ),
    (
        "no message",
        lambda b, s, o: b["Lead"].pop("CustomerMessage"),
        "invalid_field",
        "CustomerMessage is NONEXISTANT",
    ),
    (
        "bad ip",
        lambda b, s, o: b["Lead"].update(IPAddress="1.2.3"),
        "invalid_field",
        "IPAddress is INVALID",
    ),
    (
        "unknown retailer",
        lambda b, s, o: b.update(UniversalRetailerId=new_id()),
        "unknown_retailer",
        "Client is NONEXISTANT - Could not find client with this UniversalRetailerId in Nexus",
    ),
    (
        "churned",
        lambda b, s, o: b.update(UniversalRetailerId=o["churned"]),
        "retailer_churned",
        "Client is INVALID - Nexus has flagged this retailer as a churned customer",
    ),
    (
        "retailer opted out",
        lambda b, s, o: b.update(UniversalRetailerId=o["opted"]),
        "retailer_opted_out",
        "Client is INVALID - Retailer is opted out of Web2Text",
    ),
    (
        "unknown location",
        lambda b, s, o: b["Lead"].update(LocationId=new_id()),
        "unknown_location",
        "Location is NONEXISTANT - Could not find location with this Id in Nexus",
    ),
    (
        "location of other retailer",
        lambda b, s, o: b["Lead"].update(LocationId=o["other_loc"]),
        "location_not_in_retailer",
        "Location is INVALID - Location does not belong to the retailer with this "
        "UniversalRetailerId",
    ),
    (
        "location without number",
        lambda b, s, o: b["Lead"].update(LocationId=o["nonumber"]),
        "location_without_number",
        "Location is INVALID - Location does not have a Web2Text phone number associated in Nexus",
    ),
    (
        "phone is the store's",
        lambda b, s, o: b["Lead"].update(PhoneNumber=s.web2text_number),
        "same_as_store_number",
        "Phone Number is INVALID - Customer phone number is the same as the store's phone number",
    ),
    (
        "opted out",
        lambda b, s, o: b["Lead"].update(PhoneNumber="+13125550143"),
        "recipient_opted_out",
        "Phone Number is INVALID - Phone number is opted-out from our text messaging pool",
    ),
]


@pytest.mark.parametrize(("name", "mutate", "reason", "start"), CASES, ids=[c[0] for c in CASES])
def test_every_validation_failure(
    relay: RelayHandle,
    seed: Seed,
    others: dict[str, str],
    name: str,
    mutate: Any,
    reason: str,
    start: str,
) -> None:
    lead_id = new_id()
    if mutate is None:
        r = httpx.post(
            relay.url + f"/Lead/{lead_id}/create",
            content=b"{nope",
            headers={"Authorization": seed.lead_key},
        )
    else:
        b = body(seed)
        out = mutate(b, seed, others)
        r = post(
            relay, f"/Lead/{lead_id}/create", seed.lead_key, out if isinstance(out, list) else b
        )
    assert r.status_code == 400, r.text
    got = r.json()
    assert got["code"] == 400 and got["reason"] == reason
    assert got["message"].startswith(start), got["message"]
    assert " - " in got["message"]
    # nothing stored
    assert post(relay, f"/Lead/{lead_id}/status", seed.lead_key).json() == {"Status": "NONEXISTANT"}


def test_bad_lead_id_400(relay: RelayHandle, seed: Seed) -> None:
    r = post(relay, "/Lead/not-a-uuid/create", seed.lead_key, body(seed))
    assert r.status_code == 400 and r.json()["message"].startswith("LeadId is INVALID")
    r = post(relay, "/Lead/not-a-uuid/status", seed.lead_key)
    assert r.status_code == 400


def test_auth_401_403_before_body(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    # no key / unknown key: 401 even with a broken body (auth before body parsing)
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "nope"}):
        r = httpx.post(relay.url + f"/Lead/{lead_id}/create", content=b"{broken", headers=headers)
        assert r.status_code == 401 and r.json()["reason"] == "unauthorized"
    status_only = issue_key(relay, ["Lead/status"])
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/create",
        content=b"{broken",
        headers={"Authorization": status_only},
    )
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    assert post(relay, f"/Lead/{lead_id}/status", status_only).status_code == 200
    for path in ("sync", "close"):
        assert post(relay, f"/Lead/{lead_id}/{path}", status_only).status_code == 403
    assert (
        httpx.get(
            relay.url + f"/Dealer/{seed.retailer_id}/status", headers={"Authorization": status_only}
        ).status_code
        == 403
    )
    r = post(relay, "/Admin/bulk", status_only, {"Operation": "FIND"})
    assert r.status_code == 403
    # the staff key is a known key without lead endpoints
    assert post(relay, f"/Lead/{lead_id}/create", seed.staff_key, body(seed)).status_code == 403
    # a revoked key is unknown
    from app.relay.auth import revoke_key

    k = issue_key(relay, ["*"])
    revoke_key(tables_for(relay), k)
    assert post(relay, f"/Lead/{lead_id}/status", k).status_code == 401


def test_key_of_another_retailer(relay: RelayHandle, seed: Seed, others: dict[str, str]) -> None:
    scoped = issue_key(relay, ["*"], retailer_ids=[others["other"]])
    lead_id = new_id()
    r = post(relay, f"/Lead/{lead_id}/create", scoped, body(seed))
    assert r.status_code == 403 and r.json()["reason"] == "forbidden"
    assert post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed)).status_code == 200
    for path in ("status", "sync", "close"):
        r = post(relay, f"/Lead/{lead_id}/{path}", scoped)
        assert r.status_code == 403, path
    r = httpx.get(
        relay.url + f"/Dealer/{seed.retailer_id}/status", headers={"Authorization": scoped}
    )
    assert r.status_code == 403
    found = post(relay, "/Admin/bulk", scoped, {"Operation": "FIND", "Filter": {"LeadId": lead_id}})
    assert found.status_code == 200 and found.json()["Count"] == 0


def _wait_status(
    relay: RelayHandle, key: str, lead_id: str, want: str, timeout: float = 10
) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        s = post(relay, f"/Lead/{lead_id}/status", key).json()
        if s.get("Status") == want:
            return s
        if time.monotonic() > deadline:
            raise AssertionError(f"lead {lead_id} stayed {s.get('Status')}")
        time.sleep(0.05)


def test_sync_and_close(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    for path in ("sync", "close"):  # the original: 409 for a lead that does not exist
        unknown = new_id()
        r = post(relay, f"/Lead/{unknown}/{path}", seed.lead_key)
        assert r.status_code == 409 and r.json()["reason"] == "lead_not_found"
        assert r.json()["message"] == (
            f"Lead ID '{unknown}' doesn't exist or is in incorrect status 'NONEXISTANT'"
        )
    post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed))
    r = post(relay, f"/Lead/{lead_id}/sync", seed.lead_key)
    # sync answers once its integrations ran (none here: no Twilio): ACTIVE again
    assert r.status_code == 200 and r.json()["Status"] == "ACTIVE"
    bad = post(relay, f"/Lead/{lead_id}/close", seed.lead_key, {"reason": 5})
    assert bad.status_code == 400 and bad.json()["reason"] == "invalid_field"
    r = post(relay, f"/Lead/{lead_id}/close", seed.lead_key, {"reason": "Sold elsewhere"})
    assert r.status_code == 200
    assert r.json()["Status"] == "CLOSED" and r.json()["CloseReason"] == "Sold elsewhere"
    # closing a closed lead answers it as it is; the first reason stays
    again = post(relay, f"/Lead/{lead_id}/close", seed.lead_key, {"reason": "Other"})
    assert again.status_code == 200 and again.json() == r.json()
    r = post(relay, f"/Lead/{lead_id}/sync", seed.lead_key)
    assert r.status_code == 409 and r.json()["reason"] == "invalid_status"
    assert r.json()["message"] == (
        f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'CLOSED'"
    )
    other = new_id()
    post(relay, f"/Lead/{other}/create", seed.lead_key, body(seed))
    r = post(relay, f"/Lead/{other}/close", seed.lead_key)
    assert r.status_code == 200 and r.json()["CloseReason"] == "Not specified"


def test_idempotency_key_same_answer(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    h = {"idempotency-key": "idem-" + lead_id}
    r1 = post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed), headers=h)
    r2 = post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed), headers=h)
    assert r1.status_code == r2.status_code == 200
    assert r1.json() == r2.json()
    assert r2.headers.get("idempotent-replayed") == "true"
    # without the key, the repeat is a duplicate
    assert post(relay, f"/Lead/{lead_id}/create", seed.lead_key, body(seed)).status_code == 409


def test_send_suffix_202_then_done(relay: RelayHandle, seed: Seed) -> None:
    lead_id = new_id()
    r = post(relay, f"/Lead/{lead_id}/create/send", seed.lead_key, body(seed))
    assert r.status_code == 202
    _wait_status(relay, seed.lead_key, lead_id, "ACTIVE")
    r = post(relay, f"/Lead/{lead_id}/close/send", seed.lead_key, {"reason": "x"})
    assert r.status_code == 202
    _wait_status(relay, seed.lead_key, lead_id, "CLOSED")


def test_dealer_status(relay: RelayHandle, seed: Seed, others: dict[str, str]) -> None:
    r = httpx.get(
        relay.url + f"/Dealer/{seed.retailer_id}/status", headers={"Authorization": seed.lead_key}
    )
    assert r.status_code == 200
    got = r.json()
    assert got["Status"] == "VALID" and set(got) == {"Status", "Locations"}
    by_id = {loc["UniversalLocationId"]: loc for loc in got["Locations"]}
    main = by_id[seed.location_id]
    assert main["Web2TextPhoneNumber"] == seed.web2text_number and main["Status"] == "VALID"
    assert "Reason" not in main
    assert by_id[others["nonumber"]] == {
        "NexusLocationId": others["nonumber"],
        "UniversalLocationId": others["nonumber"],
        "Name": by_id[others["nonumber"]]["Name"],
        "Status": "INVALID",
        "Reason": "Location does not have a Web2Text phone number associated in Nexus",
    }
    r = httpx.get(
        relay.url + f"/Dealer/{others['churned']}/status", headers={"Authorization": seed.lead_key}
    )
    assert r.json() == {
        "Status": "INVALID",
        "Reason": "Nexus has flagged this retailer as a churned customer",
    }
    r = httpx.get(
        relay.url + f"/Dealer/{new_id()}/status", headers={"Authorization": seed.lead_key}
    )
    assert r.json() == {
        "Status": "NONEXISTANT",
        "Reason": "Could not find client with this UniversalRetailerId in Nexus",
    }
    r = httpx.get(relay.url + "/Dealer/xyz/status", headers={"Authorization": seed.lead_key})
    assert r.status_code == 400


def test_admin_bulk(relay: RelayHandle, seed: Seed) -> None:
    loc = seed_location(relay, seed.retailer_id, "+13125550155", name="Bulk store")
    ids = []
    for _ in range(3):
        lead_id = new_id()
        b = body(seed, LocationId=loc)
        assert post(relay, f"/Lead/{lead_id}/create", seed.lead_key, b).status_code == 200
        ids.append(lead_id)
    f = post(
        relay, "/Admin/bulk", seed.lead_key, {"Operation": "FIND", "Filter": {"LocationId": loc}}
    )
    assert (
        f.status_code == 200
        and f.json()["Count"] == 3
        and sorted(f.json()["Result"]) == sorted(ids)
    )
    v = post(
        relay,
        "/Admin/bulk",
        seed.lead_key,
        {"Operation": "FIND", "Filter": {"LocationId": loc}, "Verbose": True},
    )
    assert {s["LeadId"] for s in v.json()["Result"]} == set(ids)
    c = post(
        relay,
        "/Admin/bulk",
        seed.lead_key,
        {
            "Operation": "CLOSE",
            "Filter": {"LocationId": loc, "LeadId": ids[:2]},
            "Reason": "cleanup",
        },
    )
    assert c.status_code == 200 and c.json()["Count"] == 2
    for lead_id in ids[:2]:
        s = post(relay, f"/Lead/{lead_id}/status", seed.lead_key).json()
        assert s["Status"] == "CLOSED" and s["CloseReason"] == "cleanup"
    s = post(
        relay, "/Admin/bulk", seed.lead_key, {"Operation": "SYNC", "Filter": {"LocationId": loc}}
    )
    assert s.json()["Count"] == 1
    find_only = issue_key(relay, ["Admin/bulk/FIND"])
    assert post(relay, "/Admin/bulk", find_only, {"Operation": "FIND"}).status_code == 200
    r = post(relay, "/Admin/bulk", find_only, {"Operation": "CLOSE"})
    assert r.status_code == 403
    for bad in (
        {"Operation": "DELETE"},
        {"Operation": "FIND", "Filter": 3},
        {"Operation": "FIND", "Filter": {"Color": "red"}},
        [1],
    ):
        r = post(relay, "/Admin/bulk", seed.lead_key, bad)
        assert r.status_code == 400 and r.json()["reason"] in ("invalid_field", "invalid_request")


def test_directory_versioning(relay: RelayHandle, seed: Seed) -> None:
    loc = directory.get_location(tables_for(relay), seed.location_id)
    assert loc is not None and loc.version >= 1


def test_create_retried_after_lost_answer(relay: RelayHandle, seed: Seed) -> None:
    """The first attempt stored the lead but its idempotency record was lost (the
    process died before completing it): the retry with the same key answers 200."""
    lead_id = new_id()
    key = "retry-" + lead_id
    r1 = post(
        relay,
        f"/Lead/{lead_id}/create",
        seed.lead_key,
        body(seed),
        headers={"idempotency-key": key},
    )
    assert r1.status_code == 200
    idem = relay.tables.idempotency
    for item in idem.scan()["Items"]:
        if key in str(item["Key"]):
            idem.delete_item(Key={"Key": item["Key"]})
    r2 = post(
        relay,
        f"/Lead/{lead_id}/create",
        seed.lead_key,
        body(seed),
        headers={"idempotency-key": key},
    )
    assert r2.status_code == 200 and r2.json()["LeadId"] == lead_id
    r3 = post(
        relay,
        f"/Lead/{lead_id}/create",
        seed.lead_key,
        body(seed),
        headers={"idempotency-key": "another-key"},
    )
    assert r3.status_code == 409
