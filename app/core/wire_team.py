"""Wire types of staff working together (`app.core.wire`'s conventions: camelCase JSON).

- Presence: `POST /v1/conversations/{sid}/presence` takes a `PresenceRequest`;
  `/v1/stream` carries `event: presence` whose data is a `PresenceEvent` (not
  stored in the change log, so it has no cursor).
- Shared templates: `GET/PUT /v1/templates?locationId=` answer a `TemplatesView`
  (version-checked with `If-Match`); `PUT` takes a `TemplatesPut`. The change
  feed carries them as the entity `templates` (id and location: the location).
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

from pydantic import Field, StringConstraints

from app.core.wire import UtcDatetime, Version, WireModel

PresenceState: TypeAlias = Literal["viewing", "typing", "left"]

#: the most templates one location shares, and their sizes
MAX_SHARED_TEMPLATES: Final = 100
MAX_TEMPLATE_NAME: Final = 80
MAX_TEMPLATE_BODY: Final = 1600

TemplateName: TypeAlias = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEMPLATE_NAME)
]
TemplateBody: TypeAlias = Annotated[
    str, StringConstraints(min_length=1, max_length=MAX_TEMPLATE_BODY)
]


class PresenceRequest(WireModel):
    state: PresenceState


class PresenceEvent(WireModel):
    """Someone's presence in a conversation changed; `expires_at`: when it lapses by
    itself unless renewed (for `left`: when it was seen to end)."""

    conversation_sid: str
    staff_id: str
    staff_name: str = ""
    state: PresenceState
    expires_at: UtcDatetime


class TemplateView(WireModel):
    template_id: str
    name: TemplateName
    body: TemplateBody


class TemplatesView(WireModel):
    """The templates a location shares (version 0: none saved yet)."""

    location_id: str
    templates: list[TemplateView] = Field(default_factory=list)
    version: Version = 0
    updated_at: UtcDatetime | None = None
    updated_by: str | None = None  # the staff member's name


class TemplateIn(WireModel):
    """A template as a `PUT` sends it; a new one has no id yet (the relay gives one)."""

    template_id: str | None = None
    name: TemplateName
    body: TemplateBody


class TemplatesPut(WireModel):
    templates: list[TemplateIn] = Field(max_length=MAX_SHARED_TEMPLATES)


__all__ = [
    "MAX_SHARED_TEMPLATES",
    "MAX_TEMPLATE_BODY",
    "MAX_TEMPLATE_NAME",
    "PresenceEvent",
    "PresenceRequest",
    "PresenceState",
    "TemplateIn",
    "TemplateView",
    "TemplatesPut",
    "TemplatesView",
]
