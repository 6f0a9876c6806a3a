"""Conversation identity: the key and the three rules of the original service."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core.identity import (
    ConversationKey,
    LeadRef,
    UnknownLocationError,
    conversation_key,
    find_open_conversation,
    is_open,
    lead_conversation_key,
    same_conversation,
)
from app.core.lead_schema import initial_lead_state, parse_create_request
from app.core.phones import PhoneError
from app.core.statuses import ConversationState
from app.core.wire import ConversationView, LocationView

RETAILER = "0d7f8a40-1111-4e5b-8b0b-0c3a1d2e3f41"
OTHER_RETAILER = "0d7f8a40-9999-4e5b-8b0b-0c3a1d2e3f41"
LOC_A = "7a1b2c3d-0000-4e5b-8b0b-00000000000a"
LOC_B = "7a1b2c3d-0000-4e5b-8b0b-00000000000b"
LOC_C = "7a1b2c3d-0000-4e5b-8b0b-00000000000c"
NUMBER_A = "+13125550100"
NUMBER_B = "+17735550100"
CUSTOMER = "+13125550134"


def location(loc_id: str, number: str) -> LocationView:
    return LocationView(
        location_id=loc_id, retailer_id=RETAILER, name=loc_id, web2text_number=number
    )


LOCATIONS = {
    LOC_A: location(LOC_A, NUMBER_A),
    LOC_B: location(LOC_B, NUMBER_B),
    LOC_C: location(LOC_C, NUMBER_A),  # shares A's Web2Text number
}


def lead(lead_no: int, location_id: str, phone: str = "(312) 555-0134") -> LeadRef:
    """A lead as the lead service sees it: parsed from a real create body."""
    body = {
        "UniversalRetailerId": RETAILER,
        "Lead": {
            "LocationId": location_id,
            "PageUrl": "https://dealer.example/",
            "Name": "Pat",
            "PhoneNumber": phone,
            "CustomerMessage": "hi",
        },
    }
    create = parse_create_request(f"00000000-0000-4000-8000-{lead_no:012d}", body)
    return LeadRef.of(create)


def test_key_normalizes_numbers() -> None:
    key = ConversationKey.of("(312) 555-0134", "312.555.0100")
    assert key == ConversationKey(CUSTOMER, NUMBER_A)
    assert key.as_id() == "+13125550134|+13125550100"
    assert conversation_key(CUSTOMER, LOCATIONS[LOC_A]) == key
    assert conversation_key(CUSTOMER, NUMBER_A) == key
    with pytest.raises(PhoneError):
        ConversationKey.of("hello", NUMBER_A)


def test_rule_1_same_location_twice_one_conversation() -> None:
    first, second = lead(1, LOC_A), lead(2, LOC_A, phone="+1 312 555 0134")
    assert same_conversation(first, second, LOCATIONS)


def test_rule_2_different_locations_different_numbers_two_conversations() -> None:
    assert not same_conversation(lead(1, LOC_A), lead(2, LOC_B), LOCATIONS)


def test_rule_3_locations_sharing_a_number_one_conversation() -> None:
    assert same_conversation(lead(1, LOC_A), lead(2, LOC_C), LOCATIONS)


def test_different_customers_never_share() -> None:
    assert not same_conversation(lead(1, LOC_A), lead(2, LOC_A, "+13125550177"), LOCATIONS)


def test_retailer_is_not_part_of_the_key() -> None:
    a = LeadRef(CUSTOMER, RETAILER, LOC_A)
    b = LeadRef(CUSTOMER, OTHER_RETAILER, LOC_C)
    assert same_conversation(a, b, LOCATIONS)


def test_leads_from_stored_state_and_plain_numbers() -> None:
    create = parse_create_request(
        "00000000-0000-4000-8000-000000000001",
        {
            "UniversalRetailerId": RETAILER,
            "Lead": {
                "LocationId": LOC_C,
                "PageUrl": "https://dealer.example/",
                "Name": "Pat",
                "PhoneNumber": CUSTOMER,
                "CustomerMessage": "hi",
            },
        },
    )
    state = initial_lead_state(create, datetime(2026, 1, 1, tzinfo=UTC))
    numbers = {loc_id: loc.web2text_number for loc_id, loc in LOCATIONS.items()}
    assert lead_conversation_key(state, numbers) == ConversationKey(CUSTOMER, NUMBER_A)
    assert same_conversation(state, create, LOCATIONS)
    assert same_conversation(state, lead(5, LOC_A), numbers)


def test_unknown_location() -> None:
    with pytest.raises(UnknownLocationError):
        lead_conversation_key(LeadRef(CUSTOMER, RETAILER, "nowhere"), LOCATIONS)


def conversation(sid: str, number: str, state: ConversationState) -> ConversationView:
    return ConversationView(
        conversation_sid=sid,
        location_id=LOC_A,
        customer_phone=CUSTOMER,
        web2text_number=number,
        state=state,
    )


def test_second_lead_joins_the_open_conversation_not_a_closed_one() -> None:
    closed = conversation("CH1", NUMBER_A, ConversationState.CLOSED)
    inactive = conversation("CH2", NUMBER_A, ConversationState.INACTIVE)
    other = conversation("CH3", NUMBER_B, ConversationState.ACTIVE)
    key = lead_conversation_key(lead(2, LOC_C), LOCATIONS)
    assert not is_open(closed) and is_open(inactive)
    assert find_open_conversation(key, [closed, other, inactive]) is inactive
    assert find_open_conversation(key, [closed, other]) is None  # start a new one
    assert (
        find_open_conversation(lead_conversation_key(lead(3, LOC_B), LOCATIONS), [other]) is other
    )


@given(
    st.sampled_from([LOC_A, LOC_B, LOC_C]),
    st.sampled_from([LOC_A, LOC_B, LOC_C]),
    st.sampled_from(["+13125550134", "+13125550177"]),
    st.sampled_from(["+13125550134", "+13125550177"]),
)
def test_same_conversation_iff_same_pair(loc1: str, loc2: str, p1: str, p2: str) -> None:
    a, b = LeadRef(p1, RETAILER, loc1), LeadRef(p2, RETAILER, loc2)
    expected = p1 == p2 and LOCATIONS[loc1].web2text_number == LOCATIONS[loc2].web2text_number
    assert same_conversation(a, b, LOCATIONS) is expected
    assert same_conversation(b, a, LOCATIONS) is expected
