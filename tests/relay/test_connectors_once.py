"""Exactly once toward each system, against the lead-systems simulator's faults:
outages retried (bounded, with backoff) and shown; a POST whose answer was lost
never sent twice (RLM notes and creates settled unconfirmed; the DHQ create looked
up by external_id first); an operator's explicit resend."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.relay import conversation_store, lead_store, message_store
from app.relay.connectors.progress import unconfirmed
from app.relay.lead_runner import MAX_TRANSIENT_ATTEMPTS
from app.sandbox.lead_systems_sim import LeadSystemsHandle
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.connector_helpers import (
    connected_relay,
    create_lead,
    dhq_inquiries,
    new_number,
    rlm_lead_by_uuid,
    seed_connected_dealer,
    status,
    text,
    wait_for,
    wait_status,
)
from tests.support.relay import METRICS_AUTH, RelayHandle, Seed

SIM_SID = "AC" + "4" * 32
SIM_TOKEN = "connectors-once-token"
POOL = [f"+1{area}55504{i:02d}" for area in ("312", "415") for i in range(12)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(
    dynamodb_endpoint: str, sim: SimHandle, _lead_systems_server: LeadSystemsHandle
) -> Iterator[RelayHandle]:
    with connected_relay(dynamodb_endpoint, sim, _lead_systems_server) as handle:
        yield handle


def conversation(relay: RelayHandle, seed: Seed, lead_id: str) -> dict[str, Any]:
    sid = status(relay, seed, lead_id)["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    return conv


def notes(
    lead_systems: LeadSystemsHandle, relay: RelayHandle, seed: Seed, lead_id: str
) -> list[str]:
    uuid_ = status(relay, seed, lead_id)["Integrations"]["RLM"]["Data"]["LeadUUID"]
    return [n["message"] for n in rlm_lead_by_uuid(lead_systems, uuid_)["notes"]]


def requests_to(lead_systems: LeadSystemsHandle, system: str, suffix: str) -> list[dict[str, Any]]:
    return [r for r in lead_systems.received(system) if r["path"].endswith(suffix)]


def settled(relay: RelayHandle, lead_id: str) -> bool:
    item = lead_store.get_lead(relay.tables, lead_id) or {}
    return item.get("PendingShard") is None


def test_an_outage_is_retried_boundedly_shown_and_healed_by_sync_now(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    phone = new_number("415")
    lead_id = create_lead(relay, seed, phone)
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    conv = conversation(relay, seed, lead_id)
    before = len(requests_to(lead_systems, "rlm", "note_from_sms"))
    lead_systems.set_faults({"rlm": {"rate_5xx": 1.0}})
    text(sim, phone, conv["CustomerProxy"], "Grey, maybe?")
    rlm = wait_status(relay, seed, lead_id, "RLM", "ERROR")
    info = rlm["ErrorInfo"]
    assert info["Message"].startswith("Error with RLM note endpoint syncing message 'IM")
    assert info["Details"]["response"]["Status"] in (500, 503)
    assert info["Details"]["message"]["sender"] == "Robin  Q Buyer"
    assert "ErrorDate" in info and rlm["Data"]["LeadUUID"]  # progress kept
    wait_for(lambda: settled(relay, lead_id), timeout=30, what="the retries to end")
    tries = len(requests_to(lead_systems, "rlm", "note_from_sms")) - before
    # each pass retries a busy answer in place (3 attempts), the lead is tried again
    # a bounded number of times
    assert 2 <= tries <= MAX_TRANSIENT_ATTEMPTS * 3
    metrics = httpx.get(relay.url + "/metrics", headers=METRICS_AUTH).text
    assert 'w2t_connector_calls_total{result="503",system="RLM"}' in metrics or (
        'w2t_connector_calls_total{result="500",system="RLM"}' in metrics
    )
    lead_systems.set_faults({})
    r = httpx.post(relay.url + f"/Lead/{lead_id}/sync", headers={"Authorization": seed.lead_key})
    assert r.status_code == 200, r.text
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    assert notes(lead_systems, relay, seed, lead_id).count("\n\nGrey, maybe?\n") == 1


def test_a_note_whose_answer_was_lost_is_never_sent_twice(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    phone = new_number("415")
    lead_id = create_lead(relay, seed, phone)
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    conv = conversation(relay, seed, lead_id)
    lead_systems.set_faults({"rlm": {"rate_timeout_after_commit": 1.0}})
    text(sim, phone, conv["CustomerProxy"], "Is it waterproof?")
    lost = wait_for(
        lambda: unconfirmed(lead_store.get_lead(relay.tables, lead_id) or {}, "RLM"),
        what="the note settled unconfirmed",
    )
    lead_systems.set_faults({})
    text(sim, phone, conv["CustomerProxy"], "And the price?")
    wait_for(
        lambda: "\n\nAnd the price?\n" in notes(lead_systems, relay, seed, lead_id),
        what="the next note",
    )
    sent = notes(lead_systems, relay, seed, lead_id)
    assert sent.count("\n\nIs it waterproof?\n") == 1  # RLM got it once; never resent
    assert sent.count("\n\nAnd the price?\n") == 1
    rlm = wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    assert lost[0] in rlm["Data"]["SyncedMessageIds"]


def test_a_dhq_create_whose_answer_was_lost_is_looked_up_not_repeated(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    lead_systems.set_faults({"dhq": {"rate_timeout_after_commit": 1.0}})
    lead_id = create_lead(relay, seed, new_number("415"))
    wait_for(
        lambda: [r for r in lead_systems.received("dhq") if r["fault"] == "hang_after"],
        what="the create to time out",
    )
    lead_systems.set_faults({})
    dhq = wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    [inquiry] = dhq_inquiries(lead_systems, lead_id)  # adopted, not sent again
    assert dhq["Data"]["LeadId"] == inquiry["lead_id"]
    lookups = [r for r in lead_systems.received("dhq") if r["method"] == "GET"]
    assert lookups and lookups[0]["query"] == f"external_id={lead_id}"


def test_a_dhq_create_that_never_arrived_is_sent_again(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    lead_systems.set_faults({"dhq": {"rate_timeout": 1.0}})
    lead_id = create_lead(relay, seed, new_number("415"))
    wait_for(
        lambda: [r for r in lead_systems.received("dhq") if r["fault"] == "hang"],
        what="the create to time out",
    )
    lead_systems.set_faults({})
    wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    assert len(dhq_inquiries(lead_systems, lead_id)) == 1
    methods = [r["method"] for r in lead_systems.received("dhq") if "store_inquiries" in r["path"]]
    assert methods[:3] == ["POST", "GET", "POST"]


def test_an_rlm_create_whose_answer_was_lost_waits_for_an_operator(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL, rlm_key="rlm-lost-key")
    lead_systems.set_faults({"rlm": {"rate_timeout_after_commit": 1.0}})
    lead_id = create_lead(relay, seed, new_number("415"))
    rlm = wait_status(relay, seed, lead_id, "RLM", "ERROR")
    lead_systems.set_faults({})
    assert rlm["ErrorInfo"]["Message"] == "Error with RLM lead endpoint"
    assert "answer was lost" in rlm["ErrorInfo"]["Details"]["response"]["Error"]
    mine = lambda: [x for x in lead_systems.state.rlm.snapshot() if x["api_key"] == "rlm-lost-key"]  # noqa: E731
    assert len(mine()) == 1  # RLM has it, the relay could not know
    wait_for(lambda: settled(relay, lead_id), what="the pass to end")
    httpx.post(relay.url + f"/Lead/{lead_id}/sync", headers={"Authorization": seed.lead_key})
    wait_for(lambda: settled(relay, lead_id), what="the sync to end")
    assert len(mine()) == 1  # a sync never repeats it
    assert status(relay, seed, lead_id)["Integrations"]["RLM"]["SyncStatus"] == "ERROR"

    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    env.update(
        W2T_TABLE_PREFIX=relay.settings.table_prefix,
        W2T_DYNAMODB_ENDPOINT=str(relay.settings.dynamodb_endpoint),
    )
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "app.relay.cli",
            "admin",
            "connector-resend",
            "--lead-id",
            lead_id,
            "--system",
            "RLM",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and "1 step(s) will be sent again" in res.stderr, res.stderr
    httpx.post(relay.url + f"/Lead/{lead_id}/sync", headers={"Authorization": seed.lead_key})
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    assert len(mine()) == 2  # the operator chose to send it again


def test_a_holder_with_a_stale_view_never_sends_a_note_again(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    """A holder whose lease ran out while RLM was slow still believes the notes are
    to be sent; the one that took over has sent them: the stale one sends nothing."""
    from app.relay.connectors.notes import _send_note
    from app.relay.connectors.rlm import RlmIntegration
    from app.relay.connectors.transcript import pending_notes

    seed = seed_connected_dealer(relay, POOL)
    phone = new_number("415")
    lead_id = create_lead(relay, seed, phone)
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    conv = conversation(relay, seed, lead_id)
    wait_for(lambda: settled(relay, lead_id), what="the create's pass")
    with_messages = lambda: sum(  # noqa: E731
        m["AuthorKind"] == "customer"
        for m in message_store.list_messages(relay.tables, conv["ConversationSid"])
    )
    stale = lead_store.get_lead(relay.tables, lead_id) or {}  # read before the texts came
    for body in ("one", "two"):
        text(sim, phone, conv["CustomerProxy"], body)
    wait_for(lambda: with_messages() == 2, what="the texts stored")
    [rlm] = [i for i in relay.ctx.connectors.integrations if isinstance(i, RlmIntegration)]
    wait_for(  # the holder that took over: everything is sent
        lambda: {"\n\none\n", "\n\ntwo\n"} <= set(notes(lead_systems, relay, seed, lead_id)),
        what="the notes",
    )
    wait_for(lambda: settled(relay, lead_id), what="the relay's own pass")
    before = notes(lead_systems, relay, seed, lead_id)
    assert before.count("\n\none\n") == 1 and before.count("\n\ntwo\n") == 1
    data = stale["Integrations"]["RLM"]["Data"]
    stale_view = pending_notes(relay.tables, stale, conv, set(data["SyncedMessageIds"]))
    late = [n for n in stale_view if n.body in ("one", "two")]
    assert len(late) == 2  # what the stale holder would send
    for note in late:
        assert _send_note(relay.ctx, lead_id, rlm, "rlm_note", (stale, data, note)) is None
    assert notes(lead_systems, relay, seed, lead_id) == before
