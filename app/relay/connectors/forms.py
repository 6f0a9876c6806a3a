"""Form leads (`LeadType: "ACTON"`): Act-On first, then FloorForce, each once
(connectors.md §6-8).

Act-On: a password-grant token fetched for every record post (its contract), then
`POST {ACTON_BASE_URL}/api/1/list/{listId}/record` with the lead minus `listId`;
success iff `status` is "success". FloorForce: the whole lead URL-encoded to
`{FF_API_URL}/external/postactonformdata`; success iff HTTP 200. A failure is
ERROR ("Failed to create ActOn Lead" / "Failed to create FloorForce Lead") and
tried again on the next sync, as the original; a post whose answer was lost is
never sent again (unconfirmed), so neither system gets a lead twice. Neither keeps
`Data` (as the original); what was done is in `ConnectorProgress.<Name>.Done`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from app.relay.connectors.base import IntegrationError, kept, lead_type
from app.relay.connectors.http import CallFailed, ConnectorHttp, Outcome, join_url
from app.relay.connectors.notes import transient
from app.relay.connectors.once import Unconfirmed, post_once
from app.relay.connectors.progress import done
from app.relay.connectors.records import Item, get_lead
from app.relay.connectors.settings import ActOnSettings, FloorForceSettings

if TYPE_CHECKING:
    from app.relay.context import RelayContext

UNCONFIRMED = (
    "the post's answer was lost (timeout or restart) and the system cannot be asked: not "
    "sent again (check it, then `web2text-relay admin connector-resend`)"
)


def plain(value: Any) -> Any:
    """DynamoDB's Decimals back to JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def form_value(value: Any) -> str:
    """A form field as the original's `String(v)`, but objects as JSON (it sent
    "[object Object]")."""
    value = plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


class ActOnClient:
    def __init__(self, settings: ActOnSettings, http: ConnectorHttp) -> None:
        self.settings = settings
        self.http = http

    def token(self) -> str:
        s = self.settings
        response = self.http.call(
            "acton.token",
            "POST",
            join_url(s.base_url, "token"),
            idempotent=True,  # a new token is harmless
            data={
                "grant_type": "password",
                "username": s.username,
                "password": s.password,
                "client_id": s.client_id,
                "client_secret": s.client_secret,
            },
        )
        return str(response.json()["access_token"])

    def add_record(self, list_id: str, record: dict[str, Any]) -> Any:
        token = self.token()
        return self.http.call(
            "acton.record",
            "POST",
            join_url(self.settings.base_url, f"api/1/list/{list_id}/record"),
            idempotent=False,
            json=plain(record),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
        ).json()


class FloorForceClient:
    def __init__(self, settings: FloorForceSettings, http: ConnectorHttp) -> None:
        self.settings = settings
        self.http = http

    def post(self, lead: dict[str, Any]) -> int:
        response = self.http.call(
            "floorforce.post",
            "POST",
            join_url(self.settings.api_url, "external/postactonformdata"),
            idempotent=False,
            data={k: form_value(v) for k, v in lead.items()},
        )
        return response.status_code


class _FormIntegration:
    """Create once; sync retries a failed create; close leaves it as it is."""

    name = ""
    failure = ""
    step = ""

    def applies(self, ctx: RelayContext, lead: Item) -> bool:
        return lead_type(lead) == "ACTON"

    def _send(self, lead: Item) -> Any:
        raise NotImplementedError

    def _succeeded(self, answer: Any) -> bool:
        raise NotImplementedError

    def create(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        lead_id = str(lead["LeadId"])
        current = get_lead(ctx.tables, lead_id) or lead
        if "create" in done(current, self.name):
            return kept()
        keep: Callable[[dict[str, Any]], dict[str, Any]] = dict
        try:
            answer = post_once(
                ctx,
                lead_id,
                self.name,
                "create",
                self.step,
                lambda: self._send(current),
                record=lambda a: keep if self._succeeded(a) else None,
                on_unconfirmed=lambda key: None,
                done=lambda item: "create" in done(item, self.name),
                mark_done=True,
            )
        except Unconfirmed:
            raise self._error(UNCONFIRMED, False) from None
        except CallFailed as exc:
            if exc.outcome is Outcome.UNKNOWN:  # settled unconfirmed: never sent again
                raise self._error(UNCONFIRMED, False) from None
            raise self._error(exc.details(), transient(exc)) from None
        if answer is not None and not self._succeeded(answer):
            raise self._error(answer, False)
        return kept()

    def sync(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        return self.create(ctx, lead)

    def close(self, ctx: RelayContext, lead: Item, reason: str) -> dict[str, Any]:
        return kept()

    def _error(self, response: Any, retry: bool) -> IntegrationError:
        return IntegrationError(self.failure, details={"Response": response}, transient=retry)


class ActOnIntegration(_FormIntegration):
    name = "ActOn"
    failure = "Failed to create ActOn Lead"
    step = "acton_record"

    def __init__(self, client: ActOnClient) -> None:
        self.client = client

    def create(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        list_id = (lead.get("Lead") or {}).get("listId")
        if not isinstance(list_id, str | int | Decimal) or str(list_id).strip() == "":
            # the original posted to ".../list/undefined/record"
            raise self._error("the lead has no listId", False)
        return super().create(ctx, lead)

    def _send(self, lead: Item) -> Any:
        record = dict(lead.get("Lead") or {})
        list_id = str(plain(record.pop("listId")))
        return self.client.add_record(list_id, record)

    def _succeeded(self, answer: Any) -> bool:
        return isinstance(answer, dict) and answer.get("status") == "success"


class FloorForceIntegration(_FormIntegration):
    name = "FloorForce"
    failure = "Failed to create FloorForce Lead"
    step = "floorforce_post"

    def __init__(self, client: FloorForceClient) -> None:
        self.client = client

    def _send(self, lead: Item) -> Any:
        return self.client.post(dict(lead.get("Lead") or {}))

    def _succeeded(self, answer: Any) -> bool:
        return bool(answer == 200)
