"""boto3 factories with timeouts and bounded retries, and the relay's table handles."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config

from app.relay import tables as t
from app.relay.config import Settings


def _boto_config(settings: Settings) -> Config:
    return Config(
        connect_timeout=settings.ddb_timeout_s,
        read_timeout=settings.ddb_timeout_s,
        retries={"max_attempts": settings.ddb_max_attempts, "mode": "standard"},
        max_pool_connections=50,
        # botocore re-walks every request (whole lead items, activity lists and all)
        # against the API model before sending it; DynamoDB validates it anyway and
        # answers a ValidationException, so the client-side walk is pure cost
        parameter_validation=False,
    )


def _kwargs(settings: Settings) -> dict[str, Any]:
    kw: dict[str, Any] = {"region_name": settings.aws_region, "config": _boto_config(settings)}
    if settings.dynamodb_endpoint:
        kw["endpoint_url"] = settings.dynamodb_endpoint
    return kw


#: Data-plane operations whose answers hold nothing but JSON-native values and
#: attribute values (no timestamps to convert), so `json.loads` reads them exactly
#: as botocore's model-driven parser would.
_PLAIN_JSON_OPERATIONS = (
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactGetItems",
    "TransactWriteItems",
)


def _parse_plain_json(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """Read a successful data-plane answer with `json.loads` instead of botocore's
    parser, which walks every attribute value against the API model in Python: for
    a lead item with its activity list that walk costs more than the rest of the
    call. The parser then only adds `ResponseMetadata` (it is given an empty body);
    errors, and answers holding binary values (base64 text that botocore decodes),
    take the normal path. The CRC32 check reads the raw response, not this body.
    """
    body = response_dict.get("body")
    if response_dict.get("status_code") != 200 or not isinstance(body, bytes) or not body:
        return
    if b'"B":' in body or b'"BS":' in body:
        return
    customized_response_dict.update(json.loads(body))
    response_dict["body"] = b"{}"


def install_plain_json_parsing(client: Any) -> None:
    """Use `_parse_plain_json` for the data-plane answers of a DynamoDB client."""
    for operation in _PLAIN_JSON_OPERATIONS:
        client.meta.events.register(f"before-parse.dynamodb.{operation}", _parse_plain_json)


def make_client(settings: Settings, session: Any = None) -> Any:
    """A low-level DynamoDB client (credentials from the standard AWS_* chain)."""
    client = (session or boto3.session.Session()).client("dynamodb", **_kwargs(settings))
    install_plain_json_parsing(client)
    return client


def make_resource(settings: Settings, session: Any = None) -> Any:
    """A DynamoDB service resource (Table objects, Python values, Decimal numbers)."""
    resource = (session or boto3.session.Session()).resource("dynamodb", **_kwargs(settings))
    install_plain_json_parsing(resource.meta.client)
    return resource


@dataclass
class Tables:
    """Table handles for one prefix; the object other relay modules receive as `tables`."""

    prefix: str
    resource: Any
    client: Any
    #: DynamoDB calls made through `client` and `resource`, by operation (for /metrics
    #: and the benchmark's calls-per-request figure)
    calls: dict[str, int] = field(default_factory=dict)
    _calls_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        resource_meta = getattr(self.resource, "meta", None)
        for client in (self.client, getattr(resource_meta, "client", None)):
            events = getattr(getattr(client, "meta", None), "events", None)
            if events is not None:
                events.register("before-call.dynamodb", self._count_call)

    def _count_call(self, model: Any = None, **_: Any) -> None:
        self.count(str(getattr(model, "name", "unknown")))

    def count(self, operation: str) -> None:
        with self._calls_lock:
            self.calls[operation] = self.calls.get(operation, 0) + 1

    def call_counts(self) -> dict[str, int]:
        with self._calls_lock:
            return dict(self.calls)

    @classmethod
    def from_settings(cls, settings: Settings, session: Any = None) -> Tables:
        # `client` is a plain low-level client (attribute-value dicts); the resource's
        # own client serializes Python values and must not be handed to code that
        # already writes {"S": ...} shapes (changes, idempotency).
        # One boto3 session serves all of them: the credential chain is walked once
        # (a container or instance role is one metadata fetch, not one per client)
        # and every client refreshes the same credentials object.
        session = session or boto3.session.Session()
        client = make_client(settings, session)
        return cls(settings.table_prefix, make_resource(settings, session), client)

    def table(self, suffix: str) -> Any:
        return self.resource.Table(t.table_name(self.prefix, suffix))

    def name(self, suffix: str) -> str:
        return t.table_name(self.prefix, suffix)

    @cached_property
    def leads(self) -> Any:
        return self.table(t.LEAD_STATES)

    @cached_property
    def optouts(self) -> Any:
        return self.table(t.OPTED_OUT_NUMBERS)

    @cached_property
    def api_keys(self) -> Any:
        return self.table(t.API_KEYS)

    @cached_property
    def directory(self) -> Any:
        return self.table(t.DIRECTORY)

    @cached_property
    def pool(self) -> Any:
        return self.table(t.PROXY_POOL)

    @cached_property
    def inbound(self) -> Any:
        return self.table(t.INBOUND_TEXTS)

    @cached_property
    def media(self) -> Any:
        return self.table(t.MEDIA)

    @cached_property
    def conversations(self) -> Any:
        return self.table(t.CONVERSATIONS)

    @cached_property
    def pairs(self) -> Any:
        return self.table(t.CONVERSATION_PAIRS)

    @cached_property
    def messages(self) -> Any:
        return self.table(t.MESSAGES)

    @cached_property
    def events(self) -> Any:
        return self.table(t.WEBHOOK_EVENTS)

    @cached_property
    def change_log(self) -> Any:
        return self.table(t.CHANGE_LOG)

    @cached_property
    def location_seq(self) -> Any:
        return self.table(t.LOCATION_SEQ)

    @cached_property
    def idempotency(self) -> Any:
        return self.table(t.IDEMPOTENCY)

    def ping(self) -> None:
        """Raise if DynamoDB or the API keys table cannot be reached."""
        self.client.describe_table(TableName=self.name(t.API_KEYS))


def is_conditional_failure(exc: BaseException) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def all_items(
    operation: Callable[..., Mapping[str, Any]], **kwargs: Any
) -> Iterator[dict[str, Any]]:
    """Every item of a paginated Query or Scan (`table.query` / `table.scan`), page by page."""
    while True:
        page = operation(**kwargs)
        for item in page.get("Items", []):
            yield dict(item)
        if "LastEvaluatedKey" not in page:
            return
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
