"""Wire types: JSON names, timestamps, and JSON round trips of every type."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from app.core.message_status import MessageStatus
from app.core.statuses import (
    AuthorKind,
    ContactMethod,
    ConversationState,
    LeadStatus,
    PipelineStatus,
    SyncStatus,
)
from app.core.wire import (
    ActivityView,
    Change,
    ChangesPage,
    ConversationView,
    CustomerInfo,
    ErrorBody,
    IntegrationState,
    LeadDetails,
    LeadPatch,
    LeadProductInfo,
    LeadState,
    LeadTraffic,
    LeadView,
    LocationView,
    MessageView,
    NonexistentLead,
    NoteView,
    ProductInfo,
    SendMessageRequest,
    SendMessageResponse,
    StaffView,
    TrafficInfo,
    dump,
    format_utc,
    parse_lead_state,
)

M = TypeVar("M", bound=BaseModel)

# --------------------------------------------------------------------------- strategies


def builds(cls: type[M], **fields: st.SearchStrategy[Any]) -> st.SearchStrategy[M]:
    """`st.builds` for wire models.

    Hypothesis reads a pydantic model's signature, which names the camelCase
    aliases; it would then invent values for them (ignoring our patterns), so
    the fields are drawn explicitly and passed by their Python names.
    """
    return st.fixed_dictionaries(fields).map(lambda kw: cls(**kw))


aware = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2200, 1, 1),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)
e164 = st.from_regex(r"\+1[2-9][0-9]{9}", fullmatch=True)
text = st.text(max_size=30)
opt_text = st.none() | text
ident = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20)
versions = st.integers(min_value=0, max_value=2**53)

locations = builds(
    LocationView,
    location_id=ident,
    retailer_id=ident,
    name=text,
    web2text_number=e164,
    store_number=st.none() | e164,
    timezone=st.none() | st.sampled_from(["America/Chicago", "America/New_York"]),
    version=versions,
)
staff = builds(
    StaffView,
    staff_id=ident,
    name=text,
    retailer_id=ident,
    locations=st.lists(locations, max_size=3),
)
products = builds(ProductInfo, brand=opt_text, product=opt_text, variant=opt_text)
traffics = builds(
    TrafficInfo,
    source=opt_text,
    medium=opt_text,
    campaign=opt_text,
    content=opt_text,
    term=opt_text,
    type=opt_text,
)
customers = builds(
    CustomerInfo,
    name=text,
    phone=e164,
    preferred_contact=st.sampled_from(ContactMethod),
    message=text,
    page_url=st.just("https://dealer.example/p?x=1"),
    ip_address=st.none() | st.just("203.0.113.9"),
    product=st.none() | products,
    traffic=st.none() | traffics,
)
notes = builds(NoteView, note_id=ident, author_id=ident, author_name=text, body=text, at=aware)
activities = builds(ActivityView, at=aware, kind=ident, text=text)
leads = builds(
    LeadView,
    lead_id=ident,
    retailer_id=ident,
    location_id=ident,
    conversation_sid=st.none() | ident,
    status=st.sampled_from(LeadStatus),
    pipeline_status=st.sampled_from(PipelineStatus),
    assignee_id=st.none() | ident,
    assignee_name=opt_text,
    notes=st.lists(notes, max_size=2),
    activity=st.lists(activities, max_size=2),
    customer=customers,
    date_submitted=aware,
    last_inbound_at=st.none() | aware,
    last_activity_at=aware,
    first_staff_reply_at=st.none() | aware,
    possible_opt_out=st.booleans(),
    opted_out=st.booleans(),
    close_reason=opt_text,
    version=versions,
)
conversations = builds(
    ConversationView,
    conversation_sid=ident,
    location_id=ident,
    customer_phone=e164,
    web2text_number=e164,
    customer_proxy=st.none() | e164,
    store_proxy=st.none() | e164,
    state=st.sampled_from(ConversationState),
    lead_ids=st.lists(ident, max_size=3),
    unread_count=st.integers(min_value=0, max_value=1000),
    last_message_at=st.none() | aware,
    last_message_preview=opt_text,
    opted_out=st.booleans(),
    version=versions,
)
_message_fields: dict[str, st.SearchStrategy[Any]] = {
    "message_sid": ident,
    "conversation_sid": ident,
    "location_id": ident,
    "index": st.none() | st.integers(min_value=0, max_value=10**6),
    "author": ident,
    "author_kind": st.sampled_from(AuthorKind),
    "staff_id": st.none() | ident,
    "staff_name": opt_text,
    "body": text,
    "status": st.sampled_from(MessageStatus),
    "error_code": st.none() | st.integers(min_value=0, max_value=99999),
    "error_reason": opt_text,
    "idempotency_key": st.none() | ident,
    "created_at": aware,
    "version": versions,
}
messages = builds(MessageView, **_message_fields)
send_responses = builds(SendMessageResponse, **_message_fields)
views = st.one_of(locations, leads, conversations, messages)
changes = views.map(Change.of)
pages = builds(
    ChangesPage, changes=st.lists(changes, max_size=3), cursor=ident, has_more=st.booleans()
)
send_requests = builds(
    SendMessageRequest, body=st.text(min_size=1, max_size=200).filter(lambda s: s.strip() != "")
)
patches = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(PipelineStatus),
        "assignee_id": st.none() | ident,
        "note": st.text(alphabet="abc xyz", min_size=1, max_size=20).map(str.strip).filter(bool),
    },
).map(lambda kw: LeadPatch(**kw))
errors = builds(ErrorBody, code=st.integers(400, 599), message=text, reason=ident)

lead_details = builds(
    LeadDetails,
    LocationId=ident,
    PageUrl=st.just("https://dealer.example/"),
    IPAddress=st.none() | st.just("2001:db8::1"),
    Name=text,
    PhoneNumber=e164,
    PreferredMethodOfContact=st.sampled_from(ContactMethod),
    CustomerMessage=text,
    AssociatedProductInfo=st.none()
    | builds(LeadProductInfo, Brand=opt_text, Product=opt_text, Variant=opt_text),
    Traffic=st.none()
    | builds(
        LeadTraffic,
        Source=opt_text,
        Medium=opt_text,
        Campaign=opt_text,
        Content=opt_text,
        Term=opt_text,
        Type=opt_text,
    ),
)
integrations = builds(
    IntegrationState,
    SyncStatus=st.sampled_from(SyncStatus),
    Data=st.fixed_dictionaries(
        {}, optional={"ConversationSID": ident, "ConversationStatus": ident}
    ),
    LastSynced=st.none() | aware,
    ErrorInfo=st.none() | st.fixed_dictionaries({"Message": text}),
)
lead_states = builds(
    LeadState,
    LeadId=ident,
    Status=st.sampled_from(LeadStatus),
    UniversalRetailerId=ident,
    Lead=lead_details,
    DateSubmitted=aware,
    CloseReason=opt_text,
    Integrations=st.dictionaries(st.sampled_from(["Twilio", "Nexus"]), integrations, max_size=2),
)

ALL = st.one_of(
    locations,
    staff,
    customers,
    notes,
    activities,
    leads,
    conversations,
    messages,
    send_responses,
    changes,
    pages,
    send_requests,
    patches,
    errors,
    lead_states,
)


# --------------------------------------------------------------------------- round trips


@given(ALL)
def test_json_round_trip(model: BaseModel) -> None:
    cls = type(model)
    encoded = model.to_json()  # type: ignore[attr-defined]
    assert cls.from_json(encoded) == model  # type: ignore[attr-defined]
    # and through a plain dict, as the relay stores and returns it
    assert cls.model_validate(json.loads(encoded)) == model
    assert dump(model) == json.loads(encoded)
    if isinstance(model, LeadPatch):
        assert LeadPatch.from_json(encoded).assignee_given == model.assignee_given


@given(st.one_of(locations, staff, leads, conversations, messages, pages, errors))
def test_camel_case_json_only(model: BaseModel) -> None:
    def keys(obj: Any) -> set[str]:
        if isinstance(obj, dict):
            # Change.data nests another view: camelCase too
            return set(obj).union(*(keys(v) for v in obj.values()))
        if isinstance(obj, list):
            return set().union(*(keys(v) for v in obj)) if obj else set()
        return set()

    for key in keys(dump(model)):
        assert "_" not in key, key


@given(lead_states)
def test_lead_state_pascal_case(state: LeadState) -> None:
    data = dump(state)
    assert set(data) <= {
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
    assert data["SchemaVersion"] == "2.0.0"
    assert data["LeadType"] == "WEB2TEXT"
    assert data["DateSubmitted"].endswith("Z")
    assert ("CloseReason" in data) == (state.CloseReason is not None)
    for integration in data["Integrations"].values():
        assert set(integration) <= {"SyncStatus", "Data", "LastSynced", "ErrorInfo"}
        assert "LastSynced" in integration


# --------------------------------------------------------------------------- specifics


def test_json_names() -> None:
    page = ChangesPage(changes=[], cursor="c1", has_more=True)
    assert dump(page) == {"changes": [], "cursor": "c1", "hasMore": True}
    loc = LocationView(
        location_id="L1", retailer_id="R1", name="Main", web2text_number="+13125550100"
    )
    assert dump(loc) == {
        "locationId": "L1",
        "retailerId": "R1",
        "name": "Main",
        "web2textNumber": "+13125550100",
        "storeNumber": None,
        "timezone": None,
        "hours": None,
        "afterHoursText": None,
        "version": 0,
        "replyTargetMinutes": 5,
    }
    # both spellings are accepted on input
    assert LocationView.model_validate(dump(loc)) == loc
    assert LocationView.model_validate(loc.model_dump()) == loc


def test_timestamps_are_utc_with_z() -> None:
    chicago_noon = datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=-6)))
    note = NoteView(note_id="n", author_id="a", author_name="A", body="b", at=chicago_noon)
    assert note.at.tzinfo is UTC
    assert dump(note)["at"] == "2026-03-01T18:00:00Z"
    assert NoteView.model_validate(dump(note)).at == chicago_noon
    assert format_utc(datetime(2026, 1, 2, 3, 4, 5, 123000, tzinfo=UTC)) == (
        "2026-01-02T03:04:05.123000Z"
    )


def test_naive_timestamps_are_rejected_in_wire_types() -> None:
    with pytest.raises(ValidationError, match="timezone-aware"):
        ActivityView(at=datetime(2026, 1, 1), kind="note", text="x")


def test_lead_state_accepts_naive_and_js_timestamps() -> None:
    # Other systems write this table; the original wrote JS toISOString().
    item = _legacy_item()
    item["DateSubmitted"] = "2024-05-01T10:20:30.456Z"
    item["Integrations"]["Twilio"]["LastSynced"] = "2024-05-01T10:20:31"
    state = parse_lead_state(item)
    assert state.DateSubmitted == datetime(2024, 5, 1, 10, 20, 30, 456000, tzinfo=UTC)
    assert state.Integrations["Twilio"].LastSynced == datetime(2024, 5, 1, 10, 20, 31, tzinfo=UTC)


def test_phone_shape_is_checked() -> None:
    with pytest.raises(ValidationError):
        LocationView(location_id="L", retailer_id="R", name="n", web2text_number="312-555-0100")


def _legacy_item() -> dict[str, Any]:
    return {
        "LeadId": "3f1c2b1e-9a4b-4c39-9a55-5b0d3c1e2f00",
        "LeadType": "WEB2TEXT",
        "Status": "ACTIVE",
        "SchemaVersion": "2.0.0",
        "UniversalRetailerId": "0d7f8a40-1111-4e5b-8b0b-0c3a1d2e3f41",
        "Lead": {
            "LocationId": "7a1b2c3d-2222-4e5b-8b0b-0c3a1d2e3f42",
            "PageUrl": "https://dealer.example/floor",
            "Name": "Pat",
            "PhoneNumber": "+13125550134",
            "PreferredMethodOfContact": "text",
            "CustomerMessage": "Is this in stock?",
            "Nickname": "kept",  # written by some other system
        },
        "DateSubmitted": "2024-05-01T10:20:30Z",
        "Integrations": {
            "Twilio": {
                "SyncStatus": "SYNCED",
                "Data": {"ConversationSID": "CH123", "ConversationStatus": "active"},
                "LastSynced": "2024-05-01T10:20:31Z",
            },
            "Nexus": {"SyncStatus": "ERROR", "Data": {}, "LastSynced": None, "ErrorInfo": "x"},
        },
        "CrmScore": 7,  # an attribute another system owns
    }


def test_lead_state_keeps_unknown_attributes() -> None:
    item = _legacy_item()
    state = parse_lead_state(item)
    assert state.conversation_sid == "CH123"
    assert state.twilio is not None and state.twilio.SyncStatus is SyncStatus.SYNCED
    assert state.Integrations["Nexus"].ErrorInfo == "x"
    out = dump(state)
    assert out["CrmScore"] == 7
    assert out["Lead"]["Nickname"] == "kept"
    assert out == item  # nothing added, nothing lost


def test_lead_state_without_conversation() -> None:
    item = _legacy_item()
    del item["Integrations"]
    state = parse_lead_state(item)
    assert state.twilio is None and state.conversation_sid is None
    item = _legacy_item()
    item["Integrations"]["Twilio"]["Data"] = {"ConversationSID": ""}
    assert parse_lead_state(item).conversation_sid is None


def test_nonexistent_lead() -> None:
    assert dump(NonexistentLead()) == {"Status": "NONEXISTANT"}


def test_lead_patch_explicit_null_unassigns() -> None:
    absent = LeadPatch.model_validate({"status": "won"})
    assert not absent.assignee_given
    assert absent.status is PipelineStatus.WON
    assert dump(absent) == {"status": "won"}

    unassign = LeadPatch.model_validate({"assigneeId": None})
    assert unassign.assignee_given and unassign.assignee_id is None
    assert not unassign.is_empty
    assert dump(unassign) == {"assigneeId": None}
    assert LeadPatch.from_json(unassign.to_json()).assignee_given

    assign = LeadPatch(assignee_id="S1")
    assert assign.assignee_given and dump(assign) == {"assigneeId": "S1"}

    assert LeadPatch().is_empty
    assert LeadPatch.model_validate({"note": "  called back  "}).note == "called back"


def test_lead_patch_rejects_bad_values() -> None:
    with pytest.raises(ValidationError):
        LeadPatch.model_validate({"status": "closed"})
    with pytest.raises(ValidationError):
        LeadPatch.model_validate({"note": "   "})


def test_send_message_request_rejects_blank_and_too_long() -> None:
    assert SendMessageRequest(body=" hi").body == " hi"
    for bad in ["", "   \n", "x" * 1601]:
        with pytest.raises(ValidationError):
            SendMessageRequest(body=bad)


def test_error_body_keeps_extras() -> None:
    body = ErrorBody.model_validate(
        {"code": 412, "message": "stale", "reason": "version_conflict", "current": {"version": 3}}
    )
    assert dump(body) == {
        "code": 412,
        "message": "stale",
        "reason": "version_conflict",
        "current": {"version": 3},
    }


def test_change_of_and_view() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    msg = MessageView(
        message_sid="IM1",
        conversation_sid="CH1",
        location_id="L1",
        author="+13125550134",
        author_kind=AuthorKind.CUSTOMER,
        body="hello",
        created_at=at,
        version=4,
    )
    change = Change.of(msg)
    assert (change.entity, change.id, change.version, change.location_id) == (
        "message",
        "IM1",
        4,
        "L1",
    )
    assert change.view() == msg
    loc = LocationView(
        location_id="L1", retailer_id="R", name="n", web2text_number="+13125550100", version=2
    )
    assert Change.of(loc).entity == "location" and Change.of(loc).view() == loc
    with pytest.raises(ValidationError):
        Change.model_validate({"entity": "retailer", "id": "x", "version": 1, "locationId": "L"})


@given(views)
def test_change_view_round_trip(view: Any) -> None:
    change = Change.from_json(Change.of(view).to_json())
    assert change.view() == view
    assert change.version == view.version


def test_older_desktop_ignores_new_fields() -> None:
    data = {
        "locationId": "L",
        "retailerId": "R",
        "name": "n",
        "web2textNumber": "+13125550100",
        "futureField": True,
    }
    assert LocationView.model_validate(data).location_id == "L"


def test_dump_plain_pydantic_model() -> None:
    class Plain(BaseModel):
        at: datetime

    assert dump(Plain(at=datetime(2026, 1, 1, tzinfo=UTC))) == {"at": "2026-01-01T00:00:00Z"}


def test_older_items_stay_readable() -> None:
    item = _legacy_item()
    del item["Lead"]["PageUrl"], item["Lead"]["CustomerMessage"]
    item["Lead"]["PreferredMethodOfContact"] = " Phone"
    item["Integrations"]["Nexus"]["SyncStatus"] = "PENDING"
    state = parse_lead_state(item)
    assert state.Lead.PageUrl == "" and state.Lead.CustomerMessage == ""
    assert state.Lead.PreferredMethodOfContact is ContactMethod.PHONE
    assert state.Integrations["Nexus"].SyncStatus == "PENDING"
    assert state.Integrations["Twilio"].SyncStatus is SyncStatus.SYNCED
    assert dump(state)["Integrations"]["Nexus"]["SyncStatus"] == "PENDING"
    with pytest.raises(ValidationError):
        parse_lead_state({**item, "Status": "DELETED"})
