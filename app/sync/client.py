"""HTTP client of the relay's staff API (httpx + httpx-sse).

Errors are sorted into three kinds the engine acts on:
- `RelayAuthError` (401): the key is unknown or revoked → auth_required;
- `RelayTransientError`: network errors, timeouts, 5xx, 429 (with Retry-After);
- `RelayFinalError`: any other 4xx, with the relay's stable `reason`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from httpx_sse import ServerSentEvent, aconnect_sse
from pydantic import ValidationError

from app.core.relay_url import InsecureRelayUrl, check_relay_url
from app.core.wire import StaffView
from app.sync.api import KeyCheckError, Me
from app.sync.clock import RelayClock
from app.sync.feed import FeedPage
from app.sync.retry import parse_retry_after


class RelayError(Exception):
    pass


class RelayAuthError(RelayError):
    def __init__(self, message: str = "the relay refused the staff key") -> None:
        super().__init__(message)
        self.reason = "unauthorized"


class RelayTransientError(RelayError):
    def __init__(self, message: str, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


class RelayFinalError(RelayError):
    def __init__(self, status: int, reason: str, message: str, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body


@dataclass(frozen=True)
class ChangesBatch:
    changes: list[Any]  # unparsed: each is validated on its own in the store's writer job
    cursor: str | None
    has_more: bool


@dataclass(frozen=True)
class SnapshotPage:
    changes: list[Any]  # unparsed, like a feed page's
    cursor: str  # the feed position to follow from once every page is applied
    next: str | None


#: 4xx reasons that mean "not yet" rather than "no": the same Idempotency-Key is
#: still being processed (e.g. by the request of a desktop that crashed mid-send)
TRANSIENT_REASONS = frozenset({"idempotency_in_progress"})


def _error_body(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def raise_for(response: httpx.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    if status == 401:
        raise RelayAuthError()
    if status == 429 or status >= 500:
        raise RelayTransientError(
            f"relay answered {status}",
            retry_after=parse_retry_after(response.headers.get("retry-after")),
            status=status,
        )
    body = _error_body(response)
    reason = str(body.get("reason") or f"http_{status}")
    message = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
    if reason in TRANSIENT_REASONS:
        # Retry-After here is when the other holder's lease would run out, an upper
        # bound: the holder usually finishes (and its answer is replayed) much
        # sooner, so the ordinary backoff polls instead of waiting the lease out
        raise RelayTransientError(f"relay answered {status} {reason}", status=status)
    raise RelayFinalError(status, reason, message, body)


class RelayClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 15.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: RelayClock | None = None,
    ) -> None:
        # the key never crosses the network in clear: https, or http to loopback only
        self.base_url = check_relay_url(base_url)
        self._token = token
        self._timeout = timeout
        self._clock = clock
        hooks: dict[str, list[Any]] = {}
        if clock is not None:
            hooks = {"request": [self._stamp_request], "response": [self._read_date]}
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "web2text-sync"},
            timeout=timeout,
            transport=transport,
            event_hooks=hooks,
        )

    async def _stamp_request(self, request: httpx.Request) -> None:
        assert self._clock is not None
        request.extensions["w2t_sent_at"] = self._clock.local()

    async def _read_date(self, response: httpx.Response) -> None:
        """Every answer's `Date` tells the clock the relay's time."""
        assert self._clock is not None
        sent = response.request.extensions.get("w2t_sent_at")
        received = self._clock.local()
        self._clock.observe(response.headers.get("date"),
                            sent if isinstance(sent, float) else received, received)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:  # connect/read errors, timeouts
            raise RelayTransientError(f"{type(exc).__name__}: {exc}") from exc
        raise_for(response)
        return response

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise RelayTransientError("the relay answered with invalid JSON") from exc
        return body if isinstance(body, dict) else {}

    async def me(self) -> StaffView:
        body = self._json(await self._request("GET", "/v1/me"))
        try:
            return StaffView.model_validate(body)
        except ValidationError as exc:
            raise RelayTransientError("malformed /v1/me answer") from exc

    async def changes(self, cursor: str | None, limit: int = 500) -> ChangesBatch:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        body = self._json(await self._request("GET", "/v1/changes", params=params))
        try:
            page = FeedPage.model_validate(body)
        except ValidationError as exc:
            raise RelayTransientError("malformed /v1/changes answer") from exc
        return ChangesBatch(page.changes, page.cursor or cursor, page.has_more)

    async def snapshot(self, page: str | None, limit: int = 500) -> SnapshotPage:
        """One page of `GET /v1/snapshot` (a bootstrap without replaying the log)."""
        params: dict[str, Any] = {"limit": limit}
        if page:
            params["page"] = page
        body = self._json(await self._request("GET", "/v1/snapshot", params=params))
        changes, cursor, nxt = body.get("changes"), body.get("cursor"), body.get("next")
        if not isinstance(changes, list) or not isinstance(cursor, str):
            raise RelayTransientError("malformed /v1/snapshot answer")
        return SnapshotPage(changes, cursor, nxt if isinstance(nxt, str) and nxt else None)

    async def older_messages(
        self, conversation_sid: str, before: str | None, limit: int = 50
    ) -> list[Any]:
        """Message changes of a conversation created before `before`, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if before:
            params["before"] = before
        path = f"/v1/conversations/{quote(conversation_sid, safe='')}/messages"
        body = self._json(await self._request("GET", path, params=params))
        changes = body.get("changes")
        if not isinstance(changes, list):
            raise RelayTransientError("malformed older-messages answer")
        return changes

    async def send_message(
        self, conversation_sid: str, body: str, key: str, media_sids: list[str] | None = None,
        send_at: str | None = None,
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"body": body}
        if media_sids:
            payload["mediaSids"] = media_sids
        if send_at is not None:  # a text for later
            payload["sendAt"] = send_at
        response = await self._request(
            "POST", f"/v1/conversations/{conversation_sid}/messages",
            json=payload, headers={"Idempotency-Key": key},
        )
        return self._json(response)

    async def upload_media(self, data: bytes, content_type: str, filename: str) -> str:
        """`POST /v1/media` (raw body) → the new MediaSid."""
        response = await self._request(
            "POST", "/v1/media", content=data,
            headers={"Content-Type": content_type, "X-Filename": filename},
        )
        sid = self._json(response).get("sid")
        if not isinstance(sid, str) or not sid:
            raise RelayTransientError("malformed /v1/media answer")
        return sid

    async def get_media(self, sid: str) -> bytes:
        response = await self._request("GET", f"/v1/media/{sid}")
        return response.content

    async def patch_lead(
        self, lead_id: str, patch: dict[str, Any], version: int, key: str
    ) -> dict[str, Any]:
        response = await self._request(
            "PATCH", f"/v1/leads/{lead_id}", json=patch,
            headers={"If-Match": f'"{version}"', "Idempotency-Key": key},
        )
        return self._json(response)

    async def sync_lead(self, lead_id: str) -> dict[str, Any]:
        """ "Sync now": the relay runs the lead's integrations again (202)."""
        return self._json(await self._request("POST", f"/v1/leads/{lead_id}/sync"))

    async def opt_out(self, conversation_sid: str, reason: str, key: str) -> dict[str, Any]:
        response = await self._request(
            "POST", f"/v1/conversations/{conversation_sid}/opt-out",
            json={"reason": reason}, headers={"Idempotency-Key": key},
        )
        return self._json(response)

    async def close_lead(
        self, lead_id: str, reason: str, version: int, key: str
    ) -> dict[str, Any]:
        response = await self._request(
            "POST", f"/v1/leads/{lead_id}/close", json={"reason": reason},
            headers={"If-Match": f'"{version}"', "Idempotency-Key": key},
        )
        return self._json(response)

    async def create_lead(self, body: dict[str, Any], key: str) -> dict[str, Any]:
        response = await self._request(
            "POST", "/v1/leads", json=body, headers={"Idempotency-Key": key})
        return self._json(response)

    async def staff(self) -> list[dict[str, Any]]:
        response = await self._request("GET", "/v1/staff")
        try:
            data = response.json()
        except ValueError as exc:
            raise RelayTransientError("malformed /v1/staff answer") from exc
        if not isinstance(data, list):
            raise RelayTransientError("malformed /v1/staff answer")
        return [d for d in data if isinstance(d, dict)]

    async def cancel_scheduled(self, message_sid: str) -> dict[str, Any]:
        return self._json(await self._request("DELETE", f"/v1/scheduled/{message_sid}"))

    async def mark_read(self, conversation_sid: str, key: str) -> None:
        await self._request(
            "POST", f"/v1/conversations/{conversation_sid}/read",
            headers={"Idempotency-Key": key},
        )

    async def put_templates(
        self, location_id: str, templates: list[dict[str, Any]], version: int
    ) -> dict[str, Any]:
        response = await self._request(
            "PUT", "/v1/templates", params={"locationId": location_id},
            json={"templates": templates}, headers={"If-Match": f'"{version}"'},
        )
        return self._json(response)

    async def post_presence(self, conversation_sid: str, state: str) -> None:
        await self._request(
            "POST", f"/v1/conversations/{conversation_sid}/presence", json={"state": state}
        )

    async def stream(
        self, cursor: str | None, heartbeat_timeout: float
    ) -> AsyncIterator[ServerSentEvent]:
        """Server-sent events from `cursor`; a silent connection ends with a transient error.

        The read timeout is the heartbeat timeout: the relay sends a heartbeat
        well within it, so a read that waits longer means a dead connection.
        """
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        params: dict[str, Any] = {}
        if cursor:
            params["cursor"] = cursor
            headers["Last-Event-ID"] = cursor
        timeout = httpx.Timeout(self._timeout, read=heartbeat_timeout)
        try:
            async with aconnect_sse(
                self._http, "GET", "/v1/stream", params=params, headers=headers,
                timeout=timeout,
            ) as source:
                raise_for(source.response)
                async for sse in source.aiter_sse():
                    yield sse
        except httpx.TransportError as exc:
            raise RelayTransientError(f"stream: {type(exc).__name__}: {exc}") from exc
        raise RelayTransientError("stream: the relay closed the connection")


async def check_staff_key(
    base_url: str,
    token: str,
    *,
    timeout: float = 10.0,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Me:
    """Who `token` belongs to (`GET /v1/me`, asked once, no retries): a sign-in's check
    before any engine exists. Raises `KeyCheckError` with the reason why not."""
    try:
        client = RelayClient(base_url, token, timeout=timeout, transport=transport)
    except InsecureRelayUrl as exc:  # the key is never sent in clear
        raise KeyCheckError(exc.reason, str(exc)) from exc
    try:
        staff = await client.me()
    except RelayAuthError as exc:
        raise KeyCheckError("unauthorized", "the relay does not know this key", 401) from exc
    except RelayFinalError as exc:
        reason = "forbidden" if exc.status == 403 else "relay_error"
        raise KeyCheckError(reason, exc.message, exc.status) from exc
    except RelayTransientError as exc:
        raise _unanswered(exc) from exc
    finally:
        await client.aclose()
    return Me(
        staff_id=staff.staff_id,
        name=staff.name or staff.staff_id,
        retailer_id=staff.retailer_id,
        location_ids=tuple(loc.location_id for loc in staff.locations),
        min_app_version=staff.min_app_version,
        latest_app_version=staff.latest_app_version,
    )


def _unanswered(exc: RelayTransientError) -> KeyCheckError:
    """Why a check got no usable answer: no answer in time, no connection, an error
    status (5xx, 429), or an answer that is not JSON or not a staff member."""
    cause = exc.__cause__
    if isinstance(cause, httpx.TimeoutException):
        return KeyCheckError("relay_timeout", str(exc))
    if isinstance(cause, httpx.TransportError):
        return KeyCheckError("relay_unreachable", str(exc))
    if exc.status is not None:
        return KeyCheckError("relay_error", str(exc), exc.status)
    return KeyCheckError("relay_bad_answer", str(exc))
