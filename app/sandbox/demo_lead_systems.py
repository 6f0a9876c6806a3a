"""The demo's lead tracking: the lead-systems simulator (`app.sandbox.lead_systems_sim`)
as the retailers' RLM and their stores' DealerHQ, and as Botpress for the leads that
came through the website's chatbot.

The relay's connectors are configured with the simulator's `RLM_*`, `DHQ_*` and
`BOTPRESS_*` (not Nexus: the demo's directory is the relay's own, which holds each
retailer's RLM key and each store's DHQ id and address, written with the same
functions as `web2text-relay admin set-retailer` / `set-location`). So the desktop
shows each lead's "RLM ✓" and "DHQ ✓", and the simulator's inspection lists
(`GET /rlm/leads`, `GET /dhq/inquiries`) hold the transcripts as notes.
"""

from __future__ import annotations

from typing import Any

from app.relay.connectors.directory_settings import set_location_settings, set_retailer_settings
from app.relay.connectors.settings import ConnectorSettings
from app.sandbox import demo_data as data
from app.sandbox.lead_systems_sim import LeadSystemsHandle, start_lead_systems_sim

#: the systems the demo turns on (the ACTON form leads' Act-On and FloorForce stay off:
#: the demo's website sends WEB2TEXT leads only)
DEMO_SYSTEMS = ("BOTPRESS_", "RLM_", "DHQ_")
BOTPRESS_TABLE = "Int_Connor_Conversations_Table"


def start_demo_lead_systems() -> tuple[LeadSystemsHandle, ConnectorSettings]:
    """The simulator, started, and the relay's connector settings aimed at it."""
    systems = start_lead_systems_sim(hang_s=5.0)
    env = {k: v for k, v in systems.env().items() if k.startswith(DEMO_SYSTEMS)}
    return systems, ConnectorSettings.from_env(env)


def rlm_api_key(retailer: data.RetailerSeed) -> str:
    return f"demo-rlm-{retailer.key}"


def configure_dealers(tables: Any) -> None:
    """Each demo retailer's RLM key and each store's DHQ id and street address."""
    for retailer in data.RETAILERS:
        set_retailer_settings(tables, retailer.retailer_id, rlm_api_key=rlm_api_key(retailer))
    for loc in data.LOCATIONS:
        set_location_settings(
            tables,
            loc.location_id,
            universal_store_id=f"dhq-{loc.key}",
            street_address=f"{100 + data.LOCATIONS.index(loc)} Main St",
        )


def chatbot_conversation(lead: data.LeadSeed) -> str | None:
    """The Botpress conversation of a lead that chatted with the website's bot first
    (every third one), else None."""
    return f"bp-{lead.lead_id[:8]}" if int(lead.lead_id[-2:], 16) % 3 == 0 else None


def add_chatbot_summary(systems: LeadSystemsHandle, lead: data.LeadSeed) -> str | None:
    """Put the chatbot's row for `lead` into the simulated Botpress table; returns its
    conversation id (for the lead's `BotpressConversationId`), or None."""
    conversation = chatbot_conversation(lead)
    if conversation is None:
        return None
    systems.state.botpress.add_row(
        BOTPRESS_TABLE,
        {
            "conversationId": conversation,
            "summary": f"{lead.first_name} asked about the {lead.product} ({lead.variant}).",
            "topics": [lead.brand, "availability"],
        },
    )
    return conversation
