"""The Media Content Service (MCS): files uploaded to the chat service, referenced by
conversation messages (`MediaSid`) and fetched through a temporary, signed URL, as on
Twilio (`mcs.us1.twilio.com/v1/Services/{IS}/Media`, `media.us1.twilio.com/...`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import threading
from dataclasses import dataclass
from typing import Any

from app.sandbox.twilio_sim.clock import SimClock
from app.sandbox.twilio_sim.config import SimConfig
from app.sandbox.twilio_sim.errors import TwilioApiError, bad_param, not_found
from app.sandbox.twilio_sim.models import Media
from app.sandbox.twilio_sim.sids import new_sid

#: Twilio's limit for one MMS attachment is 5 MB; MCS itself takes far more.
MAX_MEDIA_BYTES = 16 * 1024 * 1024
#: how long (simulated seconds) a temporary content URL stays valid
TEMPORARY_URL_TTL_S = 300
_MEDIA_FIELDS = {"contentType", "filename", "dataBase64"}


@dataclass(frozen=True)
class MediaInput:
    """One attachment of a simulated phone's text (`/_sim/inbound` `media`)."""

    content_type: str
    filename: str | None
    data: bytes


def parse_media_inputs(raw: Any) -> list[MediaInput]:
    """`[{"contentType", "filename", "dataBase64"}]` → inputs (400 on anything else)."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 10:
        raise bad_param("media must be a list of at most 10 attachments")
    result = []
    for entry in raw:
        if not isinstance(entry, dict) or not set(entry) <= _MEDIA_FIELDS:
            raise bad_param('each media entry is {"contentType", "filename", "dataBase64"}')
        content_type, filename = entry.get("contentType"), entry.get("filename")
        if not isinstance(content_type, str) or "/" not in content_type:
            raise bad_param("media contentType must be a MIME type such as image/png")
        if filename is not None and not isinstance(filename, str):
            raise bad_param("media filename must be a string")
        try:
            data = base64.b64decode(str(entry.get("dataBase64", "")), validate=True)
        except (binascii.Error, ValueError):
            raise bad_param("media dataBase64 must be base64") from None
        if not data:
            raise bad_param("media dataBase64 must not be empty")
        result.append(MediaInput(content_type, filename, data))
    return result


class MediaStore:
    def __init__(self, lock: threading.RLock, config: SimConfig, clock: SimClock) -> None:
        self.lock = lock
        self.config = config
        self.clock = clock
        self.by_sid: dict[str, Media] = {}

    def reset(self) -> None:
        with self.lock:
            self.by_sid.clear()

    def upload(
        self, service_sid: str, content_type: str, filename: str | None, data: bytes, author: str
    ) -> Media:
        self.check_service(service_sid)
        if not content_type or "/" not in content_type:
            raise bad_param("Content-Type must name the media's MIME type")
        if not data:
            raise bad_param("The media body must not be empty")
        if len(data) > MAX_MEDIA_BYTES:
            raise TwilioApiError(413, 20001, "Media too large")
        media = Media(
            sid=new_sid("ME"),
            service_sid=service_sid,
            content_type=content_type.split(";")[0].strip().lower(),
            filename=filename,
            data=data,
            author=author,
            date_created=self.clock.now(),
        )
        with self.lock:
            self.by_sid[media.sid] = media
        return media

    def check_service(self, service_sid: str) -> None:
        if service_sid != self.config.chat_service_sid:
            raise not_found(f"/v1/Services/{service_sid}")

    def get(self, service_sid: str, sid: str) -> Media:
        self.check_service(service_sid)
        with self.lock:
            media = self.by_sid.get(sid)
        if media is None:
            raise not_found(f"/v1/Services/{service_sid}/Media/{sid}")
        return media

    def for_message(self, sids: list[str]) -> list[Media]:
        """The media a new message references (400 for an unknown or used SID)."""
        with self.lock:
            found = [self.by_sid.get(sid) for sid in sids]
        missing = [sid for sid, media in zip(sids, found, strict=True) if media is None]
        if missing:
            raise bad_param(f"Media {missing[0]} was not found")
        return [m for m in found if m is not None]

    def attach(self, media: list[Media], conversation_sid: str, message_sid: str) -> None:
        with self.lock:
            for item in media:
                item.conversation_sid = conversation_sid
                item.message_sid = message_sid

    # ------------------------------------------------ temporary content URLs
    def temporary_query(self, sid: str) -> str:
        """`Expires=…&Signature=…` for the content URL of `sid` (simulated time)."""
        expires = int(self.clock.now().timestamp()) + TEMPORARY_URL_TTL_S
        return f"Expires={expires}&Signature={self._signature(sid, expires)}"

    def by_temporary_url(self, sid: str, expires: str, signature: str) -> Media:
        """The media a temporary URL names, while it is valid (403 otherwise)."""
        if not expires.isdigit() or not hmac.compare_digest(
            signature, self._signature(sid, int(expires))
        ):
            raise TwilioApiError(403, 20003, "The temporary media URL is not valid")
        if int(expires) < self.clock.now().timestamp():
            raise TwilioApiError(403, 20003, "The temporary media URL has expired")
        with self.lock:
            media = self.by_sid.get(sid)
        if media is None:
            raise not_found(f"/media/{sid}")
        return media

    def _signature(self, sid: str, expires: int) -> str:
        key = self.config.auth_token.encode()
        digest = hmac.new(key, f"{sid}:{expires}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
