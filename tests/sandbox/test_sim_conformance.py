"""Conformance with Twilio's own OpenAPI description of Conversations v1.

Every response the twilio SDK receives from the simulator during a realistic scenario
is validated against the response schema of its path, method and status; every
request the SDK sends is checked against the operation's form body schema, query
parameters and headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from app.sandbox.twilio_sim import SimHandle
from app.sandbox.twilio_sim.models import RecordedRequest
from tests.sandbox.helpers import CUSTOMER, P1, P2, STORE, add_webhook, text
from tests.support.twilio_sim import WebhookRecorder, point_client_at

# Twilio's own description (MIT, see twilio-oai/LICENSE), vendored from shared/twilio-oai so
# the conformance tests never depend on a folder outside the repository.
SPEC_PATH = Path(__file__).resolve().parent / "twilio-oai" / "twilio_conversations_v1.json"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@dataclass
class Exchange:
    method: str
    url: str
    status: int
    body: str


class RecordingHttpClient(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's own HTTP client, keeping every response it hands to the SDK."""

    def __init__(self) -> None:
        super().__init__()
        self.exchanges: list[Exchange] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        response = super().request(method, url, *args, **kwargs)
        self.exchanges.append(Exchange(method.upper(), url, response.status_code, response.text))
        return response


def _path_regex(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", template) + "$")


def _operation(spec: dict[str, Any], path: str, method: str) -> tuple[str, dict[str, Any]] | None:
    if path.startswith(("/v1/Services", "/v2/")):  # Messaging and Lookup domains
        return None
    for template, item in spec["paths"].items():
        if _path_regex(template).match(path) and method.lower() in item:
            return template, item[method.lower()]
    return None


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _scenario(client: Client, sim: SimHandle, recorder: WebhookRecorder) -> None:
    conversations = client.conversations.v1.conversations
    conv = conversations.create(
        friendly_name="Lead", attributes='{"leadIds": ["L1"]}', timers_inactive="PT1H"
    )
    conversations(conv.sid).fetch()
    conversations(conv.sid).update(attributes='{"leadIds": ["L1", "L2"]}', timers_closed="P30D")
    api = conversations(conv.sid)
    customer = api.participants.create(
        messaging_binding_address=CUSTOMER,
        messaging_binding_proxy_address=P1,
        attributes='{"role": "customer"}',
    )
    api.participants.create(messaging_binding_address=STORE, messaging_binding_proxy_address=P2)
    staff = api.participants.create(identity="staff:1")
    api.participants(customer.sid).fetch()
    api.participants(staff.sid).update(attributes='{"name": "Sam"}', last_read_message_index=0)
    api.participants.list()
    hook = api.webhooks.create(
        target="webhook",
        configuration_url=f"{recorder.url}/TwilioWebhooks/sync",
        configuration_method="post",
        configuration_filters=["onMessageAdded", "onDeliveryUpdated"],
    )
    api.webhooks(hook.sid).fetch()
    api.webhooks(hook.sid).update(configuration_filters=["onMessageAdded", "onMessageUpdated"])
    api.webhooks.list()
    msg = api.messages.create(
        author="staff:1",
        body="Hello!",
        attributes='{"idempotencyKey": "k1"}',
        x_twilio_webhook_enabled="true",
    )
    sim.wait_idle()
    api.messages(msg.sid).fetch()
    api.messages(msg.sid).update(attributes='{"idempotencyKey": "k1", "edited": true}')
    api.messages.list(order="desc", page_size=10)
    for receipt in api.messages(msg.sid).delivery_receipts.list():
        api.messages(msg.sid).delivery_receipts(receipt.sid).fetch()
    text(sim, CUSTOMER, P1, "Thanks")
    client.conversations.v1.participant_conversations.list(address=CUSTOMER)
    client.conversations.v1.participant_conversations.list(identity="staff:1")
    conversations.list(state="active", page_size=5)
    add_webhook(client, conv.sid, f"{recorder.url}/close", ["onConversationStateUpdated"])
    other = conversations.create()
    with pytest.raises(TwilioRestException):
        conversations(other.sid).participants.create(
            messaging_binding_address=CUSTOMER, messaging_binding_proxy_address=P1
        )
    with pytest.raises(TwilioRestException):
        conversations("CH" + "0" * 32).fetch()
    api.messages(msg.sid).delete()
    api.participants(staff.sid).delete()
    conversations(conv.sid).update(state="closed")
    conversations(other.sid).delete()
    client.conversations.v1.conversation_with_participants.create(
        friendly_name="atomic",
        timers_inactive="PT5M",
        participant=[
            json.dumps({"messaging_binding": {"address": STORE, "proxy_address": P1}}),
            json.dumps({"identity": "staff:2"}),
        ],
        x_twilio_webhook_enabled="false",
    )


@pytest.fixture
def recorded(
    twilio_sim: SimHandle, webhook_recorder: WebhookRecorder
) -> Iterator[tuple[list[Exchange], list[RecordedRequest]]]:
    http = RecordingHttpClient()
    client = point_client_at(
        Client(twilio_sim.account_sid, twilio_sim.auth_token, http_client=http), twilio_sim.url
    )
    _scenario(client, twilio_sim, webhook_recorder)
    with twilio_sim.state.lock:
        requests = list(twilio_sim.state.requests)
    yield http.exchanges, requests


def test_every_response_matches_the_spec(
    spec: dict[str, Any], recorded: tuple[list[Exchange], list[RecordedRequest]]
) -> None:
    exchanges, _ = recorded
    checked: set[tuple[str, str, int]] = set()
    for ex in exchanges:
        path = urlsplit(ex.url).path
        found = _operation(spec, path, ex.method)
        assert found is not None, f"{ex.method} {path} is not in the spec"
        template, operation = found
        if ex.status >= 400:
            body = json.loads(ex.body)
            assert set(body) >= {"code", "message", "more_info", "status"}
            assert body["status"] == ex.status
            continue
        responses = operation["responses"]
        assert str(ex.status) in responses, f"{ex.method} {template} answered {ex.status}"
        content = responses[str(ex.status)].get("content")
        if content is None:
            assert ex.body == ""
            checked.add((ex.method, template, ex.status))
            continue
        schema = dict(content["application/json"]["schema"])
        schema["components"] = spec["components"]
        body = json.loads(ex.body)
        OAS30Validator(schema, format_checker=oas30_format_checker).validate(body)
        # No invented fields: every key we answer is one Twilio documents.
        resolved = _resolve(spec, content["application/json"]["schema"])
        documented = set(resolved.get("properties", {}))
        assert set(body) <= documented, (template, set(body) - documented)
        checked.add((ex.method, template, ex.status))
    expected = {
        ("POST", "/v1/Conversations", 201),
        ("GET", "/v1/Conversations", 200),
        ("GET", "/v1/Conversations/{Sid}", 200),
        ("POST", "/v1/Conversations/{Sid}", 200),
        ("DELETE", "/v1/Conversations/{Sid}", 204),
        ("POST", "/v1/Conversations/{ConversationSid}/Participants", 201),
        ("GET", "/v1/Conversations/{ConversationSid}/Participants", 200),
        ("GET", "/v1/Conversations/{ConversationSid}/Participants/{Sid}", 200),
        ("POST", "/v1/Conversations/{ConversationSid}/Participants/{Sid}", 200),
        ("DELETE", "/v1/Conversations/{ConversationSid}/Participants/{Sid}", 204),
        ("POST", "/v1/Conversations/{ConversationSid}/Messages", 201),
        ("GET", "/v1/Conversations/{ConversationSid}/Messages", 200),
        ("GET", "/v1/Conversations/{ConversationSid}/Messages/{Sid}", 200),
        ("POST", "/v1/Conversations/{ConversationSid}/Messages/{Sid}", 200),
        ("DELETE", "/v1/Conversations/{ConversationSid}/Messages/{Sid}", 204),
        ("GET", "/v1/Conversations/{ConversationSid}/Messages/{MessageSid}/Receipts", 200),
        ("GET", "/v1/Conversations/{ConversationSid}/Messages/{MessageSid}/Receipts/{Sid}", 200),
        ("POST", "/v1/Conversations/{ConversationSid}/Webhooks", 201),
        ("GET", "/v1/Conversations/{ConversationSid}/Webhooks", 200),
        ("GET", "/v1/Conversations/{ConversationSid}/Webhooks/{Sid}", 200),
        ("POST", "/v1/Conversations/{ConversationSid}/Webhooks/{Sid}", 200),
        ("GET", "/v1/ParticipantConversations", 200),
        ("POST", "/v1/ConversationWithParticipants", 201),
    }
    assert expected <= checked, expected - checked


def _check_value(name: str, value: str, schema: dict[str, Any], spec: dict[str, Any]) -> None:
    schema = _resolve(spec, schema)
    kind = schema.get("type")
    if kind == "integer":
        assert re.fullmatch(r"-?\d+", value), f"{name}={value!r} is not an integer"
    elif kind == "boolean":
        assert value in ("true", "false"), f"{name}={value!r} is not a boolean"
    elif kind == "array":
        _check_value(name, value, schema.get("items", {}), spec)
    if "enum" in schema:
        assert value in schema["enum"], f"{name}={value!r} not in {schema['enum']}"
    if schema.get("format") == "date-time":
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", value)


def test_every_sdk_request_matches_the_spec(
    spec: dict[str, Any], recorded: tuple[list[Exchange], list[RecordedRequest]]
) -> None:
    _, requests = recorded
    form_checked = 0
    for req in requests:
        found = _operation(spec, req.path, req.method)
        if found is None:
            continue
        template, operation = found
        params = operation.get("parameters", [])
        query_names = {p["name"]: p for p in params if p["in"] == "query"}
        for name, value in req.query:
            assert name in query_names, f"{req.method} {template}: unknown query {name}"
            _check_value(name, value, query_names[name]["schema"], spec)
        header_params = {p["name"].lower(): p for p in params if p["in"] == "header"}
        if "x-twilio-webhook-enabled" in req.headers:
            assert "x-twilio-webhook-enabled" in header_params, template
            _check_value(
                "X-Twilio-Webhook-Enabled",
                req.headers["x-twilio-webhook-enabled"],
                header_params["x-twilio-webhook-enabled"]["schema"],
                spec,
            )
        body = operation.get("requestBody", {}).get("content", {})
        if not req.form:
            continue
        schema = body["application/x-www-form-urlencoded"]["schema"]
        properties = schema.get("properties", {})
        names = [name for name, _ in req.form]
        for name in schema.get("required", []):
            assert name in names, f"{template}: required {name} missing"
        for name, value in req.form:
            assert name in properties, f"{req.method} {template}: undocumented field {name}"
            _check_value(name, value, properties[name], spec)
            if names.count(name) > 1:
                assert properties[name].get("type") == "array", f"{name} repeated"
        form_checked += 1
    assert form_checked >= 10
