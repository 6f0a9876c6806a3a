"""DHQ (WEB2TEXT, fourth): the lead as a store inquiry in DealerHQ and its SMS
transcript as comments (connectors.md §4).

`Data = {LeadId, SyncedMessageIds, SentBotpressSummary}`. The inquiry carries the
lead's id as `external_id`, so a create whose answer was lost is looked up
(`GET .../store_inquiries?external_id=`) before it is sent again: found, its lead
is adopted; not found, it is sent again; a DHQ that cannot answer the lookup (404,
405, 501) leaves the create unconfirmed, as RLM's. Comments are sent once each
(unconfirmed when their answer is lost: DHQ cannot be asked about them).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from app.relay.connectors.base import (
    SYNC_FAILED,
    IntegrationError,
    integration_data,
)
from app.relay.connectors.http import CallFailed, ConnectorHttp, join_url
from app.relay.connectors.notes import TranscriptIntegration, transient
from app.relay.connectors.once import Unconfirmed, post_once
from app.relay.connectors.progress import in_flight, settle
from app.relay.connectors.records import Item, get_lead
from app.relay.connectors.settings import DhqSettings
from app.relay.connectors.transcript import TranscriptMessage, summary_topics
from app.relay.integrations import RetryLater

if TYPE_CHECKING:
    from app.relay.context import RelayContext

NAME = "DHQ"
AUTHOR_ID = 262
#: answers to the lookup that mean "this DHQ cannot be asked"
_NO_LOOKUP = frozenset({404, 405, 501})
UNCONFIRMED = (
    "the create's answer was lost and DHQ could not be asked by external_id: not sent "
    "again (check DHQ, then `web2text-relay admin connector-resend`)"
)


class DhqClient:
    def __init__(self, settings: DhqSettings, http: ConnectorHttp) -> None:
        self.settings = settings
        self.http = http

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.api_key}"}

    def submit(self, retailer_id: str, body: dict[str, Any]) -> Any:
        url = join_url(self.settings.api_url, f"retailer/rest/{retailer_id}/store_inquiries")
        response = self.http.call(
            "dhq.submit", "POST", url, idempotent=False, json=body, headers=self._headers()
        )
        return response.json()

    def find(self, retailer_id: str, external_id: str) -> list[dict[str, Any]] | None:
        """The inquiries DHQ holds for `external_id`; None when it cannot be asked."""
        url = join_url(self.settings.api_url, f"retailer/rest/{retailer_id}/store_inquiries")
        try:
            response = self.http.call(
                "dhq.find",
                "GET",
                url,
                idempotent=True,
                params={"external_id": external_id},
                headers=self._headers(),
            )
        except CallFailed as exc:
            if exc.status in _NO_LOOKUP:
                return None
            raise
        body = response.json()
        found = ((body.get("data") or {}) if isinstance(body, dict) else {}).get("store_inquiries")
        return [f for f in found if isinstance(f, dict)] if isinstance(found, list) else None

    def comment(self, dhq_lead_id: str, body: str) -> Any:
        url = join_url(self.settings.api_url, f"retailer/rest/leads/{dhq_lead_id}/comments")
        payload = {"comment": {"body": body, "author_id": AUTHOR_ID}}
        return self.http.call(
            "dhq.comment", "POST", url, idempotent=False, json=payload, headers=self._headers()
        ).json()


def inquiry_body(lead: Item, store: dict[str, Any]) -> dict[str, Any]:
    info = lead.get("Lead") or {}
    lead_id = str(lead["LeadId"])
    phone = str(info.get("PhoneNumber", ""))
    conversation = integration_data(lead, "Twilio").get("ConversationSID")
    inquiry: dict[str, Any] = {
        "contact_method": "cys_inquiry",
        "email": f"web2text+{re.sub(r'[^0-9]', '', phone)}@broadlume.com",
        "external_id": lead_id,
        "message": str(info.get("CustomerMessage", "")),
        "name": str(info.get("Name", "")),
        "page_url": str(info.get("PageUrl", "")),
        "phone_number": phone,
    }
    if store.get("street_address"):
        inquiry["preferred_location"] = store["street_address"]
    product = info.get("AssociatedProductInfo") or {}
    if product:
        inquiry["product"] = {
            "brand": product.get("Brand"),
            "name": product.get("Product"),
            "color": product.get("Variant"),
        }
    body: dict[str, Any] = {
        "occurred_at": str(lead.get("DateSubmitted", "")),
        "store_address": store.get("street_address"),
        "universal_store_id": store.get("universal_id"),
        "traffic": {"source": "Other", "medium": "Referral", "campaign": "Web2Text"},
        "inquiry": inquiry,
        "custom_fields": [
            {"name": "Web2TextLeadID", "value": lead_id, "displayable": False},
            {
                "name": "Twilio Conversation SID",
                "value": str(conversation) if conversation else "null",
                "displayable": False,
            },
        ],
    }
    return {k: v for k, v in body.items() if v is not None}


def _created(dhq_lead_id: str) -> Any:
    return lambda data: {
        **data,
        "LeadId": dhq_lead_id,
        "SyncedMessageIds": list(data.get("SyncedMessageIds") or []),
        "SentBotpressSummary": bool(data.get("SentBotpressSummary", False)),
    }


def _lead_id_of(answer: Any) -> str | None:
    if not isinstance(answer, dict) or answer.get("status") != "success":
        return None
    value = ((answer.get("data") or {}).get("lead") or {}).get("id")
    return str(value) if value else None


class DhqIntegration(TranscriptIntegration[DhqClient]):
    name = NAME
    remote_key = "LeadId"

    # ---- the note target (notes.flush) ----

    def accepted(self, answer: Any) -> bool:
        return isinstance(answer, dict) and answer.get("status") == "success"

    def note_error(self, sid: str) -> str:
        return f"Error with DHQ comment endpoint syncing message '{sid}'"

    def send_note(self, lead: Item, data: dict[str, Any], note: TranscriptMessage) -> Any:
        # DHQ's markdown needs doubled newlines
        body = f"**| {note.sender_name}**: " + note.text().replace("\n", "\n\n")
        return self.client.comment(str(data.get("LeadId")), body)

    def send_summary(self, lead: Item, data: dict[str, Any], row: dict[str, Any]) -> Any:
        body = (
            f"\n\n**Fibi Chatbot**\n\n**Topics:** {summary_topics(row)}\n\n{row.get('summary', '')}"
        )
        return self.client.comment(str(data.get("LeadId")), body)

    def _create_remote(self, ctx: RelayContext, lead: Item) -> None:
        location_id = str((lead.get("Lead") or {}).get("LocationId"))
        retailer_id = str(lead.get("UniversalRetailerId"))
        try:
            store = self.connectors.store(ctx.tables, location_id)
            if self._resolve_lost_create(ctx, lead, retailer_id):
                return
        except CallFailed as exc:
            raise IntegrationError(
                SYNC_FAILED, details={"response": exc.details()}, transient=transient(exc)
            ) from None
        if store is None:
            raise IntegrationError(f"Store '{location_id}' does not exist in Nexus API")
        body = inquiry_body(lead, store)

        def record(answer: Any) -> Any:
            found = _lead_id_of(answer)
            return _created(found) if found else None

        try:
            answer = post_once(
                ctx,
                str(lead["LeadId"]),
                NAME,
                "create",
                "dhq_create",
                lambda: self.client.submit(retailer_id, body),
                record=record,
                on_unconfirmed=lambda key: None,
                done=lambda item: bool(integration_data(item, NAME).get("LeadId")),
                keep_unknown=True,  # looked up by external_id on the next pass
            )
        except Unconfirmed:
            raise _submit_error({"status": "failure", "errors": [UNCONFIRMED]}, False) from None
        except CallFailed as exc:
            raise _submit_error(exc.details(), transient(exc)) from None
        if answer is not None and _lead_id_of(answer) is None:
            raise _submit_error(answer, False)

    def _resolve_lost_create(self, ctx: RelayContext, lead: Item, retailer_id: str) -> bool:
        """An earlier create whose answer was lost: ask DHQ by external_id. True when
        DHQ has it (adopted); False when it may be sent (again)."""
        lead_id = str(lead["LeadId"])
        found = in_flight(get_lead(ctx.tables, lead_id) or lead, NAME)
        if found is None or found.key != "create":
            return False
        if found.may_be_live():  # its holder may still get DHQ's answer
            raise RetryLater("DHQ create is being sent")
        held = self.client.find(retailer_id, lead_id)
        if held is None:
            settle(ctx.tables, lead_id, NAME, found.token, unconfirmed_key="create")
            raise _submit_error({"status": "failure", "errors": [UNCONFIRMED]}, False)
        if held and held[0].get("lead_id"):
            settle(ctx.tables, lead_id, NAME, found.token, data=_created(str(held[0]["lead_id"])))
            return True
        settle(ctx.tables, lead_id, NAME, found.token)  # it never arrived
        return False


def _submit_error(response: Any, retry: bool) -> IntegrationError:
    return IntegrationError(
        "Error with DHQ lead submit endpoint", details={"response": response}, transient=retry
    )
