"""WEB2TEXT leads through Twilio, Botpress, RLM and DHQ (the simulators of
app/sandbox): the original's bodies, Data and ErrorInfo; the transcript noted
once per message (webhook redeliveries included); the close flush."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.relay import conversation_store, lead_store, message_store
from app.sandbox.lead_systems_sim import LeadSystemsHandle
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.connector_helpers import (
    BOTPRESS_TABLE,
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
from tests.support.relay import RelayHandle

SIM_SID = "AC" + "6" * 32
SIM_TOKEN = "connectors-token"
POOL = [f"+1{area}55502{i:02d}" for area in ("312", "415") for i in range(12)]


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


def test_a_lead_reaches_every_system_with_the_original_bodies(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    universal = f"dhq-{seed.location_id[:8]}"
    lead_systems.state.rlm.mappings[:] = [
        {"dhq_store_id": universal, "location_name": "Gastonia, NC", "location_id": 7}
    ]
    lead_systems.state.botpress.add_row(
        BOTPRESS_TABLE,
        {"conversationId": "bp-1", "summary": "Wants oak", "topics": ["oak", "price"]},
    )
    phone = new_number("415")
    lead_id = create_lead(
        relay,
        seed,
        phone,
        BotpressConversationId="bp-1",
        AssociatedProductInfo={"Brand": "Acme", "Product": "Oak", "Variant": "Natural"},
    )
    for name in ("Twilio", "Botpress", "RLM", "DHQ"):
        wait_status(relay, seed, lead_id, name, "SYNCED")
    state = status(relay, seed, lead_id)
    botpress = state["Integrations"]["Botpress"]
    assert botpress["Data"]["ConversationId"] == "bp-1"
    assert botpress["Data"]["Conversation"]["summary"] == "Wants oak"

    rlm = state["Integrations"]["RLM"]
    assert set(rlm["Data"]) == {
        "LeadId",
        "LeadUUID",
        "LocationName",
        "SyncedMessageIds",
        "SentBotpressSummary",
    }
    assert rlm["Data"]["LocationName"] == "Gastonia, NC"
    assert rlm["Data"]["SentBotpressSummary"] is True and "ErrorInfo" not in rlm
    remote = rlm_lead_by_uuid(lead_systems, rlm["Data"]["LeadUUID"])
    assert remote["api_key"] == "rlm-key-1" and remote["lead_id"] == rlm["Data"]["LeadId"]
    body = remote["lead"]
    assert {k: v for k, v in body.items() if k != "note"} == {
        "location_name": "Gastonia, NC",
        "divison_name": "Per Pipeline configuration",
        "source_name": "Web2Text",
        "first_name": "Robin",
        "last_name": "Q Buyer",
        "phone": phone,
        "mobile_phone": phone,
        "website": "floors.example",
    }
    lines = body["note"].split("\n")
    assert lines[:4] == [
        "--------------------",
        "Web2Text Lead Information",
        "--------------------",
        "PageUrl: https://floors.example/oak",
    ]
    assert lines[6].startswith("Date Submitted: ") and lines[6].endswith(" GMT")
    assert "Customer was looking at Oak by Acme | Natural" in lines
    assert lines[-3:] == ["Customer Message:", "", "Is the oak in stock?"]
    summary = remote["notes"][0]
    assert summary["message"] == "Fibi Chatbot:\n**Topics:** oak, price\nWants oak"
    assert (summary["sender_name"], summary["sender_phone"]) == ("Dealer", "+10000000")

    dhq = state["Integrations"]["DHQ"]
    assert set(dhq["Data"]) == {"LeadId", "SyncedMessageIds", "SentBotpressSummary"}
    [inquiry] = dhq_inquiries(lead_systems, lead_id)
    assert inquiry["lead_id"] == dhq["Data"]["LeadId"]
    sent = inquiry["body"]
    conversation = state["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    assert sent["traffic"] == {"source": "Other", "medium": "Referral", "campaign": "Web2Text"}
    assert sent["universal_store_id"] == universal
    assert sent["store_address"] == "1 Main St, Gastonia, NC"
    assert sent["inquiry"] == {
        "contact_method": "cys_inquiry",
        "email": f"web2text+{phone[1:]}@broadlume.com",
        "external_id": lead_id,
        "message": "Is the oak in stock?",
        "name": "Robin  Q Buyer",
        "page_url": "https://floors.example/oak",
        "phone_number": phone,
        "preferred_location": "1 Main St, Gastonia, NC",
        "product": {"brand": "Acme", "name": "Oak", "color": "Natural"},
    }
    assert sent["custom_fields"] == [
        {"name": "Web2TextLeadID", "value": lead_id, "displayable": False},
        {"name": "Twilio Conversation SID", "value": conversation, "displayable": False},
    ]
    assert inquiry["comments"][0]["body"] == (
        "\n\n**Fibi Chatbot**\n\n**Topics:** oak, price\n\nWants oak"
    )
    assert inquiry["comments"][0]["author_id"] == 262


def test_the_transcript_is_noted_once_per_message_and_flushed_on_close(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    phone = new_number("415")
    lead_id = create_lead(relay, seed, phone)
    rlm = wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    sid = status(relay, seed, lead_id)["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    sim.set_faults({"webhook_duplicate_rate": 1.0})  # every webhook delivered twice
    try:
        text(sim, phone, conv["CustomerProxy"], "Do you have it in grey?")
        remote = lambda: rlm_lead_by_uuid(lead_systems, rlm["Data"]["LeadUUID"])  # noqa: E731
        wait_for(
            lambda: any("grey" in n["message"] for n in remote()["notes"]), what="note of the text"
        )
        text(sim, seed.web2text_number, conv["StoreProxy"], "Yes we do")
        wait_for(
            lambda: any("Yes we do" in n["message"] for n in remote()["notes"]), what="the reply"
        )
        sim.wait_idle()
    finally:
        sim.set_faults({})
    r = httpx.post(
        relay.url + f"/Lead/{lead_id}/close",
        headers={"Authorization": seed.lead_key},
        json={"reason": "Sold"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    wait_status(relay, seed, lead_id, "RLM", "CLOSED")
    final = wait_status(relay, seed, lead_id, "DHQ", "CLOSED")
    messages = sorted(
        (
            m
            for m in message_store.list_messages(relay.tables, sid, limit=100)
            if not m.get("Placeholder")
        ),
        key=lambda m: int(m["Index"]),  # Twilio's order
    )
    notes = remote()["notes"]
    assert [n["message"] for n in notes] == [f"\n\n{m['Body']}\n" for m in messages], (
        [(m.get("Index"), m["MessageSid"], m["AuthorKind"], m["Body"][:12]) for m in messages],
        [(n["message"][:14], n["date"]) for n in notes],
    )
    assert len({n["message"] for n in notes}) == len(notes)  # each once
    senders = {m["Body"]: n["sender_name"] for m, n in zip(messages, notes, strict=True)}
    assert senders["Do you have it in grey?"] == "Robin  Q Buyer"
    assert senders["Yes we do"] == "Dealer"
    assert [senders[b] for b in senders if b.startswith(("Hi Robin", "New Web2Text lead"))] == [
        "System",
        "System",
    ]
    assert any(b.startswith("Web2Text: this lead was closed") for b in senders)  # flushed
    comments = dhq_inquiries(lead_systems, lead_id)[0]["comments"]
    assert [c["body"] for c in comments] == [
        f"**| {senders[m['Body']]}**: " + m["Body"].replace("\n", "\n\n") for m in messages
    ]
    data = status(relay, seed, lead_id)["Integrations"]["RLM"]["Data"]
    assert data["SyncedMessageIds"] == [m["MessageSid"] for m in messages]
    assert final["Data"]["SyncedMessageIds"] == [m["MessageSid"] for m in messages]


def test_a_lead_without_a_chatbot_conversation_has_no_botpress_state(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    lead_id = create_lead(relay, seed, new_number("415"))
    wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    state = status(relay, seed, lead_id)
    assert "Botpress" not in state["Integrations"]  # the original errored here every pass
    assert state["Integrations"]["RLM"]["Data"]["SentBotpressSummary"] is False
    assert lead_systems.received("botpress") == []


def test_errors_are_the_originals(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    """`ErrorInfo` = {Message, Details?, ErrorDate}, the original's messages; Data kept."""
    seed = seed_connected_dealer(relay, POOL, rlm_key=None)
    lead_id = create_lead(relay, seed, new_number("415"), BotpressConversationId="bp-none")
    botpress = wait_status(relay, seed, lead_id, "Botpress", "ERROR")
    assert botpress["ErrorInfo"]["Message"] == "No Botpress AI Summary found"
    assert set(botpress["ErrorInfo"]) == {"Message", "ErrorDate"}
    rlm = wait_status(relay, seed, lead_id, "RLM", "ERROR")
    assert rlm["ErrorInfo"]["Message"] == "RLM API Key is missing"
    assert lead_systems.received("rlm") == []
    wait_status(relay, seed, lead_id, "DHQ", "SYNCED")
    lead_systems.set_faults({"dhq": {"fail_next": 1, "fail_status": 422}})
    phone = new_number("415")
    other = create_lead(relay, seed, phone)
    dhq = wait_status(relay, seed, other, "DHQ", "ERROR")
    assert dhq["ErrorInfo"]["Message"] == "Error with DHQ lead submit endpoint"
    assert dhq["ErrorInfo"]["Details"]["response"]["Status"] == 422
    assert dhq_inquiries(lead_systems, other) == []


def _lead_view(relay: RelayHandle, staff_key: str, lead_id: str) -> dict[str, Any]:
    cursor, found = None, None
    while True:
        page = httpx.get(
            relay.url + "/v1/changes",
            params={"cursor": cursor} if cursor else {},
            headers={"Authorization": f"Bearer {staff_key}"},
            timeout=10,
        ).json()
        for change in page["changes"]:
            if change["entity"] == "lead" and change["id"] == lead_id:
                found = change["data"]
        cursor = page["cursor"]
        if not page["hasMore"]:
            return dict(found or {})


def test_staff_see_each_integration_and_sync_now(
    relay: RelayHandle, sim: SimHandle, lead_systems: LeadSystemsHandle
) -> None:
    seed = seed_connected_dealer(relay, POOL)
    phone = new_number("415")
    lead_id = create_lead(relay, seed, phone)
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    conv = conversation_store.get_conversation(
        relay.tables,
        status(relay, seed, lead_id)["Integrations"]["Twilio"]["Data"]["ConversationSID"],
    )
    assert conv is not None
    lead_systems.set_faults({"rlm": {"fail_next": 50, "fail_status": 400}})
    text(sim, phone, conv["CustomerProxy"], "Hello?")
    wait_status(relay, seed, lead_id, "RLM", "ERROR")
    wait_for(
        lambda: (lead_store.get_lead(relay.tables, lead_id) or {}).get("PendingShard") is None,
        what="the pass over (a 400 is not retried)",
    )
    view = wait_for(
        lambda: (
            lambda v: v if any(i["status"] == "ERROR" for i in v.get("integrations", [])) else None
        )(_lead_view(relay, seed.staff_key, lead_id)),
        what="the feed's lead with the error",
    )
    shown = {i["name"]: i for i in view["integrations"]}
    assert list(shown) == ["Twilio", "RLM", "DHQ"]  # the original's order
    assert shown["RLM"]["error"].startswith("Error with RLM note endpoint syncing message")
    assert shown["RLM"]["detail"] == "400" and shown["RLM"]["retrying"] is False
    assert shown["DHQ"]["status"] == "SYNCED" and shown["DHQ"]["lastSynced"]
    lead_systems.set_faults({})
    other = seed_connected_dealer(relay, POOL)
    denied = httpx.post(
        relay.url + f"/v1/leads/{lead_id}/sync",
        headers={"Authorization": f"Bearer {other.staff_key}"},
    )
    assert denied.status_code == 403
    r = httpx.post(
        relay.url + f"/v1/leads/{lead_id}/sync",
        headers={"Authorization": f"Bearer {seed.staff_key}"},
    )
    assert r.status_code == 202 and r.json()["leadId"] == lead_id
    wait_status(relay, seed, lead_id, "RLM", "SYNCED")
    uuid_ = status(relay, seed, lead_id)["Integrations"]["RLM"]["Data"]["LeadUUID"]
    assert [n["message"] for n in rlm_lead_by_uuid(lead_systems, uuid_)["notes"]].count(
        "\n\nHello?\n"
    ) == 1
