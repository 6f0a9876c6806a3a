"""The feed parsed into the wire models: envelopes, malformed changes, stream events."""

from __future__ import annotations

import json
import logging

import pytest
from httpx_sse import ServerSentEvent

from app.core.wire import LeadView, to_camel
from app.sync import feed, store
from app.sync.db import Database
from tests.sync.fake_relay import change, lead_data, msg_data


def _snake(value: object) -> object:
    """The same JSON with snake_case names (the models accept either spelling)."""
    if isinstance(value, dict):
        return {_to_snake(k): _snake(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake(v) for v in value]
    return value


def _to_snake(name: str) -> str:
    out = "".join("_" + c.lower() if c.isupper() else c for c in name)
    assert to_camel(out) == name
    return out


def test_each_change_is_typed_by_its_entity() -> None:
    lead = feed.parse_change(change("lead", lead_data("lead1", "CH1")))
    msg = feed.parse_change(change("message", msg_data("IM1", "CH1", "hi")))
    assert isinstance(lead.change, feed.LeadChange) and lead.change.data.customer.name
    assert isinstance(msg.change, feed.MessageChange) and msg.change.data.body == "hi"
    assert lead.data == lead_data("lead1", "CH1")  # the JSON as received, kept for the store


def test_either_spelling_is_one_parse(db: Database) -> None:
    camel = lead_data("lead1", "CH1", name="Ann Camel")
    snake = _snake(lead_data("lead2", "CH2", name="Bob Snake"))
    result = db.writer.call(store.apply_changes, [
        change("lead", camel), {**change("lead", camel), "id": "lead2", "data": snake}], None)
    assert result.lead_ids == {"lead1", "lead2"} and result.skipped == 0
    bob = db.reader.call(store.get_lead, "lead2")
    assert bob is not None and (bob.name, bob.conversation_sid) == ("Bob Snake", "CH2")
    assert LeadView.model_validate(snake).customer.name == "Bob Snake"


def test_malformed_and_unknown_changes_are_skipped_one_by_one(
        caplog: pytest.LogCaptureFixture) -> None:
    good = change("message", msg_data("IM1", "CH1", "hi"))
    bad_phone = change("lead", lead_data("lead1", "CH1", phone="call me"))
    bad_status = change("message", msg_data("IM2", "CH1", "x", status="teleported"))
    newer_kind = {"entity": "photo", "id": "P1", "version": 1, "locationId": "L1", "data": {}}
    with caplog.at_level(logging.WARNING, logger="app.sync.feed"):
        parser = feed.ChangeParser()
        parsed = [parser.parse(c) for c in (bad_phone, good, "junk", newer_kind, bad_status)]
    assert [p.change.id for p in parsed if p is not None] == ["IM1"] and parser.skipped == 4
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "lead/lead1" in warned and "customer.phone" in warned
    assert "message/IM2" in warned and "photo" not in warned  # a newer kind is not an error


def test_stream_events_carry_changes_and_cursors() -> None:
    one = change("message", msg_data("IM1", "CH1", "hi"))
    assert feed.parse_stream_event(ServerSentEvent("change", json.dumps(one), "c1")) == (
        [one], "c1")
    page = {"changes": [one, one], "cursor": "c9"}
    assert feed.parse_stream_event(ServerSentEvent("change", json.dumps(page), "c2")) == (
        [one, one], "c9")
    assert feed.parse_stream_event(ServerSentEvent("change", json.dumps([one]), "c3")) == (
        [one], "c3")
    assert feed.parse_stream_event(ServerSentEvent("heartbeat", "", "c4")) == ([], "c4")
    assert feed.parse_stream_event(ServerSentEvent("change", "{not json", "c5")) == ([], "c5")


def test_answers_of_the_relay_are_typed_or_none() -> None:
    lead = lead_data("lead1", "CH1", version=4)
    answered = feed.lead_answer(lead)
    assert answered is not None and answered.change.version == 4 and answered.data == lead
    assert feed.lead_answer({}) is None and feed.lead_answer({"leadId": "x"}) is None
    sent = feed.accepted_message(msg_data("IM1", "CH1", "hi", kind="staff", status="queued"))
    assert sent is not None and sent.message_sid == "IM1"
    assert feed.accepted_message({"ok": True}) is None
