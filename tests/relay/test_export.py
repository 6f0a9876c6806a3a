"""`web2text-relay admin export` (real subprocesses on DynamoDB Local, texts through
the Twilio simulator): consent (form submissions, STOP/START, staff opt-outs) and
the send log, CSV and JSON Lines, a time range, one retailer only, constant memory."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.relay import consent_log, conversation_store, message_store
from app.relay.export import CONSENT_COLUMNS, _cell, bound, consent_rows, merge_in_time, write_rows
from app.sandbox.twilio_sim import SimHandle, start_simulator
from tests.relay.connector_helpers import create_lead, new_number, status, text, wait_for
from tests.support.relay import RelayHandle, Seed, seed_dealer, start_relay

SIM_SID = "AC" + "5" * 32
SIM_TOKEN = "export-token"
POOL = [f"+1{area}55503{i:02d}" for area in ("312", "415") for i in range(8)]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    handle = start_simulator(SIM_SID, SIM_TOKEN, pool=POOL, carrier_delay=0.0)
    yield handle
    handle.stop()


@pytest.fixture(scope="module")
def relay(dynamodb_endpoint: str, sim: SimHandle) -> Iterator[RelayHandle]:
    handle = start_relay(dynamodb_endpoint, sim)
    yield handle
    handle.stop()


def export(relay: RelayHandle, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("W2T_", "TWILIO_"))}
    env.update(
        W2T_TABLE_PREFIX=relay.settings.table_prefix,
        W2T_DYNAMODB_ENDPOINT=str(relay.settings.dynamodb_endpoint),
    )
    return subprocess.run(
        [sys.executable, "-m", "app.relay.cli", "admin", "export", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def csv_rows(out: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(out)))


def synced_lead(relay: RelayHandle, seed: Seed, phone: str) -> tuple[str, dict[str, Any]]:
    lead_id = create_lead(relay, seed, phone)
    wait_for(
        lambda: status(relay, seed, lead_id)["Integrations"]["Twilio"]["SyncStatus"] == "SYNCED",
        what="Twilio SYNCED",
    )
    sid = status(relay, seed, lead_id)["Integrations"]["Twilio"]["Data"]["ConversationSID"]
    conv = conversation_store.get_conversation(relay.tables, sid)
    assert conv is not None
    return lead_id, conv


def test_consent_holds_forms_stops_starts_and_staff_opt_outs(
    relay: RelayHandle, sim: SimHandle
) -> None:
    seed = seed_dealer(relay, web2text_number=new_number(), pool=POOL)
    other = seed_dealer(relay, web2text_number=new_number(), pool=POOL)
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 1))
    phone = new_number("415")
    lead_id, conv = synced_lead(relay, seed, phone)
    create_lead(relay, other, new_number("415"))
    sim.set_faults({"webhook_duplicate_rate": 1.0})  # Twilio delivers each webhook twice
    try:
        text(sim, phone, conv["CustomerProxy"], "STOP")
        wait_for(
            lambda: list(consent_log.events(relay.tables, seed.retailer_id, "0", "9")),
            what="the STOP recorded",
        )
        # Twilio dates a text to the second: the START goes in a later second than the
        # STOP, or the two would tie and the export could list either first
        (stop,) = consent_log.events(relay.tables, seed.retailer_id, "0", "9")
        wait_for(
            lambda: time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) > str(stop["At"])[:19],
            what="the second after the STOP",
        )
        text(sim, phone, conv["CustomerProxy"], "start")
        wait_for(
            lambda: len(list(consent_log.events(relay.tables, seed.retailer_id, "0", "9"))) == 2,
            what="the START recorded",
        )
        sim.wait_idle()
    finally:
        sim.set_faults({})
    consent_log.record_event(  # what the staff opt-out endpoint records
        relay.tables,
        [seed.retailer_id],
        kind="STAFF_OPT_OUT",
        phone=phone,
        pool_number=conv["CustomerProxy"],
        dedupe_id="idem-1",
        source="staff",
        staff_id="staff-1",
        staff_name="Sam Staff",
        reason="asked on the phone",
        conversation_sid=conv["ConversationSid"],
    )
    res = export(relay, "--retailer-id", seed.retailer_id, "--since", started)
    assert res.returncode == 0, res.stderr
    assert "4 consent row(s) exported" in res.stderr
    rows = csv_rows(res.stdout)
    assert [r["kind"] for r in rows] == ["web_form", "stop", "start", "staff_opt_out"]
    form, stop, start, staff = rows
    assert (form["phone"], form["page"], form["ip"], form["lead_id"]) == (
        phone,
        "https://floors.example/oak",
        "203.0.113.9",
        lead_id,
    )
    assert form["name"] == "Robin  Q Buyer" and form["location_id"] == seed.location_id
    assert (stop["keyword"], stop["pool_number"], stop["phone"]) == (
        "STOP",
        conv["CustomerProxy"],
        phone,
    )
    assert stop["source"] == "customer" and stop["lead_id"] == lead_id
    assert start["keyword"] == "start"
    assert (staff["staff"], staff["reason"]) == ("Sam Staff", "asked on the phone")
    # in time order to the second (within one, a form comes before the texts it began)
    seconds = [r["time"][:19] for r in rows]
    assert seconds == sorted(seconds)

    jsonl = export(
        relay, "--retailer-id", seed.retailer_id, "--since", started, "--format", "jsonl"
    )
    assert jsonl.returncode == 0, jsonl.stderr
    assert [json.loads(line) for line in jsonl.stdout.splitlines()] == rows
    theirs = csv_rows(export(relay, "--retailer-id", other.retailer_id).stdout)
    assert [r["kind"] for r in theirs] == ["web_form"]
    later = export(relay, "--retailer-id", seed.retailer_id, "--since", "2999-01-01")
    assert later.returncode == 0 and csv_rows(later.stdout) == []
    bad = export(
        relay, "--retailer-id", seed.retailer_id, "--since", "2026-02-01", "--until", "2026-01-01"
    )
    assert bad.returncode == 2 and "--since must be before --until" in bad.stderr


def test_the_send_log_says_who_sent_what_to_whom(relay: RelayHandle, sim: SimHandle) -> None:
    seed = seed_dealer(relay, web2text_number=new_number(), pool=POOL)
    phone = new_number("415")
    _, conv = synced_lead(relay, seed, phone)
    text(sim, phone, conv["CustomerProxy"], "Grey please")
    text(sim, seed.web2text_number, conv["StoreProxy"], "On it")
    sid = conv["ConversationSid"]
    wait_for(lambda: len(message_store.list_messages(relay.tables, sid)) >= 4, what="four messages")
    sim.wait_idle()
    res = export(relay, "--retailer-id", seed.retailer_id, "--what", "messages")
    assert res.returncode == 0, res.stderr
    rows = csv_rows(res.stdout)
    by_author = {(r["direction"], r["author"]): r for r in rows}
    details = by_author[("to_store", "system")]
    assert (details["from"], details["to"]) == (conv["StoreProxy"], seed.web2text_number)
    greeting = by_author[("outbound", "system")]
    assert (greeting["from"], greeting["to"]) == (conv["CustomerProxy"], phone)
    inbound = by_author[("inbound", "customer")]
    assert (inbound["from"], inbound["to"]) == (phone, conv["CustomerProxy"])
    reply = by_author[("outbound", "store")]
    assert (reply["from"], reply["to"]) == (conv["CustomerProxy"], phone)
    assert all(r["status"] and r["conversation_sid"] == sid for r in rows)
    assert [r["time"] for r in rows] == sorted(r["time"] for r in rows)


def test_cells_a_spreadsheet_would_run_are_quoted() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert _cell("@SUM(A1)") == "'@SUM(A1)"
    assert _cell("+13125550100") == "+13125550100"
    assert _cell("-cmd|' /C calc'!A0") == "'-cmd|' /C calc'!A0"
    assert _cell(None) == ""
    assert bound("2026-03-01", end=False) == "2026-03-01"
    assert bound("2026-03-01", end=True) == "2026-03-02"
    assert bound("2026-03-01T10:00:00-05:00", end=False) == "2026-03-01T15:00:00"


def _fill(relay: RelayHandle, retailer_id: str, n: int) -> None:
    with relay.tables.leads.batch_writer() as batch:
        for i in range(n):
            batch.put_item(
                Item={
                    "LeadId": str(uuid.uuid4()),
                    "LeadType": "WEB2TEXT",
                    "UniversalRetailerId": retailer_id,
                    "DateSubmitted": f"2025-01-01T00:00:{i % 60:02d}.{i:06d}Z",
                    "LocationId": "loc",
                    "Status": "CLOSED",
                    "Lead": {
                        "Name": f"Customer {i}",
                        "PhoneNumber": "+13125550100",
                        "PageUrl": "https://floors.example/" + "x" * 200,
                        "IPAddress": "203.0.113.9",
                    },
                }
            )


def _peak(relay: RelayHandle, retailer_id: str, out: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        with out.open("w", newline="") as f:
            count = write_rows(
                consent_rows(relay.tables, retailer_id, "0", "9999"), CONSENT_COLUMNS, "csv", f
            )
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_export_streams_in_constant_memory(relay: RelayHandle, tmp_path: Path) -> None:
    """Twice the rows, about the same peak: pages are written as they are read."""
    small, large = str(uuid.uuid4()), str(uuid.uuid4())
    _fill(relay, small, 600)
    _fill(relay, large, 2400)
    count_small, peak_small = _peak(relay, small, tmp_path / "small.csv")
    count_large, peak_large = _peak(relay, large, tmp_path / "large.csv")
    assert (count_small, count_large) == (600, 2400)
    assert (tmp_path / "large.csv").stat().st_size > 3 * (tmp_path / "small.csv").stat().st_size
    # four times the rows (about 12 pages more): the peak grows by well under one
    # more page's worth per page, i.e. not with the number of rows
    assert peak_large < peak_small * 1.5, (peak_small, peak_large)


def test_a_text_in_the_same_second_as_its_form_comes_after_it() -> None:
    """Twilio dates a STOP to the second; the form that started the thread in that
    second (dated to the microsecond) still comes first, and later seconds keep time."""
    forms = [
        {"time": "2026-12-07T12:00:05.123456Z", "kind": "web_form"},
        {"time": "2026-12-07T12:00:06.100000Z", "kind": "lead_staff"},
    ]
    events = [{"time": "2026-12-07T12:00:05Z", "kind": "stop"}]
    assert [r["kind"] for r in merge_in_time(forms, events)] == [
        "web_form",
        "stop",
        "lead_staff",
    ]
