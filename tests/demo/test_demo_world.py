"""The demo end to end in this process: moto's DynamoDB server, the Twilio
simulator and the relay on loopback, seeded through the real APIs once (which
saves a snapshot), then started again from that snapshot with the simulated
world running through the relay (a small seed and short delays keep it quick)."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from app.sandbox import demo_data as data
from app.sandbox.demo import DemoHandle, prepare, start_demo, stop_demo

T = TypeVar("T")
# an in-process relay on moto answers slowly on a loaded machine: no 5 s guess
SLOW = httpx.Timeout(60.0)


def wait_for(predicate: Callable[[], T], timeout: float, what: str) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoHandle]:
    folder = tmp_path_factory.mktemp("demo-data") / "demo"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("W2T_DEMO_SNAPSHOT_DIR", str(tmp_path_factory.mktemp("snapshots")))
        prepare(7, 10)
        handle = start_demo(
            folder,
            leads=10,
            lead_interval=2.0,
            reply_delay=(0.2, 0.6),
            store_answer_rate=1.0,
            stop_after=1.0,
        )
    try:
        assert handle.stats.restored, "the second start should restore the snapshot"
        assert handle.history_done.wait(180), "histories did not finish"
        yield handle
    finally:
        stop_demo()


def _get(handle: DemoHandle, path: str, key: str) -> Any:
    resp = httpx.get(
        f"{handle.relay_url}{path}", headers={"Authorization": f"Bearer {key}"}, timeout=SLOW
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_handle_is_what_the_desktop_unpacks(demo: DemoHandle) -> None:
    relay_url, key, data_dir = demo
    assert relay_url == demo.relay_url and relay_url.startswith("http://127.0.0.1:")
    assert key == demo.staff_key and key not in repr(demo)
    assert Path(data_dir) == demo.data_dir and (demo.data_dir / ".web2text-demo").exists()
    assert demo.is_demo is True
    # The key lives in memory only: no file in the demo folder holds it.
    for path in demo.data_dir.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes()


def test_staff_identity_sees_two_locations_sharing_a_number(demo: DemoHandle) -> None:
    me = _get(demo, "/v1/me", demo.staff_key)
    assert me["staffId"] == "demo-jordan" and me["name"] == "Jordan Reyes"
    numbers = {loc["web2textNumber"] for loc in me["locations"]}
    assert len(me["locations"]) == 2 and numbers == {data.SHARED_NUMBER}


def test_seeded_leads_went_through_the_lead_api(demo: DemoHandle) -> None:
    plan = data.build_seed(7, 10)
    assert demo.stats.leads_seeded == len(plan) and not demo.stats.errors
    sids = {}
    for lead in plan:
        state = _get(demo, f"/Lead/{lead.lead_id}/status", demo.lead_key)
        assert state["Status"] == "ACTIVE"
        assert state["Lead"]["PhoneNumber"] == lead.phone
        sids[lead.lead_id] = state["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    # Rule 3 (two locations, one number) and rule 1 (same form twice): shared conversations.
    by_pair: dict[tuple[str, str], set[str]] = {}
    for lead in plan:
        pair = (lead.phone, data.location(lead.location_key).web2text_number)
        by_pair.setdefault(pair, set()).add(sids[lead.lead_id])
    assert all(len(s) == 1 for s in by_pair.values())
    assert len(set(sids.values())) == len(plan) - 2


def test_histories_reached_the_phones(demo: DemoHandle) -> None:
    sim: Any = demo.sim
    plan = data.build_seed(7, 10)
    assert demo.stats.messages_seeded == sum(len(lead.history) for lead in plan)
    talked = next(lead for lead in plan if any(s.speaker == "staff" for s in lead.history))
    bodies = [m["body"] for m in sim.handset(talked.phone)]
    staff_lines = [s.text for s in talked.history if s.speaker == "staff"]
    assert all(line in bodies for line in staff_lines)


def _synced(demo: DemoHandle, lead_id: str) -> dict[str, Any] | None:
    state = _get(demo, f"/Lead/{lead_id}/status", demo.lead_key)["Integrations"]
    done = all((state.get(n) or {}).get("SyncStatus") == "SYNCED" for n in ("RLM", "DHQ"))
    return state if done else None


def test_every_lead_reaches_rlm_and_dhq_once_with_its_transcript(demo: DemoHandle) -> None:
    systems: Any = demo.lead_systems
    plan = data.build_seed(7, 10)
    states = {
        lead.lead_id: wait_for(lambda i=lead.lead_id: _synced(demo, i), 90, "RLM and DHQ")
        for lead in plan
    }
    inquiries = systems.state.dhq.snapshot()
    for lead in plan:  # DHQ's external_id is the lead id: one inquiry each
        assert [i["external_id"] for i in inquiries].count(lead.lead_id) == 1
    assert len({s["RLM"]["Data"]["LeadUUID"] for s in states.values()}) == len(plan)
    talked = next(lead for lead in plan if any(s.speaker == "staff" for s in lead.history))
    uuid_ = states[talked.lead_id]["RLM"]["Data"]["LeadUUID"]

    def notes() -> list[str]:
        rlm = systems.state.rlm.snapshot()
        return [n["message"] for lead in rlm if lead["lead_uuid"] == uuid_ for n in lead["notes"]]

    staff_lines = [f"\n\n{s.text}\n" for s in talked.history if s.speaker == "staff"]
    wait_for(lambda: all(line in notes() for line in staff_lines), 60, "the transcript in RLM")
    assert all(notes().count(line) == 1 for line in staff_lines)
    chatbot = [lead for lead in plan if "Botpress" in states[lead.lead_id]]
    assert chatbot and all(
        states[lead.lead_id]["Botpress"]["SyncStatus"] == "SYNCED" for lead in chatbot
    )


def test_customer_answers_a_few_seconds_after_staff_write(demo: DemoHandle) -> None:
    sim: Any = demo.sim
    track = next(
        t for t in demo.tracks.values()
        if t.replies and not t.texts_stop and t.store_number == data.SHARED_NUMBER
    )
    before = len([r for r in sim.state.inbound_log if r["from"] == track.customer])
    resp = httpx.post(
        f"{demo.relay_url}/v1/conversations/{track.conversation_sid}/messages",
        json={"body": "Hi! Are you still interested?"},
        headers={"Authorization": f"Bearer {demo.staff_key}", "Idempotency-Key": str(uuid.uuid4())},
        timeout=SLOW,  # one process runs the relay, DynamoDB and both simulators
    )
    assert resp.status_code == 202, resp.text
    wait_for(
        lambda: len([r for r in sim.state.inbound_log if r["from"] == track.customer]) > before,
        30, "the customer's reply",
    )
    # ... and with store_answer_rate=1 the store phone answers that conversation too.
    wait_for(
        lambda: any(
            r["from"] == track.store_number and r["to"] == track.store_proxy
            for r in sim.state.inbound_log
        ),
        60, "the store phone's answer",
    )


def test_one_customer_texts_stop(demo: DemoHandle) -> None:
    sim: Any = demo.sim
    quitter = next(t for t in demo.tracks.values() if t.texts_stop)
    wait_for(lambda: quitter.opted_out, 120, "the STOP")
    stop = [r for r in sim.state.inbound_log if r["from"] == quitter.customer]
    assert stop[-1]["body"] == "STOP" and stop[-1]["opt_out_type"] == "STOP"
    # The relay closes the customer's lead once the simulator's webhook lands.
    lead_id = quitter.leads[0].lead_id

    def closed() -> bool:
        state = _get(demo, f"/Lead/{lead_id}/status", demo.lead_key)
        return bool(state["Status"] == "CLOSED")

    wait_for(closed, 90, "the opted-out lead to close")
    state = _get(demo, f"/Lead/{lead_id}/status", demo.lead_key)
    assert state["CloseReason"] == "Participant opted out of text messaging"


def test_new_website_leads_keep_arriving(demo: DemoHandle) -> None:
    before = demo.stats.live_leads
    wait_for(lambda: demo.stats.live_leads > before + 1, 90, "new website leads")
    # Each live lead has a fresh id: one drawn from the seeded stream repeated a
    # seeded lead's idempotency key with another body (idempotency_conflict).
    assert not [e for e in demo.stats.errors if "idempotency" in e], demo.stats.errors
    seeded = {lead.lead_id for lead in data.build_seed(7, 10)}
    # (the live world also closes a lead now and then, as a dealer's system does)
    closed = demo.world.contacts.closed
    live = {lead.lead_id for t in demo.tracks.values() for lead in t.leads
            if t.conversation_sid not in closed} - seeded  # fmt: skip
    assert live, "no live lead got a conversation"
    for lead_id in live:
        assert _get(demo, f"/Lead/{lead_id}/status", demo.lead_key)["Status"] == "ACTIVE"


def test_customers_send_photos_call_text_after_close_and_strangers_text(
    demo: DemoHandle,
) -> None:
    from app.sandbox.demo_contacts import STRANGER_TEXTS

    world = demo.world
    contacts, sim = world.contacts, world.sim
    track = next(t for t in demo.tracks.values() if not t.opted_out)
    # the live world must not close this one's lead at the same time as this test
    contacts.closed.add(track.conversation_sid)
    world.call(contacts.photo(track), 30)
    conversation = sim.state.get_conversation(track.conversation_sid)
    wait_for(
        lambda: any(m.media for m in sim.state.list_messages(conversation.sid, None)),
        30, "the photo in the conversation")
    world.call(contacts.call(track), 30)
    calls = sim.calls(track.store_number)
    assert calls and calls[-1]["from"] == track.store_proxy  # masked: the pool number
    before = len(sim.handset(track.store_number))
    world.call(contacts.text_after_close(track), 180)
    wait_for(
        lambda: any(m["body"].startswith("A customer texted in again")
                    for m in sim.handset(track.store_number)[before:]),
        60, "the store told of the returning customer")
    strangers = contacts.stats.strangers
    world.call(contacts.stranger(None), 30)
    # the live world plays these too (the counts only grow)
    assert contacts.stats.strangers > strangers and contacts.stats.photos >= 1
    assert any(r["body"] in STRANGER_TEXTS for r in sim.state.inbound_texts.log)


def test_stop_frees_every_port(demo: DemoHandle) -> None:
    """Last in this module: it stops the shared demo."""
    urls = [demo.relay_url, demo.simulator_url, demo.dynamodb_url]
    demo.stop()
    demo.stop()  # idempotent
    for url in urls:
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as sock:
            sock.settimeout(1)
            assert sock.connect_ex((host, int(port))) != 0, url
