"""The simulator's HTTP routes, one router per resource family. A new family (a new
Twilio resource, a new `/_sim` verb) is a module here plus one line below."""

from fastapi import APIRouter

from app.sandbox.twilio_sim.routes import (
    control,
    conversation_webhooks,
    conversations,
    lookups,
    media,
    messages,
    messages_2010,
    messaging,
    participants,
    voice,
)

# Twilio's REST paths: authenticated, recorded, subject to the API faults.
TWILIO_ROUTERS: tuple[APIRouter, ...] = (
    conversations.router,
    participants.router,
    messages.router,
    conversation_webhooks.router,
    lookups.router,
    messaging.router,
    messages_2010.router,
    media.router,
)
# The `/_sim` control plane: no auth, no faults, errors in the project's shape.
CONTROL_ROUTERS: tuple[APIRouter, ...] = (control.router, voice.router)

__all__ = ["CONTROL_ROUTERS", "TWILIO_ROUTERS"]
