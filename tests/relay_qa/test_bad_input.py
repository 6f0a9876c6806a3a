"""Bad input of every kind on each lead-service route: a clear 4xx with the
`{"code","message","reason"}` body, DESIGN.md's `"<What> is <INVALID|NONEXISTANT> -
<reason>"` message where it applies, a stable reason, never a 500, and nothing
stored. Duplicate LeadIds are 409 `lead_exists` and never change the first lead."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from app.relay import directory
from tests.relay_qa.helpers import (
    HTTP,
    TIMEOUT,
    World,
    assert_error,
    lead_body,
    new_id,
    new_phone,
    wait_for,
)
from tests.support.relay import seed_location, seed_retailer, tables_for

LANDLINE = "+13125550400"


@dataclass
class Places:
    churned: str  # retailer, with location churned_loc
    churned_loc: str
    opted_out: str  # retailer opted out of Web2Text, with location opted_out_loc
    opted_out_loc: str
    with_store: str  # location of retailer A with a store number
    store_number: str
    bad_number_loc: str  # location of retailer A whose stored number is not a phone
    national_loc: str  # location of retailer A whose number is stored as "(312) 555-0415"
    opted_out_phone: str


@pytest.fixture(scope="module")
def places(world: World) -> Places:
    relay = world.relay
    churned = seed_retailer(relay, name="Gone Floors", status="Churned_Customer")
    opted = seed_retailer(relay, name="No Texts Inc", web2text_opt_out=True)
    store_number = "+13125550411"
    with_store = seed_location(
        relay, world.seed.retailer_id, "+13125550410", name="Store", store_number=store_number
    )
    bad = seed_location(relay, world.seed.retailer_id, "+13125550412", name="Typo")
    tables_for(relay).directory.update_item(  # another system wrote a malformed number
        Key={"Id": bad},
        UpdateExpression="SET Web2TextPhoneNumber = :n",
        ExpressionAttributeValues={":n": "555-CALL-NOW"},
    )
    national = seed_location(relay, world.seed.retailer_id, "+13125550415", name="National")
    tables_for(relay).directory.update_item(
        Key={"Id": national},
        UpdateExpression="SET Web2TextPhoneNumber = :n",
        ExpressionAttributeValues={":n": "(312) 555-0415"},
    )
    HTTP.post(world.sim.url + "/_sim/lookup", json={LANDLINE: "landline"}, timeout=TIMEOUT)
    # The customer texts STOP to a pool number: Twilio's signed inbound webhook records it.
    phone = new_phone()
    world.sim.set_webhook_url(world.url + "/TwilioWebhooks/onIncomingMessage")
    world.sim.inbound(phone, world.sim.pool[0], "STOP")
    optouts = tables_for(relay).optouts
    wait_for(
        lambda: (optouts.get_item(Key={"PhoneNumber": phone}).get("Item") or {}).get(
            "OptedOutNumbers"
        ),
        what="the STOP to be recorded",
    )
    return Places(
        churned=churned,
        churned_loc=seed_location(relay, churned, "+13125550413", name="Gone"),
        opted_out=opted,
        opted_out_loc=seed_location(relay, opted, "+13125550414", name="Quiet"),
        with_store=with_store,
        store_number=store_number,
        bad_number_loc=bad,
        national_loc=national,
        opted_out_phone=phone,
    )


def _post(
    world: World,
    path: str,
    *,
    json: Any = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    key: str | None = None,
) -> httpx.Response:
    hdrs = {"Authorization": f"Bearer {key or world.all_key}", **(headers or {})}
    if content is not None:
        hdrs.setdefault("Content-Type", "application/json")
    return HTTP.post(world.url + path, json=json, content=content, headers=hdrs, timeout=TIMEOUT)


def _absent(world: World, lead_id: str) -> None:
    assert world.status(lead_id) == {"Status": "NONEXISTANT"}


# --------------------------------------------------------------------------- bodies

RAW_BODIES: list[tuple[str, bytes, str, str]] = [
    # label, body, What, INVALID|NONEXISTANT
    ("malformed JSON", b'{"LeadType": "WEB2TEXT",', "Body", "INVALID"),
    ("trailing garbage", b"{} {}", "Body", "INVALID"),
    ("empty", b"", "Body", "NONEXISTANT"),
    ("whitespace", b"  \n ", "Body", "NONEXISTANT"),
    ("array", b"[]", "Body", "INVALID"),
    ("array of a body", b'[{"LeadType": "WEB2TEXT"}]', "Body", "INVALID"),
    ("number", b"42", "Body", "INVALID"),
    ("null", b"null", "Body", "INVALID"),
    ("string", b'"lead"', "Body", "INVALID"),
    ("true", b"true", "Body", "INVALID"),
    ("not UTF-8", b'{"Name": "\xff\xfe"}', "Body", "INVALID"),
    ("NaN", b'{"UniversalRetailerId": NaN}', "UniversalRetailerId", "INVALID"),
    ("deep nesting", b"[" * 5000 + b"]" * 5000, "Body", "INVALID"),
]


@pytest.mark.parametrize(
    ("label", "content", "what", "kind"), RAW_BODIES, ids=[c[0] for c in RAW_BODIES]
)
def test_create_rejects_unusable_bodies(
    world: World, label: str, content: bytes, what: str, kind: str
) -> None:
    lead_id = new_id()
    r = _post(world, f"/Lead/{lead_id}/create", content=content)
    body = assert_error(r, 400, what=what, kind=kind)
    assert body["reason"] in ("invalid_request", "invalid_field"), body
    _absent(world, lead_id)


def test_create_content_types(world: World) -> None:
    """A form post is not JSON (400); JSON sent as text/plain (old website snippets
    post without a content type) is read as JSON, as the original service did."""
    lead_id = new_id()
    r = _post(
        world,
        f"/Lead/{lead_id}/create",
        content=b"UniversalRetailerId=x&Lead=y",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert_error(r, 400, "invalid_request", what="Body", kind="INVALID")
    _absent(world, lead_id)
    body = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    body["SyncImmediately"] = False
    r = _post(
        world,
        f"/Lead/{lead_id}/create",
        content=json.dumps(body).encode(),
        headers={"Content-Type": "text/plain"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["LeadId"] == lead_id


def test_body_size_cap(world: World) -> None:
    cap = world.relay.settings.max_body_bytes
    big = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    big["Lead"]["CustomerMessage"] = "x" * (cap + 10)
    for path in ("/Lead/{id}/create", "/Lead/{id}/close", "/Admin/bulk", "/Lead/{id}/create/send"):
        lead_id = new_id()
        r = _post(world, path.format(id=lead_id), json=big)
        assert_error(r, 413, "payload_too_large")
        _absent(world, lead_id)

    def chunks() -> Any:  # no Content-Length: the cap counts what arrives
        yield b'{"Lead": {"Name": "'
        for _ in range(cap // 1024 + 2):
            yield b"y" * 1024
        yield b'"}}'

    lead_id = new_id()
    r = HTTP.post(
        f"{world.url}/Lead/{lead_id}/create",
        content=chunks(),
        headers={"Authorization": world.all_key, "Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert_error(r, 413, "payload_too_large")
    _absent(world, lead_id)
    # under the cap but over a field's own limit: 400 naming the field
    lead_id = new_id()
    long = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    long["Lead"]["CustomerMessage"] = "z" * 5000
    r = _post(world, f"/Lead/{lead_id}/create", json=long)
    assert_error(r, 400, "invalid_field", what="CustomerMessage", kind="INVALID")
    _absent(world, lead_id)


# --------------------------------------------------------------------------- fields


def _set(**lead: Any) -> Callable[[dict[str, Any], World, Places], None]:
    def mutate(b: dict[str, Any], w: World, p: Places) -> None:
        b["Lead"].update(lead)

    return mutate


def _top(**top: Any) -> Callable[[dict[str, Any], World, Places], None]:
    def mutate(b: dict[str, Any], w: World, p: Places) -> None:
        b.update(top)

    return mutate


def _drop(*names: str, lead: bool = True) -> Callable[[dict[str, Any], World, Places], None]:
    def mutate(b: dict[str, Any], w: World, p: Places) -> None:
        for n in names:
            (b["Lead"] if lead else b).pop(n, None)

    return mutate


def _place(
    retailer: Callable[[World, Places], str] | None, location: Callable[[World, Places], str]
) -> Callable[[dict[str, Any], World, Places], None]:
    def mutate(b: dict[str, Any], w: World, p: Places) -> None:
        if retailer is not None:
            b["UniversalRetailerId"] = retailer(w, p)
        b["Lead"]["LocationId"] = location(w, p)

    return mutate


def _phone(get: Callable[[World, Places], str]) -> Callable[[dict[str, Any], World, Places], None]:
    def mutate(b: dict[str, Any], w: World, p: Places) -> None:
        b["Lead"]["PhoneNumber"] = get(w, p)

    return mutate


BAD_PHONES = [
    "",
    "   ",
    "call me",
    "555",
    "555-0100",
    "+1 555 010",
    "+1 (312) 555-01425",
    "+999 312 555 0142",
    "+44 20",
    "(312) 555-0142 ext. 12",
    "3125550142" * 3,
    "+1\u0000312555014",
    "١٢٣٤٥٦٧٨٩٠",
]

# label, mutation, status, reason, What, kind
FIELD_CASES: list[tuple[str, Any, int, str, str, str]] = [
    *[
        (f"phone {p!r}", _set(PhoneNumber=p), 400, "invalid_phone", "PhoneNumber", "INVALID")
        for p in BAD_PHONES
    ],
    (
        "phone number type",
        _set(PhoneNumber=3125550142),
        400,
        "invalid_phone",
        "PhoneNumber",
        "INVALID",
    ),
    (
        "phone list",
        _set(PhoneNumber=["+13125550142"]),
        400,
        "invalid_phone",
        "PhoneNumber",
        "INVALID",
    ),
    ("phone missing", _drop("PhoneNumber"), 400, "invalid_phone", "PhoneNumber", "NONEXISTANT"),
    ("phone null", _set(PhoneNumber=None), 400, "invalid_phone", "PhoneNumber", "NONEXISTANT"),
    ("landline", _phone(lambda w, p: LANDLINE), 400, "line_type", "Phone Number", "INVALID"),
    (
        "phone is the Web2Text number",
        _phone(lambda w, p: w.seed.web2text_number),
        400,
        "same_as_store_number",
        "Phone Number",
        "INVALID",
    ),
    (
        "phone is the Web2Text number, national form",
        _phone(lambda w, p: "(312) 555-0177"),
        400,
        "same_as_store_number",
        "Phone Number",
        "INVALID",
    ),
    (
        "phone is the store number",
        lambda b, w, p: b["Lead"].update(LocationId=p.with_store, PhoneNumber=p.store_number),
        400,
        "same_as_store_number",
        "Phone Number",
        "INVALID",
    ),
    (
        "phone is the store's number stored in national form",
        lambda b, w, p: b["Lead"].update(LocationId=p.national_loc, PhoneNumber="+13125550415"),
        400,
        "same_as_store_number",
        "Phone Number",
        "INVALID",
    ),
    (
        "top-level LocationId differs from Lead.LocationId",
        lambda b, w, p: b.update(LocationId=w.location_a2),
        400,
        "invalid_field",
        "LocationId",
        "INVALID",
    ),
    (
        "opted-out phone",
        _phone(lambda w, p: p.opted_out_phone),
        400,
        "recipient_opted_out",
        "Phone Number",
        "INVALID",
    ),
    (
        "unknown retailer",
        _top(UniversalRetailerId=str(uuid.uuid4())),
        400,
        "unknown_retailer",
        "Client",
        "NONEXISTANT",
    ),
    (
        "churned retailer",
        _place(lambda w, p: p.churned, lambda w, p: p.churned_loc),
        400,
        "retailer_churned",
        "Client",
        "INVALID",
    ),
    (
        "retailer opted out of Web2Text",
        _place(lambda w, p: p.opted_out, lambda w, p: p.opted_out_loc),
        400,
        "retailer_opted_out",
        "Client",
        "INVALID",
    ),
    (
        "unknown location",
        _set(LocationId=str(uuid.uuid4())),
        400,
        "unknown_location",
        "Location",
        "NONEXISTANT",
    ),
    (
        "location of another retailer",
        _place(None, lambda w, p: w.location_b1),
        400,
        "location_not_in_retailer",
        "Location",
        "INVALID",
    ),
    (
        "location without a Web2Text number",
        _place(None, lambda w, p: w.location_a3_no_number),
        400,
        "location_without_number",
        "Location",
        "INVALID",
    ),
    (
        "location whose number is not a phone number",
        _place(None, lambda w, p: p.bad_number_loc),
        400,
        "location_without_number",
        "Location",
        "INVALID",
    ),
    (
        "retailer not a UUID",
        _top(UniversalRetailerId="acme"),
        400,
        "invalid_field",
        "UniversalRetailerId",
        "INVALID",
    ),
    (
        "retailer a number",
        _top(UniversalRetailerId=7),
        400,
        "invalid_field",
        "UniversalRetailerId",
        "INVALID",
    ),
    (
        "retailer missing",
        _drop("UniversalRetailerId", lead=False),
        400,
        "invalid_field",
        "UniversalRetailerId",
        "NONEXISTANT",
    ),
    (
        "location not a UUID",
        _set(LocationId="main-street"),
        400,
        "invalid_field",
        "LocationId",
        "INVALID",
    ),
    ("location a list", _set(LocationId=[]), 400, "invalid_field", "LocationId", "INVALID"),
    ("location missing", _drop("LocationId"), 400, "invalid_field", "LocationId", "NONEXISTANT"),
    ("LeadType other", _top(LeadType="EMAIL"), 400, "invalid_field", "LeadType", "INVALID"),
    ("Lead an array", _top(Lead=[]), 400, "invalid_field", "Lead", "INVALID"),
    ("Lead missing", _drop("Lead", lead=False), 400, "invalid_request", "Lead", "NONEXISTANT"),
    (
        "SyncImmediately a word",
        _top(SyncImmediately="soon"),
        400,
        "invalid_field",
        "SyncImmediately",
        "INVALID",
    ),
    (
        "PageUrl javascript",
        _set(PageUrl="javascript:alert(1)"),
        400,
        "invalid_field",
        "PageUrl",
        "INVALID",
    ),
    ("PageUrl missing", _drop("PageUrl"), 400, "invalid_field", "PageUrl", "NONEXISTANT"),
    ("Name empty", _set(Name="  "), 400, "invalid_field", "Name", "INVALID"),
    ("Name an object", _set(Name={"first": "Q"}), 400, "invalid_field", "Name", "INVALID"),
    (
        "CustomerMessage missing",
        _drop("CustomerMessage"),
        400,
        "invalid_field",
        "CustomerMessage",
        "NONEXISTANT",
    ),
    (
        "contact fax",
        _set(PreferredMethodOfContact="fax"),
        400,
        "invalid_field",
        "PreferredMethodOfContact",
        "INVALID",
    ),
    ("IPAddress bad", _set(IPAddress="999.1.1.1"), 400, "invalid_field", "IPAddress", "INVALID"),
    (
        "product a string",
        _set(AssociatedProductInfo="rug"),
        400,
        "invalid_field",
        "AssociatedProductInfo",
        "INVALID",
    ),
    (
        "traffic field a number",
        _set(Traffic={"Source": 3}),
        400,
        "invalid_field",
        "Traffic.Source",
        "INVALID",
    ),
    ("lone surrogate", _set(Name="\ud800"), 400, "invalid_field", "Name", "INVALID"),
]


@pytest.mark.parametrize(
    ("label", "mutate", "status", "reason", "what", "kind"),
    FIELD_CASES,
    ids=[c[0] for c in FIELD_CASES],
)
def test_create_field_validation(
    world: World,
    places: Places,
    label: str,
    mutate: Any,
    status: int,
    reason: str,
    what: str,
    kind: str,
) -> None:
    lead_id = new_id()
    body = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    mutate(body, world, places)
    # ASCII-escaped JSON, so that lone surrogates travel as "\\ud800" like browsers send them
    content = json.dumps(body, ensure_ascii=True).encode()
    r = _post(world, f"/Lead/{lead_id}/create", content=content)
    assert_error(r, status, reason, what=what, kind=kind)
    _absent(world, lead_id)


# --------------------------------------------------------------------------- ids in paths

BAD_IDS = [
    "not-a-uuid",
    "123",
    "%00",
    "x" * 300,
    "12345678-1234-1234-1234-1234567890123",
    "%F0%9F%98%80",
]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_non_uuid_ids_in_paths(world: World, bad: str) -> None:
    body = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    for method, path, payload in (
        ("POST", f"/Lead/{bad}/create", body),
        ("POST", f"/Lead/{bad}/sync", None),
        ("POST", f"/Lead/{bad}/close", {"reason": "x"}),
        ("POST", f"/Lead/{bad}/status", None),
        ("GET", f"/Lead/{bad}/status", None),
    ):
        r = HTTP.request(
            method,
            world.url + path,
            json=payload,
            headers={"Authorization": world.all_key},
            timeout=TIMEOUT,
        )
        assert_error(r, 400, "invalid_field", what="LeadId", kind="INVALID")
    r = HTTP.get(
        f"{world.url}/Dealer/{bad}/status",
        headers={"Authorization": world.all_key},
        timeout=TIMEOUT,
    )
    assert_error(r, 400, "invalid_field", what="UniversalRetailerId", kind="INVALID")


def test_unknown_ids(world: World) -> None:
    lead_id = new_id()
    assert world.status(lead_id) == {"Status": "NONEXISTANT"}
    r = _post(world, f"/Lead/{lead_id}/status")
    assert r.status_code == 200 and r.json() == {"Status": "NONEXISTANT"}
    for path in ("sync", "close"):  # the original's 409 and words
        r = _post(world, f"/Lead/{lead_id}/{path}")
        body = assert_error(r, 409, "lead_not_found")
        assert body["message"] == (
            f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'NONEXISTANT'"
        )
    _absent(world, lead_id)  # asking never creates
    r = HTTP.get(
        f"{world.url}/Dealer/{uuid.uuid4()}/status",
        headers={"Authorization": world.all_key},
        timeout=TIMEOUT,
    )
    assert r.status_code == 200 and r.json()["Status"] == "NONEXISTANT", r.text


# --------------------------------------------------------------------------- sync / close / bulk


def _created(world: World, sync: bool = False) -> tuple[str, dict[str, Any]]:
    lead_id = new_id()
    body = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    body["SyncImmediately"] = sync
    r = _post(world, f"/Lead/{lead_id}/create", json=body)
    assert r.status_code == 200, r.text
    return lead_id, r.json()


CLOSE_BODIES: list[tuple[str, bytes, str]] = [
    ("malformed", b'{"reason": ', "invalid_request"),
    ("array", b'["done"]', "invalid_request"),
    ("number", b"7", "invalid_request"),
    ("string", b'"done"', "invalid_request"),
    ("reason a number", b'{"reason": 7}', "invalid_field"),
    ("reason an object", b'{"reason": {"x": 1}}', "invalid_field"),
    ("reason too long", b'{"reason": "' + b"r" * 600 + b'"}', "invalid_field"),
]


def test_close_bad_bodies_leave_the_lead_open(world: World) -> None:
    lead_id, _ = _created(world)
    for label, content, reason in CLOSE_BODIES:
        r = _post(world, f"/Lead/{lead_id}/close", content=content)
        assert r.status_code == 400, (label, r.text)
        assert_error(r, 400, reason)
        assert world.status(lead_id)["Status"] == "ACTIVE", label
    r = _post(world, f"/Lead/{lead_id}/close", json={"reason": "Bought elsewhere"})
    assert r.status_code == 200 and r.json()["CloseReason"] == "Bought elsewhere", r.text
    # as the original: closing a closed lead answers it, the first reason kept
    r = _post(world, f"/Lead/{lead_id}/close", json={"reason": "again"})
    assert r.status_code == 200 and r.json()["CloseReason"] == "Bought elsewhere", r.text
    r = _post(world, f"/Lead/{lead_id}/sync")
    body = assert_error(r, 409, "invalid_status")
    assert body["message"] == (
        f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'CLOSED'"
    )
    state = world.status(lead_id)
    assert state["Status"] == "CLOSED" and state["CloseReason"] == "Bought elsewhere"


BULK_BODIES: list[tuple[str, Any, str]] = [
    ("malformed", b'{"Operation": ', "invalid_request"),
    ("empty", b"", "invalid_request"),
    ("array", b"[]", "invalid_request"),
    ("null", b"null", "invalid_request"),
    ("no Operation", {}, "invalid_field"),
    ("Operation lower case", {"Operation": "find"}, "invalid_field"),
    ("Operation DROP", {"Operation": "DROP"}, "invalid_field"),
    ("Operation a list", {"Operation": ["FIND"]}, "invalid_field"),
    ("Filter a number", {"Operation": "FIND", "Filter": 5}, "invalid_field"),
    ("Filter a list", {"Operation": "FIND", "Filter": ["*"]}, "invalid_field"),
    ("Filter unknown condition", {"Operation": "FIND", "Filter": {"Bogus": "x"}}, "invalid_field"),
    (
        "Filter value an object",
        {"Operation": "FIND", "Filter": {"Status": {"$ne": 1}}},
        "invalid_field",
    ),
    (
        "Reason a number",
        {"Operation": "CLOSE", "Filter": {"LeadId": "x"}, "Reason": 1},
        "invalid_field",
    ),
]


@pytest.mark.parametrize(
    ("label", "payload", "reason"), BULK_BODIES, ids=[c[0] for c in BULK_BODIES]
)
def test_admin_bulk_bad_bodies(world: World, label: str, payload: Any, reason: str) -> None:
    if isinstance(payload, bytes):
        r = _post(world, "/Admin/bulk", content=payload)
    else:
        r = _post(world, "/Admin/bulk", json=payload)
    assert_error(r, 400, reason)
    assert world.status(world.lead_id)["Status"] != "CLOSED"


def test_send_suffix_still_rejects_unreadable_bodies(world: World) -> None:
    for path in ("/Lead/{id}/create/send", "/Lead/{id}/close/send", "/Admin/bulk/send"):
        lead_id = new_id()
        r = _post(world, path.format(id=lead_id), content=b'{"broken')
        assert_error(r, 400, "invalid_request", what="Body", kind="INVALID")
        _absent(world, lead_id)


# --------------------------------------------------------------------------- duplicates


def _stable(state: dict[str, Any]) -> dict[str, Any]:
    """What a repeat must never change (integrations move on their own)."""
    return {
        k: state.get(k)
        for k in (
            "LeadId",
            "Lead",
            "DateSubmitted",
            "UniversalRetailerId",
            "LeadType",
            "Status",
            "CloseReason",
        )
    }


def test_duplicate_lead_id_is_409_and_the_first_lead_is_unchanged(world: World) -> None:
    lead_id, first = _created(world)
    before = _stable(world.status(lead_id))
    assert _stable(first) == before
    same = lead_body(world.seed.retailer_id, world.seed.location_id, first["Lead"]["PhoneNumber"])
    other_phone = lead_body(
        world.seed.retailer_id, world.seed.location_id, new_phone(), Name="Mallory"
    )
    other_place = lead_body(world.seed.retailer_id, world.location_a2, new_phone())
    for label, body in (
        ("same body", same),
        ("other phone", other_phone),
        ("other location", other_place),
    ):
        r = _post(world, f"/Lead/{lead_id}/create", json=body)
        assert r.status_code == 409, (label, r.text)
        body = assert_error(r, 409, "lead_exists")
        assert body["message"] == (
            f"Lead ID '{lead_id}' doesn't exist or is in incorrect status 'ACTIVE'"
        )
    # a bad repeat is refused for its body and changes nothing either
    bad = lead_body(world.seed.retailer_id, world.seed.location_id, "not a phone")
    assert_error(_post(world, f"/Lead/{lead_id}/create", json=bad), 400, "invalid_phone")
    assert_error(_post(world, f"/Lead/{lead_id}/create", content=b"[]"), 400, "invalid_request")
    # a repeat through /send is accepted for the background, which refuses it
    r = _post(world, f"/Lead/{lead_id}/create/send", json=other_phone)
    assert r.status_code == 202, r.text
    time.sleep(1.0)
    assert _stable(world.status(lead_id)) == before
    # a closed lead's id stays taken
    assert _post(world, f"/Lead/{lead_id}/close", json={"reason": "done"}).status_code == 200
    closed = _stable(world.status(lead_id))
    assert_error(_post(world, f"/Lead/{lead_id}/create", json=same), 409, "lead_exists")
    assert _stable(world.status(lead_id)) == closed


def test_idempotency_key_repeats_and_conflicts(world: World) -> None:
    lead_id = new_id()
    key = "qa-" + uuid.uuid4().hex
    body = lead_body(world.seed.retailer_id, world.seed.location_id, new_phone())
    body["SyncImmediately"] = False
    first = _post(world, f"/Lead/{lead_id}/create", json=body, headers={"idempotency-key": key})
    assert first.status_code == 200, first.text
    again = _post(world, f"/Lead/{lead_id}/create", json=body, headers={"idempotency-key": key})
    assert again.status_code == 200 and again.json() == first.json()
    other = dict(body, Lead={**body["Lead"], "Name": "Someone Else"})
    r = _post(world, f"/Lead/{lead_id}/create", json=other, headers={"idempotency-key": key})
    assert 400 <= r.status_code < 500, r.text
    assert_error(r, r.status_code)
    for bad_key in ("", "k" * 1000, "a b"):
        r = _post(
            world, f"/Lead/{new_id()}/create", json=body, headers={"idempotency-key": bad_key}
        )
        assert r.status_code < 500, (bad_key[:10], r.text)
        if r.status_code >= 400:
            assert_error(r, r.status_code)
    assert _stable(world.status(lead_id)) == _stable(first.json())
    # the idempotent answer of a refused create is replayed, and nothing is stored
    refused_id = new_id()
    bad = lead_body(world.seed.retailer_id, world.seed.location_id, "nope")
    k2 = "qa-" + uuid.uuid4().hex
    a = _post(world, f"/Lead/{refused_id}/create", json=bad, headers={"idempotency-key": k2})
    b = _post(world, f"/Lead/{refused_id}/create", json=bad, headers={"idempotency-key": k2})
    assert_error(a, 400, "invalid_phone")
    assert (b.status_code, b.json()) == (a.status_code, a.json())
    _absent(world, refused_id)


def test_valid_lead_after_all_that(world: World, places: Places) -> None:
    """The same world still takes a good lead end to end (the bad ones broke nothing)."""
    lead_id = new_id()
    phone = new_phone()
    r = _post(
        world,
        f"/Lead/{lead_id}/create",
        json=lead_body(world.seed.retailer_id, places.with_store, phone),
    )
    assert r.status_code == 200, r.text

    def synced() -> bool:
        tw = world.status(lead_id)["Integrations"]["Twilio"]
        assert tw["SyncStatus"] != "ERROR", tw
        return bool(tw["SyncStatus"] == "SYNCED")

    wait_for(synced, what="the good lead to sync")
    assert directory.get_location(tables_for(world.relay), places.with_store) is not None


# --------------------------------------------------------------------------- every JSON route

NESTED = b"[" * 5000 + b"]" * 5000
UNREADABLE: dict[str, bytes] = {
    "deep nesting": NESTED,
    "deep object nesting": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "malformed": b'{"x": ',
    "not UTF-8": b'{"x": "\xff"}',
}


def test_every_json_route_rejects_unreadable_bodies(world: World) -> None:
    """Every route whose OpenAPI operation has a JSON body (plus checkOptInStatus) answers
    400 to an unreadable body with the right key: never 500."""
    from tests.relay_qa.helpers import relay_openapi

    spec = relay_openapi()
    routes = [
        (method.upper(), path)
        for path, ops in spec["paths"].items()
        for method, op in ops.items()
        if "application/json" in (op.get("requestBody") or {}).get("content", {})
    ]
    routes.append(("POST", "/TwilioWebhooks/checkOptInStatus"))
    assert len(routes) >= 7, routes
    values = {
        "LeadId": world.lead_id,
        "sid": world.conversation_sid,
        "lead_id": world.lead_id,
        "UniversalRetailerId": world.seed.retailer_id,
    }
    failures = []
    for method, template in routes:
        path = template
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        key = world.staff_key if path.startswith("/v1/") else world.all_key
        for label, content in UNREADABLE.items():
            headers = {
                "Authorization": key,
                "Content-Type": "application/json",
                "Idempotency-Key": new_id(),
                "If-Match": '"1"',
            }
            r = HTTP.request(
                method, world.url + path, content=content, headers=headers, timeout=TIMEOUT
            )
            if r.status_code != 400:
                failures.append(f"{method} {template} [{label}]: {r.status_code} {r.text[:200]}")
            else:
                assert_error(r, 400)
    assert not failures, "\n".join(failures)
    assert world.status(world.lead_id)["Status"] == "ACTIVE"


def test_concurrent_creates_of_one_lead_id(world: World) -> None:
    """Eight websites retry the same LeadId at once: one 200, seven 409, one lead."""
    from concurrent.futures import ThreadPoolExecutor

    lead_id = new_id()
    bodies = [
        lead_body(world.seed.retailer_id, world.seed.location_id, new_phone()) for _ in range(8)
    ]
    for b in bodies:
        b["SyncImmediately"] = False

    def create(body: dict[str, Any]) -> Any:
        with httpx.Client(timeout=TIMEOUT) as client:
            return client.post(
                f"{world.url}/Lead/{lead_id}/create",
                json=body,
                headers={"Authorization": world.all_key},
            )

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(create, bodies))
    codes = sorted(r.status_code for r in answers)
    assert codes == [200] + [409] * 7, [(r.status_code, r.text[:100]) for r in answers]
    winner = next(r.json() for r in answers if r.status_code == 200)
    for r in answers:
        if r.status_code == 409:
            assert_error(r, 409, "lead_exists")
    assert _stable(world.status(lead_id)) == _stable(winner)
