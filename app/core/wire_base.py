"""The base of the wire types: timestamps, phone shapes and the two model families.

`WireModel` (staff API: snake_case attributes, camelCase JSON) and `CompatModel`
(the compatible lead state: PascalCase names kept exactly). `app.core.wire` and
`app.core.wire_staff` build on these; import them from `app.core.wire`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Final, Self, TypeAlias

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
)

# --------------------------------------------------------------------------- scalars


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must be timezone-aware")
    return value.astimezone(UTC)


def _assume_utc(value: datetime) -> datetime:
    # Items written by other systems may carry naive timestamps; they mean UTC.
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def format_utc(value: datetime) -> str:
    """`2026-01-02T03:04:05.123456Z` (microseconds only when non-zero)."""
    return _assume_utc(value).isoformat().replace("+00:00", "Z")


_utc_serializer = PlainSerializer(format_utc, return_type=str, when_used="json")

#: A timezone-aware timestamp, normalized to UTC, JSON `...Z`.
UtcDatetime: TypeAlias = Annotated[datetime, AfterValidator(_require_aware), _utc_serializer]
#: Like UtcDatetime but naive input is taken as UTC (compatible items).
LenientUtcDatetime: TypeAlias = Annotated[datetime, AfterValidator(_assume_utc), _utc_serializer]

#: A phone number in E.164 (`+13125550134`). Only the shape is checked here;
#: `app.core.phones.parse_phone` turns typed input into this.
E164: TypeAlias = Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{1,14}$")]

NonEmptyStr: TypeAlias = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Version: TypeAlias = Annotated[int, Field(ge=0)]

#: Twilio's limit for one message body.
MAX_MESSAGE_BODY: Final = 1600
MAX_NOTE_LENGTH: Final = 4000


# --------------------------------------------------------------------------- base classes


def to_camel(name: str) -> str:
    """`web2text_number` -> `web2textNumber`, `has_more` -> `hasMore`.

    pydantic's own `to_camel` would write `web2TextNumber` (it capitalizes after
    digits); the staff API spells the product name as one word.
    """
    first, *rest = name.split("_")
    return first + "".join(part[:1].upper() + part[1:] for part in rest)


class WireModel(BaseModel):
    """Base of the staff-API models: snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="ignore",  # an older desktop must accept a newer relay's fields
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict with the JSON (alias) names."""
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        return cls.model_validate_json(data)


def dump(model: BaseModel) -> dict[str, Any]:
    """Any wire model as a JSON-ready dict with its JSON names."""
    if isinstance(model, WireModel | CompatModel):
        return model.to_dict()
    return model.model_dump(mode="json", by_alias=True)


class CompatModel(BaseModel):
    """Base of the compatible (PascalCase) lead-state models.

    Attribute names are the JSON names. Optional attributes listed in
    `_omit_when_none` are left out of the JSON when unset, as the original did.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)
    _omit_when_none: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_nones(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in self._omit_when_none:
            if key in data and data[key] is None:
                del data[key]
        return data

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    def to_json(self) -> str:
        return self.model_dump_json(by_alias=True)

    @classmethod
    def from_json(cls, data: str | bytes) -> Self:
        return cls.model_validate_json(data)
