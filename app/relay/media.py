"""Photos (MMS) of conversations: what the relay keeps about each (`Media` table: the
conversation and locations it belongs to, or the staff member who uploaded it and has
not sent it yet; type, name, size) and the checks of a staff upload. The bytes stay
at Twilio (the conversations' Media Content Service) and are fetched on demand
(`app.relay.twilio_media`, which keeps the last ones it served)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from app.relay.ddb import is_conditional_failure
from app.relay.versioned import Item, now_iso

#: what staff may attach (Twilio MMS sends these to every US carrier)
ALLOWED_TYPES = {
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/gif": b"GIF8",
}
MAX_UPLOAD_BYTES = 5 * 1024 * 1024


class MediaRefused(Exception):
    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.reason, self.message = status, reason, message


def check_upload(content_type: str, data: bytes) -> str:
    """The upload's MIME type once it is an allowed image of that type (else refused)."""
    kind = content_type.split(";")[0].strip().lower()
    magic = ALLOWED_TYPES.get(kind)
    if magic is None:
        raise MediaRefused(
            415, "unsupported_media_type", "Attach a JPEG, PNG or GIF image (Content-Type)"
        )
    if not data:
        raise MediaRefused(400, "empty_media", "The image is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise MediaRefused(413, "media_too_large", "An image may be at most 5 MB")
    if not data.startswith(magic):
        raise MediaRefused(415, "unsupported_media_type", f"The body is not a {kind} image")
    return kind


def parse_webhook_media(raw: str | None) -> list[Item]:
    """The `Media` of an onMessageAdded webhook (a JSON string) as message attributes."""
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    out: list[Item] = []
    for entry in value if isinstance(value, list) else []:
        if isinstance(entry, dict) and str(entry.get("Sid", "")).startswith("ME"):
            out.append(
                {
                    "Sid": str(entry["Sid"]),
                    "ContentType": str(entry.get("ContentType") or "application/octet-stream"),
                    "Filename": str(entry.get("Filename") or ""),
                    "Size": int(entry.get("Size") or 0),
                }
            )
    return out


def remember_message_media(
    tables: Any, media: list[Item], conversation_sid: str, locations: list[str], message_sid: str
) -> None:
    """Record where each photo of a message belongs (idempotent: the same put)."""
    for entry in media:
        tables.media.put_item(
            Item={
                "MediaSid": entry["Sid"],
                "ConversationSid": conversation_sid,
                "LocationIds": locations,
                "MessageSid": message_sid,
                "ContentType": entry.get("ContentType", ""),
                "Filename": entry.get("Filename", ""),
                "Size": int(entry.get("Size") or 0),
            }
        )


def remember_upload(tables: Any, uploaded: Item, staff_id: str, locations: list[str]) -> None:
    tables.media.put_item(
        Item={
            "MediaSid": str(uploaded["sid"]),
            "UploadedBy": staff_id,
            "LocationIds": locations,
            "ContentType": str(uploaded.get("content_type", "")),
            "Filename": str(uploaded.get("filename") or ""),
            "Size": int(uploaded.get("size") or 0),
            "UploadedAt": now_iso(),
        },
        ConditionExpression="attribute_not_exists(MediaSid)",
    )


def get_media(tables: Any, sid: str) -> Item | None:
    item = tables.media.get_item(Key={"MediaSid": sid}, ConsistentRead=True).get("Item")
    return dict(item) if item else None


def attach_upload(
    tables: Any, sid: str, staff_id: str, conversation_sid: str, locations: list[str]
) -> Item:
    """A staff upload joins a conversation when it is sent (only its uploader's)."""
    try:
        result = tables.media.update_item(
            Key={"MediaSid": sid},
            UpdateExpression="SET ConversationSid = :c, LocationIds = :l",
            ConditionExpression="UploadedBy = :me AND (attribute_not_exists(ConversationSid) "
            "OR ConversationSid = :c)",
            ExpressionAttributeValues={":c": conversation_sid, ":l": locations, ":me": staff_id},
            ReturnValues="ALL_NEW",
        )
        return dict(result["Attributes"])
    except ClientError as exc:
        if is_conditional_failure(exc):
            raise MediaRefused(
                422, "unknown_media", "mediaSids: not an image you uploaded for this send"
            ) from None
        raise
