"""The change feed as the engine reads it: typed changes built from `app.core.wire`.

A change's `data` is validated as its entity's wire view (`LeadView`,
`ConversationView`, `MessageView`, `LocationView`) in the same pass as its
envelope, so the store reads attributes, never dict keys. Each change is
validated on its own: one malformed change is skipped (and logged) without
dropping the rest of its page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal, TypeAlias, get_args

from httpx_sse import ServerSentEvent
from pydantic import Field, TypeAdapter, ValidationError

from app.core.wire import (
    ConversationView,
    EntityKind,
    LeadView,
    LocationView,
    MessageView,
    ScheduledView,
    SendMessageResponse,
    Version,
    WireModel,
)
from app.core.wire_team import PresenceEvent, TemplatesView
from app.sync.api import PresenceChanged

log = logging.getLogger(__name__)

#: the entity kinds of the wire contract; another kind is a newer relay's, not ours
KNOWN_KINDS: Final = frozenset(get_args(EntityKind))
#: SSE event types that carry no change
HEARTBEATS: Final = frozenset({"heartbeat", "ping", "keepalive"})


class _Envelope(WireModel):
    """The fields `app.core.wire.Change` puts around every entity's data."""

    id: str
    version: Version
    location_id: str


class LocationChange(_Envelope):
    entity: Literal["location"]
    data: LocationView


class LeadChange(_Envelope):
    entity: Literal["lead"]
    data: LeadView


class ConversationChange(_Envelope):
    entity: Literal["conversation"]
    data: ConversationView


class MessageChange(_Envelope):
    entity: Literal["message"]
    data: MessageView


class TemplatesChange(_Envelope):
    """A location's shared templates (`app.core.wire_team.TemplatesView`)."""

    entity: Literal["templates"]
    data: TemplatesView


class ScheduledChange(_Envelope):
    entity: Literal["scheduled"]
    data: ScheduledView


FeedChange: TypeAlias = (
    LocationChange | LeadChange | ConversationChange | MessageChange | TemplatesChange
    | ScheduledChange
)
_FEED_CHANGE: Final[TypeAdapter[FeedChange]] = TypeAdapter(
    Annotated[FeedChange, Field(discriminator="entity")]
)
#: the adapter's compiled validator, called without its Python wrapper (hot path)
_validate_change: Final = _FEED_CHANGE.validator.validate_python


@dataclass(frozen=True, slots=True)
class ReceivedChange:
    """A change as received: typed, and the entity JSON it came as.

    The store keeps the JSON of leads, conversations and locations as the relay
    sent it (fields a newer relay adds survive for a later desktop).
    """

    change: FeedChange
    data: Mapping[str, Any]


def parse_change(raw: object) -> ReceivedChange:
    """One change of the feed; `ValueError` (pydantic's `ValidationError`) if malformed."""
    change: FeedChange = _validate_change(raw)
    assert isinstance(raw, Mapping)  # a change that validated is a JSON object
    return ReceivedChange(change, raw["data"])


class ChangeParser:
    """Parses changes one at a time, counting (and logging) the ones it skips."""

    def __init__(self) -> None:
        self.skipped = 0

    def parse(self, raw: object) -> ReceivedChange | None:
        entity = raw.get("entity") if isinstance(raw, Mapping) else None
        if isinstance(entity, str) and entity not in KNOWN_KINDS:
            self.skipped += 1  # a newer relay's entity kind: not ours to mirror
            return None
        try:
            return parse_change(raw)
        except ValidationError as exc:
            self.skipped += 1
            ident = raw.get("id") if isinstance(raw, Mapping) else "?"
            log.warning("skipping malformed change %s/%s: %s", entity or "?", ident,
                        _first_error(exc))
            return None


def lead_answer(answer: object) -> ReceivedChange | None:
    """The lead the relay answered with (a PATCH, a 412's `current`) as a change of the
    feed; None when the answer holds no lead (logged if it holds a malformed one)."""
    if not isinstance(answer, Mapping) or not answer:
        return None
    try:
        view = LeadView.model_validate(answer)
    except ValidationError as exc:
        log.warning("the relay answered with a malformed lead: %s", _first_error(exc))
        return None
    change = LeadChange(entity="lead", id=view.lead_id, version=view.version,
                        location_id=view.location_id, data=view)
    return ReceivedChange(change, answer)


def accepted_message(answer: object) -> MessageView | None:
    """The message a send's 202 answered with; None when it names none (the change
    feed brings it anyway)."""
    if not isinstance(answer, Mapping) or not answer:
        return None
    try:
        return SendMessageResponse.model_validate(answer)
    except ValidationError as exc:
        log.warning("the relay accepted a message with a malformed answer: %s",
                    _first_error(exc))
        return None


def scheduled_answer(answer: object) -> ScheduledView | None:
    """The text for later a send with `sendAt` was answered with (None if malformed:
    the change feed brings it anyway)."""
    if not isinstance(answer, Mapping) or not answer:
        return None
    try:
        return ScheduledView.model_validate(answer)
    except ValidationError as exc:
        log.warning("the relay scheduled a text with a malformed answer: %s",
                    _first_error(exc))
        return None


class FeedPage(WireModel):
    """`GET /v1/changes`: `app.core.wire.ChangesPage` with its changes still unparsed
    (each is validated on its own, in the store's writer job)."""

    changes: list[Any] = Field(default_factory=list)
    cursor: str | None = None
    has_more: bool = False


def parse_stream_event(sse: ServerSentEvent) -> tuple[list[Any], str | None]:
    """The changes (unparsed) and cursor carried by one stream event.

    Accepts a single change, a `{"changes": [...], "cursor"}` page, or a list of
    changes; the event id is the resume cursor. Heartbeats carry only a cursor.
    """
    cursor: str | None = sse.id or None
    if sse.event in HEARTBEATS or not sse.data.strip():
        return [], cursor
    try:
        data = json.loads(sse.data)
    except ValueError:
        return [], cursor
    if isinstance(data, dict) and "changes" in data:
        items = data.get("changes") or []
        return (items if isinstance(items, list) else []), data.get("cursor") or cursor
    if isinstance(data, dict) and "entity" in data:
        return [data], cursor
    if isinstance(data, list):
        return data, cursor
    return [], cursor


PRESENCE_EVENT: Final = "presence"


def parse_presence(sse: ServerSentEvent) -> PresenceChanged | None:
    """A stream's `event: presence` (`app.core.wire_team.PresenceEvent`); None when
    malformed (logged): presence is a hint, never worth a reconnect."""
    try:
        event = PresenceEvent.model_validate_json(sse.data)
    except ValidationError as exc:
        log.warning("skipping malformed presence event: %s", _first_error(exc))
        return None
    return PresenceChanged(
        event.conversation_sid, event.staff_id, event.staff_name, event.state, event.expires_at
    )


def _first_error(exc: ValidationError) -> str:
    err = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(part) for part in err["loc"])
    return f"{where}: {err['msg']}" if where else str(err["msg"])
