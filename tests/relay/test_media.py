"""Photos both ways through the relay: an MMS from the customer is kept (its media on
the message, in the change feed) and served to staff of its location at
`GET /v1/media/{sid}`; staff upload an image (`POST /v1/media`, JPEG/PNG/GIF, at most
5 MB) and send it with `mediaSids`; duplicates and reordered webhooks keep one
message; wrong types, oversized bodies and foreign sids are refused with a reason."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from app.relay import conversation_store, message_store
from app.relay.inbound.routing import inbound_lead_id
from app.relay.versioned import Item
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.contact_support import (
    POOL,
    SIM_TOKEN,
    close_lead,
    create_lead,
    messages,
    new_phone,
    post_signed,
    synced_conversation,
    wait_for,
)
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_staff_key,
    seed_dealer,
    seed_location,
    start_relay,
    tables_for,
)

SIM_SID = "AC" + "4" * 32
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
JPEG = b"\xff\xd8\xff\xe0" + b"\x11" * 500


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim, stuck_after_s=15.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def seed(relay: RelayHandle, sim: SimHandle) -> Seed:
    return seed_dealer(relay, web2text_number="+13125550390", pool=sim.pool)


def _staff(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _photo(data: bytes, kind: str = "image/jpeg", name: str = "floor.jpg") -> list[dict[str, str]]:
    return [{"contentType": kind, "filename": name, "dataBase64": base64.b64encode(data).decode()}]


def _open_thread(relay: RelayHandle, seed: Seed) -> tuple[str, Item]:
    phone = new_phone()
    return phone, synced_conversation(relay, create_lead(relay, seed, phone))


def _feed_message(relay: RelayHandle, seed: Seed, message_sid: str) -> dict[str, object]:
    def find() -> dict[str, object] | None:
        found, cursor = [], ""
        while True:
            page = httpx.get(
                relay.url + "/v1/changes",
                params={"cursor": cursor} if cursor else None,
                headers=_staff(seed.staff_key),
                timeout=10,
            ).json()
            found += [c["data"] for c in page["changes"] if c["id"] == message_sid]
            cursor = page["cursor"]
            if not page["hasMore"]:
                return found[-1] if found else None

    return wait_for(find, what="the message in the change feed")


def test_a_customer_photo_is_kept_and_served_to_staff(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    sent = sim.inbound(phone, str(conv["CustomerProxy"]), "", _photo(JPEG))
    stored = wait_for(
        lambda: message_store.get_message(
            tables_for(relay), conv["ConversationSid"], sent["message_sid"]
        )
    )
    media_sid = sent["media"][0]["sid"]
    assert stored["Media"] == [
        {"Sid": media_sid, "ContentType": "image/jpeg", "Filename": "floor.jpg", "Size": len(JPEG)}
    ]
    view = _feed_message(relay, seed, sent["message_sid"])
    assert view["media"] == [
        {"sid": media_sid, "contentType": "image/jpeg", "filename": "floor.jpg", "size": len(JPEG)}
    ]
    served = httpx.get(f"{relay.url}/v1/media/{media_sid}", headers=_staff(seed.staff_key))
    assert served.status_code == 200 and served.content == JPEG
    assert served.headers["content-type"] == "image/jpeg"
    refreshed = conversation_store.get_conversation(tables_for(relay), conv["ConversationSid"])
    assert refreshed is not None and refreshed["LastMessagePreview"] == "[1 photo(s)]"

    # another location's staff may not see it; an unknown sid is a 404
    other = str(uuid.uuid4())
    seed_location(relay, seed.retailer_id, other, "+13125550391")
    outsider = issue_staff_key(relay, seed.retailer_id, [other], staff_id="staff-x")
    refused = httpx.get(f"{relay.url}/v1/media/{media_sid}", headers=_staff(outsider))
    assert refused.status_code == 403 and refused.json()["reason"] == "forbidden"
    missing = httpx.get(f"{relay.url}/v1/media/ME{'0' * 32}", headers=_staff(seed.staff_key))
    assert missing.status_code == 404 and missing.json()["reason"] == "media_not_found"


def test_duplicate_and_reordered_media_webhooks_keep_one_message(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    sim.set_faults({"webhook_duplicate_rate": 1.0, "webhook_reorder_rate": 0.5, "seed": 7})
    try:
        sent = [
            sim.inbound(phone, str(conv["CustomerProxy"]), f"photo {n}", _photo(JPEG))
            for n in range(3)
        ]
        sim.wait_idle(timeout=20)
    finally:
        sim.set_faults({})
    sid = conv["ConversationSid"]
    stored = [m for m in messages(relay, sid) if m.get("AuthorKind") == "customer"]
    assert sorted(m["Body"] for m in stored) == ["photo 0", "photo 1", "photo 2"]
    assert all(len(m["Media"]) == 1 for m in stored)
    # a redelivery by hand changes nothing either
    msg = sim.state.get_message(sid, sent[0]["message_sid"])
    form = {
        "EventType": "onMessageAdded",
        "ConversationSid": sid,
        "MessageSid": msg.sid,
        "Index": str(msg.index),
        "Author": phone,
        "Body": "photo 0",
        "Attributes": "{}",
        "DateCreated": "2026-01-01T00:00:00Z",
        "Media": json.dumps([{"Sid": sent[0]["media"][0]["sid"], "ContentType": "image/jpeg"}]),
    }
    assert post_signed(sim, relay, "/TwilioWebhooks/sync", form).status_code == 200
    conv_after = conversation_store.get_conversation(tables_for(relay), sid)
    assert conv_after is not None and int(conv_after["UnreadCount"]) == 3


def test_a_photo_whose_feed_write_failed_reaches_the_feed_on_the_redelivery(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    """The change log refuses the new message's changes once: the webhook is answered
    503 (not 200, which would lose the message to every desktop), and Twilio's retry
    publishes it."""
    phone, conv = _open_thread(relay, seed)
    table = relay.app.state.ctx.change_log.table
    refusals = [1]

    def refuse_once(location_id: str, seq: int) -> None:
        if location_id == seed.location_id and refusals[0]:
            refusals[0] -= 1
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}},
                              "PutItem")

    deliveries = sim.runtime.dispatcher.deliveries
    before = len(deliveries)
    table.before_put = refuse_once
    try:
        sent = sim.inbound(phone, str(conv["CustomerProxy"]), "after the outage", _photo(JPEG))
        change = _feed_message(relay, seed, sent["message_sid"])
    finally:
        table.before_put = None
    assert change["body"] == "after the outage" and change["media"]
    answers = [d.status for d in list(deliveries)[before:] if d.url.endswith("/sync")]
    assert 503 in answers and answers[-1] == 200


def _upload(relay: RelayHandle, key: str, data: bytes, kind: str) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/media",
        content=data,
        headers={**_staff(key), "Content-Type": kind, "X-Filename": "sample.png"},
        timeout=20,
    )


def _send(relay: RelayHandle, seed: Seed, sid: str, payload: dict[str, object]) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/conversations/{sid}/messages",
        json=payload,
        headers={**_staff(seed.staff_key), "Idempotency-Key": str(uuid.uuid4())},
        timeout=20,
    )


def test_staff_attach_a_photo_and_the_customer_gets_it(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone, conv = _open_thread(relay, seed)
    uploaded = _upload(relay, seed.staff_key, PNG, "image/png")
    assert uploaded.status_code == 201, uploaded.text
    media_sid = uploaded.json()["sid"]
    # the uploader sees it before it is sent
    own = httpx.get(f"{relay.url}/v1/media/{media_sid}", headers=_staff(seed.staff_key))
    assert own.content == PNG
    answer = _send(relay, seed, conv["ConversationSid"], {"body": "", "mediaSids": [media_sid]})
    assert answer.status_code == 202, answer.text
    assert answer.json()["media"][0]["sid"] == media_sid
    wait_for(lambda: any(m["media"] for m in sim.handset(phone)), what="photo on the handset")
    got = next(m for m in sim.handset(phone) if m["media"])
    assert got["media"] == [
        {"contentType": "image/png", "filename": "sample.png", "size": len(PNG)}
    ]
    # sent once: the photo cannot be attached to another conversation
    _, other = _open_thread(relay, seed)
    again = _send(relay, seed, other["ConversationSid"], {"body": "x", "mediaSids": [media_sid]})
    assert again.status_code == 422 and again.json()["reason"] == "unknown_media"


def test_wrong_type_oversized_and_too_many_attachments_are_refused(
    relay: RelayHandle, seed: Seed
) -> None:
    wrong = _upload(relay, seed.staff_key, b"hello", "text/plain")
    assert wrong.status_code == 415 and wrong.json()["reason"] == "unsupported_media_type"
    lying = _upload(relay, seed.staff_key, PNG, "image/jpeg")
    assert lying.status_code == 415 and lying.json()["reason"] == "unsupported_media_type"
    huge = _upload(relay, seed.staff_key, b"\xff\xd8\xff" + b"0" * (5 * 1024 * 1024), "image/jpeg")
    assert huge.status_code == 413 and huge.json()["reason"] == "media_too_large"
    _, conv = _open_thread(relay, seed)
    sids = [_upload(relay, seed.staff_key, JPEG, "image/jpeg").json()["sid"] for _ in range(2)]
    many = _send(relay, seed, conv["ConversationSid"], {"body": "x", "mediaSids": sids})
    assert many.status_code == 422 and many.json()["reason"] == "too_many_media"
    bogus = _send(relay, seed, conv["ConversationSid"], {"body": "x", "mediaSids": ["nope"]})
    assert bogus.status_code == 422 and bogus.json()["reason"] == "unknown_media"


def test_a_photo_after_the_thread_closed_opens_the_new_lead(
    relay: RelayHandle, sim: SimHandle, seed: Seed
) -> None:
    phone = new_phone()
    lead_id = create_lead(relay, seed, phone)
    conv = synced_conversation(relay, lead_id)
    close_lead(relay, seed, lead_id)
    before = len(sim.handset(seed.web2text_number))
    sent = sim.inbound(phone, str(conv["CustomerProxy"]), "Like this one", _photo(JPEG))
    new_conv = synced_conversation(relay, inbound_lead_id(sent["sid"]))
    first = wait_for(
        lambda: [m for m in messages(relay, new_conv["ConversationSid"]) if m.get("Media")],
        what="the photo in the new conversation",
    )
    assert first[0]["Body"] == "Like this one" and first[0]["AuthorKind"] == "customer"

    def forwarded() -> list[dict[str, Any]]:
        later = sim.handset(seed.web2text_number)[before:]
        return [m for m in later if m["body"] == "Like this one"]

    [to_store] = wait_for(forwarded, what="the photo forwarded to the store's phone")
    assert to_store["media"][0]["contentType"] == "image/jpeg"
    copied = first[0]["Media"][0]["Sid"]
    served = httpx.get(f"{relay.url}/v1/media/{copied}", headers=_staff(seed.staff_key))
    assert served.content == JPEG
