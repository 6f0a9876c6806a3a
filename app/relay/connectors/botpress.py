"""Botpress (WEB2TEXT, second): the chatbot's AI summary of the conversation the
lead came from, for RLM and DHQ (connectors.md §2).

Runs only for leads with a `BotpressConversationId` (the original's `shouldRun`,
which it never awaited, so every other lead got an ERROR each pass). A row found
→ SYNCED with `Data = {ConversationId, Conversation}`; none → ERROR "No Botpress
AI Summary found" (tried again each sync). The lookup is a read: retried in place.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.relay.connectors.base import SYNC_FAILED, IntegrationError, integration_data, lead_type
from app.relay.connectors.http import CallFailed, ConnectorHttp, join_url
from app.relay.connectors.records import Item, get_lead
from app.relay.connectors.settings import BotpressSettings

if TYPE_CHECKING:
    from app.relay.context import RelayContext

NAME = "Botpress"


class BotpressClient:
    def __init__(self, settings: BotpressSettings, http: ConnectorHttp) -> None:
        self.settings = settings
        self.http = http

    def find_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        s = self.settings
        response = self.http.call(
            "botpress.rows_find",
            "POST",
            join_url(s.api_url, f"v1/tables/{s.table}/rows/find"),
            idempotent=True,  # a query, though a POST
            headers={
                "Authorization": f"Bearer {s.api_token}",
                "x-bot-id": s.bot_id,
                "x-workspace-id": s.workspace_id,
            },
            json={"filter": {"conversationId": {"$eq": conversation_id}}},
        )
        rows = response.json().get("rows")
        return (
            dict(rows[0]) if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
        )


def _conversation_id(lead: Item) -> str | None:
    value = (lead.get("Lead") or {}).get("BotpressConversationId")
    return str(value) if value else None


class BotpressIntegration:
    name = NAME

    def __init__(self, client: BotpressClient) -> None:
        self.client = client

    def applies(self, ctx: RelayContext, lead: Item) -> bool:
        return lead_type(lead) == "WEB2TEXT" and _conversation_id(lead) is not None

    def create(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        lead = get_lead(ctx.tables, str(lead["LeadId"])) or lead
        conversation_id = _conversation_id(lead)
        if conversation_id is None:  # applies() keeps such leads out
            raise IntegrationError(SYNC_FAILED, details={"Error": "no BotpressConversationId"})
        try:
            row = self.client.find_conversation(conversation_id)
        except CallFailed as exc:
            raise IntegrationError(
                SYNC_FAILED, details={"response": exc.details()}, transient=exc.transient
            ) from None
        if row is None:
            raise IntegrationError("No Botpress AI Summary found")
        return {"ConversationId": conversation_id, "Conversation": row}

    def sync(self, ctx: RelayContext, lead: Item) -> dict[str, Any]:
        """The original's sync is a no-op; a summary not found yet is looked up again."""
        current = get_lead(ctx.tables, str(lead["LeadId"])) or lead
        data = integration_data(current, NAME)
        if data.get("Conversation"):
            return data
        return self.create(ctx, current)

    def close(self, ctx: RelayContext, lead: Item, reason: str) -> dict[str, Any]:
        return integration_data(get_lead(ctx.tables, str(lead["LeadId"])) or lead, NAME)
