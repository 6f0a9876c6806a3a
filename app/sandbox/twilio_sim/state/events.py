"""Conversation-scoped webhook events: who receives one, and the parameters of each kind."""

from __future__ import annotations

import json

from app.sandbox.twilio_sim.clock import iso
from app.sandbox.twilio_sim.models import Conversation, Message, Participant, Receipt
from app.sandbox.twilio_sim.webhooks import WebhookDispatcher, WebhookEvent

WEBHOOK_FILTERS = (
    "onMessageAdded",
    "onMessageUpdated",
    "onMessageRemoved",
    "onDeliveryUpdated",
    "onConversationUpdated",
    "onConversationRemoved",
    "onConversationStateUpdated",
    "onParticipantAdded",
    "onParticipantUpdated",
    "onParticipantRemoved",
)


class ConversationEvents:
    """Hands an event to every scoped webhook of the conversation that filters for it."""

    def __init__(self, dispatcher: WebhookDispatcher) -> None:
        self.dispatcher = dispatcher

    def emit(self, conv: Conversation, event_type: str, params: dict[str, str]) -> None:
        for hook in conv.webhooks.values():
            if hook.target != "webhook" or not hook.url or event_type not in hook.filters:
                continue
            full = {
                "AccountSid": conv.account_sid,
                "ChatServiceSid": conv.chat_service_sid,
                "ConversationSid": conv.sid,
                "EventType": event_type,
                **params,
                "WebhookSid": hook.sid,
                "WebhookType": "webhook",
            }
            self.dispatcher.submit(
                WebhookEvent(
                    url=hook.url, method=hook.method, params=full, kind=event_type, key=conv.sid
                )
            )


def message_params(conv: Conversation, msg: Message) -> dict[str, str]:
    params = {
        "MessageSid": msg.sid,
        "Index": str(msg.index),
        "Author": msg.author,
        "Body": msg.body or "",
        "Attributes": msg.attributes,
        "DateCreated": iso(msg.date_created) or "",
        "Source": msg.source,
    }
    if msg.participant_sid:
        params["ParticipantSid"] = msg.participant_sid
    if msg.media:
        params["Media"] = json.dumps(
            [
                {
                    "Sid": m.sid,
                    "Filename": m.filename,
                    "ContentType": m.content_type,
                    "Size": m.size,
                    "Category": "media",
                }
                for m in msg.media
            ]
        )
    params["MessagingServiceSid"] = conv.messaging_service_sid
    return params


def participant_params(part: Participant) -> dict[str, str]:
    params = {
        "ParticipantSid": part.sid,
        "Attributes": part.attributes,
        "DateCreated": iso(part.date_created) or "",
        "DateUpdated": iso(part.date_updated) or "",
        "Source": "API",
    }
    if part.identity:
        params["Identity"] = part.identity
    if part.address:
        params["MessagingBinding.Address"] = part.address
    if part.proxy_address:
        params["MessagingBinding.ProxyAddress"] = part.proxy_address
    return params


def conversation_params(conv: Conversation) -> dict[str, str]:
    params = {
        "MessagingServiceSid": conv.messaging_service_sid,
        "Attributes": conv.attributes,
        "State": conv.state,
        "DateCreated": iso(conv.date_created) or "",
        "DateUpdated": iso(conv.date_updated) or "",
        "Source": "API",
    }
    if conv.friendly_name:
        params["FriendlyName"] = conv.friendly_name
    if conv.unique_name:
        params["UniqueName"] = conv.unique_name
    return params


def receipt_params(conv: Conversation, receipt: Receipt) -> dict[str, str]:
    params = {
        "MessagingServiceSid": conv.messaging_service_sid,
        "MessageSid": receipt.message_sid,
        "DeliveryReceiptSid": receipt.sid,
        "ChannelMessageSid": receipt.channel_message_sid,
        "ParticipantSid": receipt.participant_sid,
        "Status": receipt.status,
        "DateCreated": iso(receipt.date_created) or "",
        "DateUpdated": iso(receipt.date_updated) or "",
    }
    if receipt.error_code is not None:
        params["ErrorCode"] = str(receipt.error_code)
    return params
