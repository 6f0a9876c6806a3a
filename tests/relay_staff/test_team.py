"""Staff working together on real relays (uvicorn) and DynamoDB Local: presence on the
stream across instances, shared templates (version-checked), the reply target."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from httpx_sse import ServerSentEvent, connect_sse

from app.core.wire_team import PresenceEvent, TemplatesView
from app.relay import conversation_store
from app.relay.cli import main as relay_cli
from app.relay.tables import CHANGE_LOG
from tests.support.relay import (
    RelayHandle,
    Seed,
    issue_staff_key,
    new_prefix,
    seed_dealer,
    seed_location,
    seed_retailer,
    start_relay,
)

pytestmark = pytest.mark.dynamodb


@pytest.fixture(scope="module")
def pair(dynamodb_endpoint: str) -> Iterator[tuple[RelayHandle, RelayHandle]]:
    """Two relay instances on the same tables (one prefix)."""
    prefix = new_prefix()
    tunings = {
        "stream_heartbeat_s": 0.3,
        "presence_viewing_hold_s": 3.0,
        "presence_typing_hold_s": 1.5,
    }
    a = start_relay(dynamodb_endpoint, prefix=prefix, background=False, **tunings)
    b = start_relay(dynamodb_endpoint, prefix=prefix, background=False, **tunings)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def seed(pair: tuple[RelayHandle, RelayHandle]) -> Seed:
    return seed_dealer(pair[0], web2text_number="+13125550144")


def _auth(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def _conversation(relay: RelayHandle, location_id: str, number: str) -> str:
    sid = "CH" + uuid.uuid4().hex
    conversation_store.put_conversation(
        relay.tables,
        {
            "ConversationSid": sid,
            "LocationId": location_id,
            "LocationIds": [location_id],
            "CustomerPhone": "+13125550100",
            "Web2TextNumber": number,
            "State": "active",
            "LeadIds": [],
            "Version": 1,
        },
    )
    return sid


class Listener:
    """A stream read on a thread; `wait_for(pred)` waits for the event that matches."""

    def __init__(self, url: str, key: str) -> None:
        self.events: list[ServerSentEvent] = []
        self.cond = threading.Condition()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.error: httpx.HTTPError | None = None  # the stream ended by it
        self.thread = threading.Thread(target=self._run, args=(url, key), daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _run(self, url: str, key: str) -> None:
        try:
            self._read(url, key)
        except httpx.HTTPError as exc:  # e.g. no heartbeat in time on a starved machine
            with self.cond:
                self.error = exc
                self.cond.notify_all()

    def _read(self, url: str, key: str) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=5)) as client,
            connect_sse(client, "GET", f"{url}/v1/stream", headers=_auth(key)) as source,
        ):
            self.ready.set()
            for sse in source.iter_sse():
                with self.cond:
                    self.events.append(sse)
                    self.cond.notify_all()
                if self.stop.is_set():
                    return

    def presence(self) -> list[PresenceEvent]:
        with self.cond:
            return [
                PresenceEvent.model_validate_json(e.data)
                for e in self.events
                if e.event == "presence"
            ]

    def wait_for(self, pred: Any, timeout: float = 10.0) -> PresenceEvent:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for e in self.events:
                    if e.event == "presence":
                        event = PresenceEvent.model_validate_json(e.data)
                        if pred(event):
                            return event
                left = deadline - time.monotonic()
                assert left > 0, f"no such presence event in {self.presence()}"
                assert self.error is None, f"the stream ended: {self.error!r}"
                self.cond.wait(left)

    def close(self) -> None:
        self.stop.set()


def _post(relay: RelayHandle, key: str, sid: str, state: Any) -> httpx.Response:
    return httpx.post(
        f"{relay.url}/v1/conversations/{sid}/presence", headers=_auth(key), json={"state": state}
    )


def test_presence_reaches_a_stream_on_another_instance_and_ends(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    dana = issue_staff_key(a, seed.retailer_id, [seed.location_id], staff_id="dana", name="Dana")
    sid = _conversation(a, seed.location_id, seed.web2text_number)
    sam = Listener(b.url, seed.staff_key)  # Sam streams from instance B
    try:
        r = _post(a, dana, sid, "viewing")  # Dana opens the conversation on instance A
        assert r.status_code == 200, r.text
        assert r.json()["state"] == "viewing"
        seen = sam.wait_for(lambda e: e.staff_id == "dana" and e.state == "viewing")
        assert seen.conversation_sid == sid and seen.staff_name == "Dana"
        assert _post(a, dana, sid, "typing").status_code == 200
        sam.wait_for(lambda e: e.staff_id == "dana" and e.state == "typing")
        # typing stops by itself (no more keystrokes): back to viewing
        sam.wait_for(
            lambda e: e.staff_id == "dana" and e.state == "viewing" and len(sam.presence()) >= 3
        )
        assert _post(a, dana, sid, "left").status_code == 200
        sam.wait_for(lambda e: e.staff_id == "dana" and e.state == "left")
        states = [e.state for e in sam.presence() if e.staff_id == "dana"]
        assert states == ["viewing", "typing", "viewing", "left"]
    finally:
        sam.close()


def test_presence_of_a_vanished_pc_expires_by_itself(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    kim = issue_staff_key(a, seed.retailer_id, [seed.location_id], staff_id="kim", name="Kim")
    sid = _conversation(a, seed.location_id, seed.web2text_number)
    assert _post(a, kim, sid, "viewing").status_code == 200  # then the PC vanishes
    sam = Listener(b.url, seed.staff_key)
    try:
        # a stream opened later starts with who is there now
        sam.wait_for(lambda e: e.staff_id == "kim" and e.state == "viewing")
        gone = sam.wait_for(lambda e: e.staff_id == "kim" and e.state == "left", timeout=10)
        assert gone.conversation_sid == sid
    finally:
        sam.close()


def test_presence_is_scoped_and_checked(pair: tuple[RelayHandle, RelayHandle], seed: Seed) -> None:
    a, _ = pair
    sid = _conversation(a, seed.location_id, seed.web2text_number)
    bad = _post(a, seed.staff_key, sid, "dancing")
    assert bad.status_code == 400 and bad.json()["reason"] == "invalid_request"
    missing = _post(a, seed.staff_key, "CH" + "0" * 32, "viewing")
    assert missing.status_code == 404
    other = seed_retailer(a, name="Other Dealer")
    other_loc = seed_location(a, other, "+13125550145")
    outsider = issue_staff_key(a, other, [other_loc], staff_id="outsider")
    assert _post(a, outsider, sid, "viewing").status_code == 403
    # and the outsider's stream never hears of presence in this conversation
    spy = Listener(a.url, outsider)
    try:
        assert _post(a, seed.staff_key, sid, "typing").status_code == 200
        mine = Listener(a.url, seed.staff_key)
        try:
            mine.wait_for(lambda e: e.conversation_sid == sid and e.state == "typing")
        finally:
            mine.close()
        assert [e for e in spy.presence() if e.conversation_sid == sid] == []
    finally:
        spy.close()


# --------------------------------------------------------------------------- templates


def _templates(relay: RelayHandle, key: str, location: str) -> httpx.Response:
    return httpx.get(
        f"{relay.url}/v1/templates", headers=_auth(key), params={"locationId": location}
    )


def _put(
    relay: RelayHandle, key: str, location: str, templates: list[dict[str, Any]], version: Any
) -> httpx.Response:
    headers = _auth(key) if version is None else _auth(key, **{"If-Match": f'"{version}"'})
    return httpx.put(
        f"{relay.url}/v1/templates",
        headers=headers,
        params={"locationId": location},
        json={"templates": templates},
    )


def test_shared_templates_are_version_checked_across_instances(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, b = pair
    loc = seed_location(a, seed.retailer_id, "+13125550146", name="Templates Store")
    key = issue_staff_key(a, seed.retailer_id, [loc], staff_id="t1", name="Terry")
    empty = _templates(a, key, loc)
    assert empty.status_code == 200 and empty.json()["version"] == 0
    assert empty.json()["templates"] == [] and empty.headers["etag"] == '"0"'
    hello = {"name": "Hello", "body": "Hi {first_name}, {staff_name} here."}
    first = _put(a, key, loc, [hello], 0)
    assert first.status_code == 200, first.text
    view = TemplatesView.model_validate(first.json())
    assert view.version == 1 and view.updated_by == "Terry"
    assert [t.name for t in view.templates] == ["Hello"] and view.templates[0].template_id
    # another desktop still at version 0, through the other instance: 412 with the list
    stale = _put(b, key, loc, [{"name": "Mine", "body": "x"}], 0)
    assert stale.status_code == 412 and stale.json()["reason"] == "version_conflict"
    assert stale.json()["current"]["version"] == 1
    # an edit keeps the template's id; a new one gets an id
    edited = {"templateId": view.templates[0].template_id, "name": "Hello", "body": "Hi!"}
    second = _put(b, key, loc, [edited, {"name": "Hours", "body": "Open 9-6"}], 1)
    assert second.status_code == 200, second.text
    again = TemplatesView.model_validate(_templates(a, key, loc).json())
    assert again.version == 2 and [t.body for t in again.templates] == ["Hi!", "Open 9-6"]
    assert again.templates[0].template_id == view.templates[0].template_id
    # every saved version is on the location's change feed as the entity `templates`
    feed = httpx.get(f"{a.url}/v1/changes", headers=_auth(key), params={"limit": 500}).json()
    kinds = [(c["entity"], c["version"]) for c in feed["changes"] if c["entity"] == "templates"]
    assert kinds == [("templates", 1), ("templates", 2)]
    last = [c for c in feed["changes"] if c["entity"] == "templates"][-1]
    assert last["id"] == loc and last["locationId"] == loc
    assert TemplatesView.model_validate(last["data"]) == again


def test_shared_templates_refuse_bad_input(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed
) -> None:
    a, _ = pair
    loc = seed_location(a, seed.retailer_id, "+13125550147", name="Strict Store")
    key = issue_staff_key(a, seed.retailer_id, [loc], staff_id="t2")
    ok = {"name": "Ok", "body": "Fine"}
    cases = [
        ([ok], None, 428, "precondition_required"),
        ([ok], "x", 400, "invalid_if_match"),
        ([{"name": "Bad", "body": "Hi {nickname}"}], 0, 400, "invalid_template"),
        ([{"name": "Evil\u202e", "body": "x"}], 0, 400, "invalid_field"),
        ([{"name": "", "body": "x"}], 0, 400, "invalid_request"),
        ([{"name": "Long", "body": "x" * 1601}], 0, 400, "invalid_request"),
        ([ok] * 101, 0, 422, "too_many_templates"),
    ]
    for templates, version, status, reason in cases:
        r = _put(a, key, loc, templates, version)
        assert (r.status_code, r.json()["reason"]) == (status, reason), (templates[:1], r.text)
    assert _templates(a, key, loc).json()["version"] == 0  # nothing was saved
    forbidden = _templates(a, key, seed.location_id)  # not one of this key's locations
    assert forbidden.status_code == 403
    assert _put(a, key, seed.location_id, [ok], 0).status_code == 403
    missing = httpx.get(f"{a.url}/v1/templates", headers=_auth(key))
    assert missing.status_code == 400


# --------------------------------------------------------------------------- reply target


def test_reply_target_is_in_the_directory_and_reaches_the_desktops(
    pair: tuple[RelayHandle, RelayHandle], seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, _ = pair
    loc = seed_location(a, seed.retailer_id, "+13125550148", name="Target Store")
    key = issue_staff_key(a, seed.retailer_id, [loc], staff_id="t3")
    me = httpx.get(f"{a.url}/v1/me", headers=_auth(key)).json()
    assert me["locations"][0]["replyTargetMinutes"] == 5  # the default
    cursor = httpx.get(f"{a.url}/v1/changes", headers=_auth(key)).json()["cursor"]
    settings = a.settings
    monkeypatch.setenv("W2T_TABLE_PREFIX", settings.table_prefix)
    monkeypatch.setenv("W2T_DYNAMODB_ENDPOINT", settings.dynamodb_endpoint or "")
    monkeypatch.setenv("W2T_CHANGE_RETENTION_DAYS", "7")
    args = ["admin", "set-reply-target", "--location-id", loc, "--minutes", "12"]
    assert relay_cli(args) == 0
    assert relay_cli([*args[:-1], "0"]) == 2  # out of range
    unknown = ["admin", "set-reply-target", "--location-id", str(uuid.uuid4()), "--minutes", "3"]
    assert relay_cli(unknown) == 2
    me = httpx.get(f"{a.url}/v1/me", headers=_auth(key)).json()
    assert me["locations"][0]["replyTargetMinutes"] == 12
    after = httpx.get(f"{a.url}/v1/changes", headers=_auth(key), params={"cursor": cursor})
    changes = after.json()["changes"]
    assert [(c["entity"], c["data"]["replyTargetMinutes"]) for c in changes] == [("location", 12)]
    assert json.loads(json.dumps(changes[0]["data"]))["locationId"] == loc
    # the command's change expires with the relay's retention, like the relay's own
    logged = a.tables.client.query(
        TableName=a.tables.name(CHANGE_LOG),
        KeyConditionExpression="LocationId = :l",
        ExpressionAttributeValues={":l": {"S": loc}},
        ConsistentRead=True,
    )["Items"]
    newest = max(logged, key=lambda i: int(i["Seq"]["N"]))
    expires = int(newest["ExpiresAt"]["N"]) - int(newest["At"]["N"]) // 1000
    assert abs(expires - 7 * 86400) <= 1
