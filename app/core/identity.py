"""Conversation identity.

A conversation is identified by the pair (customer phone, location's Web2Text
number), among the conversations that are not closed (DESIGN.md). Hence the
three rules of the original service, each a consequence of the key:

1. same phone, same retailer, same location, submitted twice: two leads, one
   conversation (the second lead joins the first one's conversation);
2. same phone, same retailer, different locations with different Web2Text
   numbers: two leads, two conversations;
3. two locations of one retailer share one Web2Text number and the same phone
   submits to each: two leads, one conversation.

The retailer is not part of the key: only the two phones that actually text
each other are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from app.core.lead_schema import LeadCreate
from app.core.phones import parse_phone
from app.core.statuses import ConversationState
from app.core.wire import ConversationView, LeadState


@dataclass(frozen=True, slots=True, order=True)
class ConversationKey:
    """(customer E.164, Web2Text number E.164); build it with `ConversationKey.of`."""

    customer: str
    web2text_number: str

    @classmethod
    def of(cls, customer: str, web2text_number: str) -> ConversationKey:
        """Both numbers normalized to E.164 (raises `PhoneError` for unusable ones)."""
        return cls(parse_phone(customer), parse_phone(web2text_number))

    def as_id(self) -> str:
        """A stable string form, e.g. for a DynamoDB key: `+13125550134|+13125550100`."""
        return f"{self.customer}|{self.web2text_number}"


class HasWeb2TextNumber(Protocol):
    @property
    def web2text_number(self) -> str: ...


@dataclass(frozen=True, slots=True)
class LeadRef:
    """The parts of a lead that decide its conversation."""

    customer: str
    retailer_id: str
    location_id: str

    @classmethod
    def of(cls, lead: LeadState | LeadCreate | LeadRef) -> LeadRef:
        if isinstance(lead, LeadRef):
            return lead
        if isinstance(lead, LeadState):
            return cls(lead.Lead.PhoneNumber, lead.UniversalRetailerId, lead.Lead.LocationId)
        return cls(lead.phone, lead.retailer_id, lead.location_id)


#: location id -> the location (anything with `web2text_number`) or its number.
Locations = Mapping[str, HasWeb2TextNumber | str]


class UnknownLocationError(KeyError):
    """A lead names a location that is not in the given directory."""


def _web2text_number(location: HasWeb2TextNumber | str) -> str:
    return location if isinstance(location, str) else location.web2text_number


def conversation_key(customer: str, location: HasWeb2TextNumber | str) -> ConversationKey:
    """The key of the conversation between `customer` and `location`'s Web2Text number."""
    return ConversationKey.of(customer, _web2text_number(location))


def lead_conversation_key(
    lead: LeadState | LeadCreate | LeadRef, locations: Locations
) -> ConversationKey:
    """The key of the conversation a lead belongs to."""
    ref = LeadRef.of(lead)
    try:
        location = locations[ref.location_id]
    except KeyError:
        raise UnknownLocationError(ref.location_id) from None
    return conversation_key(ref.customer, location)


def same_conversation(
    lead_a: LeadState | LeadCreate | LeadRef,
    lead_b: LeadState | LeadCreate | LeadRef,
    locations: Locations,
) -> bool:
    """Whether two (open) leads share one conversation: rules 1-3."""
    return lead_conversation_key(lead_a, locations) == lead_conversation_key(lead_b, locations)


def is_open(conversation: ConversationView) -> bool:
    """Active or inactive: it still takes messages and new leads."""
    return conversation.state is not ConversationState.CLOSED


def key_of(conversation: ConversationView) -> ConversationKey:
    return ConversationKey.of(conversation.customer_phone, conversation.web2text_number)


def find_open_conversation(
    key: ConversationKey, conversations: Iterable[ConversationView]
) -> ConversationView | None:
    """The non-closed conversation with `key`, which a new lead joins; None: start one.

    A closed conversation never matches: a lead after it starts a new one.
    """
    for conversation in conversations:
        if is_open(conversation) and key_of(conversation) == key:
            return conversation
    return None


__all__ = [
    "ConversationKey",
    "HasWeb2TextNumber",
    "LeadRef",
    "Locations",
    "UnknownLocationError",
    "conversation_key",
    "find_open_conversation",
    "is_open",
    "key_of",
    "lead_conversation_key",
    "same_conversation",
]
