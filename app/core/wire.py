"""Wire types exchanged between the relay and the desktop, and the compatible
lead state item.

Staff-API models have snake_case attributes and camelCase JSON
(`alias_generator=to_camel`); they accept either spelling on input. Dump them
with `dump(model)` / `model.to_json()`, which always use the JSON names.

`LeadState` (and its parts) keep the PascalCase names of the original service
exactly as DESIGN.md gives them: the same item lives in the shared DynamoDB
table that other company systems read and write, so unknown attributes are
kept (`extra="allow"`) rather than dropped on a read-modify-write.

Timestamps must be timezone-aware (new wire types) and are serialized as UTC
ISO-8601 with a trailing `Z`.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal, TypeAlias

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
    field_validator,
)

from app.core.message_status import MessageStatus
from app.core.statuses import (
    AuthorKind,
    ContactMethod,
    ConversationState,
    LeadStatus,
    PipelineStatus,
)
from app.core.statuses import SyncStatus as _SyncStatus  # `SyncStatus` is also a field name
from app.core.wire_base import (
    E164,
    MAX_MESSAGE_BODY,
    MAX_NOTE_LENGTH,
    CompatModel,
    LenientUtcDatetime,
    NonEmptyStr,
    UtcDatetime,
    Version,
    WireModel,
    dump,
    format_utc,
    to_camel,
)
from app.core.wire_staff import (
    CloseLeadRequest,
    NewLeadRequest,
    ScheduledStatus,
    ScheduledView,
    StaffMemberView,
    StaffOptOutRequest,
)

# --------------------------------------------------------------------------- staff API views


class LocationView(WireModel):
    location_id: str
    retailer_id: str
    name: str
    web2text_number: E164
    store_number: E164 | None = None
    timezone: str | None = None  # IANA name, e.g. "America/Chicago"
    hours: str | None = None  # opening hours, app.core.hours format
    after_hours_text: str | None = None
    version: Version = 0
    #: minutes a new lead or a customer's text may wait for a reply before it escalates
    reply_target_minutes: Annotated[int, Field(ge=1, le=1440)] = 5


class StaffView(WireModel):
    """`GET /v1/me`."""

    staff_id: str
    name: str
    retailer_id: str
    locations: list[LocationView] = Field(default_factory=list)
    # the desktop versions this relay accepts (app.core.versions); None: any
    min_app_version: str | None = None
    latest_app_version: str | None = None


class ProductInfo(WireModel):
    brand: str | None = None
    product: str | None = None
    variant: str | None = None


class TrafficInfo(WireModel):
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    content: str | None = None
    term: str | None = None
    type: str | None = None


class CustomerInfo(WireModel):
    """What the shopper typed into the website form."""

    name: str
    phone: E164
    preferred_contact: ContactMethod = ContactMethod.TEXT
    message: str
    page_url: str
    ip_address: str | None = None
    product: ProductInfo | None = None
    traffic: TrafficInfo | None = None


class NoteView(WireModel):
    note_id: str
    author_id: str
    author_name: str
    body: str
    at: UtcDatetime


class ActivityView(WireModel):
    """One line of a lead's history.

    `kind` is a short snake_case word: `created`, `pipeline`, `assignment`, `note`,
    `inbound`, `outbound`, `closed`, ... (free text so that a newer relay's kinds
    still show on an older desktop).
    """

    at: UtcDatetime
    kind: str
    text: str


class IntegrationView(WireModel):
    """One integration of a lead as staff see it (Twilio, Botpress, RLM, DHQ, ActOn,
    FloorForce): its `SyncStatus`, when it last synced, and what went wrong."""

    name: str
    status: str  # the compatible SyncStatus: NOT SYNCED | SYNCED | ERROR | CLOSED
    last_synced: UtcDatetime | None = None
    error: str | None = None  # ErrorInfo.Message
    error_at: UtcDatetime | None = None
    #: the far side's answer, short ("503", "timeout")
    detail: str | None = None
    #: the relay will try again by itself (a transient failure, attempts left)
    retrying: bool = False
    #: steps whose answer was lost and that were not sent again (see the relay docs)
    unconfirmed: Annotated[int, Field(ge=0)] = 0


class LeadView(WireModel):
    lead_id: str
    retailer_id: str
    location_id: str
    conversation_sid: str | None = None
    status: LeadStatus
    pipeline_status: PipelineStatus = PipelineStatus.NEW
    assignee_id: str | None = None
    assignee_name: str | None = None
    notes: list[NoteView] = Field(default_factory=list)
    activity: list[ActivityView] = Field(default_factory=list)
    customer: CustomerInfo
    date_submitted: UtcDatetime
    last_inbound_at: UtcDatetime | None = None
    last_activity_at: UtcDatetime
    first_staff_reply_at: UtcDatetime | None = None
    possible_opt_out: bool = False
    opted_out: bool = False
    close_reason: str | None = None
    integrations: list[IntegrationView] = Field(default_factory=list)
    #: "web" (the website form), "inbound_sms" (texted in), "staff"
    source: str = "web"
    version: Version = 0


class ConversationView(WireModel):
    conversation_sid: str
    location_id: str
    customer_phone: E164
    web2text_number: E164
    customer_proxy: E164 | None = None
    store_proxy: E164 | None = None
    state: ConversationState = ConversationState.ACTIVE
    lead_ids: list[str] = Field(default_factory=list)
    unread_count: Annotated[int, Field(ge=0)] = 0
    last_message_at: UtcDatetime | None = None
    last_message_preview: str | None = None
    opted_out: bool = False
    version: Version = 0


class MediaRef(WireModel):
    """A photo of a message: fetched by staff at `GET /v1/media/{sid}`."""

    sid: str
    content_type: str
    filename: str | None = None
    size: Annotated[int, Field(ge=0)] = 0


class CallRef(WireModel):
    """A phone call's outcome, on the message that shows it in the thread."""

    call_sid: str
    direction: str  # from_customer | from_store (app.core.calls.CallDirection)
    outcome: str  # answered | missed
    duration_s: Annotated[int, Field(ge=0)] = 0


class MessageView(WireModel):
    message_sid: str
    conversation_sid: str
    location_id: str
    index: int | None = None
    author: str  # the Twilio author identity (a phone number or a staff identity)
    author_kind: AuthorKind
    staff_id: str | None = None
    staff_name: str | None = None
    body: str
    status: MessageStatus = MessageStatus.QUEUED
    error_code: int | None = None
    error_reason: str | None = None
    idempotency_key: str | None = None
    media: list[MediaRef] = Field(default_factory=list)
    call: CallRef | None = None
    created_at: UtcDatetime
    version: Version = 0


class SendMessageResponse(MessageView):
    """`202` answer of `POST /v1/conversations/{sid}/messages`: the accepted message."""


#: `templates` (a location's shared templates) is `app.core.wire_team.TemplatesView`
EntityKind: TypeAlias = Literal[
    "location", "lead", "conversation", "message", "templates", "scheduled"
]
EntityView: TypeAlias = LocationView | LeadView | ConversationView | MessageView | ScheduledView

_VIEW_OF: Final[dict[str, type[WireModel]]] = {
    "location": LocationView,
    "lead": LeadView,
    "conversation": ConversationView,
    "message": MessageView,
    "scheduled": ScheduledView,
}


class Change(WireModel):
    """One entry of the change feed: the entity's full state at `version`."""

    entity: EntityKind
    id: str
    version: Version
    location_id: str
    data: dict[str, Any]

    @classmethod
    def of(cls, view: EntityView) -> Change:
        """The change carrying `view`'s current state."""
        if isinstance(view, LocationView):
            return cls(
                entity="location",
                id=view.location_id,
                version=view.version,
                location_id=view.location_id,
                data=view.to_dict(),
            )
        if isinstance(view, LeadView):
            entity: EntityKind = "lead"
            ident = view.lead_id
        elif isinstance(view, ConversationView):
            entity, ident = "conversation", view.conversation_sid
        elif isinstance(view, ScheduledView):
            entity, ident = "scheduled", view.message_sid
        else:
            entity, ident = "message", view.message_sid
        return cls(
            entity=entity,
            id=ident,
            version=view.version,
            location_id=view.location_id,
            data=view.to_dict(),
        )

    def view(self) -> EntityView:
        """`data` parsed as the entity's view (pydantic.ValidationError if malformed);
        not for `templates` (`app.core.wire_team.TemplatesView`)."""
        model = _VIEW_OF[self.entity].model_validate(self.data)
        assert isinstance(
            model, LocationView | LeadView | ConversationView | MessageView | ScheduledView
        )
        return model


class ChangesPage(WireModel):
    """`GET /v1/changes`."""

    changes: list[Change] = Field(default_factory=list)
    cursor: str
    has_more: bool = False


class SendMessageRequest(WireModel):
    """`POST /v1/conversations/{sid}/messages` body."""

    body: Annotated[str, StringConstraints(min_length=1, max_length=MAX_MESSAGE_BODY)]

    @field_validator("body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # Keep the text as typed (leading spaces may be intended), but refuse blanks.
        if not value.strip():
            raise ValueError("message body is empty")
        return value


class LeadPatch(WireModel):
    """`PATCH /v1/leads/{LeadId}` body.

    An absent field leaves the lead unchanged. `assigneeId: null` (explicit)
    unassigns the lead; test it with `assignee_given`. `to_json`/`to_dict` keep
    that distinction (they leave out the fields that were not given).
    `possibleOptOut: false` dismisses the possible-opt-out warning for every desktop.
    """

    status: PipelineStatus | None = None
    assignee_id: str | None = None
    note: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NOTE_LENGTH),
    ] = None
    possible_opt_out: Literal[False] | None = None

    @property
    def assignee_given(self) -> bool:
        """True when the patch sets the assignee (to someone, or to nobody)."""
        return "assignee_id" in self.model_fields_set

    @property
    def is_empty(self) -> bool:
        return (
            self.status is None
            and self.note is None
            and self.possible_opt_out is None
            and not self.assignee_given
        )

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True, exclude_unset=True)


class ErrorBody(WireModel):
    """`{"code", "message", "reason", ...}` of every error answer.

    Extras (e.g. `current` with a 412, `nextAllowedAt` for quiet hours) are kept
    as given.
    """

    model_config = ConfigDict(extra="allow")

    code: int
    message: str
    reason: str


# --------------------------------------------------------------------------- compatible lead state

#: The only value `SchemaVersion` takes in items we write.
SCHEMA_VERSION: Final = "2.0.0"
LEAD_TYPE_WEB2TEXT: Final = "WEB2TEXT"
#: Key of the Twilio integration under `Integrations`.
TWILIO_INTEGRATION: Final = "Twilio"


class LeadProductInfo(CompatModel):
    _omit_when_none = frozenset({"Brand", "Product", "Variant"})

    Brand: str | None = None
    Product: str | None = None
    Variant: str | None = None


class LeadTraffic(CompatModel):
    _omit_when_none = frozenset({"Source", "Medium", "Campaign", "Content", "Term", "Type"})

    Source: str | None = None
    Medium: str | None = None
    Campaign: str | None = None
    Content: str | None = None
    Term: str | None = None
    Type: str | None = None


def _lower_contact(value: object) -> object:
    # Older items and other writers are not consistent about case ("Text").
    return value.strip().lower() if isinstance(value, str) else value


class LeadDetails(CompatModel):
    """`Lead` of a lead state: the form as submitted (phone normalized to E.164).

    Reading is lenient where older items may differ (missing texts read as "",
    contact method in any case): `status` must answer for every stored lead.
    The create request itself is validated strictly by `app.core.lead_schema`.
    """

    _omit_when_none = frozenset(
        {"IPAddress", "AssociatedProductInfo", "Traffic", "BotpressConversationId", "Source"}
    )

    LocationId: str
    PageUrl: str = ""
    IPAddress: str | None = None
    Name: str = ""
    PhoneNumber: str
    PreferredMethodOfContact: Annotated[ContactMethod, BeforeValidator(_lower_contact)] = (
        ContactMethod.TEXT
    )
    CustomerMessage: str = ""
    AssociatedProductInfo: LeadProductInfo | None = None
    Traffic: LeadTraffic | None = None
    BotpressConversationId: str | None = None
    #: how the lead came: absent for the website form, "inbound_sms" (the customer
    #: texted a pool number after the thread closed), "staff" (made on the desktop)
    Source: str | None = None


class IntegrationState(CompatModel):
    """`Integrations.<name>`; for Twilio `Data` holds `ConversationSID` and
    `ConversationStatus`."""

    _omit_when_none = frozenset({"ErrorInfo"})

    # Other integrations are written by other systems: an unknown status is
    # kept as its string rather than making the whole item unreadable.
    SyncStatus: Annotated[_SyncStatus | str, Field(union_mode="left_to_right")] = (
        _SyncStatus.NOT_SYNCED
    )
    Data: dict[str, Any] = Field(default_factory=dict)
    LastSynced: LenientUtcDatetime | None = None
    ErrorInfo: Any = None


class LeadState(CompatModel):
    """The lead state item (`{P}_Web2Text_LeadStates`, and the lead service's answers)."""

    _omit_when_none = frozenset({"CloseReason"})

    LeadId: str
    LeadType: str = LEAD_TYPE_WEB2TEXT
    Status: LeadStatus
    SchemaVersion: str = SCHEMA_VERSION
    UniversalRetailerId: str
    Lead: LeadDetails
    DateSubmitted: LenientUtcDatetime
    CloseReason: str | None = None
    Integrations: dict[str, IntegrationState] = Field(default_factory=dict)

    @property
    def twilio(self) -> IntegrationState | None:
        return self.Integrations.get(TWILIO_INTEGRATION)

    @property
    def conversation_sid(self) -> str | None:
        """`Integrations.Twilio.Data.ConversationSID`, when the conversation exists."""
        twilio = self.twilio
        if twilio is None:
            return None
        sid = twilio.Data.get("ConversationSID")
        return sid if isinstance(sid, str) and sid else None


class NonexistentLead(CompatModel):
    """`{"Status": "NONEXISTANT"}`: the status of an unknown LeadId."""

    Status: Literal["NONEXISTANT"] = "NONEXISTANT"


_LEAD_STATE_ADAPTER: Final = TypeAdapter(LeadState)


def parse_lead_state(item: dict[str, Any]) -> LeadState:
    """A lead state from a plain dict (e.g. a deserialized DynamoDB item)."""
    return _LEAD_STATE_ADAPTER.validate_python(item)


__all__ = [
    "E164",
    "LEAD_TYPE_WEB2TEXT",
    "MAX_MESSAGE_BODY",
    "MAX_NOTE_LENGTH",
    "SCHEMA_VERSION",
    "TWILIO_INTEGRATION",
    "ActivityView",
    "Change",
    "ChangesPage",
    "CloseLeadRequest",
    "CompatModel",
    "ConversationView",
    "CustomerInfo",
    "EntityKind",
    "EntityView",
    "ErrorBody",
    "IntegrationState",
    "IntegrationView",
    "LeadDetails",
    "LeadPatch",
    "LeadProductInfo",
    "LeadState",
    "LeadTraffic",
    "LeadView",
    "LenientUtcDatetime",
    "LocationView",
    "MessageView",
    "NewLeadRequest",
    "NonEmptyStr",
    "NonexistentLead",
    "NoteView",
    "ProductInfo",
    "ScheduledStatus",
    "ScheduledView",
    "SendMessageRequest",
    "SendMessageResponse",
    "StaffMemberView",
    "StaffOptOutRequest",
    "StaffView",
    "TrafficInfo",
    "UtcDatetime",
    "Version",
    "WireModel",
    "dump",
    "format_utc",
    "parse_lead_state",
    "to_camel",
]
